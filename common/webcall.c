#include "webcall.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "log.h"
#include "banned.h"

/* ---- URLs ---- */

static bool is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.';
}

static bool is_ipv6_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
	       ch == ':' || ch == '.';
}

static bool is_loopback_host(struct view host)
{
	return view_eqs(host, "127.0.0.1") || view_eqs(host, "[::1]") ||
	       view_case_eqs(host, "localhost");
}

int webcall_check_url(const char *url, const char *what, size_t *path_offset,
		      struct buf *errmsg)
{
	const char *authority, *end, *host_end;
	struct view host;
	bool https;
	size_t len;

	if (!url || !*url) {
		buf_appendf(errmsg, "%s is empty", what);
		return ERR_CONFIG;
	}
	len = strlen(url);
	if (len > WEBCALL_MAX_URL_LEN) {
		buf_appendf(errmsg, "%s is longer than %d characters", what, WEBCALL_MAX_URL_LEN);
		return ERR_CONFIG;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];
		if (ch <= ' ' || ch >= 0x7f) {
			buf_appendf(errmsg, "%s contains a space, a control character "
					    "or a character that is not ASCII", what);
			return ERR_CONFIG;
		}
	}

	if (!strncasecmp(url, "https://", 8)) {
		https = true;
		authority = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		https = false;
		authority = url + 7;
	} else {
		buf_appendf(errmsg, "%s is not an https:// URL", what);
		return ERR_CONFIG;
	}

	end = authority + strcspn(authority, "/?#");
	if (memchr(authority, '@', (size_t)(end - authority))) {
		/* "https://hooks.slack.com@elsewhere/": the host is not what it seems */
		buf_appendf(errmsg, "%s must not contain a user name or password", what);
		return ERR_CONFIG;
	}
	if (*authority == '[') {
		host_end = memchr(authority, ']', (size_t)(end - authority));
		if (!host_end || host_end == authority + 1) {
			buf_appendf(errmsg, "%s has an unreadable IPv6 address", what);
			return ERR_CONFIG;
		}
		for (const char *p = authority + 1; p < host_end; p++) {
			if (!is_ipv6_char(*p)) {
				buf_appendf(errmsg, "%s has an unreadable IPv6 address", what);
				return ERR_CONFIG;
			}
		}
		host_end++;
	} else {
		host_end = authority;
		while (host_end < end && is_host_char(*host_end))
			host_end++;
	}
	host = view_make(authority, (size_t)(host_end - authority));
	if (!host.len) {
		buf_appendf(errmsg, "%s has no host name", what);
		return ERR_CONFIG;
	}
	if (host_end < end) {
		/* only a port may follow the host */
		const char *p = host_end + 1;
		unsigned long port = 0;

		if (*host_end != ':' || p == end || end - p > 5) {
			buf_appendf(errmsg, "%s has an invalid host name or port", what);
			return ERR_CONFIG;
		}
		for (; p < end; p++) {
			if (*p < '0' || *p > '9') {
				buf_appendf(errmsg, "%s has an invalid host name or port", what);
				return ERR_CONFIG;
			}
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port < 1 || port > 65535) {
			buf_appendf(errmsg, "%s has a port outside 1-65535", what);
			return ERR_CONFIG;
		}
	}
	if (!https && !is_loopback_host(host)) {
		buf_appendf(errmsg, "%s is not an https:// URL (http:// is accepted only "
				    "to 127.0.0.1, [::1] or localhost)", what);
		return ERR_CONFIG;
	}
	*path_offset = (size_t)(end - url);
	return 0;
}

/* ---- keeping secrets out of what we repeat ---- */

/* Replaces every occurrence of `secret` in s. */
static void redact(struct buf *s, struct view secret)
{
	struct buf out = BUF_INIT;
	const char *p = buf_cstr(s), *end = p + s->len, *hit;
	bool found = false;

	while ((hit = memmem(p, (size_t)(end - p), secret.ptr, secret.len))) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_appends(&out, "[redacted]");
		p = hit + secret.len;
		found = true;
	}
	if (found) {
		buf_append(&out, p, (size_t)(end - p));
		buf_reset(s);
		buf_appendv(s, buf_view(&out));
	}
	buf_release_secret(&out);
}

/*
 * The <title> of a page that starts like HTML ("<!DOCTYPE html", "<html"),
 * what a proxy or load balancer answers in front of a service that is down;
 * an empty view when there is none. Its first line ("<html>") says nothing.
 */
static bool html_page_title(struct view page, struct view *title)
{
	static const char *const starts[] = { "<!doctype html", "<html" };
	const char *open, *close;
	bool html = false;

	*title = view_make(NULL, 0);
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (page.len >= strlen(starts[i]) &&
		    !strncasecmp(page.ptr, starts[i], strlen(starts[i])))
			html = true;
	if (!html)
		return false;
	open = memmem(page.ptr, page.len, "<title>", 7);
	if (!open)
		return true;
	open += 7;
	close = memmem(open, (size_t)(page.ptr + page.len - open), "</title>", 8);
	if (close)
		*title = view_trim(view_make(open, (size_t)(close - open)));
	return true;
}

void webcall_append_safe_line(struct buf *out, struct view text, const struct view *secrets,
			      size_t secret_count, size_t max_chars)
{
	struct view v = view_trim(text);
	struct buf line = BUF_INIT, described = BUF_INIT;
	struct view title;
	size_t n = 0;

	if (html_page_title(v, &title)) {
		buf_appends(&described, "an HTML page");
		if (title.len) {
			buf_appends(&described, " (");
			buf_appendv(&described, title);
			buf_appends(&described, ")");
		}
		v = buf_view(&described);
	}
	while (n < v.len && v.ptr[n] != '\n' && v.ptr[n] != '\r')
		n++;
	buf_append(&line, v.ptr, n);
	for (size_t i = 0; i < secret_count; i++)
		if (secrets[i].len)
			redact(&line, secrets[i]);
	for (size_t i = 0; i < line.len && i < max_chars; i++) {
		unsigned char ch = (unsigned char)line.ptr[i];
		buf_appendc(out, ch < ' ' || ch == 0x7f ? '?' : (char)ch);
	}
	if (line.len > max_chars)
		buf_appends(out, "...");
	buf_release_secret(&line);
	buf_release_secret(&described);
}

/* ---- retries ---- */

bool webcall_retry_after_ms(const struct http_response *resp, int64_t *ms)
{
	struct view v;
	int64_t seconds = 0;

	if (!http_response_header(resp, "Retry-After", &v) || !v.len || v.len > 9)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return false;
		seconds = seconds * 10 + (v.ptr[i] - '0');
	}
	*ms = seconds * 1000;
	return true;
}

/* Full jitter: uniform in [0, min(base * 2^(retry - 1), max)). */
static int64_t backoff_ms(const struct webcall_policy *p, const struct aws_clock *clock,
			  int retry)
{
	int64_t cap = p->base_backoff_ms;

	for (int i = 1; i < retry && cap < p->max_backoff_ms; i++)
		cap *= 2;
	if (cap > p->max_backoff_ms)
		cap = p->max_backoff_ms;
	return (int64_t)(clock->random(clock->ctx) * (double)cap);
}

int webcall_run(const struct webcall_policy *p, const struct aws_clock *clock,
		int64_t deadline_ms, webcall_attempt_fn attempt_fn, void *ctx, struct buf *errmsg)
{
	struct buf reason = BUF_INIT;
	int err = 0;

	for (int attempt = 1;; attempt++) {
		int64_t now = clock->now_ms(clock->ctx);
		int64_t left = deadline_ms ? deadline_ms - now : INT64_MAX;
		int64_t wait = -1;
		bool throttled = false, asked;
		enum webcall_outcome outcome;

		if (left < p->min_attempt_ms) {
			if (attempt == 1)
				buf_appendf(errmsg, "no time left to %s before the deadline",
					    p->action);
			else
				buf_appendf(errmsg, "deadline reached after %d attempt%s: %s",
					    attempt - 1, attempt == 2 ? "" : "s", buf_cstr(&reason));
			err = ERR_TIMEOUT;
			goto out;
		}
		buf_reset(&reason);
		outcome = attempt_fn(ctx, left < p->attempt_cap_ms ? left : p->attempt_cap_ms, &err,
				     &throttled, &wait, &reason);
		/*
		 * An attempt that ran into our own cap, not the deadline, is a
		 * slow or silent service: a network error to the caller.
		 */
		if (err == ERR_TIMEOUT && left >= p->attempt_cap_ms)
			err = ERR_HTTP;
		switch (outcome) {
		case WEBCALL_DONE:
			err = 0;
			goto out;
		case WEBCALL_FINAL:
			buf_appendv(errmsg, buf_view(&reason));
			goto out;
		case WEBCALL_RETRY:
			break;
		}

		if (attempt >= p->max_attempts) {
			buf_appendf(errmsg, "gave up after %d attempt%s: %s", attempt,
				    attempt == 1 ? "" : "s", buf_cstr(&reason));
			goto out;
		}
		asked = wait >= 0;
		if (!asked)
			wait = backoff_ms(p, clock, attempt);
		now = clock->now_ms(clock->ctx);
		if (throttled && wait > p->max_retry_after_ms) {
			buf_appendf(errmsg, "%s (asked to wait %lld s, longer than the %lld s we wait)",
				    buf_cstr(&reason), (long long)(wait / 1000),
				    (long long)(p->max_retry_after_ms / 1000));
			err = ERR_THROTTLED;
			goto out;
		}
		if (deadline_ms && now + wait + p->min_attempt_ms > deadline_ms) {
			/* waiting would only end in a timeout: fail now, saying what happened */
			if (asked)
				buf_appendf(errmsg, "%s (asked to wait %lld s, past the deadline)",
					    buf_cstr(&reason), (long long)(wait / 1000));
			else
				buf_appendf(errmsg, "no time left to retry after %d attempt%s: %s",
					    attempt, attempt == 1 ? "" : "s", buf_cstr(&reason));
			err = throttled ? ERR_THROTTLED : ERR_TIMEOUT;
			goto out;
		}
		log_warn("retrying %s in %lld ms (attempt %d of %d): %s", p->retry_name,
			 (long long)wait, attempt + 1, p->max_attempts, buf_cstr(&reason));
		clock->sleep_ms(clock->ctx, wait);
	}
out:
	buf_release(&reason);
	return err;
}

void webcall_link_init(struct webcall_link *l, http_transport_fn transport, void *transport_ctx,
		       const struct aws_clock *clock)
{
	if (transport) {
		l->transport = transport;
		l->transport_ctx = transport_ctx;
		l->own_http = NULL;
	} else {
		l->own_http = http_client_new();
		l->transport = http_transport_curl;
		l->transport_ctx = l->own_http;
	}
	l->clock = clock ? *clock : *aws_clock_real();
}

void webcall_link_release(struct webcall_link *l)
{
	http_client_free(l->own_http);
	l->own_http = NULL;
}
