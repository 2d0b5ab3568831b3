#include "autoscaling.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "awsid.h"
#include "banned.h"

/* The largest page both Describe calls allow. */
#define ASG_MAX_RECORDS "100"
/*
 * DescribeLaunchConfigurations takes at most 50 names. DescribeAutoScalingGroups
 * takes 50 by default (more only when MaxRecords is raised), so both are asked
 * in batches of 50: never refused, whatever MaxRecords does to the limit.
 */
#define ASG_NAMES_PER_CALL 50

static char *text_dup(const struct xml_node *node, const char *path)
{
	const char *t = xml_text(node, path);
	return t && *t ? xstrdup(t) : NULL;
}

/* A whole decimal number (optionally signed), nothing around it. */
static int text_long(const struct xml_node *node, const char *path, long *out)
{
	const char *t = xml_text(node, path);
	char *end;

	if (!t || !*t)
		return ERR_PARSE;
	errno = 0;
	*out = strtol(t, &end, 10);
	if (errno || end == t || *end)
		return ERR_PARSE;
	return 0;
}

/* ---- groups ---- */

static void template_ref_release(struct asg_template_ref *ref)
{
	free(ref->template_id);
	free(ref->template_name);
	free(ref->version);
}

static void group_release(struct asg_group *g)
{
	free(g->name);
	free(g->launch_configuration);
	for (size_t i = 0; i < g->template_count; i++)
		template_ref_release(&g->templates[i]);
	free(g->templates);
	for (size_t i = 0; i < g->instance_count; i++) {
		free(g->instances[i].id);
		free(g->instances[i].lifecycle_state);
		free(g->instances[i].health_status);
	}
	free(g->instances);
	for (size_t i = 0; i < g->tag_count; i++) {
		free(g->tags[i].key);
		free(g->tags[i].value);
	}
	free(g->tags);
	memset(g, 0, sizeof(*g));
}

void asg_group_list_release(struct asg_group_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		group_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

/*
 * Adds the template a <LaunchTemplate> or <LaunchTemplateSpecification>
 * element names; `spec` NULL (the element is absent) adds nothing. A
 * reference that names neither an id nor a name cannot be followed, and a
 * caller that decides which images are in use must not skip it silently.
 */
static int add_template_ref(struct asg_group *g, const struct xml_node *spec)
{
	struct asg_template_ref *ref;

	if (!spec)
		return 0;
	g->templates = xrealloc(g->templates, (g->template_count + 1) * sizeof(*g->templates));
	ref = &g->templates[g->template_count++];
	ref->template_id = text_dup(spec, "LaunchTemplateId");
	ref->template_name = text_dup(spec, "LaunchTemplateName");
	ref->version = text_dup(spec, "Version");
	return ref->template_id || ref->template_name ? 0 : ERR_PARSE;
}

/*
 * <Instances><member><InstanceId/><LifecycleState/><HealthStatus/>
 * <ProtectedFromScaleIn/></member></Instances>: the model requires all four;
 * callers compare the states, so an instance without them is refused rather
 * than handed on with NULLs.
 */
static int parse_instances(struct asg_group *g, const struct xml_node *instances)
{
	size_t n = 0;

	xml_for_each(m, instances, "member")
		n++;
	if (!n)
		return 0;
	g->instances = xcalloc(n, sizeof(*g->instances));
	xml_for_each(m, instances, "member") {
		struct asg_instance *inst = &g->instances[g->instance_count++];
		const char *protected = xml_text(m, "ProtectedFromScaleIn");

		inst->id = text_dup(m, "InstanceId");
		inst->lifecycle_state = text_dup(m, "LifecycleState");
		inst->health_status = text_dup(m, "HealthStatus");
		inst->protected_from_scale_in = protected && !strcmp(protected, "true");
		if (!inst->id || !inst->lifecycle_state || !inst->health_status)
			return ERR_PARSE;
	}
	return 0;
}

/*
 * <Tags><member><Key/><Value/>...</member></Tags>: Key is required (a tag
 * without one is not a tag); an empty or missing Value is "".
 */
static int parse_tags(struct asg_group *g, const struct xml_node *tags)
{
	size_t n = 0;

	xml_for_each(m, tags, "member")
		n++;
	if (!n)
		return 0;
	g->tags = xcalloc(n, sizeof(*g->tags));
	xml_for_each(m, tags, "member") {
		struct asg_tag *tag = &g->tags[g->tag_count++];
		const char *value = xml_text(m, "Value");

		tag->key = text_dup(m, "Key");
		tag->value = xstrdup(value ? value : "");
		if (!tag->key)
			return ERR_PARSE;
	}
	return 0;
}

const char *asg_group_tag(const struct asg_group *g, const char *key)
{
	for (size_t i = 0; i < g->tag_count; i++)
		if (!strcmp(g->tags[i].key, key))
			return g->tags[i].value;
	return NULL;
}

static int parse_group(const struct xml_node *m, struct asg_group *g)
{
	const struct xml_node *mixed = xml_path(m, "MixedInstancesPolicy/LaunchTemplate");
	const char *protected;
	int err;

	memset(g, 0, sizeof(*g));
	g->name = text_dup(m, "AutoScalingGroupName");
	if (!g->name || text_long(m, "MinSize", &g->min_size) ||
	    text_long(m, "MaxSize", &g->max_size) ||
	    text_long(m, "DesiredCapacity", &g->desired_capacity))
		return ERR_PARSE;
	g->launch_configuration = text_dup(m, "LaunchConfigurationName");
	err = add_template_ref(g, xml_child(m, "LaunchTemplate"));
	if (!err)
		err = add_template_ref(g, xml_child(mixed, "LaunchTemplateSpecification"));
	xml_for_each(o, xml_child(mixed, "Overrides"), "member") {
		if (err)
			break;
		err = add_template_ref(g, xml_child(o, "LaunchTemplateSpecification"));
	}
	if (!err)
		err = parse_instances(g, xml_child(m, "Instances"));
	if (!err)
		err = parse_tags(g, xml_child(m, "Tags"));
	protected = xml_text(m, "NewInstancesProtectedFromScaleIn");
	g->new_instances_protected_from_scale_in = protected && !strcmp(protected, "true");
	return err;
}

static int add_group(void *list, const struct xml_node *m)
{
	struct asg_group_list *out = list;

	if (out->count == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 16;
		out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
	}
	if (parse_group(m, &out->items[out->count])) {
		group_release(&out->items[out->count]);
		return ERR_PARSE;
	}
	out->count++;
	return 0;
}

/*
 * AutoScalingGroups is required in the answer (empty, it is still
 * there): without it this is some other document, such as an error,
 * and reading it as "no groups" would hide every group in use.
 */
/* The container a page of each listing must have (an error document has none). */
#define GROUPS_PATH "DescribeAutoScalingGroupsResult/AutoScalingGroups"
#define LAUNCH_CONFIGURATIONS_PATH "DescribeLaunchConfigurationsResult/LaunchConfigurations"

static int check_groups_page(const struct xml_node *root)
{
	if (strcmp(root->name, "DescribeAutoScalingGroupsResponse") || !xml_path(root, GROUPS_PATH))
		return ERR_PARSE;
	return 0;
}

int asg_parse_groups(const struct xml_node *root, struct asg_group_list *out)
{
	if (check_groups_page(root))
		return ERR_PARSE;
	xml_for_each(m, xml_path(root, GROUPS_PATH), "member") {
		if (add_group(out, m))
			return ERR_PARSE;
	}
	return 0;
}

static void truncate_groups(void *list, size_t n)
{
	struct asg_group_list *l = list;

	while (l->count > n)
		group_release(&l->items[--l->count]);
}

static size_t *count_groups(void *list)
{
	return &((struct asg_group_list *)list)->count;
}

/*
 * Every page of `action`, once for all (names NULL) or once per batch of
 * names sent as `list_key`.member.N. A names array that is present but
 * empty asks for nothing: sending no names would list everything instead.
 */
static int describe_by_names(struct aws_client *aws, const char *action, const char *list_key,
			     const char *const *names, const char *path, struct aws_listing *l,
			     struct aws_error *error)
{
	const char *const paths[] = { path, NULL };
	size_t next = 0;
	int err = 0;

	do {
		struct aws_params params = AWS_PARAMS_INIT;

		if (names) {
			if (!names[next])
				break;
			for (size_t i = 0; i < ASG_NAMES_PER_CALL && names[next]; i++, next++)
				aws_params_addf(&params, names[next], "%s.member.%zu", list_key,
						i + 1);
		}
		aws_params_add(&params, "MaxRecords", ASG_MAX_RECORDS);
		err = aws_query_listing(aws, &aws_service_autoscaling, action, &params, paths, NULL,
					l, error);
		aws_params_release(&params);
	} while (!err && names && names[next]);
	return err;
}

int asg_describe_groups(struct aws_client *aws, const char *const *names,
			struct asg_group_list *out, struct aws_error *error)
{
	struct aws_listing l = { .list = out, .count = count_groups, .truncate = truncate_groups,
				 .add = add_group, .root = "DescribeAutoScalingGroupsResponse",
				 .container = GROUPS_PATH };
	int err = describe_by_names(aws, "DescribeAutoScalingGroups", "AutoScalingGroupNames",
				    names, GROUPS_PATH "/member", &l, error);
	if (err)
		asg_group_list_release(out);
	return err;
}

/* ---- launch configurations ---- */

void asg_launch_configuration_list_release(struct asg_launch_configuration_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].name);
		free(list->items[i].image_id);
	}
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

static int add_launch_configuration(void *list, const struct xml_node *m)
{
	struct asg_launch_configuration_list *out = list;
	char *name = text_dup(m, "LaunchConfigurationName");
	char *image_id = text_dup(m, "ImageId");

	if (!name || !image_id) {
		free(name);
		free(image_id);
		return ERR_PARSE;
	}
	if (out->count == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 16;
		out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
	}
	out->items[out->count].name = name;
	out->items[out->count].image_id = image_id;
	out->count++;
	return 0;
}

/* required in the answer, as AutoScalingGroups is above */
static int check_launch_configurations_page(const struct xml_node *root)
{
	if (strcmp(root->name, "DescribeLaunchConfigurationsResponse") ||
	    !xml_path(root, LAUNCH_CONFIGURATIONS_PATH))
		return ERR_PARSE;
	return 0;
}

int asg_parse_launch_configurations(const struct xml_node *root,
				    struct asg_launch_configuration_list *out)
{
	if (check_launch_configurations_page(root))
		return ERR_PARSE;
	xml_for_each(m, xml_path(root, LAUNCH_CONFIGURATIONS_PATH),
		     "member") {
		if (add_launch_configuration(out, m))
			return ERR_PARSE;
	}
	return 0;
}

static void truncate_launch_configurations(void *list, size_t n)
{
	struct asg_launch_configuration_list *l = list;

	while (l->count > n) {
		l->count--;
		free(l->items[l->count].name);
		free(l->items[l->count].image_id);
	}
}

static size_t *count_launch_configurations(void *list)
{
	return &((struct asg_launch_configuration_list *)list)->count;
}

int asg_describe_launch_configurations(struct aws_client *aws, const char *const *names,
				       struct asg_launch_configuration_list *out,
				       struct aws_error *error)
{
	struct aws_listing l = { .list = out, .count = count_launch_configurations,
				 .truncate = truncate_launch_configurations,
				 .add = add_launch_configuration,
				 .root = "DescribeLaunchConfigurationsResponse",
				 .container = LAUNCH_CONFIGURATIONS_PATH };
	int err = describe_by_names(aws, "DescribeLaunchConfigurations", "LaunchConfigurationNames",
				    names, LAUNCH_CONFIGURATIONS_PATH "/member", &l, error);
	if (err)
		asg_launch_configuration_list_release(out);
	return err;
}

/* ---- changing a group ---- */

/*
 * One call of an action whose answer carries nothing we use:
 *   <ActionResponse><ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>
 * (DetachInstances adds a result with its activities). An answer that is
 * some other document is not taken as a success.
 */
static int change(struct aws_client *aws, const char *action, const struct aws_params *params,
		  struct aws_error *error)
{
	struct xml_node *root = NULL;
	struct buf want = BUF_INIT;
	int err;

	err = aws_query(aws, &aws_service_autoscaling, action, params, &root, error);
	if (err)
		goto out;
	buf_appendf(&want, "%sResponse", action);
	if (strcmp(root->name, buf_cstr(&want))) {
		memset(error, 0, sizeof(*error));
		error->err = err = ERR_PARSE;
		error->http_status = 200;
		snprintf(error->message, sizeof(error->message), "%s answered with a <%.64s> document",
			 action, root->name);
	}
out:
	xml_free(root);
	buf_release(&want);
	return err;
}

static int refuse(struct aws_error *error, const char *fmt, const char *subject)
{
	memset(error, 0, sizeof(*error));
	error->err = ERR_CONFIG;
	snprintf(error->message, sizeof(error->message), fmt, subject);
	return ERR_CONFIG;
}

int asg_set_desired_capacity(struct aws_client *aws, const char *group, long desired,
			     struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;
	char number[32];
	int err;

	if (desired < 0)
		return refuse(error, "cannot set a negative desired capacity on '%s'", group);
	snprintf(number, sizeof(number), "%ld", desired);
	aws_params_add(&params, "AutoScalingGroupName", group);
	aws_params_add(&params, "DesiredCapacity", number);
	aws_params_add(&params, "HonorCooldown", "false");
	err = change(aws, "SetDesiredCapacity", &params, error);
	aws_params_release(&params);
	return err;
}

int asg_detach_instances(struct aws_client *aws, const char *group, const char *const *ids,
			 size_t count, size_t *detached, struct aws_error *error)
{
	size_t done = 0;
	int err = 0;

	if (detached)
		*detached = 0;
	for (size_t i = 0; i < count; i++)
		if (!instance_id_valid(ids[i]))
			return refuse(error, "cannot detach '%.40s': not an instance id", ids[i]);
	while (done < count) {
		struct aws_params params = AWS_PARAMS_INIT;
		size_t n = count - done < ASG_DETACH_MAX_PER_CALL ? count - done
								  : ASG_DETACH_MAX_PER_CALL;

		for (size_t i = 0; i < n; i++)
			aws_params_addf(&params, ids[done + i], "InstanceIds.member.%zu", i + 1);
		aws_params_add(&params, "AutoScalingGroupName", group);
		aws_params_add(&params, "ShouldDecrementDesiredCapacity", "true");
		err = change(aws, "DetachInstances", &params, error);
		aws_params_release(&params);
		if (err)
			break;
		done += n;
		if (detached)
			*detached = done;
	}
	return err;
}

int asg_set_instance_health(struct aws_client *aws, const char *instance_id, const char *status,
			    bool respect_grace_period, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;
	int err;

	if (!instance_id_valid(instance_id))
		return refuse(error, "cannot set the health of '%.40s': not an instance id",
			      instance_id);
	if (strcmp(status, "Healthy") && strcmp(status, "Unhealthy"))
		return refuse(error, "cannot set health status '%.40s': not Healthy or Unhealthy",
			      status);
	aws_params_add(&params, "InstanceId", instance_id);
	aws_params_add(&params, "HealthStatus", status);
	aws_params_add(&params, "ShouldRespectGracePeriod", respect_grace_period ? "true" : "false");
	err = change(aws, "SetInstanceHealth", &params, error);
	aws_params_release(&params);
	return err;
}

int asg_tag_group(struct aws_client *aws, const char *group, const struct asg_tag *tags,
		  size_t count, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;
	int err;

	if (!count)
		return 0;
	for (size_t i = 0; i < count; i++)
		if (!tags[i].key || !*tags[i].key)
			return refuse(error, "cannot tag '%s' with an empty key", group);
	for (size_t i = 0; i < count; i++) {
		aws_params_addf(&params, group, "Tags.member.%zu.ResourceId", i + 1);
		aws_params_addf(&params, "auto-scaling-group", "Tags.member.%zu.ResourceType", i + 1);
		aws_params_addf(&params, tags[i].key, "Tags.member.%zu.Key", i + 1);
		aws_params_addf(&params, tags[i].value ? tags[i].value : "", "Tags.member.%zu.Value",
				i + 1);
		aws_params_addf(&params, "false", "Tags.member.%zu.PropagateAtLaunch", i + 1);
	}
	err = change(aws, "CreateOrUpdateTags", &params, error);
	aws_params_release(&params);
	return err;
}
