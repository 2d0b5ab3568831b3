/* The scaler's pure planner, by tables of cases: one case per line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scaler/scaler_plan.h"
#include "table.h"
#include "banned.h"

#define NOW_S 1795737600LL /* 2026-11-27T00:00:00Z */
#define NEVER -1

/* the base rule alone: no warm agents, no headroom */
static const struct scaler_policy base = {
	.agents_per_instance = 4, .scale_in_cooldown_minutes = 3, .min_instance_age_minutes = 5,
	.max_scale_in_per_run = 3, .warm_agents = 0, .pending_headroom_percent = 0,
};
static const struct scaler_policy defaults = SCALER_POLICY_DEFAULT;

struct plan_case {
	const char *name;
	const struct scaler_policy *policy;
	size_t pending, running;
	bool queue_known, complete;
	size_t desired, min, max;
	/*
	 * members, space separated: id:state:age_minutes[:flags], state P
	 * (Pending), I (InService), S (Standby), T (Terminating); flags b busy,
	 * d marked draining, s marked on a Spot warning, u unhealthy, p not
	 * protected, n runner name unknown
	 */
	const char *members;
	int last_scale_out_min_ago;	/* NEVER: unknown */
	size_t want_desired;
	bool want_scale_out;
	const char *want_drain, *want_detach, *want_undo;	/* ids, space separated, in order */
	const char *note_id, *note_has;				/* a skipped action that must be there */
};

#define Q1 true, true /* queue known, inputs complete */

static const struct plan_case cases[] = {
	{ "empty-queue-empty-group", &base, 0, 0, Q1, 0, 0, 25, "", NEVER, 0, false, "", "", "", NULL, NULL },
	{ "empty-queue-idle-drained", &base, 0, 0, Q1, 1, 0, 25, "a:I:30", NEVER, 0, false, "a", "", "", NULL, NULL },
	{ "burst", &base, 20, 0, Q1, 0, 0, 25, "", NEVER, 5, true, "", "", "", NULL, NULL },
	{ "burst-rounds-up", &base, 21, 0, Q1, 0, 0, 25, "", NEVER, 6, true, "", "", "", NULL, NULL },
	{ "burst-on-running", &base, 6, 6, Q1, 2, 0, 25, "a:I:30:b b:I:30:b", NEVER, 3, true, "", "", "", NULL, NULL },
	{ "steady-load", &base, 0, 8, Q1, 2, 0, 25, "a:I:30:b b:I:30:b", 30, 2, false, "", "", "", NULL, NULL },
	{ "busy-never-drained", &base, 0, 3, Q1, 3, 0, 25, "a:I:30:b b:I:20:b c:I:10", NEVER, 2, false, "c", "", "", "b", "busy" },
	{ "busy-only-surplus", &base, 0, 2, Q1, 2, 0, 25, "a:I:30:b b:I:20:b", NEVER, 2, false, "", "", "", "a", "busy" },
	{ "launching-no-double", &base, 8, 0, Q1, 2, 0, 25, "a:P:1 b:P:1", NEVER, 2, false, "", "", "", NULL, NULL },
	{ "launching-plus-more", &base, 12, 0, Q1, 2, 0, 25, "a:P:1 b:P:1", NEVER, 3, true, "", "", "", NULL, NULL },
	{ "not-listed-yet", &base, 8, 0, Q1, 2, 0, 25, "", NEVER, 2, false, "", "", "", NULL, NULL },
	{ "launching-never-drained", &base, 0, 0, Q1, 2, 0, 25, "a:P:20 b:P:20", NEVER, 2, false, "", "", "", NULL, NULL },
	{ "draining-counts-nothing", &base, 0, 4, Q1, 2, 0, 25, "a:I:30:b b:I:30:d", NEVER, 1, false, "", "b", "", NULL, NULL },
	{ "draining-replaced", &base, 4, 4, Q1, 2, 0, 25, "a:I:30:b b:I:30:d", NEVER, 2, true, "", "b", "", NULL, NULL },
	{ "spot-busy-kept-replaced", &base, 0, 8, Q1, 2, 0, 25, "a:I:30:b b:I:30:sb", NEVER, 3, true, "", "", "", "b", "Spot" },
	{ "spot-idle-detached", &base, 0, 4, Q1, 2, 0, 25, "a:I:30:b b:I:30:s", NEVER, 1, false, "", "b", "", NULL, NULL },
	{ "undo-stage-landed", &base, 0, 4, Q1, 1, 0, 25, "a:I:30:db", NEVER, 1, false, "", "", "a", NULL, NULL },
	{ "undo-counts-as-capacity", &base, 4, 4, Q1, 2, 0, 25, "a:I:30:db b:I:30:b", NEVER, 2, false, "", "", "a", NULL, NULL },
	{ "max-bound", &base, 200, 0, Q1, 3, 0, 25, "", NEVER, 25, true, "", "", "", "asg", "maximum (25)" },
	{ "at-max-no-scale-out", &base, 200, 0, Q1, 25, 0, 25, "", NEVER, 25, false, "", "", "", "asg", "maximum" },
	{ "min-bound-scale-out", &base, 1, 0, Q1, 0, 2, 25, "", NEVER, 2, true, "", "", "", NULL, NULL },
	{ "min-bound-no-drain", &base, 0, 0, Q1, 2, 2, 25, "a:I:30 b:I:40", NEVER, 2, false, "", "", "", "a", "minimum (2)" },
	{ "min-bound-one-drained", &base, 0, 0, Q1, 2, 1, 25, "a:I:30 b:I:40", NEVER, 1, false, "a", "", "", "b", "minimum (1)" },
	{ "min-bound-detach-held", &base, 0, 0, Q1, 1, 1, 25, "a:I:30:d", NEVER, 1, false, "", "", "", "a", "minimum" },
	{ "cooldown-holds", &base, 0, 0, Q1, 1, 0, 25, "a:I:30", 1, 1, false, "", "", "", "asg", "cooldown 3 minutes" },
	{ "cooldown-over", &base, 0, 0, Q1, 1, 0, 25, "a:I:30", 3, 0, false, "a", "", "", NULL, NULL },
	{ "min-age-holds", &base, 0, 0, Q1, 1, 0, 25, "a:I:4", NEVER, 1, false, "", "", "", "a", "launched 240 s ago" },
	{ "min-age-reached", &base, 0, 0, Q1, 1, 0, 25, "a:I:5", NEVER, 0, false, "a", "", "", NULL, NULL },
	{ "max-per-run", &base, 0, 0, Q1, 5, 0, 25, "a:I:10 b:I:20 c:I:30 d:I:40 e:I:50", NEVER, 2, false, "a b c", "", "", "d", "at most 3" },
	{ "newest-first", &base, 0, 4, Q1, 3, 0, 25, "a:I:60:b b:I:10 c:I:30", NEVER, 1, false, "b c", "", "", NULL, NULL },
	{ "newest-first-partial", &base, 0, 9, Q1, 4, 0, 25, "a:I:60:b b:I:50 c:I:10:b d:I:30", NEVER, 3, false, "d", "", "", "c", "busy" },
	{ "incomplete-no-scale-in", &base, 0, 0, true, false, 2, 0, 25, "a:I:30 b:I:30", NEVER, 2, false, "", "", "", "asg", "could not be read" },
	{ "incomplete-scale-out", &base, 12, 0, true, false, 1, 0, 25, "a:I:30:b", NEVER, 3, true, "", "", "", NULL, NULL },
	{ "incomplete-no-undo", &base, 0, 4, true, false, 1, 0, 25, "a:I:30:db", NEVER, 2, true, "", "", "", "a", "left as it is" },
	{ "queue-unknown-holds", &base, 0, 0, false, true, 3, 0, 25, "a:I:30 b:I:30 c:I:30", NEVER, 3, false, "", "", "", "asg", "queue could not be read" },
	{ "queue-unknown-no-detach", &base, 0, 0, false, true, 1, 0, 25, "a:I:30:d", NEVER, 1, false, "", "", "", "a", "left as it is" },
	{ "unhealthy-replacement-coming", &base, 4, 0, Q1, 1, 0, 25, "a:I:30:u", NEVER, 1, false, "", "", "", NULL, NULL },
	{ "unhealthy-never-drained", &base, 0, 0, Q1, 1, 0, 25, "a:I:30:u", NEVER, 1, false, "", "", "", NULL, NULL },
	{ "standby-counts-nothing", &base, 4, 0, Q1, 0, 0, 25, "a:S:30", NEVER, 1, true, "", "", "", NULL, NULL },
	{ "terminating-slot-refilled", &base, 4, 0, Q1, 1, 0, 25, "a:T:30", NEVER, 1, false, "", "", "", NULL, NULL },
	{ "runner-unknown-kept", &base, 0, 0, Q1, 1, 0, 25, "a:I:30:n", NEVER, 1, false, "", "", "", "a", "runner name is unknown" },
	{ "unprotected-reported", &base, 0, 4, Q1, 1, 0, 25, "a:I:30:bp", NEVER, 1, false, "", "", "", "a", "not protected" },
	/* the defaults: one warm agent and a quarter of pending while there is work */
	{ "defaults-headroom", &defaults, 8, 4, Q1, 0, 0, 25, "", NEVER, 4, true, "", "", "", NULL, NULL },
	{ "defaults-warm-agent", &defaults, 0, 4, Q1, 1, 0, 25, "a:I:30:b", NEVER, 2, true, "", "", "", NULL, NULL },
	{ "defaults-no-warm-when-quiet", &defaults, 0, 0, Q1, 1, 0, 25, "a:I:30", NEVER, 0, false, "a", "", "", NULL, NULL },
};

struct members {
	struct scaler_member items[8];
	char *strings[32];
	size_t count, nstrings;
};

static const char *keep(struct members *ms, char *s)
{
	assert_true(ms->nstrings < ARRAY_SIZE(ms->strings));
	ms->strings[ms->nstrings++] = s;
	return s;
}

static void make_members(const char *spec, struct members *ms)
{
	memset(ms, 0, sizeof(*ms));
	for (const char *p = spec; *p;) {
		const char *end = strchr(p, ' ');
		char *tok = end ? xstrndup(p, (size_t)(end - p)) : xstrdup(p);
		char *id = tok, *state = strchr(id, ':'), *age, *flags;
		struct scaler_member *m = &ms->items[ms->count++];
		struct buf runner = BUF_INIT;

		assert_non_null(state);
		*state++ = '\0';
		age = strchr(state, ':');
		assert_non_null(age);
		*age++ = '\0';
		flags = strchr(age, ':');
		if (flags)
			*flags++ = '\0';
		else
			flags = age + strlen(age);
		buf_appendf(&runner, "runner-%s", id);
		m->instance_id = keep(ms, xstrdup(id));
		m->runner_name = strchr(flags, 'n') ? NULL : keep(ms, buf_detach(&runner));
		m->lifecycle_state = *state == 'P' ? "Pending" : *state == 'I' ? "InService"
				   : *state == 'S' ? "Standby" : "Terminating";
		m->launch_time_s = NOW_S - strtoll(age, NULL, 10) * 60;
		m->healthy = !strchr(flags, 'u');
		m->protected_from_scale_in = !strchr(flags, 'p');
		m->busy = strchr(flags, 'b') != NULL;
		m->spot_interrupted = strchr(flags, 's') != NULL;
		m->draining_since_s = strchr(flags, 'd') || m->spot_interrupted ? NOW_S - 60 : 0;
		buf_release(&runner);
		free(tok);
		p = end ? end + 1 : p + strlen(p);
	}
}

static void release_members(struct members *ms)
{
	for (size_t i = 0; i < ms->nstrings; i++)
		free(ms->strings[i]);
}

static void assert_ids(const char *what, const struct id_list *got, const char *want)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < got->count; i++)
		buf_appendf(&b, "%s%s", i ? " " : "", got->items[i]);
	if (strcmp(buf_cstr(&b), want))
		fail_msg("%s: got '%s', want '%s'", what, buf_cstr(&b), want);
	buf_release(&b);
}

static void test_plan(void **state)
{
	const struct plan_case *c = *state;
	struct members ms;
	struct scaler_inputs in = { 0 };
	struct scaler_plan plan;

	make_members(c->members, &ms);
	in.queue.pending = c->pending;
	in.queue.running = c->running;
	in.queue_known = c->queue_known;
	in.complete = c->complete;
	in.group = (struct scaler_group){ "asg", c->desired, c->min, c->max };
	in.members = ms.items;
	in.member_count = ms.count;
	in.last_scale_out_s = c->last_scale_out_min_ago == NEVER ? 0
				  : NOW_S - c->last_scale_out_min_ago * 60;
	in.now_s = NOW_S;

	scaler_plan(&in, c->policy, &plan);
	assert_non_null(plan.reason);
	if (plan.desired_after != c->want_desired || plan.scale_out != c->want_scale_out)
		fail_msg("desired %zu scale-out %d, want %zu %d (%s)", plan.desired_after,
			 plan.scale_out, c->want_desired, c->want_scale_out, plan.reason);
	assert_int_equal(plan.desired_before, c->desired);
	assert_ids("drain", &plan.drain, c->want_drain);
	assert_ids("detach", &plan.detach, c->want_detach);
	assert_ids("undo", &plan.undo, c->want_undo);
	/* a busy member is never drained nor detached, whatever the case */
	for (size_t i = 0; i < ms.count; i++)
		if (ms.items[i].busy) {
			assert_false(id_list_has(&plan.drain, ms.items[i].instance_id));
			assert_false(id_list_has(&plan.detach, ms.items[i].instance_id));
		}
	/* a scale-out raises the desired capacity by SetDesiredCapacity */
	if (plan.scale_out)
		assert_true(plan.scale_out_to > c->desired && plan.scale_out_to <= c->max);
	assert_true(plan.desired_after >= c->min || plan.desired_after == c->desired);
	assert_true(plan.desired_after <= c->max || plan.desired_after == c->desired);
	if (c->note_id) {
		const char *n = id_note_list_find(&plan.skipped, c->note_id);
		struct buf all = BUF_INIT;
		bool found = false;

		for (size_t i = 0; i < plan.skipped.count; i++) {
			buf_appendf(&all, "[%s: %s] ", plan.skipped.items[i].id,
				    plan.skipped.items[i].text);
			if (!strcmp(plan.skipped.items[i].id, c->note_id) &&
			    strstr(plan.skipped.items[i].text, c->note_has))
				found = true;
		}
		if (!n || !found)
			fail_msg("no note '%s' for '%s' in %s", c->note_has, c->note_id,
				 buf_cstr(&all));
		buf_release(&all);
	}
	scaler_plan_release(&plan);
	release_members(&ms);
}

static void test_lifecycle(void **state)
{
	static const struct {
		const char *s;
		enum scaler_lifecycle want;
	} rows[] = {
		{ "Pending", SCALER_LC_LAUNCHING },
		{ "Pending:Wait", SCALER_LC_LAUNCHING },
		{ "Pending:Proceed", SCALER_LC_LAUNCHING },
		{ "InService", SCALER_LC_IN_SERVICE },
		{ "Terminating", SCALER_LC_LEAVING },
		{ "Terminating:Wait", SCALER_LC_LEAVING },
		{ "Terminating:Proceed", SCALER_LC_LEAVING },
		{ "Terminated", SCALER_LC_LEAVING },
		{ "Detaching", SCALER_LC_LEAVING },
		{ "Detached", SCALER_LC_LEAVING },
		{ "EnteringStandby", SCALER_LC_STANDBY },
		{ "Standby", SCALER_LC_STANDBY },
		{ "Warmed:Running", SCALER_LC_UNKNOWN },
		{ "PendingX", SCALER_LC_UNKNOWN },
		{ "inservice", SCALER_LC_UNKNOWN },
		{ "", SCALER_LC_UNKNOWN },
		{ NULL, SCALER_LC_UNKNOWN },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		if (scaler_lifecycle_parse(rows[i].s) != rows[i].want)
			fail_msg("row %zu ('%s')", i, rows[i].s ? rows[i].s : "(null)");
}

static void test_mark_busy(void **state)
{
	static const char *const machines[] = { "runner-b", NULL, "runner-d", "runner-b" };
	struct scaler_member m[4] = {
		{ .instance_id = "a", .runner_name = "runner-a", .busy = true },
		{ .instance_id = "b", .runner_name = "runner-b" },
		{ .instance_id = "c", .runner_name = NULL },
		{ .instance_id = "d", .runner_name = "runner-d" },
	};
	struct scaler_queue q = { 0, 3, machines, ARRAY_SIZE(machines) };

	(void)state;
	scaler_mark_busy(m, ARRAY_SIZE(m), &q);
	assert_false(m[0].busy); /* recomputed, not kept */
	assert_true(m[1].busy);
	assert_false(m[2].busy); /* an unknown runner name matches nothing */
	assert_true(m[3].busy);
}

int main(void)
{
	table_add("scaler", "lifecycle", test_lifecycle, NULL);
	table_add("scaler", "mark-busy", test_mark_busy, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		table_add("plan", cases[i].name, test_plan, (void *)&cases[i]);
	return table_run("scaler_plan");
}
