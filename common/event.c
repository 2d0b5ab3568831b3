#include "event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "banned.h"

/*
 * The keys of an EventBridge event's envelope (the Lambda console's
 * "EventBridge (CloudWatch Events)" test template holds exactly these).
 */
static const char *const envelope_keys[] = {
	"version", "id", "detail-type", "source", "account", "time", "region", "resources",
	"detail", NULL,
};

static bool is_envelope_key(const char *key)
{
	for (size_t i = 0; envelope_keys[i]; i++)
		if (!strcmp(key, envelope_keys[i]))
			return true;
	return false;
}

static const char *string_item(const cJSON *root, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool is_scheduled(const cJSON *root)
{
	const char *source = string_item(root, "source");
	const char *type = string_item(root, "detail-type");

	return source && type && (!strcmp(source, "aws.events") || !strcmp(source, "aws.scheduler")) &&
	       !strcmp(type, "Scheduled Event");
}

static const char *type_name(enum event_type t)
{
	return t == EVENT_BOOL ? "true or false" : t == EVENT_INT ? "a whole number" : "a string";
}

static void unknown_key(const char *key, bool scheduled, const struct event_field *fields,
			size_t n, struct buf *errmsg)
{
	buf_appendf(errmsg, "unknown key '%.100s' in the %sevent (known:", key,
		    scheduled ? "scheduled " : "");
	if (scheduled)
		buf_appends(errmsg, " the EventBridge envelope's keys,");
	for (size_t j = 0; j < n; j++)
		buf_appendf(errmsg, "%s %s", j ? "," : "", fields[j].name);
	buf_appendc(errmsg, ')');
}

/* Reads one override into *value; ERR_CONFIG naming the key when mistyped. */
static int read_value(const cJSON *item, const struct event_field *field,
		      struct event_value *value, struct buf *errmsg)
{
	if (value->present) {
		buf_appendf(errmsg, "key '%s' appears twice in the event", field->name);
		return ERR_CONFIG;
	}
	switch (field->type) {
	case EVENT_BOOL:
		if (!cJSON_IsBool(item))
			goto wrong_type;
		value->boolean = cJSON_IsTrue(item);
		break;
	case EVENT_INT:
		if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
		    fabs(item->valuedouble) > 1e15)
			goto wrong_type;
		value->integer = (long long)item->valuedouble;
		break;
	case EVENT_STRING:
		if (!cJSON_IsString(item))
			goto wrong_type;
		value->string = xstrdup(item->valuestring);
		break;
	}
	value->present = true;
	return 0;
wrong_type:
	buf_appendf(errmsg, "event key '%s' must be %s", field->name, type_name(field->type));
	return ERR_CONFIG;
}

static int find_kind(const cJSON *root, const struct event_kind *kinds, size_t nkinds)
{
	const char *source = string_item(root, "source");
	const char *type = string_item(root, "detail-type");

	for (size_t i = 0; source && type && i < nkinds; i++)
		if (!strcmp(source, kinds[i].source) && !strcmp(type, kinds[i].detail_type))
			return (int)i;
	return -1;
}

/* Reads the detail strings of an event of kind k; only envelope keys around them. */
static int read_kind(const cJSON *root, const struct event_kind *k, struct event_value *values,
		     struct buf *errmsg)
{
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");

	for (const cJSON *item = root->child; item; item = item->next) {
		if (!is_envelope_key(item->string)) {
			buf_appendf(errmsg, "unknown key '%.100s' in the '%s' event", item->string,
				    k->detail_type);
			return ERR_CONFIG;
		}
	}
	for (size_t i = 0; k->detail_keys && k->detail_keys[i]; i++) {
		const char *v = cJSON_IsObject(detail) ? string_item(detail, k->detail_keys[i]) : NULL;

		if (!v) {
			buf_appendf(errmsg, "the '%s' event has no detail.%s string", k->detail_type,
				    k->detail_keys[i]);
			return ERR_CONFIG;
		}
		values[i].string = xstrdup(v);
		values[i].present = true;
	}
	return 0;
}

int event_parse_kinds(struct view payload, const struct event_field *fields, size_t n,
		      struct event_value *values, const struct event_kind *kinds, size_t nkinds,
		      int *kind, struct event_value *detail_values, bool *scheduled,
		      struct buf *errmsg)
{
	struct view trimmed = view_trim(payload);
	const char *end = NULL;
	cJSON *root;
	int err = 0;

	*scheduled = false;
	*kind = -1;
	if (!trimmed.len) {
		/* an empty payload is as good as {} */
		return 0;
	}
	/* the whole payload: "{...} trailing" or "{...}{...}" is not an event */
	root = cJSON_ParseWithLengthOpts(trimmed.ptr, trimmed.len, &end, false);
	if (root && end != trimmed.ptr + trimmed.len) {
		cJSON_Delete(root);
		root = NULL;
	}
	if (!root) {
		buf_appends(errmsg, "the event is not valid JSON");
		return ERR_CONFIG;
	}
	if (!cJSON_IsObject(root)) {
		buf_appends(errmsg, "the event must be a JSON object");
		err = ERR_CONFIG;
		goto out;
	}
	if ((*kind = find_kind(root, kinds, nkinds)) >= 0) {
		err = read_kind(root, &kinds[*kind], detail_values, errmsg);
		goto out;
	}
	*scheduled = is_scheduled(root);
	if (!*scheduled && string_item(root, "source") && string_item(root, "detail-type")) {
		/* an EventBridge event, but not one this function handles */
		buf_appendf(errmsg, "this function handles scheduled events%s, not '%.100s' events "
			    "from '%.100s'",
			    nkinds ? " and the EventBridge events it names in --help" : "",
			    string_item(root, "detail-type"), string_item(root, "source"));
		err = ERR_CONFIG;
		goto out;
	}
	for (const cJSON *item = root->child; item; item = item->next) {
		size_t i;

		if (*scheduled && is_envelope_key(item->string))
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(item->string, fields[i].name))
				break;
		if (i == n) {
			unknown_key(item->string, *scheduled, fields, n, errmsg);
			err = ERR_CONFIG;
			goto out;
		}
		if ((err = read_value(item, &fields[i], &values[i], errmsg)))
			goto out;
	}
out:
	cJSON_Delete(root);
	return err;
}

int event_parse(struct view payload, const struct event_field *fields, size_t n,
		struct event_value *values, bool *scheduled, struct buf *errmsg)
{
	int kind;

	return event_parse_kinds(payload, fields, n, values, NULL, 0, &kind, NULL, scheduled,
				 errmsg);
}

void event_values_release(struct event_value *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(values[i].string);
		values[i].string = NULL;
		values[i].present = false;
	}
}

int event_bool_towards(const struct event_value *value, const char *key, bool configured,
		       bool safe, const char *setting, bool *out, struct buf *errmsg)
{
	*out = configured;
	if (!value->present)
		return 0;
	if (configured == safe && value->boolean != safe) {
		buf_appendf(errmsg,
			    "event key '%s' cannot be %s: %s=%s in the function's configuration is "
			    "final (an event can only make a run safer)",
			    key, value->boolean ? "true" : "false", setting, safe ? "true" : "false");
		return ERR_CONFIG;
	}
	*out = value->boolean;
	return 0;
}

int event_int_at_least(const struct event_value *value, const char *key, long configured,
		       long max, const char *setting, long *out, struct buf *errmsg)
{
	*out = configured;
	if (!value->present)
		return 0;
	if (value->integer < configured) {
		buf_appendf(errmsg,
			    "event key '%s' (%lld) cannot be below %s (%ld) in the function's "
			    "configuration: an event can only narrow what the configuration allows",
			    key, value->integer, setting, configured);
		return ERR_CONFIG;
	}
	if (value->integer > max) {
		buf_appendf(errmsg, "event key '%s' must be a whole number from %ld to %ld, got %lld",
			    key, configured, max, value->integer);
		return ERR_CONFIG;
	}
	*out = (long)value->integer;
	return 0;
}
