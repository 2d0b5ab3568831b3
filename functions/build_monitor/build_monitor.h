/*
 * build_monitor.h - tell the admins on Slack when the nightly dev-box image
 * is stale.
 *
 * The nightly builder should register a fresh dev-box AMI every day; when it
 * does not, developers silently get old images. Every run finds the newest
 * available image of the family (IMAGE_FILTERS, owned by this account) and,
 * when it is older than IMAGE_MAX_AGE_HOURS or there is none, posts an alert
 * to a Slack incoming webhook that mentions the admins, says how old the
 * image is and what to do next: read the running builder's build log (the
 * exact ssh command), or start a build (BUILD_COMMAND).
 *
 * As in the other functions, the decision is pure (build_monitor_plan(),
 * build_monitor_message()), tested with tables of cases; the handler lists,
 * plans and delivers.
 */
#ifndef BUILD_MONITOR_H
#define BUILD_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "cJSON.h"
#include "ec2.h"
#include "http.h"
#include "lambda.h"

/* ---- plan ---- */

/* Which address of the builder goes into the ssh command (BUILDER_IP). */
enum build_monitor_ip { BUILD_MONITOR_IP_PRIVATE, BUILD_MONITOR_IP_PUBLIC };

struct build_monitor_policy {
	long max_age_hours;		/* stale when strictly older */
	enum build_monitor_ip builder_ip;
};

/* What the alert tells the admins to do. */
enum build_monitor_next {
	BUILD_MONITOR_INSPECT_LOG,	/* a builder is running: read its build log */
	BUILD_MONITOR_START_BUILD,	/* no builder is running: start a build */
	BUILD_MONITOR_BUILDER_UNKNOWN,	/* the builders could not be listed: start a
					   build unless one is running */
};

struct build_monitor_plan {
	const struct ec2_image *latest;	/* borrowed; NULL when no image is available */
	int64_t age_s;			/* now - latest's creation time; 0 without one */
	bool stale;			/* no image, or older than max_age_hours */
	const struct ec2_instance *builder;	/* borrowed; the running builder or NULL */
	char *builder_address;		/* owned: what to ssh to (an IP, else the id) */
	char *address_note;		/* owned: why the address is not the configured
					   kind ("no private IP; ..."), or NULL */
	enum build_monitor_next next;
};

/*
 * Decides. `images` is the family as listed (any state: only `available`
 * ones count; the newest by creation time, ties going to the greater id).
 * `builders` are the instances matching BUILDER_FILTERS, NULL when they
 * could not be listed; only running ones count, the most recently launched
 * if several (ties: the greater id). Pointers in the plan borrow from the
 * lists, which must outlive it.
 */
void build_monitor_plan(const struct ec2_image_list *images,
			const struct ec2_instance_list *builders, int64_t now_s,
			const struct build_monitor_policy *policy, struct build_monitor_plan *out);
void build_monitor_plan_release(struct build_monitor_plan *plan);

/* ---- the Slack message ---- */

/*
 * SLACK_ADMINS: Slack ids separated by commas and/or spaces. User ids
 * (U024BE7LH, W0123ABC) become <@U024BE7LH>, user-group ids (S0614TZR7)
 * <!subteam^S0614TZR7>, joined by spaces into `mentions`; an id given twice
 * is mentioned once. Anything else is ERR_CONFIG naming the bad id. An
 * empty spec gives no mentions.
 */
int build_monitor_parse_admins(const char *spec, struct buf *mentions,
			       struct buf *errmsg) WARN_UNUSED;

struct build_monitor_message_options {
	const char *mentions;		/* from build_monitor_parse_admins(); may be "" */
	const char *build_command;	/* "/devcloud build": one line, no backtick */
	const char *image_filters;	/* described, for the context line */
	const char *builder_filters;
	bool test;			/* force_alert on a fresh image: say so */
};

/*
 * The Slack payload (owned by the caller):
 *   {"text": fallback mrkdwn: mentions, the main line, the next step with
 *            its command in a code span,
 *    "blocks": [section (mentions + main line), section (next step),
 *               context (threshold and filters)]}
 * Image and instance names are escaped for mrkdwn (&, <, >).
 */
cJSON *build_monitor_message(const struct build_monitor_plan *plan,
			     const struct build_monitor_policy *policy,
			     const struct build_monitor_message_options *opts);

/* ---- the result ---- */

/*
 * {"latest_image": {"id", "name", "creation_date"} | null,
 *  "age_hours": 30.5 | null, "alerted": bool, "dry_run": bool,
 *  "message": "..." (a dry run that would have alerted: the text)}
 * `alerted` says the alert was delivered (in a dry run: would have been sent).
 */
char *build_monitor_result_json(const struct build_monitor_plan *plan, bool alerted,
				bool dry_run, const char *message);

/* ---- the Lambda function ---- */

/* How init reaches Slack; build_monitor_init() uses libcurl and real time. */
struct build_monitor_slack_io {
	http_transport_fn transport;	/* NULL: libcurl */
	void *transport_ctx;
	const struct aws_clock *clock;	/* NULL: real time */
};

void build_monitor_help(struct buf *out);
/* Reads the settings (see build_monitor_help()), the AWS client's and Slack's. */
int build_monitor_init(void **state, struct buf *errmsg);
/*
 * build_monitor_init() with a client of the caller's (unit tests pass one on
 * a fake transport; NULL: the client from the environment) and a Slack
 * transport of theirs (NULL: libcurl). Takes ownership of `aws`, also on
 * failure.
 */
int build_monitor_init_with(struct aws_client *aws, const struct build_monitor_slack_io *slack,
			    void **state, struct buf *errmsg);
void build_monitor_handle(void *state, const struct lambda_request *req,
			  struct lambda_response *resp);
void build_monitor_release(void *state);

#endif
