/*
 * fuzz_xml.c - xml_parse() and ec2_parse_instances() on arbitrary bytes.
 *
 *   make build/fuzz/fuzz_xml
 *   build/fuzz/fuzz_xml -max_total_time=60 tests/fuzz/corpus/xml
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 */
#include <stddef.h>
#include <stdint.h>

#include "ec2.h"
#include "xml.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
