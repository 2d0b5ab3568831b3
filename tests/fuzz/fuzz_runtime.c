/*
 * fuzz_runtime.c - the Runtime API loop on whatever /next answers: the
 * request id, the deadline, the ARN, the trace id and the other headers,
 * the event body, statuses, resets; and the answers to the posts.
 *
 *   make build/fuzz/fuzz_runtime
 *   build/fuzz/fuzz_runtime -max_total_time=60 tests/fuzz/corpus/runtime
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * The input is the answers, in tests/fuzz/fuzz_wire.h's format, to every
 * Runtime API call in order (GET /next, then the POST of its result, ...);
 * lambda_run() serves up to MAX_INVOCATIONS invocations. Beyond "no crash,
 * no leak":
 * - the handler runs only for a /next with a valid request id, and gets
 *   exactly the id, the deadline (or 0 when missing or invalid), the ARN,
 *   the trace id and the event that came;
 * - every invocation handed to the handler is answered exactly once, at
 *   /runtime/invocation/<its id>/response or /error, and nothing else is
 *   ever posted;
 * - an error post carries a clean Lambda-Runtime-Function-Error-Type (at
 *   most 128 of [A-Za-z0-9._:-]) and a JSON document with the same type;
 * - lambda_run() returns 0 only after serving every invocation.
 * The header parsers are also checked on the raw input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "lambda_internal.h"

#include "fuzz_wire.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INVOCATIONS 4
#define API "127.0.0.1:9001"
#define PREFIX "http://" API "/" LAMBDA_API_VERSION

struct state {
	struct fuzz_wire wire;
	struct http_response next;	/* what the last /next answered (a copy) */
	char *handled_id;		/* the id of the invocation awaiting its post */
	size_t handled;
	size_t posted;
	bool failed;			/* the handler failed it */
	char error_type[160];
};

static struct state st;

static bool clean_type(struct view v)
{
	if (v.len == 0 || v.len > 128)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static void check_post(const struct http_request *req)
{
	struct buf expected = BUF_INIT;
	const char *type_header = NULL;

	if (!st.handled_id || st.posted + 1 != st.handled)
		__builtin_trap();	/* a post without an invocation, or twice */
	st.posted++;
	buf_appendf(&expected, PREFIX "/runtime/invocation/%s/%s", st.handled_id,
		    st.failed ? "error" : "response");
	if (strcmp(req->url, buf_cstr(&expected)))
		__builtin_trap();
	for (size_t i = 0; i < req->header_count; i++)
		if (!strncmp(req->headers[i], "Lambda-Runtime-Function-Error-Type: ", 36))
			type_header = req->headers[i] + 36;
	if (st.failed) {
		cJSON *doc = cJSON_ParseWithLength(req->body.ptr, req->body.len);
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "errorType");

		if (!type_header || !clean_type(view_from(type_header)) || !cJSON_IsString(type) ||
		    strcmp(type->valuestring, type_header) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "errorMessage")))
			__builtin_trap();
		cJSON_Delete(doc);
	} else if (type_header) {
		__builtin_trap();
	}
	buf_release(&expected);
	free(st.handled_id);
	st.handled_id = NULL;
}

static int transport(void *ctx, const struct http_request *req, struct http_response *resp,
		     struct buf *errmsg)
{
	int err;

	(void)ctx;
	if (!strcmp(req->method, "POST")) {
		check_post(req);
		return fuzz_wire_answer(&st.wire, resp, errmsg);
	}
	if (strcmp(req->url, PREFIX "/runtime/invocation/next") || st.handled_id)
		__builtin_trap();	/* /next before the last invocation was answered */
	err = fuzz_wire_answer(&st.wire, resp, errmsg);
	http_response_release(&st.next);
	if (!err) {
		buf_append(&st.next.headers, resp->headers.ptr, resp->headers.len);
		buf_append(&st.next.body, resp->body.ptr, resp->body.len);
		st.next.status = resp->status;
	}
	return err;
}

static void no_sleep(long ms)
{
	(void)ms;
}

/* Whether a header of the last /next reads `got` (NULL: absent or empty). */
static bool header_is(const char *name, const char *got)
{
	struct view v;

	if (!http_response_header(&st.next, name, &v) || !v.len)
		return got == NULL;
	return got && view_eqs(v, got);
}

static void handle(void *state, const struct lambda_request *req, struct lambda_response *resp)
{
	struct view id;
	int64_t deadline = 0;
	struct view dv;

	(void)state;
	if (st.handled_id || st.next.status != 200)
		__builtin_trap();
	if (!http_response_header(&st.next, "Lambda-Runtime-Aws-Request-Id", &id) ||
	    !lambda_request_id_valid(id) || !view_eqs(id, req->request_id))
		__builtin_trap();
	if (http_response_header(&st.next, "Lambda-Runtime-Deadline-Ms", &dv) && dv.len)
		(void)!lambda_parse_deadline_ms(dv, &deadline);
	if (req->deadline_ms != deadline)
		__builtin_trap();
	if (!req->function_arn ||
	    !header_is("Lambda-Runtime-Invoked-Function-Arn",
		       *req->function_arn ? req->function_arn : NULL) ||
	    !header_is("Lambda-Runtime-Trace-Id", req->trace_id) ||
	    !header_is("Lambda-Runtime-Client-Context", req->client_context) ||
	    !header_is("Lambda-Runtime-Cognito-Identity", req->cognito_identity))
		__builtin_trap();
	if (!req->payload.ptr || req->payload.ptr[req->payload.len] != '\0' ||
	    !view_eq(req->payload, buf_view(&st.next.body)))
		__builtin_trap();
	st.handled_id = xstrdup(req->request_id);
	st.handled++;
	/* an event starting with 'F' fails with the rest of its first line as the type */
	st.failed = req->payload.len && req->payload.ptr[0] == 'F';
	if (st.failed) {
		size_t n = strcspn(req->payload.ptr + 1, "\n");

		snprintf(st.error_type, sizeof(st.error_type), "%.*s", (int)n, req->payload.ptr + 1);
		lambda_fail(resp, st.error_type, "failed on an event of %zu bytes", req->payload.len);
	} else {
		buf_append(&resp->payload, req->payload.ptr, req->payload.len);
	}
}

/* The header parsers on the raw input. */
static void check_parsers(const uint8_t *data, size_t size)
{
	struct view v = view_make((const char *)data, size);
	int64_t deadline;

	if (lambda_parse_deadline_ms(v, &deadline) == 0) {
		char text[32];
		size_t skip = 0;

		while (skip < size && data[skip] == '0')
			skip++;
		snprintf(text, sizeof(text), "%lld", (long long)deadline);
		if (deadline <= 0 || !view_eqs(view_make(v.ptr + skip, size - skip), text))
			__builtin_trap();
	} else if (deadline != 0) {
		__builtin_trap();
	}
	if (lambda_request_id_valid(v)) {
		if (size == 0 || size > 128)
			__builtin_trap();
		for (size_t i = 0; i < size; i++)
			if (!clean_type(view_make(v.ptr + i, 1)) && data[i] != '~')
				__builtin_trap();
	}
	if (size < 4096) {
		char *s = xstrndup((const char *)data, size);
		struct buf clean = BUF_INIT;

		lambda_error_type_clean(&clean, s);
		if (!clean_type(buf_view(&clean)))
			__builtin_trap();
		buf_release(&clean);
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct lambda_function fn = { .name = "fuzz", .handle = handle };
	const struct lambda_runtime rt = {
		.api = API, .transport = transport, .transport_ctx = NULL, .sleep_ms = no_sleep,
	};
	struct http_response empty = HTTP_RESPONSE_INIT;
	int err;

	fuzz_quiet();
	check_parsers(data, size);
	memset(&st, 0, sizeof(st));
	st.next = empty;
	fuzz_wire_init(&st.wire, data, size);
	err = lambda_run(&rt, &fn, MAX_INVOCATIONS);
	if (st.posted != st.handled)
		__builtin_trap();	/* an invocation left unanswered */
	if (err ? err > 0 || st.handled > MAX_INVOCATIONS : st.handled != MAX_INVOCATIONS)
		__builtin_trap();
	http_response_release(&st.next);
	free(st.handled_id);
	return 0;
}
