/*
 * image_pruner.h - keep the newest dev box images (AMIs), delete the rest
 * completely: deregistered, and the EBS snapshots behind them deleted.
 *
 * Deleting is the one thing here that cannot be undone, so the function
 * fails closed: it decides only from complete listings (every page of the
 * images, the instances, the launch templates, the Auto Scaling groups and
 * their launch configurations), and any listing that fails or comes back
 * incomplete means nothing is deleted at all.
 *
 * No snapshot is ever left behind, whatever fails when: before an image is
 * deregistered, the snapshots to delete with it are marked with a tag
 * (IMAGE_PRUNER_MARKER_TAG = the image id), and every run first sweeps the
 * marked snapshots whose image is gone and that no remaining image uses.
 * A lost answer (a deregistration or deletion that happened though the
 * call failed) is then repaired by the next run: NotFound on a retry
 * means done.
 *
 * The work is split the usual way:
 *  - gathering: image_pruner_list_family(), image_pruner_list_marked(),
 *    image_pruner_list_own() and image_pruner_find_uses() (each all or
 *    nothing);
 *  - the decisions: image_pruner_plan() and image_pruner_plan_sweep(),
 *    pure, tested with tables of cases;
 *  - image_pruner_apply_sweep() and image_pruner_apply(): the CreateTags,
 *    DeregisterImage and DeleteSnapshot calls.
 */
#ifndef IMAGE_PRUNER_H
#define IMAGE_PRUNER_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "buf.h"
#include "ec2.h"
#include "idlist.h"
#include "lambda.h"

/* MAX_IMAGES_COUNT's range: 0 would delete every image of the family. */
#define IMAGE_PRUNER_MIN_KEEP 1
#define IMAGE_PRUNER_MAX_KEEP 1000

/*
 * The tag on a snapshot that is to go once its image is deregistered; the
 * value is the image id.
 */
#define IMAGE_PRUNER_MARKER_TAG "devcloud:deregistered-image"

/* ---- gathering ---- */

/*
 * The family: the account's own images (Owners=self) the filters select,
 * deprecated ones included, across every page. On failure `out` is empty
 * and `errmsg` says which listing failed and why.
 */
int image_pruner_list_family(struct aws_client *aws, const struct ec2_filter_list *filters,
			     struct ec2_image_list *out, struct buf *errmsg) WARN_UNUSED;

/*
 * The account's own snapshots carrying IMAGE_PRUNER_MARKER_TAG (any value),
 * every page. On failure `out` is empty and `errmsg` says why.
 */
int image_pruner_list_marked(struct aws_client *aws, struct ec2_snapshot_list *out,
			     struct buf *errmsg) WARN_UNUSED;

/*
 * Every image the account owns, deprecated and disabled ones included: an
 * image outside the family may share a snapshot with one inside it.
 */
int image_pruner_list_own(struct aws_client *aws, struct ec2_image_list *out,
			  struct buf *errmsg) WARN_UNUSED;

/*
 * What uses which image, one entry per use (id: the image id, text: the
 * user, e.g. "instance i-0abc (alice)"):
 *  - every instance that is not terminated;
 *  - the $Default and $Latest versions of every launch template;
 *  - every Auto Scaling group's launch templates (its own, its mixed
 *    instances policy's and the overrides'), numbered versions included,
 *    and its launch configuration.
 * An image id written "resolve:ssm:<parameter>" is read from SSM.
 * All or nothing: on any failure nothing is added to `in_use`, and
 * `errmsg` names the listing that failed.
 */
int image_pruner_find_uses(struct aws_client *aws, struct id_note_list *in_use,
			   struct buf *errmsg) WARN_UNUSED;

/* ---- plan ---- */

enum image_pruner_action {
	IMAGE_PRUNER_KEEP,	/* one of the newest, or not available: `reason` says */
	IMAGE_PRUNER_IN_USE,	/* older than the newest, but in use: `reason` says by what */
	IMAGE_PRUNER_DELETE,	/* deregister it, then delete `snapshots` */
};

struct image_pruner_decision {
	const struct ec2_image *image;	/* borrowed from the family listing */
	enum image_pruner_action action;
	char *reason;			/* owned; set for KEEP and IN_USE */
	/* DELETE: the snapshots to delete once the image is deregistered */
	struct id_list snapshots;
	/* DELETE: its snapshots that stay, id -> why ("also used by ami-...") */
	struct id_note_list shared_snapshots;
};

struct image_pruner_plan {
	struct image_pruner_decision *items;	/* newest first */
	size_t count;
};

/*
 * Decides for each image of `family` (the same image listed twice counts
 * once):
 *  - the newest `keep_count` available images are kept (by creation time,
 *    then by id), and so is every available image created at the same
 *    time as the oldest of those: a tie is never broken by deleting;
 *  - an image that is not available (pending, failed, ...) is kept;
 *  - an older image with an entry in `in_use` is IN_USE (kept, reported);
 *  - every other one is deleted, with its snapshots except those that an
 *    image which stays (any of `own` or `family` not deleted) also uses.
 *    A snapshot two deleted images share goes with the later of them in
 *    the plan's order, so that no image still uses it when it is deleted.
 * With keep_count or fewer available images nothing is deleted.
 */
void image_pruner_plan(const struct ec2_image_list *family, const struct ec2_image_list *own,
		       const struct id_note_list *in_use, size_t keep_count,
		       struct image_pruner_plan *out);
void image_pruner_plan_release(struct image_pruner_plan *plan);
/* The number of DELETE decisions. */
size_t image_pruner_plan_deletions(const struct image_pruner_plan *plan);

struct image_pruner_sweep_decision {
	const struct ec2_snapshot *snapshot;	/* borrowed from the marked listing */
	const char *image;	/* the marker's value (borrowed): the image it went with */
	bool delete;
	char *reason;		/* owned; why it stays, when it does */
};

struct image_pruner_sweep {
	struct image_pruner_sweep_decision *items;	/* in the listing's order */
	size_t count;
};

/*
 * Decides for each marked snapshot (the same one listed twice counts
 * once): it is deleted when the image its marker names is not among `own`
 * (the complete listing of the account's own images: it was deregistered)
 * and no image of `own` uses it. It stays while its image is registered
 * (a run that failed before deregistering it; the plan deletes it again),
 * while another image uses it, and when the marker names no image.
 */
void image_pruner_plan_sweep(const struct ec2_snapshot_list *marked,
			     const struct ec2_image_list *own, struct image_pruner_sweep *out);
void image_pruner_sweep_release(struct image_pruner_sweep *sweep);

/* ---- apply ---- */

struct image_pruner_deleted {
	char *image;
	struct id_list snapshots;	/* the snapshots that went (or would go) */
};

struct image_pruner_failure {
	char *image;
	char *snapshot;			/* NULL when the image's deregistration failed */
	char *error;
};

struct image_pruner_swept {
	char *snapshot;
	char *image;			/* the image it went with */
};

struct image_pruner_result {
	struct image_pruner_deleted *deleted;	/* deregistered (or would be) */
	size_t deleted_count;
	struct id_list kept;
	struct id_list in_use;
	struct image_pruner_failure *failed;
	size_t failed_count;
	struct image_pruner_swept *swept;	/* marked snapshots deleted (or would be) */
	size_t swept_count;
	bool dry_run;
};

/*
 * DeleteSnapshot for each snapshot the sweep deletes; InvalidSnapshot.NotFound
 * means it is gone already. A refusal is a failure naming the snapshot and
 * its image. dry_run sends DryRun.
 */
void image_pruner_apply_sweep(struct aws_client *aws, const struct image_pruner_sweep *sweep,
			      bool dry_run, struct image_pruner_result *result);

/*
 * For each DELETE decision: CreateTags marking the snapshots planned with
 * it (IMAGE_PRUNER_MARKER_TAG = its id), DeregisterImage, then
 * DeleteSnapshot for each of them. A refused marking or deregistration is
 * a failure and the image's snapshots are left alone (and so is a snapshot
 * planned with a later image that the refused one still uses);
 * InvalidAMIID.NotFound means the image is deregistered already (an answer
 * that was lost). A refused snapshot deletion is a failure naming image and
 * snapshot; the image still counts as deleted, with the snapshots that did
 * go, and the next run's sweep deletes the others; InvalidSnapshot.NotFound
 * means it is gone already. dry_run sends every call with DryRun (EC2
 * checks the permissions, changes nothing).
 */
void image_pruner_apply(struct aws_client *aws, const struct image_pruner_plan *plan,
			bool dry_run, struct image_pruner_result *result);
void image_pruner_result_release(struct image_pruner_result *result);
/*
 * {"deleted": [{"image": id, "snapshots": [ids]}], "kept": [ids],
 *  "in_use": [ids], "failed": [{"image", "snapshot" (only for a snapshot),
 *  "error"}], "swept": [{"snapshot": id, "image": id}], "dry_run": false}
 */
char *image_pruner_result_json(const struct image_pruner_result *result);

/* ---- the Lambda function ---- */

struct image_pruner_options {
	const struct ec2_filter_list *filters;	/* IMAGE_FILTERS */
	size_t keep_count;			/* MAX_IMAGES_COUNT */
	bool dry_run;
};

/*
 * One invocation after its event was read: gathers, plans, applies, and
 * writes the result (or ImagePruner.ListFailed / ImagePruner.ImagesNotDeleted)
 * to resp.
 */
void image_pruner_run(struct aws_client *aws, const struct image_pruner_options *opts,
		      struct lambda_response *resp);

void image_pruner_help(struct buf *out);
/* Reads the settings (see image_pruner_help()) and the AWS client's. */
int image_pruner_init(void **state, struct buf *errmsg);
/*
 * image_pruner_init() with a client of the caller's (unit tests pass one on
 * a fake transport); NULL: the client from the environment, as
 * image_pruner_init(). Takes ownership of `aws`, also on failure.
 */
int image_pruner_init_with(struct aws_client *aws, void **state, struct buf *errmsg);
void image_pruner_handle(void *state, const struct lambda_request *req,
			 struct lambda_response *resp);
void image_pruner_release(void *state);

#endif
