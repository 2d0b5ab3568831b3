#include "build_monitor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "idlist.h"
#include "log.h"
#include "slack.h"
#include "ssm.h"
#include "timeutil.h"
#include "banned.h"

/* only a running builder has a build log to read */
static const char *const running_state[] = { "running", NULL };

#define MAX_AGE_HOURS_LIMIT 8760	/* a year */
#define BUILD_COMMAND_MAX 200
#define MAX_ADMINS 50
/* Slack ids: a letter for the kind, then upper-case letters and digits */
#define SLACK_ID_MIN_LEN 7
#define SLACK_ID_MAX_LEN 21
/* Lambda gives init 10 s in all: the parameter read must leave time to report */
#define INIT_AWS_TIME_MS 8000
/* kept free before the invocation's deadline to send the result */
#define SLACK_DEADLINE_MARGIN_MS 1500
/* a filter description in the context line, before escaping */
#define CONTEXT_FILTERS_MAX 300

/* ---- plan ---- */

static const struct ec2_image *newest_available(const struct ec2_image_list *images)
{
	const struct ec2_image *best = NULL;

	for (size_t i = 0; i < images->count; i++) {
		const struct ec2_image *im = &images->items[i];

		/* a pending image may still fail; a failed one never served anybody */
		if (strcmp(im->state, "available"))
			continue;
		if (!best || im->creation_time > best->creation_time ||
		    (im->creation_time == best->creation_time && strcmp(im->id, best->id) > 0))
			best = im;
	}
	return best;
}

static const struct ec2_instance *newest_running(const struct ec2_instance_list *builders)
{
	const struct ec2_instance *best = NULL;

	for (size_t i = 0; i < builders->count; i++) {
		const struct ec2_instance *in = &builders->items[i];

		if (strcmp(in->state, "running"))
			continue;
		if (!best || in->launch_time > best->launch_time ||
		    (in->launch_time == best->launch_time && strcmp(in->id, best->id) > 0))
			best = in;
	}
	return best;
}

/* The address the ssh command uses: the configured kind, else what there is. */
static void choose_address(const struct ec2_instance *b, enum build_monitor_ip want,
			   struct build_monitor_plan *out)
{
	bool private = want == BUILD_MONITOR_IP_PRIVATE;
	const char *first = private ? b->private_ip : b->public_ip;
	const char *other = private ? b->public_ip : b->private_ip;
	struct buf note = BUF_INIT;

	if (first && *first) {
		out->builder_address = xstrdup(first);
		return;
	}
	if (other && *other) {
		out->builder_address = xstrdup(other);
		buf_appendf(&note, "it has no %s IP; this is its %s one",
			    private ? "private" : "public", private ? "public" : "private");
	} else {
		/* ssh still reaches it through an SSM or EC2 Instance Connect proxy */
		out->builder_address = xstrdup(b->id);
		buf_appends(&note, "it has no IP address; this is its instance id, for an ssh "
				   "proxy such as Session Manager");
	}
	out->address_note = buf_detach(&note);
}

void build_monitor_plan(const struct ec2_image_list *images,
			const struct ec2_instance_list *builders, int64_t now_s,
			const struct build_monitor_policy *policy, struct build_monitor_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->latest = newest_available(images);
	if (out->latest) {
		out->age_s = now_s - out->latest->creation_time;
		/* EC2's clock and ours may differ by a little: no negative ages */
		if (out->age_s < 0)
			out->age_s = 0;
		out->stale = out->age_s > (int64_t)policy->max_age_hours * 3600;
	} else {
		out->stale = true;
	}

	if (!builders) {
		out->next = BUILD_MONITOR_BUILDER_UNKNOWN;
		return;
	}
	out->builder = newest_running(builders);
	if (!out->builder) {
		out->next = BUILD_MONITOR_START_BUILD;
		return;
	}
	out->next = BUILD_MONITOR_INSPECT_LOG;
	choose_address(out->builder, policy->builder_ip, out);
}

void build_monitor_plan_release(struct build_monitor_plan *plan)
{
	free(plan->builder_address);
	free(plan->address_note);
	memset(plan, 0, sizeof(*plan));
}

/* ---- the Slack message ---- */

static bool valid_slack_id(const char *id)
{
	size_t len = strlen(id);

	if (len < SLACK_ID_MIN_LEN || len > SLACK_ID_MAX_LEN || !strchr("UWS", id[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
			return false;
	return true;
}

int build_monitor_parse_admins(const char *spec, struct buf *mentions, struct buf *errmsg)
{
	static const char separators[] = ", \t\r\n";
	struct id_list seen = ID_LIST_INIT;
	const char *p = spec ? spec : "";
	int err = 0;

	for (;;) {
		size_t len;
		char *id;

		p += strspn(p, separators);
		len = strcspn(p, separators);
		if (!len)
			break;
		id = xstrndup(p, len);
		p += len;
		if (!valid_slack_id(id)) {
			buf_appendf(errmsg,
				    "SLACK_ADMINS: '%.40s' is not a Slack user id (like U024BE7LH or "
				    "W0123ABC) or user-group id (like S0614TZR7)",
				    id);
			err = ERR_CONFIG;
		} else if (!id_list_has(&seen, id)) {
			if (seen.count == MAX_ADMINS) {
				buf_appendf(errmsg, "SLACK_ADMINS lists more than %d ids", MAX_ADMINS);
				err = ERR_CONFIG;
			} else {
				id_list_add(&seen, id);
				if (mentions->len)
					buf_appendc(mentions, ' ');
				/* user groups have their own mention syntax */
				buf_appendf(mentions, id[0] == 'S' ? "<!subteam^%s>" : "<@%s>", id);
			}
		}
		free(id);
		if (err)
			break;
	}
	id_list_release(&seen);
	if (err)
		buf_reset(mentions);
	return err;
}

/* "2026-11-25 03:00 UTC" */
static void append_time(struct buf *out, int64_t epoch_s)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) && strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", &tm))
		buf_appends(out, text);
	else
		buf_appends(out, "at an unreadable time");
}

/* Escapes at most `max` bytes of text, cut at a UTF-8 character boundary. */
static void append_escaped_capped(struct buf *out, const char *text, size_t max)
{
	size_t len = strlen(text);
	char *cut;

	if (len <= max) {
		slack_escape(out, text);
		return;
	}
	while (max && ((unsigned char)text[max] & 0xC0) == 0x80)
		max--;
	cut = xstrndup(text, max);
	slack_escape(out, cut);
	buf_appends(out, "…");
	free(cut);
}

/* The image (and, for a test, that nothing is wrong), after the mentions. */
static void main_line(const struct build_monitor_plan *plan,
		      const struct build_monitor_message_options *opts, struct buf *out)
{
	const struct ec2_image *im = plan->latest;

	if (!im) {
		buf_appends(out, ":warning: No available dev-box image was found: the nightly "
				 "build has not produced one.");
		return;
	}
	if (opts->test && !plan->stale)
		buf_appends(out, ":test_tube: Test alert (force_alert), nothing is wrong: the "
				 "newest dev-box image ");
	else
		buf_appends(out, ":warning: The newest dev-box image ");
	if (*im->name) {
		slack_escape(out, im->name);
		buf_appendf(out, " (%s)", im->id);
	} else {
		buf_appends(out, im->id);
	}
	buf_appends(out, " is ");
	time_format_hours(plan->age_s, out);
	buf_appends(out, " old (built ");
	append_time(out, im->creation_time);
	buf_appends(out, ").");
}

static void next_step_line(const struct build_monitor_plan *plan,
			   const struct build_monitor_message_options *opts, struct buf *out)
{
	const char *name;

	switch (plan->next) {
	case BUILD_MONITOR_INSPECT_LOG:
		name = ec2_instance_tag(plan->builder, "Name");
		buf_appendf(out, "Builder %s", plan->builder->id);
		if (name && *name) {
			buf_appends(out, " (");
			slack_escape(out, name);
			buf_appendc(out, ')');
		}
		buf_appends(out, " is running: inspect its build log with `ssh ubuntu@");
		slack_escape(out, plan->builder_address);
		buf_appends(out, " cat build.log`");
		if (plan->address_note)
			buf_appendf(out, " (%s)", plan->address_note);
		buf_appendc(out, '.');
		break;
	case BUILD_MONITOR_START_BUILD:
		buf_appends(out, "No builder is running: start a new build with `");
		slack_escape(out, opts->build_command);
		buf_appends(out, "`.");
		break;
	case BUILD_MONITOR_BUILDER_UNKNOWN:
		buf_appends(out, "The builder could not be checked: unless a build is running, "
				 "start one with `");
		slack_escape(out, opts->build_command);
		buf_appends(out, "`.");
		break;
	}
}

static void context_line(const struct build_monitor_policy *policy,
			 const struct build_monitor_message_options *opts, struct buf *out)
{
	buf_appendf(out, "Alerts when the newest image is older than %ld h · images: ",
		    policy->max_age_hours);
	append_escaped_capped(out, opts->image_filters, CONTEXT_FILTERS_MAX);
	buf_appends(out, " (owner: self) · builders: ");
	append_escaped_capped(out, opts->builder_filters, CONTEXT_FILTERS_MAX);
}

static cJSON *mrkdwn(const char *text)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "mrkdwn");
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

static cJSON *section(const char *text)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "section");
	cJSON_AddItemToObject(o, "text", mrkdwn(text));
	return o;
}

cJSON *build_monitor_message(const struct build_monitor_plan *plan,
			     const struct build_monitor_policy *policy,
			     const struct build_monitor_message_options *opts)
{
	struct buf head = BUF_INIT, next = BUF_INIT, context = BUF_INIT, text = BUF_INIT;
	cJSON *root = cJSON_CreateObject(), *blocks, *ctx, *elements;

	if (opts->mentions && *opts->mentions)
		buf_appendf(&head, "%s ", opts->mentions);
	main_line(plan, opts, &head);
	next_step_line(plan, opts, &next);
	context_line(policy, opts, &context);

	/* the fallback, for notifications and clients without blocks */
	buf_appendf(&text, "%s\n%s", buf_cstr(&head), buf_cstr(&next));
	cJSON_AddStringToObject(root, "text", buf_cstr(&text));

	blocks = cJSON_AddArrayToObject(root, "blocks");
	cJSON_AddItemToArray(blocks, section(buf_cstr(&head)));
	cJSON_AddItemToArray(blocks, section(buf_cstr(&next)));
	ctx = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx, "type", "context");
	elements = cJSON_AddArrayToObject(ctx, "elements");
	cJSON_AddItemToArray(elements, mrkdwn(buf_cstr(&context)));
	cJSON_AddItemToArray(blocks, ctx);

	buf_release(&head);
	buf_release(&next);
	buf_release(&context);
	buf_release(&text);
	return root;
}

/* ---- the result ---- */

char *build_monitor_result_json(const struct build_monitor_plan *plan, bool alerted,
				bool dry_run, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	char *out;

	if (plan->latest) {
		cJSON *im = cJSON_AddObjectToObject(root, "latest_image");
		cJSON_AddStringToObject(im, "id", plan->latest->id);
		cJSON_AddStringToObject(im, "name", plan->latest->name);
		cJSON_AddStringToObject(im, "creation_date", plan->latest->creation_date);
		cJSON_AddNumberToObject(root, "age_hours", time_hours(plan->age_s));
	} else {
		cJSON_AddNullToObject(root, "latest_image");
		cJSON_AddNullToObject(root, "age_hours");
	}
	cJSON_AddBoolToObject(root, "alerted", alerted);
	cJSON_AddBoolToObject(root, "dry_run", dry_run);
	if (message)
		cJSON_AddStringToObject(root, "message", message);
	out = json_print(root);
	cJSON_Delete(root);
	return out;
}

/* ---- the Lambda function ---- */

static const struct config_setting settings[] = {
	{ "IMAGE_FILTERS", "tag:devcloud:role=devbox-image",
	  "EC2 filters selecting the dev-box image family among this account's images: "
	  "name=value[,value], several separated by ';'",
	  false },
	{ "IMAGE_MAX_AGE_HOURS", "24",
	  "alert when the newest available image is older than this many hours (1-8760)", false },
	{ "BUILDER_FILTERS", "tag:devcloud:role=builder",
	  "EC2 filters selecting the image builder instances (only running ones count)", false },
	{ "BUILDER_IP", "private",
	  "which address of the builder the alert's ssh command uses: private or public (the "
	  "other one when it has none)",
	  false },
	{ "BUILD_COMMAND", "/devcloud build",
	  "the command that starts a build, shown when no builder is running (one line, at "
	  "most 200 characters, no backtick)",
	  false },
	{ "SLACK_ADMINS", "",
	  "Slack ids to mention, separated by commas or spaces: users (U024BE7LH, W0123ABC) "
	  "or user groups (S0614TZR7)",
	  false },
	{ "SLACK_WEBHOOK_PARAMETER", NULL,
	  "SSM parameter (a SecureString) holding the Slack incoming webhook URL, read with "
	  "decryption at start; set it or SLACK_WEBHOOK_URL, not both",
	  false },
	{ "SLACK_WEBHOOK_URL", NULL,
	  "the Slack incoming webhook URL itself, for local runs (a secret: in Lambda use "
	  "SLACK_WEBHOOK_PARAMETER)",
	  true },
	{ "DRY_RUN", "false",
	  "post nothing: the response shows the message an alert would send (needs no webhook)",
	  false },
};
enum { S_IMAGES, S_MAX_AGE, S_BUILDERS, S_BUILDER_IP, S_COMMAND, S_ADMINS, S_PARAMETER, S_URL,
       S_DRY_RUN };

static const struct event_field event_fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "force_alert", EVENT_BOOL },
	{ "image_max_age_hours", EVENT_INT },
};
enum { E_DRY_RUN, E_FORCE, E_MAX_AGE, E_COUNT };

struct build_monitor_state {
	struct aws_client *aws;
	struct slack_client *slack;	/* NULL: no webhook, dry runs only */
	struct ec2_filter_list image_filters;
	struct ec2_filter_list builder_filters;
	struct build_monitor_policy policy;
	char *build_command;
	char *mentions;
	bool dry_run;
};

void build_monitor_help(struct buf *out)
{
	buf_appends(out,
		    "Finds the newest available dev-box image (IMAGE_FILTERS, owned by this\n"
		    "account) and, when it is older than IMAGE_MAX_AGE_HOURS or there is none,\n"
		    "alerts SLACK_ADMINS on Slack: how old it is, and what to do next (the ssh\n"
		    "command to read the running builder's build log, or BUILD_COMMAND).\n\n"
		    "Event: a scheduled event, {}, or overrides (in either) such as\n"
		    "  {\"dry_run\": true, \"force_alert\": true, \"image_max_age_hours\": 48}\n"
		    "(force_alert sends the alert even for a fresh image, marked as a test;\n"
		    "DRY_RUN=true is final)\n\n");
	config_help("Configuration (environment variables)", settings,
		    sizeof(settings) / sizeof(settings[0]), out);
	aws_config_help(out);
}

void build_monitor_release(void *state)
{
	struct build_monitor_state *s = state;

	if (!s)
		return;
	aws_client_free(s->aws);
	slack_client_free(s->slack);
	ec2_filters_release(&s->image_filters);
	ec2_filters_release(&s->builder_filters);
	free(s->build_command);
	free(s->mentions);
	free(s);
}

static int read_builder_ip(enum build_monitor_ip *out, struct buf *errmsg)
{
	const char *v = config_value(&settings[S_BUILDER_IP]);

	if (!strcasecmp(v, "private")) {
		*out = BUILD_MONITOR_IP_PRIVATE;
	} else if (!strcasecmp(v, "public")) {
		*out = BUILD_MONITOR_IP_PUBLIC;
	} else {
		buf_appendf(errmsg, "BUILDER_IP must be private or public, got '%.40s'", v);
		return ERR_CONFIG;
	}
	return 0;
}

static int read_build_command(char **out, struct buf *errmsg)
{
	const char *v;
	int err;

	if ((err = config_string(&settings[S_COMMAND], true, BUILD_COMMAND_MAX, &v, errmsg)))
		return err;
	/* it goes into a code span: a backtick would end it, a newline break it */
	for (const char *p = v; *p; p++) {
		if (*p == '`' || (unsigned char)*p < 0x20 || *p == 0x7f) {
			buf_appends(errmsg, "BUILD_COMMAND must be one line without backticks (the "
					    "alert shows it in a code span)");
			return ERR_CONFIG;
		}
	}
	*out = xstrdup(v);
	return 0;
}

static int new_slack(const struct build_monitor_slack_io *io, const char *url,
		     struct slack_client **out, struct buf *why)
{
	struct slack_client_options o = {
		.webhook_url = url,
		.transport = io->transport,
		.transport_ctx = io->transport_ctx,
		.clock = io->clock,
	};
	return slack_client_new(&o, out, why);
}

/* Reads the webhook URL from SSM; the value is wiped whatever happens. */
static int slack_from_parameter(struct build_monitor_state *s, const struct build_monitor_slack_io *io,
				const char *name, struct buf *errmsg)
{
	struct buf value = BUF_INIT, why = BUF_INIT;
	struct aws_error e;
	struct view url;
	int err;

	aws_client_set_deadline(s->aws, aws_client_now_ms(s->aws) + INIT_AWS_TIME_MS);
	err = ssm_get_parameter(s->aws, name, true, &value, &e);
	aws_client_set_deadline(s->aws, 0);
	if (err) {
		aws_error_describe(&e, &why);
		buf_appendf(errmsg, "cannot read SLACK_WEBHOOK_PARAMETER '%s': %s", name,
			    buf_cstr(&why));
		goto out;
	}
	/* a value pasted with a trailing newline is still the URL: cut it in place */
	url = view_trim(buf_view(&value));
	if (url.len < value.len)
		value.ptr[(size_t)(url.ptr - value.ptr) + url.len] = '\0';
	err = new_slack(io, url.len ? url.ptr : "", &s->slack, &why);
	if (err)
		buf_appendf(errmsg,
			    "SLACK_WEBHOOK_PARAMETER '%s' does not hold a usable Slack webhook URL: %s",
			    name, buf_cstr(&why));
	else
		log_info("alerts go to the Slack webhook in SSM parameter '%s'", name);
out:
	buf_release_secret(&value);
	buf_release(&why);
	return err;
}

/* Exactly one of the two webhook settings, unless DRY_RUN=true (then either or none). */
static int open_slack(struct build_monitor_state *s, const struct build_monitor_slack_io *io,
		      struct buf *errmsg)
{
	const char *parameter = NULL, *url = NULL;
	struct buf why = BUF_INIT;
	int err;

	if ((err = config_string(&settings[S_PARAMETER], false, 2048, &parameter, errmsg)) ||
	    (err = config_string(&settings[S_URL], false, 2048, &url, errmsg)))
		return err;
	if (parameter && url) {
		buf_appends(errmsg, "SLACK_WEBHOOK_PARAMETER and SLACK_WEBHOOK_URL are both set: "
				    "set only one");
		return ERR_CONFIG;
	}
	if (!parameter && !url) {
		if (s->dry_run) {
			log_info("no Slack webhook configured: dry runs only");
			return 0;
		}
		buf_appends(errmsg, "SLACK_WEBHOOK_PARAMETER (or SLACK_WEBHOOK_URL for local runs) "
				    "is not set; only DRY_RUN=true runs without a webhook");
		return ERR_CONFIG;
	}
	if (parameter)
		return slack_from_parameter(s, io, parameter, errmsg);
	err = new_slack(io, url, &s->slack, &why);
	if (err)
		buf_appendf(errmsg, "SLACK_WEBHOOK_URL is not a usable Slack webhook URL: %s",
			    buf_cstr(&why));
	else
		log_info("alerts go to the Slack webhook in SLACK_WEBHOOK_URL");
	buf_release(&why);
	return err;
}

int build_monitor_init_with(struct aws_client *aws, const struct build_monitor_slack_io *slack,
			    void **state, struct buf *errmsg)
{
	static const struct build_monitor_slack_io libcurl = { NULL, NULL, NULL };
	const struct build_monitor_slack_io *io = slack ? slack : &libcurl;
	struct build_monitor_state *s = xcalloc(1, sizeof(*s));
	struct buf mentions = BUF_INIT;
	int err;

	*state = NULL;
	s->aws = aws;
	if ((err = ec2_filters_parse(config_value(&settings[S_IMAGES]), "IMAGE_FILTERS",
				     &s->image_filters, errmsg)) ||
	    (err = config_long(&settings[S_MAX_AGE], 1, MAX_AGE_HOURS_LIMIT,
			       &s->policy.max_age_hours, errmsg)) ||
	    (err = ec2_filters_parse(config_value(&settings[S_BUILDERS]), "BUILDER_FILTERS",
				     &s->builder_filters, errmsg)) ||
	    (err = read_builder_ip(&s->policy.builder_ip, errmsg)) ||
	    (err = read_build_command(&s->build_command, errmsg)) ||
	    (err = build_monitor_parse_admins(config_value(&settings[S_ADMINS]), &mentions,
					      errmsg)) ||
	    (err = config_bool(&settings[S_DRY_RUN], &s->dry_run, errmsg)) ||
	    (!s->aws && (err = aws_client_from_env(&s->aws, errmsg))) ||
	    (err = open_slack(s, io, errmsg))) {
		buf_release(&mentions);
		build_monitor_release(s);
		return err;
	}
	s->mentions = buf_detach(&mentions);
	*state = s;
	return 0;
}

int build_monitor_init(void **state, struct buf *errmsg)
{
	return build_monitor_init_with(NULL, NULL, state, errmsg);
}

/* What one invocation does: the configuration with the event's overrides. */
struct build_monitor_run {
	struct build_monitor_policy policy;
	bool dry_run;
	bool force_alert;
};

static int read_event(const struct build_monitor_state *s, struct view payload,
		      struct build_monitor_run *run, struct buf *msg)
{
	struct event_value ev[E_COUNT] = { 0 };
	bool scheduled;
	int err;

	err = event_parse(payload, event_fields, E_COUNT, ev, &scheduled, msg);
	if (err)
		goto out;
	run->policy = s->policy;
	/* DRY_RUN=true is final; the threshold may go either way: an alert deletes nothing */
	err = event_bool_towards(&ev[E_DRY_RUN], "dry_run", s->dry_run, true, "DRY_RUN",
				 &run->dry_run, msg);
	if (err)
		goto out;
	run->force_alert = ev[E_FORCE].present && ev[E_FORCE].boolean;
	if (ev[E_MAX_AGE].present) {
		if (ev[E_MAX_AGE].integer < 1 || ev[E_MAX_AGE].integer > MAX_AGE_HOURS_LIMIT) {
			buf_appendf(msg, "event key 'image_max_age_hours' must be from 1 to %d, got %lld",
				    MAX_AGE_HOURS_LIMIT, ev[E_MAX_AGE].integer);
			err = ERR_CONFIG;
			goto out;
		}
		run->policy.max_age_hours = (long)ev[E_MAX_AGE].integer;
	}
out:
	event_values_release(ev, E_COUNT);
	return err;
}

static void log_plan(const struct build_monitor_plan *plan, const struct build_monitor_run *run)
{
	struct buf line = BUF_INIT;

	if (plan->latest) {
		const char *name = plan->latest->name;
		buf_appendf(&line, "newest image %s%s%s%s is %.1f h old (limit %ld h): %s",
			    plan->latest->id, *name ? " (" : "", name, *name ? ")" : "",
			    time_hours(plan->age_s), run->policy.max_age_hours,
			    plan->stale ? "stale" : "fresh");
	} else {
		buf_appends(&line, "no available image");
	}
	if (plan->builder) {
		const char *name = ec2_instance_tag(plan->builder, "Name");
		buf_appendf(&line, "; builder %s%s%s%s is running at %s", plan->builder->id,
			    name ? " (" : "", name ? name : "", name ? ")" : "",
			    plan->builder_address);
	} else if (plan->next == BUILD_MONITOR_START_BUILD) {
		buf_appends(&line, "; no builder is running");
	}
	log_info("%s", buf_cstr(&line));
	if (plan->address_note)
		log_warn("builder %s: %s", plan->builder->id, plan->address_note);
	buf_release(&line);
}

static void run_monitor(struct build_monitor_state *s, const struct build_monitor_run *run,
			int64_t deadline_ms, struct lambda_response *resp)
{
	static const char *const self[] = { "self", NULL };
	struct ec2_image_query query = { self, &s->image_filters, true, false };
	struct ec2_filter_list builder_query = EC2_FILTER_LIST_INIT;
	struct ec2_image_list images = EC2_IMAGE_LIST_INIT;
	struct ec2_instance_list builders = EC2_INSTANCE_LIST_INIT;
	struct build_monitor_plan plan = { 0 };
	struct buf image_desc = BUF_INIT, builder_desc = BUF_INIT, why = BUF_INIT;
	cJSON *message = NULL;
	const char *text = NULL, *outcome;
	bool builders_listed = true, alert, alerted = false, undelivered = false;
	struct aws_error e;
	char *json;

	ec2_filters_describe(&s->image_filters, &image_desc);
	ec2_filters_describe(&s->builder_filters, &builder_desc);
	log_info("%slooking for the newest dev-box image (%s)", run->dry_run ? "dry run: " : "",
		 buf_cstr(&image_desc));
	if (ec2_describe_images(s->aws, &query, &images, &e)) {
		/* without the images we cannot tell whether the build is late */
		aws_error_describe(&e, &why);
		log_error("cannot list images: %s", buf_cstr(&why));
		lambda_fail(resp, "BuildMonitor.ListFailed", "cannot list images (%s): %s; no alert "
			    "was sent", buf_cstr(&image_desc), buf_cstr(&why));
		goto out;
	}
	ec2_filters_with_states(&s->builder_filters, running_state, &builder_query);
	if (ec2_describe_instances(s->aws, &builder_query, &builders, &e)) {
		aws_error_describe(&e, &why);
		log_warn("cannot list the builders (%s): %s; an alert will say so",
			 buf_cstr(&builder_desc), buf_cstr(&why));
		buf_reset(&why);
		builders_listed = false;
	}
	build_monitor_plan(&images, builders_listed ? &builders : NULL,
			   aws_client_now_ms(s->aws) / 1000, &run->policy, &plan);
	log_plan(&plan, run);

	alert = plan.stale || run->force_alert;
	if (alert) {
		struct build_monitor_message_options mo = {
			.mentions = s->mentions,
			.build_command = s->build_command,
			.image_filters = buf_cstr(&image_desc),
			.builder_filters = buf_cstr(&builder_desc),
			.test = run->force_alert && !plan.stale,
		};
		message = build_monitor_message(&plan, &run->policy, &mo);
		text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(message, "text"));
	}
	if (!alert) {
		outcome = "no alert needed";
	} else if (run->dry_run) {
		alerted = true;
		outcome = plan.stale ? "would alert the admins on Slack"
				     : "would send a test alert to Slack";
	} else if (slack_post(s->slack, message,
			      deadline_ms ? deadline_ms - SLACK_DEADLINE_MARGIN_MS : 0, &why)) {
		undelivered = true;
		outcome = "alert not delivered";
		log_error("cannot deliver the alert to Slack: %s", buf_cstr(&why));
	} else {
		alerted = true;
		outcome = plan.stale ? "alerted the admins on Slack" : "sent a test alert to Slack";
	}
	if (plan.latest)
		log_info("%s%s (newest image %s, %.1f h old)", run->dry_run ? "dry run: " : "",
			 outcome, plan.latest->id, time_hours(plan.age_s));
	else
		log_info("%s%s (no available image)", run->dry_run ? "dry run: " : "", outcome);

	json = build_monitor_result_json(&plan, alerted, run->dry_run,
					 run->dry_run && alert ? text : NULL);
	buf_appends(&resp->payload, json);
	free(json);
	if (undelivered)
		lambda_fail(resp, "BuildMonitor.AlertNotDelivered",
			    "cannot deliver the alert to Slack: %s", buf_cstr(&why));
out:
	cJSON_Delete(message);
	build_monitor_plan_release(&plan);
	ec2_filters_release(&builder_query);
	ec2_image_list_release(&images);
	ec2_instance_list_release(&builders);
	buf_release(&image_desc);
	buf_release(&builder_desc);
	buf_release(&why);
}

void build_monitor_handle(void *state, const struct lambda_request *req,
			  struct lambda_response *resp)
{
	struct build_monitor_state *s = state;
	struct build_monitor_run run;
	struct buf msg = BUF_INIT;

	aws_client_set_deadline(s->aws, req->deadline_ms);
	if (read_event(s, req->payload, &run, &msg))
		lambda_fail(resp, "BuildMonitor.InvalidEvent", "%s", buf_cstr(&msg));
	else
		run_monitor(s, &run, req->deadline_ms, resp);
	buf_release(&msg);
}
