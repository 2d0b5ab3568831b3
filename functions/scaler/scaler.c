#include "scaler.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaling.h"
#include "awsid.h"
#include "cJSON.h"
#include "config.h"
#include "drone.h"
#include "ec2.h"
#include "ec2_batch.h"
#include "event.h"
#include "idlist.h"
#include "log.h"
#include "scaler_plan.h"
#include "ssm.h"
#include "timeutil.h"
#include "banned.h"

#define INIT_AWS_TIME_MS 8000
/* EC2 takes at most 200 values in one filter */
#define MAX_FILTER_VALUES 200
#define DRAIN_COMMENT "devcloud scaler: drain the Drone runner"
#define MAX_LABELS 32

/* ---- settings ---- */

static const struct config_setting settings[] = {
	{ "ASG_NAME", NULL, "the Auto Scaling group of the Drone agents (required)", false },
	{ "DRONE_SERVER", NULL,
	  "the Drone server, https://drone.example.com (required; http:// only to a loopback "
	  "address)",
	  false },
	{ "DRONE_TOKEN_PARAMETER", NULL,
	  "SSM SecureString holding a Drone admin token (set it or DRONE_TOKEN, not both)", false },
	{ "DRONE_TOKEN", NULL, "the Drone admin token itself, for local runs (secret)", true },
	{ "DRONE_OS", "linux", "the stages' os this pool runs", false },
	{ "DRONE_ARCH", "amd64", "the stages' arch this pool runs", false },
	{ "DRONE_LABELS", NULL,
	  "the runners' labels (DRONE_RUNNER_LABELS), key=value[,key=value]", false },
	{ "AGENT_NAME", "instance-id",
	  "which instance attribute is the runner's DRONE_RUNNER_NAME: instance-id, "
	  "private-dns-name or private-ip",
	  false },
	{ "AGENTS_PER_INSTANCE", "4", "stages one instance runs at once (1-64)", false },
	{ "SCALE_IN_COOLDOWN_MINUTES", "3", "no scale-in this long after a scale-out (0-120)",
	  false },
	{ "MIN_INSTANCE_AGE_MINUTES", "5", "an instance younger than this is never drained (0-1440)",
	  false },
	{ "MAX_SCALE_IN_PER_RUN", "3", "instances drained in one run at most (0-100)", false },
	{ "WARM_AGENTS", "1", "free agents kept while there is work (0-64)", false },
	{ "PENDING_HEADROOM_PERCENT", "25",
	  "extra agents asked for, as a share of the pending stages (0-400)", false },
	{ "DRAIN_COMMANDS",
	  "docker kill --signal=SIGINT drone-runner\ndocker wait drone-runner\npoweroff",
	  "the drain script sent with SSM's AWS-RunShellScript, one command a line: stop the "
	  "runner taking stages, wait for its stages to end, power off",
	  false },
	{ "DRAIN_TIMEOUT_MINUTES", "60",
	  "a drained instance is terminated after this long even if its agent has not exited "
	  "(1-2880)",
	  false },
	{ "BOOT_GRACE_MINUTES", "10",
	  "an instance older than this that SSM cannot reach is reported (1-1440)", false },
	{ "REPLACE_UNHEALTHY", "false",
	  "mark an idle member SSM cannot reach unhealthy, so the group replaces it", false },
	{ "DRY_RUN", "false",
	  "change nothing: EC2 calls use DryRun, Auto Scaling and SSM calls are only reported",
	  false },
};
enum { S_GROUP, S_SERVER, S_TOKEN_PARAMETER, S_TOKEN, S_OS, S_ARCH, S_LABELS, S_AGENT_NAME,
       S_AGENTS, S_COOLDOWN, S_MIN_AGE, S_MAX_IN, S_WARM, S_HEADROOM, S_DRAIN, S_DRAIN_TIMEOUT,
       S_BOOT_GRACE, S_REPLACE, S_DRY_RUN };

static const struct event_field event_fields[] = {
	{ "dry_run", EVENT_BOOL },
};
enum { E_DRY_RUN, E_COUNT };

static const char *const instance_id_key[] = { "instance-id", NULL };
static const struct event_kind event_kinds[] = {
	{ "aws.ec2", "EC2 Spot Instance Interruption Warning", instance_id_key },
	{ "aws.ec2", "EC2 Instance Rebalance Recommendation", instance_id_key },
};
static const char *const kind_reason[] = { "spot-interruption", "rebalance" };

enum agent_name { AGENT_INSTANCE_ID, AGENT_PRIVATE_DNS, AGENT_PRIVATE_IP };

struct scaler_state {
	struct aws_client *aws;
	struct drone_client *drone;
	char *group;
	char *os, *arch;
	struct drone_label *labels;
	size_t label_count;
	enum agent_name agent_name;
	struct scaler_policy policy;
	char **drain_lines;
	size_t drain_line_count;
	long drain_timeout_minutes;
	long boot_grace_minutes;
	bool replace_unhealthy;
	bool dry_run;
};

/* ---- the result ---- */

struct scaler_result {
	bool queue_known;
	size_t pending, running;
	size_t desired_before, desired_after;
	struct id_list draining, detached, undone, terminated, unreachable, replaced;
	struct id_note_list skipped;	/* actions_skipped */
	struct id_note_list failed;
	bool dry_run;
};

static void result_release(struct scaler_result *r)
{
	id_list_release(&r->draining);
	id_list_release(&r->detached);
	id_list_release(&r->undone);
	id_list_release(&r->terminated);
	id_list_release(&r->unreachable);
	id_list_release(&r->replaced);
	id_note_list_release(&r->skipped);
	id_note_list_release(&r->failed);
	memset(r, 0, sizeof(*r));
}

static char *result_json(const struct scaler_result *r)
{
	cJSON *root = cJSON_CreateObject();
	char *out;

	if (r->queue_known) {
		cJSON *q = cJSON_AddObjectToObject(root, "queue");
		cJSON_AddNumberToObject(q, "pending", (double)r->pending);
		cJSON_AddNumberToObject(q, "running", (double)r->running);
	} else {
		cJSON_AddNullToObject(root, "queue");
	}
	cJSON *d = cJSON_AddObjectToObject(root, "desired");
	cJSON_AddNumberToObject(d, "before", (double)r->desired_before);
	cJSON_AddNumberToObject(d, "after", (double)r->desired_after);
	cJSON_AddItemToObject(root, "draining", id_list_json(&r->draining));
	cJSON_AddItemToObject(root, "detached", id_list_json(&r->detached));
	cJSON_AddItemToObject(root, "undone", id_list_json(&r->undone));
	cJSON_AddItemToObject(root, "terminated", id_list_json(&r->terminated));
	cJSON_AddItemToObject(root, "unreachable", id_list_json(&r->unreachable));
	cJSON_AddItemToObject(root, "replaced", id_list_json(&r->replaced));
	cJSON_AddItemToObject(root, "actions_skipped",
			      id_note_list_json(&r->skipped, "id", "reason"));
	cJSON_AddItemToObject(root, "failed", id_note_list_json(&r->failed, "id", "error"));
	cJSON_AddBoolToObject(root, "dry_run", r->dry_run);
	out = json_print(root);
	cJSON_Delete(root);
	return out;
}

static void fail_action(struct scaler_result *r, const char *id, const char *what,
			const struct aws_error *e)
{
	struct buf why = BUF_INIT;

	buf_appendf(&why, "%s: ", what);
	aws_error_describe(e, &why);
	id_note_list_add(&r->failed, id, buf_cstr(&why));
	log_error("%s '%s' failed: %s", what, id, buf_cstr(&why) + strlen(what) + 2);
	buf_release(&why);
}

static void skip_action(struct scaler_result *r, const char *id, const char *why)
{
	id_note_list_add(&r->skipped, id, why);
	log_info("%s: %s", *id ? id : "group", why);
}

/* ---- what a run works with ---- */

struct run {
	struct scaler_state *s;
	bool dry_run;
	int64_t now_s;
	struct scaler_result result;
	/* the queue */
	struct drone_queue queue;
	bool queue_known;
	const char **machines;		/* running stages' runner names (borrowed) */
	size_t machine_count;
	/* the group and its members */
	struct asg_group_list groups;
	const struct asg_group *group;	/* NULL when not read */
	struct ec2_instance_list members;	/* the members' EC2 details */
	bool members_complete;
	/* drained instances outside the group */
	struct ec2_instance_list drained;
	bool drained_known;
	struct buf errors;		/* what could not be read, for the error message */
};

static void run_release(struct run *run)
{
	result_release(&run->result);
	drone_queue_release(&run->queue);
	free(run->machines);
	asg_group_list_release(&run->groups);
	ec2_instance_list_release(&run->members);
	ec2_instance_list_release(&run->drained);
	buf_release(&run->errors);
}

static void note_error(struct run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_error(struct run *run, const char *fmt, ...)
{
	va_list ap;

	if (run->errors.len)
		buf_appends(&run->errors, "; ");
	va_start(ap, fmt);
	buf_vappendf(&run->errors, fmt, ap);
	va_end(ap);
}

/* ---- reading the queue ---- */

static int read_queue(struct run *run, struct drone_queue *q, struct buf *why)
{
	return drone_get_queue(run->s->drone, aws_client_time_left_ms(run->s->aws) == INT64_MAX
							 ? 0
							 : aws_client_now_ms(run->s->aws) +
								   aws_client_time_left_ms(run->s->aws),
			       q, why);
}

static void count_queue(struct run *run)
{
	const struct scaler_state *s = run->s;
	struct drone_pool pool = { s->os, s->arch, NULL, NULL, NULL, s->labels, s->label_count };

	run->machines = xcalloc(run->queue.count + 1, sizeof(*run->machines));
	for (size_t i = 0; i < run->queue.count; i++) {
		const struct drone_stage *st = &run->queue.items[i];

		if (st->status == DRONE_STAGE_RUNNING && *st->machine)
			/* busy is busy, whatever pool the stage belongs to */
			run->machines[run->machine_count++] = st->machine;
		if (!drone_stage_fits(st, &pool))
			continue;
		if (st->status == DRONE_STAGE_PENDING)
			run->result.pending++;
		else if (st->status == DRONE_STAGE_RUNNING)
			run->result.running++;
	}
}

static void gather_queue(struct run *run)
{
	struct buf why = BUF_INIT;

	if (read_queue(run, &run->queue, &why)) {
		log_error("cannot read the Drone queue: %s", buf_cstr(&why));
		note_error(run, "cannot read the Drone queue: %s", buf_cstr(&why));
	} else {
		run->queue_known = true;
		run->result.queue_known = true;
		count_queue(run);
		log_info("queue: %zu pending, %zu running for this pool (%zu stages in all)",
			 run->result.pending, run->result.running, run->queue.count);
	}
	buf_release(&why);
}

/* ---- reading the group ---- */

static const char *const live_states[] = { "pending", "running", "stopping", "stopped", NULL };

/* Every instance whose id is in ids, by filter (an id not yet visible is just absent). */
static int describe_ids(struct aws_client *aws, const char *const *ids, size_t n,
			struct ec2_instance_list *out, struct aws_error *e)
{
	for (size_t start = 0; start < n; start += MAX_FILTER_VALUES) {
		size_t count = n - start < MAX_FILTER_VALUES ? n - start : MAX_FILTER_VALUES;
		struct ec2_filter_list f = EC2_FILTER_LIST_INIT;
		const char **values = xcalloc(count + 1, sizeof(*values));
		struct ec2_instance_list page = EC2_INSTANCE_LIST_INIT;
		int err;

		memcpy(values, ids + start, count * sizeof(*values));
		ec2_filters_add(&f, "instance-id", values);
		err = ec2_describe_instances(aws, &f, &page, e);
		for (size_t i = 0; !err && i < page.count; i++) {
			if (out->count == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 16;
				out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
			}
			out->items[out->count++] = page.items[i];
		}
		if (!err)
			page.count = 0;	/* moved */
		ec2_instance_list_release(&page);
		ec2_filters_release(&f);
		free(values);
		if (err) {
			ec2_instance_list_release(out);
			return err;
		}
	}
	return 0;
}

static void gather_group(struct run *run)
{
	const char *names[] = { run->s->group, NULL };
	struct aws_error e;
	struct buf why = BUF_INIT;
	const char **ids;

	if (asg_describe_groups(run->s->aws, names, &run->groups, &e)) {
		aws_error_describe(&e, &why);
		note_error(run, "cannot read Auto Scaling group '%s': %s", run->s->group,
			   buf_cstr(&why));
		log_error("cannot read Auto Scaling group '%s': %s", run->s->group, buf_cstr(&why));
		goto out;
	}
	for (size_t i = 0; i < run->groups.count; i++)
		if (!strcmp(run->groups.items[i].name, run->s->group))
			run->group = &run->groups.items[i];
	if (!run->group) {
		note_error(run, "Auto Scaling group '%s' does not exist", run->s->group);
		log_error("Auto Scaling group '%s' does not exist", run->s->group);
		goto out;
	}
	ids = xcalloc(run->group->instance_count + 1, sizeof(*ids));
	for (size_t i = 0; i < run->group->instance_count; i++)
		ids[i] = run->group->instances[i].id;
	if (describe_ids(run->s->aws, ids, run->group->instance_count, &run->members, &e)) {
		aws_error_describe(&e, &why);
		note_error(run, "cannot read the group's instances: %s", buf_cstr(&why));
		log_error("cannot read the group's instances: %s", buf_cstr(&why));
	} else {
		run->members_complete = true;
	}
	free(ids);
out:
	buf_release(&why);
}

static const struct ec2_instance *find_instance(const struct ec2_instance_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i].id, id))
			return &l->items[i];
	return NULL;
}

static bool is_member(const struct run *run, const char *id)
{
	for (size_t i = 0; run->group && i < run->group->instance_count; i++)
		if (!strcmp(run->group->instances[i].id, id))
			return true;
	return false;
}

/* Drained instances: tagged devcloud:drained-from=<group>, not terminated. */
static void gather_drained(struct run *run)
{
	const char *group[] = { run->s->group, NULL };
	struct ec2_filter_list f = EC2_FILTER_LIST_INIT;
	struct aws_error e;
	struct buf why = BUF_INIT;

	ec2_filters_add(&f, "tag:" SCALER_DRAINED_FROM_TAG, group);
	ec2_filters_add(&f, "instance-state-name", live_states);
	if (ec2_describe_instances(run->s->aws, &f, &run->drained, &e)) {
		aws_error_describe(&e, &why);
		note_error(run, "cannot list the drained instances: %s", buf_cstr(&why));
		log_error("cannot list the drained instances: %s", buf_cstr(&why));
	} else {
		run->drained_known = true;
	}
	ec2_filters_release(&f);
	buf_release(&why);
}

/* ---- the plan's inputs ---- */

static int64_t tag_time(const char *value)
{
	int64_t t = 0;

	if (!value || time_parse_iso8601(value, &t, NULL))
		return 0;
	return t;
}

/* A runner named "ip-10-0-0-4" is the host ip-10-0-0-4.eu-west-1.compute.internal. */
static bool runner_is(const char *machine, const char *dns)
{
	size_t n = strlen(machine);

	return !strcmp(machine, dns) || (!strncmp(machine, dns, n) && dns[n] == '.');
}

static const char *runner_name(const struct scaler_state *s, const struct ec2_instance *inst)
{
	switch (s->agent_name) {
	case AGENT_PRIVATE_DNS:
		return inst->private_dns_name;
	case AGENT_PRIVATE_IP:
		return inst->private_ip;
	case AGENT_INSTANCE_ID:
		break;
	}
	return inst->id;
}

static bool busy(const struct run *run, const char *name)
{
	for (size_t i = 0; name && *name && i < run->machine_count; i++)
		if (run->s->agent_name == AGENT_PRIVATE_DNS ? runner_is(run->machines[i], name)
							    : !strcmp(run->machines[i], name))
			return true;
	return false;
}

/* Fills in->members from the group and its instances; false if any is missing. */
static bool plan_members(const struct run *run, struct scaler_member *members)
{
	bool complete = true;

	for (size_t i = 0; i < run->group->instance_count; i++) {
		const struct asg_instance *m = &run->group->instances[i];
		const struct ec2_instance *inst = find_instance(&run->members, m->id);
		struct scaler_member *p = &members[i];
		const char *reason;

		p->instance_id = m->id;
		p->lifecycle_state = m->lifecycle_state;
		p->healthy = m->health_status && !strcmp(m->health_status, "Healthy");
		p->protected_from_scale_in = m->protected_from_scale_in;
		if (!inst) {
			/* just launched and not visible yet, or gone: nothing known */
			complete = false;
			continue;
		}
		p->runner_name = runner_name(run->s, inst);
		p->launch_time_s = inst->launch_time;
		p->draining_since_s = tag_time(ec2_instance_tag(inst, SCALER_DRAINING_TAG));
		if (ec2_instance_tag(inst, SCALER_DRAINING_TAG) && !p->draining_since_s)
			p->draining_since_s = 1;	/* marked, time unreadable: still marked */
		reason = ec2_instance_tag(inst, SCALER_DRAIN_REASON_TAG);
		p->spot_interrupted = reason && strcmp(reason, "scale-in");
		p->busy = busy(run, p->runner_name);
	}
	return complete;
}

/* ---- acting ---- */

/* Marks instances as draining: four tags, each call all-or-nothing and idempotent. */
static int mark(struct run *run, const char *id, const char *reason, struct aws_error *e)
{
	struct buf when = BUF_INIT;
	const char *ids[] = { id };
	int err;

	time_format_iso8601(run->now_s, &when);
	/* drained-from first: an instance the reaper can find is one IAM lets it end */
	if (!(err = ec2_create_tags(run->s->aws, ids, 1, SCALER_DRAINED_FROM_TAG, run->s->group,
				    run->dry_run, e)) &&
	    !(err = ec2_create_tags(run->s->aws, ids, 1, SCALER_DRAIN_REASON_TAG, reason,
				    run->dry_run, e)))
		err = ec2_create_tags(run->s->aws, ids, 1, SCALER_DRAINING_TAG, buf_cstr(&when),
				      run->dry_run, e);
	buf_release(&when);
	return err;
}

/* Removes the draining mark of a member a stage landed on. */
static int unmark(struct run *run, const char *id, struct aws_error *e)
{
	static const char *const keys[] = { SCALER_DRAIN_COMMAND_TAG, SCALER_DRAIN_REASON_TAG,
					    SCALER_DRAINED_FROM_TAG, SCALER_DRAINING_TAG };
	const char *ids[] = { id };
	int err = 0;

	/*
	 * The draining mark last: an undo cut short leaves the member marked,
	 * and the next run undoes it again, never a stray tag on a live agent.
	 */
	for (size_t i = 0; !err && i < sizeof(keys) / sizeof(keys[0]); i++)
		err = ec2_delete_tags(run->s->aws, ids, 1, keys[i], run->dry_run, e);
	return err;
}

/* Sends the drain script; the command id is kept in a tag for the reaper. */
static int send_drain(struct run *run, const char *id, struct aws_error *e)
{
	const char *ids[] = { id };
	struct ssm_command cmd = {
		.instance_ids = ids,
		.instance_count = 1,
		.commands = (const char *const *)run->s->drain_lines,
		.command_count = run->s->drain_line_count,
		.execution_timeout_s = run->s->drain_timeout_minutes * 60,
		.comment = DRAIN_COMMENT,
	};
	struct buf command_id = BUF_INIT;
	int err;

	if (run->dry_run) {
		log_info("dry run: would send the drain to %s", id);
		return 0;
	}
	err = ssm_send_command(run->s->aws, &cmd, &command_id, e);
	if (!err) {
		log_info("drain sent to %s (SSM command %s)", id, buf_cstr(&command_id));
		err = ec2_create_tags(run->s->aws, ids, 1, SCALER_DRAIN_COMMAND_TAG,
				      buf_cstr(&command_id), false, e);
	}
	buf_release(&command_id);
	return err;
}

/* A retried detach after a lost answer finds the instance already gone. */
static bool already_detached(const struct aws_error *e)
{
	return aws_error_is(e, "ValidationError") && strstr(e->message, "is not part of");
}

static int detach(struct run *run, const char *id, struct aws_error *e)
{
	const char *ids[] = { id };
	size_t done = 0;

	if (run->dry_run) {
		log_info("dry run: would detach %s from %s", id, run->s->group);
		return 0;
	}
	if (asg_detach_instances(run->s->aws, run->s->group, ids, 1, &done, e) == 0 ||
	    already_detached(e)) {
		log_info("detached %s from %s", id, run->s->group);
		return 0;
	}
	return e->err ? e->err : ERR_AWS;
}

/* Whether a stage has just landed on the member: the queue read once more. */
static int landed_on(struct run *run, const char *runner, bool *landed)
{
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf why = BUF_INIT;
	int err;

	*landed = false;
	err = read_queue(run, &q, &why);
	if (err)
		log_warn("cannot read the Drone queue again before the drain: %s", buf_cstr(&why));
	for (size_t i = 0; !err && i < q.count; i++)
		if (q.items[i].status == DRONE_STAGE_RUNNING && runner && *runner &&
		    (run->s->agent_name == AGENT_PRIVATE_DNS ? runner_is(q.items[i].machine, runner)
							     : !strcmp(q.items[i].machine, runner)))
			*landed = true;
	drone_queue_release(&q);
	buf_release(&why);
	return err;
}

static const char *member_runner(const struct run *run, const char *id)
{
	const struct ec2_instance *inst = find_instance(&run->members, id);

	return inst ? runner_name(run->s, inst) : NULL;
}

static bool mark_complete(const struct run *run, const char *id)
{
	const struct ec2_instance *inst = find_instance(&run->members, id);
	const char *from = inst ? ec2_instance_tag(inst, SCALER_DRAINED_FROM_TAG) : NULL;

	return from && !strcmp(from, run->s->group);
}

static bool drain_was_sent(const struct run *run, const char *id)
{
	const struct ec2_instance *inst = find_instance(&run->members, id);

	return inst && ec2_instance_tag(inst, SCALER_DRAIN_COMMAND_TAG);
}

/*
 * Drains one idle member: mark, look at the queue once more (a stage that
 * landed since the first read undoes the mark), detach, send the drain.
 * Every step converges: a mark, a detach or a drain repeated is harmless; a
 * member left marked in the group is detached by the next run, and a
 * detached instance whose drain was not sent gets it from the reaper.
 * Detaching before the drain keeps a powered-off agent from ever being a
 * member (the group would replace it); a stage that lands after the second
 * look still ends before the drained runner powers off.
 */
static void drain_member(struct run *run, const char *id, bool marked)
{
	struct aws_error e;
	bool landed = false;

	if (!instance_id_valid(id)) {
		skip_action(&run->result, id, "not drained: not an instance id");
		return;
	}
	if (marked && !mark_complete(run, id)) {
		/* a mark cut short: without drained-from the reaper would never find it */
		const char *ids[] = { id };
		if (ec2_create_tags(run->s->aws, ids, 1, SCALER_DRAINED_FROM_TAG, run->s->group,
				    run->dry_run, &e)) {
			fail_action(&run->result, id, "completing its draining mark", &e);
			return;
		}
	}
	if (!marked) {
		if (mark(run, id, "scale-in", &e)) {
			fail_action(&run->result, id, "marking it for draining", &e);
			return;
		}
		if (landed_on(run, member_runner(run, id), &landed)) {
			/* unsure whether it is busy: leave it marked, the next run decides */
			skip_action(&run->result, id, "marked, not drained: the queue could not be "
						      "read again");
			return;
		}
		if (landed) {
			if (unmark(run, id, &e))
				fail_action(&run->result, id, "removing its draining mark", &e);
			else
				id_list_add(&run->result.undone, id);
			skip_action(&run->result, id, "not drained: a stage landed on it");
			return;
		}
		id_list_add(&run->result.draining, id);
	}
	if (detach(run, id, &e)) {
		fail_action(&run->result, id, "detaching it", &e);
		return;
	}
	id_list_add(&run->result.detached, id);
	if (marked && drain_was_sent(run, id)) {
		/* a Spot drain, or one sent before a detach that failed: once is enough
		 * (the machine may well have powered off since) */
		log_info("%s: its drain was sent already", id);
		return;
	}
	if (send_drain(run, id, &e))
		fail_action(&run->result, id, "sending the drain (the next run sends it again)", &e);
}

static void scale_out(struct run *run, size_t to)
{
	struct asg_tag tag = { (char *)SCALER_LAST_SCALE_OUT_TAG, NULL };
	struct buf when = BUF_INIT;
	struct aws_error e;

	if (run->dry_run) {
		log_info("dry run: would set the desired capacity of %s to %zu", run->s->group, to);
		return;
	}
	/* the time first: a scale-out whose answer is lost still starts the cooldown */
	time_format_iso8601(run->now_s, &when);
	tag.value = when.ptr;
	if (asg_tag_group(run->s->aws, run->s->group, &tag, 1, &e))
		fail_action(&run->result, run->s->group, "recording the scale-out time", &e);
	else if (asg_set_desired_capacity(run->s->aws, run->s->group, (long)to, &e))
		fail_action(&run->result, run->s->group, "setting the desired capacity", &e);
	else
		log_info("desired capacity of %s set to %zu", run->s->group, to);
	buf_release(&when);
}

/* ---- reaping ---- */

static bool drain_finished(struct run *run, const struct ec2_instance *inst)
{
	const char *command = ec2_instance_tag(inst, SCALER_DRAIN_COMMAND_TAG);
	struct ssm_invocation_list inv = SSM_INVOCATION_LIST_INIT;
	struct aws_error e;
	bool done = false;

	if (!strcmp(inst->state, "stopped") || !strcmp(inst->state, "stopping"))
		return true;	/* powered off: the agent has exited */
	if (!command || !*command)
		return false;
	if (ssm_list_command_invocations(run->s->aws, command, inst->id, &inv, &e) == 0) {
		for (size_t i = 0; i < inv.count; i++)
			done |= !strcmp(inv.items[i].status, "Success");
	} else {
		struct buf why = BUF_INIT;
		aws_error_describe(&e, &why);
		log_warn("cannot read the drain command of %s: %s", inst->id, buf_cstr(&why));
		buf_release(&why);
	}
	ssm_invocation_list_release(&inv);
	return done;
}

struct reap_ctx {
	struct run *run;
	const char **ids;
};

static void reaped(void *ctx, size_t i, bool hibernated)
{
	struct reap_ctx *c = ctx;

	(void)hibernated;
	id_list_add(&c->run->result.terminated, c->ids[i]);
	log_info("%s %s", c->run->dry_run ? "would terminate" : "terminated", c->ids[i]);
}

static void not_reaped(void *ctx, size_t i, const struct aws_error *e)
{
	struct reap_ctx *c = ctx;

	fail_action(&c->run->result, c->ids[i], "terminating it", e);
}

/*
 * Terminates drained instances that have left the group, once their agent
 * has exited or their drain timed out. With incomplete information only
 * the timed-out ones go: a build still running then is a zombie.
 */
static void reap(struct run *run, bool complete)
{
	const char **ids = xcalloc(run->drained.count + 1, sizeof(*ids));
	int64_t timeout_s = run->s->drain_timeout_minutes * 60;
	struct reap_ctx ctx = { run, ids };
	size_t n = 0;

	for (size_t i = 0; i < run->drained.count; i++) {
		const struct ec2_instance *inst = &run->drained.items[i];
		int64_t since = tag_time(ec2_instance_tag(inst, SCALER_DRAINING_TAG));
		bool timed_out = since && run->now_s - since >= timeout_s;
		struct buf why = BUF_INIT;

		if (!instance_id_valid(inst->id) || is_member(run, inst->id))
			continue;	/* a member is the plan's; undone marks are too */
		if (!ec2_instance_tag(inst, SCALER_DRAIN_COMMAND_TAG) && !timed_out &&
		    !strcmp(inst->state, "running")) {
			/* detached, but its drain never went: send it now */
			struct aws_error e;
			if (send_drain(run, inst->id, &e))
				fail_action(&run->result, inst->id, "sending the drain", &e);
			continue;
		}
		if (!since) {
			/* drained-from without a time: a mark cut short; never guessed old */
			skip_action(&run->result, inst->id, "not terminated: tagged drained, but "
							    "with no readable draining time");
		} else if (timed_out) {
			buf_appendf(&why, "drain timed out (%ld minutes)", run->s->drain_timeout_minutes);
			log_warn("terminating %s: %s", inst->id, buf_cstr(&why));
			ids[n++] = inst->id;
		} else if (!complete) {
			skip_action(&run->result, inst->id, "not terminated yet: the queue or a listing "
							    "could not be read");
		} else if (busy(run, runner_name(run->s, inst))) {
			log_info("%s: still running a stage, draining since %lld s", inst->id,
				 (long long)(run->now_s - since));
		} else if (drain_finished(run, inst)) {
			ids[n++] = inst->id;
		} else {
			log_info("%s: draining since %lld s, its agent has not exited yet", inst->id,
				 (long long)(run->now_s - since));
		}
		buf_release(&why);
	}
	if (n) {
		struct ec2_batch_options o = {
			.action = EC2_BATCH_TERMINATE,
			.dry_run = run->dry_run,
			.done = reaped,
			.failed = not_reaped,
			.ctx = &ctx,
		};
		(void)ec2_batch_run(run->s->aws, ids, n, &o);
	}
	free(ids);
}

/* ---- members SSM cannot reach ---- */

static void check_reachable(struct run *run, const struct scaler_member *members, size_t n)
{
	const char **ids = xcalloc(n + 1, sizeof(*ids));
	struct ssm_instance_info_list info = SSM_INSTANCE_INFO_LIST_INIT;
	int64_t grace_s = run->s->boot_grace_minutes * 60;
	struct aws_error e;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct scaler_member *m = &members[i];

		if (m->busy || m->draining_since_s || !m->healthy || !m->launch_time_s ||
		    run->now_s - m->launch_time_s < grace_s ||
		    scaler_lifecycle_parse(m->lifecycle_state) != SCALER_LC_IN_SERVICE)
			continue;
		ids[k++] = m->instance_id;
	}
	if (!k)
		goto out;
	if (ssm_describe_instance_information(run->s->aws, ids, k, &info, &e)) {
		struct buf why = BUF_INIT;
		aws_error_describe(&e, &why);
		log_warn("cannot ask SSM which agents it reaches: %s", buf_cstr(&why));
		buf_release(&why);
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		const struct ssm_instance_info *found = ssm_instance_info_find(&info, ids[i]);

		if (found && !strcmp(found->ping_status, "Online"))
			continue;
		id_list_add(&run->result.unreachable, ids[i]);
		log_warn("%s: idle and not reachable over SSM (%s) %lld minutes after its boot "
			 "grace",
			 ids[i], found ? found->ping_status : "not managed", (long long)grace_s / 60);
		if (!run->s->replace_unhealthy)
			continue;
		if (run->dry_run) {
			log_info("dry run: would mark %s unhealthy", ids[i]);
			id_list_add(&run->result.replaced, ids[i]);
		} else if (asg_set_instance_health(run->s->aws, ids[i], "Unhealthy", false, &e)) {
			fail_action(&run->result, ids[i], "marking it unhealthy", &e);
		} else {
			id_list_add(&run->result.replaced, ids[i]);
		}
	}
out:
	ssm_instance_info_list_release(&info);
	free(ids);
}

/* ---- one scheduled run ---- */

static void apply_plan(struct run *run, const struct scaler_plan *plan)
{
	struct aws_error e;

	if (plan->scale_out)
		scale_out(run, plan->scale_out_to);
	for (size_t i = 0; i < plan->undo.count; i++) {
		const char *id = plan->undo.items[i];
		if (unmark(run, id, &e)) {
			fail_action(&run->result, id, "removing its draining mark", &e);
		} else {
			id_list_add(&run->result.undone, id);
			log_info("%s: a stage landed on it; its draining mark is removed", id);
		}
	}
	for (size_t i = 0; i < plan->detach.count; i++)
		drain_member(run, plan->detach.items[i], true);
	for (size_t i = 0; i < plan->drain.count; i++)
		drain_member(run, plan->drain.items[i], false);
}

static void scheduled_run(struct run *run, struct lambda_response *resp)
{
	struct scaler_member *members = NULL;
	struct scaler_plan plan;
	bool complete;
	char *json;

	memset(&plan, 0, sizeof(plan));
	gather_queue(run);
	gather_group(run);
	gather_drained(run);
	complete = run->queue_known && run->members_complete && run->drained_known;

	if (run->group) {
		struct scaler_inputs in = {
			.queue = { run->result.pending, run->result.running, run->machines,
				   run->machine_count },
			.queue_known = run->queue_known,
			.group = { run->group->name, (size_t)run->group->desired_capacity,
				   (size_t)run->group->min_size, (size_t)run->group->max_size },
			.last_scale_out_s = tag_time(asg_group_tag(run->group,
								   SCALER_LAST_SCALE_OUT_TAG)),
			.now_s = run->now_s,
		};

		members = xcalloc(run->group->instance_count + 1, sizeof(*members));
		/* a member whose instance could not be read leaves the inputs incomplete:
		 * a scale-out on a known queue is still made, nothing is taken away */
		if (!plan_members(run, members))
			complete = false;
		in.members = members;
		in.member_count = run->group->instance_count;
		in.complete = complete;
		if (!run->group->new_instances_protected_from_scale_in)
			skip_action(&run->result, run->s->group,
				    "the group does not protect new instances from scale-in: it may "
				    "pick a busy agent itself when its desired capacity drops");
		scaler_plan(&in, &run->s->policy, &plan);
		log_info("%s%s", run->dry_run ? "dry run: " : "", plan.reason);
		for (size_t i = 0; i < plan.skipped.count; i++)
			skip_action(&run->result, plan.skipped.items[i].id, plan.skipped.items[i].text);
		apply_plan(run, &plan);
		/* each detach took one off the desired capacity */
		run->result.desired_before = plan.desired_before;
		run->result.desired_after =
			(plan.scale_out ? plan.scale_out_to : plan.desired_before) -
			run->result.detached.count;
		if (complete)
			check_reachable(run, members, in.member_count);
	}
	if (run->drained_known)
		reap(run, complete);

	json = result_json(&run->result);
	buf_appends(&resp->payload, json);
	free(json);
	log_info("%s%zu pending, %zu running; desired %zu -> %zu; %zu draining, %zu detached, "
		 "%zu terminated, %zu failed",
		 run->dry_run ? "dry run: " : "", run->result.pending, run->result.running,
		 run->result.desired_before, run->result.desired_after, run->result.draining.count,
		 run->result.detached.count, run->result.terminated.count, run->result.failed.count);
	if (!run->queue_known)
		lambda_fail(resp, "Scaler.QueueUnavailable", "%s; nothing was scaled in",
			    buf_cstr(&run->errors));
	else if (run->errors.len)
		lambda_fail(resp, "Scaler.ListFailed", "%s; nothing was scaled in",
			    buf_cstr(&run->errors));
	else if (run->result.failed.count) {
		struct buf msg = BUF_INIT;
		buf_appendf(&msg, "%zu action%s failed: ", run->result.failed.count,
			    run->result.failed.count == 1 ? "" : "s");
		id_note_list_describe(&run->result.failed, 10, &msg);
		lambda_fail(resp, "Scaler.ActionsFailed", "%s", buf_cstr(&msg));
		buf_release(&msg);
	}
	scaler_plan_release(&plan);
	free(members);
}

/* ---- a Spot warning ---- */

static void spot_run(struct run *run, const char *id, const char *reason,
		     struct lambda_response *resp)
{
	struct aws_error e;
	const struct ec2_instance *inst;
	char *json;

	log_info("%s for %s", reason, id);
	gather_group(run);
	if (!run->group || !run->members_complete) {
		lambda_fail(resp, "Scaler.ListFailed", "%s; nothing was drained",
			    buf_cstr(&run->errors));
		return;
	}
	run->result.desired_before = run->result.desired_after =
		(size_t)run->group->desired_capacity;
	inst = find_instance(&run->members, id);
	if (!is_member(run, id) || !inst) {
		log_info("%s is not a member of %s: ignored", id, run->s->group);
		skip_action(&run->result, id, "not a member of the group: ignored");
	} else if (ec2_instance_tag(inst, SCALER_DRAINING_TAG)) {
		skip_action(&run->result, id, "already draining");
	} else if (mark(run, id, reason, &e)) {
		fail_action(&run->result, id, "marking it for draining", &e);
	} else {
		/* no new stage lands on it; the next run launches its replacement */
		id_list_add(&run->result.draining, id);
		if (send_drain(run, id, &e))
			fail_action(&run->result, id, "sending the drain", &e);
	}
	json = result_json(&run->result);
	buf_appends(&resp->payload, json);
	free(json);
	if (run->result.failed.count)
		lambda_fail(resp, "Scaler.ActionsFailed", "cannot drain '%s': %s", id,
			    run->result.failed.items[0].text);
}

/* ---- the Lambda function ---- */

void scaler_help(struct buf *out)
{
	buf_appends(out,
		    "Sizes the Drone agents' Auto Scaling group (ASG_NAME) from the Drone build\n"
		    "queue. Idle agents are drained over SSM (the runner takes no new stage,\n"
		    "finishes its own, powers off) and detached; drained instances are terminated\n"
		    "once their agent has exited or DRAIN_TIMEOUT_MINUTES has passed. A busy agent\n"
		    "is never drained. If the queue or a listing cannot be read, nothing is scaled\n"
		    "in.\n\n"
		    "Event: a scheduled event, {}, or {\"dry_run\": true} (in either; DRY_RUN=true is\n"
		    "final); or an EventBridge 'EC2 Spot Instance Interruption Warning' or 'EC2\n"
		    "Instance Rebalance Recommendation' (source aws.ec2): a member of the group\n"
		    "named in detail.instance-id is drained at once.\n\n");
	config_help("Configuration (environment variables)", settings,
		    sizeof(settings) / sizeof(settings[0]), out);
	aws_config_help(out);
}

void scaler_release(void *state)
{
	struct scaler_state *s = state;

	if (!s)
		return;
	aws_client_free(s->aws);
	drone_client_free(s->drone);
	free(s->group);
	free(s->os);
	free(s->arch);
	for (size_t i = 0; i < s->label_count; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	for (size_t i = 0; i < s->drain_line_count; i++)
		free(s->drain_lines[i]);
	free(s->drain_lines);
	free(s);
}

static int read_labels(struct scaler_state *s, const char *spec, struct buf *errmsg)
{
	struct buf copy = BUF_INIT;
	char *p, *next;
	int err = 0;

	if (!spec || !*spec)
		return 0;
	buf_appends(&copy, spec);
	for (p = copy.ptr; p && !err; p = next) {
		char *eq, *comma = strchr(p, ',');
		struct view k, v;

		next = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		eq = strchr(p, '=');
		k = view_trim(view_make(p, eq ? (size_t)(eq - p) : strlen(p)));
		v = eq ? view_trim(view_from(eq + 1)) : view_make("", 0);
		if (!eq || !k.len || s->label_count >= MAX_LABELS) {
			buf_appendf(errmsg, "DRONE_LABELS must be key=value[,key=value] (at most %d), "
					    "got '%.200s'",
				    MAX_LABELS, spec);
			err = ERR_CONFIG;
			break;
		}
		s->labels = xrealloc(s->labels, (s->label_count + 1) * sizeof(*s->labels));
		s->labels[s->label_count].key = view_dup(k);
		s->labels[s->label_count].value = view_dup(v);
		s->label_count++;
	}
	buf_release(&copy);
	return err;
}

static int read_drain(struct scaler_state *s, const char *script, struct buf *errmsg)
{
	const char *p = script;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		struct view line = view_trim(view_make(p, nl ? (size_t)(nl - p) : strlen(p)));

		if (line.len) {
			s->drain_lines = xrealloc(s->drain_lines,
						  (s->drain_line_count + 1) * sizeof(char *));
			s->drain_lines[s->drain_line_count++] = view_dup(line);
		}
		p = nl ? nl + 1 : NULL;
	}
	if (!s->drain_line_count || s->drain_line_count > 100) {
		buf_appends(errmsg, "DRAIN_COMMANDS must hold 1 to 100 commands, one a line");
		return ERR_CONFIG;
	}
	return 0;
}

static int read_policy(struct scaler_state *s, struct buf *errmsg)
{
	long agents, cooldown, min_age, max_in, warm, headroom;
	int err;

	if ((err = config_long(&settings[S_AGENTS], 1, 64, &agents, errmsg)) ||
	    (err = config_long(&settings[S_COOLDOWN], 0, 120, &cooldown, errmsg)) ||
	    (err = config_long(&settings[S_MIN_AGE], 0, 1440, &min_age, errmsg)) ||
	    (err = config_long(&settings[S_MAX_IN], 0, 100, &max_in, errmsg)) ||
	    (err = config_long(&settings[S_WARM], 0, 64, &warm, errmsg)) ||
	    (err = config_long(&settings[S_HEADROOM], 0, 400, &headroom, errmsg)))
		return err;
	s->policy.agents_per_instance = (unsigned)agents;
	s->policy.scale_in_cooldown_minutes = (unsigned)cooldown;
	s->policy.min_instance_age_minutes = (unsigned)min_age;
	s->policy.max_scale_in_per_run = (unsigned)max_in;
	s->policy.warm_agents = (unsigned)warm;
	s->policy.pending_headroom_percent = (unsigned)headroom;
	return 0;
}

static int read_settings(struct scaler_state *s, struct buf *errmsg)
{
	const char *group = NULL, *os = NULL, *arch = NULL, *agent = NULL;
	int err;

	if ((err = config_string(&settings[S_GROUP], true, 255, &group, errmsg)) ||
	    (err = config_string(&settings[S_OS], true, 64, &os, errmsg)) ||
	    (err = config_string(&settings[S_ARCH], true, 64, &arch, errmsg)) ||
	    (err = read_labels(s, config_value(&settings[S_LABELS]), errmsg)) ||
	    (err = config_string(&settings[S_AGENT_NAME], true, 32, &agent, errmsg)) ||
	    (err = read_policy(s, errmsg)) ||
	    (err = read_drain(s, config_value(&settings[S_DRAIN]), errmsg)) ||
	    (err = config_long(&settings[S_DRAIN_TIMEOUT], 1, 2880, &s->drain_timeout_minutes,
			       errmsg)) ||
	    (err = config_long(&settings[S_BOOT_GRACE], 1, 1440, &s->boot_grace_minutes,
			       errmsg)) ||
	    (err = config_bool(&settings[S_REPLACE], &s->replace_unhealthy, errmsg)) ||
	    (err = config_bool(&settings[S_DRY_RUN], &s->dry_run, errmsg)))
		return err;
	if (!strcmp(agent, "instance-id")) {
		s->agent_name = AGENT_INSTANCE_ID;
	} else if (!strcmp(agent, "private-dns-name")) {
		s->agent_name = AGENT_PRIVATE_DNS;
	} else if (!strcmp(agent, "private-ip")) {
		s->agent_name = AGENT_PRIVATE_IP;
	} else {
		buf_appendf(errmsg, "AGENT_NAME must be instance-id, private-dns-name or private-ip, "
				    "got '%.64s'",
			    agent);
		return ERR_CONFIG;
	}
	s->group = xstrdup(group);
	s->os = xstrdup(os);
	s->arch = xstrdup(arch);
	return 0;
}

/* The token from SSM (DRONE_TOKEN_PARAMETER) or DRONE_TOKEN; wiped once the client has it. */
static int open_drone(struct scaler_state *s, const struct scaler_drone_io *io,
		      struct buf *errmsg)
{
	const char *server = NULL, *parameter = NULL, *token = NULL;
	struct buf value = BUF_INIT, why = BUF_INIT;
	struct aws_error e;
	struct view v;
	int err;

	if ((err = config_string(&settings[S_SERVER], true, 2048, &server, errmsg)) ||
	    (err = config_string(&settings[S_TOKEN_PARAMETER], false, 2048, &parameter, errmsg)) ||
	    (err = config_string(&settings[S_TOKEN], false, DRONE_MAX_TOKEN_LEN, &token, errmsg)))
		return err;
	if (!parameter == !token) {
		buf_appends(errmsg, parameter ? "DRONE_TOKEN_PARAMETER and DRONE_TOKEN are both set: "
						"set only one"
					      : "DRONE_TOKEN_PARAMETER (or DRONE_TOKEN for local runs) "
						"is not set");
		return ERR_CONFIG;
	}
	if (parameter) {
		aws_client_set_deadline(s->aws, aws_client_now_ms(s->aws) + INIT_AWS_TIME_MS);
		err = ssm_get_parameter(s->aws, parameter, true, &value, &e);
		aws_client_set_deadline(s->aws, 0);
		if (err) {
			aws_error_describe(&e, &why);
			buf_appendf(errmsg, "cannot read DRONE_TOKEN_PARAMETER '%s': %s", parameter,
				    buf_cstr(&why));
			goto out;
		}
		/* a value pasted with a trailing newline is still the token */
		v = view_trim(buf_view(&value));
		if (v.len < value.len)
			value.ptr[(size_t)(v.ptr - value.ptr) + v.len] = '\0';
		token = v.ptr;
	}
	struct drone_client_options o = {
		.server = server,
		.token = token,
		.transport = io ? io->transport : NULL,
		.transport_ctx = io ? io->transport_ctx : NULL,
	};
	err = drone_client_new(&o, &s->drone, &why);
	if (err)
		buf_appendf(errmsg, "%s%s%s: %s", parameter ? "DRONE_TOKEN_PARAMETER '" : "",
			    parameter ? parameter : "DRONE_SERVER or DRONE_TOKEN",
			    parameter ? "' or DRONE_SERVER" : "", buf_cstr(&why));
out:
	buf_release_secret(&value);
	buf_release(&why);
	return err;
}

int scaler_init_with(struct aws_client *aws, const struct scaler_drone_io *drone, void **state,
		     struct buf *errmsg)
{
	struct scaler_state *s = xcalloc(1, sizeof(*s));
	int err;

	*state = NULL;
	s->aws = aws;
	if ((err = read_settings(s, errmsg)) ||
	    (!s->aws && (err = aws_client_from_env(&s->aws, errmsg))) ||
	    (err = open_drone(s, drone, errmsg))) {
		scaler_release(s);
		return err;
	}
	log_info("scaling Auto Scaling group '%s' from the Drone queue (%s/%s, %u agents an "
		 "instance)",
		 s->group, s->os, s->arch, s->policy.agents_per_instance);
	*state = s;
	return 0;
}

int scaler_init(void **state, struct buf *errmsg)
{
	return scaler_init_with(NULL, NULL, state, errmsg);
}

void scaler_handle(void *state, const struct lambda_request *req, struct lambda_response *resp)
{
	struct scaler_state *s = state;
	struct event_value ev[E_COUNT] = { 0 }, detail[1] = { 0 };
	struct run run;
	struct buf msg = BUF_INIT;
	bool scheduled;
	int kind = -1;
	int err;

	memset(&run, 0, sizeof(run));
	run.s = s;
	aws_client_set_deadline(s->aws, req->deadline_ms);
	err = event_parse_kinds(req->payload, event_fields, E_COUNT, ev, event_kinds,
				sizeof(event_kinds) / sizeof(event_kinds[0]), &kind, detail,
				&scheduled, &msg);
	if (!err)
		err = event_bool_towards(&ev[E_DRY_RUN], "dry_run", s->dry_run, true, "DRY_RUN",
					 &run.dry_run, &msg);
	if (!err && kind >= 0 && !instance_id_valid(detail[0].string)) {
		buf_appendf(&msg, "detail.instance-id '%.40s' is not an instance id",
			    detail[0].string);
		err = ERR_CONFIG;
	}
	if (err) {
		lambda_fail(resp, "Scaler.InvalidEvent", "%s", buf_cstr(&msg));
		goto out;
	}
	run.result.dry_run = run.dry_run;
	run.now_s = aws_client_now_ms(s->aws) / 1000;
	if (kind >= 0)
		spot_run(&run, detail[0].string, kind_reason[kind], resp);
	else
		scheduled_run(&run, resp);
out:
	run_release(&run);
	event_values_release(ev, E_COUNT);
	event_values_release(detail, 1);
	buf_release(&msg);
}
