/*
 * stopper.h - every evening, stop the developers' running dev boxes.
 *
 * The decision is a pure plan (instances, now, policy -> one decision per
 * instance), tested with tables of cases; stopper_apply() then makes the
 * calls. See README.md for the behaviour in full.
 */
#ifndef STOPPER_H
#define STOPPER_H

#include <stdbool.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "ec2.h"
#include "idlist.h"
#include "lambda.h"

/* ---- plan ---- */

struct stopper_policy {
	const char *keep_running_tag;	/* "devcloud:keep-running" */
	bool hibernate;			/* hibernate where the instance allows it */
};

enum stopper_action {
	STOPPER_STOP,			/* running: stop now */
	STOPPER_STOP_WHEN_RUNNING,	/* pending: EC2 refuses to stop it yet */
	STOPPER_SKIP,			/* keep it as it is; `reason` says why */
};

struct stopper_decision {
	const struct ec2_instance *instance;	/* borrowed from the listing */
	enum stopper_action action;
	bool hibernate;
	char *reason;				/* owned; set for STOPPER_SKIP */
};

struct stopper_plan {
	struct stopper_decision *items;
	size_t count;
};

/* How an opt-out tag value reads at a given time. */
enum stopper_optout {
	STOPPER_OPTOUT_NONE,		/* no tag, "false", or a time in the past */
	STOPPER_OPTOUT_KEEP,		/* "true", or a time still in the future */
	STOPPER_OPTOUT_UNREADABLE,	/* anything else: kept running, reported */
};

/*
 * Reads an opt-out value: "true"/"false" (any case), a date (2026-11-25:
 * kept through the end of that day, UTC) or a date and time
 * (2026-11-25T08:00:00Z). *until_s is the end of the opt-out for a time
 * value, 0 for "true". A NULL value is STOPPER_OPTOUT_NONE.
 */
enum stopper_optout stopper_read_optout(const char *value, int64_t now_s, int64_t *until_s);

void stopper_plan(const struct ec2_instance_list *instances, int64_t now_s,
		  const struct stopper_policy *policy, struct stopper_plan *out);
void stopper_plan_release(struct stopper_plan *plan);

/* ---- apply ---- */

struct stopper_result {
	struct id_list stopped;		/* stopped (or, in a dry run, would be) */
	struct id_list hibernated;	/* the subset of `stopped` hibernated */
	struct id_note_list skipped;	/* id + reason */
	struct id_note_list failed;	/* id + error */
	bool dry_run;
};

struct stopper_apply_options {
	bool dry_run;
	size_t batch_size;		/* ids per StopInstances call */
	int64_t poll_interval_ms;	/* between looks at pending instances */
};

/* Makes the calls the plan asks for; every outcome lands in `result`. */
void stopper_apply(struct aws_client *aws, const struct stopper_plan *plan,
		   const struct stopper_apply_options *opts, struct stopper_result *result);
void stopper_result_release(struct stopper_result *result);
/* {"stopped": [...], "hibernated": [...], "skipped": [{"id","reason"}],
 *  "failed": [{"id","error"}], "dry_run": false} */
char *stopper_result_json(const struct stopper_result *result);

/* ---- the Lambda function ---- */

void stopper_help(struct buf *out);
/* Reads the settings (see stopper_help()) and the AWS client's. */
int stopper_init(void **state, struct buf *errmsg);
/*
 * stopper_init() with a client of the caller's (unit tests pass one on a
 * fake transport); NULL: the client from the environment, as
 * stopper_init(). Takes ownership of `aws`, also on failure.
 */
int stopper_init_with(struct aws_client *aws, void **state, struct buf *errmsg);
void stopper_handle(void *state, const struct lambda_request *req, struct lambda_response *resp);
void stopper_release(void *state);

#endif
