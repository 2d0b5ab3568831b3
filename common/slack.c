#include "slack.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "banned.h"

#define SLACK_DEFAULT_MAX_ATTEMPTS 5
#define SLACK_DEFAULT_BASE_BACKOFF_MS 500
#define SLACK_MAX_BACKOFF_MS 8000
/*
 * Time one attempt needs at the least: an attempt (or a wait before one)
 * that would leave less than this before the deadline is not started, since
 * it could only end in a timeout.
 */
#define SLACK_MIN_ATTEMPT_MS 1000
/*
 * Slack answers within a second; one attempt gets at most this long, so a
 * hung connection leaves time for the next one.
 */
#define SLACK_ATTEMPT_CAP_MS 10000
/* A Retry-After longer than this is not waited out, even without a deadline. */
#define SLACK_MAX_RETRY_AFTER_MS 60000
/* Slack's answers are a few bytes ("ok", "no_service"); anything big is not Slack. */
#define SLACK_MAX_RESPONSE_BYTES (64u << 10)
#define SLACK_MAX_URL_LEN 2048
/* How much of an answer's body goes into a message. */
#define SLACK_REASON_MAX 100
/*
 * Pieces of the webhook's path at least this long are blanked out of any
 * text we repeat (Slack's T.../B.../token parts are all longer).
 */
#define SLACK_SECRET_PIECE_MIN 8

struct slack_client {
	struct buf url;		/* the webhook URL: a secret, wiped on free */
	size_t path_offset;	/* where the path (the secret part) starts in url */
	int max_attempts;
	int64_t base_backoff_ms;
	http_transport_fn transport;
	void *transport_ctx;
	struct http_client *own_http;
	struct aws_clock clock;
};

/* ---- the webhook URL ---- */

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

/*
 * Checks "scheme://host[:port]/path[?query]". Every message describes the
 * problem without repeating the URL (it is a secret); the caller names the
 * setting it came from. On success *path_offset is where the path starts.
 */
static int check_webhook_url(const char *url, size_t *path_offset, struct buf *errmsg)
{
	const char *authority, *end, *host_end;
	struct view host;
	bool https;
	size_t len;

	if (!url || !*url) {
		buf_appends(errmsg, "webhook URL is empty");
		return ERR_CONFIG;
	}
	len = strlen(url);
	if (len > SLACK_MAX_URL_LEN) {
		buf_appendf(errmsg, "webhook URL is longer than %d characters", SLACK_MAX_URL_LEN);
		return ERR_CONFIG;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];
		if (ch <= ' ' || ch >= 0x7f) {
			buf_appends(errmsg, "webhook URL contains a space, a control character "
					    "or a character that is not ASCII");
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
		buf_appends(errmsg, "webhook URL is not an https:// URL");
		return ERR_CONFIG;
	}

	end = authority + strcspn(authority, "/?#");
	if (memchr(authority, '@', (size_t)(end - authority))) {
		/* "https://hooks.slack.com@elsewhere/": the host is not what it seems */
		buf_appends(errmsg, "webhook URL must not contain a user name or password");
		return ERR_CONFIG;
	}
	if (*authority == '[') {
		host_end = memchr(authority, ']', (size_t)(end - authority));
		if (!host_end || host_end == authority + 1) {
			buf_appends(errmsg, "webhook URL has an unreadable IPv6 address");
			return ERR_CONFIG;
		}
		for (const char *p = authority + 1; p < host_end; p++) {
			if (!is_ipv6_char(*p)) {
				buf_appends(errmsg, "webhook URL has an unreadable IPv6 address");
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
		buf_appends(errmsg, "webhook URL has no host name");
		return ERR_CONFIG;
	}
	if (host_end < end) {
		/* only a port may follow the host */
		const char *p = host_end + 1;
		unsigned long port = 0;

		if (*host_end != ':' || p == end || end - p > 5) {
			buf_appends(errmsg, "webhook URL has an invalid host name or port");
			return ERR_CONFIG;
		}
		for (; p < end; p++) {
			if (*p < '0' || *p > '9') {
				buf_appends(errmsg, "webhook URL has an invalid host name or port");
				return ERR_CONFIG;
			}
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port < 1 || port > 65535) {
			buf_appends(errmsg, "webhook URL has a port outside 1-65535");
			return ERR_CONFIG;
		}
	}
	if (!https && !is_loopback_host(host)) {
		buf_appends(errmsg, "webhook URL is not an https:// URL (http:// is accepted only "
				    "to 127.0.0.1, [::1] or localhost)");
		return ERR_CONFIG;
	}
	/* the path is the webhook's identity: "https://hooks.slack.com/" posts nowhere */
	if (*end != '/' || end[1] == '\0' || end[1] == '?' || end[1] == '#') {
		buf_appends(errmsg, "webhook URL has no path");
		return ERR_CONFIG;
	}
	*path_offset = (size_t)(end - url);
	return 0;
}

int slack_client_new(const struct slack_client_options *opts, struct slack_client **out,
		     struct buf *errmsg)
{
	struct slack_client *c;
	size_t path_offset = 0;
	int err;

	*out = NULL;
	err = check_webhook_url(opts->webhook_url, &path_offset, errmsg);
	if (err)
		return err;

	c = xcalloc(1, sizeof(*c));
	buf_appends(&c->url, opts->webhook_url);
	c->path_offset = path_offset;
	c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : SLACK_DEFAULT_MAX_ATTEMPTS;
	c->base_backoff_ms = opts->base_backoff_ms > 0 ? opts->base_backoff_ms
						       : SLACK_DEFAULT_BASE_BACKOFF_MS;
	if (opts->transport) {
		c->transport = opts->transport;
		c->transport_ctx = opts->transport_ctx;
	} else {
		c->own_http = http_client_new();
		c->transport = http_transport_curl;
		c->transport_ctx = c->own_http;
	}
	c->clock = opts->clock ? *opts->clock : *aws_clock_real();
	*out = c;
	return 0;
}

void slack_client_free(struct slack_client *c)
{
	if (!c)
		return;
	buf_release_secret(&c->url);
	http_client_free(c->own_http);
	free(c);
}

/* ---- keeping the secret out of what we repeat ---- */

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
	buf_release(&out);
}

/*
 * Appends the first line of `text`, with every long piece of the webhook's
 * path blanked out (a proxy's or Slack's error page may echo the path back,
 * also JSON-escaped or in parts), non-printable bytes replaced and the
 * result cut to SLACK_REASON_MAX characters. The cut comes after the
 * redaction so that no prefix of a secret piece survives it.
 */
static void append_safe_line(struct buf *out, const struct slack_client *c, struct view text)
{
	struct view v = view_trim(text);
	struct buf line = BUF_INIT;
	const char *path = buf_cstr(&c->url) + c->path_offset;
	size_t n = 0;

	while (n < v.len && v.ptr[n] != '\n' && v.ptr[n] != '\r')
		n++;
	buf_append(&line, v.ptr, n);

	for (const char *p = path; *p;) {
		size_t piece = strcspn(p, "/?&=#");
		if (piece >= SLACK_SECRET_PIECE_MIN)
			redact(&line, view_make(p, piece));
		p += piece;
		if (*p)
			p++;
	}

	for (size_t i = 0; i < line.len && i < SLACK_REASON_MAX; i++) {
		unsigned char ch = (unsigned char)line.ptr[i];
		buf_appendc(out, ch < ' ' || ch == 0x7f ? '?' : (char)ch);
	}
	if (line.len > SLACK_REASON_MAX)
		buf_appends(out, "...");
	buf_release(&line);
}

/* ---- posting ---- */

/* Retry-After in seconds (Slack's form); false when missing or unreadable. */
static bool retry_after_ms(const struct http_response *resp, int64_t *ms)
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

/* Full jitter: uniform in [0, min(base * 2^(retry - 1), 8 s)). */
static int64_t backoff_ms(const struct slack_client *c, int retry)
{
	int64_t cap = c->base_backoff_ms;

	for (int i = 1; i < retry && cap < SLACK_MAX_BACKOFF_MS; i++)
		cap *= 2;
	if (cap > SLACK_MAX_BACKOFF_MS)
		cap = SLACK_MAX_BACKOFF_MS;
	return (int64_t)(c->clock.random(c->clock.ctx) * (double)cap);
}

/* What one attempt came to. */
enum outcome { DELIVERED, RETRY, FINAL };

static enum outcome send_once(struct slack_client *c, struct view body, int64_t timeout_ms,
			      int *err, bool *throttled, int64_t *wait_ms, struct buf *reason)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"User-Agent: devcloud",
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct buf transport_msg = BUF_INIT;
	enum outcome result;

	struct http_request req = {
		.method = "POST",
		.url = buf_cstr(&c->url),
		.headers = headers,
		.header_count = sizeof(headers) / sizeof(headers[0]),
		.body = body,
		.timeout_ms = (long)timeout_ms,
		.max_response_bytes = SLACK_MAX_RESPONSE_BYTES,
	};

	*throttled = false;
	*wait_ms = -1;
	*err = c->transport(c->transport_ctx, &req, &resp, &transport_msg);
	if (*err) {
		buf_appends(reason, "cannot post to Slack: ");
		append_safe_line(reason, c, buf_view(&transport_msg));
		/*
		 * A certificate that does not verify will not verify next time,
		 * nor will an oversized answer shrink: only network trouble is
		 * worth another attempt.
		 */
		result = *err == ERR_HTTP || *err == ERR_TIMEOUT ? RETRY : FINAL;
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		result = DELIVERED;
		goto out;
	}
	buf_appendf(reason, "Slack answered %ld", resp.status);
	if (view_trim(buf_view(&resp.body)).len) {
		buf_appends(reason, ": ");
		append_safe_line(reason, c, buf_view(&resp.body));
	}
	if (resp.status == 429) {
		*err = ERR_THROTTLED;
		*throttled = true;
		if (!retry_after_ms(&resp, wait_ms))
			*wait_ms = -1;
		result = RETRY;
	} else {
		*err = ERR_HTTP;
		result = resp.status >= 500 && resp.status < 600 ? RETRY : FINAL;
	}
out:
	http_response_release(&resp);
	buf_release(&transport_msg);
	return result;
}

int slack_post(struct slack_client *c, const cJSON *payload, int64_t deadline_ms,
	       struct buf *errmsg)
{
	struct buf reason = BUF_INIT;
	char *body = NULL;
	int err = 0;

	if (!cJSON_IsObject(payload)) {
		buf_appends(errmsg, "Slack payload is not a JSON object");
		return ERR_INTERNAL;
	}
	body = cJSON_PrintUnformatted(payload);
	if (!body)
		abort();	/* cJSON fails only when out of memory */

	for (int attempt = 1;; attempt++) {
		int64_t now = c->clock.now_ms(c->clock.ctx);
		int64_t left = deadline_ms ? deadline_ms - now : INT64_MAX;
		int64_t wait;
		bool throttled, asked;
		enum outcome outcome;

		if (left < SLACK_MIN_ATTEMPT_MS) {
			if (attempt == 1)
				buf_appends(errmsg, "no time left to post to Slack before the deadline");
			else
				buf_appendf(errmsg, "deadline reached after %d attempt%s: %s",
					    attempt - 1, attempt == 2 ? "" : "s", buf_cstr(&reason));
			err = ERR_TIMEOUT;
			goto out;
		}
		buf_reset(&reason);
		outcome = send_once(c, view_from(body),
				    left < SLACK_ATTEMPT_CAP_MS ? left : SLACK_ATTEMPT_CAP_MS, &err,
				    &throttled, &wait, &reason);
		/*
		 * An attempt that ran into our own cap, not the deadline, is a
		 * slow or silent Slack: a network error to the caller.
		 */
		if (err == ERR_TIMEOUT && left >= SLACK_ATTEMPT_CAP_MS)
			err = ERR_HTTP;
		switch (outcome) {
		case DELIVERED:
			err = 0;
			goto out;
		case FINAL:
			buf_appendv(errmsg, buf_view(&reason));
			goto out;
		case RETRY:
			break;
		}

		if (attempt >= c->max_attempts) {
			buf_appendf(errmsg, "gave up after %d attempt%s: %s", attempt,
				    attempt == 1 ? "" : "s", buf_cstr(&reason));
			goto out;
		}
		asked = wait >= 0;
		if (!asked)
			wait = backoff_ms(c, attempt);
		now = c->clock.now_ms(c->clock.ctx);
		if (throttled && wait > SLACK_MAX_RETRY_AFTER_MS) {
			buf_appendf(errmsg, "%s (asked to wait %lld s, longer than the %d s we wait)",
				    buf_cstr(&reason), (long long)(wait / 1000),
				    SLACK_MAX_RETRY_AFTER_MS / 1000);
			err = ERR_THROTTLED;
			goto out;
		}
		if (deadline_ms && now + wait + SLACK_MIN_ATTEMPT_MS > deadline_ms) {
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
		log_warn("retrying the Slack post in %lld ms (attempt %d of %d): %s",
			 (long long)wait, attempt + 1, c->max_attempts, buf_cstr(&reason));
		c->clock.sleep_ms(c->clock.ctx, wait);
	}
out:
	cJSON_free(body);
	buf_release(&reason);
	return err;
}

void slack_escape(struct buf *out, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		switch (*p) {
		case '&':
			buf_appends(out, "&amp;");
			break;
		case '<':
			buf_appends(out, "&lt;");
			break;
		case '>':
			buf_appends(out, "&gt;");
			break;
		default:
			buf_appendc(out, *p);
		}
	}
}
