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
	if (scheduled && err)
		__builtin_trap();
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!err && scheduled && values[i].present)
			__builtin_trap();	/* scheduled events carry no overrides */
		if (values[i].present && fields[i].type == EVENT_STRING && !values[i].string)
			__builtin_trap();
		if (values[i].present && fields[i].type == EVENT_INT &&
		    (values[i].integer > 1000000000000000LL ||
		     values[i].integer < -1000000000000000LL))
			__builtin_trap();
	}
	event_values_release(values, NFIELDS);
	buf_release(&errmsg);
	return 0;
}
