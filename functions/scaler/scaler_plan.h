/*
 * scaler_plan.h - the scaler's decision: how many Drone agents the Auto
 * Scaling group needs, and which idle ones to drain.
 *
 * A pure function: the caller reads the queue (Drone's /api/queue, already
 * filtered to the stages this pool can run), the group and its members (each
 * with its runner name resolved and its draining mark read from the instance
 * tag devcloud:draining-since), and the time of the last scale-out (all state
 * lives in AWS); scaler_plan() decides, the apply step makes the calls. Time
 * is passed in; nothing here does I/O or keeps state between runs.
 *
 * The capacity needed is ceil((pending + running + headroom) / agents per
 * instance), where the headroom is a few warm agents while there is work and,
 * when stages are waiting, a share of them more: the stages that arrive while
 * new instances boot then find an agent ready (see bench/scaler_sim for the
 * figures behind the defaults). It is kept within the group's min and max.
 *
 * Capacity that counts: members in service and healthy, members launching,
 * slots the group has not filled yet (desired above the members it lists)
 * and unhealthy members (the group replaces them). A member being drained
 * (marked) counts as nothing, so a replacement is launched for it; leaving
 * members (Terminating, Detaching, ...) and Standby ones count as nothing.
 *
 * Scale-in only ever detaches (with ShouldDecrementDesiredCapacity): the
 * desired capacity is never lowered by itself, so the group never picks a
 * victim. It waits SCALE_IN_COOLDOWN_MINUTES after the last scale-out and
 * takes members that are in service, healthy, not busy, not marked, older
 * than MIN_INSTANCE_AGE_MINUTES, newest first, at most MAX_SCALE_IN_PER_RUN,
 * never taking the desired capacity below the group's minimum. A busy member
 * is never chosen. With incomplete inputs (the queue or a listing could not
 * be read) nothing is drained, detached or undone; a scale-out on a known
 * queue is still made.
 */
#ifndef SCALER_PLAN_H
#define SCALER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "idlist.h"

/* The instance tag holding the time a member was marked for draining. */
#define SCALER_DRAINING_TAG "devcloud:draining-since"

/* How a member's Auto Scaling lifecycle state counts. */
enum scaler_lifecycle {
	SCALER_LC_LAUNCHING,	/* Pending, Pending:Wait, Pending:Proceed, Warmed:* */
	SCALER_LC_IN_SERVICE,	/* InService */
	SCALER_LC_STANDBY,	/* EnteringStandby, Standby: not ours to touch */
	SCALER_LC_LEAVING,	/* Terminating*, Terminated, Detaching, Detached */
	SCALER_LC_UNKNOWN,	/* anything else: counted as nothing, never touched */
};

enum scaler_lifecycle scaler_lifecycle_parse(const char *state);

/* Stages of this pool (the caller has filtered os, arch, type and labels). */
struct scaler_queue {
	size_t pending;
	size_t running;
	/* runner names (`machine`) of the running stages, for busy detection */
	const char *const *running_machines;
	size_t running_machine_count;
};

struct scaler_group {
	const char *name;		/* for the notes */
	size_t desired, min, max;
};

struct scaler_member {
	const char *instance_id;
	const char *runner_name;	/* the AGENT_NAME attribute; NULL if unknown */
	const char *lifecycle_state;	/* as Auto Scaling reports it */
	bool healthy;			/* HealthStatus Healthy */
	bool protected_from_scale_in;
	int64_t launch_time_s;
	int64_t draining_since_s;	/* devcloud:draining-since; 0 when absent */
	bool spot_interrupted;		/* drained on a Spot warning: never undone */
	bool busy;			/* a running stage names it (scaler_mark_busy) */
};

struct scaler_inputs {
	struct scaler_queue queue;
	bool queue_known;		/* false: the queue could not be read */
	bool complete;			/* the group, its members and their details all read */
	struct scaler_group group;
	struct scaler_member *members;
	size_t member_count;
	int64_t last_scale_out_s;	/* 0 when unknown or never */
	int64_t now_s;
};

struct scaler_policy {
	unsigned agents_per_instance;		/* AGENTS_PER_INSTANCE */
	unsigned scale_in_cooldown_minutes;	/* after the last scale-out */
	unsigned min_instance_age_minutes;	/* younger members are kept */
	unsigned max_scale_in_per_run;
	unsigned warm_agents;			/* free agents kept while there is work */
	unsigned pending_headroom_percent;	/* extra agents, as a share of pending */
};

/* The defaults, tuned with bench/scaler_sim (its README has the figures). */
#define SCALER_POLICY_DEFAULT                                                                     \
	{                                                                                         \
		.agents_per_instance = 4, .scale_in_cooldown_minutes = 3,                          \
		.min_instance_age_minutes = 5, .max_scale_in_per_run = 3, .warm_agents = 1,       \
		.pending_headroom_percent = 25,                                                    \
	}

struct scaler_plan {
	size_t desired_before;
	/* the desired capacity once the plan is applied: raised by
	 * SetDesiredCapacity when `scale_out`, else lowered by one for every
	 * member detached (drain + detach) */
	size_t desired_after;
	bool scale_out;			/* SetDesiredCapacity(scale_out_to) first */
	size_t scale_out_to;
	size_t needed_instances;	/* from the queue, before the group's bounds */
	size_t capacity_instances;	/* counted as capacity before the plan */
	char *reason;			/* the capacity decision, one line */
	/* idle members to mark, send the drain and detach, in this order */
	struct id_list drain;
	/* marked members still in the group, idle: (re)send the drain, detach */
	struct id_list detach;
	/* marked members still in the group that a running stage names: keep
	 * them, remove the mark */
	struct id_list undo;
	/* every action not taken, with why (the group's name for the group) */
	struct id_note_list skipped;
};

/* Sets each member's `busy` from the queue's running machines. */
void scaler_mark_busy(struct scaler_member *members, size_t count, const struct scaler_queue *queue);

/* Decides; `out` is owned by the caller (scaler_plan_release). */
void scaler_plan(const struct scaler_inputs *in, const struct scaler_policy *policy,
		 struct scaler_plan *out);
void scaler_plan_release(struct scaler_plan *plan);

#endif
