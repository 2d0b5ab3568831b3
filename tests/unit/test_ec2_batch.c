/*
 * test_ec2_batch.c - stopping and terminating in batches (common/ec2_batch.h)
 * on the scripted EC2: a refusal naming an instance splits its batch, any
 * other fault fails the batch once, a run-wide fault ends the run.
 *
 * classify/<code>  which errors split a batch and which end the run
 * batch/<case>     one run of ec2_batch_run(): calls, outcomes, what changed
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ec2_batch.h"
#include "fake_ec2.h"
#include "helpers.h"
#include "table.h"
#include "banned.h"

/* ---- classification ---- */

struct classify_case {
	const char *name;
	int err;
	const char *code;
	bool names_instance;
	bool ends_run;
};

static const struct classify_case classify_cases[] = {
	{ "incorrect-instance-state", ERR_AWS, "IncorrectInstanceState", true, false },
	{ "incorrect-state", ERR_AWS, "IncorrectState", true, false },
	{ "not-found", ERR_AWS, "InvalidInstanceID.NotFound", true, false },
	{ "malformed", ERR_AWS, "InvalidInstanceID.Malformed", true, false },
	{ "invalid-id", ERR_AWS, "InvalidInstanceID", true, false },
	{ "unsupported", ERR_AWS, "UnsupportedOperation", true, false },
	{ "protected", ERR_AWS, "OperationNotPermitted", true, false },
	{ "no-hibernation", ERR_AWS, "UnsupportedHibernationConfiguration", true, false },
	{ "throttled", ERR_THROTTLED, "RequestLimitExceeded", false, false },
	{ "internal", ERR_AWS, "InternalError", false, false },
	{ "unavailable", ERR_AWS, "Unavailable", false, false },
	{ "network", ERR_HTTP, "", false, false },
	{ "timeout", ERR_TIMEOUT, "", false, false },
	{ "unauthorized", ERR_AWS, "UnauthorizedOperation", false, false },
	{ "auth-failure", ERR_AWS, "AuthFailure", false, true },
	{ "request-expired", ERR_AWS, "RequestExpired", false, true },
	{ "expired-token", ERR_AWS, "ExpiredToken", false, true },
	{ "unknown", ERR_AWS, "SomethingNew", false, false },
	{ "prefix-only", ERR_AWS, "InvalidInstanceIDs", false, false },
	{ "parameter", ERR_AWS, "InvalidParameterValue", false, false },
};

static void test_classify(void **state)
{
	const struct classify_case *c = *state;
	struct fake_aws fake;
	struct aws_client *aws;
	struct aws_error e = { 0 };

	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	e.err = c->err;
	snprintf(e.code, sizeof(e.code), "%s", c->code);
	assert_int_equal(ec2_batch_error_names_instance(&e), c->names_instance);
	assert_int_equal(ec2_batch_error_ends_run(aws, &e), c->ends_run);
	/* past the deadline, whatever the error, the run is over */
	aws_client_set_deadline(aws, fake.now_ms - 1);
	assert_true(ec2_batch_error_ends_run(aws, &e));
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- runs ---- */

struct rig {
	struct fake_aws fake;
	struct fake_ec2 ec2;
	struct aws_client *aws;
	char **ids;
	size_t n;
	/* per index: 0 untouched, 1 done, 2 done hibernated, 3 failed */
	int outcome[200];
	int reported[200];		/* outcomes reported per index (exactly 1 each) */
	struct buf errors[200];
};

static void on_done(void *ctx, size_t i, bool hibernated)
{
	struct rig *r = ctx;

	assert_true(i < r->n);
	r->outcome[i] = hibernated ? 2 : 1;
	r->reported[i]++;
}

static void on_failed(void *ctx, size_t i, const struct aws_error *e)
{
	struct rig *r = ctx;

	assert_true(i < r->n);
	r->outcome[i] = 3;
	r->reported[i]++;
	aws_error_describe(e, &r->errors[i]);
}

static void rig_start(struct rig *r, size_t n, int max_attempts)
{
	memset(r, 0, sizeof(*r));
	assert_true(n <= 200);
	fake_aws_init(&r->fake);
	fake_ec2_attach(&r->ec2, &r->fake);
	r->aws = fake_aws_client(&r->fake, max_attempts);
	aws_client_set_deadline(r->aws, r->fake.now_ms + 600000);
	r->n = n;
	r->ids = xcalloc(n, sizeof(*r->ids));
	for (size_t i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "i-%04zu", i + 1);
		r->ids[i] = xstrdup(id);
	}
}

static size_t rig_run(struct rig *r, enum ec2_batch_action action, size_t batch, bool hibernate)
{
	struct ec2_batch_options o = {
		.action = action,
		.batch_size = batch,
		.hibernate = hibernate,
		.done = on_done,
		.failed = on_failed,
		.ctx = r,
	};
	size_t calls = ec2_batch_run(r->aws, (const char *const *)r->ids, r->n, &o);

	for (size_t i = 0; i < r->n; i++)
		if (r->reported[i] != 1)
			fail_msg("%s: %d outcomes", r->ids[i], r->reported[i]);
	return calls;
}

static size_t count(const struct rig *r, int outcome)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++)
		k += r->outcome[i] == outcome;
	return k;
}

static void rig_release(struct rig *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->ids[i]);
		buf_release(&r->errors[i]);
	}
	free(r->ids);
	aws_client_free(r->aws);
	fake_ec2_release(&r->ec2);
	fake_aws_release(&r->fake);
}

static void test_all_go(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 5, 3);
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 2, false), 3);
	assert_int_equal(r.ec2.stop_calls, 3);
	assert_int_equal(r.ec2.batch_sizes[0], 2);
	assert_int_equal(r.ec2.batch_sizes[2], 1);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001 i-0002 i-0003 i-0004 i-0005 ");
	assert_int_equal(count(&r, 1), 5);
	rig_release(&r);
}

/* The case: one throttled batch of 50 was 50 throttled calls. */
static void test_throttled_batch_fails_once(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 50, 3);
	r.ec2.fail_code = "RequestLimitExceeded";
	r.ec2.fail_status = 503;
	r.ec2.fail_message = "Request limit exceeded.";
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, false), 1);
	/* one StopInstances call: its 3 attempts, then nothing one by one */
	assert_int_equal(r.ec2.stop_calls, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r.ec2.batch_sizes[i], 50);
	assert_string_equal(buf_cstr(&r.ec2.acted), "");
	assert_int_equal(count(&r, 3), 50);
	for (size_t i = 0; i < 50; i++)
		assert_string_equal(buf_cstr(&r.errors[i]),
				    "RequestLimitExceeded: Request limit exceeded.");
	rig_release(&r);
}

static void test_server_error_fails_once(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 4, 3);
	r.ec2.fail_code = "InternalError";
	r.ec2.fail_status = 500;
	assert_int_equal(rig_run(&r, EC2_BATCH_TERMINATE, 50, false), 1);
	assert_int_equal(r.ec2.terminate_calls, 3);
	assert_int_equal(count(&r, 3), 4);
	assert_non_null(strstr(buf_cstr(&r.errors[3]), "InternalError"));
	rig_release(&r);
}

/* A transient fault that clears within the retries: the batch goes. */
static void test_throttled_then_through(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 3, 3);
	r.ec2.fail_code = "RequestLimitExceeded";
	r.ec2.fail_status = 503;
	r.ec2.fail_calls = 2;
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, false), 1);
	assert_int_equal(r.ec2.stop_calls, 3);
	assert_int_equal(count(&r, 1), 3);
	rig_release(&r);
}

static void test_network_error_fails_once(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 10, 3);
	/* the connection resets on every attempt: no EC2 answer at all */
	r.fake.respond = NULL;
	for (int i = 0; i < 3; i++)
		fake_aws_fail(&r.fake, ERR_HTTP);
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, false), 1);
	assert_int_equal(r.fake.calls, 3);
	assert_int_equal(count(&r, 3), 10);
	rig_release(&r);
}

static void test_refusal_naming_an_instance_splits(void **state)
{
	static const struct fake_ec2_refusal refusals[] = {
		{ "i-0003", "IncorrectInstanceState", "not running" }, { NULL }
	};
	struct rig r;

	(void)state;
	rig_start(&r, 5, 3);
	r.ec2.refusals = refusals;
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, false), 6);	/* the batch, then each */
	assert_int_equal(r.ec2.batch_sizes[0], 5);
	for (int i = 1; i < 6; i++)
		assert_int_equal(r.ec2.batch_sizes[i], 1);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001 i-0002 i-0004 i-0005 ");
	assert_int_equal(count(&r, 1), 4);
	assert_int_equal(r.outcome[2], 3);
	assert_string_equal(buf_cstr(&r.errors[2]), "IncorrectInstanceState: not running");
	rig_release(&r);
}

static void test_unauthorized_is_not_split(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 5, 3);
	r.ec2.fail_code = "UnauthorizedOperation";
	r.ec2.fail_status = 403;
	/* not split, and not retried; the next batches are still tried (a
	   policy may allow some instances and not others) */
	assert_int_equal(rig_run(&r, EC2_BATCH_TERMINATE, 2, false), 3);
	assert_int_equal(r.ec2.terminate_calls, 3);
	assert_int_equal(r.ec2.batch_sizes[0], 2);
	assert_int_equal(r.ec2.batch_sizes[1], 2);
	assert_int_equal(r.ec2.batch_sizes[2], 1);
	assert_int_equal(count(&r, 3), 5);
	rig_release(&r);
}

static void test_expired_credentials_end_the_run(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 6, 3);
	r.ec2.fail_code = "RequestExpired";
	r.ec2.fail_status = 400;
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 2, false), 1);
	assert_int_equal(r.ec2.stop_calls, 1);
	assert_int_equal(count(&r, 3), 6);
	assert_non_null(strstr(buf_cstr(&r.errors[0]), "RequestExpired"));
	for (size_t i = 2; i < 6; i++)
		assert_non_null(strstr(buf_cstr(&r.errors[i]), "not attempted"));
	assert_non_null(strstr(buf_cstr(&r.errors[5]), "RequestExpired"));
	rig_release(&r);
}

/* A split batch whose single calls meet a run-wide fault: the rest wait no more. */
static void test_run_ends_inside_a_split(void **state)
{
	static const struct fake_ec2_refusal refusals[] = {
		{ "i-0001", "InvalidInstanceID.NotFound", "gone" }, { NULL }
	};
	struct rig r;

	(void)state;
	rig_start(&r, 4, 1);
	r.ec2.refusals = refusals;
	/* the batch and i-0001 alone are refused; i-0002's call meets AuthFailure */
	r.ec2.fail_code = "AuthFailure";
	r.ec2.fail_status = 401;
	r.ec2.fail_from = 3;
	assert_int_equal(rig_run(&r, EC2_BATCH_TERMINATE, 50, false), 3);
	assert_int_equal(r.ec2.terminate_calls, 3);
	assert_int_equal(count(&r, 3), 4);
	assert_non_null(strstr(buf_cstr(&r.errors[0]), "InvalidInstanceID.NotFound"));
	assert_non_null(strstr(buf_cstr(&r.errors[1]), "AuthFailure"));
	for (size_t i = 2; i < 4; i++) {
		assert_non_null(strstr(buf_cstr(&r.errors[i]), "not attempted"));
		assert_non_null(strstr(buf_cstr(&r.errors[i]), "AuthFailure"));
	}
	rig_release(&r);
}

static void test_no_call_after_the_deadline(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 3, 3);
	aws_client_set_deadline(r.aws, r.fake.now_ms + 1000);	/* within the margin */
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, false), 0);
	assert_int_equal(r.fake.calls, 0);
	assert_int_equal(count(&r, 3), 3);
	assert_string_equal(buf_cstr(&r.errors[1]),
			    "not attempted: no time left before the invocation's deadline");
	rig_release(&r);
}

static void test_hibernation_falls_back(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 2, 3);
	r.ec2.no_hibernation = true;
	/* the batch is refused for its instances, each falls back to a stop */
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, true), 5);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001 i-0002 ");
	assert_int_equal(count(&r, 1), 2);
	rig_release(&r);

	rig_start(&r, 2, 3);
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, true), 1);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001[h] i-0002[h] ");
	assert_int_equal(count(&r, 2), 2);
	rig_release(&r);
}

/* A single id refused with a hibernation error falls back; a terminate never hibernates. */
static void test_single_hibernation_falls_back(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 1, 3);
	r.ec2.no_hibernation = true;
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 50, true), 2);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001 ");
	assert_int_equal(r.outcome[0], 1);
	rig_release(&r);

	rig_start(&r, 2, 3);
	r.ec2.no_hibernation = true;
	assert_int_equal(rig_run(&r, EC2_BATCH_TERMINATE, 50, true), 1);
	assert_string_equal(buf_cstr(&r.ec2.acted), "i-0001 i-0002 ");
	rig_release(&r);
}

static void test_dry_run(void **state)
{
	struct rig r;
	struct ec2_batch_options o = { EC2_BATCH_TERMINATE, 2, true, false, on_done, on_failed,
				       NULL };

	(void)state;
	rig_start(&r, 3, 3);
	o.ctx = &r;
	assert_int_equal(ec2_batch_run(r.aws, (const char *const *)r.ids, r.n, &o), 2);
	assert_int_equal(r.ec2.dry_runs, 2);
	assert_string_equal(buf_cstr(&r.ec2.acted), "");
	assert_int_equal(count(&r, 1), 3);
	assert_true(fake_aws_body_has(&r.fake, 0, "DryRun=true"));
	rig_release(&r);
}

static void test_batch_size_is_capped(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, 3, 1);
	/* 0 means the default; more than 1000 is 1000: all three in one call */
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 0, false), 1);
	rig_release(&r);
	rig_start(&r, 3, 1);
	assert_int_equal(rig_run(&r, EC2_BATCH_STOP, 5000, false), 1);
	rig_release(&r);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(classify_cases); i++)
		table_add("classify", classify_cases[i].name, test_classify,
			  (void *)&classify_cases[i]);
	table_add("batch", "all-go", test_all_go, NULL);
	table_add("batch", "throttled-batch-fails-once", test_throttled_batch_fails_once, NULL);
	table_add("batch", "server-error-fails-once", test_server_error_fails_once, NULL);
	table_add("batch", "throttled-then-through", test_throttled_then_through, NULL);
	table_add("batch", "network-error-fails-once", test_network_error_fails_once, NULL);
	table_add("batch", "refusal-naming-an-instance-splits",
		  test_refusal_naming_an_instance_splits, NULL);
	table_add("batch", "unauthorized-is-not-split", test_unauthorized_is_not_split, NULL);
	table_add("batch", "expired-credentials-end-the-run", test_expired_credentials_end_the_run,
		  NULL);
	table_add("batch", "run-ends-inside-a-split", test_run_ends_inside_a_split, NULL);
	table_add("batch", "no-call-after-the-deadline", test_no_call_after_the_deadline, NULL);
	table_add("batch", "hibernation-falls-back", test_hibernation_falls_back, NULL);
	table_add("batch", "single-hibernation-falls-back", test_single_hibernation_falls_back,
		  NULL);
	table_add("batch", "dry-run", test_dry_run, NULL);
	table_add("batch", "batch-size-is-capped", test_batch_size_is_capped, NULL);
	return table_run("ec2_batch");
}
