/*
 * ec2_batch.h - stopping or terminating many instances, in batches, without
 * ever multiplying a fault.
 *
 * StopInstances and TerminateInstances act on all of a call's instances or
 * on none. One routine serves both:
 *
 *  - the ids go in batches of `batch_size`;
 *  - a batch refused for a reason that names an instance (see
 *    ec2_batch_error_names_instance()) is split into one call per instance,
 *    so one bad instance never keeps the others running;
 *  - a batch that fails for any other reason (throttling, 5xx, network
 *    errors and timeouts, after the AWS client's own retries;
 *    UnauthorizedOperation; anything unknown) fails as a whole, once: each
 *    of its ids is reported failed with that error and no per-instance call
 *    is made;
 *  - once a call fails for a reason that holds for the whole run (no time
 *    left before the invocation's deadline, credentials refused or
 *    expired), no further call is made: every remaining id is reported
 *    failed, "not attempted", with that reason.
 *
 * Stopping with `hibernate`: an instance whose single call is refused as a
 * hibernation (UnsupportedHibernationConfiguration, UnsupportedOperation)
 * is stopped plainly instead.
 */
#ifndef EC2_BATCH_H
#define EC2_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"

enum ec2_batch_action { EC2_BATCH_STOP, EC2_BATCH_TERMINATE };

#define EC2_BATCH_DEFAULT_SIZE 50
#define EC2_BATCH_MAX_SIZE 1000

struct ec2_batch_options {
	enum ec2_batch_action action;
	size_t batch_size;		/* ids per call; 0: 50; capped at 1000 */
	bool dry_run;			/* EC2's DryRun: DryRunOperation counts as done */
	bool hibernate;			/* EC2_BATCH_STOP only */
	/*
	 * Outcomes, exactly one per id, by its index in `ids`: `done` (with
	 * whether it was hibernated) or `failed` (with the error of the call
	 * that decided it).
	 */
	void (*done)(void *ctx, size_t index, bool hibernated);
	void (*failed)(void *ctx, size_t index, const struct aws_error *error);
	void *ctx;
};

/*
 * Stops or terminates ids[0..n). Returns the number of calls made (for
 * logs and tests).
 */
size_t ec2_batch_run(struct aws_client *aws, const char *const *ids, size_t n,
		     const struct ec2_batch_options *opts);

/* Whether a refused batch is split into single calls for this error. */
bool ec2_batch_error_names_instance(const struct aws_error *error);
/* Whether this error ends every later call of the run (see above). */
bool ec2_batch_error_ends_run(const struct aws_client *aws, const struct aws_error *error);

#endif
