/*
 * test_autoscaling.c - Auto Scaling groups and launch configurations
 * (common/autoscaling.h).
 *
 *   make build/asan/tests/test_autoscaling && build/asan/tests/test_autoscaling
 *
 * groups/<name>     one group of a real-shaped DescribeAutoScalingGroups page,
 *                   field by field. The page carries what the parser must
 *                   skip: tags (<member><Key/><Value/>), availability zones,
 *                   suspended processes, an instance's own LaunchTemplate (not
 *                   the group's), a mixed-instances override without a
 *                   template and the InstancesDistribution.
 * group-pages/<row> documents that must be refused, or give no groups.
 * lc-pages/<row>    the same for DescribeLaunchConfigurations.
 * describe/<row>    the calls on a scripted transport: the parameters sent,
 *                   NextToken sent back, names asked 50 at a time, and a
 *                   failing later page or batch leaving the list empty.
 * change/<row>      SetDesiredCapacity, DetachInstances (20 ids a call, a
 *                   refused batch stopping the rest and saying how many
 *                   left), SetInstanceHealth and CreateOrUpdateTags: the exact
 *                   bodies, AWS's refusals, and bad ids or values refused
 *                   before anything is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "autoscaling.h"
#include "fake_aws.h"

#include "helpers.h"
#include "banned.h"

/* Shaped after a real eu-west-1 answer, with names, ids and ARNs changed. */
static const char groups_page[] =
	"<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
	"  <DescribeAutoScalingGroupsResult>\n"
	"    <AutoScalingGroups>\n"
	"      <member>\n"
	"        <HealthCheckType>EC2</HealthCheckType>\n"
	"        <LaunchTemplate>\n"
	"          <LaunchTemplateName>drone-agents</LaunchTemplateName>\n"
	"          <Version>$Latest</Version>\n"
	"          <LaunchTemplateId>lt-0a1b2c3d4e5f60718</LaunchTemplateId>\n"
	"        </LaunchTemplate>\n"
	"        <AvailabilityZones>\n"
	"          <member>eu-west-1a</member>\n"
	"          <member>eu-west-1b</member>\n"
	"        </AvailabilityZones>\n"
	"        <CreatedTime>2026-03-02T10:11:12.345Z</CreatedTime>\n"
	"        <ServiceLinkedRoleARN>arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling</ServiceLinkedRoleARN>\n"
	"        <AutoScalingGroupARN>arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:9d1c2d3e-1111-2222-3333-444455556666:autoScalingGroupName/drone-agents</AutoScalingGroupARN>\n"
	"        <TargetGroupARNs/>\n"
	"        <SuspendedProcesses>\n"
	"          <member>\n"
	"            <ProcessName>AZRebalance</ProcessName>\n"
	"            <SuspensionReason>User suspended at 2026-03-02T10:20:00Z</SuspensionReason>\n"
	"          </member>\n"
	"        </SuspendedProcesses>\n"
	"        <DesiredCapacity>2</DesiredCapacity>\n"
	"        <EnabledMetrics/>\n"
	"        <Tags>\n"
	"          <member>\n"
	"            <ResourceId>drone-agents</ResourceId>\n"
	"            <PropagateAtLaunch>true</PropagateAtLaunch>\n"
	"            <Value>drone</Value>\n"
	"            <Key>devcloud:role</Key>\n"
	"            <ResourceType>auto-scaling-group</ResourceType>\n"
	"          </member>\n"
	"          <member>\n"
	"            <ResourceId>drone-agents</ResourceId>\n"
	"            <PropagateAtLaunch>false</PropagateAtLaunch>\n"
	"            <Value>2026-03-02T10:30:00Z</Value>\n"
	"            <Key>devcloud:scaler:last-scale-out</Key>\n"
	"            <ResourceType>auto-scaling-group</ResourceType>\n"
	"          </member>\n"
	"          <member>\n"
	"            <ResourceId>drone-agents</ResourceId>\n"
	"            <PropagateAtLaunch>false</PropagateAtLaunch>\n"
	"            <Value/>\n"
	"            <Key>empty</Key>\n"
	"            <ResourceType>auto-scaling-group</ResourceType>\n"
	"          </member>\n"
	"        </Tags>\n"
	"        <TerminationPolicies>\n"
	"          <member>Default</member>\n"
	"        </TerminationPolicies>\n"
	"        <AutoScalingGroupName>drone-agents</AutoScalingGroupName>\n"
	"        <DefaultCooldown>300</DefaultCooldown>\n"
	"        <MinSize>0</MinSize>\n"
	"        <Instances>\n"
	"          <member>\n"
	"            <HealthStatus>Healthy</HealthStatus>\n"
	"            <AvailabilityZone>eu-west-1a</AvailabilityZone>\n"
	"            <InstanceId>i-0a1a1a1a1a1a1a1a1</InstanceId>\n"
	"            <InstanceType>t3.large</InstanceType>\n"
	"            <LaunchTemplate>\n"
	"              <LaunchTemplateName>drone-agents</LaunchTemplateName>\n"
	"              <Version>4</Version>\n"
	"              <LaunchTemplateId>lt-0a1b2c3d4e5f60718</LaunchTemplateId>\n"
	"            </LaunchTemplate>\n"
	"            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
	"            <LifecycleState>InService</LifecycleState>\n"
	"          </member>\n"
	"          <member>\n"
	"            <HealthStatus>Unhealthy</HealthStatus>\n"
	"            <AvailabilityZone>eu-west-1b</AvailabilityZone>\n"
	"            <InstanceId>i-0b2b2b2b2b2b2b2b2</InstanceId>\n"
	"            <InstanceType>t3.large</InstanceType>\n"
	"            <ProtectedFromScaleIn>true</ProtectedFromScaleIn>\n"
	"            <LifecycleState>Terminating:Wait</LifecycleState>\n"
	"          </member>\n"
	"        </Instances>\n"
	"        <MaxSize>10</MaxSize>\n"
	"        <VPCZoneIdentifier>subnet-56f5f633,subnet-56f5f634</VPCZoneIdentifier>\n"
	"        <HealthCheckGracePeriod>300</HealthCheckGracePeriod>\n"
	"        <NewInstancesProtectedFromScaleIn>true</NewInstancesProtectedFromScaleIn>\n"
	"        <CapacityRebalance>false</CapacityRebalance>\n"
	"      </member>\n"
	"      <member>\n"
	"        <HealthCheckType>EC2</HealthCheckType>\n"
	"        <LaunchConfigurationName>old-agents</LaunchConfigurationName>\n"
	"        <AvailabilityZones><member>eu-west-1c</member></AvailabilityZones>\n"
	"        <CreatedTime>2019-05-06T07:08:09.000Z</CreatedTime>\n"
	"        <DesiredCapacity>1</DesiredCapacity>\n"
	"        <AutoScalingGroupName>old-agents</AutoScalingGroupName>\n"
	"        <DefaultCooldown>300</DefaultCooldown>\n"
	"        <MinSize>1</MinSize>\n"
	"        <Instances>\n"
	"          <member>\n"
	"            <HealthStatus>Healthy</HealthStatus>\n"
	"            <AvailabilityZone>eu-west-1c</AvailabilityZone>\n"
	"            <InstanceId>i-0c3c3c3c3c3c3c3c3</InstanceId>\n"
	"            <LaunchConfigurationName>old-agents</LaunchConfigurationName>\n"
	"            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
	"            <LifecycleState>Pending</LifecycleState>\n"
	"          </member>\n"
	"        </Instances>\n"
	"        <MaxSize>3</MaxSize>\n"
	"        <Tags/>\n"
	"      </member>\n"
	"      <member>\n"
	"        <HealthCheckType>ELB</HealthCheckType>\n"
	"        <MixedInstancesPolicy>\n"
	"          <LaunchTemplate>\n"
	"            <LaunchTemplateSpecification>\n"
	"              <LaunchTemplateName>gpu-runners</LaunchTemplateName>\n"
	"              <Version>3</Version>\n"
	"            </LaunchTemplateSpecification>\n"
	"            <Overrides>\n"
	"              <member>\n"
	"                <InstanceType>g5.xlarge</InstanceType>\n"
	"                <WeightedCapacity>1</WeightedCapacity>\n"
	"              </member>\n"
	"              <member>\n"
	"                <InstanceType>g5g.xlarge</InstanceType>\n"
	"                <LaunchTemplateSpecification>\n"
	"                  <LaunchTemplateId>lt-0f0e0d0c0b0a09080</LaunchTemplateId>\n"
	"                  <Version>$Default</Version>\n"
	"                </LaunchTemplateSpecification>\n"
	"              </member>\n"
	"              <member>\n"
	"                <InstanceType>g4dn.xlarge</InstanceType>\n"
	"                <LaunchTemplateSpecification>\n"
	"                  <LaunchTemplateName>gpu-runners-g4</LaunchTemplateName>\n"
	"                </LaunchTemplateSpecification>\n"
	"              </member>\n"
	"            </Overrides>\n"
	"          </LaunchTemplate>\n"
	"          <InstancesDistribution>\n"
	"            <OnDemandAllocationStrategy>prioritized</OnDemandAllocationStrategy>\n"
	"            <OnDemandBaseCapacity>0</OnDemandBaseCapacity>\n"
	"            <OnDemandPercentageAboveBaseCapacity>0</OnDemandPercentageAboveBaseCapacity>\n"
	"            <SpotAllocationStrategy>price-capacity-optimized</SpotAllocationStrategy>\n"
	"          </InstancesDistribution>\n"
	"        </MixedInstancesPolicy>\n"
	"        <AvailabilityZones><member>eu-west-1a</member></AvailabilityZones>\n"
	"        <CreatedTime>2026-09-10T11:12:13.000Z</CreatedTime>\n"
	"        <DesiredCapacity>0</DesiredCapacity>\n"
	"        <AutoScalingGroupName>gpu runners</AutoScalingGroupName>\n"
	"        <DefaultCooldown>300</DefaultCooldown>\n"
	"        <MinSize>0</MinSize>\n"
	"        <Instances/>\n"
	"        <MaxSize>4</MaxSize>\n"
	"      </member>\n"
	"    </AutoScalingGroups>\n"
	"    <NextToken>H4sIAAAAAAAAAKtWKkktLlGyUlAqSi0uzsjMS1fSUcpMUbIyNDIyMDUzNTEyMrA0MjEx</NextToken>\n"
	"  </DescribeAutoScalingGroupsResult>\n"
	"  <ResponseMetadata>\n"
	"    <RequestId>7c6e177f-4e65-4f3e-8d5b-4a1d2c3b4a59</RequestId>\n"
	"  </ResponseMetadata>\n"
	"</DescribeAutoScalingGroupsResponse>\n";

#define MAX_REFS 4
#define MAX_INSTANCES 3
#define MAX_TAGS 3

struct group_case {
	const char *name;
	long min_size, max_size, desired_capacity;
	const char *launch_configuration;
	size_t template_count;
	struct asg_template_ref templates[MAX_REFS];
	size_t instance_count;
	struct asg_instance instances[MAX_INSTANCES];
	size_t tag_count;
	struct asg_tag tags[MAX_TAGS];
	bool new_instances_protected;
};

static struct group_case group_cases[] = {
	{ "drone-agents", 0, 10, 2, NULL, 1,
	  /* the instance's own template (version 4) is not the group's */
	  { { (char *)"lt-0a1b2c3d4e5f60718", (char *)"drone-agents", (char *)"$Latest" } }, 2,
	  { { (char *)"i-0a1a1a1a1a1a1a1a1", (char *)"InService", (char *)"Healthy", false },
	    { (char *)"i-0b2b2b2b2b2b2b2b2", (char *)"Terminating:Wait", (char *)"Unhealthy",
	      true } },
	  /* tags in document order; an empty <Value/> is "" */
	  3, { { (char *)"devcloud:role", (char *)"drone" },
	       { (char *)"devcloud:scaler:last-scale-out", (char *)"2026-03-02T10:30:00Z" },
	       { (char *)"empty", (char *)"" } },
	  true },
	{ "old-agents", 1, 3, 1, "old-agents", 0, { { NULL, NULL, NULL } }, 1,
	  { { (char *)"i-0c3c3c3c3c3c3c3c3", (char *)"Pending", (char *)"Healthy", false } },
	  /* <Tags/>: none; no NewInstancesProtectedFromScaleIn element: false */
	  0, { { NULL, NULL } }, false },
	/* the policy's template, then each override that names one, in order */
	{ "gpu runners", 0, 4, 0, NULL, 3,
	  { { NULL, (char *)"gpu-runners", (char *)"3" },
	    { (char *)"lt-0f0e0d0c0b0a09080", NULL, (char *)"$Default" },
	    { NULL, (char *)"gpu-runners-g4", NULL } },
	  0, { { NULL, NULL, NULL, false } }, 0, { { NULL, NULL } }, false },
};

static struct xml_node *groups_root;
static struct asg_group_list groups_list = ASG_GROUP_LIST_INIT;

static int groups_setup(void **state)
{
	(void)state;
	groups_root = parse_fixture(groups_page, "groups_page");
	return groups_root && asg_parse_groups(groups_root, &groups_list) == 0 ? 0 : -1;
}

static int groups_teardown(void **state)
{
	(void)state;
	asg_group_list_release(&groups_list);
	xml_free(groups_root);
	return 0;
}

static void test_group(void **state)
{
	const struct group_case *c = *state;
	const struct asg_group *g;

	assert_int_equal(groups_list.count, ARRAY_SIZE(group_cases));
	g = &groups_list.items[c - group_cases];	/* document order */
	assert_string_equal(g->name, c->name);
	assert_int_equal(g->min_size, c->min_size);
	assert_int_equal(g->max_size, c->max_size);
	assert_int_equal(g->desired_capacity, c->desired_capacity);
	assert_opt_string(g->launch_configuration, c->launch_configuration);
	assert_int_equal(g->template_count, c->template_count);
	for (size_t i = 0; i < c->template_count; i++) {
		assert_opt_string(g->templates[i].template_id, c->templates[i].template_id);
		assert_opt_string(g->templates[i].template_name, c->templates[i].template_name);
		assert_opt_string(g->templates[i].version, c->templates[i].version);
	}
	if (!c->template_count)
		assert_null(g->templates);
	assert_int_equal(g->instance_count, c->instance_count);
	for (size_t i = 0; i < c->instance_count; i++) {
		assert_string_equal(g->instances[i].id, c->instances[i].id);
		assert_string_equal(g->instances[i].lifecycle_state,
				    c->instances[i].lifecycle_state);
		assert_string_equal(g->instances[i].health_status, c->instances[i].health_status);
		assert_int_equal(g->instances[i].protected_from_scale_in,
				 c->instances[i].protected_from_scale_in);
	}
	if (!c->instance_count)
		assert_null(g->instances);
	assert_int_equal(g->tag_count, c->tag_count);
	for (size_t i = 0; i < c->tag_count; i++) {
		assert_string_equal(g->tags[i].key, c->tags[i].key);
		assert_string_equal(g->tags[i].value, c->tags[i].value);
		assert_string_equal(asg_group_tag(g, c->tags[i].key), c->tags[i].value);
	}
	if (!c->tag_count)
		assert_null(g->tags);
	assert_null(asg_group_tag(g, "devcloud:absent"));
	assert_null(asg_group_tag(g, "devcloud:rol"));
	assert_int_equal(g->new_instances_protected_from_scale_in, c->new_instances_protected);
}

/* Pages append, and a release leaves an empty list that can be released again. */
static void test_groups_append(void **state)
{
	struct asg_group_list list = ASG_GROUP_LIST_INIT;

	(void)state;
	assert_int_equal(asg_parse_groups(groups_root, &list), 0);
	assert_int_equal(asg_parse_groups(groups_root, &list), 0);
	assert_int_equal(list.count, 2 * ARRAY_SIZE(group_cases));
	assert_string_equal(list.items[3].name, "drone-agents");
	assert_string_equal(list.items[5].templates[2].template_name, "gpu-runners-g4");
	asg_group_list_release(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	asg_group_list_release(&list);
}

/* ---- pages that are refused or empty ---- */

#define GROUPS_OPEN \
	"<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">" \
	"<DescribeAutoScalingGroupsResult><AutoScalingGroups>"
#define GROUPS_CLOSE \
	"</AutoScalingGroups></DescribeAutoScalingGroupsResult>" \
	"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>" \
	"</DescribeAutoScalingGroupsResponse>"
#define GOOD_GROUP \
	"<member><AutoScalingGroupName>good</AutoScalingGroupName><MinSize>0</MinSize>" \
	"<MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity></member>"
/* a group with sizes, around what a row varies */
#define GROUP(inner) \
	"<member><AutoScalingGroupName>g</AutoScalingGroupName><MinSize>0</MinSize>" \
	"<MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity>" inner "</member>"
#define MIXED(inner) GROUP("<MixedInstancesPolicy><LaunchTemplate>" inner \
			   "</LaunchTemplate></MixedInstancesPolicy>")

struct page_case {
	const char *name;
	const char *doc;
	int err;
	size_t count;	/* groups in the list afterwards */
};

static struct page_case group_page_cases[] = {
	{ "empty-groups", GROUPS_OPEN GROUPS_CLOSE, 0, 0 },
	{ "self-closed-groups",
	  "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups/>"
	  "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>",
	  0, 0 },
	{ "good-then-bad-keeps-good", GROUPS_OPEN GOOD_GROUP "<member><MinSize>0</MinSize></member>"
	  GROUPS_CLOSE, ERR_PARSE, 1 },
	{ "no-groups-element",
	  "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
	  "<NextToken>t</NextToken></DescribeAutoScalingGroupsResult>"
	  "</DescribeAutoScalingGroupsResponse>",
	  ERR_PARSE, 0 },
	{ "no-result-element",
	  "<DescribeAutoScalingGroupsResponse><AutoScalingGroups>" GOOD_GROUP
	  "</AutoScalingGroups></DescribeAutoScalingGroupsResponse>",
	  ERR_PARSE, 0 },
	{ "error-document",
	  "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error>"
	  "<Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized</Message>"
	  "</Error><RequestId>r</RequestId></ErrorResponse>",
	  ERR_PARSE, 0 },
	{ "launch-configurations-document",
	  "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>"
	  "<LaunchConfigurations/></DescribeLaunchConfigurationsResult>"
	  "</DescribeLaunchConfigurationsResponse>",
	  ERR_PARSE, 0 },
	{ "no-name", GROUPS_OPEN "<member><MinSize>0</MinSize><MaxSize>1</MaxSize>"
	  "<DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "empty-name", GROUPS_OPEN "<member><AutoScalingGroupName/><MinSize>0</MinSize>"
	  "<MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE,
	  ERR_PARSE, 0 },
	{ "no-min-size", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE,
	  ERR_PARSE, 0 },
	{ "no-max-size", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize>0</MinSize><DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE,
	  ERR_PARSE, 0 },
	{ "no-desired-capacity", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize>0</MinSize><MaxSize>1</MaxSize></member>" GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "size-not-a-number", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize>0</MinSize><MaxSize>ten</MaxSize><DesiredCapacity>0</DesiredCapacity></member>"
	  GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "size-trailing-garbage", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize>0</MinSize><MaxSize>1</MaxSize><DesiredCapacity>2x</DesiredCapacity></member>"
	  GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "size-empty", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize></MinSize><MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity></member>"
	  GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "size-overflows", GROUPS_OPEN "<member><AutoScalingGroupName>g</AutoScalingGroupName>"
	  "<MinSize>0</MinSize><MaxSize>99999999999999999999999</MaxSize>"
	  "<DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "template-without-id-or-name", GROUPS_OPEN GROUP(
	  "<LaunchTemplate><Version>$Latest</Version></LaunchTemplate>") GROUPS_CLOSE, ERR_PARSE,
	  0 },
	{ "template-with-empty-id-and-name", GROUPS_OPEN GROUP(
	  "<LaunchTemplate><LaunchTemplateId/><LaunchTemplateName></LaunchTemplateName>"
	  "</LaunchTemplate>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "mixed-template-without-id-or-name", GROUPS_OPEN MIXED(
	  "<LaunchTemplateSpecification><Version>1</Version></LaunchTemplateSpecification>")
	  GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "override-template-without-id-or-name", GROUPS_OPEN MIXED(
	  "<LaunchTemplateSpecification><LaunchTemplateId>lt-1</LaunchTemplateId>"
	  "</LaunchTemplateSpecification><Overrides><member><InstanceType>t3.large</InstanceType>"
	  "<LaunchTemplateSpecification><Version>2</Version></LaunchTemplateSpecification>"
	  "</member></Overrides>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "instance-without-id", GROUPS_OPEN GROUP(
	  "<Instances><member><LifecycleState>InService</LifecycleState>"
	  "<HealthStatus>Healthy</HealthStatus></member></Instances>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "instance-without-lifecycle-state", GROUPS_OPEN GROUP(
	  "<Instances><member><InstanceId>i-1</InstanceId><HealthStatus>Healthy</HealthStatus>"
	  "</member></Instances>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "instance-without-health-status", GROUPS_OPEN GROUP(
	  "<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>"
	  "</member></Instances>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "second-instance-bad", GROUPS_OPEN GROUP(
	  "<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>"
	  "<HealthStatus>Healthy</HealthStatus></member><member><InstanceId>i-2</InstanceId>"
	  "</member></Instances>") GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "tag-without-key", GROUPS_OPEN GROUP("<Tags><member><Value>v</Value></member></Tags>")
	  GROUPS_CLOSE, ERR_PARSE, 0 },
	{ "tag-with-empty-key", GROUPS_OPEN GROUP("<Tags><member><Key/><Value>v</Value></member>"
	  "</Tags>") GROUPS_CLOSE, ERR_PARSE, 0 },
	/* optional parts that are empty or missing are not errors */
	{ "tag-without-value", GROUPS_OPEN GROUP("<Tags><member><Key>k</Key></member></Tags>")
	  GROUPS_CLOSE, 0, 1 },
	{ "protection-only-when-true", GROUPS_OPEN GROUP(
	  "<NewInstancesProtectedFromScaleIn>1</NewInstancesProtectedFromScaleIn>") GROUPS_CLOSE,
	  0, 1 },
	{ "empty-launch-configuration-name",
	  GROUPS_OPEN GROUP("<LaunchConfigurationName/>") GROUPS_CLOSE, 0, 1 },
	{ "negative-size-kept-as-given", GROUPS_OPEN "<member><AutoScalingGroupName>g"
	  "</AutoScalingGroupName><MinSize>-1</MinSize><MaxSize>+2</MaxSize>"
	  "<DesiredCapacity>0</DesiredCapacity></member>" GROUPS_CLOSE, 0, 1 },
	{ "mixed-policy-without-template", GROUPS_OPEN GROUP(
	  "<MixedInstancesPolicy><InstancesDistribution/></MixedInstancesPolicy>") GROUPS_CLOSE, 0,
	  1 },
	{ "protected-only-when-true", GROUPS_OPEN GROUP(
	  "<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>"
	  "<HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>TRUE</ProtectedFromScaleIn>"
	  "</member></Instances>") GROUPS_CLOSE, 0, 1 },
};

static void test_group_page(void **state)
{
	const struct page_case *c = *state;
	struct asg_group_list list = ASG_GROUP_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(asg_parse_groups(root, &list), c->err);
	/* on an error, what was appended before stays for the caller to release */
	assert_int_equal(list.count, c->count);
	for (size_t i = 0; i < list.count; i++) {
		assert_non_null(list.items[i].name);
		for (size_t t = 0; t < list.items[i].template_count; t++)
			assert_true(list.items[i].templates[t].template_id ||
				    list.items[i].templates[t].template_name);
		for (size_t n = 0; n < list.items[i].instance_count; n++)
			assert_false(list.items[i].instances[n].protected_from_scale_in);
	}
	if (!strcmp(c->name, "empty-launch-configuration-name"))
		assert_null(list.items[0].launch_configuration);
	if (!strcmp(c->name, "negative-size-kept-as-given")) {
		assert_int_equal(list.items[0].min_size, -1);
		assert_int_equal(list.items[0].max_size, 2);
	}
	if (!strcmp(c->name, "mixed-policy-without-template"))
		assert_int_equal(list.items[0].template_count, 0);
	if (!strcmp(c->name, "tag-without-value"))
		assert_string_equal(asg_group_tag(&list.items[0], "k"), "");
	for (size_t i = 0; i < list.count; i++)
		assert_false(list.items[i].new_instances_protected_from_scale_in);
	asg_group_list_release(&list);
	xml_free(root);
}

/* ---- launch configurations ---- */

static const char lc_page[] =
	"<DescribeLaunchConfigurationsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
	"  <DescribeLaunchConfigurationsResult>\n"
	"    <LaunchConfigurations>\n"
	"      <member>\n"
	"        <SecurityGroups><member>sg-e4076980</member></SecurityGroups>\n"
	"        <CreatedTime>2019-05-06T07:00:00.000Z</CreatedTime>\n"
	"        <KernelId/>\n"
	"        <LaunchConfigurationName>old-agents</LaunchConfigurationName>\n"
	"        <UserData/>\n"
	"        <InstanceType>t3.large</InstanceType>\n"
	"        <LaunchConfigurationARN>arn:aws:autoscaling:eu-west-1:123456789012:launchConfiguration:0a0b0c0d-1111-2222-3333-444455556666:launchConfigurationName/old-agents</LaunchConfigurationARN>\n"
	"        <BlockDeviceMappings>\n"
	"          <member><DeviceName>/dev/xvda</DeviceName><Ebs><SnapshotId>snap-0a0a0a0a0a0a0a0a0</SnapshotId><VolumeSize>8</VolumeSize></Ebs></member>\n"
	"        </BlockDeviceMappings>\n"
	"        <ImageId>ami-0b9c3a5e1f2d4c6b8</ImageId>\n"
	"        <KeyName>ops</KeyName>\n"
	"        <RamdiskId/>\n"
	"        <InstanceMonitoring><Enabled>false</Enabled></InstanceMonitoring>\n"
	"        <EbsOptimized>false</EbsOptimized>\n"
	"      </member>\n"
	"      <member>\n"
	"        <LaunchConfigurationName>builders v2</LaunchConfigurationName>\n"
	"        <ImageId>ami-0d4d4d4d4d4d4d4d4</ImageId>\n"
	"        <InstanceType>c5.2xlarge</InstanceType>\n"
	"        <CreatedTime>2020-01-01T00:00:00.000Z</CreatedTime>\n"
	"      </member>\n"
	"    </LaunchConfigurations>\n"
	"    <NextToken>bGF1bmNoLWNvbmZpZw==</NextToken>\n"
	"  </DescribeLaunchConfigurationsResult>\n"
	"  <ResponseMetadata><RequestId>0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7</RequestId></ResponseMetadata>\n"
	"</DescribeLaunchConfigurationsResponse>\n";

static void test_lc_real_page(void **state)
{
	struct asg_launch_configuration_list list = ASG_LAUNCH_CONFIGURATION_LIST_INIT;
	struct xml_node *root;

	(void)state;
	assert_int_equal(xml_parse(view_from(lc_page), &root, NULL), 0);
	assert_int_equal(asg_parse_launch_configurations(root, &list), 0);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.items[0].name, "old-agents");
	assert_string_equal(list.items[0].image_id, "ami-0b9c3a5e1f2d4c6b8");
	assert_string_equal(list.items[1].name, "builders v2");
	assert_string_equal(list.items[1].image_id, "ami-0d4d4d4d4d4d4d4d4");
	xml_free(root);
	asg_launch_configuration_list_release(&list);
	assert_null(list.items);
	asg_launch_configuration_list_release(&list);
}

#define LCS_OPEN \
	"<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>" \
	"<LaunchConfigurations>"
#define LCS_CLOSE "</LaunchConfigurations></DescribeLaunchConfigurationsResult>" \
	"</DescribeLaunchConfigurationsResponse>"
#define GOOD_LC "<member><LaunchConfigurationName>a</LaunchConfigurationName>" \
	"<ImageId>ami-1</ImageId></member>"

static struct page_case lc_page_cases[] = {
	{ "empty", LCS_OPEN LCS_CLOSE, 0, 0 },
	{ "one", LCS_OPEN GOOD_LC LCS_CLOSE, 0, 1 },
	{ "no-image", LCS_OPEN GOOD_LC "<member><LaunchConfigurationName>b</LaunchConfigurationName>"
	  "</member>" LCS_CLOSE, ERR_PARSE, 1 },
	{ "empty-image", LCS_OPEN "<member><LaunchConfigurationName>b</LaunchConfigurationName>"
	  "<ImageId/></member>" LCS_CLOSE, ERR_PARSE, 0 },
	{ "no-name", LCS_OPEN "<member><ImageId>ami-1</ImageId></member>" LCS_CLOSE, ERR_PARSE, 0 },
	{ "no-list-element",
	  "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>"
	  "</DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>",
	  ERR_PARSE, 0 },
	{ "error-document",
	  "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
	  "</Message></Error></ErrorResponse>",
	  ERR_PARSE, 0 },
	{ "groups-document", GROUPS_OPEN GOOD_GROUP GROUPS_CLOSE, ERR_PARSE, 0 },
};

static void test_lc_page(void **state)
{
	const struct page_case *c = *state;
	struct asg_launch_configuration_list list = ASG_LAUNCH_CONFIGURATION_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(asg_parse_launch_configurations(root, &list), c->err);
	assert_int_equal(list.count, c->count);
	for (size_t i = 0; i < list.count; i++) {
		assert_string_equal(list.items[i].name, "a");
		assert_string_equal(list.items[i].image_id, "ami-1");
	}
	asg_launch_configuration_list_release(&list);
	xml_free(root);
}

/* ---- the calls, on a scripted transport ---- */

/*
 * One kind of Describe call, so that the same rows run against both:
 * the action, its names list, and a function returning what was listed
 * as "name,name,..." (or the error).
 */
struct kind {
	const char *action;
	const char *list_key;
	const char *list_tag;	/* the answer's list element */
	const char *result_open, *result_close;
	const char *item_fmt;	/* one member with %s for its name */
	int (*describe)(struct aws_client *aws, const char *const *names, struct buf *listed,
			size_t *count_after, struct aws_error *e);
};

static int describe_groups(struct aws_client *aws, const char *const *names, struct buf *listed,
			   size_t *count_after, struct aws_error *e)
{
	struct asg_group_list list = ASG_GROUP_LIST_INIT;
	int err = asg_describe_groups(aws, names, &list, e);

	*count_after = list.count;
	if (err)
		assert_null(list.items);
	for (size_t i = 0; i < list.count; i++)
		buf_appendf(listed, "%s%s", i ? "," : "", list.items[i].name);
	asg_group_list_release(&list);
	return err;
}

static int describe_lcs(struct aws_client *aws, const char *const *names, struct buf *listed,
			size_t *count_after, struct aws_error *e)
{
	struct asg_launch_configuration_list list = ASG_LAUNCH_CONFIGURATION_LIST_INIT;
	int err = asg_describe_launch_configurations(aws, names, &list, e);

	*count_after = list.count;
	if (err)
		assert_null(list.items);
	for (size_t i = 0; i < list.count; i++)
		buf_appendf(listed, "%s%s", i ? "," : "", list.items[i].name);
	asg_launch_configuration_list_release(&list);
	return err;
}

static const struct kind groups_kind = {
	"DescribeAutoScalingGroups", "AutoScalingGroupNames", "AutoScalingGroups",
	"<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
	"<DescribeAutoScalingGroupsResult><AutoScalingGroups>",
	"</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId>"
	"</ResponseMetadata></DescribeAutoScalingGroupsResponse>",
	"<member><AutoScalingGroupName>%s</AutoScalingGroupName><MinSize>0</MinSize>"
	"<MaxSize>2</MaxSize><DesiredCapacity>1</DesiredCapacity></member>",
	describe_groups,
};

static const struct kind lcs_kind = {
	"DescribeLaunchConfigurations", "LaunchConfigurationNames", "LaunchConfigurations",
	"<DescribeLaunchConfigurationsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
	"<DescribeLaunchConfigurationsResult><LaunchConfigurations>",
	"</DescribeLaunchConfigurationsResult><ResponseMetadata><RequestId>r</RequestId>"
	"</ResponseMetadata></DescribeLaunchConfigurationsResponse>",
	"<member><LaunchConfigurationName>%s</LaunchConfigurationName><ImageId>ami-1</ImageId>"
	"</member>",
	describe_lcs,
};

#define MAX_ANSWERS 8

/*
 * A scripted answer: "a,b" is a page listing a and b, "a,b|tok" the same
 * with NextToken tok, "!" a page that cannot be read, and "E<status> <code>"
 * an error document.
 */
struct describe_case {
	const char *name;
	size_t name_count;	/* names name-000..; (size_t)-1: NULL (every one) */
	const char *answers[MAX_ANSWERS];
	int err;
	const char *code;	/* error->code expected, or NULL */
	const char *listed;	/* names listed, in order ("" when the list is empty) */
	/* the request bodies expected, each as fragments that must appear in it */
	const char *sent[MAX_ANSWERS];
};

#define ALL ((size_t)-1)

static struct describe_case describe_cases[] = {
	{ "every-one-one-page", ALL, { "a,b" }, 0, NULL, "a,b",
	  { "=exact:Action=%A&Version=2011-01-01&MaxRecords=100" } },
	{ "next-token-sent-back", ALL, { "a|tok/1+=", "b|tok2", "c" }, 0, NULL, "a,b,c",
	  { "=exact:Action=%A&Version=2011-01-01&MaxRecords=100",
	    "=exact:Action=%A&Version=2011-01-01&MaxRecords=100&NextToken=tok%2F1%2B%3D",
	    "=exact:Action=%A&Version=2011-01-01&MaxRecords=100&NextToken=tok2" } },
	{ "empty-page", ALL, { "" }, 0, NULL, "", { "MaxRecords=100" } },
	{ "failing-second-page-empties", ALL, { "a,b|t", "E400 InvalidNextToken" }, ERR_AWS,
	  "InvalidNextToken", "", { "", "NextToken=t" } },
	{ "unreadable-second-page-empties", ALL, { "a,b|t", "!" }, ERR_PARSE, "", "",
	  { "", "NextToken=t" } },
	{ "throttled-first-page", ALL, { "E400 Throttling" }, ERR_THROTTLED, "Throttling", "",
	  { "" } },
	{ "names-sent", 2, { "name-000,name-001" }, 0, NULL, "name-000,name-001",
	  { "=exact:Action=%A&Version=2011-01-01&%L.member.1=name-000&%L.member.2=name-001"
	    "&MaxRecords=100" } },
	{ "no-names-no-call", 0, { NULL }, 0, NULL, "", { NULL } },
	{ "fifty-names-one-call", 50, { "x" }, 0, NULL, "x",
	  { "&%L.member.1=name-000&,&%L.member.50=name-049&,!.member.51=" } },
	{ "fifty-one-names-two-calls", 51, { "x", "y" }, 0, NULL, "x,y",
	  { "&%L.member.50=name-049&,!.member.51=",
	    "=exact:Action=%A&Version=2011-01-01&%L.member.1=name-050&MaxRecords=100" } },
	/* each batch is paged on its own, its names sent again with the token */
	{ "batches-with-pages", 120, { "a|t1", "b", "c", "d" }, 0, NULL, "a,b,c,d",
	  { "&%L.member.1=name-000&,&%L.member.50=name-049&,!.member.51=,!NextToken",
	    "&%L.member.1=name-000&,&%L.member.50=name-049&,&NextToken=t1",
	    "&%L.member.1=name-050&,&%L.member.50=name-099&,!.member.51=,!NextToken",
	    "&%L.member.1=name-100&,&%L.member.20=name-119&,!.member.21=" } },
	{ "failing-last-batch-empties", 120, { "a", "b", "E403 AccessDenied" }, ERR_AWS,
	  "AccessDenied", "", { "name-000", "name-050", "name-100" } },
};

static void answer_page(const struct kind *k, const char *spec, struct buf *doc, long *status)
{
	const char *bar = strchr(spec, '|');
	struct view names = view_make(spec, bar ? (size_t)(bar - spec) : strlen(spec));

	*status = 200;
	if (spec[0] == '!') {
		/* a member without its name: the page reader refuses it */
		buf_appendf(doc, "%s<member><MinSize>0</MinSize></member></%s>%s", k->result_open,
			    k->list_tag, k->result_close);
		return;
	}
	if (spec[0] == 'E') {
		*status = strtol(spec + 1, NULL, 10);
		buf_appendf(doc,
			    "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
			    "<Error><Type>Sender</Type><Code>%s</Code><Message>no</Message></Error>"
			    "<RequestId>r</RequestId></ErrorResponse>",
			    strchr(spec, ' ') + 1);
		return;
	}
	buf_appends(doc, k->result_open);
	while (names.len) {
		const char *comma = memchr(names.ptr, ',', names.len);
		size_t n = comma ? (size_t)(comma - names.ptr) : names.len;
		struct buf one = BUF_INIT;

		buf_append(&one, names.ptr, n);
		buf_appendf(doc, k->item_fmt, buf_cstr(&one));
		buf_release(&one);
		names = comma ? view_make(comma + 1, names.len - n - 1) : view_make(names.ptr, 0);
	}
	buf_appendf(doc, "</%s>", k->list_tag);
	if (bar)
		buf_appendf(doc, "<NextToken>%s</NextToken>", bar + 1);
	buf_appends(doc, k->result_close);
}

/* Replaces %A with the action and %L with the names list key. */
static void expand(const struct kind *k, const char *s, struct buf *out)
{
	for (; *s; s++) {
		if (s[0] == '%' && s[1] == 'A') {
			buf_appends(out, k->action);
			s++;
		} else if (s[0] == '%' && s[1] == 'L') {
			buf_appends(out, k->list_key);
			s++;
		} else {
			buf_appendc(out, *s);
		}
	}
}

/*
 * Checks a request body against "fragment,fragment,...": each must appear,
 * "!x" must not, "=exact:x" is the whole body.
 */
static void assert_sent(const struct kind *k, const char *body, const char *expected)
{
	struct buf want = BUF_INIT;

	expand(k, expected, &want);
	if (!strncmp(buf_cstr(&want), "=exact:", 7)) {
		assert_string_equal(body, buf_cstr(&want) + 7);
	} else {
		struct view rest = buf_view(&want);
		while (rest.len) {
			const char *comma = memchr(rest.ptr, ',', rest.len);
			size_t n = comma ? (size_t)(comma - rest.ptr) : rest.len;
			char *frag = xstrndup(rest.ptr, n);

			if (frag[0] == '!') {
				if (strstr(body, frag + 1))
					fail_msg("'%s' sent in '%s'", frag + 1, body);
			} else if (!strstr(body, frag)) {
				fail_msg("'%s' not sent in '%s'", frag, body);
			}
			free(frag);
			rest = comma ? view_make(comma + 1, rest.len - n - 1) : view_make(rest.ptr, 0);
		}
	}
	/* every request names the action and the version */
	assert_non_null(strstr(body, "Version=2011-01-01"));
	buf_release(&want);
}

static void run_describe(const struct kind *k, const struct describe_case *c)
{
	struct fake_aws fake;
	struct aws_client *aws;
	struct buf docs[MAX_ANSWERS], listed = BUF_INIT, action = BUF_INIT;
	char names_store[200][32];
	const char *names[201];
	size_t answers = 0, count_after = 99;
	struct aws_error e;
	int err;

	assert_true(c->name_count == ALL || c->name_count <= 200);
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	for (size_t i = 0; c->name_count != ALL && i < c->name_count; i++) {
		snprintf(names_store[i], sizeof(names_store[i]), "name-%03zu", i);
		names[i] = names_store[i];
	}
	if (c->name_count != ALL)
		names[c->name_count] = NULL;
	for (size_t i = 0; i < MAX_ANSWERS; i++)
		docs[i] = (struct buf)BUF_INIT;
	for (; answers < MAX_ANSWERS && c->answers[answers]; answers++) {
		long status;
		answer_page(k, c->answers[answers], &docs[answers], &status);
		fake_aws_answer(&fake, status, buf_cstr(&docs[answers]));
	}

	memset(&e, 0x5a, sizeof(e));
	err = k->describe(aws, c->name_count == ALL ? NULL : names, &listed, &count_after, &e);
	assert_int_equal(err, c->err);
	assert_string_equal(buf_cstr(&listed), c->listed);
	if (err) {
		assert_int_equal(e.err, c->err);
		assert_int_equal(count_after, 0);
		if (c->code)
			assert_string_equal(e.code, c->code);
	}
	assert_int_equal(fake.calls, answers);	/* every answer used, no more asked */
	buf_appendf(&action, "Action=%s&", k->action);
	for (size_t i = 0; i < fake.calls && i < MAX_ANSWERS; i++) {
		const char *body = buf_cstr(&fake.bodies[i]);

		assert_true(!strncmp(body, buf_cstr(&action), action.len));
		assert_non_null(strstr(fake.urls[i], "autoscaling.eu-west-1.amazonaws.com"));
		assert_non_null(strstr(buf_cstr(&fake.heads[i]), "/autoscaling/aws4_request"));
		if (c->sent[i])
			assert_sent(k, body, c->sent[i]);
	}

	for (size_t i = 0; i < MAX_ANSWERS; i++)
		buf_release(&docs[i]);
	buf_release(&listed);
	buf_release(&action);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

static void test_describe_groups(void **state)
{
	run_describe(&groups_kind, *state);
}

static void test_describe_lcs(void **state)
{
	run_describe(&lcs_kind, *state);
}

/* A name is form-encoded on the wire, and a group parsed in full comes back. */
static void test_describe_groups_full(void **state)
{
	static const char *const names[] = { "gpu runners", "a&b=c", NULL };
	struct fake_aws fake;
	struct aws_client *aws;
	struct asg_group_list list = ASG_GROUP_LIST_INIT;
	struct aws_error e;

	(void)state;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	fake_aws_answer(&fake, 200, groups_page);
	fake_aws_answer(&fake, 200, "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
				    "<AutoScalingGroups/></DescribeAutoScalingGroupsResult>"
				    "</DescribeAutoScalingGroupsResponse>");
	assert_int_equal(asg_describe_groups(aws, names, &list, &e), 0);
	assert_string_equal(buf_cstr(&fake.bodies[0]),
			    "Action=DescribeAutoScalingGroups&Version=2011-01-01"
			    "&AutoScalingGroupNames.member.1=gpu%20runners"
			    "&AutoScalingGroupNames.member.2=a%26b%3Dc&MaxRecords=100");
	assert_true(fake_aws_body_has(&fake, 1,
				      "&NextToken=H4sIAAAAAAAAAKtWKkktLlGyUlAqSi0uzsjMS1fSUcpMUbIy"));
	assert_int_equal(fake.calls, 2);
	assert_int_equal(list.count, 3);
	assert_int_equal(list.items[2].template_count, 3);
	assert_string_equal(list.items[0].instances[1].lifecycle_state, "Terminating:Wait");
	asg_group_list_release(&list);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* ---- changing a group ---- */

#define OK_ANSWER(action) \
	"<" action "Response xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">" \
	"<ResponseMetadata><RequestId>7c6e177f-4e65-4f3e-8d5b-4a1d2c3b4a59</RequestId>" \
	"</ResponseMetadata></" action "Response>"
#define DETACH_ANSWER \
	"<DetachInstancesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">" \
	"<DetachInstancesResult><Activities><member><ActivityId>a-1</ActivityId>" \
	"<AutoScalingGroupName>drone-agents</AutoScalingGroupName><Cause>At 2026-03-02T10:40:00Z " \
	"instance i-0a1a1a1a1a1a1a1a1 was detached</Cause><StatusCode>InProgress</StatusCode>" \
	"<Progress>50</Progress><StartTime>2026-03-02T10:40:00Z</StartTime></member></Activities>" \
	"</DetachInstancesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>" \
	"</DetachInstancesResponse>"
#define VALIDATION_ERROR(msg) \
	"<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error>" \
	"<Type>Sender</Type><Code>ValidationError</Code><Message>" msg "</Message></Error>" \
	"<RequestId>r</RequestId></ErrorResponse>"

enum change_op { SET_DESIRED, DETACH, HEALTH, TAG };

struct change_case {
	const char *name;
	enum change_op op;
	long number;		/* SET_DESIRED: the capacity; DETACH: how many ids */
	const char *subject;	/* SET_DESIRED/TAG: group; HEALTH: instance; DETACH: a bad id */
	const char *status;	/* HEALTH */
	bool flag;		/* HEALTH: respect the grace period */
	const char *answers[4];	/* 200 documents, or "E" + an error document (400) */
	int err;
	const char *code;
	size_t calls;
	size_t detached;
	/* fragments of each request body, as in assert_sent(); "=exact:" the whole */
	const char *sent[4];
};

/* 21 ids: i-00000000000000001 ... */
#define ID(n) "i-000000000000000" #n

static const struct change_case change_cases[] = {
	{ "desired", SET_DESIRED, 3, "drone agents", NULL, false, { OK_ANSWER("SetDesiredCapacity") },
	  0, NULL, 1, 0,
	  { "=exact:Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=drone%20agents"
	    "&DesiredCapacity=3&HonorCooldown=false" } },
	{ "desired-zero", SET_DESIRED, 0, "g", NULL, false, { OK_ANSWER("SetDesiredCapacity") }, 0,
	  NULL, 1, 0, { "&DesiredCapacity=0&" } },
	{ "desired-refused", SET_DESIRED, 11, "g", NULL, false,
	  { "E" VALIDATION_ERROR("New SetDesiredCapacity value 11 is above max value 10 for the "
				 "AutoScalingGroup.") },
	  ERR_AWS, "ValidationError", 1, 0, { "DesiredCapacity=11" } },
	{ "desired-negative-not-sent", SET_DESIRED, -1, "g", NULL, false, { NULL }, ERR_CONFIG, "",
	  0, 0, { NULL } },
	{ "desired-other-document", SET_DESIRED, 1, "g", NULL, false,
	  { OK_ANSWER("CreateOrUpdateTags") }, ERR_PARSE, "", 1, 0, { "" } },
	{ "detach-two", DETACH, 2, NULL, NULL, false, { DETACH_ANSWER }, 0, NULL, 1, 2,
	  { "=exact:Action=DetachInstances&Version=2011-01-01&InstanceIds.member.1=" ID(01)
	    "&InstanceIds.member.2=" ID(02) "&AutoScalingGroupName=drone-agents"
	    "&ShouldDecrementDesiredCapacity=true" } },
	{ "detach-twenty-one-call", DETACH, 20, NULL, NULL, false, { DETACH_ANSWER }, 0, NULL, 1, 20,
	  { "InstanceIds.member.20=" ID(20) "&,!member.21" } },
	{ "detach-twenty-one-two-calls", DETACH, 21, NULL, NULL, false,
	  { DETACH_ANSWER, DETACH_ANSWER }, 0, NULL, 2, 21,
	  { "InstanceIds.member.1=" ID(01) "&,InstanceIds.member.20=" ID(20) "&,!member.21",
	    "=exact:Action=DetachInstances&Version=2011-01-01&InstanceIds.member.1=" ID(21)
	    "&AutoScalingGroupName=drone-agents&ShouldDecrementDesiredCapacity=true" } },
	{ "detach-refused-batch-stops", DETACH, 21, NULL, NULL, false,
	  { "E" VALIDATION_ERROR("Currently, desiredSize equals minSize (1). Detaching instance "
				 "would decrease desiredSize below minSize."),
	    DETACH_ANSWER },
	  ERR_AWS, "ValidationError", 1, 0, { "member.20=" } },
	{ "detach-second-batch-refused", DETACH, 21, NULL, NULL, false,
	  { DETACH_ANSWER, "E" VALIDATION_ERROR("The instance " ID(21) " is not part of Auto "
						"Scaling group drone-agents.") },
	  ERR_AWS, "ValidationError", 2, 20, { "member.20=", "member.1=" ID(21) } },
	{ "detach-bad-id-not-sent", DETACH, 3, "i-0A1B2C3D", NULL, false, { NULL }, ERR_CONFIG, "", 0,
	  0, { NULL } },
	{ "detach-injection-not-sent", DETACH, 1, ID(01) "&InstanceIds.member.2=i-12345678", NULL,
	  false, { NULL }, ERR_CONFIG, "", 0, 0, { NULL } },
	{ "detach-none", DETACH, 0, NULL, NULL, false, { NULL }, 0, NULL, 0, 0, { NULL } },
	{ "health-unhealthy", HEALTH, 0, "i-0a1a1a1a1a1a1a1a1", "Unhealthy", false,
	  { OK_ANSWER("SetInstanceHealth") }, 0, NULL, 1, 0,
	  { "=exact:Action=SetInstanceHealth&Version=2011-01-01&InstanceId=i-0a1a1a1a1a1a1a1a1"
	    "&HealthStatus=Unhealthy&ShouldRespectGracePeriod=false" } },
	{ "health-respecting-grace", HEALTH, 0, "i-0a1a1a1a", "Healthy", true,
	  { OK_ANSWER("SetInstanceHealth") }, 0, NULL, 1, 0,
	  { "InstanceId=i-0a1a1a1a&HealthStatus=Healthy&ShouldRespectGracePeriod=true" } },
	{ "health-bad-id", HEALTH, 0, "i-0a1a1a1a1a1a1a1a", "Unhealthy", false, { NULL }, ERR_CONFIG,
	  "", 0, 0, { NULL } },
	{ "health-bad-status", HEALTH, 0, "i-0a1a1a1a", "unhealthy", false, { NULL }, ERR_CONFIG, "",
	  0, 0, { NULL } },
	{ "tag", TAG, 0, "drone agents", NULL, false, { OK_ANSWER("CreateOrUpdateTags") }, 0, NULL, 1,
	  0,
	  { "=exact:Action=CreateOrUpdateTags&Version=2011-01-01"
	    "&Tags.member.1.ResourceId=drone%20agents&Tags.member.1.ResourceType=auto-scaling-group"
	    "&Tags.member.1.Key=devcloud%3Ascaler%3Alast-scale-out"
	    "&Tags.member.1.Value=2026-03-02T10%3A30%3A00Z&Tags.member.1.PropagateAtLaunch=false"
	    "&Tags.member.2.ResourceId=drone%20agents&Tags.member.2.ResourceType=auto-scaling-group"
	    "&Tags.member.2.Key=empty&Tags.member.2.Value=&Tags.member.2.PropagateAtLaunch=false" } },
	{ "tag-refused", TAG, 0, "gone", NULL, false,
	  { "E" VALIDATION_ERROR("AutoScalingGroup name not found - gone") }, ERR_AWS,
	  "ValidationError", 1, 0, { "ResourceId=gone" } },
};

static const struct kind change_kind = { "", "", "", "", "", "", NULL };

static void test_change(void **state)
{
	const struct change_case *c = *state;
	static const struct asg_tag tags[] = {
		{ (char *)"devcloud:scaler:last-scale-out", (char *)"2026-03-02T10:30:00Z" },
		{ (char *)"empty", NULL },
	};
	char store[21][24];
	const char *ids[21];
	size_t answers = 0, detached = 99;
	struct fake_aws fake;
	struct aws_client *aws;
	struct aws_error e;
	int err = 0;

	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	for (; answers < 4 && c->answers[answers]; answers++) {
		const char *a = c->answers[answers];
		fake_aws_answer(&fake, a[0] == 'E' ? 400 : 200, a[0] == 'E' ? a + 1 : a);
	}
	for (size_t i = 0; i < 21; i++) {
		snprintf(store[i], sizeof(store[i]), "i-%017zu", i + 1);
		ids[i] = store[i];
	}
	if (c->op == DETACH && c->subject)
		ids[c->number - 1] = c->subject;	/* the last id is the bad one */
	memset(&e, 0x5a, sizeof(e));
	switch (c->op) {
	case SET_DESIRED:
		err = asg_set_desired_capacity(aws, c->subject, c->number, &e);
		break;
	case DETACH:
		err = asg_detach_instances(aws, "drone-agents", ids, (size_t)c->number, &detached,
					   &e);
		assert_int_equal(detached, c->detached);
		break;
	case HEALTH:
		err = asg_set_instance_health(aws, c->subject, c->status, c->flag, &e);
		break;
	case TAG:
		err = asg_tag_group(aws, c->subject, tags, ARRAY_SIZE(tags), &e);
		break;
	}
	assert_int_equal(err, c->err);
	if (err) {
		assert_int_equal(e.err, c->err);
		assert_string_equal(e.code, c->code);
		assert_true(strlen(e.message) > 0);
		assert_non_null(memchr(e.message, '\0', sizeof(e.message)));
	}
	assert_int_equal(fake.calls, c->calls);
	for (size_t i = 0; i < fake.calls && i < 4; i++) {
		assert_non_null(strstr(fake.urls[i], "autoscaling.eu-west-1.amazonaws.com"));
		if (c->sent[i])
			assert_sent(&change_kind, buf_cstr(&fake.bodies[i]), c->sent[i]);
	}
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* An empty tag key is refused before anything is sent; no tags sends nothing. */
static void test_tag_refusals(void **state)
{
	static const struct asg_tag bad[] = { { (char *)"ok", (char *)"1" }, { (char *)"", (char *)"v" } };
	struct fake_aws fake;
	struct aws_client *aws;
	struct aws_error e;

	(void)state;
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 1);
	assert_int_equal(asg_tag_group(aws, "g", bad, 2, &e), ERR_CONFIG);
	assert_int_equal(e.err, ERR_CONFIG);
	assert_int_equal(asg_tag_group(aws, "g", bad, 0, &e), 0);
	assert_int_equal(fake.calls, 0);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

int main(void)
{
	struct CMUnitTest group_tests[ARRAY_SIZE(group_cases) + 1];
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(group_page_cases); i++)
		table_add("group-pages", group_page_cases[i].name, test_group_page,
			  &group_page_cases[i]);
	table_add("lc-pages", "real-page", test_lc_real_page, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(lc_page_cases); i++)
		table_add("lc-pages", lc_page_cases[i].name, test_lc_page, &lc_page_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(describe_cases); i++) {
		table_add("describe-groups", describe_cases[i].name, test_describe_groups,
			  &describe_cases[i]);
		table_add("describe-lcs", describe_cases[i].name, test_describe_lcs,
			  &describe_cases[i]);
	}
	table_add("describe-groups", "full-page-and-encoding", test_describe_groups_full, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(change_cases); i++)
		table_add("change", change_cases[i].name, test_change, (void *)&change_cases[i]);
	table_add("change", "tag-refusals", test_tag_refusals, NULL);
	failed = table_run_group("autoscaling", NULL, NULL);

	/* one group parses the real page once; each group of it is a test */
	for (size_t i = 0; i < ARRAY_SIZE(group_cases); i++)
		group_tests[i] = (struct CMUnitTest){ .name = group_cases[i].name,
						      .test_func = test_group,
						      .initial_state = &group_cases[i] };
	group_tests[ARRAY_SIZE(group_cases)] =
		(struct CMUnitTest){ .name = "pages-append", .test_func = test_groups_append };
	failed += _cmocka_run_group_tests("autoscaling DescribeAutoScalingGroups page", group_tests,
					  ARRAY_SIZE(group_tests), groups_setup, groups_teardown);

	return failed ? 1 : 0;
}
