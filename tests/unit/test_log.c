/*
 * test_log.c - log lines in the format Lambda expects (common/log.h).
 *
 *   make build/asan/tests/test_log && build/asan/tests/test_log
 *
 * stderr is captured by pointing fd 2 at a temporary file around each call
 * (capture_stderr_begin/_end in helpers.c); JSON lines are read back with cJSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "table.h"

#include "cJSON.h"
#include "log.h"
#include "timeutil.h"

#include "helpers.h"
#include "banned.h"


/* ---- capturing stderr ---- */

static size_t count_char(const struct buf *b, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->ptr[i] == c;
	return n;
}

static void reset_logger(bool json, enum log_level level)
{
	log_set_json(json);
	log_set_level(level);
	log_set_request_id(NULL);
}

/* "2026-11-27T18:00:00.123Z", within a minute of now. */
static void assert_timestamp(const char *ts)
{
	int64_t t;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(strlen(ts), 24);
	for (size_t i = 0; i < 24; i++) {
		static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
		if (shape[i] == 'd')
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		else
			assert_int_equal(ts[i], shape[i]);
	}
	assert_int_equal(time_parse_iso8601(ts, &t, NULL), 0);
	assert_true(t >= now - 60 && t <= now + 60);
}

/* ---- levels ---- */

struct level_parse_case {
	const char *in;
	int expect;
};

static struct level_parse_case level_parse_cases[] = {
	{ "TRACE", LOG_TRACE }, { "DEBUG", LOG_DEBUG }, { "INFO", LOG_INFO },
	{ "WARN", LOG_WARN },	{ "ERROR", LOG_ERROR }, { "FATAL", LOG_FATAL },
	{ "debug", LOG_DEBUG }, { "Warn", LOG_WARN },	{ "WARNING", -1 },
	{ "", -1 },		{ "INFO ", -1 },	{ "5", -1 },
};

static void test_level_parse(void **state)
{
	const struct level_parse_case *c = *state;
	assert_int_equal(log_level_parse(c->in), c->expect);
}

struct filter_case {
	const char *name;
	enum log_level min;
	enum log_level level;
	bool emitted;
};

static struct filter_case filter_cases[] = {
	{ "info-drops-debug", LOG_INFO, LOG_DEBUG, false },
	{ "info-drops-trace", LOG_INFO, LOG_TRACE, false },
	{ "info-keeps-info", LOG_INFO, LOG_INFO, true },
	{ "info-keeps-error", LOG_INFO, LOG_ERROR, true },
	{ "warn-drops-info", LOG_WARN, LOG_INFO, false },
	{ "warn-keeps-warn", LOG_WARN, LOG_WARN, true },
	{ "trace-keeps-trace", LOG_TRACE, LOG_TRACE, true },
	{ "fatal-drops-error", LOG_FATAL, LOG_ERROR, false },
	{ "fatal-keeps-fatal", LOG_FATAL, LOG_FATAL, true },
};

static void test_filter(void **state)
{
	const struct filter_case *c = *state;
	struct buf text = BUF_INIT, json = BUF_INIT;

	reset_logger(false, c->min);
	assert_int_equal(log_enabled(c->level), c->emitted);
	capture_stderr_begin();
	log_msg(c->level, "line at %d", (int)c->level);
	capture_stderr_end(&text);
	reset_logger(true, c->min);
	capture_stderr_begin();
	log_msg(c->level, "line at %d", (int)c->level);
	capture_stderr_end(&json);
	assert_int_equal(count_char(&text, '\n'), c->emitted ? 1 : 0);
	assert_int_equal(count_char(&json, '\n'), c->emitted ? 1 : 0);
	if (c->emitted) {
		char want[32];
		snprintf(want, sizeof(want), "line at %d", (int)c->level);
		assert_non_null(strstr(buf_cstr(&text), want));
		assert_non_null(strstr(buf_cstr(&json), want));
	}
	buf_release(&text);
	buf_release(&json);
}

/* ---- JSON format ---- */

struct json_case {
	const char *name;
	enum log_level level;
	const char *request_id;	/* NULL: none */
	const char *message;
	size_t nfields;
	struct log_field fields[3];
	const char *level_name;
};

static struct json_case json_cases[] = {
	{ "plain", LOG_INFO, "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "stopped 3 instances", 0,
	  { { NULL, NULL } }, "INFO" },
	{ "no-request-id", LOG_WARN, NULL, "outside an invocation", 0, { { NULL, NULL } },
	  "WARN" },
	{ "fields", LOG_ERROR, "req-1", "cannot stop 'i-0abc': UnauthorizedOperation", 2,
	  { { "instanceId", "i-0abc" }, { "code", "UnauthorizedOperation" } }, "ERROR" },
	{ "null-field-value", LOG_INFO, "req-2", "x", 1, { { "reason", NULL } }, "INFO" },
	{ "escapes", LOG_DEBUG, "req-3", "quote \" backslash \\ newline\nand tab\t", 1,
	  { { "k", "v\"\n" } }, "DEBUG" },
	{ "utf8", LOG_FATAL, "req-4", "caf\xc3\xa9 \xe2\x82\xac", 0, { { NULL, NULL } }, "FATAL" },
	{ "percent-is-data", LOG_TRACE, "req-5", "100% done %s %d", 0, { { NULL, NULL } },
	  "TRACE" },
};

static void test_json(void **state)
{
	const struct json_case *c = *state;
	struct buf out = BUF_INIT;
	cJSON *obj;
	const cJSON *item;
	int keys = 0;

	reset_logger(true, LOG_TRACE);
	log_set_request_id(c->request_id);
	capture_stderr_begin();
	log_with(c->level, c->fields, c->nfields, "%s", c->message);
	capture_stderr_end(&out);

	assert_int_equal(count_char(&out, '\n'), 1);
	assert_int_equal(out.ptr[out.len - 1], '\n');
	obj = cJSON_ParseWithLength(out.ptr, out.len);
	assert_non_null(obj);
	assert_true(cJSON_IsObject(obj));
	for (item = obj->child; item; item = item->next)
		keys++;
	assert_int_equal(keys, 3 + (c->request_id ? 1 : 0) + (int)c->nfields);

	item = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
	assert_true(cJSON_IsString(item));
	assert_timestamp(item->valuestring);
	item = cJSON_GetObjectItemCaseSensitive(obj, "level");
	assert_true(cJSON_IsString(item));
	assert_string_equal(item->valuestring, c->level_name);
	item = cJSON_GetObjectItemCaseSensitive(obj, "message");
	assert_true(cJSON_IsString(item));
	assert_string_equal(item->valuestring, c->message);
	item = cJSON_GetObjectItemCaseSensitive(obj, "requestId");
	if (c->request_id) {
		assert_true(cJSON_IsString(item));
		assert_string_equal(item->valuestring, c->request_id);
	} else {
		assert_null(item);
	}
	for (size_t i = 0; i < c->nfields; i++) {
		item = cJSON_GetObjectItemCaseSensitive(obj, c->fields[i].key);
		assert_true(cJSON_IsString(item));
		assert_string_equal(item->valuestring,
				    c->fields[i].value ? c->fields[i].value : "");
	}
	/* the documented key order: timestamp, level, message, requestId */
	assert_string_equal(obj->child->string, "timestamp");
	assert_string_equal(obj->child->next->string, "level");
	assert_string_equal(obj->child->next->next->string, "message");
	cJSON_Delete(obj);
	buf_release(&out);
}

/* ---- text format ---- */

struct text_case {
	const char *name;
	enum log_level level;
	const char *request_id;
	const char *message;
	size_t nfields;
	struct log_field fields[2];
	const char *after_timestamp;	/* the line after "<timestamp>" */
};

static struct text_case text_cases[] = {
	{ "plain", LOG_INFO, "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "stopped 3 instances", 0,
	  { { NULL, NULL } }, " 8476a536-e9f4-11e8-9739-2dfe598c3fcd INFO stopped 3 instances\n" },
	{ "no-request-id", LOG_WARN, NULL, "cold start", 0, { { NULL, NULL } },
	  " WARN cold start\n" },
	{ "fields", LOG_ERROR, "r1", "cannot stop", 2,
	  { { "instanceId", "i-0abc" }, { "code", "UnauthorizedOperation" } },
	  " r1 ERROR cannot stop instanceId=i-0abc code=UnauthorizedOperation\n" },
	{ "null-field", LOG_INFO, "r2", "x", 1, { { "k", NULL } }, " r2 INFO x k=\n" },
	{ "newlines-in-message", LOG_ERROR, "r3", "first\nsecond\n\nthird\n", 0,
	  { { NULL, NULL } }, " r3 ERROR first second  third \n" },
	{ "newline-in-field", LOG_WARN, "r4", "aws said", 1,
	  { { "message", "line one\nline two" } }, " r4 WARN aws said message=line one line two\n" },
	{ "empty-message", LOG_DEBUG, "r5", "", 0, { { NULL, NULL } }, " r5 DEBUG \n" },
};

static void test_text(void **state)
{
	const struct text_case *c = *state;
	struct buf out = BUF_INIT;
	char ts[25];

	reset_logger(false, LOG_TRACE);
	log_set_request_id(c->request_id);
	capture_stderr_begin();
	log_with(c->level, c->fields, c->nfields, "%s", c->message);
	capture_stderr_end(&out);

	assert_int_equal(count_char(&out, '\n'), 1);
	assert_true(out.len > 24);
	memcpy(ts, out.ptr, 24);
	ts[24] = '\0';
	assert_timestamp(ts);
	assert_string_equal(out.ptr + 24, c->after_timestamp);
	buf_release(&out);
}

/* ---- request id, formatting, environment ---- */

static void test_request_id(void **state)
{
	char long_id[300];
	struct buf out = BUF_INIT;

	(void)state;
	reset_logger(false, LOG_INFO);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	log_set_request_id(long_id);	/* kept, cut to 127 bytes */
	capture_stderr_begin();
	log_info("one");
	log_set_request_id("short");
	log_info("two");
	log_set_request_id(NULL);
	log_info("three");
	capture_stderr_end(&out);
	assert_int_equal(count_char(&out, '\n'), 3);
	{
		const char *l1 = out.ptr, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
		struct buf want = BUF_INIT;

		buf_appendc(&want, ' ');
		buf_append(&want, long_id, 127);
		buf_appends(&want, " INFO one\n");
		assert_memory_equal(l1 + 24, want.ptr, want.len);
		assert_memory_equal(l2 + 24, " short INFO two\n", 16);
		assert_string_equal(l3 + 24, " INFO three\n");
		buf_release(&want);
	}
	buf_release(&out);
}

static void test_printf_args(void **state)
{
	struct buf out = BUF_INIT;
	char big[3000];

	(void)state;
	reset_logger(false, LOG_INFO);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_stderr_begin();
	log_info("%d instances in %s, %.1f%%", 3, "eu-west-1", 12.5);
	log_warn("<%s>", big);
	capture_stderr_end(&out);
	assert_non_null(strstr(buf_cstr(&out), " INFO 3 instances in eu-west-1, 12.5%\n"));
	assert_non_null(strstr(buf_cstr(&out), big));
	assert_int_equal(count_char(&out, '\n'), 2);
	buf_release(&out);
}

struct env_case {
	const char *name;
	const char *format;	/* NULL: unset */
	const char *level;
	bool json;
	enum log_level min;
};

static struct env_case env_cases[] = {
	{ "unset", NULL, NULL, false, LOG_INFO },
	{ "json-debug", "JSON", "DEBUG", true, LOG_DEBUG },
	{ "json-lower", "json", "error", true, LOG_ERROR },
	{ "text", "Text", "WARN", false, LOG_WARN },
	{ "other-format", "xml", "TRACE", false, LOG_TRACE },
	{ "empty-level", "JSON", "", true, LOG_INFO },
	{ "unknown-level-keeps-default", NULL, "verbose", false, LOG_INFO },
};

/* ---- one line stays within a CloudWatch log event ---- */

/*
 * A 10,000-instance result, the size the failure logs once reached; an
 * e-acute (2 bytes) straddles the cut, which must not split it.
 */
static void test_long_line_is_cut(void **state)
{
	bool json = *(bool *)*state;
	struct buf big = BUF_INIT, out = BUF_INIT;
	const char *p;
	size_t len, dropped;
	char mark[64];

	/* "result: " (8) + a's: the e-acute's first byte is the cap's last */
	while (big.len < LOG_TEXT_MAX - 8 - 1)
		buf_appendc(&big, 'a');
	buf_appends(&big, "\u00e9");
	for (int i = 0; i < 10000; i++)
		buf_appendf(&big, ",{\"id\":\"i-%017d\",\"error\":\"Throttling\"}", i);
	reset_logger(json, LOG_INFO);
	log_set_request_id("r1");
	capture_stderr_begin();
	{
		struct log_field f = { "detail", buf_cstr(&big) };
		log_with(LOG_ERROR, &f, 1, "result: %s", buf_cstr(&big));
	}
	log_info("next");
	capture_stderr_end(&out);
	log_set_request_id(NULL);

	assert_int_equal(count_char(&out, '\n'), 2);
	len = (size_t)(strchr(out.ptr, '\n') - out.ptr);
	assert_true(len < 256 * 1024);
	assert_true(len > 2 * (LOG_TEXT_MAX - 8));	/* message and field, each cut at the cap */
	/* the message keeps LOG_TEXT_MAX - 1 bytes: the e-acute went whole */
	p = strstr(out.ptr, " [... ");
	assert_non_null(p);
	assert_int_equal((unsigned char)p[-1], 'a');
	assert_int_equal(sscanf(p, " [... %zu bytes cut]", &dropped), 1);
	assert_int_equal(8 + big.len - dropped, LOG_TEXT_MAX - 1);
	snprintf(mark, sizeof(mark), LOG_TRUNCATED_MARK, dropped);
	assert_non_null(strstr(out.ptr, mark));
	if (json) {
		cJSON *obj = cJSON_ParseWithLength(out.ptr, len);
		const char *message, *detail;
		assert_non_null(obj);
		message = cJSON_GetObjectItemCaseSensitive(obj, "message")->valuestring;
		detail = cJSON_GetObjectItemCaseSensitive(obj, "detail")->valuestring;
		assert_int_equal(strncmp(message, "result: aaaa", 12), 0);
		assert_true(strlen(message) < LOG_TEXT_MAX + 32);
		assert_non_null(strstr(message, " bytes cut]"));
		assert_non_null(strstr(detail, " bytes cut]"));
		assert_true(strlen(detail) < LOG_TEXT_MAX + 32);
		cJSON_Delete(obj);
	} else {
		assert_non_null(strstr(out.ptr, " r1 ERROR result: aaaa"));
		assert_non_null(strstr(out.ptr, " bytes cut] detail=aaaa"));
	}
	/* the line after it is whole */
	assert_non_null(strstr(strchr(out.ptr, '\n') + 1, "INFO"));
	assert_non_null(strstr(strchr(out.ptr, '\n') + 1, "next"));
	buf_release(&big);
	buf_release(&out);
}

static void test_short_line_is_whole(void **state)
{
	struct buf out = BUF_INIT, msg = BUF_INIT;

	(void)state;
	while (msg.len < LOG_TEXT_MAX)
		buf_appendc(&msg, 'x');
	reset_logger(false, LOG_INFO);
	capture_stderr_begin();
	log_info("%s", buf_cstr(&msg));
	capture_stderr_end(&out);
	assert_null(strstr(out.ptr, "bytes cut"));
	assert_non_null(strstr(out.ptr, buf_cstr(&msg)));
	buf_release(&out);
	buf_release(&msg);
}

static void test_env(void **state)
{
	const struct env_case *c = *state;
	struct buf out = BUF_INIT;

	reset_logger(false, LOG_INFO);
	if (c->format)
		setenv("AWS_LAMBDA_LOG_FORMAT", c->format, 1);
	else
		unsetenv("AWS_LAMBDA_LOG_FORMAT");
	if (c->level)
		setenv("AWS_LAMBDA_LOG_LEVEL", c->level, 1);
	else
		unsetenv("AWS_LAMBDA_LOG_LEVEL");
	log_init_from_env();
	unsetenv("AWS_LAMBDA_LOG_FORMAT");
	unsetenv("AWS_LAMBDA_LOG_LEVEL");

	for (int l = LOG_TRACE; l <= LOG_FATAL; l++)
		assert_int_equal(log_enabled((enum log_level)l), l >= (int)c->min);
	capture_stderr_begin();
	log_msg(LOG_FATAL, "probe");
	capture_stderr_end(&out);
	assert_int_equal(out.ptr[0] == '{', c->json);
	buf_release(&out);
	reset_logger(false, LOG_INFO);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(level_parse_cases); i++)
		table_add("level_parse", level_parse_cases[i].in[0] ? level_parse_cases[i].in
								    : "(empty)",
			 test_level_parse, &level_parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(filter_cases); i++)
		table_add("filter", filter_cases[i].name, test_filter, &filter_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(json_cases); i++)
		table_add("json", json_cases[i].name, test_json, &json_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(text_cases); i++)
		table_add("text", text_cases[i].name, test_text, &text_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(env_cases); i++)
		table_add("env", env_cases[i].name, test_env, &env_cases[i]);
	table_add("text", "request-id", test_request_id, NULL);
	table_add("text", "printf-args", test_printf_args, NULL);
	{
		static bool text = false, json = true;
		table_add("cap", "text", test_long_line_is_cut, &text);
		table_add("cap", "json", test_long_line_is_cut, &json);
		table_add("cap", "at-the-cap-is-whole", test_short_line_is_whole, NULL);
	}

	failed = table_run("log");
	return failed;
}
