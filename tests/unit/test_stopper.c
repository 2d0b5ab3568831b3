/* The stopper: its pure plan by tables of cases, its apply step on a scripted EC2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_ec2.h"
#include "helpers.h"
#include "lambda_internal.h"
#include "stopper/stopper.h"
#include "timeutil.h"
#include "banned.h"

#define NOW_S 1795737600LL /* 2026-11-27T00:00:00Z */
#define OPTOUT "devcloud:keep-running"

static int64_t at(const char *iso)
{
	int64_t t = 0;
	assert_int_equal(time_parse_iso8601(iso, &t, NULL), 0);
	return t;
}

static void test_read_optout(void **state)
{
	static const struct {
		const char *value;
		const char *now;
		enum stopper_optout want;
		const char *until;	/* NULL: 0 */
	} rows[] = {
		{ NULL, "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, NULL },
		{ "true", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, NULL },
		{ "TRUE", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, NULL },
		{ " true ", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, NULL },
		{ "false", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, NULL },
		{ "False", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, NULL },
		/* a date keeps the box through the end of that day (UTC) */
		{ "2026-11-27", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, "2026-11-28T00:00:00Z" },
		{ "2026-11-27", "2026-11-27T23:59:59Z", STOPPER_OPTOUT_KEEP, "2026-11-28T00:00:00Z" },
		{ "2026-11-27", "2026-11-28T00:00:00Z", STOPPER_OPTOUT_NONE, "2026-11-28T00:00:00Z" },
		{ "2026-11-26", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, "2026-11-27T00:00:00Z" },
		{ "2026-12-31", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, "2027-01-01T00:00:00Z" },
		/* a time is exact: kept strictly before it */
		{ "2026-11-27T18:00:01Z", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, "2026-11-27T18:00:01Z" },
		{ "2026-11-27T18:00:00Z", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, "2026-11-27T18:00:00Z" },
		{ "2026-11-27T17:59:59Z", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_NONE, "2026-11-27T17:59:59Z" },
		{ "2026-11-27T20:00:00+01:00", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_KEEP, "2026-11-27T19:00:00Z" },
		/* anything unreadable keeps the box and is reported */
		{ "yes", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "tomorrow", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "2026-11-31", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "2026-13-01", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "27/11/2026", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "2026-11-27T25:00:00Z", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
		{ "2026-11-27T08:00:00", "2026-11-27T18:00:00Z", STOPPER_OPTOUT_UNREADABLE, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t until = -1;
		enum stopper_optout got = stopper_read_optout(rows[i].value, at(rows[i].now), &until);
		int64_t want_until = rows[i].until ? at(rows[i].until) : 0;
		if (got != rows[i].want || until != want_until)
			fail_msg("row %zu ('%s'): got %d until %lld", i,
				 rows[i].value ? rows[i].value : "(null)", (int)got, (long long)until);
	}
}

/* An instance for the tables: tags written "k=v;k=v". */
static void make_instance(struct ec2_instance *inst, const char *id, const char *state,
			  const char *tags, bool hib)
{
	memset(inst, 0, sizeof(*inst));
	inst->id = xstrdup(id);
	inst->state = xstrdup(state);
	inst->hibernation_configured = hib;
	for (const char *p = tags; p && *p;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		inst->tags = xrealloc(inst->tags, (inst->tag_count + 1) * sizeof(*inst->tags));
		inst->tags[inst->tag_count].key = xstrndup(p, (size_t)(eq - p));
		inst->tags[inst->tag_count].value = xstrndup(eq + 1, len - (size_t)(eq - p) - 1);
		inst->tag_count++;
		p += len + (semi ? 1 : 0);
	}
}

static void test_plan_table(void **state)
{
	static const struct {
		const char *state, *tags;
		bool hib_configured, policy_hibernate;
		enum stopper_action want;
		bool want_hibernate;
		const char *reason_has;
	} rows[] = {
		{ "running", "Name=alice", false, false, STOPPER_STOP, false, NULL },
		{ "running", "", false, false, STOPPER_STOP, false, NULL },
		{ "pending", "Name=dave", false, false, STOPPER_STOP_WHEN_RUNNING, false, NULL },
		{ "running", "Name=carol", true, true, STOPPER_STOP, true, NULL },
		{ "running", "Name=carol", true, false, STOPPER_STOP, false, NULL },
		{ "running", "Name=bob", false, true, STOPPER_STOP, false, NULL },
		{ "pending", "Name=x", true, true, STOPPER_STOP_WHEN_RUNNING, true, NULL },
		{ "running", "aws:autoscaling:groupName=drone-agents", false, false, STOPPER_SKIP, false,
		  "member of Auto Scaling group 'drone-agents'" },
		{ "pending", "aws:autoscaling:groupName=g;" OPTOUT "=false", false, false, STOPPER_SKIP,
		  false, "Auto Scaling group 'g'" },
		{ "running", OPTOUT "=true", false, false, STOPPER_SKIP, false,
		  "opted out (devcloud:keep-running=true)" },
		{ "running", OPTOUT "=false", false, false, STOPPER_STOP, false, NULL },
		{ "running", OPTOUT "=2026-11-27", false, false, STOPPER_SKIP, false,
		  "opted out until 2026-11-28T00:00:00Z (devcloud:keep-running=2026-11-27)" },
		{ "running", OPTOUT "=2026-11-26", false, false, STOPPER_STOP, false, NULL },
		{ "running", OPTOUT "=2026-11-27T08:00:00Z", false, false, STOPPER_SKIP, false,
		  "opted out until 2026-11-27T08:00:00Z" },
		{ "running", OPTOUT "=2026-11-26T23:59:59Z", false, false, STOPPER_STOP, false, NULL },
		{ "running", OPTOUT "=tomorow", false, false, STOPPER_SKIP, false,
		  "unreadable devcloud:keep-running value 'tomorow'" },
		{ "pending", OPTOUT "=", false, false, STOPPER_SKIP, false, "unreadable" },
		{ "running", "devcloud:keep-running-x=true", false, false, STOPPER_STOP, false, NULL },
		{ "stopping", "", false, false, STOPPER_SKIP, false, "state is 'stopping'" },
		{ "stopped", "", false, false, STOPPER_SKIP, false, "state is 'stopped'" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ec2_instance inst;
		struct ec2_instance_list list = { .items = &inst, .count = 1, .cap = 1 };
		struct stopper_policy policy = { OPTOUT, rows[i].policy_hibernate };
		struct stopper_plan plan;

		make_instance(&inst, "i-0123456789abcdef0", rows[i].state, rows[i].tags,
			      rows[i].hib_configured);
		/* 2026-11-27T00:00:00Z + 1 s */
		stopper_plan(&list, NOW_S + 1, &policy, &plan);
		assert_int_equal(plan.count, 1);
		const struct stopper_decision *d = &plan.items[0];
		if (d->action != rows[i].want || d->hibernate != rows[i].want_hibernate)
			fail_msg("row %zu: action %d hibernate %d", i, (int)d->action, d->hibernate);
		if (rows[i].reason_has) {
			if (!d->reason || !strstr(d->reason, rows[i].reason_has))
				fail_msg("row %zu: reason '%s'", i, d->reason ? d->reason : "(null)");
		} else {
			assert_null(d->reason);
		}
		assert_ptr_equal(d->instance, &inst);
		stopper_plan_release(&plan);
		list.items = NULL;
		struct ec2_instance_list owned = { .items = xcalloc(1, sizeof(inst)), .count = 1, .cap = 1 };
		owned.items[0] = inst;
		ec2_instance_list_release(&owned);
	}
}

static void test_plan_keeps_order_and_count(void **state)
{
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct stopper_policy policy = { OPTOUT, false };
	struct stopper_plan plan;
	static const char *const states[] = { "running", "pending", "running", "running" };
	static const char *const tags[] = { "", "", OPTOUT "=true", "aws:autoscaling:groupName=a" };

	(void)state;
	list.items = xcalloc(4, sizeof(*list.items));
	list.cap = 4;
	for (size_t i = 0; i < 4; i++) {
		char id[32];
		snprintf(id, sizeof(id), "i-%017zu", i);
		make_instance(&list.items[list.count++], id, states[i], tags[i], false);
	}
	stopper_plan(&list, NOW_S, &policy, &plan);
	assert_int_equal(plan.count, 4);
	assert_int_equal(plan.items[0].action, STOPPER_STOP);
	assert_int_equal(plan.items[1].action, STOPPER_STOP_WHEN_RUNNING);
	assert_int_equal(plan.items[2].action, STOPPER_SKIP);
	assert_int_equal(plan.items[3].action, STOPPER_SKIP);
	for (size_t i = 0; i < 4; i++)
		assert_ptr_equal(plan.items[i].instance, &list.items[i]);
	stopper_plan_release(&plan);
	ec2_instance_list_release(&list);
}

/* ---- apply, on a scripted EC2 ---- */

struct apply_case {
	struct fake_aws fake;
	struct fake_ec2 sim;
	struct aws_client *aws;
	struct ec2_instance_list list;
	struct stopper_plan plan;
	struct stopper_result result;
};

static void apply_setup(struct apply_case *c, const char *const *spec, size_t n, bool hibernate)
{
	struct stopper_policy policy = { OPTOUT, hibernate };

	memset(c, 0, sizeof(*c));
	fake_aws_init(&c->fake);
	fake_ec2_attach(&c->sim, &c->fake);
	c->aws = fake_aws_client(&c->fake, 1);
	c->list.items = xcalloc(n, sizeof(*c->list.items));
	c->list.cap = n;
	/* spec rows: "id state hib" */
	for (size_t i = 0; i < n; i++) {
		char id[32], st[16];
		int hib = 0;
		assert_int_equal(sscanf(spec[i], "%31s %15s %d", id, st, &hib), 3);
		make_instance(&c->list.items[c->list.count++], id, st, "", hib);
	}
	stopper_plan(&c->list, NOW_S, &policy, &c->plan);
}

static void apply_release(struct apply_case *c)
{
	stopper_result_release(&c->result);
	stopper_plan_release(&c->plan);
	ec2_instance_list_release(&c->list);
	aws_client_free(c->aws);
	fake_aws_release(&c->fake);
	fake_ec2_release(&c->sim);
}

static void test_apply_batches(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-2 running 0", "i-3 running 0",
					    "i-4 running 0", "i-5 running 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 2, 1000 };

	(void)state;
	apply_setup(&c, spec, 5, false);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.sim.stop_calls, 3);	/* 2 + 2 + 1 */
	assert_int_equal(c.result.stopped.count, 5);
	assert_int_equal(c.result.failed.count, 0);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-2 i-3 i-4 i-5 ");
	apply_release(&c);
}

static void test_apply_refused_batch_goes_one_by_one(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-2 running 0", "i-3 running 0" };
	static const struct fake_ec2_refusal refusals[] = { { "i-2", "IncorrectInstanceState", NULL },
							    { NULL } };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 50, 1000 };
	char *json;

	(void)state;
	apply_setup(&c, spec, 3, false);
	c.sim.refusals = refusals;
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.sim.stop_calls, 4);	/* the batch, then each */
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-3 ");
	assert_int_equal(c.result.stopped.count, 2);
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-2");
	assert_string_equal(c.result.failed.items[0].text, "IncorrectInstanceState: refused");
	json = stopper_result_json(&c.result);
	assert_string_equal(json, "{\"stopped\":[\"i-1\",\"i-3\"],\"hibernated\":[],\"skipped\":[],"
				  "\"failed\":[{\"id\":\"i-2\",\"error\":\"IncorrectInstanceState: refused\"}],"
				  "\"dry_run\":false}");
	free(json);
	apply_release(&c);
}

static void test_apply_hibernation_falls_back(void **state)
{
	static const char *const spec[] = { "i-1 running 1", "i-2 running 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 50, 1000 };

	(void)state;
	apply_setup(&c, spec, 2, true);
	c.sim.no_hibernation = true;
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-2 i-1 ");
	assert_int_equal(c.result.stopped.count, 2);
	assert_int_equal(c.result.hibernated.count, 0);
	assert_int_equal(c.result.failed.count, 0);
	apply_release(&c);

	apply_setup(&c, spec, 2, true);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-2 i-1[h] ");
	assert_int_equal(c.result.hibernated.count, 1);
	assert_string_equal(c.result.hibernated.items[0], "i-1");
	apply_release(&c);
}

static void test_apply_waits_for_pending(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-p pending 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 50, 5000 };

	(void)state;
	apply_setup(&c, spec, 2, false);
	c.sim.pending_polls = 3;
	aws_client_set_deadline(c.aws, c.fake.now_ms + 60000);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-p ");
	assert_int_equal(c.sim.describes, 4);
	assert_int_equal(c.fake.sleeps, 3);
	assert_int_equal(c.fake.slept_ms[0], 5000);
	assert_int_equal(c.result.failed.count, 0);
	apply_release(&c);
}

static void test_apply_pending_fails_when_time_runs_out(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-p pending 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 50, 5000 };

	(void)state;
	apply_setup(&c, spec, 2, false);
	c.sim.pending_polls = 1000;
	aws_client_set_deadline(c.aws, c.fake.now_ms + 20000);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 ");
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-p");
	assert_non_null(strstr(c.result.failed.items[0].text, "still pending"));
	/* it stopped polling while there was still time to report */
	assert_true(aws_client_time_left_ms(c.aws) > 0);
	apply_release(&c);
}

/* Refused credentials end the wait at once: no polling until the deadline. */
static void test_apply_pending_gives_up_on_refused_credentials(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-p pending 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { false, 50, 5000 };

	(void)state;
	apply_setup(&c, spec, 2, false);
	c.sim.describe_status = 401;
	c.sim.describe_body = "<Response><Errors><Error><Code>AuthFailure</Code><Message>"
			      "AWS was not able to validate the provided access credentials"
			      "</Message></Error></Errors></Response>";
	aws_client_set_deadline(c.aws, c.fake.now_ms + 600000);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 ");
	assert_int_equal(c.sim.describes, 1);
	assert_int_equal(c.fake.sleeps, 0);
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-p");
	assert_non_null(strstr(c.result.failed.items[0].text, "still pending, and then AuthFailure"));
	apply_release(&c);
}

static void test_apply_dry_run(void **state)
{
	static const char *const spec[] = { "i-1 running 0", "i-2 running 1", "i-p pending 0" };
	struct apply_case c;
	struct stopper_apply_options opts = { true, 50, 5000 };

	(void)state;
	apply_setup(&c, spec, 3, true);
	stopper_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "");	/* nothing changed */
	assert_int_equal(c.sim.stop_calls, 2);
	assert_int_equal(c.sim.describes, 0);			/* no waiting in a dry run */
	assert_int_equal(c.result.stopped.count, 3);
	assert_true(c.result.dry_run);
	apply_release(&c);
}

/* ---- the handler, on a client given to stopper_init_with() ---- */

/* A listing of n running dev boxes, i-0000000000000001 on. */
static char *running_page(size_t n)
{
	struct buf b = BUF_INIT;

	buf_appends(&b, "<DescribeInstancesResponse><reservationSet><item><instancesSet>");
	for (size_t i = 1; i <= n; i++)
		buf_appendf(&b, "<item><instanceId>i-%016zu</instanceId><instanceState>"
				"<name>running</name></instanceState><tagSet><item><key>Name"
				"</key><value>dev%zu</value></item></tagSet></item>",
			    i, i);
	buf_appends(&b, "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
	return buf_detach(&b);
}

static void clear_settings(void)
{
	static const char *const names[] = { "INSTANCE_FILTERS", "KEEP_RUNNING_TAG", "HIBERNATE",
					     "DRY_RUN", "STOP_BATCH_SIZE",
					     "PENDING_POLL_INTERVAL_MS" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

/* A throttled batch fails once; the failure summary and the logs stay bounded. */
static void test_handler_throttled_batch(void **state)
{
	struct fake_aws fake;
	struct fake_ec2 ec2;
	struct lambda_response resp = { 0 };
	struct buf err = BUF_INIT, log = BUF_INIT;
	char *page = running_page(60);
	void *s = NULL;
	const char *msg;

	(void)state;
	clear_settings();
	fake_aws_init(&fake);
	fake_ec2_attach(&ec2, &fake);
	ec2.describe_body = page;
	ec2.fail_code = "RequestLimitExceeded";
	ec2.fail_status = 503;
	ec2.fail_message = "Request limit exceeded.";
	assert_int_equal(stopper_init_with(fake_aws_client(&fake, 2), &s, &err), 0);
	{
		struct lambda_request req = { view_from("{}"), "req-1", "", fake.now_ms + 60000,
					      NULL, NULL, NULL };
		capture_stderr_begin();
		stopper_handle(s, &req, &resp);
		capture_stderr_end(&log);
	}
	/* one batch of 50 and one of 10: two attempts each, nothing one by one */
	assert_int_equal(ec2.stop_calls, 4);
	assert_int_equal(ec2.batch_sizes[0], 50);
	assert_int_equal(ec2.batch_sizes[1], 50);
	assert_int_equal(ec2.batch_sizes[2], 10);
	assert_int_equal(ec2.batch_sizes[3], 10);
	assert_true(resp.failed);
	assert_string_equal(resp.error_type, "Stopper.InstancesNotStopped");
	msg = buf_cstr(&resp.error_message);
	{
		const char *want = "60 instances not stopped: i-0000000000000001 "
				   "(RequestLimitExceeded: Request limit exceeded.); ";
		assert_int_equal(strncmp(msg, want, strlen(want)), 0);
	}
	assert_non_null(strstr(msg, "; and 50 more"));
	assert_null(strstr(msg, "i-0000000000000011"));
	/* the logs: no whole-result line, every line short */
	assert_null(strstr(buf_cstr(&log), "result: "));
	for (const char *p = buf_cstr(&log); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		assert_true(len < 1024);
		p += len + (nl ? 1 : 0);
	}
	assert_non_null(strstr(buf_cstr(&log), "StopInstances for 50 instances failed "
						"(RequestLimitExceeded); not trying them one by one"));
	stopper_release(s);
	lambda_response_release(&resp);
	fake_ec2_release(&ec2);
	fake_aws_release(&fake);
	buf_release(&err);
	buf_release(&log);
	free(page);
}

/* A bad setting fails init, and the client given is freed (ASan checks). */
static void test_init_with_bad_setting(void **state)
{
	struct fake_aws fake;
	struct buf err = BUF_INIT;
	void *s = (void *)1;

	(void)state;
	clear_settings();
	setenv("STOP_BATCH_SIZE", "1001", 1);
	fake_aws_init(&fake);
	assert_int_equal(stopper_init_with(fake_aws_client(&fake, 1), &s, &err), ERR_CONFIG);
	assert_null(s);
	assert_non_null(strstr(buf_cstr(&err), "STOP_BATCH_SIZE"));
	assert_int_equal(fake.calls, 0);
	clear_settings();
	fake_aws_release(&fake);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_optout),
		cmocka_unit_test(test_plan_table),
		cmocka_unit_test(test_plan_keeps_order_and_count),
		cmocka_unit_test(test_apply_batches),
		cmocka_unit_test(test_apply_refused_batch_goes_one_by_one),
		cmocka_unit_test(test_apply_hibernation_falls_back),
		cmocka_unit_test(test_apply_waits_for_pending),
		cmocka_unit_test(test_apply_pending_fails_when_time_runs_out),
		cmocka_unit_test(test_apply_pending_gives_up_on_refused_credentials),
		cmocka_unit_test(test_apply_dry_run),
		cmocka_unit_test(test_handler_throttled_batch),
		cmocka_unit_test(test_init_with_bad_setting),
	};
	return cmocka_run_group_tests_name("stopper", tests, NULL, NULL);
}
