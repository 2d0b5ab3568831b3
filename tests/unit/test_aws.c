/* The AWS client's request loop, with a scripted transport, clock and randomness. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aws.h"
#include "fake_aws.h"
#include "helpers.h"
#include "banned.h"

#define EC2_OK "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	       "<requestId>r</requestId><reservationSet/></DescribeInstancesResponse>"
#define EC2_ERR(code, msg) "<?xml version=\"1.0\"?><Response><Errors><Error><Code>" code \
	"</Code><Message>" msg "</Message></Error></Errors><RequestID>x</RequestID></Response>"
#define QUERY_ERR(code, msg) "<ErrorResponse><Error><Type>Sender</Type><Code>" code \
	"</Code><Message>" msg "</Message></Error><RequestId>x</RequestId></ErrorResponse>"

struct fixture {
	struct fake_aws fake;
	struct aws_client *aws;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	fake_aws_init(&fx->fake);
	fx->aws = fake_aws_client(&fx->fake, 3);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	aws_client_free(fx->aws);
	fake_aws_release(&fx->fake);
	free(fx);
	return 0;
}

static int describe(struct fixture *fx, struct aws_error *e)
{
	struct xml_node *root = NULL;
	int err = aws_query(fx->aws, &aws_service_ec2, "DescribeInstances", NULL, &root, e);
	xml_free(root);
	return err;
}

static void test_request_shape(void **state)
{
	struct fixture *fx = *state;
	struct aws_params p = AWS_PARAMS_INIT;
	struct xml_node *root = NULL;
	struct aws_error e;
	const char *h;

	aws_params_add(&p, "Filter.1.Name", "tag:devcloud:role");
	aws_params_add(&p, "Filter.1.Value.1", "dev box&co");
	fake_aws_answer(&fx->fake, 200, EC2_OK);
	assert_int_equal(aws_query(fx->aws, &aws_service_ec2, "DescribeInstances", &p, &root, &e), 0);
	assert_non_null(root);
	assert_string_equal(root->name, "DescribeInstancesResponse");
	assert_string_equal(fx->fake.urls[0], "https://ec2.eu-west-1.amazonaws.com");
	assert_string_equal(buf_cstr(&fx->fake.bodies[0]),
			    "Action=DescribeInstances&Version=2016-11-15"
			    "&Filter.1.Name=tag%3Adevcloud%3Arole&Filter.1.Value.1=dev%20box%26co");
	h = buf_cstr(&fx->fake.heads[0]);
	assert_non_null(strstr(h, "Host: ec2.eu-west-1.amazonaws.com\n"));
	assert_non_null(strstr(h, "X-Amz-Date: 20251203T080000Z\n"));
	assert_non_null(strstr(h, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20251203/"
				  "eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;"
				  "x-amz-date, Signature="));
	assert_null(strstr(h, "secret-test-key"));
	xml_free(root);
	aws_params_release(&p);
}

static void test_endpoints(void **state)
{
	(void)state;
	struct aws_credentials creds = { (char *)"AKID", (char *)"s", NULL };
	struct aws_client_options o = { .credentials = &creds, .region = "eu-west-1" };
	struct buf url = BUF_INIT;
	struct aws_client *c;

	c = aws_client_new(&o);
	aws_client_endpoint(c, &aws_service_autoscaling, &url);
	assert_string_equal(buf_cstr(&url), "https://autoscaling.eu-west-1.amazonaws.com");
	buf_reset(&url);
	aws_client_endpoint(c, &aws_service_ssm, &url);
	assert_string_equal(buf_cstr(&url), "https://ssm.eu-west-1.amazonaws.com");
	aws_client_free(c);

	o.region = "cn-north-1";
	c = aws_client_new(&o);
	buf_reset(&url);
	aws_client_endpoint(c, &aws_service_ec2, &url);
	assert_string_equal(buf_cstr(&url), "https://ec2.cn-north-1.amazonaws.com.cn");
	aws_client_free(c);

	/* every partition of botocore's endpoints.json that the default builds */
	static const struct {
		const char *region, *ec2, *autoscaling, *ssm;
	} partitions[] = {
		{ "us-east-1", "https://ec2.us-east-1.amazonaws.com",
		  "https://autoscaling.us-east-1.amazonaws.com", "https://ssm.us-east-1.amazonaws.com" },
		{ "il-central-1", "https://ec2.il-central-1.amazonaws.com", NULL, NULL },
		{ "cn-northwest-1", "https://ec2.cn-northwest-1.amazonaws.com.cn",
		  "https://autoscaling.cn-northwest-1.amazonaws.com.cn",
		  "https://ssm.cn-northwest-1.amazonaws.com.cn" },
		{ "us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com",
		  "https://autoscaling.us-gov-west-1.amazonaws.com",
		  "https://ssm.us-gov-west-1.amazonaws.com" },
		{ "us-iso-east-1", "https://ec2.us-iso-east-1.c2s.ic.gov",
		  "https://autoscaling.us-iso-east-1.c2s.ic.gov", "https://ssm.us-iso-east-1.c2s.ic.gov" },
		{ "us-isob-east-1", "https://ec2.us-isob-east-1.sc2s.sgov.gov",
		  "https://autoscaling.us-isob-east-1.sc2s.sgov.gov",
		  "https://ssm.us-isob-east-1.sc2s.sgov.gov" },
	};
	for (size_t i = 0; i < sizeof(partitions) / sizeof(partitions[0]); i++) {
		const char *want[3] = { partitions[i].ec2, partitions[i].autoscaling,
					partitions[i].ssm };
		const struct aws_service *svc[3] = { &aws_service_ec2, &aws_service_autoscaling,
						     &aws_service_ssm };

		o.region = partitions[i].region;
		c = aws_client_new(&o);
		for (size_t j = 0; j < 3; j++) {
			if (!want[j])
				continue;
			buf_reset(&url);
			aws_client_endpoint(c, svc[j], &url);
			assert_string_equal(buf_cstr(&url), want[j]);
		}
		aws_client_free(c);
	}
	assert_null(aws_region_dns_suffix("us-isof-south-1"));
	assert_null(aws_region_dns_suffix("eu-isoe-west-1"));
	assert_null(aws_region_dns_suffix("eusc-de-east-1"));
	assert_string_equal(aws_region_dns_suffix("us-west-2"), "amazonaws.com");

	o.region = "eu-west-1";
	o.endpoint_url = "http://127.0.0.1:4566";
	o.endpoint_url_ssm = "http://127.0.0.1:9999/";
	c = aws_client_new(&o);
	buf_reset(&url);
	aws_client_endpoint(c, &aws_service_ec2, &url);
	assert_string_equal(buf_cstr(&url), "http://127.0.0.1:4566");
	buf_reset(&url);
	aws_client_endpoint(c, &aws_service_ssm, &url);
	assert_string_equal(buf_cstr(&url), "http://127.0.0.1:9999/");
	aws_client_free(c);
	buf_release(&url);
}

static void test_retries_throttling_with_full_jitter(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	fake_aws_answer(&fx->fake, 503, EC2_ERR("RequestLimitExceeded", "Request limit exceeded."));
	fake_aws_answer(&fx->fake, 503, EC2_ERR("RequestLimitExceeded", "Request limit exceeded."));
	fake_aws_answer(&fx->fake, 200, EC2_OK);
	fx->fake.random_value = 0.25;
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(fx->fake.calls, 3);
	assert_int_equal(fx->fake.sleeps, 2);
	assert_int_equal(fx->fake.slept_ms[0], 250);	/* 0.25 * 1 s */
	assert_int_equal(fx->fake.slept_ms[1], 500);	/* 0.25 * 2 s */
}

static void test_throttled_until_attempts_run_out(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	for (int i = 0; i < 4; i++)
		fake_aws_answer(&fx->fake, 503, EC2_ERR("RequestLimitExceeded", "slow down"));
	assert_int_equal(describe(fx, &e), ERR_THROTTLED);
	assert_int_equal(fx->fake.calls, 3);
	assert_string_equal(e.code, "RequestLimitExceeded");
	assert_string_equal(e.message, "slow down");
	assert_int_equal(e.http_status, 503);
}

/* ---- the retry quota (standard retry mode's token bucket) ---- */

/* Answers every request by a countdown: `throttled` 503s, then 200s. */
struct quota_script {
	int throttled;
	int resets;			/* transport errors before the answers */
};

static int quota_respond(struct fake_aws *f, const struct http_request *req,
			 struct http_response *resp)
{
	struct quota_script *q = f->user;

	(void)req;
	if (q->resets > 0) {
		q->resets--;
		return ERR_HTTP;
	}
	if (q->throttled > 0) {
		q->throttled--;
		resp->status = 503;
		buf_appends(&resp->body, EC2_ERR("RequestLimitExceeded", "Request limit exceeded."));
		return 0;
	}
	resp->status = 200;
	buf_appends(&resp->body, EC2_OK);
	return 0;
}

static void test_retry_quota_costs_and_refunds(void **state)
{
	struct fixture *fx = *state;
	struct quota_script q = { 0, 0 };
	struct aws_error e;
	size_t calls;

	fx->fake.respond = quota_respond;
	fx->fake.user = &q;
	assert_int_equal(aws_client_retry_quota(fx->aws), 500);
	/* a first-attempt success adds 1, never above 500 */
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(aws_client_retry_quota(fx->aws), 500);
	/* a call that fails after 2 retries pays 5 for each */
	q.throttled = 3;
	assert_int_equal(describe(fx, &e), ERR_THROTTLED);
	assert_int_equal(aws_client_retry_quota(fx->aws), 490);
	/* a first-attempt success adds 1 */
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(aws_client_retry_quota(fx->aws), 491);
	/* a retry after a connection error costs 10; the call fails */
	q.resets = 3;
	assert_int_equal(describe(fx, &e), ERR_HTTP);
	assert_int_equal(aws_client_retry_quota(fx->aws), 471);
	/* a success after retrying gives back its last retry's cost */
	q.throttled = 1;
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(aws_client_retry_quota(fx->aws), 471);
	q.resets = 1;
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(aws_client_retry_quota(fx->aws), 471);
	/* a reset, then throttled, then success: 10 + 5 paid, the last (5) back */
	q.throttled = 1;
	q.resets = 1;
	calls = fx->fake.calls;
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(fx->fake.calls, calls + 3);
	assert_int_equal(aws_client_retry_quota(fx->aws), 461);
	/* an error that is never retried costs nothing */
	fx->fake.respond = NULL;
	fx->fake.answer_count = fx->fake.calls;
	fake_aws_answer(&fx->fake, 403, EC2_ERR("UnauthorizedOperation", "no"));
	assert_int_equal(describe(fx, &e), ERR_AWS);
	assert_int_equal(aws_client_retry_quota(fx->aws), 461);
}

static void test_retry_quota_spent_fails_without_retrying(void **state)
{
	struct fixture *fx = *state;
	struct quota_script q = { 1000000, 0 };
	struct buf log = BUF_INIT;
	struct aws_error e;
	size_t calls, warned = 0;
	int n = 0;

	fx->fake.respond = quota_respond;
	fx->fake.user = &q;
	/* 3 attempts a call: 2 retries, 10 tokens; 500 tokens pay for 50 calls */
	while (aws_client_retry_quota(fx->aws) >= 5) {
		assert_int_equal(describe(fx, &e), ERR_THROTTLED);
		n++;
	}
	assert_int_equal(n, 50);
	assert_int_equal(aws_client_retry_quota(fx->aws), 0);
	assert_int_equal(fx->fake.calls, 150);

	/* now each throttled call is one attempt, logged once */
	capture_stderr_begin();
	calls = fx->fake.calls;
	assert_int_equal(describe(fx, &e), ERR_THROTTLED);
	assert_int_equal(describe(fx, &e), ERR_THROTTLED);
	capture_stderr_end(&log);
	assert_int_equal(fx->fake.calls, calls + 2);
	assert_string_equal(e.code, "RequestLimitExceeded");
	assert_non_null(strstr(e.message, "retry quota"));
	for (const char *p = strstr(buf_cstr(&log), "retry quota spent"); p;
	     p = strstr(p + 1, "retry quota spent"))
		warned++;
	assert_int_equal(warned, 1);
	assert_null(strstr(buf_cstr(&log), "retrying DescribeInstances"));

	/* five first-attempt successes refill enough for one retry */
	q.throttled = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(aws_client_retry_quota(fx->aws), 5);
	q.throttled = 1;
	calls = fx->fake.calls;
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(fx->fake.calls, calls + 2);
	assert_int_equal(aws_client_retry_quota(fx->aws), 5);
	buf_release(&log);
}

/* which answers are retried: status, body, transport error -> calls made */
static void test_retry_table(void **state)
{
	static const struct {
		long status;
		const char *body;
		int transport_err;
		int want_err;
		size_t want_calls;
		const char *want_code;
	} rows[] = {
		{ 400, EC2_ERR("InvalidParameterValue", "bad"), 0, ERR_AWS, 1, "InvalidParameterValue" },
		{ 403, EC2_ERR("UnauthorizedOperation", "no"), 0, ERR_AWS, 1, "UnauthorizedOperation" },
		{ 401, EC2_ERR("AuthFailure", "sig"), 0, ERR_AWS, 1, "AuthFailure" },
		{ 412, EC2_ERR("DryRunOperation", "ok"), 0, ERR_AWS, 1, "DryRunOperation" },
		{ 500, EC2_ERR("InternalError", "oops"), 0, ERR_AWS, 3, "InternalError" },
		{ 502, "<html>bad gateway</html", 0, ERR_AWS, 3, "" },
		{ 503, EC2_ERR("Unavailable", "x"), 0, ERR_AWS, 3, "Unavailable" },
		{ 429, "", 0, ERR_THROTTLED, 3, "" },
		{ 400, QUERY_ERR("Throttling", "Rate exceeded"), 0, ERR_THROTTLED, 3, "Throttling" },
		{ 400, EC2_ERR("RequestThrottled", "x"), 0, ERR_THROTTLED, 3, "RequestThrottled" },
		{ 400, QUERY_ERR("ValidationError", "x"), 0, ERR_AWS, 1, "ValidationError" },
		{ 200, "<DescribeInstancesResponse><reservationSet>", 0, ERR_PARSE, 3, "" },
		{ 200, "", 0, ERR_PARSE, 3, "" },
		{ 0, NULL, ERR_HTTP, ERR_HTTP, 3, "" },
		{ 0, NULL, ERR_TLS, ERR_TLS, 1, "" },
		{ 0, NULL, ERR_CONFIG, ERR_CONFIG, 1, "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fixture fx;
		struct aws_error e;

		fake_aws_init(&fx.fake);
		fx.aws = fake_aws_client(&fx.fake, 3);
		for (int k = 0; k < 3; k++) {
			if (rows[i].transport_err)
				fake_aws_fail(&fx.fake, rows[i].transport_err);
			else
				fake_aws_answer(&fx.fake, rows[i].status, rows[i].body);
		}
		int err = describe(&fx, &e);
		if (err != rows[i].want_err || fx.fake.calls != rows[i].want_calls ||
		    strcmp(e.code, rows[i].want_code))
			fail_msg("row %zu: err %d calls %zu code '%s'", i, err, fx.fake.calls, e.code);
		assert_int_equal(e.err, rows[i].want_err);
		aws_client_free(fx.aws);
		fake_aws_release(&fx.fake);
	}
}

static void test_retry_then_success_after_transport_error(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	fake_aws_fail(&fx->fake, ERR_HTTP);
	fake_aws_answer(&fx->fake, 200, EC2_OK);
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(fx->fake.calls, 2);
	assert_int_equal(e.err, 0);
}

static void test_deadline_bounds_each_attempt(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	aws_client_set_deadline(fx->aws, fx->fake.now_ms + 10000);
	fake_aws_answer(&fx->fake, 200, EC2_OK);
	assert_int_equal(describe(fx, &e), 0);
	assert_int_equal(fx->fake.timeouts[0], 8500);	/* 10 s minus the 1.5 s margin */
	assert_int_equal(aws_client_time_left_ms(fx->aws), 8500);
}

static void test_no_call_without_time(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	aws_client_set_deadline(fx->aws, fx->fake.now_ms + 1000);
	fake_aws_answer(&fx->fake, 200, EC2_OK);
	assert_int_equal(describe(fx, &e), ERR_TIMEOUT);
	assert_int_equal(fx->fake.calls, 0);
	assert_non_null(strstr(e.message, "DescribeInstances"));
}

static void test_no_retry_past_deadline(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	/* 2.5 s left after the margin; the second backoff (up to 2 s) would not fit */
	fx->fake.random_value = 0.99;
	aws_client_set_deadline(fx->aws, fx->fake.now_ms + 4000);
	for (int i = 0; i < 3; i++)
		fake_aws_answer(&fx->fake, 500, EC2_ERR("InternalError", "x"));
	assert_int_equal(describe(fx, &e), ERR_AWS);
	assert_int_equal(fx->fake.calls, 2);
	assert_int_equal(fx->fake.sleeps, 1);
	assert_non_null(strstr(e.message, "no time left to retry"));
}

static void test_backoff_is_capped(void **state)
{
	(void)state;
	struct fake_aws f;
	struct aws_client *c;
	struct aws_error e;
	struct xml_node *root = NULL;

	fake_aws_init(&f);
	f.random_value = 0.999;
	c = fake_aws_client(&f, 8);
	for (int i = 0; i < 8; i++)
		fake_aws_answer(&f, 503, EC2_ERR("RequestLimitExceeded", "x"));
	assert_int_equal(aws_query(c, &aws_service_ec2, "DescribeInstances", NULL, &root, &e),
			 ERR_THROTTLED);
	assert_int_equal(f.calls, 8);
	assert_int_equal(f.slept_ms[0], 999);
	assert_int_equal(f.slept_ms[3], 7992);
	assert_int_equal(f.slept_ms[5], 19980);	/* min(32 s, 20 s) * 0.999 */
	assert_int_equal(f.slept_ms[6], 19980);
	aws_client_free(c);
	fake_aws_release(&f);
}

static int count_page(void *ctx, const struct xml_node *root)
{
	(void)root;
	(*(int *)ctx)++;
	return 0;
}

static void test_ec2_pagination(void **state)
{
	struct fixture *fx = *state;
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_error e;
	int pages = 0;

	aws_params_add(&p, "MaxResults", "5");
	fake_aws_answer(&fx->fake, 200, "<R><reservationSet/><nextToken>tok+1/=</nextToken></R>");
	fake_aws_answer(&fx->fake, 200, "<R><reservationSet/><nextToken>tok2</nextToken></R>");
	fake_aws_answer(&fx->fake, 200, "<R><reservationSet/></R>");
	assert_int_equal(aws_query_all(fx->aws, &aws_service_ec2, "DescribeInstances", &p,
				       count_page, &pages, &e), 0);
	assert_int_equal(pages, 3);
	assert_false(fake_aws_body_has(&fx->fake, 0, "NextToken"));
	assert_true(fake_aws_body_has(&fx->fake, 1, "&MaxResults=5&NextToken=tok%2B1%2F%3D"));
	assert_true(fake_aws_body_has(&fx->fake, 2, "&NextToken=tok2"));
	aws_params_release(&p);
}

static void test_query_pagination_and_failed_page(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;
	int pages = 0;

	fake_aws_answer(&fx->fake, 200, "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
				 "<AutoScalingGroups/><NextToken>n1</NextToken>"
				 "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>");
	fake_aws_answer(&fx->fake, 400, QUERY_ERR("InvalidNextToken", "expired"));
	assert_int_equal(aws_query_all(fx->aws, &aws_service_autoscaling, "DescribeAutoScalingGroups",
				       NULL, count_page, &pages, &e), ERR_AWS);
	assert_int_equal(pages, 1);
	assert_string_equal(e.code, "InvalidNextToken");
	assert_true(fake_aws_body_has(&fx->fake, 1, "Version=2011-01-01&NextToken=n1"));
}

static void test_repeated_token_is_an_error(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;
	int pages = 0;

	fake_aws_answer(&fx->fake, 200, "<R><nextToken>same</nextToken></R>");
	fake_aws_answer(&fx->fake, 200, "<R><nextToken>same</nextToken></R>");
	fake_aws_answer(&fx->fake, 200, "<R/>");
	assert_int_equal(aws_query_all(fx->aws, &aws_service_ec2, "DescribeInstances", NULL,
				       count_page, &pages, &e), ERR_PARSE);
	assert_int_equal(fx->fake.calls, 2);
}

static int refuse_page(void *ctx, const struct xml_node *root)
{
	(void)ctx;
	(void)root;
	return ERR_PARSE;
}

static void test_page_reader_failure_stops(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;

	fake_aws_answer(&fx->fake, 200, "<R><nextToken>a</nextToken></R>");
	fake_aws_answer(&fx->fake, 200, "<R/>");
	assert_int_equal(aws_query_all(fx->aws, &aws_service_ec2, "DescribeInstances", NULL,
				       refuse_page, NULL, &e), ERR_PARSE);
	assert_int_equal(fx->fake.calls, 1);
}

static void test_json_protocol(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	const char *h;

	cJSON_AddStringToObject(req, "Name", "/devcloud/slack");
	cJSON_AddTrueToObject(req, "WithDecryption");
	fake_aws_answer(&fx->fake, 200, "{\"Parameter\":{\"Value\":\"v\"}}");
	assert_int_equal(aws_json(fx->aws, &aws_service_ssm, "GetParameter", req, &resp, &e), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "Parameter"), "Value")->valuestring,
			    "v");
	h = buf_cstr(&fx->fake.heads[0]);
	assert_non_null(strstr(h, "X-Amz-Target: AmazonSSM.GetParameter\n"));
	assert_non_null(strstr(h, "Content-Type: application/x-amz-json-1.1\n"));
	assert_non_null(strstr(h, "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
	assert_string_equal(buf_cstr(&fx->fake.bodies[0]),
			    "{\"Name\":\"/devcloud/slack\",\"WithDecryption\":true}");
	cJSON_Delete(resp);
	cJSON_Delete(req);
}

static void test_json_errors(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;
	cJSON *resp = NULL;

	fx->fake.answers[0] = (struct fake_answer){ 0, 400,
		"{\"__type\":\"com.amazonaws.ssm#ParameterNotFound\",\"message\":\"no such\"}", NULL };
	fx->fake.answers[1] = (struct fake_answer){ 0, 400, "{}",
		"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException:http://x/\r\n" };
	fx->fake.answers[2] = (struct fake_answer){ 0, 400, "{\"__type\":\"ThrottlingException\"}", NULL };
	fx->fake.answers[3] = (struct fake_answer){ 0, 200, "{\"ok\":true}", NULL };
	fx->fake.answer_count = 4;
	assert_int_equal(aws_json(fx->aws, &aws_service_ssm, "GetParameter", NULL, &resp, &e), ERR_AWS);
	assert_string_equal(e.code, "ParameterNotFound");
	assert_string_equal(e.message, "no such");
	assert_int_equal(fx->fake.calls, 1);
	assert_int_equal(aws_json(fx->aws, &aws_service_ssm, "GetParameter", NULL, &resp, &e), 0);
	assert_int_equal(fx->fake.calls, 4);
	cJSON_Delete(resp);
}

static int count_json_page(void *ctx, const cJSON *page)
{
	(void)page;
	(*(int *)ctx)++;
	return 0;
}

static void test_json_pagination(void **state)
{
	struct fixture *fx = *state;
	struct aws_error e;
	int pages = 0;

	fake_aws_answer(&fx->fake, 200, "{\"Items\":[],\"NextToken\":\"t1\"}");
	fake_aws_answer(&fx->fake, 200, "{\"Items\":[]}");
	assert_int_equal(aws_json_all(fx->aws, &aws_service_ssm, "DescribeInstanceInformation", NULL,
				      count_json_page, &pages, &e), 0);
	assert_int_equal(pages, 2);
	assert_string_equal(buf_cstr(&fx->fake.bodies[1]), "{\"NextToken\":\"t1\"}");
}


static void test_session_token_is_signed(void **state)
{
	(void)state;
	struct fake_aws f;
	struct aws_credentials creds = { (char *)"ASIA", (char *)"s", (char *)"tok/en==" };
	struct aws_client *c;
	struct aws_error e;
	struct xml_node *root = NULL;

	fake_aws_init(&f);
	c = fake_aws_client_with(&f, &creds, 1);
	fake_aws_answer(&f, 200, EC2_OK);
	assert_int_equal(aws_query(c, &aws_service_ec2, "DescribeInstances", NULL, &root, &e), 0);
	assert_non_null(strstr(buf_cstr(&f.heads[0]), "X-Amz-Security-Token: tok/en==\n"));
	assert_non_null(strstr(buf_cstr(&f.heads[0]),
			       "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"));
	xml_free(root);
	aws_client_free(c);
	fake_aws_release(&f);
}

static void test_from_env(void **state)
{
	static const struct {
		const char *key, *secret, *region, *default_region, *attempts, *endpoint;
		int want;
		const char *want_msg;
	} rows[] = {
		{ "AK", "SK", "eu-west-1", NULL, NULL, NULL, 0, "" },
		{ "AK", "SK", NULL, "us-east-2", "5", "http://127.0.0.1:1", 0, "" },
		{ NULL, "SK", "eu-west-1", NULL, NULL, NULL, ERR_CONFIG, "AWS_ACCESS_KEY_ID" },
		{ "AK", NULL, "eu-west-1", NULL, NULL, NULL, ERR_CONFIG, "AWS_SECRET_ACCESS_KEY" },
		{ "AK", "SK", NULL, NULL, NULL, NULL, ERR_CONFIG, "AWS_REGION" },
		{ "AK", "SK", "Eu West", NULL, NULL, NULL, ERR_CONFIG, "AWS_REGION" },
		{ "AK", "SK", "eu-west-1", NULL, "0", NULL, ERR_CONFIG, "AWS_MAX_ATTEMPTS" },
		{ "AK", "SK", "eu-west-1", NULL, "3x", NULL, ERR_CONFIG, "AWS_MAX_ATTEMPTS" },
		{ "AK", "SK", "eu-west-1", NULL, NULL, "ftp://x", ERR_CONFIG, "AWS_ENDPOINT_URL" },
		{ "AK", "SK", "cn-north-1", NULL, NULL, NULL, 0, "" },
		{ "AK", "SK", "us-gov-west-1", NULL, NULL, NULL, 0, "" },
		{ "AK", "SK", "us-isob-east-1", NULL, NULL, NULL, 0, "" },
		/* a partition whose endpoints are not built in needs the override */
		{ "AK", "SK", "us-isof-south-1", NULL, NULL, NULL, ERR_CONFIG,
		  "the endpoints of AWS_REGION 'us-isof-south-1' are not built in; set "
		  "AWS_ENDPOINT_URL" },
		{ "AK", "SK", "eu-isoe-west-1", NULL, NULL, NULL, ERR_CONFIG, "AWS_ENDPOINT_URL" },
		{ "AK", "SK", "eu-isoe-west-1", NULL, NULL, "https://vpce.example", 0, "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct aws_client *c = NULL;
		struct buf msg = BUF_INIT;
#define SETENV(n, v) ((v) ? setenv(n, v, 1) : unsetenv(n))
		SETENV("AWS_ACCESS_KEY_ID", rows[i].key);
		SETENV("AWS_SECRET_ACCESS_KEY", rows[i].secret);
		SETENV("AWS_REGION", rows[i].region);
		SETENV("AWS_DEFAULT_REGION", rows[i].default_region);
		SETENV("AWS_MAX_ATTEMPTS", rows[i].attempts);
		SETENV("AWS_ENDPOINT_URL", rows[i].endpoint);
		int err = aws_client_from_env(&c, &msg);
		if (err != rows[i].want || !strstr(buf_cstr(&msg), rows[i].want_msg))
			fail_msg("row %zu: err %d msg '%s'", i, err, buf_cstr(&msg));
		assert_true(rows[i].want ? c == NULL : c != NULL);
		assert_null(strstr(buf_cstr(&msg), "SK"));
		aws_client_free(c);
		buf_release(&msg);
	}

	/* there, the per-service endpoints must name every service */
	{
		static const char *const vars[] = { "AWS_ENDPOINT_URL_EC2",
						    "AWS_ENDPOINT_URL_AUTO_SCALING",
						    "AWS_ENDPOINT_URL_SSM" };
		struct aws_client *c = NULL;
		struct buf msg = BUF_INIT;

		setenv("AWS_REGION", "us-isof-south-1", 1);
		unsetenv("AWS_ENDPOINT_URL");
		for (size_t i = 0; i < 3; i++) {
			setenv(vars[i], "https://vpce.example", 1);
			assert_int_equal(aws_client_from_env(&c, &msg), i < 2 ? ERR_CONFIG : 0);
			assert_true(i < 2 ? c == NULL : c != NULL);
			aws_client_free(c);
			c = NULL;
			buf_reset(&msg);
		}
		for (size_t i = 0; i < 3; i++)
			unsetenv(vars[i]);
		buf_release(&msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_shape, setup, teardown),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test_setup_teardown(test_retries_throttling_with_full_jitter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttled_until_attempts_run_out, setup, teardown),
		cmocka_unit_test(test_retry_table),
		cmocka_unit_test_setup_teardown(test_retry_quota_costs_and_refunds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_quota_spent_fails_without_retrying, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_success_after_transport_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_bounds_each_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_call_without_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_retry_past_deadline, setup, teardown),
		cmocka_unit_test(test_backoff_is_capped),
		cmocka_unit_test_setup_teardown(test_ec2_pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_pagination_and_failed_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_token_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_reader_failure_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_pagination, setup, teardown),
		cmocka_unit_test(test_session_token_is_signed),
		cmocka_unit_test(test_from_env),
	};
	return cmocka_run_group_tests_name("aws", tests, NULL, NULL);
}
