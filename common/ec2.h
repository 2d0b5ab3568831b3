/*
 * ec2.h - the EC2 calls our functions make, and their answers as structs.
 */
#ifndef EC2_H
#define EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "err.h"
#include "xml.h"

struct ec2_tag {
	char *key;
	char *value;
};

struct ec2_instance {
	char *id;
	char *state;		/* "pending", "running", "stopping", "stopped", ... */
	char *type;
	char *image_id;
	char *private_ip;	/* NULL when none */
	char *private_dns_name;	/* NULL when none: ip-10-0-0-4.eu-west-1.compute.internal */
	char *public_ip;	/* NULL when none */
	int64_t launch_time;	/* Unix seconds; resets at every start */
	int64_t attach_time;	/* primary network interface's attach time; 0 if unknown */
	bool hibernation_configured;
	struct ec2_tag *tags;
	size_t tag_count;
	/*
	 * A parsed instance keeps its tags and strings in this one allocation
	 * (10,000 instances cost a few MB, not a few per thousand); NULL when
	 * each field was allocated on its own, as tests may build them.
	 */
	void *block;
};

struct ec2_instance_list {
	struct ec2_instance *items;
	size_t count;
	size_t cap;
	/*
	 * What a listing keeps of each instance, set before it (a function on
	 * 10,000 instances keeps only what it reads): keep_tags, the tag keys
	 * kept (NULL-terminated; NULL: every tag); lean, no type, image or
	 * addresses (id, state, times and hibernation are always kept).
	 */
	const char *const *keep_tags;
	bool lean;
};
#define EC2_INSTANCE_LIST_INIT { NULL, 0, 0, NULL, false }

void ec2_instance_list_release(struct ec2_instance_list *list);
/* The value of a tag, or NULL when the instance has no such tag. */
const char *ec2_instance_tag(const struct ec2_instance *inst, const char *key);

/*
 * EC2 filters, written by people as
 *   tag:devcloud:role=devbox;instance-type=t3.large,t3.xlarge
 * (';' between filters, the first '=' ends the name, ',' between values).
 */
struct ec2_filter {
	char *name;
	char **values;		/* NULL-terminated */
	size_t value_count;
};
struct ec2_filter_list {
	struct ec2_filter *items;
	size_t count;
};
#define EC2_FILTER_LIST_INIT { NULL, 0 }

/* `setting` names the source in error messages ("INSTANCE_FILTERS"). */
int ec2_filters_parse(const char *spec, const char *setting, struct ec2_filter_list *out,
		      struct buf *errmsg) WARN_UNUSED;
/* Adds a filter with values given as a NULL-terminated array. */
void ec2_filters_add(struct ec2_filter_list *list, const char *name, const char *const *values);
void ec2_filters_release(struct ec2_filter_list *list);
/*
 * Adds a copy of every filter of `src` (NULL: none) to `dst`. EC2 joins
 * filters with AND, even two with the same name, so the result selects
 * what both lists select: how an event's filters narrow the configured ones.
 */
void ec2_filters_append(struct ec2_filter_list *dst, const struct ec2_filter_list *src);
/* Appends Filter.N.Name / Filter.N.Value.M parameters. */
void ec2_filters_to_params(const struct ec2_filter_list *list, struct aws_params *params);
/*
 * Copies `filters` into `query` (which the caller releases) and adds
 * instance-state-name=<states> (NULL-terminated) unless the filters already
 * name states themselves: a listing of only the states a function acts on.
 */
void ec2_filters_with_states(const struct ec2_filter_list *filters, const char *const *states,
			     struct ec2_filter_list *query);
/* "tag:devcloud:role=devbox; instance-state-name=running,pending" for logs */
void ec2_filters_describe(const struct ec2_filter_list *list, struct buf *out);

/*
 * Every instance matching the filters, across every page (MaxResults 1000).
 * On any failure the list holds nothing and the error is returned.
 */
int ec2_describe_instances(struct aws_client *aws, const struct ec2_filter_list *filters,
			   struct ec2_instance_list *out, struct aws_error *error) WARN_UNUSED;
/* The instances with these ids (one call, at most 1000 ids). */
int ec2_describe_instances_by_id(struct aws_client *aws, const char *const *ids, size_t n,
				 struct ec2_instance_list *out,
				 struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeInstances:
 *   <DescribeInstancesResponse>
 *     <reservationSet><item><instancesSet><item>
 *       <instanceId/> <imageId/> <instanceState><name/></instanceState>
 *       <instanceType/> <launchTime/> <privateIpAddress/> <ipAddress/>
 *       <tagSet><item><key/><value/></item></tagSet>
 *       <hibernationOptions><configured/></hibernationOptions>
 *       <networkInterfaceSet><item><attachment><attachTime/><deviceIndex/>
 *     ...</item></instancesSet></item></reservationSet>
 *     <nextToken/>
 *   </DescribeInstancesResponse>
 * Appends to `out`. ERR_PARSE when an instance lacks its id or state.
 */
int ec2_parse_instances(const struct xml_node *root, struct ec2_instance_list *out) WARN_UNUSED;

struct ec2_stop_options {
	bool hibernate;
	bool dry_run;
};

/*
 * StopInstances for up to 1000 ids in one call: EC2 stops all or none.
 * With dry_run, success means EC2 answered DryRunOperation.
 */
int ec2_stop_instances(struct aws_client *aws, const char *const *ids, size_t n,
		       const struct ec2_stop_options *opts, struct aws_error *error) WARN_UNUSED;

/* ---- terminating instances ---- */

/*
 * TerminateInstances for up to 1000 ids in one call. EC2 refuses the whole
 * call when one of them cannot be terminated (OperationNotPermitted for
 * termination protection, InvalidInstanceID.NotFound when it is gone).
 * With dry_run, success means EC2 answered DryRunOperation.
 */
int ec2_terminate_instances(struct aws_client *aws, const char *const *ids, size_t n,
			    bool dry_run, struct aws_error *error) WARN_UNUSED;

/* ---- images (AMIs) and their snapshots ---- */

struct ec2_image {
	char *id;
	char *name;		/* "" when none */
	char *state;		/* "available", "pending", "failed", ... */
	char *creation_date;	/* as EC2 wrote it: 2026-11-25T03:12:45.000Z */
	int64_t creation_time;	/* Unix seconds of creation_date */
	char *owner_id;
	char **snapshot_ids;	/* EBS snapshots of its block device mappings */
	size_t snapshot_count;
	struct ec2_tag *tags;
	size_t tag_count;
};

struct ec2_image_list {
	struct ec2_image *items;
	size_t count;
	size_t cap;
};
#define EC2_IMAGE_LIST_INIT { NULL, 0, 0 }

void ec2_image_list_release(struct ec2_image_list *list);
const char *ec2_image_tag(const struct ec2_image *image, const char *key);

struct ec2_image_query {
	const char *const *owners;	/* NULL-terminated ("self"); NULL: any */
	const struct ec2_filter_list *filters;	/* NULL: none */
	bool include_deprecated;
	bool include_disabled;
};

/*
 * Every image the query selects, across every page (MaxResults 1000,
 * NextToken). On any failure the list holds nothing and the error is
 * returned: callers never see a partial listing.
 */
int ec2_describe_images(struct aws_client *aws, const struct ec2_image_query *query,
			struct ec2_image_list *out, struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeImages:
 *   <DescribeImagesResponse>
 *     <imagesSet><item>
 *       <imageId/> <name/> <imageState/> <creationDate/> <imageOwnerId/>
 *       <blockDeviceMapping><item><deviceName/><ebs><snapshotId/></ebs></item>
 *       </blockDeviceMapping>
 *       <tagSet><item><key/><value/></item></tagSet>
 *     </item></imagesSet>
 *     <nextToken/>
 *   </DescribeImagesResponse>
 * Appends to `out`. ERR_PARSE when an image lacks its id, its state or a
 * readable creation date (a pruner must not guess an image's age).
 */
int ec2_parse_images(const struct xml_node *root, struct ec2_image_list *out) WARN_UNUSED;

/* DeregisterImage; with dry_run, success means DryRunOperation. */
int ec2_deregister_image(struct aws_client *aws, const char *image_id, bool dry_run,
			 struct aws_error *error) WARN_UNUSED;
/* DeleteSnapshot; with dry_run, success means DryRunOperation. */
int ec2_delete_snapshot(struct aws_client *aws, const char *snapshot_id, bool dry_run,
			struct aws_error *error) WARN_UNUSED;

/* ---- snapshots and tags ---- */

struct ec2_snapshot {
	char *id;
	char *owner_id;		/* "" when none */
	struct ec2_tag *tags;
	size_t tag_count;
};

struct ec2_snapshot_list {
	struct ec2_snapshot *items;
	size_t count;
	size_t cap;
};
#define EC2_SNAPSHOT_LIST_INIT { NULL, 0, 0 }

void ec2_snapshot_list_release(struct ec2_snapshot_list *list);
const char *ec2_snapshot_tag(const struct ec2_snapshot *snapshot, const char *key);

/*
 * DescribeSnapshots of the given owners (NULL-terminated: "self"; NULL:
 * any) matching the filters (NULL: none), every page (MaxResults 1000).
 * All or an error: on failure the list holds nothing.
 */
int ec2_describe_snapshots(struct aws_client *aws, const char *const *owners,
			   const struct ec2_filter_list *filters, struct ec2_snapshot_list *out,
			   struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeSnapshots:
 *   <DescribeSnapshotsResponse>
 *     <snapshotSet><item>
 *       <snapshotId/> <ownerId/> <tagSet><item><key/><value/></item></tagSet>
 *     </item></snapshotSet>
 *     <nextToken/>
 *   </DescribeSnapshotsResponse>
 * Appends to `out`. ERR_PARSE when a snapshot lacks its id.
 */
int ec2_parse_snapshots(const struct xml_node *root, struct ec2_snapshot_list *out) WARN_UNUSED;

/*
 * CreateTags: sets the tag key=value on up to 1000 resources (instances,
 * images, snapshots) in one call; EC2 tags all or none. Setting a tag
 * again to the same value changes nothing, so a retry is harmless. With
 * dry_run, success means DryRunOperation.
 */
int ec2_create_tags(struct aws_client *aws, const char *const *ids, size_t n, const char *key,
		    const char *value, bool dry_run, struct aws_error *error) WARN_UNUSED;

/*
 * DeleteTags: removes the tag `key`, whatever its value, from up to 1000
 * resources. Removing a tag a resource does not have is no error, so a
 * retry is harmless. With dry_run, success means DryRunOperation.
 */
int ec2_delete_tags(struct aws_client *aws, const char *const *ids, size_t n, const char *key,
		    bool dry_run, struct aws_error *error) WARN_UNUSED;

/* ---- launch templates ---- */

struct ec2_launch_template_version {
	char *template_id;
	char *template_name;
	long version;
	bool is_default;
	char *image_id;		/* NULL when the version names no image; may be
				   "resolve:ssm:<parameter>" */
};

struct ec2_launch_template_version_list {
	struct ec2_launch_template_version *items;
	size_t count;
	size_t cap;
};
#define EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT { NULL, 0, 0 }

void ec2_launch_template_version_list_release(struct ec2_launch_template_version_list *list);

/*
 * DescribeLaunchTemplateVersions, every page (MaxResults 200).
 *  - template_id and template_name NULL: the given versions ("$Default",
 *    "$Latest") of every launch template in the account;
 *  - else the versions of that one template (by id, else by name); a
 *    version is "$Default", "$Latest" or a number.
 * `versions` is NULL-terminated and not empty. All or an error.
 */
int ec2_describe_launch_template_versions(struct aws_client *aws, const char *template_id,
					  const char *template_name,
					  const char *const *versions,
					  struct ec2_launch_template_version_list *out,
					  struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeLaunchTemplateVersions:
 *   <DescribeLaunchTemplateVersionsResponse>
 *     <launchTemplateVersionSet><item>
 *       <launchTemplateId/> <launchTemplateName/> <versionNumber/>
 *       <defaultVersion/> <launchTemplateData><imageId/></launchTemplateData>
 *     </item></launchTemplateVersionSet>
 *     <nextToken/>
 *   </DescribeLaunchTemplateVersionsResponse>
 * ERR_PARSE when an item lacks its template id or version number.
 */
int ec2_parse_launch_template_versions(const struct xml_node *root,
				       struct ec2_launch_template_version_list *out) WARN_UNUSED;

#endif
