/*
 * timeutil.h - UTC timestamps as AWS and people write them.
 */
#ifndef TIMEUTIL_H
#define TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * Parses an ISO 8601 / RFC 3339 UTC time into Unix seconds:
 *   2026-11-25                    (date only: *date_only is set, time 00:00:00)
 *   2026-11-25T08:00:00Z          2026-11-25T08:00Z
 *   2026-11-25T08:00:00.000Z      2026-11-25T08:00:00+01:00
 * Fields are range-checked (no 2026-02-30). Returns ERR_PARSE otherwise.
 * date_only may be NULL.
 */
int time_parse_iso8601(const char *s, int64_t *epoch_s, bool *date_only) WARN_UNUSED;

/* Appends "2026-11-25T08:00:00Z". */
void time_format_iso8601(int64_t epoch_s, struct buf *out);

/*
 * Durations in hours as results and messages show them, to 0.1 h with
 * halves rounded away from zero (49.45 h is 49.5 h, 179 s is 0 h).
 */
int64_t time_tenths_of_hour(int64_t seconds);
/* The same as a number for JSON results: 178020 s -> 49.5 */
double time_hours(int64_t seconds);
/* Appends "30 h" or "30.5 h" (no ".0"). */
void time_format_hours(int64_t seconds, struct buf *out);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
