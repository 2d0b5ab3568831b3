/*
 * fuzz_ec2_pages.c - whole EC2 listings as the functions make them:
 * DescribeInstances, DescribeSnapshots and DescribeImages, every page
 * (NextToken), with retries, error documents and resets on the way.
 *
 *   make build/fuzz/fuzz_ec2_pages
 *   build/fuzz/fuzz_ec2_pages -max_total_time=60 tests/fuzz/corpus/ec2_pages
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * The input's first byte picks the listing; the rest is the answers, in
 * tests/fuzz/fuzz_wire.h's format. Beyond "no crash, no leak": a listing
 * is all or an error (a failure leaves the list empty: nothing is ever
 * acted on from a partial listing); whatever is listed is whole (ids,
 * states, readable creation dates, tags found by their key); a success
 * ends on a 2xx answer; errors follow fuzz_check_error()'s rules.
 */
#include <stddef.h>
#include <stdint.h>

#include "ec2.h"
#include "timeutil.h"

#include "fuzz_wire.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const self[] = { "self", NULL };

static int list_instances(struct aws_client *aws, struct aws_error *error)
{
	static const char *const roles[] = { "devbox", NULL };
	struct ec2_filter filter = { (char *)"tag:devcloud:role", (char **)roles, 1 };
	struct ec2_filter_list filters = { &filter, 1 };
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	int err = ec2_describe_instances(aws, &filters, &list, error);

	if (err && (list.count || list.items))
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_instance *inst = &list.items[i];

		if (!inst->id || !*inst->id || !inst->state || !*inst->state)
			__builtin_trap();
		if (inst->private_ip && !*inst->private_ip)
			__builtin_trap();
		if (!inst->tag_count != !inst->tags)
			__builtin_trap();
		for (size_t t = 0; t < inst->tag_count; t++)
			if (!inst->tags[t].key || !inst->tags[t].value ||
			    !ec2_instance_tag(inst, inst->tags[t].key))
				__builtin_trap();
	}
	ec2_instance_list_release(&list);
	if (list.items || list.count)
		__builtin_trap();
	return err;
}

static int list_snapshots(struct aws_client *aws, struct aws_error *error)
{
	struct ec2_snapshot_list list = EC2_SNAPSHOT_LIST_INIT;
	int err = ec2_describe_snapshots(aws, self, NULL, &list, error);

	if (err && (list.count || list.items))
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_snapshot *snap = &list.items[i];

		if (!snap->id || !*snap->id || !snap->owner_id)
			__builtin_trap();
		for (size_t t = 0; t < snap->tag_count; t++)
			if (!snap->tags[t].key || !snap->tags[t].value ||
			    !ec2_snapshot_tag(snap, snap->tags[t].key))
				__builtin_trap();
	}
	ec2_snapshot_list_release(&list);
	return err;
}

static int list_images(struct aws_client *aws, struct aws_error *error)
{
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct ec2_image_query query = { .owners = self };
	int err = ec2_describe_images(aws, &query, &list, error);

	if (err && (list.count || list.items))
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_image *image = &list.items[i];
		int64_t t;

		if (!image->id || !*image->id || !image->state || !*image->state ||
		    !image->name || !image->owner_id || !image->creation_date)
			__builtin_trap();
		/* a pruner must never guess an image's age */
		if (time_parse_iso8601(image->creation_date, &t, NULL) ||
		    t != image->creation_time)
			__builtin_trap();
		for (size_t s = 0; s < image->snapshot_count; s++)
			if (!image->snapshot_ids[s] || !*image->snapshot_ids[s])
				__builtin_trap();
	}
	ec2_image_list_release(&list);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_wire wire;
	struct aws_clock clock;
	struct aws_client *aws;
	struct aws_error error;
	int err;

	if (size < 1)
		return 0;
	fuzz_quiet();
	fuzz_wire_init(&wire, data + 1, size - 1);
	aws = fuzz_wire_client(&wire, &clock);
	switch (data[0] % 3) {
	case 0:
		err = list_instances(aws, &error);
		break;
	case 1:
		err = list_snapshots(aws, &error);
		break;
	default:
		err = list_images(aws, &error);
		break;
	}
	fuzz_check_error(err, &error, data, size);
	if (!err && (wire.last_status < 200 || wire.last_status > 299))
		__builtin_trap();
	aws_client_free(aws);
	return 0;
}
