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
};

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
 *     </member></AutoScalingGroups>
 *     <NextToken/>
 *   </DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>
 * ERR_PARSE when a group lacks its name or sizes, or a template reference
 * names neither an id nor a name.
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

#endif
