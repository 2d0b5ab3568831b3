/*
 * slack.h - posting messages to a Slack incoming webhook, reliably.
 *
 * The webhook URL is a secret (whoever has it can post to the channel): it
 * is kept only inside the client, wiped when the client is freed, and never
 * appears in logs, error messages or results. Only https:// URLs are
 * accepted, except http:// to a loopback address (127.0.0.1, [::1],
 * localhost) for local runs and tests.
 *
 * Delivery: a POST of the JSON payload. 200 is delivered. 5xx answers and
 * transport failures are retried with exponential backoff and full jitter;
 * a 429 is retried after its Retry-After (seconds) when that fits in the
 * time left, else it fails at once. Other answers (400 invalid_payload,
 * 403, 404 no_service, 410 channel_is_archived, ...) are not retried. Every
 * attempt and every wait stays within the deadline given to slack_post().
 */
#ifndef SLACK_H
#define SLACK_H

#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "cJSON.h"
#include "err.h"
#include "http.h"

struct slack_client_options {
	const char *webhook_url;	/* copied; a secret */
	int max_attempts;		/* 0: 5 */
	int64_t base_backoff_ms;	/* 0: 500 (doubled each retry, capped at 8 s) */
	http_transport_fn transport;	/* NULL: libcurl */
	void *transport_ctx;
	const struct aws_clock *clock;	/* NULL: real time (the same clock type as aws.h) */
};

struct slack_client;

/*
 * ERR_CONFIG when the URL is not an acceptable webhook URL; the message
 * says why without quoting the URL.
 */
int slack_client_new(const struct slack_client_options *opts, struct slack_client **out,
		     struct buf *errmsg) WARN_UNUSED;
void slack_client_free(struct slack_client *c);

/*
 * Posts one message: `payload` is the whole JSON document ({"text": ...,
 * "blocks": [...]}). Returns 0 once Slack answered 200; else the error
 * (ERR_HTTP for a refusal or transport failure, ERR_THROTTLED for a 429
 * that could not be waited out, ERR_TIMEOUT when the deadline came first)
 * with a one-line reason in errmsg ("Slack answered 404: no_service",
 * "gave up after 5 attempts: Slack answered 500"). deadline_ms is Unix ms;
 * 0 means none.
 */
int slack_post(struct slack_client *c, const cJSON *payload, int64_t deadline_ms,
	       struct buf *errmsg) WARN_UNUSED;

/*
 * Appends text escaped for Slack's mrkdwn: &, < and > become &amp;, &lt;
 * and &gt; (the only characters Slack asks to escape).
 */
void slack_escape(struct buf *out, const char *text);

#endif
