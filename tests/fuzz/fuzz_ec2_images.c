/*
 * fuzz_ec2_images.c - ec2_parse_images(),
 * ec2_parse_launch_template_versions() and ec2_parse_snapshots() on
 * arbitrary documents.
 *
 *   make build/fuzz/fuzz_ec2_images
 *   build/fuzz/fuzz_ec2_images -max_total_time=60 tests/fuzz/corpus/ec2_images
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * Besides ASan/UBSan's findings it traps when a parser accepts what its
 * contract says it refuses: an image without id, state or a creation date
 * that reads back to the same time; a version without template id or a
 * number >= 1; a snapshot without id or owner.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ec2.h"
#include "timeutil.h"
#include "xml.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_images(const struct xml_node *root)
{
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	int err = ec2_parse_images(root, &list);

	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_image *image = &list.items[i];
		int64_t t;

		if (!image->id || !*image->id || !image->state || !*image->state ||
		    !image->name || !image->owner_id || !image->creation_date)
			__builtin_trap();
		if (time_parse_iso8601(image->creation_date, &t, NULL) || t != image->creation_time)
			__builtin_trap();
		for (size_t s = 0; s < image->snapshot_count; s++)
			if (!image->snapshot_ids[s] || !*image->snapshot_ids[s])
				__builtin_trap();
		for (size_t t2 = 0; t2 < image->tag_count; t2++)
			if (ec2_image_tag(image, image->tags[t2].key) == NULL)
				__builtin_trap();
	}
	/* a refusal keeps only the images before the bad one, each complete */
	if (err && err != ERR_PARSE)
		__builtin_trap();
	ec2_image_list_release(&list);
	if (list.items || list.count)
		__builtin_trap();
}

static void check_launch_template_versions(const struct xml_node *root)
{
	struct ec2_launch_template_version_list list = EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT;
	int err = ec2_parse_launch_template_versions(root, &list);

	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_launch_template_version *v = &list.items[i];

		if (!v->template_id || !*v->template_id || !v->template_name || v->version < 1)
			__builtin_trap();
		if (v->image_id && !*v->image_id)
			__builtin_trap();
	}
	if (err && err != ERR_PARSE)
		__builtin_trap();
	ec2_launch_template_version_list_release(&list);
}

static void check_snapshots(const struct xml_node *root)
{
	struct ec2_snapshot_list list = EC2_SNAPSHOT_LIST_INIT;
	int err = ec2_parse_snapshots(root, &list);

	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_snapshot *snap = &list.items[i];

		if (!snap->id || !*snap->id || !snap->owner_id)
			__builtin_trap();
		for (size_t t = 0; t < snap->tag_count; t++)
			if (ec2_snapshot_tag(snap, snap->tags[t].key) == NULL)
				__builtin_trap();
	}
	if (err && err != ERR_PARSE)
		__builtin_trap();
	ec2_snapshot_list_release(&list);
	if (list.items || list.count)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_node *root = NULL;

	if (xml_parse(view_make((const char *)data, size), &root, NULL))
		return 0;
	check_images(root);
	check_launch_template_versions(root);
	check_snapshots(root);
	xml_free(root);
	return 0;
}
