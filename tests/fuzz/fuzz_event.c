/*
 * fuzz_event.c - event_parse() on arbitrary bytes, with a field of each type.
 *
 *   make build/fuzz/fuzz_event
 *   build/fuzz/fuzz_event -max_total_time=60 tests/fuzz/corpus/event
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "event.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct event_field fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "max_age_hours", EVENT_INT },
	{ "only", EVENT_STRING },
	{ "hibernate", EVENT_BOOL },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_value values[NFIELDS];
	struct buf errmsg = BUF_INIT;
	bool scheduled = false;
	int err;

	memset(values, 0, sizeof(values));
	err = event_parse(view_make((const char *)data, size), fields, NFIELDS, values,
			  &scheduled, &errmsg);
	if (err && !errmsg.len)
		__builtin_trap();	/* every refusal says why */
	if (!err && errmsg.len)
		__builtin_trap();
	for (size_t i = 0; i < NFIELDS; i++) {
		if (values[i].present && fields[i].type == EVENT_STRING && !values[i].string)
			__builtin_trap();
		if (values[i].present && fields[i].type == EVENT_INT &&
		    (values[i].integer > 1000000000000000LL ||
		     values[i].integer < -1000000000000000LL))
			__builtin_trap();
	}
	event_values_release(values, NFIELDS);
	buf_reset(&errmsg);

	/* the same bytes as a function that also takes Spot warnings */
	{
		static const char *const keys[] = { "instance-id", NULL };
		static const struct event_kind kinds[] = {
			{ "aws.ec2", "EC2 Spot Instance Interruption Warning", keys },
		};
		struct event_value detail[1];
		int kind = 7;

		memset(values, 0, sizeof(values));
		memset(detail, 0, sizeof(detail));
		err = event_parse_kinds(view_make((const char *)data, size), fields, NFIELDS, values,
					kinds, 1, &kind, detail, &scheduled, &errmsg);
		if (err && !errmsg.len)
			__builtin_trap();
		if (kind != -1 && kind != 0)
			__builtin_trap();
		if (!err && kind == 0 && (!detail[0].present || !detail[0].string || scheduled))
			__builtin_trap();	/* a Spot warning has its instance id */
		if (!err && kind == 0)
			for (size_t i = 0; i < NFIELDS; i++)
				if (values[i].present)
					__builtin_trap();	/* and no overrides */
		event_values_release(values, NFIELDS);
		event_values_release(detail, 1);
	}
	buf_release(&errmsg);
	return 0;
}
