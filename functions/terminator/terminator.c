#include "terminator.h"

#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "config.h"
#include "ec2_batch.h"
#include "event.h"
#include "log.h"
#include "timeutil.h"
#include "banned.h"

#define ASG_TAG "aws:autoscaling:groupName"
#define MAX_IDS_PER_CALL EC2_BATCH_MAX_SIZE
#define MIN_LIFETIME_HOURS 1
#define MAX_LIFETIME_HOURS 8760	/* a year */
#define SECONDS_PER_HOUR 3600

/* The states a builder can be billed in, and the only ones acted on. */
static const char *const live_states[] = { "pending", "running", "stopping", "stopped", NULL };

/* ---- plan ---- */

static bool is_live(const char *state)
{
	for (size_t i = 0; live_states[i]; i++)
		if (!strcmp(state, live_states[i]))
			return true;
	return false;
}

/*
 * Where the age counts from. The attach time of the primary network
 * interface survives stops and starts; LaunchTime resets at every start, so
 * a builder someone stopped and started again would look young by it.
 */
static void read_age(const struct ec2_instance *inst, int64_t now_s,
		     struct terminator_decision *d)
{
	if (inst->attach_time > 0) {
		d->clock = TERMINATOR_CLOCK_ATTACH;
		d->since_s = inst->attach_time;
	} else if (inst->launch_time > 0) {
		d->clock = TERMINATOR_CLOCK_LAUNCH;
		d->since_s = inst->launch_time;
	} else {
		d->clock = TERMINATOR_CLOCK_NONE;
		d->since_s = 0;
		d->age_s = -1;
		d->in_future = false;
		return;
	}
	/* a clock ahead of ours is not a reason to terminate anything */
	d->in_future = d->since_s > now_s;
	d->age_s = d->in_future ? 0 : now_s - d->since_s;
}

static void decide(const struct ec2_instance *inst, int64_t now_s,
		   const struct terminator_policy *policy, struct terminator_decision *d)
{
	const char *group = ec2_instance_tag(inst, ASG_TAG);
	struct buf reason = BUF_INIT;

	d->instance = inst;
	d->action = TERMINATOR_KEEP;
	d->reason = NULL;
	read_age(inst, now_s, d);

	if (!is_live(inst->state)) {
		d->action = TERMINATOR_IGNORE;
		buf_appendf(&reason, "state is '%s'", inst->state);
	} else if (group) {
		/* the group would launch a replacement; its scaling is not ours */
		buf_appendf(&reason, "member of Auto Scaling group '%s', which owns its lifetime",
			    group);
	} else if (d->age_s < 0) {
		/* never guessed old: an unreadable time is not a reason to terminate */
		buf_appends(&reason, "its age is unknown (no attach or launch time)");
	} else if (d->age_s > (int64_t)policy->lifetime_hours * SECONDS_PER_HOUR) {
		d->action = TERMINATOR_TERMINATE;
	} else {
		buf_appendf(&reason, "within its %ld h lifetime", policy->lifetime_hours);
	}
	if (d->action != TERMINATOR_TERMINATE)
		d->reason = buf_detach(&reason);
	buf_release(&reason);
}

void terminator_plan(const struct ec2_instance_list *instances, int64_t now_s,
		     const struct terminator_policy *policy, struct terminator_plan *out)
{
	out->count = instances->count;
	out->items = xcalloc(instances->count, sizeof(*out->items));
	for (size_t i = 0; i < instances->count; i++)
		decide(&instances->items[i], now_s, policy, &out->items[i]);
}

void terminator_plan_release(struct terminator_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		free(plan->items[i].reason);
	free(plan->items);
	plan->items = NULL;
	plan->count = 0;
}

void terminator_describe_age(const struct terminator_decision *d, struct buf *out)
{
	int64_t tenths;

	if (d->clock == TERMINATOR_CLOCK_NONE) {
		buf_appends(out, "of unknown age (no attach or launch time)");
		return;
	}
	tenths = time_tenths_of_hour(d->age_s);
	buf_appendf(out, "aged %lld.%lld h since %s ", (long long)(tenths / 10),
		    (long long)(tenths % 10),
		    d->clock == TERMINATOR_CLOCK_ATTACH ? "its network interface attached"
							: "it launched");
	time_format_iso8601(d->since_s, out);
	if (d->in_future)
		buf_appends(out, " (a time in the future)");
}

/* ---- result ---- */

static void add_kept(struct terminator_result *r, const char *id, int64_t age_s)
{
	if (r->kept_count == r->kept_cap) {
		r->kept_cap = r->kept_cap ? 2 * r->kept_cap : 16;
		r->kept = xrealloc(r->kept, r->kept_cap * sizeof(*r->kept));
	}
	r->kept[r->kept_count].id = xstrdup(id);
	r->kept[r->kept_count].age_s = age_s;
	r->kept_count++;
}

void terminator_result_release(struct terminator_result *r)
{
	id_list_release(&r->terminated);
	for (size_t i = 0; i < r->kept_count; i++)
		free(r->kept[i].id);
	free(r->kept);
	id_note_list_release(&r->failed);
	memset(r, 0, sizeof(*r));
}

char *terminator_result_json(const struct terminator_result *r)
{
	struct buf out = BUF_INIT;

	buf_appends(&out, "{\"terminated\":");
	id_list_append_json(&out, &r->terminated);
	buf_appends(&out, ",\"kept\":[");
	for (size_t i = 0; i < r->kept_count; i++) {
		buf_appends(&out, i ? ",{\"id\":" : "{\"id\":");
		json_append_string(&out, r->kept[i].id);
		buf_appends(&out, ",\"age_hours\":");
		if (r->kept[i].age_s < 0)
			buf_appends(&out, "null");
		else
			json_append_number(&out, time_hours(r->kept[i].age_s));
		buf_appendc(&out, '}');
	}
	buf_appends(&out, "],\"failed\":");
	id_note_list_append_json(&out, &r->failed, "id", "error");
	buf_appends(&out, r->dry_run ? ",\"dry_run\":true}" : ",\"dry_run\":false}");
	return buf_detach(&out);
}

/* ---- apply ---- */

/* "i-0abc (nightly-builder)", or the id alone for an instance without a Name */
static void describe_instance(const struct ec2_instance *inst, struct buf *out)
{
	const char *name = ec2_instance_tag(inst, "Name");

	buf_appends(out, inst->id);
	if (name && *name)
		buf_appendf(out, " (%s)", name);
}

static void record_terminated(struct terminator_result *r, const struct terminator_decision *d,
			      bool dry_run)
{
	struct buf line = BUF_INIT;

	id_list_add(&r->terminated, d->instance->id);
	buf_appends(&line, dry_run ? "would terminate " : "terminated ");
	describe_instance(d->instance, &line);
	buf_appends(&line, ": ");
	terminator_describe_age(d, &line);
	log_info("%s", buf_cstr(&line));
	buf_release(&line);
}

static void record_failed(struct terminator_result *r, const struct terminator_decision *d,
			  const struct aws_error *e)
{
	const char *name = ec2_instance_tag(d->instance, "Name");
	struct buf why = BUF_INIT;

	aws_error_describe(e, &why);
	id_note_list_add(&r->failed, d->instance->id, buf_cstr(&why));
	log_error("cannot terminate '%s'%s%s%s: %s", d->instance->id, name && *name ? " (" : "",
		  name && *name ? name : "", name && *name ? ")" : "", buf_cstr(&why));
	buf_release(&why);
}

/* What ec2_batch_run() reports each outcome to. */
struct terminate_outcomes {
	const struct terminator_decision *const *todo;
	struct terminator_result *result;
	bool dry_run;
};

static void terminate_done(void *ctx, size_t i, bool hibernated)
{
	struct terminate_outcomes *o = ctx;

	(void)hibernated;
	record_terminated(o->result, o->todo[i], o->dry_run);
}

static void terminate_failed(void *ctx, size_t i, const struct aws_error *e)
{
	struct terminate_outcomes *o = ctx;

	record_failed(o->result, o->todo[i], e);
}

/*
 * Terminates in batches (ec2_batch_run()). EC2 terminates all of a call's
 * instances or none: a batch refused because of one instance (protected,
 * vanished) goes one by one, so one bad instance never keeps the others
 * alive; a throttled or denied batch fails once, as a whole.
 */
static void terminate_batches(struct aws_client *aws, const struct terminator_decision *const *todo,
			      size_t n, const struct terminator_apply_options *opts,
			      struct terminator_result *r)
{
	struct terminate_outcomes o = { todo, r, opts->dry_run };
	struct ec2_batch_options bo = {
		.action = EC2_BATCH_TERMINATE,
		.batch_size = opts->batch_size,
		.dry_run = opts->dry_run,
		.done = terminate_done,
		.failed = terminate_failed,
		.ctx = &o,
	};
	const char **ids;

	if (!n)
		return;
	ids = xcalloc(n, sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		ids[i] = todo[i]->instance->id;
	ec2_batch_run(aws, ids, n, &bo);
	free(ids);
}

void terminator_apply(struct aws_client *aws, const struct terminator_plan *plan,
		      const struct terminator_apply_options *opts, struct terminator_result *r)
{
	const struct terminator_decision **todo = xcalloc(plan->count, sizeof(*todo));
	struct buf line = BUF_INIT;
	size_t n = 0;

	r->dry_run = opts->dry_run;
	for (size_t i = 0; i < plan->count; i++) {
		const struct terminator_decision *d = &plan->items[i];

		switch (d->action) {
		case TERMINATOR_TERMINATE:
			todo[n++] = d;
			break;
		case TERMINATOR_KEEP:
			add_kept(r, d->instance->id, d->age_s);
			buf_reset(&line);
			buf_appends(&line, "keeping ");
			describe_instance(d->instance, &line);
			buf_appendf(&line, ": %s", d->reason);
			if (d->clock != TERMINATOR_CLOCK_NONE) {
				buf_appends(&line, "; ");
				terminator_describe_age(d, &line);
			}
			log_info("%s", buf_cstr(&line));
			break;
		case TERMINATOR_IGNORE:
			log_debug("ignoring %s: %s", d->instance->id, d->reason);
			break;
		}
	}
	terminate_batches(aws, todo, n, opts, r);
	buf_release(&line);
	free(todo);
}

/* ---- the Lambda function ---- */

static const struct config_setting settings[] = {
	{ "BUILDER_FILTERS", "tag:devcloud:role=builder",
	  "EC2 filters selecting the builder instances: name=value[,value], several separated "
	  "by ';' (the states pending, running, stopping and stopped are added unless "
	  "instance-state-name is given)",
	  false },
	{ "BUILDER_LIFETIME_HOURS", "48",
	  "a builder aged more than this many hours (1-8760) is terminated; the age counts from "
	  "its primary network interface's attach time, else its launch time",
	  false },
	{ "TERMINATE_BATCH_SIZE", "50", "instances per TerminateInstances call (1-1000)", false },
	{ "DRY_RUN", "false",
	  "change nothing; EC2's DryRun checks permissions and the response lists what would be "
	  "terminated",
	  false },
};
enum { S_FILTERS, S_LIFETIME, S_BATCH, S_DRY_RUN };

static const struct event_field event_fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "builder_filters", EVENT_STRING },
	{ "builder_lifetime_hours", EVENT_INT },
};
enum { E_DRY_RUN, E_FILTERS, E_LIFETIME, E_COUNT };

struct terminator_state {
	struct aws_client *aws;
	struct ec2_filter_list filters;
	long lifetime_hours;
	long batch_size;
	bool dry_run;
};

void terminator_help(struct buf *out)
{
	buf_appends(out,
		    "Selects the builder instances matching BUILDER_FILTERS (pending, running,\n"
		    "stopping or stopped) and terminates the ones that have lived longer than\n"
		    "BUILDER_LIFETIME_HOURS. Auto Scaling group members are left to their group.\n"
		    "An instance that refuses (termination protection, already gone) is reported\n"
		    "and does not stop the others.\n\n"
		    "Event: a scheduled event, {}, or overrides (in either) such as\n"
		    "  {\"dry_run\": true, \"builder_lifetime_hours\": 72,\n"
		    "   \"builder_filters\": \"tag:Name=nightly-*\"}\n"
		    "An event only narrows the configuration: its filters are added to\n"
		    "BUILDER_FILTERS, its lifetime may not be shorter than BUILDER_LIFETIME_HOURS,\n"
		    "and DRY_RUN=true is final.\n\n");
	config_help("Configuration (environment variables)", settings,
		    sizeof(settings) / sizeof(settings[0]), out);
	aws_config_help(out);
}

void terminator_release(void *state)
{
	struct terminator_state *s = state;

	if (!s)
		return;
	aws_client_free(s->aws);
	ec2_filters_release(&s->filters);
	free(s);
}

static int read_settings(struct terminator_state *s, struct buf *errmsg)
{
	int err;

	if ((err = ec2_filters_parse(config_value(&settings[S_FILTERS]), "BUILDER_FILTERS",
				     &s->filters, errmsg)) ||
	    (err = config_long(&settings[S_LIFETIME], MIN_LIFETIME_HOURS, MAX_LIFETIME_HOURS,
			       &s->lifetime_hours, errmsg)) ||
	    (err = config_long(&settings[S_BATCH], 1, MAX_IDS_PER_CALL, &s->batch_size, errmsg)) ||
	    (err = config_bool(&settings[S_DRY_RUN], &s->dry_run, errmsg)))
		return err;
	return 0;
}

int terminator_init_with(struct aws_client *aws, void **state, struct buf *errmsg)
{
	struct terminator_state *s = xcalloc(1, sizeof(*s));
	int err;

	*state = NULL;
	s->aws = aws;
	/* the function's own settings first: their mistakes are the likelier ones */
	if ((err = read_settings(s, errmsg)) ||
	    (!s->aws && (err = aws_client_from_env(&s->aws, errmsg)))) {
		terminator_release(s);
		return err;
	}
	*state = s;
	return 0;
}

int terminator_init(void **state, struct buf *errmsg)
{
	return terminator_init_with(NULL, state, errmsg);
}

/* What one invocation does: the configuration, narrowed by the event. */
struct terminator_run {
	const struct ec2_filter_list *event_filters;	/* added to the configured ones */
	struct terminator_policy policy;
	struct terminator_apply_options opts;
};

/*
 * Reads the event over the configuration. A filter override is parsed into
 * `event_filters` (the caller releases it). An event may only narrow what
 * the configuration allows: its filters are added to BUILDER_FILTERS, its
 * lifetime may be longer than BUILDER_LIFETIME_HOURS but not shorter, and
 * DRY_RUN=true is final. ERR_CONFIG with a message naming the bad key.
 */
static int read_event(const struct terminator_state *s, struct view payload,
		      struct ec2_filter_list *event_filters, struct terminator_run *run,
		      struct buf *msg)
{
	struct event_value ev[E_COUNT] = { 0 };
	bool scheduled;
	int err;

	err = event_parse(payload, event_fields, E_COUNT, ev, &scheduled, msg);
	if (!err)
		err = event_bool_towards(&ev[E_DRY_RUN], "dry_run", s->dry_run, true, "DRY_RUN",
					 &run->opts.dry_run, msg);
	if (!err)
		err = event_int_at_least(&ev[E_LIFETIME], "builder_lifetime_hours",
					 s->lifetime_hours, MAX_LIFETIME_HOURS,
					 "BUILDER_LIFETIME_HOURS", &run->policy.lifetime_hours, msg);
	if (!err && ev[E_FILTERS].present)
		err = ec2_filters_parse(ev[E_FILTERS].string, "builder_filters", event_filters,
					msg);
	if (!err) {
		run->event_filters = ev[E_FILTERS].present ? event_filters : NULL;
		run->opts.batch_size = (size_t)s->batch_size;
	}
	event_values_release(ev, E_COUNT);
	return err;
}

/* Lists, plans, applies; the result goes to resp. */
static void run_terminator(struct terminator_state *s, const struct terminator_run *run,
			   struct lambda_response *resp)
{
	struct ec2_filter_list selection = EC2_FILTER_LIST_INIT, query = EC2_FILTER_LIST_INIT;
	struct ec2_instance_list instances = EC2_INSTANCE_LIST_INIT;
	struct terminator_plan plan = { NULL, 0 };
	struct terminator_result result = { 0 };
	struct buf msg = BUF_INIT, desc = BUF_INIT;
	struct aws_error e;

	/* the configured filters and the event's: a builder must match both */
	ec2_filters_append(&selection, &s->filters);
	ec2_filters_append(&selection, run->event_filters);
	ec2_filters_with_states(&selection, live_states, &query);
	ec2_filters_describe(&selection, &desc);
	log_info("%slooking for builders older than %ld h (%s)",
		 run->opts.dry_run ? "dry run: " : "", run->policy.lifetime_hours, buf_cstr(&desc));

	/* what the plan and the logs read: 10,000 instances keep little else */
	static const char *const tags[] = { ASG_TAG, "Name", NULL };
	instances.keep_tags = tags;
	instances.lean = true;
	if (ec2_describe_instances(s->aws, &query, &instances, &e)) {
		aws_error_describe(&e, &msg);
		log_error("cannot list instances: %s", buf_cstr(&msg));
		lambda_fail(resp, "Terminator.ListFailed",
			    "cannot list instances (%s): %s; nothing was terminated",
			    buf_cstr(&desc), buf_cstr(&msg));
		goto out;
	}
	terminator_plan(&instances, aws_client_now_ms(s->aws) / 1000, &run->policy, &plan);
	terminator_apply(s->aws, &plan, &run->opts, &result);
	/* the result holds copies: the listing's memory serves the JSON text */
	terminator_plan_release(&plan);
	ec2_instance_list_release(&instances);

	buf_adopt(&resp->payload, terminator_result_json(&result));
	log_info("%s%zu %s, %zu kept, %zu failed", run->opts.dry_run ? "dry run: " : "",
		 result.terminated.count, run->opts.dry_run ? "would be terminated" : "terminated",
		 result.kept_count, result.failed.count);
	if (result.failed.count) {
		buf_appendf(&msg, "%zu instance%s not terminated: ", result.failed.count,
			    result.failed.count == 1 ? "" : "s");
		id_note_list_describe(&result.failed, 10, &msg);
		lambda_fail(resp, "Terminator.InstancesNotTerminated", "%s", buf_cstr(&msg));
	}
out:
	ec2_filters_release(&selection);
	ec2_filters_release(&query);
	terminator_plan_release(&plan);
	terminator_result_release(&result);
	ec2_instance_list_release(&instances);
	buf_release(&msg);
	buf_release(&desc);
}

void terminator_handle(void *state, const struct lambda_request *req,
		       struct lambda_response *resp)
{
	struct terminator_state *s = state;
	struct ec2_filter_list event_filters = EC2_FILTER_LIST_INIT;
	struct terminator_run run;
	struct buf msg = BUF_INIT;

	aws_client_set_deadline(s->aws, req->deadline_ms);
	if (read_event(s, req->payload, &event_filters, &run, &msg))
		lambda_fail(resp, "Terminator.InvalidEvent", "%s", buf_cstr(&msg));
	else
		run_terminator(s, &run, resp);
	ec2_filters_release(&event_filters);
	buf_release(&msg);
}
