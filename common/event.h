/*
 * event.h - what a scheduled function accepts as its event.
 *
 *  - a CloudWatch Events / EventBridge scheduled event
 *    ({"source": "aws.events" or "aws.scheduler", "detail-type": "Scheduled
 *    Event", ...}): the envelope's keys (version, id, detail-type, source,
 *    account, time, region, resources, detail), plus any of the function's
 *    overrides, which are honoured (the Lambda console's EventBridge test
 *    template with "dry_run": true added is a dry run);
 *  - {} (the Lambda console's test event, or `--event -` with "{}");
 *  - a manual event: an object whose keys are the function's overrides, e.g.
 *    {"dry_run": true}.
 * An unknown key, or a value of the wrong type, is an error that names it, so
 * a typo never runs the real thing; so is an EventBridge event of another
 * kind (source and detail-type, but not a scheduled event).
 *
 * Anyone allowed to invoke the function can send an event, so an event may
 * only narrow what the configuration allows, never widen it:
 * event_bool_towards() and event_int_at_least() below enforce that for
 * switches and limits; filters from an event are added to the configured
 * ones (both must match).
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

/*
 * An EventBridge event a function handles besides scheduled ones, e.g.
 * {"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption
 * Warning", "detail": {"instance-id": "i-...", ...}}: the string keys
 * `detail_keys` (NULL-terminated) are read from its "detail" object, whose
 * other keys are ignored (AWS adds to them).
 */
struct event_kind {
	const char *source;
	const char *detail_type;
	const char *const *detail_keys;
};

/*
 * event_parse() that also accepts the events `kinds`: *kind is the index of
 * the one the payload is (only the envelope's keys are accepted in it, no
 * overrides), or -1. detail_values (one per detail key of the largest kind,
 * zeroed, released with event_values_release()) then hold the detail's
 * strings; a detail key that is absent or not a string is ERR_CONFIG.
 */
int event_parse_kinds(struct view payload, const struct event_field *fields, size_t n,
		      struct event_value *values, const struct event_kind *kinds, size_t nkinds,
		      int *kind, struct event_value *detail_values, bool *scheduled,
		      struct buf *errmsg) WARN_UNUSED;
void event_values_release(struct event_value *values, size_t n);

/*
 * A switch an event may only turn towards `safe` (dry_run towards true):
 * *out is the event's value, else `configured`. When the configuration
 * already says `safe`, that is final: an event asking otherwise is
 * ERR_CONFIG, with a message naming `key` and `setting` (DRY_RUN).
 */
int event_bool_towards(const struct event_value *value, const char *key, bool configured,
		       bool safe, const char *setting, bool *out, struct buf *errmsg) WARN_UNUSED;

/*
 * A limit an event may raise but never lower (a lifetime, a keep count):
 * *out is the event's value, else `configured`. Below `configured`, or above
 * `max`, is ERR_CONFIG with a message naming `key` and `setting`.
 */
int event_int_at_least(const struct event_value *value, const char *key, long configured,
		       long max, const char *setting, long *out, struct buf *errmsg) WARN_UNUSED;

#endif
