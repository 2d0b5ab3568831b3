/*
 * test_lambda.c - the runtime's pure helpers, and its Runtime API loop
 * against a scripted fake transport (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cJSON.h"
#include "err.h"
#include "http.h"
#include "lambda.h"
#include "lambda_internal.h"
#include "log.h"
#include "banned.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- pure helpers -------------------------------------------------------- */

static void test_parse_deadline(void **unused)
{
	static const struct {
		const char *in;
		int err;
		int64_t want;
	} cases[] = {
		{ "1700000000000", 0, 1700000000000 },
		{ "1", 0, 1 },
		{ "", ERR_PARSE, 0 },
		{ "0", ERR_PARSE, 0 },
		{ "-5", ERR_PARSE, 0 },
		{ "+5", ERR_PARSE, 0 },
		{ "12x", ERR_PARSE, 0 },
		{ " 12", ERR_PARSE, 0 },
		{ "1.5", ERR_PARSE, 0 },
		{ "abc", ERR_PARSE, 0 },
		{ "99999999999999999999", ERR_PARSE, 0 },		/* overflows */
		{ "123456789012345678901234567890", ERR_PARSE, 0 },	/* too long */
	};

	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t got = 42;

		assert_int_equal(lambda_parse_deadline_ms(view_from(cases[i].in), &got),
				 cases[i].err);
		assert_true(got == cases[i].want);
	}
}

static void test_request_id_valid(void **unused)
{
	static const struct {
		const char *in;
		bool ok;
	} cases[] = {
		{ "8476a536-e9f4-11e8-9739-2dfe598c3fcd", true },
		{ "local-1-2", true },
		{ "a.b_c:d~e", true },
		{ "", false },
		{ "a/b", false },
		{ "../next", false },
		{ "a b", false },
		{ "a?b", false },
		{ "a%2f", false },
		{ "a\r\nX: y", false },
	};
	char long_id[130];

	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(lambda_request_id_valid(view_from(cases[i].in)), cases[i].ok);
	memset(long_id, 'a', sizeof(long_id));
	assert_true(lambda_request_id_valid(view_make(long_id, 128)));
	assert_false(lambda_request_id_valid(view_make(long_id, 129)));
}

static void test_error_json(void **unused)
{
	struct buf out = BUF_INIT;

	(void)unused;
	lambda_error_json(&out, "Stopper.Failed", "cannot stop 'i-1': \"denied\"\n");
	assert_string_equal(buf_cstr(&out),
			    "{\"errorMessage\":\"cannot stop 'i-1': \\\"denied\\\"\\n\","
			    "\"errorType\":\"Stopper.Failed\",\"stackTrace\":[]}");
	buf_reset(&out);
	lambda_error_json(&out, NULL, NULL);
	assert_string_equal(buf_cstr(&out),
			    "{\"errorMessage\":\"\",\"errorType\":\"\",\"stackTrace\":[]}");
	buf_release(&out);
}

static void test_error_type_clean(void **unused)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "Stopper.InstancesNotStopped", "Stopper.InstancesNotStopped" },
		{ "Runtime.InitError", "Runtime.InitError" },
		{ "a-b_c:d", "a-b_c:d" },
		{ NULL, "Function.Error" },
		{ "", "Function.Error" },
		{ "bad type\r\nX-Injected: 1", "bad_type__X-Injected:_1" },
		{ "caf\xc3\xa9", "caf__" },
	};
	struct buf out = BUF_INIT;
	char long_type[300];

	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		buf_reset(&out);
		lambda_error_type_clean(&out, cases[i].in);
		assert_string_equal(buf_cstr(&out), cases[i].want);
	}
	memset(long_type, 'T', sizeof(long_type) - 1);
	long_type[sizeof(long_type) - 1] = '\0';
	buf_reset(&out);
	lambda_error_type_clean(&out, long_type);
	assert_int_equal(out.len, 128);
	buf_release(&out);
}

static void test_fail(void **unused)
{
	struct lambda_response resp = { 0 };

	(void)unused;
	buf_appends(&resp.payload, "{\"partial\":1}");
	lambda_fail(&resp, "A.First", "%d instances left", 3);
	assert_true(resp.failed);
	assert_string_equal(resp.error_type, "A.First");
	assert_string_equal(buf_cstr(&resp.error_message), "3 instances left");
	/* a second failure replaces the first */
	lambda_fail(&resp, "B.Second", "%s", "gone");
	assert_string_equal(resp.error_type, "B.Second");
	assert_string_equal(buf_cstr(&resp.error_message), "gone");
	assert_string_equal(buf_cstr(&resp.payload), "{\"partial\":1}");	/* kept */
	lambda_response_release(&resp);
	assert_false(resp.failed);
	assert_null(resp.error_type);
	assert_null(resp.payload.ptr);
	assert_null(resp.error_message.ptr);
}

static void test_remaining_ms(void **unused)
{
	struct lambda_request req = { 0 };
	int64_t now = lambda_now_ms(), left;

	(void)unused;
	assert_true(now > 1600000000000);	/* Unix ms, not s or monotonic */
	assert_true(lambda_remaining_ms(&req) == INT64_MAX);
	req.deadline_ms = now + 60000;
	left = lambda_remaining_ms(&req);
	assert_true(left > 55000 && left <= 60000);
	req.deadline_ms = now - 5000;
	left = lambda_remaining_ms(&req);
	assert_true(left <= -5000 && left > -10000);
}

static void test_check_size(void **unused)
{
	struct lambda_response resp = { 0 };

	(void)unused;
	buf_grow(&resp.payload, LAMBDA_MAX_RESPONSE_BYTES + 1);
	memset(resp.payload.ptr, 'x', LAMBDA_MAX_RESPONSE_BYTES + 1);
	resp.payload.len = LAMBDA_MAX_RESPONSE_BYTES;
	assert_false(lambda_response_check_size(&resp));
	assert_false(resp.failed);
	resp.payload.len = LAMBDA_MAX_RESPONSE_BYTES + 1;
	assert_true(lambda_response_check_size(&resp));
	assert_true(resp.failed);
	assert_string_equal(resp.error_type, "Function.ResponseSizeTooLarge");
	assert_non_null(strstr(buf_cstr(&resp.error_message), "6291457 bytes"));
	/* an existing failure is left alone */
	lambda_fail(&resp, "Mine", "mine");
	assert_false(lambda_response_check_size(&resp));
	assert_string_equal(resp.error_type, "Mine");
	lambda_response_release(&resp);
}

/* ---- the loop, against a fake Runtime API -------------------------------- */

struct fake_next {
	int err;		/* transport error, or 0 */
	long status;
	const char *headers;	/* raw header block, "Name: value\r\n" lines */
	const char *body;
};

struct fake_call {
	char *method, *url, *body;
	struct buf headers;	/* one "Name: value\n" per request header */
	long timeout_ms, connect_timeout_ms;
	bool no_proxy;
};

struct fake {
	const struct fake_next *next;
	size_t next_count, next_used;
	long post_status;
	int post_err;
	struct fake_call calls[24];
	size_t call_count;
};

static int fake_transport(void *ctx, const struct http_request *req,
			  struct http_response *resp, struct buf *errmsg)
{
	struct fake *f = ctx;
	struct fake_call *call;

	assert_true(f->call_count < ARRAY_SIZE(f->calls));
	call = &f->calls[f->call_count++];
	call->method = xstrdup(req->method);
	call->url = xstrdup(req->url);
	call->body = req->body.ptr ? view_dup(req->body) : xstrdup("");
	for (size_t i = 0; i < req->header_count; i++)
		buf_appendf(&call->headers, "%s\n", req->headers[i]);
	call->timeout_ms = req->timeout_ms;
	call->connect_timeout_ms = req->connect_timeout_ms;
	call->no_proxy = req->no_proxy;

	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->status = 0;
	if (!strcmp(req->method, "GET")) {
		const struct fake_next *n;

		assert_non_null(strstr(req->url, "/runtime/invocation/next"));
		if (f->next_used == f->next_count) {
			buf_appends(errmsg, "Failed to connect: Connection refused");
			return ERR_HTTP;
		}
		n = &f->next[f->next_used++];
		if (n->err) {
			buf_appends(errmsg, n->err == ERR_TIMEOUT
						    ? "Connection timed out after 1000 milliseconds"
						    : "Failed to connect: Connection refused");
			return n->err;
		}
		resp->status = n->status;
		buf_appendf(&resp->headers, "HTTP/1.1 %ld X\r\n%s\r\n", n->status,
			    n->headers ? n->headers : "");
		buf_appends(&resp->body, n->body ? n->body : "");
		return 0;
	}
	if (f->post_err) {
		buf_appends(errmsg, "Recv failure: Connection reset by peer");
		return f->post_err;
	}
	resp->status = f->post_status ? f->post_status : 202;
	buf_appends(&resp->body, resp->status == 202 ? "{\"status\":\"OK\"}"
						     : "{\"errorType\":\"Some.Error\"}");
	return 0;
}

static void fake_release(struct fake *f)
{
	for (size_t i = 0; i < f->call_count; i++) {
		free(f->calls[i].method);
		free(f->calls[i].url);
		free(f->calls[i].body);
		buf_release(&f->calls[i].headers);
	}
}

/* What the test handler saw, and what it will answer. */
struct seen {
	char *payload, *request_id, *function_arn, *trace_id, *trace_env, *client_context,
		*cognito;
	int64_t deadline_ms;
};

static struct {
	int init_fails;
	int init_calls, handle_calls, release_calls;
	const char *fail_type;		/* handler fails with this type */
	size_t big;			/* handler answers with this many bytes */
	bool empty;			/* handler answers nothing */
	struct seen seen[4];
	long sleeps[8];			/* the runtime's waits between /next tries */
	size_t sleep_count;
} h;

static void fake_sleep_ms(long ms)
{
	assert_true(h.sleep_count < ARRAY_SIZE(h.sleeps));
	h.sleeps[h.sleep_count++] = ms;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int test_init(void **state, struct buf *errmsg)
{
	h.init_calls++;
	if (h.init_fails) {
		buf_appends(errmsg, "TEST_SETTING must be set");
		return -1;
	}
	*state = &h;
	return 0;
}

static void test_handle(void *state, const struct lambda_request *req,
			struct lambda_response *resp)
{
	struct seen *s;

	assert_ptr_equal(state, &h);
	assert_true((size_t)h.handle_calls < ARRAY_SIZE(h.seen));
	s = &h.seen[h.handle_calls++];
	s->payload = req->payload.ptr ? view_dup(req->payload) : xstrdup("");
	s->request_id = dup_or_null(req->request_id);
	s->function_arn = dup_or_null(req->function_arn);
	s->trace_id = dup_or_null(req->trace_id);
	s->trace_env = dup_or_null(getenv("_X_AMZN_TRACE_ID"));
	s->client_context = dup_or_null(req->client_context);
	s->cognito = dup_or_null(req->cognito_identity);
	s->deadline_ms = req->deadline_ms;
	if (h.fail_type) {
		lambda_fail(resp, h.fail_type, "stopped %d of %d", 1, 2);
	} else if (h.big) {
		buf_grow(&resp->payload, h.big);
		memset(resp->payload.ptr, ' ', h.big);
		resp->payload.len = h.big;
		resp->payload.ptr[h.big] = '\0';
	} else if (!h.empty) {
		buf_appends(&resp->payload, "{\"ok\":true}");
	}
}

static void test_release(void *state)
{
	assert_ptr_equal(state, &h);
	h.release_calls++;
}

static const struct lambda_function test_fn = {
	.name = "test",
	.summary = "a test",
	.help = "",
	.init = test_init,
	.handle = test_handle,
	.release = test_release,
};

static int setup(void **unused)
{
	(void)unused;
	memset(&h, 0, sizeof(h));
	unsetenv("_X_AMZN_TRACE_ID");
	log_set_level(LOG_FATAL);	/* the failures below log on purpose */
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(h.seen); i++) {
		struct seen *s = &h.seen[i];

		free(s->payload);
		free(s->request_id);
		free(s->function_arn);
		free(s->trace_id);
		free(s->trace_env);
		free(s->client_context);
		free(s->cognito);
	}
	log_set_level(LOG_INFO);
	return 0;
}

static int run(struct fake *f, long max)
{
	struct lambda_runtime rt = { "127.0.0.1:9001", fake_transport, f, fake_sleep_ms };

	return lambda_run(&rt, &test_fn, max);
}

#define URL(path) "http://127.0.0.1:9001/2018-06-01" path

static bool has_header(const struct fake_call *c, const char *line)
{
	struct buf want = BUF_INIT;
	bool found;

	buf_appendf(&want, "%s\n", line);
	found = strstr(buf_cstr(&c->headers), buf_cstr(&want)) != NULL;
	buf_release(&want);
	return found;
}

static void test_run_response(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200,
		  "Lambda-Runtime-Aws-Request-Id: req-1\r\n"
		  "Lambda-Runtime-Deadline-Ms: 1700000000123\r\n"
		  "lambda-runtime-invoked-function-arn: arn:aws:lambda:eu-west-1:1:function:f\r\n"
		  "Lambda-Runtime-Trace-Id: Root=1-abc;Parent=def;Sampled=1\r\n"
		  "Lambda-Runtime-Client-Context: {\"client\":{}}\r\n"
		  "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"x\"}\r\n",
		  "{\"hello\":\"world\"}" },
	};
	struct fake f = { .next = next, .next_count = 1 };

	(void)unused;
	assert_int_equal(run(&f, 1), 0);
	assert_int_equal(h.init_calls, 1);
	assert_int_equal(h.handle_calls, 1);
	assert_int_equal(h.release_calls, 1);
	assert_string_equal(h.seen[0].payload, "{\"hello\":\"world\"}");
	assert_string_equal(h.seen[0].request_id, "req-1");
	assert_true(h.seen[0].deadline_ms == 1700000000123);
	assert_string_equal(h.seen[0].function_arn, "arn:aws:lambda:eu-west-1:1:function:f");
	assert_string_equal(h.seen[0].trace_id, "Root=1-abc;Parent=def;Sampled=1");
	assert_string_equal(h.seen[0].trace_env, "Root=1-abc;Parent=def;Sampled=1");
	assert_string_equal(h.seen[0].client_context, "{\"client\":{}}");
	assert_string_equal(h.seen[0].cognito, "{\"cognitoIdentityId\":\"x\"}");

	assert_int_equal(f.call_count, 2);
	assert_string_equal(f.calls[0].method, "GET");
	assert_string_equal(f.calls[0].url, URL("/runtime/invocation/next"));
	assert_string_equal(f.calls[1].method, "POST");
	assert_string_equal(f.calls[1].url, URL("/runtime/invocation/req-1/response"));
	assert_string_equal(f.calls[1].body, "{\"ok\":true}");
	assert_true(has_header(&f.calls[1], "Content-Type: application/json"));
	fake_release(&f);
}

static void test_run_optional_headers(void **unused)
{
	/* first with a trace id, then without: the variable must not leak */
	static const struct fake_next next[] = {
		{ 0, 200,
		  "Lambda-Runtime-Aws-Request-Id: req-1\r\n"
		  "Lambda-Runtime-Trace-Id: Root=1-abc\r\n",
		  "{}" },
		{ 0, 200,
		  "Lambda-Runtime-Aws-Request-Id: req-2\r\n"
		  "Lambda-Runtime-Deadline-Ms: soon\r\n"
		  "Lambda-Runtime-Trace-Id:\r\n",
		  "" },
	};
	struct fake f = { .next = next, .next_count = 2 };

	(void)unused;
	h.empty = true;
	assert_int_equal(run(&f, 2), 0);
	assert_int_equal(h.handle_calls, 2);
	assert_string_equal(h.seen[0].trace_env, "Root=1-abc");
	assert_null(h.seen[1].trace_env);
	assert_null(h.seen[1].trace_id);
	assert_string_equal(h.seen[1].function_arn, "");
	assert_null(h.seen[1].client_context);
	assert_null(h.seen[1].cognito);
	assert_true(h.seen[0].deadline_ms == 0);	/* missing */
	assert_true(h.seen[1].deadline_ms == 0);	/* invalid */
	assert_string_equal(h.seen[1].payload, "");
	assert_null(getenv("_X_AMZN_TRACE_ID"));
	assert_int_equal(f.call_count, 4);
	assert_string_equal(f.calls[3].url, URL("/runtime/invocation/req-2/response"));
	assert_string_equal(f.calls[3].body, "null");	/* an empty answer */
	fake_release(&f);
}

static void test_run_error(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: req-9\r\n", "{}" },
	};
	struct fake f = { .next = next, .next_count = 1 };
	cJSON *doc;

	(void)unused;
	h.fail_type = "Stopper.InstancesNotStopped";
	assert_int_equal(run(&f, 1), 0);
	assert_int_equal(f.call_count, 2);
	assert_string_equal(f.calls[1].url, URL("/runtime/invocation/req-9/error"));
	assert_true(has_header(&f.calls[1],
			       "Lambda-Runtime-Function-Error-Type: Stopper.InstancesNotStopped"));
	assert_true(has_header(&f.calls[1], "Content-Type: application/json"));
	doc = cJSON_Parse(f.calls[1].body);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "errorType")->valuestring,
			    "Stopper.InstancesNotStopped");
	assert_string_equal(cJSON_GetObjectItem(doc, "errorMessage")->valuestring,
			    "stopped 1 of 2");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(doc, "stackTrace")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "stackTrace")), 0);
	cJSON_Delete(doc);
	fake_release(&f);
}

static void test_run_too_large(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: req-big\r\n", "{}" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: req-max\r\n", "{}" },
	};
	struct fake f = { .next = next, .next_count = 1 };

	(void)unused;
	h.big = LAMBDA_MAX_RESPONSE_BYTES + 1;
	assert_int_equal(run(&f, 1), 0);
	assert_int_equal(f.call_count, 2);
	assert_string_equal(f.calls[1].url, URL("/runtime/invocation/req-big/error"));
	assert_true(has_header(&f.calls[1],
			       "Lambda-Runtime-Function-Error-Type: Function.ResponseSizeTooLarge"));
	fake_release(&f);

	/* exactly the limit is still a response */
	memset(&f, 0, sizeof(f));
	f.next = next + 1;
	f.next_count = 1;
	h.big = LAMBDA_MAX_RESPONSE_BYTES;
	assert_int_equal(run(&f, 1), 0);
	assert_string_equal(f.calls[1].url, URL("/runtime/invocation/req-max/response"));
	assert_int_equal(strlen(f.calls[1].body), LAMBDA_MAX_RESPONSE_BYTES);
	fake_release(&f);
}

static void test_run_init_error(void **unused)
{
	struct fake f = { 0 };
	cJSON *doc;

	(void)unused;
	h.init_fails = 1;
	assert_int_equal(run(&f, 0), ERR_CONFIG);
	assert_int_equal(h.handle_calls, 0);
	assert_int_equal(h.release_calls, 0);
	assert_int_equal(f.call_count, 1);
	assert_string_equal(f.calls[0].method, "POST");
	assert_string_equal(f.calls[0].url, URL("/runtime/init/error"));
	assert_true(has_header(&f.calls[0], "Lambda-Runtime-Function-Error-Type: Runtime.InitError"));
	doc = cJSON_Parse(f.calls[0].body);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "errorType")->valuestring,
			    "Runtime.InitError");
	assert_string_equal(cJSON_GetObjectItem(doc, "errorMessage")->valuestring,
			    "TEST_SETTING must be set");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(doc, "stackTrace")));
	cJSON_Delete(doc);
	fake_release(&f);
}

static void test_run_init_error_unreachable(void **unused)
{
	struct fake f = { .post_err = ERR_HTTP };

	(void)unused;
	h.init_fails = 1;
	assert_int_equal(run(&f, 0), ERR_CONFIG);
	assert_int_equal(f.call_count, 1);
	fake_release(&f);
}

/*
 * Every way /next can go wrong ends the loop (forever = 0) instead of
 * spinning: at once when Lambda refuses (4xx) or answers nonsense, after
 * LAMBDA_NEXT_ATTEMPTS tries when it keeps failing transiently (the fake
 * refuses the connection once its script is used up).
 */
static void test_run_next_failures(void **unused)
{
	static const struct {
		struct fake_next next;
		int err;
		size_t calls;
	} cases[] = {
		{ { ERR_HTTP, 0, NULL, NULL }, ERR_HTTP, LAMBDA_NEXT_ATTEMPTS },
		{ { ERR_TIMEOUT, 0, NULL, NULL }, ERR_HTTP, LAMBDA_NEXT_ATTEMPTS },
		{ { 0, 500, "Lambda-Runtime-Aws-Request-Id: r\r\n",
		    "{\"errorType\":\"Runtime.Broken\"}" }, ERR_HTTP, LAMBDA_NEXT_ATTEMPTS },
		{ { 0, 403, "", "" }, ERR_AWS, 1 },
		{ { 0, 400, "", "{\"errorType\":\"InvalidStateTransition\"}" }, ERR_AWS, 1 },
		{ { 0, 204, "Lambda-Runtime-Aws-Request-Id: r\r\n", "" }, ERR_AWS, 1 },
		{ { ERR_TOO_LARGE, 0, NULL, NULL }, ERR_TOO_LARGE, 1 },
		{ { 0, 200, "", "{}" }, ERR_PARSE, 1 },
		{ { 0, 200, "Lambda-Runtime-Aws-Request-Id:\r\n", "{}" }, ERR_PARSE, 1 },
		{ { 0, 200, "Lambda-Runtime-Aws-Request-Id: ../../x\r\n", "{}" }, ERR_PARSE, 1 },
	};

	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake f = { .next = &cases[i].next, .next_count = 1 };

		h.handle_calls = h.release_calls = 0;
		h.sleep_count = 0;
		assert_int_equal(run(&f, 0), cases[i].err);
		assert_int_equal(h.handle_calls, 0);
		assert_int_equal(h.release_calls, 1);
		assert_int_equal(f.call_count, cases[i].calls);
		assert_int_equal(h.sleep_count, cases[i].calls - 1);
		for (size_t j = 0; j < f.call_count; j++)
			assert_string_equal(f.calls[j].url, URL("/runtime/invocation/next"));
		fake_release(&f);
	}
}

/* A Runtime API that stumbles a few times is waited for, with a backoff. */
static void test_run_next_retried(void **unused)
{
	static const struct fake_next next[] = {
		{ ERR_HTTP, 0, NULL, NULL },	/* refused or reset */
		{ 0, 503, "", "{\"errorType\":\"ServiceUnavailable\"}" },
		{ ERR_TIMEOUT, 0, NULL, NULL },	/* a connect timeout */
		{ 0, 502, "", "" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: late-1\r\n", "{\"n\":1}" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: late-2\r\n", "{\"n\":2}" },
	};
	struct fake f = { .next = next, .next_count = ARRAY_SIZE(next) };

	(void)unused;
	assert_int_equal(run(&f, 2), 0);
	assert_int_equal(h.handle_calls, 2);
	assert_string_equal(h.seen[0].request_id, "late-1");
	assert_string_equal(h.seen[0].payload, "{\"n\":1}");
	assert_string_equal(h.seen[1].request_id, "late-2");
	/* four failures then the event, its response, the next event at once */
	assert_int_equal(f.call_count, 8);
	assert_string_equal(f.calls[5].url, URL("/runtime/invocation/late-1/response"));
	assert_string_equal(f.calls[7].url, URL("/runtime/invocation/late-2/response"));
	assert_int_equal(h.sleep_count, 4);
	assert_int_equal(h.sleeps[0], LAMBDA_NEXT_BACKOFF_MS);
	assert_int_equal(h.sleeps[1], 2 * LAMBDA_NEXT_BACKOFF_MS);
	assert_int_equal(h.sleeps[2], 4 * LAMBDA_NEXT_BACKOFF_MS);
	assert_int_equal(h.sleeps[3], 8 * LAMBDA_NEXT_BACKOFF_MS);
	fake_release(&f);

	/* the backoff starts again for the next invocation */
	memset(&f, 0, sizeof(f));
	f.next = next + 2;
	f.next_count = 4;
	h.sleep_count = 0;
	assert_int_equal(run(&f, 2), 0);
	assert_int_equal(h.sleep_count, 2);
	assert_int_equal(h.sleeps[1], 2 * LAMBDA_NEXT_BACKOFF_MS);
	fake_release(&f);
}

/*
 * /next may wait as long as the sandbox is frozen (no total timeout), but a
 * connection to the Runtime API that does not come up in 1 s is a failure
 * (and retried); neither /next nor a result goes through a proxy.
 */
static void test_run_timeouts(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: t-1\r\n", "{}" },
	};
	struct fake f = { .next = next, .next_count = 1 };

	(void)unused;
	assert_int_equal(run(&f, 1), 0);
	assert_int_equal(f.call_count, 2);
	assert_string_equal(f.calls[0].method, "GET");
	assert_int_equal(f.calls[0].timeout_ms, 0);
	assert_int_equal(f.calls[0].connect_timeout_ms, LAMBDA_CONNECT_TIMEOUT_MS);
	assert_int_equal(LAMBDA_CONNECT_TIMEOUT_MS, 1000);
	assert_true(f.calls[0].no_proxy);
	assert_true(f.calls[1].no_proxy);
	fake_release(&f);
}

static void test_run_post_failures(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: a\r\n", "{}" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: b\r\n", "{}" },
	};
	struct fake f = { .next = next, .next_count = 2, .post_status = 413 };

	(void)unused;
	/* a refused result is logged, and the loop goes on */
	assert_int_equal(run(&f, 2), 0);
	assert_int_equal(f.call_count, 4);
	fake_release(&f);

	/* a transport failure ends it */
	memset(&f, 0, sizeof(f));
	f.next = next;
	f.next_count = 2;
	f.post_err = ERR_HTTP;
	assert_int_equal(run(&f, 0), ERR_HTTP);
	assert_int_equal(f.call_count, 2);
	fake_release(&f);
}

/* The loop runs until the Runtime API goes away. */
static void test_run_forever(void **unused)
{
	static const struct fake_next next[] = {
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: a\r\n", "1" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: b\r\n", "2" },
		{ 0, 200, "Lambda-Runtime-Aws-Request-Id: c\r\n", "3" },
	};
	struct fake f = { .next = next, .next_count = 3 };

	(void)unused;
	assert_int_equal(run(&f, 0), ERR_HTTP);
	assert_int_equal(h.init_calls, 1);
	assert_int_equal(h.handle_calls, 3);
	assert_int_equal(h.release_calls, 1);
	assert_string_equal(h.seen[2].payload, "3");
	/* 3 x (/next, /response), then /next refused LAMBDA_NEXT_ATTEMPTS times */
	assert_int_equal(f.call_count, 6 + LAMBDA_NEXT_ATTEMPTS);
	assert_int_equal(h.sleep_count, LAMBDA_NEXT_ATTEMPTS - 1);
	fake_release(&f);
}

static void *cjson_malloc(size_t size)
{
	return xmalloc(size);
}

int main(void)
{
	cJSON_Hooks hooks = { cjson_malloc, free };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_deadline),
		cmocka_unit_test(test_request_id_valid),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_error_type_clean),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_remaining_ms),
		cmocka_unit_test(test_check_size),
		cmocka_unit_test_setup_teardown(test_run_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_optional_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_init_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_init_error_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_next_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_next_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_post_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_forever, setup, teardown),
	};

	cJSON_InitHooks(&hooks);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
