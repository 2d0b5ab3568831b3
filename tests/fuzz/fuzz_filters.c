/*
 * fuzz_filters.c - ec2_filters_parse() on arbitrary specs, then
 * ec2_filters_to_params() and a describe -> parse round trip.
 *
 *   make build/fuzz/fuzz_filters
 *   build/fuzz/fuzz_filters -max_total_time=60 tests/fuzz/corpus/filters
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool trimmed_nonempty(const char *s, const char *forbidden)
{
	size_t n = strlen(s);
	if (!n || strpbrk(s, forbidden))
		return false;
	return !strchr(" \t\r\n", s[0]) && !strchr(" \t\r\n", s[n - 1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = xstrndup((const char *)data, size);
	struct ec2_filter_list list = EC2_FILTER_LIST_INIT, again = EC2_FILTER_LIST_INIT;
	struct aws_params params = AWS_PARAMS_INIT;
	struct buf errmsg = BUF_INIT, desc = BUF_INIT, desc2 = BUF_INIT;
	size_t expect = 0;

	if (ec2_filters_parse(spec, "F", &list, &errmsg)) {
		if (list.count || list.items || !errmsg.len)
			__builtin_trap();
		goto out;
	}
	if (!list.count || errmsg.len)
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_filter *f = &list.items[i];
		if (!trimmed_nonempty(f->name, ";=") || !f->value_count ||
		    f->values[f->value_count])
			__builtin_trap();
		for (size_t j = 0; j < f->value_count; j++)
			if (!trimmed_nonempty(f->values[j], ";,"))
				__builtin_trap();
		expect += 1 + f->value_count;
	}
	ec2_filters_to_params(&list, &params);
	if (params.count != expect || strcmp(params.items[0].key, "Filter.1.Name"))
		__builtin_trap();
	/* what is written for the logs reads back as the same filters */
	ec2_filters_describe(&list, &desc);
	if (ec2_filters_parse(buf_cstr(&desc), "F", &again, &errmsg))
		__builtin_trap();
	ec2_filters_describe(&again, &desc2);
	if (strcmp(buf_cstr(&desc), buf_cstr(&desc2)) || again.count != list.count)
		__builtin_trap();
out:
	ec2_filters_release(&list);
	ec2_filters_release(&again);
	aws_params_release(&params);
	buf_release(&errmsg);
	buf_release(&desc);
	buf_release(&desc2);
	free(spec);
	return 0;
}
