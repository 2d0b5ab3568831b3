/*
 * The Slack webhook client: URL checks and slack_escape() by tables, and
 * delivery (retries, Retry-After, deadlines, what is never repeated) on the
 * scripted transport and clock of fake_aws, where every sleep is recorded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_aws.h"
#include "log.h"
#include "slack.h"
#include "table.h"
#include "helpers.h"
#include "banned.h"

#define HOOK_PATH "/services/T0AAAAAAA/B0BBBBBBB/s3cr3tT0kenXXXXXXXXXXXX"
#define HOOK "https://hooks.slack.com" HOOK_PATH
#define HOOK_SECRET "s3cr3tT0kenXXXXXXXXXXXX"

/* ---- a client on the fake ---- */

struct fixture {
	struct fake_aws fake;
	struct aws_clock clock;
	struct slack_client *slack;
	int64_t start_ms;
};

static void fixture_init(struct fixture *fx, const char *url, int max_attempts,
			 int64_t base_backoff_ms)
{
	struct buf errmsg = BUF_INIT;

	fake_aws_init(&fx->fake);
	fx->start_ms = fx->fake.now_ms;
	fx->clock = fake_aws_clock(&fx->fake);
	struct slack_client_options o = {
		.webhook_url = url,
		.max_attempts = max_attempts,
		.base_backoff_ms = base_backoff_ms,
		.transport = fake_aws_transport(),
		.transport_ctx = &fx->fake,
		.clock = &fx->clock,
	};
	assert_int_equal(slack_client_new(&o, &fx->slack, &errmsg), 0);
	assert_non_null(fx->slack);
	assert_string_equal(buf_cstr(&errmsg), "");
	buf_release(&errmsg);
}

static void fixture_release(struct fixture *fx)
{
	slack_client_free(fx->slack);
	fake_aws_release(&fx->fake);
}

static int post_text(struct fixture *fx, const char *text, int64_t deadline_ms,
		     struct buf *errmsg)
{
	cJSON *payload = cJSON_CreateObject();
	int err;

	assert_non_null(cJSON_AddStringToObject(payload, "text", text));
	err = slack_post(fx->slack, payload, deadline_ms, errmsg);
	cJSON_Delete(payload);
	return err;
}

/* ---- delivery, retries and deadlines, one scripted exchange a row ---- */

#define OK { 0, 200, "ok", NULL }
#define ANS(status, body) { 0, status, body, NULL }
#define ANS_H(status, headers, body) { 0, status, body, headers }
#define FAIL(err) { err, 0, NULL, NULL }

struct delivery_case {
	const char *name;
	int max_attempts;		/* 0: the default (5) */
	int64_t base_backoff_ms;	/* 0: the default (500) */
	double random;			/* what the fake's random() returns */
	int64_t deadline_in_ms;		/* from the fake's start; 0: no deadline */
	struct fake_answer script[8];
	size_t steps;
	int want_err;
	size_t want_calls;
	int64_t want_sleeps_ms[8];
	size_t want_sleeps;
	const char *want_msg;		/* the whole errmsg; "" on success */
};

#define SCRIPT(...) { __VA_ARGS__ }, sizeof((struct fake_answer[]){ __VA_ARGS__ }) / sizeof(struct fake_answer)
#define SLEEPS(...) { __VA_ARGS__ }, sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)
#define NO_SLEEPS { 0 }, 0

static const struct delivery_case delivery_cases[] = {
	{ "200-first-time", 0, 0, 0.5, 0, SCRIPT(OK),
	  0, 1, NO_SLEEPS, "" },
	{ "2xx-is-delivered", 0, 0, 0.5, 0, SCRIPT(ANS(204, "")),
	  0, 1, NO_SLEEPS, "" },
	/* full jitter: random * min(500 * 2^(retry-1), 8000) */
	{ "500-500-200", 0, 0, 0.5, 0, SCRIPT(ANS(500, "internal_error"), ANS(500, "internal_error"), OK),
	  0, 3, SLEEPS(250, 500), "" },
	{ "500-500-200-high-jitter", 0, 0, 0.75, 0,
	  SCRIPT(ANS(500, "internal_error"), ANS(502, ""), OK),
	  0, 3, SLEEPS(375, 750), "" },
	{ "500-500-200-no-jitter", 0, 0, 0.0, 0,
	  SCRIPT(ANS(500, "internal_error"), ANS(503, ""), OK),
	  0, 3, SLEEPS(0, 0), "" },
	{ "backoff-capped-at-8s", 8, 0, 0.75, 0,
	  SCRIPT(ANS(500, ""), ANS(500, ""), ANS(500, ""), ANS(500, ""), ANS(500, ""),
		 ANS(500, ""), ANS(500, ""), OK),
	  0, 8, SLEEPS(375, 750, 1500, 3000, 6000, 6000, 6000), "" },
	{ "custom-base-backoff", 0, 100, 0.5, 0, SCRIPT(ANS(500, ""), ANS(500, ""), OK),
	  0, 3, SLEEPS(50, 100), "" },
	{ "429-retry-after-3", 0, 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: 3\r\n", "rate_limited"), OK),
	  0, 2, SLEEPS(3000), "" },
	{ "429-retry-after-just-fits", 0, 0, 0.5, 5000,
	  SCRIPT(ANS_H(429, "Retry-After: 4\r\n", "rate_limited"), OK),
	  0, 2, SLEEPS(4000), "" },
	{ "429-retry-after-misses-by-1ms", 0, 0, 0.5, 4999,
	  SCRIPT(ANS_H(429, "Retry-After: 4\r\n", "rate_limited"), OK),
	  ERR_THROTTLED, 1, NO_SLEEPS,
	  "Slack answered 429: rate_limited (asked to wait 4 s, past the deadline)" },
	{ "429-retry-after-past-deadline", 0, 0, 0.5, 10000,
	  SCRIPT(ANS_H(429, "Content-Type: text/plain\r\nretry-after: 30\r\n", "rate_limited"), OK),
	  ERR_THROTTLED, 1, NO_SLEEPS,
	  "Slack answered 429: rate_limited (asked to wait 30 s, past the deadline)" },
	{ "429-retry-after-too-long", 0, 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: 120\r\n", "rate_limited"), OK),
	  ERR_THROTTLED, 1, NO_SLEEPS,
	  "Slack answered 429: rate_limited (asked to wait 120 s, longer than the 60 s we wait)" },
	{ "429-without-retry-after-backs-off", 0, 0, 0.5, 0,
	  SCRIPT(ANS(429, "rate_limited"), OK),
	  0, 2, SLEEPS(250), "" },
	{ "429-unreadable-retry-after-backs-off", 0, 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n", "rate_limited"), OK),
	  0, 2, SLEEPS(250), "" },
	{ "429-negative-retry-after-backs-off", 0, 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: -5\r\n", "rate_limited"), OK),
	  0, 2, SLEEPS(250), "" },
	{ "429-backoff-past-deadline", 0, 0, 0.5, 1200,
	  SCRIPT(ANS(429, "rate_limited"), OK),
	  ERR_THROTTLED, 1, NO_SLEEPS,
	  "no time left to retry after 1 attempt: Slack answered 429: rate_limited" },
	{ "400-not-retried", 0, 0, 0.5, 0, SCRIPT(ANS(400, "invalid_payload"), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "Slack answered 400: invalid_payload" },
	{ "403-not-retried", 0, 0, 0.5, 0, SCRIPT(ANS(403, "invalid_token"), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "Slack answered 403: invalid_token" },
	{ "404-not-retried", 0, 0, 0.5, 0, SCRIPT(ANS(404, "no_service"), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "Slack answered 404: no_service" },
	{ "410-not-retried", 0, 0, 0.5, 0, SCRIPT(ANS(410, "channel_is_archived"), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "Slack answered 410: channel_is_archived" },
	{ "redirect-not-followed", 0, 0, 0.5, 0, SCRIPT(ANS(302, ""), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "Slack answered 302" },
	{ "transport-errors-retried", 0, 0, 0.5, 0, SCRIPT(FAIL(ERR_HTTP), FAIL(ERR_TIMEOUT), OK),
	  0, 3, SLEEPS(250, 500), "" },
	{ "tls-not-retried", 0, 0, 0.5, 0, SCRIPT(FAIL(ERR_TLS), OK),
	  ERR_TLS, 1, NO_SLEEPS, "cannot post to Slack: scripted transport failure" },
	{ "too-large-not-retried", 0, 0, 0.5, 0, SCRIPT(FAIL(ERR_TOO_LARGE), OK),
	  ERR_TOO_LARGE, 1, NO_SLEEPS, "cannot post to Slack: scripted transport failure" },
	{ "attempts-exhausted", 3, 0, 0.5, 0,
	  SCRIPT(ANS(500, "internal_error"), ANS(500, "internal_error"), ANS(500, "internal_error"), OK),
	  ERR_HTTP, 3, SLEEPS(250, 500),
	  "gave up after 3 attempts: Slack answered 500: internal_error" },
	{ "attempts-exhausted-default-5", 0, 0, 0.5, 0,
	  SCRIPT(ANS(500, ""), ANS(500, ""), ANS(500, ""), ANS(500, ""), ANS(500, ""), OK),
	  ERR_HTTP, 5, SLEEPS(250, 500, 1000, 2000), "gave up after 5 attempts: Slack answered 500" },
	{ "attempts-exhausted-on-transport", 2, 0, 0.5, 0, SCRIPT(FAIL(ERR_HTTP), FAIL(ERR_TIMEOUT), OK),
	  ERR_HTTP, 2, SLEEPS(250),
	  "gave up after 2 attempts: cannot post to Slack: scripted transport failure" },
	/* a timed-out attempt is a timeout only when the deadline, not our cap, bounded it */
	{ "attempt-timeout-without-deadline", 1, 0, 0.5, 0, SCRIPT(FAIL(ERR_TIMEOUT), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "gave up after 1 attempt: cannot post to Slack: scripted transport failure" },
	{ "attempt-timeout-at-deadline", 1, 0, 0.5, 5000, SCRIPT(FAIL(ERR_TIMEOUT), OK),
	  ERR_TIMEOUT, 1, NO_SLEEPS, "gave up after 1 attempt: cannot post to Slack: scripted transport failure" },
	{ "attempts-exhausted-on-429", 2, 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: 1\r\n", "rate_limited"),
		 ANS_H(429, "Retry-After: 1\r\n", "rate_limited"), OK),
	  ERR_THROTTLED, 2, SLEEPS(1000), "gave up after 2 attempts: Slack answered 429: rate_limited" },
	{ "single-attempt", 1, 0, 0.5, 0, SCRIPT(ANS(503, ""), OK),
	  ERR_HTTP, 1, NO_SLEEPS, "gave up after 1 attempt: Slack answered 503" },
	{ "deadline-before-first-attempt", 0, 0, 0.5, 999, SCRIPT(OK),
	  ERR_TIMEOUT, 0, NO_SLEEPS, "no time left to post to Slack before the deadline" },
	{ "deadline-already-passed", 0, 0, 0.5, -5000, SCRIPT(OK),
	  ERR_TIMEOUT, 0, NO_SLEEPS, "no time left to post to Slack before the deadline" },
	/* 250 ms of backoff and a 1 s attempt do not fit in 1.2 s */
	{ "deadline-between-attempts", 0, 0, 0.5, 1200,
	  SCRIPT(ANS(500, "internal_error"), OK),
	  ERR_TIMEOUT, 1, NO_SLEEPS, "no time left to retry after 1 attempt: Slack answered 500: internal_error" },
	/* 250 + 500 ms of backoff and a 1 s attempt miss 1749 ms by 1 ms */
	{ "deadline-after-two-attempts", 0, 0, 0.5, 1749,
	  SCRIPT(ANS(500, ""), ANS(500, ""), OK),
	  ERR_TIMEOUT, 2, SLEEPS(250), "no time left to retry after 2 attempts: Slack answered 500" },
};

static void test_delivery(void **state)
{
	const struct delivery_case *tc = *state;
	struct fixture fx;
	struct buf errmsg = BUF_INIT;
	int64_t deadline_ms;

	fixture_init(&fx, HOOK, tc->max_attempts, tc->base_backoff_ms);
	fx.fake.random_value = tc->random;
	for (size_t i = 0; i < tc->steps; i++) {
		const struct fake_answer *a = &tc->script[i];
		if (a->err)
			fake_aws_fail(&fx.fake, a->err);
		else
			fake_aws_answer_headers(&fx.fake, a->status, a->headers, a->body);
	}
	deadline_ms = tc->deadline_in_ms ? fx.start_ms + tc->deadline_in_ms : 0;

	assert_int_equal(post_text(&fx, "hello", deadline_ms, &errmsg), tc->want_err);
	assert_string_equal(buf_cstr(&errmsg), tc->want_msg);
	assert_int_equal(fx.fake.calls, tc->want_calls);
	assert_int_equal(fx.fake.sleeps, tc->want_sleeps);
	for (size_t i = 0; i < tc->want_sleeps; i++)
		assert_int_equal(fx.fake.slept_ms[i], tc->want_sleeps_ms[i]);
	/* every attempt is the same POST */
	for (size_t i = 0; i < fx.fake.calls; i++) {
		assert_string_equal(fx.fake.urls[i], HOOK);
		assert_string_equal(buf_cstr(&fx.fake.bodies[i]), "{\"text\":\"hello\"}");
	}
	/* nothing is ever waited past the deadline */
	if (deadline_ms && tc->want_calls)
		assert_true(fx.fake.now_ms <= deadline_ms);
	buf_release(&errmsg);
	fixture_release(&fx);
}

/* ---- the request ---- */

struct seen {
	char method[8];
	size_t max_response_bytes;
};

static int record_and_accept(struct fake_aws *f, const struct http_request *req,
			     struct http_response *resp)
{
	struct seen *seen = f->user;

	assert_true(strlen(req->method) < sizeof(seen->method));
	memcpy(seen->method, req->method, strlen(req->method) + 1);
	seen->max_response_bytes = req->max_response_bytes;
	resp->status = 200;
	buf_appends(&resp->body, "ok");
	return 0;
}

static void test_request_shape(void **state)
{
	struct fixture fx;
	struct seen seen = { "", 0 };
	struct buf errmsg = BUF_INIT;
	cJSON *payload = cJSON_CreateObject();
	cJSON *blocks, *section;
	const char *h;

	(void)state;
	fixture_init(&fx, HOOK, 0, 0);
	fx.fake.respond = record_and_accept;
	fx.fake.user = &seen;
	cJSON_AddStringToObject(payload, "text", "stopped 2 boxes: \"a\" & <b>");
	blocks = cJSON_AddArrayToObject(payload, "blocks");
	section = cJSON_CreateObject();
	cJSON_AddStringToObject(section, "type", "section");
	cJSON_AddItemToArray(blocks, section);

	assert_int_equal(slack_post(fx.slack, payload, 0, &errmsg), 0);
	assert_string_equal(buf_cstr(&errmsg), "");
	assert_int_equal(fx.fake.calls, 1);
	assert_string_equal(seen.method, "POST");
	assert_string_equal(fx.fake.urls[0], HOOK);
	h = buf_cstr(&fx.fake.heads[0]);
	assert_non_null(strstr(h, "Content-Type: application/json\n"));
	/* the body is the payload as compact JSON, and reads back as it */
	assert_string_equal(buf_cstr(&fx.fake.bodies[0]),
			    "{\"text\":\"stopped 2 boxes: \\\"a\\\" & <b>\","
			    "\"blocks\":[{\"type\":\"section\"}]}");
	cJSON *back = cJSON_Parse(buf_cstr(&fx.fake.bodies[0]));
	assert_true(cJSON_Compare(back, payload, true));
	cJSON_Delete(back);
	/* a small answer limit: Slack says "ok" */
	assert_true(seen.max_response_bytes > 0 && seen.max_response_bytes <= 64 * 1024);
	/* without a deadline an attempt still has a bound */
	assert_true(fx.fake.timeouts[0] > 0);
	cJSON_Delete(payload);
	buf_release(&errmsg);
	fixture_release(&fx);
}

/* Each attempt takes 2 s of the fake's time and fails with a 500. */
static int slow_failure(struct fake_aws *f, const struct http_request *req,
			struct http_response *resp)
{
	(void)req;
	f->now_ms += 2000;
	resp->status = 500;
	return 0;
}

static void test_attempt_timeout_follows_deadline(void **state)
{
	struct fixture fx;
	struct buf errmsg = BUF_INIT;

	(void)state;
	fixture_init(&fx, HOOK, 5, 0);
	fx.fake.respond = slow_failure;
	/* t=0 attempt 1 (3000 ms left); at t=2000 a 250 ms wait and a 1 s attempt do not fit */
	assert_int_equal(post_text(&fx, "hi", fx.start_ms + 3000, &errmsg), ERR_TIMEOUT);
	assert_int_equal(fx.fake.calls, 1);
	assert_int_equal(fx.fake.timeouts[0], 3000);
	assert_int_equal(fx.fake.sleeps, 0);
	buf_release(&errmsg);
	fixture_release(&fx);

	fixture_init(&fx, HOOK, 5, 0);
	fx.fake.respond = slow_failure;
	/* attempts at t=0, 2250 and 4750, each given the time left to 6000 */
	assert_int_equal(post_text(&fx, "hi", fx.start_ms + 6000, &errmsg), ERR_TIMEOUT);
	assert_int_equal(fx.fake.calls, 3);
	assert_int_equal(fx.fake.timeouts[0], 6000);
	assert_int_equal(fx.fake.timeouts[1], 3750);
	assert_int_equal(fx.fake.timeouts[2], 1250);
	assert_int_equal(fx.fake.sleeps, 2);
	assert_int_equal(fx.fake.slept_ms[0], 250);
	assert_int_equal(fx.fake.slept_ms[1], 500);
	assert_string_equal(buf_cstr(&errmsg),
			    "no time left to retry after 3 attempts: Slack answered 500");
	buf_release(&errmsg);
	fixture_release(&fx);
}

static void test_payload_must_be_object(void **state)
{
	struct fixture fx;
	struct buf errmsg = BUF_INIT;
	cJSON *text = cJSON_CreateString("not an object");

	(void)state;
	fixture_init(&fx, HOOK, 0, 0);
	assert_int_equal(slack_post(fx.slack, text, 0, &errmsg), ERR_INTERNAL);
	assert_string_equal(buf_cstr(&errmsg), "Slack payload is not a JSON object");
	buf_reset(&errmsg);
	assert_int_equal(slack_post(fx.slack, NULL, 0, &errmsg), ERR_INTERNAL);
	assert_int_equal(fx.fake.calls, 0);
	cJSON_Delete(text);
	buf_release(&errmsg);
	fixture_release(&fx);
}

/* An answer's body becomes one short printable line. */
static void test_reason_is_one_short_line(void **state)
{
	struct fixture fx;
	struct buf errmsg = BUF_INIT, long_body = BUF_INIT, want = BUF_INIT;

	(void)state;
	fixture_init(&fx, HOOK, 0, 0);
	fake_aws_answer(&fx.fake, 404, "  no_service\r\n<html>\n<body>lots of html</body>\n");
	for (int i = 0; i < 300; i++)
		buf_appendc(&long_body, (char)('a' + i % 26));
	fake_aws_answer(&fx.fake, 400, buf_cstr(&long_body));
	fake_aws_answer(&fx.fake, 400, "bad\tpayload\x01!");
	/* a proxy's page: named by its title, not by "<html>" */
	fake_aws_answer(&fx.fake, 403,
			"\r\n<HTML>\r\n<head><title> 403 Forbidden </title></head>\r\n<body>...</body>");
	fake_aws_answer(&fx.fake, 404, "<!DOCTYPE html><html><body>Not Found</body></html>");
	fake_aws_answer(&fx.fake, 404, "<html><title>unfinished");

	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	assert_string_equal(buf_cstr(&errmsg), "Slack answered 404: no_service");

	buf_reset(&errmsg);
	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	buf_appends(&want, "Slack answered 400: ");
	buf_append(&want, long_body.ptr, 100);
	buf_appends(&want, "...");
	assert_string_equal(buf_cstr(&errmsg), buf_cstr(&want));

	buf_reset(&errmsg);
	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	assert_string_equal(buf_cstr(&errmsg), "Slack answered 400: bad?payload?!");

	buf_reset(&errmsg);
	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	assert_string_equal(buf_cstr(&errmsg), "Slack answered 403: an HTML page (403 Forbidden)");
	buf_reset(&errmsg);
	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	assert_string_equal(buf_cstr(&errmsg), "Slack answered 404: an HTML page");
	buf_reset(&errmsg);
	assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
	assert_string_equal(buf_cstr(&errmsg), "Slack answered 404: an HTML page");

	buf_release(&errmsg);
	buf_release(&long_body);
	buf_release(&want);
	fixture_release(&fx);
}

/* ---- the secret stays inside the client ---- */

/* None of the webhook's secret parts, nor the URL, is in s. */
static void assert_no_secret(const char *s)
{
	static const char *const parts[] = { HOOK, HOOK_PATH, HOOK_SECRET, "B0BBBBBBB", "T0AAAAAAA",
					     "s3cr3t" };
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		if (strstr(s, parts[i]))
			fail_msg("'%s' leaks '%s'", s, parts[i]);
	}
}

/* A transport whose own message repeats the URL, as a careless one might. */
static int echoing_transport(void *ctx, const struct http_request *req,
			     struct http_response *resp, struct buf *errmsg)
{
	int *calls = ctx;

	(void)resp;
	(*calls)++;
	buf_appendf(errmsg, "cannot connect to %s: connection refused", req->url);
	return ERR_HTTP;
}

static void test_secret_never_repeated(void **state)
{
#define X10 "xxxxxxxxxx"
	static const char *const echoes[] = {
		/* a proxy's or framework's 404 page */
		"Cannot POST " HOOK_PATH,
		"no such hook: " HOOK,
		/* JSON-escaped slashes */
		"{\"error\":\"unknown \\/services\\/T0AAAAAAA\\/B0BBBBBBB\\/" HOOK_SECRET "\"}",
		/* the secret where the 100-character cut falls into it */
		X10 X10 X10 X10 X10 X10 X10 X10 X10 "xxxx" HOOK_SECRET,
	};
	struct buf errmsg = BUF_INIT, logged = BUF_INIT;
	struct fixture fx;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(echoes); i++) {
		fixture_init(&fx, HOOK, 2, 0);
		fake_aws_answer(&fx.fake, 404, echoes[i]);
		buf_reset(&errmsg);
		assert_int_equal(post_text(&fx, "x", 0, &errmsg), ERR_HTTP);
		assert_non_null(strstr(buf_cstr(&errmsg), "Slack answered 404: "));
		/* "[redac": the cut may fall into the marker, never into the secret */
		assert_non_null(strstr(buf_cstr(&errmsg), "[redac"));
		assert_no_secret(buf_cstr(&errmsg));
		fixture_release(&fx);
	}

	/* retried 5xx answers are logged: the log lines are clean too */
	log_set_level(LOG_WARN);
	fixture_init(&fx, HOOK, 3, 0);
	fake_aws_answer(&fx.fake, 500, echoes[0]);
	fake_aws_answer(&fx.fake, 502, echoes[2]);
	fake_aws_answer(&fx.fake, 503, echoes[1]);
	buf_reset(&errmsg);
	capture_stderr_begin();
	int err = post_text(&fx, "x", 0, &errmsg);
	capture_stderr_end(&logged);
	log_set_level(LOG_ERROR);
	assert_int_equal(err, ERR_HTTP);
	assert_non_null(strstr(buf_cstr(&logged), "retrying the Slack post in 250 ms (attempt 2 of 3)"));
	assert_non_null(strstr(buf_cstr(&logged), "retrying the Slack post in 500 ms (attempt 3 of 3)"));
	assert_no_secret(buf_cstr(&logged));
	assert_non_null(strstr(buf_cstr(&errmsg), "gave up after 3 attempts: Slack answered 503: "));
	assert_no_secret(buf_cstr(&errmsg));
	fixture_release(&fx);

	/* and a transport's message that names the URL */
	struct slack_client *c = NULL;
	struct aws_clock clock;
	int calls = 0;

	fake_aws_init(&fx.fake);
	clock = fake_aws_clock(&fx.fake);
	struct slack_client_options o = {
		.webhook_url = HOOK, .max_attempts = 2, .transport = echoing_transport,
		.transport_ctx = &calls, .clock = &clock,
	};
	assert_int_equal(slack_client_new(&o, &c, &errmsg), 0);
	buf_reset(&errmsg);
	cJSON *payload = cJSON_CreateObject();
	assert_int_equal(slack_post(c, payload, 0, &errmsg), ERR_HTTP);
	assert_int_equal(calls, 2);
	assert_non_null(strstr(buf_cstr(&errmsg), "gave up after 2 attempts: cannot post to Slack: "
						  "cannot connect to https://hooks.slack.com/"));
	assert_no_secret(buf_cstr(&errmsg));
	cJSON_Delete(payload);
	slack_client_free(c);
	fake_aws_release(&fx.fake);

	buf_release(&errmsg);
	buf_release(&logged);
}

/* ---- which URLs are accepted ---- */

struct url_case {
	const char *name;
	const char *url;
	const char *want_msg;	/* NULL: accepted */
};

#define NOT_HTTPS "webhook URL is not an https:// URL"
#define HTTP_LOOPBACK_ONLY \
	"webhook URL is not an https:// URL (http:// is accepted only to 127.0.0.1, [::1] or localhost)"
#define BAD_CHAR "webhook URL contains a space, a control character or a character that is not ASCII"
#define BAD_HOST_PORT "webhook URL has an invalid host name or port"

static const struct url_case url_cases[] = {
	{ "https-slack", HOOK, NULL },
	{ "https-other-host-and-port", "https://hooks.example.com:8443/hooks/abcdef", NULL },
	{ "https-query", "https://proxy.example.com/relay?channel=ops", NULL },
	{ "https-ipv6", "https://[2001:db8::1]/hook", NULL },
	{ "https-upper-case-scheme", "HTTPS://hooks.slack.com/services/x", NULL },
	{ "http-127.0.0.1", "http://127.0.0.1:8080/services/T/B/X", NULL },
	{ "http-localhost", "http://localhost/hook", NULL },
	{ "http-localhost-upper-case", "http://LOCALHOST:9000/hook", NULL },
	{ "http-ipv6-loopback", "http://[::1]:8080/hook", NULL },
	{ "http-elsewhere", "http://hooks.slack.com/services/T/B/X", HTTP_LOOPBACK_ONLY },
	{ "http-other-loopback-address", "http://127.0.0.2/hook", HTTP_LOOPBACK_ONLY },
	{ "http-localhost-prefix", "http://localhost.example.com/hook", HTTP_LOOPBACK_ONLY },
	{ "http-127-prefix", "http://127.0.0.1.example.com/hook", HTTP_LOOPBACK_ONLY },
	{ "http-loopback-as-user", "http://127.0.0.1@example.com/hook",
	  "webhook URL must not contain a user name or password" },
	{ "https-user-password", "https://user:pw@hooks.slack.com/services/x",
	  "webhook URL must not contain a user name or password" },
	{ "ftp", "ftp://hooks.slack.com/services/x", NOT_HTTPS },
	{ "no-scheme", "hooks.slack.com/services/x", NOT_HTTPS },
	{ "garbage", "garbage", NOT_HTTPS },
	{ "empty", "", "webhook URL is empty" },
	{ "null", NULL, "webhook URL is empty" },
	{ "scheme-only", "https://", "webhook URL has no host name" },
	{ "no-host", "https:///services/x", "webhook URL has no host name" },
	{ "no-path", "https://hooks.slack.com", "webhook URL has no path" },
	{ "root-path", "https://hooks.slack.com/", "webhook URL has no path" },
	{ "root-path-query", "https://hooks.slack.com/?x=1", "webhook URL has no path" },
	{ "space", "https://hooks.slack.com/services/x y", BAD_CHAR },
	{ "leading-space", " https://hooks.slack.com/services/x", BAD_CHAR },
	{ "newline", "https://hooks.slack.com/services/x\n", BAD_CHAR },
	{ "tab", "https://hooks.slack.com/services/\tx", BAD_CHAR },
	{ "delete", "https://hooks.slack.com/services/x\x7f", BAD_CHAR },
	{ "not-ascii", "https://hooks.slack.com/servic\xc3\xa9s/x", BAD_CHAR },
	{ "bad-host-char", "https://hooks_slack.com/services/x", BAD_HOST_PORT },
	{ "empty-port", "https://hooks.slack.com:/services/x", BAD_HOST_PORT },
	{ "port-not-a-number", "https://hooks.slack.com:44a/services/x", BAD_HOST_PORT },
	{ "port-too-long", "https://hooks.slack.com:000443/services/x", BAD_HOST_PORT },
	{ "port-zero", "https://hooks.slack.com:0/services/x", "webhook URL has a port outside 1-65535" },
	{ "port-too-big", "https://hooks.slack.com:65536/services/x",
	  "webhook URL has a port outside 1-65535" },
	{ "ipv6-unclosed", "https://[::1/hook", "webhook URL has an unreadable IPv6 address" },
	{ "ipv6-empty", "https://[]/hook", "webhook URL has an unreadable IPv6 address" },
	{ "ipv6-not-hex", "https://[::g]/hook", "webhook URL has an unreadable IPv6 address" },
};

static void check_url(const char *url, const char *want_msg)
{
	static char sentinel;
	struct slack_client *c = (struct slack_client *)&sentinel;	/* must be reset */
	struct buf errmsg = BUF_INIT;
	struct slack_client_options o = { .webhook_url = url, .transport = fake_aws_transport() };
	int err = slack_client_new(&o, &c, &errmsg);

	if (!want_msg) {
		assert_int_equal(err, 0);
		assert_non_null(c);
		assert_string_equal(buf_cstr(&errmsg), "");
	} else {
		assert_int_equal(err, ERR_CONFIG);
		assert_null(c);
		assert_string_equal(buf_cstr(&errmsg), want_msg);
		/* whatever was refused, and whatever of it could be a secret, is not repeated */
		if (url && *url) {
			assert_null(strstr(buf_cstr(&errmsg), url));
			const char *path = strstr(url, "://");
			path = path ? strchr(path + 3, '/') : NULL;
			if (path && strlen(path) > 1)
				assert_null(strstr(buf_cstr(&errmsg), path));
		}
	}
	slack_client_free(c);
	buf_release(&errmsg);
}

static void test_url(void **state)
{
	const struct url_case *tc = *state;

	check_url(tc->url, tc->want_msg);
}

static void test_url_too_long(void **state)
{
	struct buf url = BUF_INIT;

	(void)state;
	buf_appends(&url, "https://hooks.slack.com/services/");
	while (url.len < 2048)
		buf_appendc(&url, 'x');
	check_url(buf_cstr(&url), NULL);
	buf_appendc(&url, 'x');
	check_url(buf_cstr(&url), "webhook URL is longer than 2048 characters");
	buf_release(&url);
}

/* ---- slack_escape ---- */

struct escape_case {
	const char *name;
	const char *text;
	const char *want;
};

static const struct escape_case escape_cases[] = {
	{ "empty", "", "" },
	{ "null", NULL, "" },
	{ "plain", "stopped 3 boxes", "stopped 3 boxes" },
	{ "ampersand", "R&D", "R&amp;D" },
	{ "angle-brackets", "<@U123>", "&lt;@U123&gt;" },
	{ "fake-link", "<https://evil.example|click>", "&lt;https://evil.example|click&gt;" },
	{ "already-escaped", "&amp;", "&amp;amp;" },
	{ "mixed", "a < b && c > d", "a &lt; b &amp;&amp; c &gt; d" },
	{ "markup-untouched", "*bold* _it_ `code` ~x~ \"q\" 'q'", "*bold* _it_ `code` ~x~ \"q\" 'q'" },
	{ "utf8-untouched", "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93" },
	{ "only-specials", "<>&", "&lt;&gt;&amp;" },
};

static void test_escape(void **state)
{
	const struct escape_case *tc = *state;
	struct buf out = BUF_INIT;

	/* appends: what is already there stays */
	buf_appends(&out, "[");
	slack_escape(&out, tc->text);
	buf_appends(&out, "]");
	assert_int_equal(out.len, strlen(tc->want) + 2);
	assert_memory_equal(out.ptr + 1, tc->want, strlen(tc->want));
	assert_int_equal(out.ptr[0], '[');
	assert_int_equal(out.ptr[out.len - 1], ']');
	buf_release(&out);
}

int main(void)
{
	/* the retries log on purpose; test_secret_never_repeated looks at those lines */
	log_set_level(LOG_ERROR);
	for (size_t i = 0; i < ARRAY_SIZE(delivery_cases); i++)
		table_add("delivery", delivery_cases[i].name, test_delivery,
			  (void *)&delivery_cases[i]);
	table_add("delivery", "request-shape", test_request_shape, NULL);
	table_add("delivery", "attempt-timeout-follows-deadline",
		  test_attempt_timeout_follows_deadline, NULL);
	table_add("delivery", "payload-must-be-object", test_payload_must_be_object, NULL);
	table_add("delivery", "reason-is-one-short-line", test_reason_is_one_short_line, NULL);
	table_add("secret", "never-repeated", test_secret_never_repeated, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(url_cases); i++)
		table_add("url", url_cases[i].name, test_url, (void *)&url_cases[i]);
	table_add("url", "too-long", test_url_too_long, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(escape_cases); i++)
		table_add("escape", escape_cases[i].name, test_escape, (void *)&escape_cases[i]);
	return table_run("slack");
}
