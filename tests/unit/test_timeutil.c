/*
 * test_timeutil.c - ISO 8601 / RFC 3339 UTC times (common/timeutil.h).
 *
 *   make build/asan/tests/test_timeutil && build/asan/tests/test_timeutil
 *
 * Expected epochs were computed independently (Python's calendar.timegm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "timeutil.h"

#include "banned.h"


/* ---- parse ---- */

struct parse_case {
	const char *in;		/* also the test's name */
	int err;
	int64_t epoch;
	bool date_only;
};

static struct parse_case parse_cases[] = {
	/* the forms the header documents */
	{ "2026-11-25", 0, 1795564800, true },
	{ "2026-11-25T08:00:00Z", 0, 1795593600, false },
	{ "2026-11-25T08:00Z", 0, 1795593600, false },
	{ "2026-11-25T08:00:00.000Z", 0, 1795593600, false },
	{ "2026-11-25T08:00:00+01:00", 0, 1795590000, false },
	/* what EC2 writes for launchTime and attachTime */
	{ "2026-11-25T08:00:59.000Z", 0, 1795593659, false },
	{ "2026-11-25T08:00:00.123456789Z", 0, 1795593600, false },
	{ "2026-11-25T08:00:00-01:30", 0, 1795599000, false },
	{ "2026-11-25T08:00+00:00", 0, 1795593600, false },
	{ "2026-11-25t08:00:00z", 0, 1795593600, false },
	{ "2026-11-25 08:00:00Z", 0, 1795593600, false },
	{ "2026-11-25T08:00:60Z", 0, 1795593660, false },	/* leap second */
	{ "2026-12-31T23:59:59Z", 0, 1798761599, false },
	{ "2027-01-01T00:00:00Z", 0, 1798761600, false },
	{ "2028-02-29", 0, 1835395200, true },
	{ "2000-02-29T12:00:00Z", 0, 951825600, false },
	{ "1970-01-01T00:00:00Z", 0, 0, false },
	{ "1970-01-01", 0, 0, true },
	{ "1970-01-01T00:00:00+01:00", 0, -3600, false },
	{ "2038-01-19T03:14:08Z", 0, 2147483648LL, false },
	{ "9999-12-31T23:59:59Z", 0, 253402300799LL, false },

	/* refused */
	{ "", ERR_PARSE, 0, false },
	{ "2026", ERR_PARSE, 0, false },
	{ "2026-11", ERR_PARSE, 0, false },
	{ "2026-11-2", ERR_PARSE, 0, false },
	{ "2026-1-25", ERR_PARSE, 0, false },
	{ "26-11-25", ERR_PARSE, 0, false },
	{ "2026/11/25", ERR_PARSE, 0, false },
	{ "20261125", ERR_PARSE, 0, false },
	{ "2026-11-25T", ERR_PARSE, 0, false },
	{ "2026-11-25T08", ERR_PARSE, 0, false },
	{ "2026-11-25T08:0", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00", ERR_PARSE, 0, false },	/* no zone */
	{ "2026-11-25T08:00:00", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:0Z", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00.Z", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00ZZ", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00Z ", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00+0100", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00+01", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00+24:00", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00+01:60", ERR_PARSE, 0, false },
	{ "2026-11-25T08:00:00+01:00x", ERR_PARSE, 0, false },
	{ "2026-11-25T24:00:00Z", ERR_PARSE, 0, false },
	{ "2026-11-25T23:60:00Z", ERR_PARSE, 0, false },
	{ "2026-11-25T23:59:61Z", ERR_PARSE, 0, false },
	{ "2026-11-25X08:00:00Z", ERR_PARSE, 0, false },
	{ "2026-11-25Z", ERR_PARSE, 0, false },
	{ "2026-11-25 ", ERR_PARSE, 0, false },
	{ "2026-00-10", ERR_PARSE, 0, false },
	{ "2026-13-10", ERR_PARSE, 0, false },
	{ "2026-11-00", ERR_PARSE, 0, false },
	{ "2026-11-31", ERR_PARSE, 0, false },
	{ "2026-02-29", ERR_PARSE, 0, false },
	{ "2026-02-30", ERR_PARSE, 0, false },
	{ "2100-02-29", ERR_PARSE, 0, false },
	{ "1969-12-31T23:59:59Z", ERR_PARSE, 0, false },
	{ "+026-11-25", ERR_PARSE, 0, false },
	{ "2026-+1-25", ERR_PARSE, 0, false },
	{ "2026-11-25T-8:00:00Z", ERR_PARSE, 0, false },
	{ "2026-11-25T08:-1:00Z", ERR_PARSE, 0, false },
	{ " 2026-11-25", ERR_PARSE, 0, false },
};

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	int64_t epoch = 12345;
	bool date_only = !c->date_only;
	int err = time_parse_iso8601(c->in, &epoch, &date_only);

	assert_int_equal(err, c->err);
	if (err) {
		assert_int_equal(epoch, 12345);	/* untouched */
		return;
	}
	assert_int_equal(epoch, c->epoch);
	assert_int_equal(date_only, c->date_only);
	/* date_only may be NULL */
	epoch = 12345;
	assert_int_equal(time_parse_iso8601(c->in, &epoch, NULL), 0);
	assert_int_equal(epoch, c->epoch);
}

/* ---- format ---- */

struct format_case {
	const char *expect;	/* also the name */
	int64_t epoch;
};

static struct format_case format_cases[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "2026-11-25T08:00:00Z", 1795593600 },
	{ "2026-11-25T08:00:59Z", 1795593659 },
	{ "2026-12-31T23:59:59Z", 1798761599 },
	{ "2027-01-01T00:00:00Z", 1798761600 },
	{ "2028-02-29T00:00:00Z", 1835395200 },
	{ "2038-01-19T03:14:08Z", 2147483648LL },
	{ "9999-12-31T23:59:59Z", 253402300799LL },
	{ "1969-12-31T23:00:00Z", -3600 },
};

static void test_format(void **state)
{
	const struct format_case *c = *state;
	struct buf out = BUF_INIT;
	int64_t back;

	buf_appends(&out, "at ");
	time_format_iso8601(c->epoch, &out);
	assert_memory_equal(buf_cstr(&out), "at ", 3);
	assert_string_equal(buf_cstr(&out) + 3, c->expect);
	if (c->epoch >= 0) {
		assert_int_equal(time_parse_iso8601(buf_cstr(&out) + 3, &back, NULL), 0);
		assert_int_equal(back, c->epoch);
	}
	buf_release(&out);
}

/* ---- days from civil ---- */

struct civil_case {
	const char *name;
	int64_t y;
	unsigned m, d;
	int64_t days;
};

static struct civil_case civil_cases[] = {
	{ "epoch", 1970, 1, 1, 0 },
	{ "day-before-epoch", 1969, 12, 31, -1 },
	{ "2000-02-29", 2000, 2, 29, 11016 },
	{ "2000-03-01", 2000, 3, 1, 11017 },
	{ "2026-11-25", 2026, 11, 25, 20782 },
	{ "2026-12-31", 2026, 12, 31, 20818 },
	{ "2027-01-01", 2027, 1, 1, 20819 },
	{ "2038-01-19", 2038, 1, 19, 24855 },
	{ "9999-12-31", 9999, 12, 31, 2932896 },
	{ "year-0-march", 0, 3, 1, -719468 },
	{ "1600-01-01", 1600, 1, 1, -135140 },
};

static void test_civil(void **state)
{
	const struct civil_case *c = *state;
	assert_int_equal(time_days_from_civil(c->y, c->m, c->d), c->days);
}

/* Every day of 1970..2100 parses, formats back, and follows the day before. */
static void test_every_day(void **state)
{
	int64_t prev = -86400;

	(void)state;
	for (int y = 1970; y <= 2100; y++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				char in[40];
				struct buf out = BUF_INIT;
				int64_t epoch;
				bool date_only;
				int err;

				snprintf(in, sizeof(in), "%04d-%02d-%02d", y, m, d);
				err = time_parse_iso8601(in, &epoch, &date_only);
				if (err)
					continue;	/* d is past the end of the month */
				assert_true(date_only);
				assert_int_equal(epoch, prev + 86400);
				prev = epoch;
				time_format_iso8601(epoch, &out);
				assert_memory_equal(out.ptr, in, 10);
				assert_string_equal(out.ptr + 10, "T00:00:00Z");
				buf_release(&out);
			}
		}
	}
	assert_int_equal(prev, time_days_from_civil(2100, 12, 31) * 86400);
}

/* hours/<row>: durations as results and messages show them */
struct hours_case {
	const char *name;
	int64_t seconds;
	double hours;
	const char *text;
};

static struct hours_case hours_cases[] = {
	{ "zero", 0, 0.0, "0 h" },
	{ "179s-rounds-down", 179, 0.0, "0 h" },
	{ "180s-rounds-up", 180, 0.1, "0.1 h" },
	{ "540s", 540, 0.2, "0.2 h" },
	{ "an-hour-less-a-second", 3599, 1.0, "1 h" },
	{ "exactly-24h", 86400, 24.0, "24 h" },
	{ "24h-plus-1s", 86401, 24.0, "24 h" },
	{ "48h-minus-1s", 48 * 3600 - 1, 48.0, "48 h" },
	{ "49.45h-rounds-up", 178020, 49.5, "49.5 h" },
	{ "just-under-49.45h", 178019, 49.4, "49.4 h" },
	{ "73.2h", 73 * 3600 + 720, 73.2, "73.2 h" },
	{ "73.25h-half-up", 73 * 3600 + 900, 73.3, "73.3 h" },
	{ "a-year", 8760 * 3600, 8760.0, "8760 h" },
	{ "minus-0.5h", -1800, -0.5, "-0.5 h" },
	{ "minus-1.5h", -5400, -1.5, "-1.5 h" },
};

static void test_hours(void **state)
{
	const struct hours_case *c = *state;
	struct buf text = BUF_INIT;

	/* exact: both sides are the same tenths divided by 10 */
	assert_true(time_hours(c->seconds) == c->hours);
	time_format_hours(c->seconds, &text);
	assert_string_equal(buf_cstr(&text), c->text);
	buf_release(&text);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		table_add("parse", parse_cases[i].in, test_parse, &parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(format_cases); i++)
		table_add("format", format_cases[i].expect, test_format, &format_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(civil_cases); i++)
		table_add("civil", civil_cases[i].name, test_civil, &civil_cases[i]);
	table_add("round-trip", "every-day-1970-2100", test_every_day, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(hours_cases); i++)
		table_add("hours", hours_cases[i].name, test_hours, &hours_cases[i]);

	failed = table_run("timeutil");
	return failed;
}
