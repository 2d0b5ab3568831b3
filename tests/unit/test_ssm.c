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
 * send/<row>     SendCommand: the exact request (AWS-RunShellScript, the lines
 *                as given, executionTimeout, TimeoutSeconds, Comment), the
 *                command id taken from the answer, SSM's refusals, and bad
 *                ids, counts, timeouts and comments refused unsent.
 * invocations/<row>, instance-info/<row>
 *                ListCommandInvocations and DescribeInstanceInformation:
 *                the requests, every page, 50 ids a call, all or nothing.
 * finished/<row> which invocation statuses are final.
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

/* ---- Run Command ---- */

#define CMD_ID "0b5bd1fa-4d3c-4f0c-9b8a-1f2e3d4c5b6a"
#define SEND_ANSWER \
	"{\"Command\":{\"CommandId\":\"" CMD_ID "\",\"DocumentName\":\"AWS-RunShellScript\"," \
	"\"DocumentVersion\":\"$DEFAULT\",\"Comment\":\"\",\"ExpiresAfter\":1.7647524E9," \
	"\"Parameters\":{\"commands\":[\"true\"]},\"InstanceIds\":[\"i-0a1a1a1a1a1a1a1a1\"]," \
	"\"Targets\":[],\"RequestedDateTime\":1.7647488E9,\"Status\":\"Pending\"," \
	"\"StatusDetails\":\"Pending\",\"TargetCount\":1,\"CompletedCount\":0,\"ErrorCount\":0," \
	"\"DeliveryTimedOutCount\":0,\"TimeoutSeconds\":60}}"

static const char *const two_ids[] = { "i-0a1a1a1a1a1a1a1a1", "i-0b2b2b2b" };
static const char *const drain_lines[] = {
	"pkill -INT -f drone-runner-docker",
	"while pgrep -f \"drone-runner\" >/dev/null; do sleep 5; done\n",
	"poweroff",
};
static const char *const one_line[] = { "true" };

struct send_case {
	const char *name;
	size_t id_count;	/* of two_ids; more than 2: generated ids */
	const char *bad_id;	/* replaces the first id */
	const char *const *lines;
	size_t line_count;
	long execution_timeout_s, delivery_timeout_s;
	const char *comment;
	long status;
	const char *answer;	/* NULL: nothing is sent */
	int err;
	const char *code;
	const char *body;	/* the exact request, or NULL */
	const char *id;		/* command id appended */
};

#define LONG_COMMENT "0123456789012345678901234567890123456789012345678901234567890123456789" \
	"012345678901234567890123456789"

static const struct send_case send_cases[] = {
	{ "drain", 2, NULL, drain_lines, 3, 900, 60, "devcloud scaler: drain", 200, SEND_ANSWER, 0,
	  NULL,
	  "{\"DocumentName\":\"AWS-RunShellScript\",\"InstanceIds\":[\"i-0a1a1a1a1a1a1a1a1\","
	  "\"i-0b2b2b2b\"],\"Parameters\":{\"commands\":[\"pkill -INT -f drone-runner-docker\","
	  "\"while pgrep -f \\\"drone-runner\\\" >/dev/null; do sleep 5; done\\n\",\"poweroff\"],"
	  "\"executionTimeout\":[\"900\"]},\"TimeoutSeconds\":60,\"Comment\":\"devcloud scaler: "
	  "drain\"}",
	  CMD_ID },
	{ "defaults-left-out", 1, NULL, one_line, 1, 0, 0, NULL, 200, SEND_ANSWER, 0, NULL,
	  "{\"DocumentName\":\"AWS-RunShellScript\",\"InstanceIds\":[\"i-0a1a1a1a1a1a1a1a1\"],"
	  "\"Parameters\":{\"commands\":[\"true\"]}}",
	  CMD_ID },
	{ "fifty-instances", 50, NULL, one_line, 1, 0, 0, NULL, 200, SEND_ANSWER, 0, NULL, NULL,
	  CMD_ID },
	{ "comment-of-100", 1, NULL, one_line, 1, 0, 0, LONG_COMMENT, 200, SEND_ANSWER, 0, NULL,
	  NULL, CMD_ID },
	{ "limits-accepted", 1, NULL, one_line, 1, 172800, 2592000, NULL, 200, SEND_ANSWER, 0,
	  NULL, NULL, CMD_ID },
	{ "unmanaged-instance", 1, NULL, one_line, 1, 0, 0, NULL, 400,
	  "{\"__type\":\"InvalidInstanceId\",\"Message\":\"Instances [[i-0a1a1a1a1a1a1a1a1]] not "
	  "in a valid state for account 123456789012\"}",
	  ERR_AWS, "InvalidInstanceId", NULL, "" },
	{ "answer-without-id", 1, NULL, one_line, 1, 0, 0, NULL, 200,
	  "{\"Command\":{\"Status\":\"Pending\"}}", ERR_PARSE, "", NULL, "" },
	{ "answer-with-empty-id", 1, NULL, one_line, 1, 0, 0, NULL, 200,
	  "{\"Command\":{\"CommandId\":\"\"}}", ERR_PARSE, "", NULL, "" },
	{ "no-instances", 0, NULL, one_line, 1, 0, 0, NULL, 0, NULL, ERR_CONFIG, "", NULL, "" },
	{ "fifty-one-instances", 51, NULL, one_line, 1, 0, 0, NULL, 0, NULL, ERR_CONFIG, "", NULL,
	  "" },
	{ "bad-id", 2, "i-0a1a1a1a1a1a1a1a1\"],\"x\":[\"", one_line, 1, 0, 0, NULL, 0, NULL,
	  ERR_CONFIG, "", NULL, "" },
	{ "managed-on-prem-id", 1, "mi-0123456789abcdef0", one_line, 1, 0, 0, NULL, 0, NULL,
	  ERR_CONFIG, "", NULL, "" },
	{ "no-lines", 1, NULL, one_line, 0, 0, 0, NULL, 0, NULL, ERR_CONFIG, "", NULL, "" },
	{ "execution-timeout-too-long", 1, NULL, one_line, 1, 172801, 0, NULL, 0, NULL, ERR_CONFIG,
	  "", NULL, "" },
	{ "execution-timeout-negative", 1, NULL, one_line, 1, -1, 0, NULL, 0, NULL, ERR_CONFIG, "",
	  NULL, "" },
	{ "delivery-timeout-too-short", 1, NULL, one_line, 1, 0, 29, NULL, 0, NULL, ERR_CONFIG, "",
	  NULL, "" },
	{ "delivery-timeout-too-long", 1, NULL, one_line, 1, 0, 2592001, NULL, 0, NULL, ERR_CONFIG,
	  "", NULL, "" },
	{ "comment-of-101", 1, NULL, one_line, 1, 0, 0, LONG_COMMENT "x", 0, NULL, ERR_CONFIG, "",
	  NULL, "" },
};

static void test_send(void **state)
{
	const struct send_case *c = *state;
	char store[51][24];
	const char *ids[51];
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf id = BUF_INIT;
	struct aws_error e;
	int err;

	for (size_t i = 0; i < 51; i++) {
		snprintf(store[i], sizeof(store[i]), "i-%017zx", i + 1);
		ids[i] = i < 2 ? two_ids[i] : store[i];
	}
	if (c->bad_id)
		ids[0] = c->bad_id;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	if (c->answer)
		fake_aws_answer(&fake, c->status, c->answer);
	struct ssm_command cmd = { ids, c->id_count, c->lines, c->line_count,
				   c->execution_timeout_s, c->delivery_timeout_s, c->comment };
	memset(&e, 0x5a, sizeof(e));
	err = ssm_send_command(aws, &cmd, &id, &e);
	assert_int_equal(err, c->err);
	assert_string_equal(buf_cstr(&id), c->id);
	if (err) {
		assert_int_equal(e.err, err);
		assert_string_equal(e.code, c->code);
		assert_true(e.message[0]);
	}
	assert_int_equal(fake.calls, c->answer ? 1 : 0);
	if (fake.calls) {
		assert_non_null(strstr(buf_cstr(&fake.heads[0]),
				       "X-Amz-Target: AmazonSSM.SendCommand\n"));
		if (c->body)
			assert_string_equal(buf_cstr(&fake.bodies[0]), c->body);
		else
			assert_true(fake_aws_body_has(&fake, 0, "\"AWS-RunShellScript\""));
	}
	buf_release(&id);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- ListCommandInvocations and DescribeInstanceInformation ---- */

#define INV(cmd, id, status) \
	"{\"CommandId\":\"" cmd "\",\"InstanceId\":\"" id "\",\"InstanceName\":\"\"," \
	"\"Comment\":\"\",\"DocumentName\":\"AWS-RunShellScript\",\"DocumentVersion\":\"$DEFAULT\"," \
	"\"RequestedDateTime\":1.7647488E9,\"Status\":\"" status "\",\"StatusDetails\":\"" status \
	"\",\"StandardOutputUrl\":\"\",\"StandardErrorUrl\":\"\",\"CommandPlugins\":[]," \
	"\"ServiceRole\":\"\",\"NotificationConfig\":{\"NotificationArn\":\"\"," \
	"\"NotificationEvents\":[],\"NotificationType\":\"\"},\"CloudWatchOutputConfig\":" \
	"{\"CloudWatchLogGroupName\":\"\",\"CloudWatchOutputEnabled\":false}}"
#define INFO(id, ping) \
	"{\"InstanceId\":\"" id "\",\"PingStatus\":\"" ping "\",\"LastPingDateTime\":1.7647488E9," \
	"\"AgentVersion\":\"3.3.987.0\",\"IsLatestVersion\":false,\"PlatformType\":\"Linux\"," \
	"\"PlatformName\":\"Amazon Linux\",\"PlatformVersion\":\"2023\",\"ResourceType\":" \
	"\"EC2Instance\",\"IPAddress\":\"10.0.0.4\",\"ComputerName\":\"ip-10-0-0-4.eu-west-1." \
	"compute.internal\"}"

enum list_kind { INVOCATIONS, INSTANCE_INFO };

struct list_case {
	const char *name;
	enum list_kind kind;
	const char *command_id;		/* INVOCATIONS */
	const char *instance_id;	/* INVOCATIONS */
	size_t id_count;		/* INSTANCE_INFO: generated ids */
	const char *bad_id;		/* INSTANCE_INFO: replaces the last id */
	const char *answers[4];
	int err;
	const char *listed;	/* "id=status;..." */
	const char *bodies[4];	/* exact requests, or NULL: not checked */
};

static const struct list_case list_cases[] = {
	{ "by-command", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"CommandInvocations\":[" INV(CMD_ID, "i-0a1a1a1a1a1a1a1a1", "InProgress") ","
	    INV(CMD_ID, "i-0b2b2b2b", "Success") "]}" },
	  0, "i-0a1a1a1a1a1a1a1a1=InProgress;i-0b2b2b2b=Success;",
	  { "{\"CommandId\":\"" CMD_ID "\",\"MaxResults\":50}" } },
	{ "by-instance-every-page", INVOCATIONS, NULL, "i-0b2b2b2b", 0, NULL,
	  { "{\"CommandInvocations\":[" INV("c1", "i-0b2b2b2b", "Failed") "],\"NextToken\":\"t/1\"}",
	    "{\"CommandInvocations\":[" INV("c2", "i-0b2b2b2b", "Pending") "]}" },
	  0, "i-0b2b2b2b=Failed;i-0b2b2b2b=Pending;",
	  { "{\"InstanceId\":\"i-0b2b2b2b\",\"MaxResults\":50}",
	    "{\"InstanceId\":\"i-0b2b2b2b\",\"MaxResults\":50,\"NextToken\":\"t/1\"}" } },
	{ "both", INVOCATIONS, CMD_ID, "i-0b2b2b2b", 0, NULL, { "{\"CommandInvocations\":[]}" }, 0,
	  "", { "{\"CommandId\":\"" CMD_ID "\",\"InstanceId\":\"i-0b2b2b2b\",\"MaxResults\":50}" } },
	{ "empty-next-token-ends", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"CommandInvocations\":[],\"NextToken\":\"\"}" }, 0, "", { NULL } },
	{ "unreadable-second-page-empties", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"CommandInvocations\":[" INV("c1", "i-0b2b2b2b", "Success") "],\"NextToken\":\"t\"}",
	    "{\"CommandInvocations\":[{\"CommandId\":\"c2\",\"InstanceId\":\"i-0b2b2b2b\"}]}" },
	  ERR_PARSE, "", { NULL } },
	{ "no-list", INVOCATIONS, CMD_ID, NULL, 0, NULL, { "{\"NextToken\":\"t\"}" }, ERR_PARSE, "",
	  { NULL } },
	{ "list-not-an-array", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"CommandInvocations\":{}}" }, ERR_PARSE, "", { NULL } },
	{ "status-not-a-string", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"CommandInvocations\":[{\"CommandId\":\"c\",\"InstanceId\":\"i-0b2b2b2b\","
	    "\"Status\":1}]}" },
	  ERR_PARSE, "", { NULL } },
	{ "invalid-command-id", INVOCATIONS, CMD_ID, NULL, 0, NULL,
	  { "{\"__type\":\"InvalidCommandId\",\"Message\":\"\"}" }, ERR_AWS, "", { NULL } },
	{ "neither-not-sent", INVOCATIONS, NULL, NULL, 0, NULL, { NULL }, ERR_CONFIG, "", { NULL } },
	{ "bad-instance-not-sent", INVOCATIONS, NULL, "i-0B2B2B2B", 0, NULL, { NULL }, ERR_CONFIG, "",
	  { NULL } },
	{ "long-command-id-not-sent", INVOCATIONS, CMD_ID "0", NULL, 0, NULL, { NULL }, ERR_CONFIG,
	  "", { NULL } },
	{ "info-two", INSTANCE_INFO, NULL, NULL, 2, NULL,
	  { "{\"InstanceInformationList\":[" INFO("i-00000000000000001", "Online") ","
	    INFO("i-00000000000000002", "ConnectionLost") "]}" },
	  0, "i-00000000000000001=Online;i-00000000000000002=ConnectionLost;",
	  { "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"i-00000000000000001\","
	    "\"i-00000000000000002\"]}],\"MaxResults\":50}" } },
	{ "info-unmanaged-absent", INSTANCE_INFO, NULL, NULL, 2, NULL,
	  { "{\"InstanceInformationList\":[]}" }, 0, "", { NULL } },
	{ "info-every-page", INSTANCE_INFO, NULL, NULL, 1, NULL,
	  { "{\"InstanceInformationList\":[],\"NextToken\":\"n\"}",
	    "{\"InstanceInformationList\":[" INFO("i-00000000000000001", "Online") "]}" },
	  0, "i-00000000000000001=Online;",
	  { NULL, "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"i-00000000000000001\"]}],"
		  "\"MaxResults\":50,\"NextToken\":\"n\"}" } },
	{ "info-fifty-one-two-calls", INSTANCE_INFO, NULL, NULL, 51, NULL,
	  { "{\"InstanceInformationList\":[" INFO("i-00000000000000032", "Online") "]}",
	    "{\"InstanceInformationList\":[" INFO("i-00000000000000033", "Online") "]}" },
	  0, "i-00000000000000032=Online;i-00000000000000033=Online;",
	  { NULL, "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"i-00000000000000033\"]}],"
		  "\"MaxResults\":50}" } },
	{ "info-second-batch-fails-empties", INSTANCE_INFO, NULL, NULL, 51, NULL,
	  { "{\"InstanceInformationList\":[" INFO("i-00000000000000032", "Online") "]}",
	    "{\"__type\":\"InvalidInstanceId\",\"Message\":\"\"}" },
	  ERR_AWS, "", { NULL } },
	{ "info-without-ping", INSTANCE_INFO, NULL, NULL, 1, NULL,
	  { "{\"InstanceInformationList\":[{\"InstanceId\":\"i-00000000000000001\"}]}" }, ERR_PARSE,
	  "", { NULL } },
	{ "info-without-list", INSTANCE_INFO, NULL, NULL, 1, NULL, { "{}" }, ERR_PARSE, "",
	  { NULL } },
	{ "info-no-ids-no-call", INSTANCE_INFO, NULL, NULL, 0, NULL, { NULL }, 0, "", { NULL } },
	{ "info-bad-id-not-sent", INSTANCE_INFO, NULL, NULL, 3, "i-1", { NULL }, ERR_CONFIG, "",
	  { NULL } },
};

static void test_list(void **state)
{
	const struct list_case *c = *state;
	char store[51][24];
	const char *ids[51];
	size_t answers = 0;
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf listed = BUF_INIT;
	struct aws_error e;
	int err;

	for (size_t i = 0; i < 51; i++) {
		snprintf(store[i], sizeof(store[i]), "i-%017zx", i + 1);
		ids[i] = store[i];
	}
	if (c->bad_id)
		ids[c->id_count - 1] = c->bad_id;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	for (; answers < 4 && c->answers[answers]; answers++)
		fake_aws_answer(&fake, c->answers[answers][2] == '_' ? 400 : 200,
				c->answers[answers]);
	memset(&e, 0x5a, sizeof(e));
	if (c->kind == INVOCATIONS) {
		struct ssm_invocation_list list = SSM_INVOCATION_LIST_INIT;

		err = ssm_list_command_invocations(aws, c->command_id, c->instance_id, &list, &e);
		for (size_t i = 0; i < list.count; i++)
			buf_appendf(&listed, "%s=%s;", list.items[i].instance_id,
				    list.items[i].status);
		if (list.count)
			assert_string_equal(list.items[0].status_details, list.items[0].status);
		if (err)
			assert_null(list.items);
		ssm_invocation_list_release(&list);
	} else {
		struct ssm_instance_info_list list = SSM_INSTANCE_INFO_LIST_INIT;

		err = ssm_describe_instance_information(aws, ids, c->id_count, &list, &e);
		for (size_t i = 0; i < list.count; i++) {
			buf_appendf(&listed, "%s=%s;", list.items[i].instance_id,
				    list.items[i].ping_status);
			assert_ptr_equal(ssm_instance_info_find(&list, list.items[i].instance_id),
					 &list.items[i]);
		}
		assert_null(ssm_instance_info_find(&list, "i-0fffffff"));
		if (err)
			assert_null(list.items);
		ssm_instance_info_list_release(&list);
	}
	assert_int_equal(err, c->err);
	if (err)
		assert_int_equal(e.err, err);
	assert_string_equal(buf_cstr(&listed), c->listed);
	assert_int_equal(fake.calls, answers);
	for (size_t i = 0; i < fake.calls && i < 4; i++) {
		assert_non_null(strstr(buf_cstr(&fake.heads[i]),
				       c->kind == INVOCATIONS
					       ? "X-Amz-Target: AmazonSSM.ListCommandInvocations\n"
					       : "X-Amz-Target: AmazonSSM.DescribeInstanceInformation\n"));
		if (c->bodies[i])
			assert_string_equal(buf_cstr(&fake.bodies[i]), c->bodies[i]);
	}
	buf_release(&listed);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

struct finished_case {
	const char *name;
	const char *status;
	bool finished;
};

static const struct finished_case finished_cases[] = {
	{ "pending", "Pending", false },       { "in-progress", "InProgress", false },
	{ "delayed", "Delayed", false },       { "cancelling", "Cancelling", false },
	{ "success", "Success", true },        { "failed", "Failed", true },
	{ "timed-out", "TimedOut", true },     { "cancelled", "Cancelled", true },
	{ "lower-case", "success", false },    { "null", NULL, false },
};

static void test_finished(void **state)
{
	const struct finished_case *c = *state;

	assert_int_equal(ssm_invocation_finished(c->status), c->finished);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(request_cases); i++)
		table_add("request", request_cases[i].name, test_request, &request_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(answer_cases); i++)
		table_add("answers", answer_cases[i].name, test_answer, &answer_cases[i]);
	table_add("logs", "retried", test_retry_logs, NULL);
	table_add("wipe", "tree", test_tree_wiped, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(send_cases); i++)
		table_add("send", send_cases[i].name, test_send, (void *)&send_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(list_cases); i++)
		table_add(list_cases[i].kind == INVOCATIONS ? "invocations" : "instance-info",
			  list_cases[i].name, test_list, (void *)&list_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(finished_cases); i++)
		table_add("finished", finished_cases[i].name, test_finished,
			  (void *)&finished_cases[i]);
	return table_run("ssm");
}
