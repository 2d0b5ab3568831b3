/*
 * event.h - what a scheduled function accepts as its event.
 *
 *  - a CloudWatch Events / EventBridge scheduled event
 *    ({"source": "aws.events", "detail-type": "Scheduled Event", ...}):
 *    no overrides;
 *  - {} (the Lambda console's test event, or `--event -` with "{}");
 *  - a manual event: an object whose keys are the function's overrides, e.g.
 *    {"dry_run": true}. An unknown key, or a value of the wrong type, is an
 *    error that names it, so a typo never runs the real thing.
 */
#ifndef EVENT_H
#define EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

enum event_type { EVENT_BOOL, EVENT_STRING, EVENT_INT };

struct event_field {
	const char *name;
	enum event_type type;
};

struct event_value {
	bool present;
	bool boolean;
	long long integer;
	char *string;		/* owned */
};

/*
 * Parses payload against `fields`; values[i] describes fields[i] (the caller
 * provides n zeroed values and releases them with event_values_release()).
 * *scheduled tells whether it was a scheduled event.
 */
int event_parse(struct view payload, const struct event_field *fields, size_t n,
		struct event_value *values, bool *scheduled, struct buf *errmsg) WARN_UNUSED;
void event_values_release(struct event_value *values, size_t n);

#endif
