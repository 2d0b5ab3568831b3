#include "scaler_plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

enum scaler_lifecycle scaler_lifecycle_parse(const char *s)
{
	if (!s)
		return SCALER_LC_UNKNOWN;
	if (!strcmp(s, "InService"))
		return SCALER_LC_IN_SERVICE;
	if (!strcmp(s, "Pending") || !strncmp(s, "Pending:", 8))
		return SCALER_LC_LAUNCHING;
	if (!strcmp(s, "Terminating") || !strncmp(s, "Terminating:", 12) ||
	    !strcmp(s, "Terminated") || !strcmp(s, "Detaching") || !strcmp(s, "Detached"))
		return SCALER_LC_LEAVING;
	if (!strcmp(s, "Standby") || !strcmp(s, "EnteringStandby"))
		return SCALER_LC_STANDBY;
	return SCALER_LC_UNKNOWN;
}

void scaler_mark_busy(struct scaler_member *members, size_t count, const struct scaler_queue *queue)
{
	for (size_t i = 0; i < count; i++) {
		const char *name = members[i].runner_name;

		members[i].busy = false;
		if (!name || !*name)
			continue;
		for (size_t j = 0; j < queue->running_machine_count; j++)
			if (queue->running_machines[j] && !strcmp(queue->running_machines[j], name)) {
				members[i].busy = true;
				break;
			}
	}
}

static size_t div_ceil(size_t a, size_t b)
{
	return (a + b - 1) / b;
}

static size_t clamp(size_t v, size_t lo, size_t hi)
{
	if (v > hi)
		v = hi;
	return v < lo ? lo : v;
}

/* A member that holds a slot of the group's desired capacity. */
static bool holds_slot(const struct scaler_member *m)
{
	enum scaler_lifecycle lc = scaler_lifecycle_parse(m->lifecycle_state);

	return lc == SCALER_LC_LAUNCHING || lc == SCALER_LC_IN_SERVICE;
}

static bool has_runner(const struct scaler_member *m)
{
	return m->runner_name && *m->runner_name;
}

static void note(struct scaler_plan *out, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct scaler_plan *out, const char *id, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	id_note_list_add(&out->skipped, id ? id : "", buf_cstr(&b));
	buf_release(&b);
}

/* newest first; ties by instance id, so the order never depends on the listing */
static int newest_first(const void *a, const void *b)
{
	const struct scaler_member *x = *(const struct scaler_member *const *)a;
	const struct scaler_member *y = *(const struct scaler_member *const *)b;

	if (x->launch_time_s != y->launch_time_s)
		return x->launch_time_s > y->launch_time_s ? -1 : 1;
	return strcmp(y->instance_id, x->instance_id);
}

struct tally {
	size_t live, launching, unhealthy, unfilled, marked, listed;
};

/* What a marked member still in the group becomes: undone (a stage landed
 * on it), detached (idle), or kept marked (reason noted). */
static bool is_undone(const struct scaler_member *m, bool can_act)
{
	return can_act && m->draining_since_s && !m->spot_interrupted && m->busy && holds_slot(m);
}

static void count(const struct scaler_inputs *in, bool can_act, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < in->member_count; i++) {
		const struct scaler_member *m = &in->members[i];

		if (!holds_slot(m))
			continue;
		t->listed++;
		if (m->draining_since_s && !is_undone(m, can_act))
			t->marked++;
		else if (!m->healthy)
			t->unhealthy++; /* the group replaces it: a slot that will serve */
		else if (scaler_lifecycle_parse(m->lifecycle_state) == SCALER_LC_LAUNCHING)
			t->launching++;
		else
			t->live++;
	}
	t->unfilled = in->group.desired > t->listed ? in->group.desired - t->listed : 0;
}

/* Marked members still in the group: undo, detach or keep, within the minimum. */
static void finish_marked(const struct scaler_inputs *in, bool can_act, size_t base,
			  struct scaler_plan *out)
{
	for (size_t i = 0; i < in->member_count; i++) {
		const struct scaler_member *m = &in->members[i];

		if (!m->draining_since_s || !holds_slot(m))
			continue;
		if (!can_act) {
			note(out, m->instance_id, "marked for draining, left as it is: the queue or a "
				  "listing could not be read");
		} else if (is_undone(m, can_act)) {
			id_list_add(&out->undo, m->instance_id);
		} else if (!has_runner(m)) {
			note(out, m->instance_id, "marked for draining, not detached: its runner name "
				  "is unknown, so whether it is busy is unknown");
		} else if (m->busy) {
			note(out, m->instance_id, "interrupted (Spot), not detached: a stage still runs "
				  "on it");
		} else if (base < in->group.min + out->detach.count + 1) {
			note(out, m->instance_id, "drained, not detached: that would take the group "
				  "below its minimum (%zu)", in->group.min);
		} else {
			id_list_add(&out->detach, m->instance_id);
		}
	}
}

/* Idle members to drain, newest first, each skipped one with its reason. */
static void choose_drains(const struct scaler_inputs *in, const struct scaler_policy *policy,
			  size_t surplus, size_t base, struct scaler_plan *out)
{
	const struct scaler_member **cand = xcalloc(in->member_count + 1, sizeof(*cand));
	int64_t min_age_s = (int64_t)policy->min_instance_age_minutes * 60;
	size_t n = 0, wanted = surplus;

	if (wanted > policy->max_scale_in_per_run)
		wanted = policy->max_scale_in_per_run;
	for (size_t i = 0; i < in->member_count; i++) {
		const struct scaler_member *m = &in->members[i];

		if (holds_slot(m) && !m->draining_since_s && m->healthy &&
		    scaler_lifecycle_parse(m->lifecycle_state) == SCALER_LC_IN_SERVICE)
			cand[n++] = m;
	}
	qsort(cand, n, sizeof(*cand), newest_first);
	for (size_t i = 0; i < n && out->drain.count < surplus; i++) {
		const struct scaler_member *m = cand[i];
		int64_t age_s = in->now_s - m->launch_time_s;
		size_t taken = out->drain.count + out->detach.count;

		if (!has_runner(m)) {
			note(out, m->instance_id, "not drained: its runner name is unknown, so whether "
				  "it is busy is unknown");
		} else if (m->busy) {
			note(out, m->instance_id, "not drained: busy (a running stage names it)");
		} else if (age_s < min_age_s) {
			note(out, m->instance_id, "not drained: idle but launched %lld s ago (minimum "
				  "age %u minutes)", (long long)age_s, policy->min_instance_age_minutes);
		} else if (out->drain.count >= wanted) {
			note(out, m->instance_id, "not drained: idle, but at most %u are drained per run",
			     policy->max_scale_in_per_run);
		} else if (base < in->group.min + taken + 1) {
			note(out, m->instance_id, "not drained: idle, but the group is at its minimum "
				  "(%zu)", in->group.min);
		} else {
			id_list_add(&out->drain, m->instance_id);
		}
	}
	free(cand);
}

void scaler_plan(const struct scaler_inputs *in, const struct scaler_policy *policy,
		 struct scaler_plan *out)
{
	size_t per = policy->agents_per_instance ? policy->agents_per_instance : 1;
	const struct scaler_group *g = &in->group;
	const char *gname = g->name ? g->name : "";
	bool can_act = in->queue_known && in->complete;
	size_t need_agents = 0, target, base, surplus;
	struct buf reason = BUF_INIT;
	struct tally t;

	memset(out, 0, sizeof(*out));
	out->desired_before = g->desired;
	count(in, can_act, &t);
	out->capacity_instances = t.live + t.launching + t.unhealthy + t.unfilled;

	for (size_t i = 0; i < in->member_count; i++)
		if (holds_slot(&in->members[i]) && !in->members[i].protected_from_scale_in)
			note(out, in->members[i].instance_id, "not protected from scale-in: the group "
				  "itself may pick it when the desired capacity drops");

	if (!in->queue_known) {
		/* nothing is known about the need: hold everything */
		out->desired_after = g->desired;
		buf_appendf(&reason, "queue unknown: desired capacity kept at %zu", g->desired);
		note(out, gname, "no scale-out and no scale-in: the queue could not be read");
		finish_marked(in, false, g->desired, out);
		out->reason = buf_detach(&reason);
		return;
	}

	if (in->queue.pending + in->queue.running) {
		need_agents = in->queue.pending + in->queue.running + policy->warm_agents;
		need_agents += div_ceil(in->queue.pending * policy->pending_headroom_percent, 100);
	}
	out->needed_instances = div_ceil(need_agents, per);

	/* the marked members hold their slots until they are detached */
	target = clamp(out->needed_instances + t.marked, g->min, g->max);
	buf_appendf(&reason, "queue %zu pending, %zu running: %zu instances needed (%zu agents "
		    "at %zu each); capacity %zu (%zu in service, %zu launching, %zu not yet "
		    "listed, %zu unhealthy), %zu draining",
		    in->queue.pending, in->queue.running, out->needed_instances, need_agents, per,
		    out->capacity_instances, t.live, t.launching, t.unfilled, t.unhealthy, t.marked);
	if (out->needed_instances + t.marked > g->max)
		note(out, gname, "scale-out capped at the group's maximum (%zu): %zu instances "
			  "needed, %zu draining", g->max, out->needed_instances, t.marked);

	if (out->needed_instances > out->capacity_instances && target > g->desired) {
		out->scale_out = true;
		out->scale_out_to = target;
	}
	base = out->scale_out ? target : g->desired;
	finish_marked(in, can_act, base, out);

	surplus = out->capacity_instances > out->needed_instances
			  ? out->capacity_instances - out->needed_instances
			  : 0;
	if (out->scale_out || !surplus) {
		/* nothing to take away */
	} else if (!can_act) {
		note(out, gname, "no scale-in (%zu instances more than needed): the %s could not "
			  "be read", surplus, in->complete ? "queue" : "group or its instances");
	} else if (in->last_scale_out_s &&
		   in->now_s - in->last_scale_out_s < (int64_t)policy->scale_in_cooldown_minutes * 60) {
		note(out, gname, "no scale-in (%zu instances more than needed): last scale-out %lld s "
			  "ago, cooldown %u minutes", surplus,
		     (long long)(in->now_s - in->last_scale_out_s), policy->scale_in_cooldown_minutes);
	} else {
		choose_drains(in, policy, surplus, base, out);
	}

	out->desired_after = base - out->drain.count - out->detach.count;
	if (out->desired_after != g->desired || out->scale_out)
		buf_appendf(&reason, "; desired %zu -> %zu", g->desired, out->desired_after);
	else
		buf_appendf(&reason, "; desired stays %zu", g->desired);
	if (out->drain.count)
		buf_appendf(&reason, ", draining %zu idle", out->drain.count);
	out->reason = buf_detach(&reason);
}

void scaler_plan_release(struct scaler_plan *plan)
{
	free(plan->reason);
	id_list_release(&plan->drain);
	id_list_release(&plan->detach);
	id_list_release(&plan->undo);
	id_note_list_release(&plan->skipped);
	memset(plan, 0, sizeof(*plan));
}
