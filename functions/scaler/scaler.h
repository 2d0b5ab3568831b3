/*
 * scaler.h - sizes the Drone agents' Auto Scaling group from the build
 * queue, and never kills a busy agent: idle agents are drained over SSM
 * (the runner takes no new stage and powers the machine off once its
 * stages end), then detached; the reaper terminates them once they are
 * done. A Spot interruption warning drains its instance at once.
 *
 * Every run: read the queue (Drone's /api/queue), the group and its
 * members' instances; decide with scaler_plan() (scaler_plan.h, pure); then
 * apply: scale out, undo marks a stage proved wrong, mark/drain/detach idle
 * members, reap drained instances that left the group, report members
 * SSM cannot reach. All state lives in AWS (instance tags, a group tag):
 * a cold start, a second invocation or a crash mid-run never doubles an
 * action, and every step converges on the next run.
 *
 * Instance tags the scaler writes:
 *   devcloud:draining-since  RFC 3339 time the drain was decided
 *   devcloud:drained-from    the group's name (what the reaper and IAM look for)
 *   devcloud:drain-reason    "scale-in", "spot-interruption" or "rebalance"
 *   devcloud:drain-command   the SSM command id of the drain
 * Group tag: devcloud:last-scale-out, RFC 3339 (the scale-in cooldown).
 */
#ifndef SCALER_H
#define SCALER_H

#include "aws.h"
#include "buf.h"
#include "lambda.h"

#define SCALER_DRAINED_FROM_TAG "devcloud:drained-from"
#define SCALER_DRAIN_REASON_TAG "devcloud:drain-reason"
#define SCALER_DRAIN_COMMAND_TAG "devcloud:drain-command"
#define SCALER_LAST_SCALE_OUT_TAG "devcloud:last-scale-out"

/* Test hooks: the Drone API's transport (NULL: libcurl). */
struct scaler_drone_io {
	http_transport_fn transport;
	void *transport_ctx;
};

void scaler_help(struct buf *out);
int scaler_init(void **state, struct buf *errmsg);
/*
 * scaler_init() with a given AWS client (owned from here on, even on
 * failure; NULL: built from the environment) and Drone transport (NULL:
 * libcurl).
 */
int scaler_init_with(struct aws_client *aws, const struct scaler_drone_io *drone, void **state,
		     struct buf *errmsg);
void scaler_handle(void *state, const struct lambda_request *req, struct lambda_response *resp);
void scaler_release(void *state);

#endif
