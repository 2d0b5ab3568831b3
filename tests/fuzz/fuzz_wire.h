/*
 * fuzz_wire.h - a transport that answers from the fuzzer's input, so a
 * target drives a whole client call (sending, retries, error documents,
 * pagination, parsing) the way it runs against the network.
 *
 * The input is a series of answers separated by a line "=====":
 *
 *   200
 *   Content-Type: text/xml
 *
 *   <DescribeInstancesResponse>...</DescribeInstancesResponse>
 *   =====
 *   503
 *   x-amzn-ErrorType: ThrottlingException
 *
 *   {"__type": "...#ThrottlingException"}
 *
 * An answer that starts with three digits and a newline has a status, then
 * header lines up to an empty line, then the body; any other answer is a
 * bare body with status 200. Status 000 is a connection reset. Once the
 * answers run out every call is a reset too.
 *
 * Header-only: each target includes it (the build compiles one file a target).
 */
#ifndef FUZZ_WIRE_H
#define FUZZ_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws.h"
#include "buf.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "sigv4.h"

#define FUZZ_WIRE_SEP "\n=====\n"
/* a bound on the calls of one input: retries and pages cannot loop */
#define FUZZ_WIRE_MAX_CALLS 64

/* Secrets the client holds: no error message may ever show them. */
#define FUZZ_SECRET_KEY "fuzzSECRETkey/wJalrXUtnFEMIK7MDENG"
#define FUZZ_SESSION_TOKEN "fuzzSESSIONtokenIQoJb3JpZ2luX2VjEJr"

struct fuzz_wire {
	const char *data;
	size_t size;
	size_t pos;		/* start of the next answer */
	size_t calls;
	long last_status;	/* status of the last answer served; -1: none */
	int64_t now_ms;
};

static inline void fuzz_wire_init(struct fuzz_wire *w, const uint8_t *data, size_t size)
{
	memset(w, 0, sizeof(*w));
	w->data = (const char *)data;
	w->size = size;
	w->last_status = -1;
	w->now_ms = 1767225600000LL;	/* 2026-01-01 */
}

static inline bool fuzz_wire_done(const struct fuzz_wire *w)
{
	return w->pos >= w->size;
}

/* The next answer's bytes (excluding its separator); false when none is left. */
static inline bool fuzz_wire_next(struct fuzz_wire *w, struct view *answer)
{
	const char *start, *sep;
	size_t left;

	if (w->pos >= w->size)
		return false;
	start = w->data + w->pos;
	left = w->size - w->pos;
	sep = memmem(start, left, FUZZ_WIRE_SEP, sizeof(FUZZ_WIRE_SEP) - 1);
	if (sep) {
		*answer = view_make(start, (size_t)(sep - start));
		w->pos += (size_t)(sep - start) + sizeof(FUZZ_WIRE_SEP) - 1;
	} else {
		*answer = view_make(start, left);
		w->pos = w->size;
	}
	return true;
}

static inline bool is_digit3(struct view v)
{
	return v.len >= 4 && v.ptr[0] >= '0' && v.ptr[0] <= '9' && v.ptr[1] >= '0' &&
	       v.ptr[1] <= '9' && v.ptr[2] >= '0' && v.ptr[2] <= '9' && v.ptr[3] == '\n';
}

/*
 * Splits one answer into status, header block and body. Returns the status
 * (0: a connection reset).
 */
static inline long fuzz_wire_split(struct view answer, struct view *headers, struct view *body)
{
	long status = 200;

	*headers = view_make(answer.ptr, 0);
	*body = answer;
	if (is_digit3(answer)) {
		const char *rest = answer.ptr + 4, *end;
		size_t left = answer.len - 4;

		status = (answer.ptr[0] - '0') * 100 + (answer.ptr[1] - '0') * 10 +
			 (answer.ptr[2] - '0');
		if (left && rest[0] == '\n') {
			end = rest;	/* no headers */
			*body = view_make(rest + 1, left - 1);
		} else {
			end = memmem(rest, left, "\n\n", 2);
			if (end)
				*body = view_make(end + 2, left - (size_t)(end - rest) - 2);
			else
				*body = view_make(rest + left, 0), end = rest + left;
		}
		*headers = view_make(rest, (size_t)(end - rest));
	}
	return status;
}

/*
 * Fills resp from the next answer, as http_client_do() does: what resp held
 * from an earlier attempt goes first (callers reuse it across retries);
 * 0 or ERR_HTTP.
 */
static inline int fuzz_wire_answer(struct fuzz_wire *w, struct http_response *resp,
				   struct buf *errmsg)
{
	struct view answer, headers, body;
	long status;

	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->status = 0;
	if (++w->calls > FUZZ_WIRE_MAX_CALLS || !fuzz_wire_next(w, &answer)) {
		buf_appends(errmsg, "connection reset by peer (no more answers)");
		w->last_status = 0;
		return ERR_HTTP;
	}
	status = fuzz_wire_split(answer, &headers, &body);
	w->last_status = status;
	if (status == 0) {
		buf_appends(errmsg, "connection reset by peer");
		return ERR_HTTP;
	}
	resp->status = status;
	buf_append(&resp->headers, headers.ptr, headers.len);
	buf_append(&resp->body, body.ptr, body.len);
	return 0;
}

static inline int fuzz_wire_transport(void *ctx, const struct http_request *req,
				      struct http_response *resp, struct buf *errmsg)
{
	(void)req;
	return fuzz_wire_answer(ctx, resp, errmsg);
}

static inline int64_t fuzz_wire_now(void *ctx)
{
	return ((struct fuzz_wire *)ctx)->now_ms;
}

static inline void fuzz_wire_sleep(void *ctx, int64_t ms)
{
	((struct fuzz_wire *)ctx)->now_ms += ms;
}

static inline double fuzz_wire_random(void *ctx)
{
	(void)ctx;
	return 0.5;
}

/* A client whose transport, clock and randomness are the wire's. */
static inline struct aws_client *fuzz_wire_client(struct fuzz_wire *w, struct aws_clock *clock)
{
	static char key_id[] = "AKIDFUZZEXAMPLE", secret[] = FUZZ_SECRET_KEY,
		    token[] = FUZZ_SESSION_TOKEN;
	struct aws_credentials creds = { key_id, secret, token };
	struct aws_client_options opts = {
		.credentials = &creds,
		.region = "eu-west-1",
		.max_attempts = AWS_DEFAULT_MAX_ATTEMPTS,
		.deadline_margin_ms = AWS_DEFAULT_DEADLINE_MARGIN_MS,
		.endpoint_url = "http://127.0.0.1:1",
		.transport = fuzz_wire_transport,
		.transport_ctx = w,
		.clock = clock,
	};

	clock->now_ms = fuzz_wire_now;
	clock->sleep_ms = fuzz_wire_sleep;
	clock->random = fuzz_wire_random;
	clock->ctx = w;
	return aws_client_new(&opts);
}

static inline bool fuzz_contains(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/*
 * What every failed call must leave in its aws_error: the code returned,
 * one line of message, and no secret of the client's (unless the input
 * itself carried one, which a service could echo).
 */
static inline void fuzz_check_error(int err, const struct aws_error *e, const uint8_t *data,
				    size_t size)
{
	size_t code_len = strnlen(e->code, sizeof(e->code));
	size_t msg_len = strnlen(e->message, sizeof(e->message));

	if (code_len == sizeof(e->code) || msg_len == sizeof(e->message))
		__builtin_trap();	/* not NUL-terminated */
	if (err == 0) {
		if (e->err || e->code[0])
			__builtin_trap();
		return;
	}
	if (err > 0 || err < ERR_INTERNAL || e->err != err)
		__builtin_trap();
	if (memchr(e->message, '\n', msg_len) || memchr(e->message, '\r', msg_len))
		__builtin_trap();
	if (err == ERR_THROTTLED && !aws_is_throttling_code(e->code) && e->http_status != 429)
		__builtin_trap();
	if (!fuzz_contains((const char *)data, size, "fuzzSECRET") &&
	    (strstr(e->message, "fuzzSECRET") || strstr(e->code, "fuzzSECRET")))
		__builtin_trap();
	if (!fuzz_contains((const char *)data, size, "fuzzSESSION") &&
	    (strstr(e->message, "fuzzSESSION") || strstr(e->code, "fuzzSESSION")))
		__builtin_trap();
}

/* Quiet logs: a fuzzer runs millions of inputs. */
static inline void fuzz_quiet(void)
{
	static bool done;

	if (!done) {
		log_set_level(LOG_FATAL);
		done = true;
	}
}

#endif
