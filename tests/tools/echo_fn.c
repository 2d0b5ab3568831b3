/*
 * echo_fn - a Lambda function for testing the runtime: it answers with what
 * it received.
 *
 * Response (JSON object):
 *   payload           the event, parsed (null when it is not JSON)
 *   request_id, function_arn
 *   remaining_ms      lambda_remaining_ms() (null without a deadline)
 *   trace_env         getenv("_X_AMZN_TRACE_ID"), or null
 *   client_context, cognito_identity   as received, or null
 *   invocation        1 for the first invocation of the process, then 2, ...
 *
 * Events that make it misbehave:
 *   {"fail": "Type", "message": "..."}  fails with that error type and message
 *   {"big": N}                          answers with exactly N bytes (a JSON
 *                                       string when N >= 2)
 *   {"crash": true}                     abort()
 *   {"sleep_ms": N}                     sleeps N ms first, then echoes
 * With ECHO_FAIL_INIT set (to anything), init fails.
 *
 * Built by the Makefile; by hand, from the repository root:
 *   CFLAGS="-std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wmissing-prototypes \
 *     -Wstrict-prototypes -Wvla -Wwrite-strings -fno-common \
 *     -Icommon -Iruntime -Ibuild/deps/prefix/include"
 *   SRCS="tests/tools/echo_fn.c runtime/lambda.c common/buf.c common/log.c \
 *     common/http.c build/deps/prefix/src/cJSON.c"
 *   # static, like a bootstrap:
 *   gcc $CFLAGS -O2 -static -o build/tools/echo_fn $SRCS \
 *     build/deps/prefix/lib/libcurl.a -lcares -lssl -lcrypto -lz -lpthread
 *   # with ASan/UBSan (dynamic):
 *   gcc $CFLAGS -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
 *     -o build/asan/tools/echo_fn $SRCS \
 *     build/deps/prefix/lib/libcurl.a -lcares -lssl -lcrypto -lz -lpthread
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cJSON.h"
#include "lambda.h"
#include "banned.h"

struct echo_state {
	long invocations;
};

static int echo_init(void **state, struct buf *errmsg)
{
	struct echo_state *s;

	if (getenv("ECHO_FAIL_INIT")) {
		buf_appends(errmsg, "ECHO_FAIL_INIT is set: refusing to start");
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	*state = s;
	return 0;
}

static void echo_release(void *state)
{
	free(state);
}

static void add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static void sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1000000);
	while (nanosleep(&ts, &ts))
		;
}

static void big_response(struct buf *out, size_t n)
{
	buf_grow(out, n);
	if (n < 2) {
		buf_append(out, "0", n);
		return;
	}
	buf_appendc(out, '"');
	for (size_t i = 0; i < n - 2; i++)
		buf_appendc(out, 'x');
	buf_appendc(out, '"');
}

static void echo_handle(void *state, const struct lambda_request *req,
			struct lambda_response *resp)
{
	struct echo_state *s = state;
	cJSON *event = cJSON_ParseWithLength(req->payload.ptr ? req->payload.ptr : "",
					     req->payload.len);
	const cJSON *fail = cJSON_GetObjectItemCaseSensitive(event, "fail");
	const cJSON *big = cJSON_GetObjectItemCaseSensitive(event, "big");
	const cJSON *sleep = cJSON_GetObjectItemCaseSensitive(event, "sleep_ms");
	cJSON *out;
	char *text;
	int64_t remaining = lambda_remaining_ms(req);

	s->invocations++;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "crash")))
		abort();
	if (cJSON_IsNumber(sleep))
		sleep_ms(sleep->valuedouble);
	if (cJSON_IsString(fail)) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(event, "message");

		lambda_fail(resp, fail->valuestring, "%s",
			    cJSON_IsString(msg) ? msg->valuestring : "echo_fn was asked to fail");
		cJSON_Delete(event);
		return;
	}
	if (cJSON_IsNumber(big) && big->valuedouble >= 0) {
		big_response(&resp->payload, (size_t)big->valuedouble);
		cJSON_Delete(event);
		return;
	}

	out = cJSON_CreateObject();
	if (event)
		cJSON_AddItemToObject(out, "payload", event);
	else
		cJSON_AddNullToObject(out, "payload");
	add_string_or_null(out, "request_id", req->request_id);
	add_string_or_null(out, "function_arn", req->function_arn);
	if (remaining == INT64_MAX)
		cJSON_AddNullToObject(out, "remaining_ms");
	else
		cJSON_AddNumberToObject(out, "remaining_ms", (double)remaining);
	add_string_or_null(out, "trace_env", getenv("_X_AMZN_TRACE_ID"));
	add_string_or_null(out, "client_context", req->client_context);
	add_string_or_null(out, "cognito_identity", req->cognito_identity);
	cJSON_AddNumberToObject(out, "invocation", (double)s->invocations);
	text = cJSON_PrintUnformatted(out);
	if (!text)
		abort();
	buf_appends(&resp->payload, text);
	cJSON_free(text);
	cJSON_Delete(out);	/* also deletes event */
}

static const struct lambda_function echo_fn = {
	.name = "echo_fn",
	.summary = "answers with what it received (a test function for the runtime)",
	.help = "  ECHO_FAIL_INIT  when set, init fails (to test Runtime.InitError)\n",
	.init = echo_init,
	.handle = echo_handle,
	.release = echo_release,
};

int main(int argc, char **argv)
{
	return lambda_main(argc, argv, &echo_fn);
}
