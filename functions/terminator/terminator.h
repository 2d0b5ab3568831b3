/*
 * terminator.h - nightly builder instances do not live forever.
 *
 * A nightly build machine launches, builds the dev-box image, and should
 * then go away; a hung build or a forgotten debug session keeps it alive
 * (and billed) for days. The terminator lists the builders (BUILDER_FILTERS
 * in the states pending, running, stopping and stopped) and terminates the
 * ones older than BUILDER_LIFETIME_HOURS.
 *
 * An instance's age counts from the attach time of its primary network
 * interface (device index 0), which survives stops and starts, and falls
 * back to LaunchTime, which resets at every start.
 *
 * The decision is a pure plan (instances, now, policy -> one decision per
 * instance), tested with tables of cases; terminator_apply() then makes the
 * calls.
 */
#ifndef TERMINATOR_H
#define TERMINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "ec2.h"
#include "idlist.h"
#include "lambda.h"

/* ---- plan ---- */

struct terminator_policy {
	long lifetime_hours;		/* terminate strictly after this age */
};

enum terminator_action {
	TERMINATOR_TERMINATE,		/* older than the lifetime */
	TERMINATOR_KEEP,		/* kept; `reason` says why */
	TERMINATOR_IGNORE,		/* not a live state (shutting-down, terminated):
					   neither acted on nor reported as kept */
};

/* The clock an instance's age was read from. */
enum terminator_clock {
	TERMINATOR_CLOCK_ATTACH,	/* primary network interface's attach time */
	TERMINATOR_CLOCK_LAUNCH,	/* LaunchTime (no attach time known) */
	TERMINATOR_CLOCK_NONE,		/* neither is known: the age is unknown */
};

struct terminator_decision {
	const struct ec2_instance *instance;	/* borrowed from the listing */
	enum terminator_action action;
	enum terminator_clock clock;
	int64_t since_s;		/* the time the age counts from (Unix s); 0 if unknown */
	int64_t age_s;			/* now - since_s; -1 when the age is unknown */
	bool in_future;			/* since_s is ahead of now: counted as age 0 */
	char *reason;			/* owned; set for TERMINATOR_KEEP and _IGNORE */
};

struct terminator_plan {
	struct terminator_decision *items;
	size_t count;
};

/*
 * One decision per listed instance, in the listing's order:
 *  - a state other than pending, running, stopping and stopped is ignored;
 *  - an Auto Scaling group member (tag aws:autoscaling:groupName) is kept:
 *    its group owns its lifetime and would replace it;
 *  - an instance whose age cannot be read (neither time known) is kept;
 *  - one aged more than lifetime_hours is terminated (exactly the lifetime
 *    is kept); the rest are kept.
 */
void terminator_plan(const struct ec2_instance_list *instances, int64_t now_s,
		     const struct terminator_policy *policy, struct terminator_plan *out);
void terminator_plan_release(struct terminator_plan *plan);

/*
 * Appends how old the decision's instance is, for logs:
 *   "aged 73.2 h since its network interface attached 2026-11-24T08:00:00Z"
 *   "aged 3.0 h since it launched 2026-11-27T06:00:00Z"
 *   "of unknown age (no attach or launch time)"
 */
void terminator_describe_age(const struct terminator_decision *d, struct buf *out);

/* ---- apply ---- */

struct terminator_kept {
	char *id;
	int64_t age_s;			/* -1: unknown */
};

struct terminator_result {
	struct id_list terminated;	/* terminated (or, in a dry run, would be) */
	struct terminator_kept *kept;	/* kept instances with their ages */
	size_t kept_count, kept_cap;
	struct id_note_list failed;	/* id + AWS's "Code: message" */
	bool dry_run;
};

struct terminator_apply_options {
	bool dry_run;			/* EC2's DryRun: nothing changes */
	size_t batch_size;		/* ids per TerminateInstances call (1-1000) */
};

/*
 * Makes the calls the plan asks for; every outcome lands in `result`.
 * TerminateInstances goes in batches; EC2 refuses a whole call when one of
 * its instances refuses, so a refused batch is retried one instance at a
 * time and only the instances that refuse on their own are failed.
 */
void terminator_apply(struct aws_client *aws, const struct terminator_plan *plan,
		      const struct terminator_apply_options *opts,
		      struct terminator_result *result);
void terminator_result_release(struct terminator_result *result);
/* {"terminated": [...], "kept": [{"id","age_hours"}], "failed": [{"id","error"}],
 *  "dry_run": false}; an unknown age is null. */
char *terminator_result_json(const struct terminator_result *result);

/* ---- the Lambda function ---- */

void terminator_help(struct buf *out);
/* Reads the settings (see terminator_help()) and the AWS client's. */
int terminator_init(void **state, struct buf *errmsg);
/*
 * terminator_init() with a client of the caller's (unit tests pass one on
 * a fake transport); NULL: the client from the environment, as
 * terminator_init(). Takes ownership of `aws`, also on failure.
 */
int terminator_init_with(struct aws_client *aws, void **state, struct buf *errmsg);
void terminator_handle(void *state, const struct lambda_request *req,
		       struct lambda_response *resp);
void terminator_release(void *state);

#endif
