/*
 * fuzz_xml.c - xml_parse() and ec2_parse_instances() on arbitrary bytes, and
 * the same bytes streamed (xml_stream, fed in chunks whose sizes come from
 * the input): a document the tree parser takes, the stream takes too, with
 * the same items in the same order and the same texts.
 *
 *   make build/fuzz/fuzz_xml
 *   build/fuzz/fuzz_xml -max_total_time=60 tests/fuzz/corpus/xml
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ec2.h"
#include "xml.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const item_paths[] = { "reservationSet/item/instancesSet/item", NULL };
static const char *const drop_paths[] = { "reservationSet/item", NULL };

struct seen {
	struct buf ids;		/* every item's instanceId, as the stream saw them */
	size_t items;
};

static int on_item(void *ctx, const struct xml_node *item)
{
	struct seen *seen = ctx;
	const char *id = xml_text(item, "instanceId");

	buf_appends(&seen->ids, id ? id : "-");
	buf_appendc(&seen->ids, '\n');
	seen->items++;
	return 0;
}

/* Streams data in chunks of sizes taken from its first byte; checks it
   agrees with the tree (root), which took the same bytes. */
static void stream_and_compare(const uint8_t *data, size_t size, const struct xml_node *root)
{
	struct seen seen = { BUF_INIT, 0 };
	struct xml_stream_options opts = { .item_paths = item_paths, .drop_paths = drop_paths,
					   .on_item = on_item, .ctx = &seen };
	struct xml_stream *s = xml_stream_new(&opts);
	const struct xml_node *skeleton = NULL;
	struct buf want = BUF_INIT;
	size_t step = size ? 1 + data[0] % 64 : 1, at = 0;
	int err = 0;

	while (!err && at < size) {
		size_t n = size - at < step ? size - at : step;
		err = xml_stream_feed(s, view_make((const char *)data + at, n));
		at += n;
	}
	if (!err)
		err = xml_stream_finish(s, &skeleton);
	if (err)
		__builtin_trap();	/* the tree parser took this document */
	/* every element at the item path, in document order */
	xml_for_each(set, root, "reservationSet")
		xml_for_each(res, set, "item")
			xml_for_each(inner, res, "instancesSet")
				xml_for_each(item, inner, "item") {
					const char *id = xml_text(item, "instanceId");
					buf_appends(&want, id ? id : "-");
					buf_appendc(&want, '\n');
				}
	if (xml_stream_items(s) != seen.items || strcmp(buf_cstr(&want), buf_cstr(&seen.ids)) ||
	    strcmp(skeleton->name, root->name) || xml_path(skeleton, "reservationSet/item"))
		__builtin_trap();
	buf_release(&want);
	buf_release(&seen.ids);
	xml_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct buf reason = BUF_INIT;
	struct xml_node *root = NULL;

	if (xml_parse(view_make((const char *)data, size), &root, &reason)) {
		if (root || !reason.len)
			__builtin_trap();	/* refusals leave nothing and say why */
		buf_release(&reason);
		return 0;
	}
	(void)xml_text(root, "reservationSet/item/instancesSet/item/instanceId");
	(void)xml_text(root, "nextToken");
	stream_and_compare(data, size, root);
	if (ec2_parse_instances(root, &list) == 0) {
		for (size_t i = 0; i < list.count; i++) {
			const struct ec2_instance *inst = &list.items[i];
			if (!inst->id || !*inst->id || !inst->state || !*inst->state)
				__builtin_trap();
			for (size_t t = 0; t < inst->tag_count; t++)
				if (ec2_instance_tag(inst, inst->tags[t].key) == NULL)
					__builtin_trap();
		}
	}
	ec2_instance_list_release(&list);
	xml_free(root);
	buf_release(&reason);
	return 0;
}
