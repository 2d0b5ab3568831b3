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
	char *public_ip;	/* NULL when none */
	int64_t launch_time;	/* Unix seconds; resets at every start */
	int64_t attach_time;	/* primary network interface's attach time; 0 if unknown */
	bool hibernation_configured;
	struct ec2_tag *tags;
	size_t tag_count;
};

struct ec2_instance_list {
	struct ec2_instance *items;
	size_t count;
	size_t cap;
};
#define EC2_INSTANCE_LIST_INIT { NULL, 0, 0 }

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
/* Appends Filter.N.Name / Filter.N.Value.M parameters. */
void ec2_filters_to_params(const struct ec2_filter_list *list, struct aws_params *params);
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

#endif
