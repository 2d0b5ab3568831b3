/*
 * fake_ec2.h - one scripted EC2 for the unit tests of code that lists,
 * stops and terminates instances. It answers through a fake_aws (its
 * `respond` hook) the way EC2 does:
 *
 *  - DescribeInstances: `describe_body` as it is (with `describe_status`),
 *    else one instance per InstanceId.N asked for, "pending" for the first
 *    `pending_polls` calls and "running" after;
 *  - StopInstances, TerminateInstances: all or nothing. In order: a scripted
 *    whole-call fault (`fail_code`, for `fail_calls` calls from call
 *    `fail_from` on), DryRun (DryRunOperation), an instance of the call
 *    that refuses (`refusals`, or a hibernation when `no_hibernation`),
 *    else every instance of the call is acted on.
 *
 * Every call is counted and every acted-on id recorded, so tests assert
 * exactly what changed and how many calls it took.
 */
#ifndef FAKE_EC2_H
#define FAKE_EC2_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_aws.h"

struct fake_ec2_refusal {
	const char *id;
	const char *code;		/* "OperationNotPermitted" */
	const char *message;		/* NULL: "refused" */
};

struct fake_ec2 {
	/* ---- the script ---- */
	const char *describe_body;	/* NULL: generated from the ids asked for */
	long describe_status;		/* 0: 200 */
	int pending_polls;		/* generated listings: describes before "running" */
	const struct fake_ec2_refusal *refusals;	/* ended by an entry with id NULL */
	bool no_hibernation;		/* Hibernate=true: UnsupportedHibernationConfiguration */
	const char *fail_code;		/* whole-call fault of Stop/Terminate; NULL: none */
	const char *fail_message;	/* NULL: "failed" */
	long fail_status;		/* 0: 400 */
	int fail_from;			/* the first call it fails (1, 2, ...); 0: 1 */
	int fail_calls;			/* calls it fails from there; 0: every one */

	/* ---- what happened ---- */
	int describes;
	int stop_calls;			/* StopInstances requests (every attempt) */
	int terminate_calls;		/* TerminateInstances requests (every attempt) */
	int dry_runs;
	size_t batch_sizes[FAKE_MAX];	/* ids of each Stop/Terminate request, in order */
	struct buf acted;		/* "id " per instance acted on; "id[h] " hibernated */
};

/* Clears e and makes f answer through it. */
void fake_ec2_attach(struct fake_ec2 *e, struct fake_aws *f);
void fake_ec2_release(struct fake_ec2 *e);

#endif
