/*
 * webcall.h - what our clients of web services other than AWS share (the
 * Slack webhook, the Drone API): checking a URL that comes from
 * configuration, keeping secrets out of what an answer makes us repeat, and
 * one retry loop with exponential backoff and full jitter, bounded by a
 * deadline.
 *
 * A URL is accepted only with https://, or http:// to a loopback address
 * (127.0.0.1, [::1], localhost) for local runs and tests; never with a user
 * name or password in it. Messages describe the problem without quoting the
 * URL (part of it may be a secret).
 */
#ifndef WEBCALL_H
#define WEBCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "err.h"

#define WEBCALL_MAX_URL_LEN 2048

/*
 * Checks "scheme://host[:port][/path][?query]". `what` names the URL in
 * messages ("webhook URL": "webhook URL is not an https:// URL"). On
 * success *path_offset is where the path (or query, or the end) starts.
 */
int webcall_check_url(const char *url, const char *what, size_t *path_offset,
		      struct buf *errmsg) WARN_UNUSED;

/*
 * Appends the first line of `text`, with every occurrence of each secret
 * replaced by "[redacted]", control characters replaced by '?', and the result cut to max_chars ("..." added). The cut comes after
 * the redaction, so no prefix of a secret survives it. Empty secrets are
 * skipped. An HTML page (a proxy's error page) is named by its title,
 * "an HTML page (502 Bad Gateway)", rather than by its first line.
 */
void webcall_append_safe_line(struct buf *out, struct view text, const struct view *secrets,
			      size_t secret_count, size_t max_chars);

/* What one attempt came to. */
enum webcall_outcome { WEBCALL_DONE, WEBCALL_RETRY, WEBCALL_FINAL };

/*
 * One attempt, given at most timeout_ms. It sets *err (0 when done),
 * appends a one-line reason to `reason` on failure, and may ask for a wait
 * before the next attempt: *wait_ms >= 0 (a Retry-After) with *throttled
 * when the service said it was overloaded.
 */
typedef enum webcall_outcome (*webcall_attempt_fn)(void *ctx, int64_t timeout_ms, int *err,
						   bool *throttled, int64_t *wait_ms,
						   struct buf *reason);

struct webcall_policy {
	const char *action;		/* "post to Slack": "no time left to post to Slack ..." */
	const char *retry_name;		/* "the Slack post": "retrying the Slack post in ..." */
	int max_attempts;
	int64_t base_backoff_ms;	/* doubled each retry ... */
	int64_t max_backoff_ms;		/* ... up to this */
	/*
	 * An attempt (or a wait before one) that would leave less than this
	 * before the deadline is not started: it could only end in a timeout.
	 */
	int64_t min_attempt_ms;
	/* one attempt gets at most this long, so a hung one leaves time for the next */
	int64_t attempt_cap_ms;
	/* a longer Retry-After is not waited out, even without a deadline */
	int64_t max_retry_after_ms;
};

/*
 * Runs attempts until one is done or final, the attempts are used up, or
 * the deadline (Unix ms on `clock`; 0 = none) leaves no time for another.
 * Transport errors and 5xx are the attempt's to call WEBCALL_RETRY. Waits
 * between attempts are full jitter: uniform in [0, min(base * 2^(n-1),
 * max)), or the asked wait. An attempt that ran into attempt_cap_ms rather
 * than the deadline counts as a network error (ERR_HTTP), not a timeout.
 * Returns 0 or the error, with a one-line message in errmsg.
 */
int webcall_run(const struct webcall_policy *policy, const struct aws_clock *clock,
		int64_t deadline_ms, webcall_attempt_fn attempt, void *ctx,
		struct buf *errmsg) WARN_UNUSED;

/*
 * How a client reaches its service: the caller's transport (a test's), or
 * its own libcurl client; and its clock (the real one by default).
 */
struct webcall_link {
	http_transport_fn transport;
	void *transport_ctx;
	struct http_client *own_http;	/* NULL when the transport is the caller's */
	struct aws_clock clock;
};

/* transport NULL: an own libcurl client; clock NULL: the real clock. */
void webcall_link_init(struct webcall_link *l, http_transport_fn transport, void *transport_ctx,
		       const struct aws_clock *clock);
void webcall_link_release(struct webcall_link *l);

/* Retry-After in seconds (the delta form); false when missing or unreadable. */
struct http_response;
bool webcall_retry_after_ms(const struct http_response *resp, int64_t *ms);

#endif
