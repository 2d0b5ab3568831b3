/*
 * autoscaling.h - the Auto Scaling calls our functions make, and their
 * answers as structs (Query protocol, XML answers).
 */
#ifndef AUTOSCALING_H
#define AUTOSCALING_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "buf.h"
#include "err.h"
#include "xml.h"

/* A launch template as a group names it: by id or by name, and a version. */
struct asg_template_ref {
	char *template_id;	/* NULL when named by name */
	char *template_name;	/* NULL when named by id */
	char *version;		/* "$Default", "$Latest" or a number; NULL = "$Default" */
};

struct asg_instance {
	char *id;
	char *lifecycle_state;	/* "InService", "Pending", "Terminating", ... */
	char *health_status;	/* "Healthy", "Unhealthy" */
	bool protected_from_scale_in;
};

/* A tag on a group (DescribeAutoScalingGroups' Tags, CreateOrUpdateTags). */
struct asg_tag {
	char *key;
	char *value;	/* "" when the tag has no value */
};

struct asg_group {
	char *name;
	long min_size;
	long max_size;
	long desired_capacity;
	char *launch_configuration;	/* NULL when none */
	/*
	 * Every launch template the group can launch from: its own
	 * LaunchTemplate, its mixed-instances policy's template and each
	 * override's template.
	 */
	struct asg_template_ref *templates;
	size_t template_count;
	struct asg_instance *instances;
	size_t instance_count;
	/* the group's own tags (the scaler keeps its state in one) */
	struct asg_tag *tags;
	size_t tag_count;
	/* instances the group launches start protected from scale-in */
	bool new_instances_protected_from_scale_in;
};

/* The value of the group's tag `key`, or NULL when it has none. */
const char *asg_group_tag(const struct asg_group *g, const char *key);

struct asg_group_list {
	struct asg_group *items;
	size_t count;
	size_t cap;
};
#define ASG_GROUP_LIST_INIT { NULL, 0, 0 }

void asg_group_list_release(struct asg_group_list *list);

/*
 * DescribeAutoScalingGroups, every page (MaxRecords 100). `names` is
 * NULL-terminated; NULL means every group. All or an error.
 */
int asg_describe_groups(struct aws_client *aws, const char *const *names,
			struct asg_group_list *out, struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeAutoScalingGroups:
 *   <DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>
 *     <AutoScalingGroups><member>
 *       <AutoScalingGroupName/> <MinSize/> <MaxSize/> <DesiredCapacity/>
 *       <LaunchConfigurationName/>
 *       <LaunchTemplate><LaunchTemplateId/><LaunchTemplateName/><Version/></LaunchTemplate>
 *       <MixedInstancesPolicy><LaunchTemplate>
 *         <LaunchTemplateSpecification>...</LaunchTemplateSpecification>
 *         <Overrides><member><LaunchTemplateSpecification>...
 *       </LaunchTemplate></MixedInstancesPolicy>
 *       <Instances><member><InstanceId/><LifecycleState/><HealthStatus/>
 *         <ProtectedFromScaleIn/></member></Instances>
 *       <Tags><member><Key/><Value/><ResourceId/><ResourceType/>
 *         <PropagateAtLaunch/></member></Tags>
 *       <NewInstancesProtectedFromScaleIn/>
 *     </member></AutoScalingGroups>
 *     <NextToken/>
 *   </DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>
 * ERR_PARSE when a group lacks its name or sizes, a template reference
 * names neither an id nor a name, or a tag has no key.
 */
int asg_parse_groups(const struct xml_node *root, struct asg_group_list *out) WARN_UNUSED;

struct asg_launch_configuration {
	char *name;
	char *image_id;
};

struct asg_launch_configuration_list {
	struct asg_launch_configuration *items;
	size_t count;
	size_t cap;
};
#define ASG_LAUNCH_CONFIGURATION_LIST_INIT { NULL, 0, 0 }

void asg_launch_configuration_list_release(struct asg_launch_configuration_list *list);

/*
 * DescribeLaunchConfigurations, every page (MaxRecords 100). `names` is
 * NULL-terminated (asked 50 at a time, the API's limit); NULL means every
 * launch configuration. All or an error.
 */
int asg_describe_launch_configurations(struct aws_client *aws, const char *const *names,
				       struct asg_launch_configuration_list *out,
				       struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeLaunchConfigurations:
 *   <DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>
 *     <LaunchConfigurations><member><LaunchConfigurationName/><ImageId/>
 *     </member></LaunchConfigurations> <NextToken/>
 *   </DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>
 * ERR_PARSE when one lacks its name or image.
 */
int asg_parse_launch_configurations(const struct xml_node *root,
				    struct asg_launch_configuration_list *out) WARN_UNUSED;

/* ---- changing a group ---- */

/*
 * SetDesiredCapacity with HonorCooldown=false: the caller decides when to
 * scale, the group's cooldown does not delay it. AWS refuses a capacity
 * outside the group's min/max (ValidationError, ERR_AWS).
 */
int asg_set_desired_capacity(struct aws_client *aws, const char *group, long desired,
			     struct aws_error *error) WARN_UNUSED;

/* AWS's limit on the instances of one DetachInstances call. */
#define ASG_DETACH_MAX_PER_CALL 20

/*
 * DetachInstances with ShouldDecrementDesiredCapacity=true: the instances
 * leave the group (they keep running, EC2 removes nothing) and the desired
 * capacity drops by as many, so the group launches no replacement. Sent
 * ASG_DETACH_MAX_PER_CALL at a time, in order; the first refused batch
 * stops the rest. *detached (may be NULL) is how many of the first ids were
 * detached before that: on an error the caller knows which ones left.
 * Every id must be an instance id (ERR_CONFIG, nothing sent, otherwise).
 * AWS refuses a detach that would take desired below MinSize and one of an
 * instance that is not in the group (ValidationError).
 */
int asg_detach_instances(struct aws_client *aws, const char *group, const char *const *ids,
			 size_t count, size_t *detached, struct aws_error *error) WARN_UNUSED;

/*
 * SetInstanceHealth: marks a member "Healthy" or "Unhealthy"; an
 * Unhealthy one is terminated and replaced by its group. With
 * respect_grace_period the mark is ignored while the instance is in the
 * group's health check grace period; a caller that applies a boot grace of
 * its own passes false.
 */
int asg_set_instance_health(struct aws_client *aws, const char *instance_id, const char *status,
			    bool respect_grace_period, struct aws_error *error) WARN_UNUSED;

/*
 * CreateOrUpdateTags on the group itself (ResourceType auto-scaling-group,
 * PropagateAtLaunch=false: a group's bookkeeping is not copied onto the
 * instances it launches). Keys must be non-empty (ERR_CONFIG otherwise).
 */
int asg_tag_group(struct aws_client *aws, const char *group, const struct asg_tag *tags,
		  size_t count, struct aws_error *error) WARN_UNUSED;

#endif
