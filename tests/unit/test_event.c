/*
 * test_event.c - what a scheduled function accepts as its event (common/event.h).
 *
 *   make build/asan/tests/test_event && build/asan/tests/test_event
 *
 * Every row parses one payload against the same field table (a function
 * with a bool, a whole number and a string override) and states the result:
 * the error, whether it was a scheduled event, each field's value, and a
 * substring of the error message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "event.h"

#include "banned.h"


static const struct event_field fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "max_age_hours", EVENT_INT },
	{ "only", EVENT_STRING },
};
#define NFIELDS ARRAY_SIZE(fields)

/* Expected value of a field: absent, or present with a value. */
struct want {
	bool present;
	long long integer;	/* bool: 0/1 */
	const char *string;
};

struct event_case {
	const char *name;
	const char *payload;
	int err;
	bool scheduled;
	struct want dry_run, max_age_hours, only;
	const char *errmsg;	/* substring; "" when no error */
};

#define ABSENT { false, 0, NULL }
#define B(v) { true, (v), NULL }
#define I(v) { true, (v), NULL }
#define S(v) { true, 0, (v) }

static const char scheduled_event[] =
	"{\"version\": \"0\", \"id\": \"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa\","
	" \"detail-type\": \"Scheduled Event\", \"source\": \"aws.events\","
	" \"account\": \"123456789012\", \"time\": \"2026-11-27T18:00:00Z\","
	" \"region\": \"eu-west-1\","
	" \"resources\": [\"arn:aws:events:eu-west-1:123456789012:rule/devcloud-stopper\"],"
	" \"detail\": {}}";

/* the Lambda console's "EventBridge (CloudWatch Events)" template, plus a key */
static const char console_dry_run[] =
	"{\n  \"id\": \"cdc73f9d-aea9-11e3-9d5a-835b769c0d9c\",\n"
	"  \"detail-type\": \"Scheduled Event\",\n  \"source\": \"aws.events\",\n"
	"  \"account\": \"123456789012\",\n  \"time\": \"1970-01-01T00:00:00Z\",\n"
	"  \"region\": \"us-east-1\",\n"
	"  \"resources\": [\n    \"arn:aws:events:us-east-1:123456789012:rule/ExampleRule\"\n  ],\n"
	"  \"detail\": {},\n  \"dry_run\": true\n}";

static const char scheduler_event[] =
	"{\"detail-type\": \"Scheduled Event\", \"source\": \"aws.scheduler\", \"detail\": {}}";

static struct event_case event_cases[] = {
	/* scheduled events: the envelope's keys, and the function's overrides */
	{ "eventbridge-scheduled", scheduled_event, 0, true, ABSENT, ABSENT, ABSENT, "" },
	{ "scheduler-scheduled", scheduler_event, 0, true, ABSENT, ABSENT, ABSENT, "" },
	/* the console's EventBridge template with "dry_run": true added is a dry run */
	{ "scheduled-honours-overrides", console_dry_run, 0, true, B(1), ABSENT, ABSENT, "" },
	{ "scheduled-all-overrides",
	  "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"dry_run\":false,"
	  "\"max_age_hours\":7,\"only\":\"x\"}",
	  0, true, B(0), I(7), S("x"), "" },
	{ "scheduled-unknown-key",
	  "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"dryrun\":true}",
	  ERR_CONFIG, true, ABSENT, ABSENT, ABSENT,
	  "unknown key 'dryrun' in the scheduled event (known: the EventBridge envelope's keys, "
	  "dry_run, max_age_hours, only)" },
	{ "scheduled-mistyped-override",
	  "{\"source\":\"aws.scheduler\",\"detail-type\":\"Scheduled Event\",\"dry_run\":\"yes\"}",
	  ERR_CONFIG, true, ABSENT, ABSENT, ABSENT, "event key 'dry_run' must be true or false" },
	{ "scheduled-duplicate-override",
	  "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"dry_run\":true,"
	  "\"dry_run\":false}",
	  ERR_CONFIG, true, ABSENT, ABSENT, ABSENT, "key 'dry_run' appears twice" },
	/* other EventBridge events are not for a scheduled function */
	{ "other-source", "{\"source\":\"aws.ec2\",\"detail-type\":\"Scheduled Event\"}",
	  ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "this function handles scheduled events, not 'Scheduled Event' events from 'aws.ec2'" },
	{ "other-detail-type",
	  "{\"source\":\"aws.events\",\"detail-type\":\"EC2 Instance State-change Notification\"}",
	  ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "not 'EC2 Instance State-change Notification' events" },
	/* not an envelope at all: then source is just an unknown key */
	{ "source-not-string", "{\"source\":1,\"detail-type\":\"Scheduled Event\"}", ERR_CONFIG,
	  false, ABSENT, ABSENT, ABSENT, "unknown key 'source' in the event" },
	{ "envelope-keys-alone", "{\"id\":\"x\",\"detail\":{}}", ERR_CONFIG, false, ABSENT, ABSENT,
	  ABSENT, "unknown key 'id' in the event" },

	/* empty events */
	{ "empty-object", "{}", 0, false, ABSENT, ABSENT, ABSENT, "" },
	{ "empty-object-spaced", " \n{ }\n", 0, false, ABSENT, ABSENT, ABSENT, "" },
	{ "empty-payload", "", 0, false, ABSENT, ABSENT, ABSENT, "" },
	{ "whitespace-payload", " \r\n\t", 0, false, ABSENT, ABSENT, ABSENT, "" },

	/* manual overrides */
	{ "dry-run-true", "{\"dry_run\": true}", 0, false, B(1), ABSENT, ABSENT, "" },
	{ "dry-run-false", "{\"dry_run\": false}", 0, false, B(0), ABSENT, ABSENT, "" },
	{ "int", "{\"max_age_hours\": 12}", 0, false, ABSENT, I(12), ABSENT, "" },
	{ "int-zero", "{\"max_age_hours\": 0}", 0, false, ABSENT, I(0), ABSENT, "" },
	{ "int-negative", "{\"max_age_hours\": -3}", 0, false, ABSENT, I(-3), ABSENT, "" },
	{ "int-exponent", "{\"max_age_hours\": 1e3}", 0, false, ABSENT, I(1000), ABSENT, "" },
	{ "int-point-zero", "{\"max_age_hours\": 5.0}", 0, false, ABSENT, I(5), ABSENT, "" },
	{ "int-largest", "{\"max_age_hours\": 1000000000000000}", 0, false, ABSENT,
	  I(1000000000000000LL), ABSENT, "" },
	{ "string", "{\"only\": \"i-0123456789abcdef0\"}", 0, false, ABSENT, ABSENT,
	  S("i-0123456789abcdef0"), "" },
	{ "string-empty", "{\"only\": \"\"}", 0, false, ABSENT, ABSENT, S(""), "" },
	{ "string-escapes", "{\"only\": \"a\\\"b\\u00e9\"}", 0, false, ABSENT, ABSENT,
	  S("a\"b\xc3\xa9"), "" },
	{ "all-three", "{\"only\":\"x\",\"dry_run\":true,\"max_age_hours\":48}", 0, false, B(1),
	  I(48), S("x"), "" },

	/* mistakes are named */
	{ "unknown-key", "{\"dryrun\": true}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "unknown key 'dryrun' in the event (known: dry_run, max_age_hours, only)" },
	{ "unknown-after-known", "{\"dry_run\": true, \"Only\": \"x\"}", ERR_CONFIG, false, B(1),
	  ABSENT, ABSENT, "unknown key 'Only'" },
	{ "key-case-matters", "{\"DRY_RUN\": true}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "unknown key 'DRY_RUN'" },
	{ "duplicate-key", "{\"dry_run\": false, \"dry_run\": true}", ERR_CONFIG, false, B(0),
	  ABSENT, ABSENT, "key 'dry_run' appears twice in the event" },
	{ "bool-as-string", "{\"dry_run\": \"true\"}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'dry_run' must be true or false" },
	{ "bool-as-number", "{\"dry_run\": 1}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'dry_run' must be true or false" },
	{ "bool-null", "{\"dry_run\": null}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'dry_run' must be true or false" },
	{ "int-fraction", "{\"max_age_hours\": 1.5}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'max_age_hours' must be a whole number" },
	{ "int-as-string", "{\"max_age_hours\": \"12\"}", ERR_CONFIG, false, ABSENT, ABSENT,
	  ABSENT, "event key 'max_age_hours' must be a whole number" },
	{ "int-too-large", "{\"max_age_hours\": 1e300}", ERR_CONFIG, false, ABSENT, ABSENT,
	  ABSENT, "event key 'max_age_hours' must be a whole number" },
	{ "int-bool", "{\"max_age_hours\": true}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "must be a whole number" },
	{ "string-as-number", "{\"only\": 5}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'only' must be a string" },
	{ "string-as-array", "{\"only\": [\"i-1\"]}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "event key 'only' must be a string" },

	/* not an object, or not JSON */
	{ "array", "[]", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "the event must be a JSON object" },
	{ "string-payload", "\"dry_run\"", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "the event must be a JSON object" },
	{ "null", "null", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "the event must be a JSON object" },
	{ "truncated", "{\"dry_run\": tr", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "the event is not valid JSON" },
	{ "single-quotes", "{'dry_run': true}", ERR_CONFIG, false, ABSENT, ABSENT, ABSENT,
	  "the event is not valid JSON" },
	{ "trailing-garbage", "{\"dry_run\": false} x", ERR_CONFIG, false, ABSENT, ABSENT,
	  ABSENT, "the event is not valid JSON" },
	{ "two-objects", "{\"dry_run\": false}{\"dry_run\": true}", ERR_CONFIG, false, ABSENT,
	  ABSENT, ABSENT, "the event is not valid JSON" },
};

static void check_value(const char *name, const struct want *w, const struct event_value *v,
			enum event_type type)
{
	if (v->present != w->present)
		fail_msg("%s: present=%d, want %d", name, v->present, w->present);
	if (!w->present) {
		assert_null(v->string);
		return;
	}
	switch (type) {
	case EVENT_BOOL:
		assert_int_equal(v->boolean, w->integer != 0);
		break;
	case EVENT_INT:
		assert_int_equal(v->integer, w->integer);
		break;
	case EVENT_STRING:
		assert_non_null(v->string);
		assert_string_equal(v->string, w->string);
		break;
	}
}

static void test_event(void **state)
{
	const struct event_case *c = *state;
	struct event_value values[NFIELDS];
	struct buf errmsg = BUF_INIT;
	bool scheduled = !c->scheduled;	/* must be overwritten */
	int err;

	memset(values, 0, sizeof(values));
	err = event_parse(view_from(c->payload), fields, NFIELDS, values, &scheduled, &errmsg);
	if (err != c->err)
		fail_msg("err %d, want %d (%s)", err, c->err, buf_cstr(&errmsg));
	assert_int_equal(scheduled, c->scheduled);
	if (!c->errmsg[0])
		assert_string_equal(buf_cstr(&errmsg), "");
	else if (!strstr(buf_cstr(&errmsg), c->errmsg))
		fail_msg("message '%s' lacks '%s'", buf_cstr(&errmsg), c->errmsg);
	/* values parsed before an error may be set; check only on success */
	if (!err) {
		check_value("dry_run", &c->dry_run, &values[0], EVENT_BOOL);
		check_value("max_age_hours", &c->max_age_hours, &values[1], EVENT_INT);
		check_value("only", &c->only, &values[2], EVENT_STRING);
	}
	event_values_release(values, NFIELDS);
	for (size_t i = 0; i < NFIELDS; i++) {
		assert_false(values[i].present);
		assert_null(values[i].string);
	}
	buf_release(&errmsg);
}

/* The payload is a view: bytes after its end are not part of it. */
static void test_payload_is_a_view(void **state)
{
	static const char text[] = "{\"dry_run\": true}{\"unknown\": 1}";
	struct event_value values[NFIELDS];
	struct buf errmsg = BUF_INIT;
	bool scheduled;

	(void)state;
	memset(values, 0, sizeof(values));
	assert_int_equal(event_parse(view_make(text, 17), fields, NFIELDS, values, &scheduled,
				     &errmsg),
			 0);
	assert_true(values[0].present);
	assert_true(values[0].boolean);
	assert_false(scheduled);
	event_values_release(values, NFIELDS);
	buf_release(&errmsg);
}

/* A function without overrides refuses every key, and says so. */
static void test_no_fields(void **state)
{
	struct buf errmsg = BUF_INIT;
	bool scheduled;

	(void)state;
	assert_int_equal(event_parse(view_from("{}"), NULL, 0, NULL, &scheduled, &errmsg), 0);
	assert_int_equal(event_parse(view_from("{\"dry_run\":true}"), NULL, 0, NULL, &scheduled,
				     &errmsg),
			 ERR_CONFIG);
	assert_string_equal(buf_cstr(&errmsg), "unknown key 'dry_run' in the event (known:)");
	buf_release(&errmsg);
}

/* Switches an event may only turn towards safe, limits it may only raise. */
struct narrow_case {
	const char *name;
	const char *payload;		/* parsed against `fields` */
	bool configured_dry_run;
	long configured_max_age;
	int err;
	bool dry_run;			/* the run's values when err is 0 */
	long max_age;
	const char *errmsg;
};

static struct narrow_case narrow_cases[] = {
	{ "nothing-set", "{}", false, 48, 0, false, 48, "" },
	{ "configured-dry-run-stays", "{}", true, 48, 0, true, 48, "" },
	{ "event-turns-dry-run-on", "{\"dry_run\": true}", false, 48, 0, true, 48, "" },
	{ "event-may-say-dry-run-off-when-off", "{\"dry_run\": false}", false, 48, 0, false, 48,
	  "" },
	{ "dry-run-is-final", "{\"dry_run\": false}", true, 48, ERR_CONFIG, false, 0,
	  "event key 'dry_run' cannot be false: DRY_RUN=true in the function's configuration is "
	  "final" },
	{ "dry-run-true-twice", "{\"dry_run\": true}", true, 48, 0, true, 48, "" },
	{ "limit-raised", "{\"max_age_hours\": 72}", false, 48, 0, false, 72, "" },
	{ "limit-same", "{\"max_age_hours\": 48}", false, 48, 0, false, 48, "" },
	{ "limit-lowered", "{\"max_age_hours\": 47}", false, 48, ERR_CONFIG, false, 0,
	  "event key 'max_age_hours' (47) cannot be below MAX_AGE_HOURS (48) in the function's "
	  "configuration" },
	{ "limit-zero", "{\"max_age_hours\": 0}", false, 1, ERR_CONFIG, false, 0,
	  "cannot be below MAX_AGE_HOURS (1)" },
	{ "limit-negative", "{\"max_age_hours\": -5}", false, 48, ERR_CONFIG, false, 0,
	  "(-5) cannot be below" },
	{ "limit-above-max", "{\"max_age_hours\": 9000}", false, 48, ERR_CONFIG, false, 0,
	  "event key 'max_age_hours' must be a whole number from 48 to 8760, got 9000" },
	{ "limit-max", "{\"max_age_hours\": 8760}", false, 48, 0, false, 8760, "" },
	/* inside a scheduled event too */
	{ "scheduled-dry-run-final",
	  "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"dry_run\":false}",
	  true, 48, ERR_CONFIG, false, 0, "DRY_RUN=true" },
};

static void test_narrow(void **state)
{
	const struct narrow_case *c = *state;
	struct event_value values[NFIELDS];
	struct buf errmsg = BUF_INIT;
	bool scheduled, dry_run = !c->dry_run;
	long max_age = -1;
	int err;

	memset(values, 0, sizeof(values));
	assert_int_equal(event_parse(view_from(c->payload), fields, NFIELDS, values, &scheduled,
				     &errmsg),
			 0);
	err = event_bool_towards(&values[0], "dry_run", c->configured_dry_run, true, "DRY_RUN",
				 &dry_run, &errmsg);
	if (!err)
		err = event_int_at_least(&values[1], "max_age_hours", c->configured_max_age, 8760,
					 "MAX_AGE_HOURS", &max_age, &errmsg);
	if (err != c->err)
		fail_msg("err %d, want %d (%s)", err, c->err, buf_cstr(&errmsg));
	if (!err) {
		assert_int_equal(dry_run, c->dry_run);
		assert_int_equal(max_age, c->max_age);
		assert_string_equal(buf_cstr(&errmsg), "");
	} else if (!strstr(buf_cstr(&errmsg), c->errmsg)) {
		fail_msg("message '%s' lacks '%s'", buf_cstr(&errmsg), c->errmsg);
	}
	event_values_release(values, NFIELDS);
	buf_release(&errmsg);
}

/* Events of other kinds a function names (the scaler's Spot warnings). */
static const char *const id_key[] = { "instance-id", NULL };
static const struct event_kind kinds[] = {
	{ "aws.ec2", "EC2 Spot Instance Interruption Warning", id_key },
	{ "aws.ec2", "EC2 Instance Rebalance Recommendation", id_key },
};

struct kind_case {
	const char *name;
	const char *payload;
	int err;
	int kind;
	const char *instance_id;	/* detail.instance-id, or NULL */
	bool dry_run;			/* the override, for scheduled/manual ones */
	const char *errmsg;
};

static const struct kind_case kind_cases[] = {
	{ "spot-warning",
	  "{\"version\":\"0\",\"id\":\"x\",\"detail-type\":\"EC2 Spot Instance Interruption "
	  "Warning\",\"source\":\"aws.ec2\",\"account\":\"1\",\"time\":\"t\",\"region\":\"r\","
	  "\"resources\":[],\"detail\":{\"instance-id\":\"i-0123456789abcdef0\","
	  "\"instance-action\":\"terminate\"}}",
	  0, 0, "i-0123456789abcdef0", false, "" },
	{ "rebalance",
	  "{\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\","
	  "\"detail\":{\"instance-id\":\"i-0a\"}}",
	  0, 1, "i-0a", false, "" },
	{ "no-instance-id",
	  "{\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\","
	  "\"detail\":{}}",
	  ERR_CONFIG, 1, NULL, false,
	  "the 'EC2 Instance Rebalance Recommendation' event has no detail.instance-id string" },
	{ "instance-id-not-a-string",
	  "{\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\","
	  "\"detail\":{\"instance-id\":5}}",
	  ERR_CONFIG, 1, NULL, false, "no detail.instance-id string" },
	{ "no-detail",
	  "{\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\"}",
	  ERR_CONFIG, 1, NULL, false, "no detail.instance-id string" },
	/* an override in a kind's event is refused: only a scheduled event carries them */
	{ "override-in-a-spot-warning",
	  "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":\"aws.ec2\","
	  "\"detail\":{\"instance-id\":\"i-0a\"},\"dry_run\":true}",
	  ERR_CONFIG, 0, NULL, false,
	  "unknown key 'dry_run' in the 'EC2 Spot Instance Interruption Warning' event" },
	{ "another-kind",
	  "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\"}",
	  ERR_CONFIG, -1, NULL, false,
	  "handles scheduled events and the EventBridge events it names in --help, not 'EC2 "
	  "Instance State-change Notification' events from 'aws.ec2'" },
	{ "spot-from-another-source",
	  "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":\"my.app\"}",
	  ERR_CONFIG, -1, NULL, false, "not 'EC2 Spot Instance Interruption Warning' events" },
	/* scheduled and manual events work as before */
	{ "scheduled", "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\","
		       "\"dry_run\":true}",
	  0, -1, NULL, true, "" },
	{ "manual", "{\"dry_run\":true}", 0, -1, NULL, true, "" },
};

static void test_kind(void **state)
{
	const struct kind_case *c = *state;
	struct event_value values[NFIELDS], detail[1];
	struct buf errmsg = BUF_INIT;
	bool scheduled;
	int kind = 99, err;

	memset(values, 0, sizeof(values));
	memset(detail, 0, sizeof(detail));
	err = event_parse_kinds(view_from(c->payload), fields, NFIELDS, values, kinds,
				ARRAY_SIZE(kinds), &kind, detail, &scheduled, &errmsg);
	if (err != c->err)
		fail_msg("err %d, want %d (%s)", err, c->err, buf_cstr(&errmsg));
	assert_int_equal(kind, c->kind);
	if (!c->errmsg[0])
		assert_string_equal(buf_cstr(&errmsg), "");
	else if (!strstr(buf_cstr(&errmsg), c->errmsg))
		fail_msg("message '%s' lacks '%s'", buf_cstr(&errmsg), c->errmsg);
	if (!err && c->instance_id) {
		assert_true(detail[0].present);
		assert_string_equal(detail[0].string, c->instance_id);
		assert_false(values[0].present);
	} else if (!err) {
		assert_false(detail[0].present);
		assert_int_equal(values[0].present && values[0].boolean, c->dry_run);
	}
	event_values_release(values, NFIELDS);
	event_values_release(detail, 1);
	assert_null(detail[0].string);
	buf_release(&errmsg);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(event_cases); i++)
		table_add("event", event_cases[i].name, test_event, &event_cases[i]);
	table_add("event", "payload-is-a-view", test_payload_is_a_view, NULL);
	table_add("event", "no-fields", test_no_fields, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(kind_cases); i++)
		table_add("event-kind", kind_cases[i].name, test_kind, (void *)&kind_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(narrow_cases); i++)
		table_add("event", narrow_cases[i].name, test_narrow, &narrow_cases[i]);

	failed = table_run("event");
	return failed;
}
