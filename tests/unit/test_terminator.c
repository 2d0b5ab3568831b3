/*
 * The terminator: its pure plan by tables of cases, its apply step and its
 * handler on a scripted EC2 (fake_aws with a `respond` callback that plays
 * DescribeInstances and TerminateInstances).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_ec2.h"
#include "lambda_internal.h"
#include "table.h"
#include "terminator/terminator.h"
#include "timeutil.h"
#include "banned.h"

#define NOW "2026-11-27T00:00:00Z"
#define NOW_S 1795737600LL
#define HOUR 3600LL

static int64_t at(const char *iso)
{
	int64_t t = 0;

	if (!iso)
		return 0;
	assert_int_equal(time_parse_iso8601(iso, &t, NULL), 0);
	return t;
}

/* An instance for the tables: tags written "k=v;k=v"; times ISO 8601 or NULL. */
static void make_instance(struct ec2_instance *inst, const char *id, const char *state,
			  const char *tags, const char *launch, const char *attach)
{
	memset(inst, 0, sizeof(*inst));
	inst->id = xstrdup(id);
	inst->state = xstrdup(state);
	inst->launch_time = at(launch);
	inst->attach_time = at(attach);
	for (const char *p = tags; p && *p;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		assert_non_null(eq);
		inst->tags = xrealloc(inst->tags, (inst->tag_count + 1) * sizeof(*inst->tags));
		inst->tags[inst->tag_count].key = xstrndup(p, (size_t)(eq - p));
		inst->tags[inst->tag_count].value = xstrndup(eq + 1, len - (size_t)(eq - p) - 1);
		inst->tag_count++;
		p += len + (semi ? 1 : 0);
	}
}

/* ---- the plan, one row per case ---- */

struct plan_row {
	const char *name;
	const char *state, *tags;
	const char *launch, *attach;	/* NULL: unknown */
	long lifetime_hours;
	enum terminator_action want;
	enum terminator_clock want_clock;
	int64_t want_age_s;		/* -1: unknown */
	const char *reason_has;		/* NULL: no reason expected */
	const char *age_text;		/* terminator_describe_age(), exactly */
};

#define OLD "2026-11-20T00:00:00Z"	/* 168 h before NOW */

static const struct plan_row plan_rows[] = {
	/* the lifetime's boundary: exactly the lifetime is kept */
	{ "48h-minus-1s-kept", "running", "Name=nightly", OLD, "2026-11-25T00:00:01Z", 48,
	  TERMINATOR_KEEP, TERMINATOR_CLOCK_ATTACH, 48 * HOUR - 1, "within its 48 h lifetime",
	  "aged 48.0 h since its network interface attached 2026-11-25T00:00:01Z" },
	{ "48h-exactly-kept", "running", "", OLD, "2026-11-25T00:00:00Z", 48, TERMINATOR_KEEP,
	  TERMINATOR_CLOCK_ATTACH, 48 * HOUR, "within its 48 h lifetime",
	  "aged 48.0 h since its network interface attached 2026-11-25T00:00:00Z" },
	{ "48h-plus-1s-terminated", "running", "", OLD, "2026-11-24T23:59:59Z", 48,
	  TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, 48 * HOUR + 1, NULL,
	  "aged 48.0 h since its network interface attached 2026-11-24T23:59:59Z" },
	/* stopped and started again: a fresh LaunchTime does not make it young */
	{ "restarted-old-attach-terminated", "running", "", "2026-11-26T23:00:00Z",
	  "2026-11-24T08:00:00Z", 48, TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, 64 * HOUR,
	  NULL, "aged 64.0 h since its network interface attached 2026-11-24T08:00:00Z" },
	/* the attach time wins over LaunchTime both ways */
	{ "young-attach-old-launch-kept", "running", "", OLD, "2026-11-26T21:00:00Z", 48,
	  TERMINATOR_KEEP, TERMINATOR_CLOCK_ATTACH, 3 * HOUR, "within its 48 h lifetime",
	  "aged 3.0 h since its network interface attached 2026-11-26T21:00:00Z" },
	/* no attach time: LaunchTime */
	{ "no-attach-old-launch-terminated", "running", "", "2026-11-24T20:48:00Z", NULL, 48,
	  TERMINATOR_TERMINATE, TERMINATOR_CLOCK_LAUNCH, 51 * HOUR + 12 * 60, NULL,
	  "aged 51.2 h since it launched 2026-11-24T20:48:00Z" },
	{ "no-attach-young-launch-kept", "stopped", "", "2026-11-26T00:00:00Z", NULL, 48,
	  TERMINATOR_KEEP, TERMINATOR_CLOCK_LAUNCH, 24 * HOUR, "within its 48 h lifetime",
	  "aged 24.0 h since it launched 2026-11-26T00:00:00Z" },
	{ "no-attach-launch-at-boundary-kept", "running", "", "2026-11-25T00:00:00Z", NULL, 48,
	  TERMINATOR_KEEP, TERMINATOR_CLOCK_LAUNCH, 48 * HOUR, "within", NULL },
	/* no time at all: never guessed old */
	{ "no-time-kept", "running", "", NULL, NULL, 48, TERMINATOR_KEEP, TERMINATOR_CLOCK_NONE,
	  -1, "its age is unknown", "of unknown age (no attach or launch time)" },
	/* a time ahead of ours is age 0 */
	{ "future-attach-kept", "running", "", OLD, "2026-11-27T01:00:00Z", 48, TERMINATOR_KEEP,
	  TERMINATOR_CLOCK_ATTACH, 0, "within",
	  "aged 0.0 h since its network interface attached 2026-11-27T01:00:00Z "
	  "(a time in the future)" },
	{ "future-launch-kept", "pending", "", "2027-01-01T00:00:00Z", NULL, 1, TERMINATOR_KEEP,
	  TERMINATOR_CLOCK_LAUNCH, 0, "within its 1 h lifetime",
	  "aged 0.0 h since it launched 2027-01-01T00:00:00Z (a time in the future)" },
	{ "attach-now-kept", "running", "", NULL, NOW, 1, TERMINATOR_KEEP, TERMINATOR_CLOCK_ATTACH,
	  0, "within", "aged 0.0 h since its network interface attached 2026-11-27T00:00:00Z" },
	/* every state: the four billed ones are acted on, the rest ignored */
	{ "pending-old-terminated", "pending", "", OLD, OLD, 48, TERMINATOR_TERMINATE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, NULL, NULL },
	{ "running-old-terminated", "running", "", OLD, OLD, 48, TERMINATOR_TERMINATE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, NULL, NULL },
	{ "stopping-old-terminated", "stopping", "", OLD, OLD, 48, TERMINATOR_TERMINATE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, NULL, NULL },
	{ "stopped-old-terminated", "stopped", "", OLD, OLD, 48, TERMINATOR_TERMINATE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, NULL, NULL },
	{ "shutting-down-ignored", "shutting-down", "", OLD, OLD, 48, TERMINATOR_IGNORE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, "state is 'shutting-down'", NULL },
	{ "terminated-ignored", "terminated", "", OLD, OLD, 48, TERMINATOR_IGNORE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, "state is 'terminated'", NULL },
	{ "unknown-state-ignored", "rebooting", "", OLD, OLD, 48, TERMINATOR_IGNORE,
	  TERMINATOR_CLOCK_ATTACH, 168 * HOUR, "state is 'rebooting'", NULL },
	/* Auto Scaling groups own their members' lifetimes */
	{ "asg-member-old-kept", "running", "aws:autoscaling:groupName=drone-agents;Name=a", OLD,
	  OLD, 48, TERMINATOR_KEEP, TERMINATOR_CLOCK_ATTACH, 168 * HOUR,
	  "member of Auto Scaling group 'drone-agents'", NULL },
	{ "asg-member-terminated-ignored", "terminated", "aws:autoscaling:groupName=g", OLD, OLD,
	  48, TERMINATOR_IGNORE, TERMINATOR_CLOCK_ATTACH, 168 * HOUR, "state is 'terminated'",
	  NULL },
	{ "asg-lookalike-tag-terminated", "running", "aws:autoscaling:groupNameX=g", OLD, OLD, 48,
	  TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, 168 * HOUR, NULL, NULL },
	/* other lifetimes */
	{ "lifetime-1h-3600s-kept", "running", "", NULL, "2026-11-26T23:00:00Z", 1, TERMINATOR_KEEP,
	  TERMINATOR_CLOCK_ATTACH, HOUR, "within its 1 h lifetime", NULL },
	{ "lifetime-1h-3601s-terminated", "running", "", NULL, "2026-11-26T22:59:59Z", 1,
	  TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, HOUR + 1, NULL, NULL },
	{ "lifetime-72h-50h-kept", "running", "", NULL, "2026-11-24T22:00:00Z", 72, TERMINATOR_KEEP,
	  TERMINATOR_CLOCK_ATTACH, 50 * HOUR, "within its 72 h lifetime", NULL },
	{ "lifetime-72h-73h-terminated", "stopped", "", NULL, "2026-11-23T23:00:00Z", 72,
	  TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, 73 * HOUR, NULL, NULL },
	{ "lifetime-8760h-a-year-kept", "running", "", NULL, "2025-11-27T00:00:00Z", 8760,
	  TERMINATOR_KEEP, TERMINATOR_CLOCK_ATTACH, 8760 * HOUR, "within its 8760 h lifetime",
	  NULL },
	{ "lifetime-8760h-a-year-and-1s-terminated", "running", "", NULL, "2025-11-26T23:59:59Z",
	  8760, TERMINATOR_TERMINATE, TERMINATOR_CLOCK_ATTACH, 8760 * HOUR + 1, NULL, NULL },
};

static void test_plan_row(void **state)
{
	const struct plan_row *row = *state;
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct terminator_policy policy = { row->lifetime_hours };
	struct terminator_plan plan;
	struct buf age = BUF_INIT;

	list.items = xcalloc(1, sizeof(*list.items));
	list.cap = 1;
	make_instance(&list.items[list.count++], "i-0123456789abcdef0", row->state, row->tags,
		      row->launch, row->attach);
	terminator_plan(&list, NOW_S, &policy, &plan);
	assert_int_equal(plan.count, 1);

	const struct terminator_decision *d = &plan.items[0];
	assert_ptr_equal(d->instance, &list.items[0]);
	assert_int_equal(d->action, row->want);
	assert_int_equal(d->clock, row->want_clock);
	assert_int_equal(d->age_s, row->want_age_s);
	if (row->reason_has) {
		assert_non_null(d->reason);
		if (!strstr(d->reason, row->reason_has))
			fail_msg("reason '%s' lacks '%s'", d->reason, row->reason_has);
	} else {
		assert_null(d->reason);
	}
	if (row->age_text) {
		terminator_describe_age(d, &age);
		assert_string_equal(buf_cstr(&age), row->age_text);
	}
	buf_release(&age);
	terminator_plan_release(&plan);
	ec2_instance_list_release(&list);
}

static void test_plan_keeps_order_and_count(void **state)
{
	static const char *const states[] = { "running", "terminated", "stopped", "pending",
					      "running" };
	static const char *const attach[] = { OLD, OLD, "2026-11-26T00:00:00Z", OLD, OLD };
	static const char *const tags[] = { "", "", "", "", "aws:autoscaling:groupName=a" };
	static const enum terminator_action want[] = { TERMINATOR_TERMINATE, TERMINATOR_IGNORE,
						       TERMINATOR_KEEP, TERMINATOR_TERMINATE,
						       TERMINATOR_KEEP };
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct terminator_policy policy = { 48 };
	struct terminator_plan plan;

	(void)state;
	list.items = xcalloc(ARRAY_SIZE(states), sizeof(*list.items));
	list.cap = ARRAY_SIZE(states);
	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		char id[32];
		snprintf(id, sizeof(id), "i-%017zu", i);
		make_instance(&list.items[list.count++], id, states[i], tags[i], NULL, attach[i]);
	}
	terminator_plan(&list, NOW_S, &policy, &plan);
	assert_int_equal(plan.count, ARRAY_SIZE(states));
	for (size_t i = 0; i < plan.count; i++) {
		assert_ptr_equal(plan.items[i].instance, &list.items[i]);
		assert_int_equal(plan.items[i].action, want[i]);
	}
	terminator_plan_release(&plan);
	assert_null(plan.items);
	ec2_instance_list_release(&list);

	/* an empty listing is an empty plan */
	terminator_plan(&list, NOW_S, &policy, &plan);
	assert_int_equal(plan.count, 0);
	terminator_plan_release(&plan);
}

/* ---- apply, on a scripted EC2 ---- */

/* EC2's refusals, as it words them */
#define PROTECTED(id) { id, "OperationNotPermitted", "The instance may not be terminated." }
#define GONE(id) { id, "InvalidInstanceID.NotFound", "The instance ID does not exist" }

struct apply_case {
	struct fake_aws fake;
	struct fake_ec2 sim;
	struct aws_client *aws;
	struct ec2_instance_list list;
	struct terminator_plan plan;
	struct terminator_result result;
};

/* spec rows: "id state attach-time" (a time, or - for none); 48 h lifetime */
static void apply_setup(struct apply_case *c, const char *const *spec, size_t n)
{
	struct terminator_policy policy = { 48 };

	memset(c, 0, sizeof(*c));
	fake_aws_init(&c->fake);
	c->fake.now_ms = NOW_S * 1000;
	fake_ec2_attach(&c->sim, &c->fake);
	c->aws = fake_aws_client(&c->fake, 1);
	c->list.items = xcalloc(n, sizeof(*c->list.items));
	c->list.cap = n;
	for (size_t i = 0; i < n; i++) {
		char id[32], st[16], attach[32];
		assert_int_equal(sscanf(spec[i], "%31s %15s %31s", id, st, attach), 3);
		make_instance(&c->list.items[c->list.count++], id, st, "Name=builder",
			      "2026-11-26T23:00:00Z", strcmp(attach, "-") ? attach : NULL);
	}
	terminator_plan(&c->list, NOW_S, &policy, &c->plan);
}

static void apply_release(struct apply_case *c)
{
	terminator_result_release(&c->result);
	terminator_plan_release(&c->plan);
	ec2_instance_list_release(&c->list);
	aws_client_free(c->aws);
	fake_aws_release(&c->fake);
	fake_ec2_release(&c->sim);
}

static const char *const five_old[] = {
	"i-1 running " OLD, "i-2 stopped " OLD, "i-3 running " OLD,
	"i-4 stopping " OLD, "i-5 pending " OLD,
};

static void test_apply_batches(void **state)
{
	struct apply_case c;
	struct terminator_apply_options opts = { false, 2 };

	(void)state;
	apply_setup(&c, five_old, 5);
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.sim.terminate_calls, 3);
	assert_int_equal(c.sim.batch_sizes[0], 2);
	assert_int_equal(c.sim.batch_sizes[1], 2);
	assert_int_equal(c.sim.batch_sizes[2], 1);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-2 i-3 i-4 i-5 ");
	assert_int_equal(c.result.terminated.count, 5);
	assert_int_equal(c.result.failed.count, 0);
	assert_int_equal(c.result.kept_count, 0);
	assert_false(c.result.dry_run);
	apply_release(&c);

	/* one batch when it fits */
	apply_setup(&c, five_old, 5);
	opts.batch_size = 50;
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.sim.terminate_calls, 1);
	assert_int_equal(c.sim.batch_sizes[0], 5);
	apply_release(&c);
}

static void test_apply_refused_batch_goes_one_by_one(void **state)
{
	static const struct fake_ec2_refusal protected_ids[] = { PROTECTED("i-2"), { NULL } };
	struct apply_case c;
	struct terminator_apply_options opts = { false, 50 };
	char *json;

	(void)state;
	apply_setup(&c, five_old, 3);
	c.sim.refusals = protected_ids;
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.sim.terminate_calls, 4);	/* the batch, then each */
	assert_int_equal(c.sim.batch_sizes[0], 3);
	for (size_t i = 1; i < 4; i++)
		assert_int_equal(c.sim.batch_sizes[i], 1);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-3 ");
	json = terminator_result_json(&c.result);
	assert_string_equal(json, "{\"terminated\":[\"i-1\",\"i-3\"],\"kept\":[],"
				  "\"failed\":[{\"id\":\"i-2\",\"error\":\"OperationNotPermitted: "
				  "The instance may not be terminated.\"}],"
				  "\"dry_run\":false}");
	free(json);
	apply_release(&c);
}

static void test_apply_refusal_in_one_batch_leaves_the_next_alone(void **state)
{
	static const struct fake_ec2_refusal protected_ids[] = { PROTECTED("i-1"), { NULL } };
	struct apply_case c;
	struct terminator_apply_options opts = { false, 2 };

	(void)state;
	apply_setup(&c, five_old, 5);
	c.sim.refusals = protected_ids;
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	/* [i-1 i-2] refused, i-1, i-2, [i-3 i-4], [i-5] */
	assert_int_equal(c.sim.terminate_calls, 5);
	assert_int_equal(c.sim.batch_sizes[3], 2);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-2 i-3 i-4 i-5 ");
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-1");
	apply_release(&c);
}

static void test_apply_refused_single_is_not_retried(void **state)
{
	static const struct fake_ec2_refusal protected_ids[] = { PROTECTED("i-3"), { NULL } };
	struct apply_case c;
	struct terminator_apply_options opts = { false, 2 };

	(void)state;
	apply_setup(&c, five_old, 3);
	c.sim.refusals = protected_ids;
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	/* [i-1 i-2], then [i-3] alone: refused once, reported */
	assert_int_equal(c.sim.terminate_calls, 2);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-2 ");
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-3");
	apply_release(&c);
}

static void test_apply_not_found(void **state)
{
	static const struct fake_ec2_refusal gone_ids[] = { GONE("i-3"), { NULL } };
	struct apply_case c;
	struct terminator_apply_options opts = { false, 50 };

	(void)state;
	apply_setup(&c, five_old, 4);
	c.sim.refusals = gone_ids;
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "i-1 i-2 i-4 ");
	assert_int_equal(c.result.failed.count, 1);
	assert_string_equal(c.result.failed.items[0].id, "i-3");
	assert_string_equal(c.result.failed.items[0].text,
			    "InvalidInstanceID.NotFound: The instance ID does not exist");
	apply_release(&c);
}

static void test_apply_every_refusal_is_reported(void **state)
{
	struct apply_case c;
	struct terminator_apply_options opts = { false, 50 };

	(void)state;
	apply_setup(&c, five_old, 3);
	c.sim.fail_code = "UnauthorizedOperation";
	c.sim.fail_status = 403;
	c.sim.fail_message = "You are not authorized to perform this operation.";
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	/* a denied batch is about the call, not an instance: never split */
	assert_int_equal(c.sim.terminate_calls, 1);
	assert_int_equal(c.result.terminated.count, 0);
	assert_int_equal(c.result.failed.count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_non_null(strstr(c.result.failed.items[i].text, "UnauthorizedOperation"));
	apply_release(&c);
}

static void test_apply_dry_run(void **state)
{
	struct apply_case c;
	struct terminator_apply_options opts = { true, 2 };
	char *json;

	(void)state;
	apply_setup(&c, five_old, 3);
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_string_equal(buf_cstr(&c.sim.acted), "");	/* nothing changed */
	assert_int_equal(c.sim.terminate_calls, 2);
	assert_int_equal(c.sim.dry_runs, 2);			/* every call was a DryRun */
	for (size_t i = 0; i < FAKE_MAX && i < c.fake.calls; i++)
		assert_true(fake_aws_body_has(&c.fake, i, "DryRun=true"));
	json = terminator_result_json(&c.result);
	assert_string_equal(json, "{\"terminated\":[\"i-1\",\"i-2\",\"i-3\"],\"kept\":[],"
				  "\"failed\":[],\"dry_run\":true}");
	free(json);
	apply_release(&c);
}

static void test_apply_keeps_and_ignores_without_calls(void **state)
{
	static const char *const spec[] = {
		"i-young running 2026-11-25T00:30:00Z",	/* 47.5 h */
		"i-gone terminated 2026-11-20T00:00:00Z",
		"i-new pending -",			/* launched an hour ago */
		"i-exact stopped 2026-11-25T00:00:00Z",	/* 48.0 h */
	};
	struct apply_case c;
	struct terminator_apply_options opts = { false, 50 };
	char *json;

	(void)state;
	apply_setup(&c, spec, 4);
	terminator_apply(c.aws, &c.plan, &opts, &c.result);
	assert_int_equal(c.fake.calls, 0);
	json = terminator_result_json(&c.result);
	assert_string_equal(json, "{\"terminated\":[],"
				  "\"kept\":[{\"id\":\"i-young\",\"age_hours\":47.5},"
				  "{\"id\":\"i-new\",\"age_hours\":1},"
				  "{\"id\":\"i-exact\",\"age_hours\":48}],"
				  "\"failed\":[],\"dry_run\":false}");
	free(json);
	apply_release(&c);
}

static void test_result_json_unknown_age(void **state)
{
	struct terminator_result r = { 0 };
	char *json;

	(void)state;
	r.kept = xcalloc(2, sizeof(*r.kept));
	r.kept[0] = (struct terminator_kept){ xstrdup("i-a"), -1 };
	r.kept[1] = (struct terminator_kept){ xstrdup("i-b"), 73 * HOUR + 720 };
	r.kept_count = 2;
	json = terminator_result_json(&r);
	assert_string_equal(json, "{\"terminated\":[],"
				  "\"kept\":[{\"id\":\"i-a\",\"age_hours\":null},"
				  "{\"id\":\"i-b\",\"age_hours\":73.2}],"
				  "\"failed\":[],\"dry_run\":false}");
	free(json);
	terminator_result_release(&r);
	assert_null(r.kept);
}

/* ---- the handler ---- */

/*
 * A DescribeInstances page: one instance per "id state attach launch Name
 * [asg]" row (times ISO 8601, "-" for none).
 */
static char *describe_page(const char *const *rows, size_t n)
{
	struct buf b = BUF_INIT;

	buf_appends(&b, "<DescribeInstancesResponse "
			"xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
			"<requestId>r-1</requestId><reservationSet><item>"
			"<reservationId>r-0a</reservationId><instancesSet>");
	for (size_t i = 0; i < n; i++) {
		char id[32], st[16], attach[32], launch[32], name[32], asg[32] = "";
		assert_true(sscanf(rows[i], "%31s %15s %31s %31s %31s %31s", id, st, attach, launch,
				   name, asg) >= 5);
		buf_appendf(&b, "<item><instanceId>%s</instanceId><instanceState><code>16</code>"
				"<name>%s</name></instanceState>"
				"<instanceType>t3.large</instanceType>",
			    id, st);
		if (strcmp(launch, "-"))
			buf_appendf(&b, "<launchTime>%s</launchTime>", launch);
		buf_appendf(&b, "<tagSet><item><key>Name</key><value>%s</value></item>", name);
		if (*asg)
			buf_appendf(&b, "<item><key>aws:autoscaling:groupName</key>"
					"<value>%s</value></item>",
				    asg);
		buf_appends(&b, "</tagSet><networkInterfaceSet>");
		/* a secondary interface attached later must not count */
		buf_appends(&b, "<item><attachment>"
				"<attachTime>2026-11-26T23:59:00.000Z</attachTime>"
				"<deviceIndex>1</deviceIndex></attachment></item>");
		if (strcmp(attach, "-"))
			buf_appendf(&b, "<item><attachment><attachTime>%s</attachTime>"
					"<deviceIndex>0</deviceIndex></attachment></item>",
				    attach);
		buf_appends(&b, "</networkInterfaceSet></item>");
	}
	buf_appends(&b, "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
	return buf_detach(&b);
}

static const char *const fleet[] = {
	/* 64 h by its interface, though restarted an hour ago */
	"i-0b01 running 2026-11-24T08:00:00.000Z 2026-11-26T23:00:00.000Z nightly-1",
	"i-0b02 stopped 2026-11-26T12:00:00.000Z 2026-11-26T12:00:00.000Z nightly-2",
	"i-0b03 stopped - 2026-11-20T00:00:00.000Z nightly-3",
	"i-0b04 running 2026-11-20T00:00:00.000Z 2026-11-20T00:00:00.000Z agent drone-agents",
	"i-0b05 shutting-down 2026-11-20T00:00:00.000Z 2026-11-20T00:00:00.000Z nightly-0",
};

struct handler_case {
	struct fake_aws fake;
	struct fake_ec2 sim;
	char *page;
	void *state;
	struct lambda_response resp;
	struct buf err;
};

static void handler_setup(struct handler_case *h)
{
	memset(h, 0, sizeof(*h));
	fake_aws_init(&h->fake);
	h->fake.now_ms = NOW_S * 1000;
	fake_ec2_attach(&h->sim, &h->fake);
	h->page = describe_page(fleet, ARRAY_SIZE(fleet));
	h->sim.describe_body = h->page;
	assert_int_equal(terminator_init_with(fake_aws_client(&h->fake, 1), &h->state, &h->err), 0);
	assert_non_null(h->state);
}

static void handler_invoke(struct handler_case *h, const char *payload)
{
	struct lambda_request req = {
		.payload = view_from(payload),
		.request_id = "req-1",
		.function_arn = "",
		.deadline_ms = NOW_S * 1000 + 60000,
	};
	terminator_handle(h->state, &req, &h->resp);
}

static void handler_release(struct handler_case *h)
{
	terminator_release(h->state);
	lambda_response_release(&h->resp);
	buf_release(&h->err);
	fake_ec2_release(&h->sim);
	free(h->page);
	fake_aws_release(&h->fake);
}

static void test_handler_runs_the_plan(void **state)
{
	struct handler_case h;
	const char *q;

	(void)state;
	handler_setup(&h);
	handler_invoke(&h, "{}");
	assert_false(h.resp.failed);
	assert_string_equal(buf_cstr(&h.resp.payload),
			    "{\"terminated\":[\"i-0b01\",\"i-0b03\"],"
			    "\"kept\":[{\"id\":\"i-0b02\",\"age_hours\":12},"
			    "{\"id\":\"i-0b04\",\"age_hours\":168}],"
			    "\"failed\":[],\"dry_run\":false}");
	assert_string_equal(buf_cstr(&h.sim.acted), "i-0b01 i-0b03 ");
	/* the listing: the default filter plus the four billed states */
	assert_int_equal(h.sim.describes, 1);
	q = buf_cstr(&h.fake.bodies[0]);
	assert_non_null(strstr(q, "Filter.1.Name=tag%3Adevcloud%3Arole&Filter.1.Value.1=builder"));
	assert_non_null(strstr(q, "Filter.2.Name=instance-state-name&Filter.2.Value.1=pending&"
				  "Filter.2.Value.2=running&Filter.2.Value.3=stopping&"
				  "Filter.2.Value.4=stopped"));
	assert_null(strstr(q, "Filter.3."));
	handler_release(&h);
}

static void test_handler_overrides(void **state)
{
	struct handler_case h;
	size_t calls;
	const char *q;

	(void)state;
	handler_setup(&h);
	/* 200 h: nothing is old enough; a filter of states of the caller's own */
	handler_invoke(&h, "{\"builder_lifetime_hours\": 200, \"dry_run\": true, "
			   "\"builder_filters\": "
			   "\"tag:Name=nightly-*;instance-state-name=stopped\"}");
	assert_false(h.resp.failed);
	assert_string_equal(buf_cstr(&h.resp.payload),
			    "{\"terminated\":[],\"kept\":[{\"id\":\"i-0b01\",\"age_hours\":64},"
			    "{\"id\":\"i-0b02\",\"age_hours\":12},"
			    "{\"id\":\"i-0b03\",\"age_hours\":168},"
			    "{\"id\":\"i-0b04\",\"age_hours\":168}],"
			    "\"failed\":[],\"dry_run\":true}");
	q = buf_cstr(&h.fake.bodies[0]);
	/* the event's filters come after the configured ones: EC2 needs both to match */
	assert_non_null(strstr(q, "Filter.1.Name=tag%3Adevcloud%3Arole&Filter.1.Value.1=builder&"
				  "Filter.2.Name=tag%3AName&Filter.2.Value.1=nightly-%2A&"
				  "Filter.3.Name=instance-state-name&Filter.3.Value.1=stopped"));
	assert_null(strstr(q, "Filter.4."));
	assert_null(strstr(q, "running"));
	assert_int_equal(h.sim.terminate_calls, 0);

	/* a shorter lifetime than configured (48 h) is refused: nothing runs */
	lambda_response_release(&h.resp);
	calls = h.fake.calls;
	handler_invoke(&h, "{\"builder_lifetime_hours\": 1, \"dry_run\": true}");
	assert_true(h.resp.failed);
	assert_string_equal(h.resp.error_type, "Terminator.InvalidEvent");
	assert_non_null(strstr(buf_cstr(&h.resp.error_message),
			       "'builder_lifetime_hours' (1) cannot be below BUILDER_LIFETIME_HOURS "
			       "(48)"));
	assert_int_equal(h.fake.calls, calls);	/* nothing was called */
	assert_int_equal(h.sim.dry_runs, 0);

	/* a longer one is honoured: a dry run then terminates only the oldest */
	lambda_response_release(&h.resp);
	handler_invoke(&h, "{\"builder_lifetime_hours\": 100, \"dry_run\": true}");
	assert_false(h.resp.failed);
	assert_non_null(strstr(buf_cstr(&h.resp.payload), "\"terminated\":[\"i-0b03\"]"));
	assert_int_equal(h.sim.dry_runs, 1);
	assert_string_equal(buf_cstr(&h.sim.acted), "");
	handler_release(&h);
}

static void test_handler_failures_come_after_the_rest(void **state)
{
	static const struct fake_ec2_refusal protected_ids[] = { PROTECTED("i-0b01"), { NULL } };
	struct handler_case h;

	(void)state;
	handler_setup(&h);
	h.sim.refusals = protected_ids;
	handler_invoke(&h, "{\"source\": \"aws.events\", \"detail-type\": \"Scheduled Event\", "
			   "\"detail\": {}}");
	assert_true(h.resp.failed);
	assert_string_equal(h.resp.error_type, "Terminator.InstancesNotTerminated");
	assert_string_equal(buf_cstr(&h.resp.error_message),
			    "1 instance not terminated: i-0b01 (OperationNotPermitted: "
			    "The instance may not be terminated.)");
	assert_string_equal(buf_cstr(&h.sim.acted), "i-0b03 ");
	/* the result is kept alongside the error */
	assert_non_null(strstr(buf_cstr(&h.resp.payload), "\"terminated\":[\"i-0b03\"]"));
	handler_release(&h);
}

static void test_handler_list_failure_terminates_nothing(void **state)
{
	struct handler_case h;

	(void)state;
	handler_setup(&h);
	h.sim.describe_status = 403;
	h.sim.describe_body = "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
			      "<Message>You are not authorized to perform this operation.</Message>"
			      "</Error></Errors><RequestID>r-2</RequestID></Response>";
	handler_invoke(&h, "{}");
	assert_true(h.resp.failed);
	assert_string_equal(h.resp.error_type, "Terminator.ListFailed");
	assert_string_equal(buf_cstr(&h.resp.error_message),
			    "cannot list instances (tag:devcloud:role=builder): "
			    "UnauthorizedOperation: You are not authorized to perform this "
			    "operation.; nothing was terminated");
	assert_int_equal(h.sim.terminate_calls, 0);
	assert_int_equal(h.fake.calls, 1);
	handler_release(&h);
}

static void test_handler_page_that_cannot_be_read_terminates_nothing(void **state)
{
	struct handler_case h;

	(void)state;
	handler_setup(&h);
	/* an instance without its state: the whole listing is refused */
	h.sim.describe_body = "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
			      "<item><instanceId>i-0b01</instanceId></item>"
			      "</instancesSet></item></reservationSet></DescribeInstancesResponse>";
	handler_invoke(&h, "{}");
	assert_true(h.resp.failed);
	assert_string_equal(h.resp.error_type, "Terminator.ListFailed");
	assert_non_null(strstr(buf_cstr(&h.resp.error_message), "nothing was terminated"));
	assert_int_equal(h.sim.terminate_calls, 0);
	handler_release(&h);
}

struct event_row {
	const char *name;
	const char *payload;
	const char *message_has;
};

static const struct event_row event_rows[] = {
	{ "unknown-key", "{\"dry_runn\": true}", "'dry_runn'" },
	{ "stopper-key", "{\"instance_filters\": \"tag:a=b\"}", "'instance_filters'" },
	{ "dry-run-as-string", "{\"dry_run\": \"true\"}", "'dry_run' must be true or false" },
	{ "lifetime-as-string", "{\"builder_lifetime_hours\": \"48\"}",
	  "'builder_lifetime_hours' must be a whole number" },
	{ "lifetime-fraction", "{\"builder_lifetime_hours\": 1.5}", "'builder_lifetime_hours'" },
	{ "lifetime-zero", "{\"builder_lifetime_hours\": 0}",
	  "'builder_lifetime_hours' (0) cannot be below BUILDER_LIFETIME_HOURS (48)" },
	{ "lifetime-negative", "{\"builder_lifetime_hours\": -48}", "(-48) cannot be below" },
	{ "lifetime-shorter", "{\"builder_lifetime_hours\": 47}", "(47) cannot be below" },
	{ "lifetime-over-a-year", "{\"builder_lifetime_hours\": 8761}",
	  "must be a whole number from 48 to 8760, got 8761" },
	{ "scheduled-unknown-key",
	  "{\"source\": \"aws.events\", \"detail-type\": \"Scheduled Event\", \"dryrun\": true}",
	  "unknown key 'dryrun' in the scheduled event" },
	{ "filters-as-number", "{\"builder_filters\": 1}", "'builder_filters' must be a string" },
	{ "filters-without-value", "{\"builder_filters\": \"tag:devcloud:role\"}",
	  "builder_filters" },
	{ "filters-empty", "{\"builder_filters\": \"\"}", "builder_filters" },
	{ "not-json", "{\"dry_run\": tru", "not valid JSON" },
	{ "array", "[{\"dry_run\": true}]", "JSON object" },
	{ "twice", "{\"dry_run\": true, \"dry_run\": false}", "twice" },
};

static void test_bad_event(void **state)
{
	const struct event_row *row = *state;
	struct handler_case h;

	handler_setup(&h);
	handler_invoke(&h, row->payload);
	assert_true(h.resp.failed);
	assert_string_equal(h.resp.error_type, "Terminator.InvalidEvent");
	if (!strstr(buf_cstr(&h.resp.error_message), row->message_has))
		fail_msg("message '%s' lacks '%s'", buf_cstr(&h.resp.error_message),
			 row->message_has);
	assert_int_equal(h.fake.calls, 0);	/* nothing ran */
	assert_int_equal(h.resp.payload.len, 0);
	handler_release(&h);
}

struct config_row {
	const char *name;
	const char *var, *value;
	const char *message_has;	/* NULL: accepted */
};

static const struct config_row config_rows[] = {
	{ "lifetime-0", "BUILDER_LIFETIME_HOURS", "0", "BUILDER_LIFETIME_HOURS" },
	{ "lifetime-8761", "BUILDER_LIFETIME_HOURS", "8761", "BUILDER_LIFETIME_HOURS" },
	{ "lifetime-words", "BUILDER_LIFETIME_HOURS", "two days", "BUILDER_LIFETIME_HOURS" },
	{ "lifetime-1", "BUILDER_LIFETIME_HOURS", "1", NULL },
	{ "lifetime-8760", "BUILDER_LIFETIME_HOURS", "8760", NULL },
	{ "batch-0", "TERMINATE_BATCH_SIZE", "0", "TERMINATE_BATCH_SIZE" },
	{ "batch-1001", "TERMINATE_BATCH_SIZE", "1001", "TERMINATE_BATCH_SIZE" },
	{ "batch-1000", "TERMINATE_BATCH_SIZE", "1000", NULL },
	{ "filters-no-value", "BUILDER_FILTERS", "tag:devcloud:role", "BUILDER_FILTERS" },
	{ "filters-blank", "BUILDER_FILTERS", " ; ", "BUILDER_FILTERS" },
	{ "dry-run-yes", "DRY_RUN", "yes", "DRY_RUN" },
	{ "dry-run-TRUE", "DRY_RUN", "TRUE", NULL },
};

static void test_config(void **state)
{
	const struct config_row *row = *state;
	struct fake_aws fake;
	struct buf err = BUF_INIT;
	void *s = NULL;
	int rc;

	fake_aws_init(&fake);
	assert_int_equal(setenv(row->var, row->value, 1), 0);
	rc = terminator_init_with(fake_aws_client(&fake, 1), &s, &err);
	assert_int_equal(unsetenv(row->var), 0);
	if (row->message_has) {
		assert_int_equal(rc, ERR_CONFIG);
		assert_null(s);
		if (!strstr(buf_cstr(&err), row->message_has))
			fail_msg("message '%s' lacks '%s'", buf_cstr(&err), row->message_has);
	} else {
		assert_int_equal(rc, 0);
		assert_non_null(s);
	}
	terminator_release(s);
	buf_release(&err);
	fake_aws_release(&fake);
}

static void test_help_names_every_setting(void **state)
{
	static const char *const names[] = { "BUILDER_FILTERS", "BUILDER_LIFETIME_HOURS",
					     "TERMINATE_BATCH_SIZE", "DRY_RUN", "AWS_REGION",
					     "builder_lifetime_hours", "builder_filters" };
	struct buf help = BUF_INIT;

	(void)state;
	terminator_help(&help);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strstr(buf_cstr(&help), names[i]))
			fail_msg("--help does not mention %s", names[i]);
	buf_release(&help);
}

int main(void)
{
	static const char *const settings[] = { "BUILDER_FILTERS", "BUILDER_LIFETIME_HOURS",
						"TERMINATE_BATCH_SIZE", "DRY_RUN" };

	/* the tests set these themselves; the caller's must not leak in */
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		unsetenv(settings[i]);
	for (size_t i = 0; i < ARRAY_SIZE(plan_rows); i++)
		table_add("plan", plan_rows[i].name, test_plan_row, (void *)&plan_rows[i]);
	table_add("plan", "keeps-order-and-count", test_plan_keeps_order_and_count, NULL);
	table_add("apply", "batches", test_apply_batches, NULL);
	table_add("apply", "refused-batch-one-by-one", test_apply_refused_batch_goes_one_by_one,
		  NULL);
	table_add("apply", "refusal-leaves-next-batch-alone",
		  test_apply_refusal_in_one_batch_leaves_the_next_alone, NULL);
	table_add("apply", "refused-single-not-retried", test_apply_refused_single_is_not_retried,
		  NULL);
	table_add("apply", "not-found", test_apply_not_found, NULL);
	table_add("apply", "every-refusal-reported", test_apply_every_refusal_is_reported, NULL);
	table_add("apply", "dry-run", test_apply_dry_run, NULL);
	table_add("apply", "keeps-and-ignores-without-calls",
		  test_apply_keeps_and_ignores_without_calls, NULL);
	table_add("result", "unknown-age-is-null", test_result_json_unknown_age, NULL);
	table_add("handler", "runs-the-plan", test_handler_runs_the_plan, NULL);
	table_add("handler", "overrides", test_handler_overrides, NULL);
	table_add("handler", "failures-after-the-rest", test_handler_failures_come_after_the_rest,
		  NULL);
	table_add("handler", "list-failure", test_handler_list_failure_terminates_nothing, NULL);
	table_add("handler", "unreadable-page",
		  test_handler_page_that_cannot_be_read_terminates_nothing, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(event_rows); i++)
		table_add("bad-event", event_rows[i].name, test_bad_event, (void *)&event_rows[i]);
	for (size_t i = 0; i < ARRAY_SIZE(config_rows); i++)
		table_add("config", config_rows[i].name, test_config, (void *)&config_rows[i]);
	table_add("help", "names-every-setting", test_help_names_every_setting, NULL);
	return table_run("terminator");
}
