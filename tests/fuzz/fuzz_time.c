/*
 * fuzz_time.c - time_parse_iso8601() on arbitrary strings, and the round trip
 * format -> parse on everything it accepts.
 *
 *   make build/fuzz/fuzz_time
 *   build/fuzz/fuzz_time -max_total_time=60 tests/fuzz/corpus/time
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);	/* stops at an embedded NUL */
	struct buf out = BUF_INIT;
	int64_t epoch = 0, back = 0;
	bool date_only = false, date_only2 = true;

	if (time_parse_iso8601(s, &epoch, &date_only))
		goto out;
	/* 0000..9999 with offsets of at most a day either side */
	if (epoch < -86400 || epoch > 253402300799LL + 86400)
		__builtin_trap();
	if (date_only && (epoch % 86400 != 0 || strlen(s) != 10))
		__builtin_trap();
	/* times before 1970 are formatted but not parsed back (years < 1970 are refused) */
	if (epoch < 0)
		goto out;
	time_format_iso8601(epoch, &out);
	if (out.len != 20)
		__builtin_trap();
	if (time_parse_iso8601(buf_cstr(&out), &back, &date_only2) || back != epoch || date_only2)
		__builtin_trap();
	/* the date part of a date-only input is written back as it was */
	if (date_only && memcmp(out.ptr, s, 10))
		__builtin_trap();
out:
	buf_release(&out);
	free(s);
	return 0;
}
