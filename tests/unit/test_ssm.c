/*
 * test_ssm.c - GetParameter (common/ssm.h) on a scripted transport.
 *
 *   make build/asan/tests/test_ssm && build/asan/tests/test_ssm
 *
 * request/<row>  what is sent: target, JSON body, endpoint.
 * answers/<row>  one scripted answer each: the value appended, or the error
 *                surfaced in struct aws_error (ParameterNotFound,
 *                AccessDeniedException, answers without Parameter.Value), and
 *                in every row the secret value absent from the error and the
 *                caller's buffer untouched on failure.
 * logs/retried   a call retried after a 5xx writes log lines; the secret is
 *                not in them.
 * wipe/tree      the parsed answer is freed with the value overwritten: every
 *                block cJSON frees is searched for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "table.h"

#include "fake_aws.h"
#include "log.h"
#include "ssm.h"

#include "helpers.h"
#include "banned.h"

#define WEBHOOK "/devcloud/slack-webhook"
/* made up, shaped like a Slack webhook: the kind of value that must not leak */
#define SECRET "https://hooks.slack.com/services/T0000TEST/B0000TEST/s3cr3tS3cr3tS3cr3t"

/* ---- requests ---- */

struct request_case {
	const char *name;
	const char *param;
	bool decrypt;
	const char *body;	/* the exact JSON sent */
};

static struct request_case request_cases[] = {
	{ "decrypt", WEBHOOK, true, "{\"Name\":\"/devcloud/slack-webhook\",\"WithDecryption\":true}" },
	{ "no-decrypt", "plain", false, "{\"Name\":\"plain\",\"WithDecryption\":false}" },
	{ "name-escaped", "/a\"b\\c", true, "{\"Name\":\"/a\\\"b\\\\c\",\"WithDecryption\":true}" },
	{ "arn-name", "arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/x", true,
	  "{\"Name\":\"arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/x\","
	  "\"WithDecryption\":true}" },
};

static void test_request(void **state)
{
	const struct request_case *c = *state;
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf value = BUF_INIT;
	struct aws_error e;
	const char *heads;

	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	fake_aws_answer(&fake, 200, "{\"Parameter\":{\"Value\":\"v\"}}");
	assert_int_equal(ssm_get_parameter(aws, c->param, c->decrypt, &value, &e), 0);
	assert_string_equal(buf_cstr(&value), "v");
	assert_int_equal(fake.calls, 1);
	assert_string_equal(buf_cstr(&fake.bodies[0]), c->body);
	assert_string_equal(fake.urls[0], "https://ssm.eu-west-1.amazonaws.com");
	heads = buf_cstr(&fake.heads[0]);
	assert_non_null(strstr(heads, "X-Amz-Target: AmazonSSM.GetParameter\n"));
	assert_non_null(strstr(heads, "Content-Type: application/x-amz-json-1.1\n"));
	assert_non_null(strstr(heads, "/eu-west-1/ssm/aws4_request"));
	buf_release_secret(&value);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- answers ---- */

struct answer_case {
	const char *name;
	long status;
	const char *body;
	const char *headers;
	int err;
	const char *code;	/* error->code on failure */
	const char *message;	/* error->message on failure, or NULL: not checked */
	const char *value;	/* appended to "prefix:" on success */
};

static struct answer_case answer_cases[] = {
	{ "secure-string", 200,
	  "{\"Parameter\":{\"ARN\":\"arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/"
	  "slack-webhook\",\"DataType\":\"text\",\"LastModifiedDate\":1.7647488E9,"
	  "\"Name\":\"/devcloud/slack-webhook\",\"Type\":\"SecureString\",\"Value\":\"" SECRET
	  "\",\"Version\":3}}",
	  NULL, 0, NULL, NULL, SECRET },
	{ "string-list", 200,
	  "{\"Parameter\":{\"Name\":\"n\",\"Type\":\"StringList\",\"Value\":\"a,b,c\"}}", NULL, 0,
	  NULL, NULL, "a,b,c" },
	{ "escapes-decoded", 200,
	  "{\"Parameter\":{\"Value\":\"caf\\u00e9 \\\"x\\\"\\n/\\/\"}}", NULL, 0, NULL, NULL,
	  "caf\xc3\xa9 \"x\"\n//" },
	{ "empty-value", 200, "{\"Parameter\":{\"Value\":\"\"}}", NULL, 0, NULL, NULL, "" },
	{ "parameter-not-found", 400,
	  "{\"__type\":\"ParameterNotFound\",\"message\":\"\"}", NULL, ERR_AWS,
	  "ParameterNotFound", "", NULL },
	{ "parameter-not-found-qualified", 400,
	  "{\"__type\":\"com.amazonaws.ssm#ParameterNotFound\",\"message\":\"Parameter "
	  "/devcloud/slack-webhook not found.\"}",
	  NULL, ERR_AWS, "ParameterNotFound", "Parameter /devcloud/slack-webhook not found.", NULL },
	{ "access-denied", 400,
	  "{\"__type\":\"AccessDeniedException\",\"Message\":\"User: arn:aws:sts::123456789012:"
	  "assumed-role/devcloud-pruner/devcloud-pruner is not authorized to perform: "
	  "ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/"
	  "slack-webhook because no identity-based policy allows the ssm:GetParameter action\"}",
	  NULL, ERR_AWS, "AccessDeniedException",
	  "User: arn:aws:sts::123456789012:assumed-role/devcloud-pruner/devcloud-pruner is not "
	  "authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:"
	  "123456789012:parameter/devcloud/slack-webhook because no identity-based policy allows "
	  "the ssm:GetParameter action", NULL },
	{ "kms-denied-by-header", 400, "{}",
	  "HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: AccessDeniedException:http://internal/\r\n",
	  ERR_AWS, "AccessDeniedException", "", NULL },
	{ "no-parameter", 200, "{\"Other\":{\"Value\":\"" SECRET "\"}}", NULL, ERR_PARSE, "",
	  "GetParameter answered for '" WEBHOOK "' without Parameter.Value", NULL },
	{ "no-value", 200,
	  "{\"Parameter\":{\"Name\":\"/devcloud/slack-webhook\",\"Type\":\"SecureString\","
	  "\"Values\":\"" SECRET "\"}}",
	  NULL, ERR_PARSE, "", "GetParameter answered for '" WEBHOOK "' without Parameter.Value",
	  NULL },
	{ "value-null", 200, "{\"Parameter\":{\"Value\":null}}", NULL, ERR_PARSE, "", NULL, NULL },
	{ "value-number", 200, "{\"Parameter\":{\"Value\":42}}", NULL, ERR_PARSE, "", NULL, NULL },
	{ "value-object", 200, "{\"Parameter\":{\"Value\":{\"v\":\"" SECRET "\"}}}", NULL,
	  ERR_PARSE, "", NULL, NULL },
	{ "parameter-is-string", 200, "{\"Parameter\":\"" SECRET "\"}", NULL, ERR_PARSE, "", NULL,
	  NULL },
	{ "value-wrong-case", 200, "{\"Parameter\":{\"value\":\"" SECRET "\"}}", NULL, ERR_PARSE,
	  "", NULL, NULL },
	{ "truncated-json", 200, "{\"Parameter\":{\"Value\":\"" SECRET, NULL, ERR_PARSE, "", NULL,
	  NULL },
	{ "json-array", 200, "[\"" SECRET "\"]", NULL, ERR_PARSE, "", NULL, NULL },
};

static void test_answer(void **state)
{
	const struct answer_case *c = *state;
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf value = BUF_INIT, described = BUF_INIT;
	struct aws_error e;
	int err;

	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	fake.answers[0] = (struct fake_answer){ 0, c->status, c->body, c->headers };
	fake.answer_count = 1;
	buf_appends(&value, "prefix:");
	err = ssm_get_parameter(aws, WEBHOOK, true, &value, &e);
	assert_int_equal(err, c->err);
	assert_int_equal(fake.calls, 1);
	if (err) {
		assert_int_equal(e.err, c->err);
		assert_int_equal(e.http_status, c->status);
		assert_string_equal(e.code, c->code);
		if (c->message)
			assert_string_equal(e.message, c->message);
		assert_string_equal(buf_cstr(&value), "prefix:");	/* untouched */
	} else {
		assert_memory_equal(value.ptr, "prefix:", 7);
		assert_string_equal(value.ptr + 7, c->value);
		assert_int_equal(value.len, 7 + strlen(c->value));
	}
	/* whatever the answer, the secret stays out of what is reported */
	aws_error_describe(&e, &described);
	assert_null(strstr(buf_cstr(&described), "s3cr3t"));
	assert_null(strstr(e.code, "s3cr3t"));
	assert_null(strstr(e.message, "hooks.slack.com"));
	buf_release(&described);
	buf_release_secret(&value);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- logs ---- */

/*
 * A 5xx then the value: the retry is logged (on stderr). The log is read
 * back and must name the retry but not hold the value.
 */
static void test_retry_logs(void **state)
{
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf value = BUF_INIT, logged = BUF_INIT;
	struct aws_error e;

	(void)state;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 3);
	fake_aws_answer(&fake, 500, "{\"__type\":\"InternalServerError\",\"message\":\"try again\"}");
	fake_aws_answer(&fake, 200, "{\"Parameter\":{\"Type\":\"SecureString\",\"Value\":\"" SECRET
				    "\"}}");
	log_set_level(LOG_TRACE);
	capture_stderr_begin();
	assert_int_equal(ssm_get_parameter(aws, WEBHOOK, true, &value, &e), 0);
	capture_stderr_end(&logged);
	log_set_level(LOG_INFO);

	assert_int_equal(fake.calls, 2);
	assert_string_equal(buf_cstr(&value), SECRET);
	assert_non_null(strstr(buf_cstr(&logged), "retrying GetParameter"));
	assert_null(strstr(buf_cstr(&logged), "s3cr3t"));
	assert_null(strstr(buf_cstr(&logged), "hooks.slack.com"));
	buf_release(&logged);
	buf_release_secret(&value);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- wiping ---- */

static size_t freed_with_secret;

/* cJSON's free: counts the blocks that still hold the secret as they go. */
static void free_checking(void *p)
{
	if (p && memmem(p, malloc_usable_size(p), "s3cr3t", 6))
		freed_with_secret++;
	free(p);
}

static void test_tree_wiped(void **state)
{
	cJSON_Hooks hooks = { malloc, free_checking };
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf value = BUF_INIT;
	struct aws_error e;
	cJSON *probe;

	(void)state;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	fake_aws_answer(&fake, 200, "{\"Parameter\":{\"Name\":\"" WEBHOOK "\",\"Type\":"
				    "\"SecureString\",\"Value\":\"" SECRET "\",\"Version\":3}}");
	cJSON_InitHooks(&hooks);
	/* the check itself can fail: a tree freed as it is trips it */
	freed_with_secret = 0;
	probe = cJSON_Parse("{\"Value\":\"" SECRET "\"}");
	cJSON_Delete(probe);
	assert_int_not_equal(freed_with_secret, 0);

	freed_with_secret = 0;
	assert_int_equal(ssm_get_parameter(aws, WEBHOOK, true, &value, &e), 0);
	cJSON_InitHooks(NULL);
	assert_string_equal(buf_cstr(&value), SECRET);
	assert_int_equal(freed_with_secret, 0);
	buf_release_secret(&value);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(request_cases); i++)
		table_add("request", request_cases[i].name, test_request, &request_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(answer_cases); i++)
		table_add("answers", answer_cases[i].name, test_answer, &answer_cases[i]);
	table_add("logs", "retried", test_retry_logs, NULL);
	table_add("wipe", "tree", test_tree_wiped, NULL);
	return table_run("ssm");
}
