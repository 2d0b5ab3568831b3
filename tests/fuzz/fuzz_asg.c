/*
 * fuzz_asg.c - asg_parse_groups() and asg_parse_launch_configurations() on
 * arbitrary bytes.
 *
 *   make build/fuzz/fuzz_asg
 *   build/fuzz/fuzz_asg -max_total_time=60 tests/fuzz/corpus/asg
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * Beyond "no crash, no leak": whatever a parser accepts is complete (every
 * group named, every template reference followable, every instance with its
 * id and states, every tag with its key and value), and a refused page
 * leaves only whole entries behind.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "autoscaling.h"
#include "xml.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_groups(const struct asg_group_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct asg_group *g = &list->items[i];

		if (!g->name || !*g->name)
			__builtin_trap();
		if (g->launch_configuration && !*g->launch_configuration)
			__builtin_trap();
		if (!g->template_count != !g->templates || !g->instance_count != !g->instances)
			__builtin_trap();
		for (size_t t = 0; t < g->template_count; t++)
			if (!g->templates[t].template_id && !g->templates[t].template_name)
				__builtin_trap();
		for (size_t n = 0; n < g->instance_count; n++)
			if (!g->instances[n].id || !g->instances[n].lifecycle_state ||
			    !g->instances[n].health_status)
				__builtin_trap();
		/* tags: each with a key and a value ("" when none), found by its key */
		if (!g->tag_count != !g->tags)
			__builtin_trap();
		for (size_t t = 0; t < g->tag_count; t++)
			if (!g->tags[t].key || !g->tags[t].value ||
			    !asg_group_tag(g, g->tags[t].key))
				__builtin_trap();
	}
}

static bool is_true(const char *text)
{
	return text && !strcmp(text, "true");
}

/*
 * Scale-in protection, of the group's new instances and of each instance,
 * is exactly what the document says ("true"), member by member, in order.
 */
static void check_protection(const struct xml_node *root, const struct asg_group_list *list)
{
	const struct xml_node *groups =
		xml_path(root, "DescribeAutoScalingGroupsResult/AutoScalingGroups");
	size_t i = 0;

	xml_for_each(m, groups, "member") {
		const struct asg_group *g;
		size_t n = 0;

		if (i >= list->count)
			break;
		g = &list->items[i++];
		if (g->new_instances_protected_from_scale_in !=
		    is_true(xml_text(m, "NewInstancesProtectedFromScaleIn")))
			__builtin_trap();
		xml_for_each(inst, xml_child(m, "Instances"), "member") {
			if (n >= g->instance_count)
				break;
			if (g->instances[n++].protected_from_scale_in !=
			    is_true(xml_text(inst, "ProtectedFromScaleIn")))
				__builtin_trap();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct asg_group_list groups = ASG_GROUP_LIST_INIT;
	struct asg_launch_configuration_list configs = ASG_LAUNCH_CONFIGURATION_LIST_INIT;
	struct xml_node *root = NULL;

	if (xml_parse(view_make((const char *)data, size), &root, NULL))
		return 0;
	/* accepted or not, what is in the list must be whole */
	(void)!asg_parse_groups(root, &groups);
	check_groups(&groups);
	check_protection(root, &groups);
	(void)!asg_parse_launch_configurations(root, &configs);
	for (size_t i = 0; i < configs.count; i++)
		if (!configs.items[i].name || !*configs.items[i].name ||
		    !configs.items[i].image_id || !*configs.items[i].image_id)
			__builtin_trap();
	asg_group_list_release(&groups);
	asg_launch_configuration_list_release(&configs);
	xml_free(root);
	return 0;
}
