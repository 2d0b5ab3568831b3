#include "slack.h"

#include <stdlib.h>
#include <string.h>

#include "webcall.h"
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
	struct webcall_link link;
};

/* ---- the webhook URL ---- */

/*
 * A URL webcall accepts, with a path: the path is the webhook's identity
 * ("https://hooks.slack.com/" posts nowhere). Messages never quote the URL.
 */
static int check_webhook_url(const char *url, size_t *path_offset, struct buf *errmsg)
{
	const char *path;
	int err = webcall_check_url(url, "webhook URL", path_offset, errmsg);

	if (err)
		return err;
	path = url + *path_offset;
	if (*path != '/' || path[1] == '\0' || path[1] == '?' || path[1] == '#') {
		buf_appends(errmsg, "webhook URL has no path");
		return ERR_CONFIG;
	}
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
	webcall_link_init(&c->link, opts->transport, opts->transport_ctx, opts->clock);
	*out = c;
	return 0;
}

void slack_client_free(struct slack_client *c)
{
	if (!c)
		return;
	buf_release_secret(&c->url);
	webcall_link_release(&c->link);
	free(c);
}

/* ---- keeping the secret out of what we repeat ---- */

/*
 * Appends the first line of `text`, cut to SLACK_REASON_MAX characters,
 * with every long piece of the webhook's path blanked out (a proxy's or
 * Slack's error page may echo the path back, also JSON-escaped or in parts).
 */
static void append_safe_line(struct buf *out, const struct slack_client *c, struct view text)
{
	const char *path = buf_cstr(&c->url) + c->path_offset;
	struct view pieces[64];
	size_t n = 0;

	for (const char *p = path; *p && n < sizeof(pieces) / sizeof(pieces[0]);) {
		size_t piece = strcspn(p, "/?&=#");
		if (piece >= SLACK_SECRET_PIECE_MIN)
			pieces[n++] = view_make(p, piece);
		p += piece;
		if (*p)
			p++;
	}
	webcall_append_safe_line(out, text, pieces, n, SLACK_REASON_MAX);
}

/* ---- posting ---- */

struct post {
	struct slack_client *client;
	struct view body;
};

static enum webcall_outcome send_once(void *ctx, int64_t timeout_ms, int *err, bool *throttled,
				      int64_t *wait_ms, struct buf *reason)
{
	struct post *post = ctx;
	struct slack_client *c = post->client;
	static const char *const headers[] = {
		"Content-Type: application/json",
		"User-Agent: devcloud",
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct buf transport_msg = BUF_INIT;
	enum webcall_outcome result;

	struct http_request req = {
		.method = "POST",
		.url = buf_cstr(&c->url),
		.headers = headers,
		.header_count = sizeof(headers) / sizeof(headers[0]),
		.body = post->body,
		.timeout_ms = (long)timeout_ms,
		.max_response_bytes = SLACK_MAX_RESPONSE_BYTES,
	};

	*throttled = false;
	*wait_ms = -1;
	*err = c->link.transport(c->link.transport_ctx, &req, &resp, &transport_msg);
	if (*err) {
		buf_appends(reason, "cannot post to Slack: ");
		append_safe_line(reason, c, buf_view(&transport_msg));
		/*
		 * A certificate that does not verify will not verify next time,
		 * nor will an oversized answer shrink: only network trouble is
		 * worth another attempt.
		 */
		result = *err == ERR_HTTP || *err == ERR_TIMEOUT ? WEBCALL_RETRY : WEBCALL_FINAL;
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		result = WEBCALL_DONE;
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
		if (!webcall_retry_after_ms(&resp, wait_ms))
			*wait_ms = -1;
		result = WEBCALL_RETRY;
	} else {
		*err = ERR_HTTP;
		result = resp.status >= 500 && resp.status < 600 ? WEBCALL_RETRY : WEBCALL_FINAL;
	}
out:
	http_response_release(&resp);
	buf_release(&transport_msg);
	return result;
}

int slack_post(struct slack_client *c, const cJSON *payload, int64_t deadline_ms,
	       struct buf *errmsg)
{
	const struct webcall_policy policy = {
		.action = "post to Slack",
		.retry_name = "the Slack post",
		.max_attempts = c->max_attempts,
		.base_backoff_ms = c->base_backoff_ms,
		.max_backoff_ms = SLACK_MAX_BACKOFF_MS,
		.min_attempt_ms = SLACK_MIN_ATTEMPT_MS,
		.attempt_cap_ms = SLACK_ATTEMPT_CAP_MS,
		.max_retry_after_ms = SLACK_MAX_RETRY_AFTER_MS,
	};
	struct post post = { c, { NULL, 0 } };
	char *body;
	int err;

	if (!cJSON_IsObject(payload)) {
		buf_appends(errmsg, "Slack payload is not a JSON object");
		return ERR_INTERNAL;
	}
	body = cJSON_PrintUnformatted(payload);
	if (!body)
		abort();	/* cJSON fails only when out of memory */
	post.body = view_from(body);
	err = webcall_run(&policy, &c->link.clock, deadline_ms, send_once, &post, errmsg);
	cJSON_free(body);
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
