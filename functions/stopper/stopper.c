#include "stopper.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cJSON.h"
#include "config.h"
#include "ec2_batch.h"
#include "event.h"
#include "log.h"
#include "timeutil.h"
#include "banned.h"

#define ASG_TAG "aws:autoscaling:groupName"
#define MAX_IDS_PER_CALL EC2_BATCH_MAX_SIZE

/* the states the stopper lists (the plan skips anything else anyway) */
static const char *const live_states[] = { "running", "pending", NULL };

/* ---- plan ---- */

enum stopper_optout stopper_read_optout(const char *value, int64_t now_s, int64_t *until_s)
{
	struct buf trimmed = BUF_INIT;
	enum stopper_optout r;
	bool flag, date_only;
	int64_t t;

	*until_s = 0;
	if (!value)
		return STOPPER_OPTOUT_NONE;
	buf_appendv(&trimmed, view_trim(view_from(value)));
	if (config_parse_bool(buf_cstr(&trimmed), &flag)) {
		r = flag ? STOPPER_OPTOUT_KEEP : STOPPER_OPTOUT_NONE;
	} else if (time_parse_iso8601(buf_cstr(&trimmed), &t, &date_only) == 0) {
		/* a date alone means "keep it through that day" */
		*until_s = date_only ? t + 86400 : t;
		r = now_s < *until_s ? STOPPER_OPTOUT_KEEP : STOPPER_OPTOUT_NONE;
	} else {
		r = STOPPER_OPTOUT_UNREADABLE;
	}
	buf_release(&trimmed);
	return r;
}

static void decide(const struct ec2_instance *inst, int64_t now_s,
		   const struct stopper_policy *policy, struct stopper_decision *d)
{
	const char *group = ec2_instance_tag(inst, ASG_TAG);
	const char *optout = ec2_instance_tag(inst, policy->keep_running_tag);
	struct buf reason = BUF_INIT;
	int64_t until;

	d->instance = inst;
	d->action = STOPPER_SKIP;
	d->hibernate = false;
	d->reason = NULL;

	if (strcmp(inst->state, "running") && strcmp(inst->state, "pending")) {
		buf_appendf(&reason, "state is '%s'", inst->state);
	} else if (group) {
		/* the group would replace it; its scaling is not ours to change */
		buf_appendf(&reason, "member of Auto Scaling group '%s'", group);
	} else {
		switch (stopper_read_optout(optout, now_s, &until)) {
		case STOPPER_OPTOUT_KEEP:
			if (until) {
				buf_appends(&reason, "opted out until ");
				time_format_iso8601(until, &reason);
				buf_appendf(&reason, " (%s=%s)", policy->keep_running_tag, optout);
			} else {
				buf_appendf(&reason, "opted out (%s=%s)", policy->keep_running_tag,
					    optout);
			}
			break;
		case STOPPER_OPTOUT_UNREADABLE:
			buf_appendf(&reason,
				    "unreadable %s value '%.64s' (write true, a date like 2026-11-25 "
				    "or a time like 2026-11-25T08:00:00Z); kept running",
				    policy->keep_running_tag, optout);
			break;
		case STOPPER_OPTOUT_NONE:
			d->action = strcmp(inst->state, "pending") ? STOPPER_STOP
								   : STOPPER_STOP_WHEN_RUNNING;
			d->hibernate = policy->hibernate && inst->hibernation_configured;
			break;
		}
	}
	if (d->action == STOPPER_SKIP)
		d->reason = buf_detach(&reason);
	buf_release(&reason);
}

void stopper_plan(const struct ec2_instance_list *instances, int64_t now_s,
		  const struct stopper_policy *policy, struct stopper_plan *out)
{
	out->count = instances->count;
	out->items = xcalloc(instances->count, sizeof(*out->items));
	for (size_t i = 0; i < instances->count; i++)
		decide(&instances->items[i], now_s, policy, &out->items[i]);
}

void stopper_plan_release(struct stopper_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		free(plan->items[i].reason);
	free(plan->items);
	plan->items = NULL;
	plan->count = 0;
}

/* ---- result ---- */

void stopper_result_release(struct stopper_result *r)
{
	id_list_release(&r->stopped);
	id_list_release(&r->hibernated);
	id_note_list_release(&r->skipped);
	id_note_list_release(&r->failed);
	memset(r, 0, sizeof(*r));
}

char *stopper_result_json(const struct stopper_result *r)
{
	struct buf out = BUF_INIT;

	buf_appends(&out, "{\"stopped\":");
	id_list_append_json(&out, &r->stopped);
	buf_appends(&out, ",\"hibernated\":");
	id_list_append_json(&out, &r->hibernated);
	buf_appends(&out, ",\"skipped\":");
	id_note_list_append_json(&out, &r->skipped, "id", "reason");
	buf_appends(&out, ",\"failed\":");
	id_note_list_append_json(&out, &r->failed, "id", "error");
	buf_appends(&out, r->dry_run ? ",\"dry_run\":true}" : ",\"dry_run\":false}");
	return buf_detach(&out);
}

/* ---- apply ---- */

static void record_stopped(struct stopper_result *r, const struct stopper_decision *d,
			   bool hibernated, bool dry_run)
{
	const char *id = d->instance->id, *name = ec2_instance_tag(d->instance, "Name");

	if (!name)
		name = "";
	id_list_add(&r->stopped, id);
	if (hibernated)
		id_list_add(&r->hibernated, id);
	log_info("%s %s%s%s%s", dry_run ? (hibernated ? "would hibernate" : "would stop")
					: (hibernated ? "hibernated" : "stopped"),
		 id, *name ? " (" : "", name, *name ? ")" : "");
}

static void record_failed(struct stopper_result *r, const char *id, const char *why)
{
	id_note_list_add(&r->failed, id, why);
	log_error("cannot stop '%s': %s", id, why);
}

/* What ec2_batch_run() reports each outcome to: ids[i] is decisions[i]'s. */
struct stop_outcomes {
	const struct stopper_decision *const *decisions;
	struct stopper_result *result;
	bool dry_run;
};

static void stop_done(void *ctx, size_t i, bool hibernated)
{
	struct stop_outcomes *o = ctx;

	record_stopped(o->result, o->decisions[i], hibernated, o->dry_run);
}

static void stop_failed(void *ctx, size_t i, const struct aws_error *e)
{
	struct stop_outcomes *o = ctx;
	struct buf why = BUF_INIT;

	aws_error_describe(e, &why);
	record_failed(o->result, o->decisions[i]->instance->id, buf_cstr(&why));
	buf_release(&why);
}

/*
 * Stops the instances of `ds` in batches (ec2_batch_run(): a batch refused
 * because of one instance goes one by one; a throttled or denied batch fails
 * once). With `hibernate`, a refused hibernation falls back to a plain stop.
 */
static void stop_batches(struct aws_client *aws, const struct stopper_decision *const *ds,
			 size_t n, bool hibernate, const struct stopper_apply_options *opts,
			 struct stopper_result *r)
{
	const char **ids = xcalloc(n + 1, sizeof(*ids));
	struct stop_outcomes o = { ds, r, opts->dry_run };
	struct ec2_batch_options bo = {
		.action = EC2_BATCH_STOP,
		.batch_size = opts->batch_size,
		.dry_run = opts->dry_run,
		.hibernate = hibernate,
		.done = stop_done,
		.failed = stop_failed,
		.ctx = &o,
	};

	for (size_t i = 0; i < n; i++)
		ids[i] = ds[i]->instance->id;
	if (n)
		ec2_batch_run(aws, ids, n, &bo);
	free(ids);
}

/*
 * Waits for pending instances to reach `running`, stopping each as it does,
 * while the invocation has time; the ones still pending at the end fail.
 */
static void stop_pending(struct aws_client *aws, const struct stopper_decision **pending,
			 size_t n, const struct stopper_apply_options *opts, struct stopper_result *r)
{
	const struct stopper_decision **plain = xcalloc(n ? n : 1, sizeof(*plain));
	const struct stopper_decision **hib = xcalloc(n ? n : 1, sizeof(*hib));
	const char **ids = xcalloc(n ? n : 1, sizeof(*ids));
	struct buf gave_up = BUF_INIT;	/* why waiting stopped early, if it did */
	size_t nplain, nhib;
	bool first = true;

	while (n) {
		struct ec2_instance_list found = EC2_INSTANCE_LIST_INIT;
		struct aws_error e;
		size_t kept = 0;

		if (!first) {
			if (aws_client_time_left_ms(aws) <= opts->poll_interval_ms)
				break;
			aws_client_sleep_ms(aws, opts->poll_interval_ms);
		}
		first = false;
		log_info("waiting for %zu pending instance%s to reach running", n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++)
			ids[i] = pending[i]->instance->id;
		if (ec2_describe_instances_by_id(aws, ids, n, &found, &e)) {
			struct buf why = BUF_INIT;
			aws_error_describe(&e, &why);
			log_warn("cannot look at the pending instances: %s", buf_cstr(&why));
			if (ec2_batch_error_ends_run(aws, &e)) {
				/* out of time, or credentials refused: polling on would only hammer */
				buf_appendf(&gave_up, "still pending, and then %s", buf_cstr(&why));
				buf_release(&why);
				break;
			}
			buf_release(&why);
			continue;
		}
		nplain = nhib = 0;
		for (size_t i = 0; i < n; i++) {
			const char *id = pending[i]->instance->id;
			const struct ec2_instance *inst = NULL;

			for (size_t j = 0; j < found.count; j++)
				if (!strcmp(found.items[j].id, id))
					inst = &found.items[j];
			if (!inst) {
				id_note_list_add(&r->skipped, id, "no longer exists");
			} else if (!strcmp(inst->state, "running")) {
				if (pending[i]->hibernate)
					hib[nhib++] = pending[i];
				else
					plain[nplain++] = pending[i];
			} else if (!strcmp(inst->state, "pending")) {
				pending[kept++] = pending[i];
			} else {
				struct buf why = BUF_INIT;
				buf_appendf(&why, "was pending, then became '%s' by itself", inst->state);
				id_note_list_add(&r->skipped, id, buf_cstr(&why));
				buf_release(&why);
			}
		}
		n = kept;
		ec2_instance_list_release(&found);
		stop_batches(aws, plain, nplain, false, opts, r);
		stop_batches(aws, hib, nhib, true, opts, r);
	}
	for (size_t i = 0; i < n; i++)
		record_failed(r, pending[i]->instance->id,
			      gave_up.len ? buf_cstr(&gave_up)
					  : "still pending when the invocation ran out of time");
	buf_release(&gave_up);
	free(plain);
	free(hib);
	free(ids);
}

void stopper_apply(struct aws_client *aws, const struct stopper_plan *plan,
		   const struct stopper_apply_options *opts, struct stopper_result *r)
{
	const struct stopper_decision **plain = xcalloc(plan->count + 1, sizeof(*plain));
	const struct stopper_decision **hib = xcalloc(plan->count + 1, sizeof(*hib));
	const struct stopper_decision **pending = xcalloc(plan->count + 1, sizeof(*pending));
	size_t nplain = 0, nhib = 0, npending = 0;

	r->dry_run = opts->dry_run;
	for (size_t i = 0; i < plan->count; i++) {
		const struct stopper_decision *d = &plan->items[i];
		const char *id = d->instance->id;

		switch (d->action) {
		case STOPPER_SKIP:
			id_note_list_add(&r->skipped, id, d->reason);
			log_info("skipping %s: %s", id, d->reason);
			break;
		case STOPPER_STOP:
			if (d->hibernate)
				hib[nhib++] = d;
			else
				plain[nplain++] = d;
			break;
		case STOPPER_STOP_WHEN_RUNNING:
			pending[npending++] = d;
			break;
		}
	}
	stop_batches(aws, plain, nplain, false, opts, r);
	stop_batches(aws, hib, nhib, true, opts, r);
	if (opts->dry_run) {
		/* a dry run does not wait: these would be stopped once running */
		for (size_t i = 0; i < npending; i++) {
			log_info("would stop %s once it is running", pending[i]->instance->id);
			id_list_add(&r->stopped, pending[i]->instance->id);
		}
	} else {
		stop_pending(aws, pending, npending, opts, r);
	}
	free(plain);
	free(hib);
	free(pending);
}

/* ---- the Lambda function ---- */

static const struct config_setting settings[] = {
	{ "INSTANCE_FILTERS", "tag:devcloud:role=devbox",
	  "EC2 filters selecting the dev boxes: name=value[,value], several separated by ';'",
	  false },
	{ "KEEP_RUNNING_TAG", "devcloud:keep-running",
	  "opt-out tag: 'true', or a date (2026-11-25, kept through that day, UTC) or time "
	  "(2026-11-25T08:00:00Z) until which the box keeps running",
	  false },
	{ "HIBERNATE", "false",
	  "hibernate, rather than stop, the instances configured for hibernation", false },
	{ "DRY_RUN", "false", "change nothing; EC2's DryRun checks permissions and the response "
			      "lists what would be stopped", false },
	{ "STOP_BATCH_SIZE", "50", "instances per StopInstances call (1-1000)", false },
	{ "PENDING_POLL_INTERVAL_MS", "5000",
	  "how often to look at pending instances while waiting to stop them (100-60000)", false },
};
enum { S_FILTERS, S_TAG, S_HIBERNATE, S_DRY_RUN, S_BATCH, S_POLL };

static const struct event_field event_fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "hibernate", EVENT_BOOL },
	{ "instance_filters", EVENT_STRING },
};
enum { E_DRY_RUN, E_HIBERNATE, E_FILTERS, E_COUNT };

struct stopper_state {
	struct aws_client *aws;
	struct ec2_filter_list filters;
	char *keep_running_tag;
	bool hibernate;
	bool dry_run;
	long batch_size;
	long poll_interval_ms;
};

void stopper_help(struct buf *out)
{
	buf_appends(out,
		    "Selects the running and pending instances matching INSTANCE_FILTERS and stops\n"
		    "them, except Auto Scaling group members and instances opted out with\n"
		    "KEEP_RUNNING_TAG. Pending ones are stopped once they reach running.\n\n"
		    "Event: a scheduled event, {}, or overrides (in either) such as\n"
		    "  {\"dry_run\": true, \"hibernate\": true, \"instance_filters\": \"tag:Name=alice\"}\n"
		    "An event only narrows the configuration: its filters are added to\n"
		    "INSTANCE_FILTERS, and DRY_RUN=true and HIBERNATE=true are final.\n\n");
	config_help("Configuration (environment variables)", settings,
		    sizeof(settings) / sizeof(settings[0]), out);
	aws_config_help(out);
}

void stopper_release(void *state)
{
	struct stopper_state *s = state;

	if (!s)
		return;
	aws_client_free(s->aws);
	ec2_filters_release(&s->filters);
	free(s->keep_running_tag);
	free(s);
}

int stopper_init_with(struct aws_client *aws, void **state, struct buf *errmsg)
{
	struct stopper_state *s = xcalloc(1, sizeof(*s));
	const char *tag = NULL;
	int err;

	*state = NULL;
	s->aws = aws;
	/* the function's own settings first: their mistakes are the likelier ones */
	if ((err = ec2_filters_parse(config_value(&settings[S_FILTERS]), "INSTANCE_FILTERS",
				     &s->filters, errmsg)) ||
	    (err = config_string(&settings[S_TAG], true, 127, &tag, errmsg)) ||
	    (err = config_bool(&settings[S_HIBERNATE], &s->hibernate, errmsg)) ||
	    (err = config_bool(&settings[S_DRY_RUN], &s->dry_run, errmsg)) ||
	    (err = config_long(&settings[S_BATCH], 1, MAX_IDS_PER_CALL, &s->batch_size, errmsg)) ||
	    (err = config_long(&settings[S_POLL], 100, 60000, &s->poll_interval_ms, errmsg)) ||
	    (!s->aws && (err = aws_client_from_env(&s->aws, errmsg)))) {
		stopper_release(s);
		return err;
	}
	s->keep_running_tag = xstrdup(tag);
	*state = s;
	return 0;
}

int stopper_init(void **state, struct buf *errmsg)
{
	return stopper_init_with(NULL, state, errmsg);
}

static void list_failures(const struct stopper_result *r, struct buf *out)
{
	buf_appendf(out, "%zu instance%s not stopped: ", r->failed.count,
		    r->failed.count == 1 ? "" : "s");
	id_note_list_describe(&r->failed, 10, out);
}

/* What one invocation does: the configuration, narrowed by the event. */
struct stopper_run {
	const struct ec2_filter_list *event_filters;	/* added to the configured ones */
	struct stopper_policy policy;
	struct stopper_apply_options opts;
};

/*
 * Reads the event over the configuration. A filter override is parsed into
 * `event_filters` (the caller releases it). An event may only narrow what
 * the configuration allows: its filters are added to INSTANCE_FILTERS, and
 * DRY_RUN=true and HIBERNATE=true are final. ERR_CONFIG with a message
 * naming the bad key.
 */
static int read_event(const struct stopper_state *s, struct view payload,
		      struct ec2_filter_list *event_filters, struct stopper_run *run,
		      struct buf *msg)
{
	struct event_value ev[E_COUNT] = { 0 };
	bool scheduled;
	int err;

	err = event_parse(payload, event_fields, E_COUNT, ev, &scheduled, msg);
	if (!err)
		err = event_bool_towards(&ev[E_DRY_RUN], "dry_run", s->dry_run, true, "DRY_RUN",
					 &run->opts.dry_run, msg);
	/* a hibernated box keeps its memory: hibernating is the gentler stop */
	if (!err)
		err = event_bool_towards(&ev[E_HIBERNATE], "hibernate", s->hibernate, true,
					 "HIBERNATE", &run->policy.hibernate, msg);
	if (!err && ev[E_FILTERS].present)
		err = ec2_filters_parse(ev[E_FILTERS].string, "instance_filters", event_filters,
					msg);
	if (!err) {
		run->event_filters = ev[E_FILTERS].present ? event_filters : NULL;
		run->policy.keep_running_tag = s->keep_running_tag;
		run->opts.batch_size = (size_t)s->batch_size;
		run->opts.poll_interval_ms = s->poll_interval_ms;
	}
	event_values_release(ev, E_COUNT);
	return err;
}

/* Lists, plans, applies; the result goes to resp. */
static void run_stopper(struct stopper_state *s, const struct stopper_run *run,
			struct lambda_response *resp)
{
	struct ec2_filter_list selection = EC2_FILTER_LIST_INIT, query = EC2_FILTER_LIST_INIT;
	struct ec2_instance_list instances = EC2_INSTANCE_LIST_INIT;
	struct stopper_plan plan = { NULL, 0 };
	struct stopper_result result = { 0 };
	struct buf msg = BUF_INIT, desc = BUF_INIT;
	struct aws_error e;

	/* the configured filters and the event's: an instance must match both */
	ec2_filters_append(&selection, &s->filters);
	ec2_filters_append(&selection, run->event_filters);
	ec2_filters_with_states(&selection, live_states, &query);
	ec2_filters_describe(&selection, &desc);
	log_info("%slooking for running dev boxes (%s)", run->opts.dry_run ? "dry run: " : "",
		 buf_cstr(&desc));

	/* what the plan and the logs read: 10,000 instances keep little else */
	const char *const tags[] = { ASG_TAG, run->policy.keep_running_tag, "Name", NULL };
	instances.keep_tags = tags;
	instances.lean = true;
	if (ec2_describe_instances(s->aws, &query, &instances, &e)) {
		aws_error_describe(&e, &msg);
		log_error("cannot list instances: %s", buf_cstr(&msg));
		lambda_fail(resp, "Stopper.ListFailed",
			    "cannot list instances (%s): %s; nothing was stopped", buf_cstr(&desc),
			    buf_cstr(&msg));
		goto out;
	}
	stopper_plan(&instances, aws_client_now_ms(s->aws) / 1000, &run->policy, &plan);
	stopper_apply(s->aws, &plan, &run->opts, &result);
	/* the result holds copies: the listing's memory serves the JSON text */
	stopper_plan_release(&plan);
	ec2_instance_list_release(&instances);

	buf_adopt(&resp->payload, stopper_result_json(&result));
	log_info("%s%zu stopped (%zu hibernated), %zu skipped, %zu failed",
		 run->opts.dry_run ? "dry run: " : "", result.stopped.count,
		 result.hibernated.count, result.skipped.count, result.failed.count);
	if (result.failed.count) {
		list_failures(&result, &msg);
		lambda_fail(resp, "Stopper.InstancesNotStopped", "%s", buf_cstr(&msg));
	}
out:
	ec2_filters_release(&selection);
	ec2_filters_release(&query);
	stopper_plan_release(&plan);
	stopper_result_release(&result);
	ec2_instance_list_release(&instances);
	buf_release(&msg);
	buf_release(&desc);
}

void stopper_handle(void *state, const struct lambda_request *req, struct lambda_response *resp)
{
	struct stopper_state *s = state;
	struct ec2_filter_list event_filters = EC2_FILTER_LIST_INIT;
	struct stopper_run run;
	struct buf msg = BUF_INIT;

	aws_client_set_deadline(s->aws, req->deadline_ms);
	if (read_event(s, req->payload, &event_filters, &run, &msg))
		lambda_fail(resp, "Stopper.InvalidEvent", "%s", buf_cstr(&msg));
	else
		run_stopper(s, &run, resp);
	ec2_filters_release(&event_filters);
	buf_release(&msg);
}
