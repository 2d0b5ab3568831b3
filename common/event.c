#include "event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "banned.h"

static bool is_scheduled(const cJSON *root)
{
	const cJSON *source = cJSON_GetObjectItemCaseSensitive(root, "source");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "detail-type");

	return cJSON_IsString(source) && cJSON_IsString(type) &&
	       (!strcmp(source->valuestring, "aws.events") ||
		!strcmp(source->valuestring, "aws.scheduler")) &&
	       !strcmp(type->valuestring, "Scheduled Event");
}

static const char *type_name(enum event_type t)
{
	return t == EVENT_BOOL ? "true or false" : t == EVENT_INT ? "a whole number" : "a string";
}

int event_parse(struct view payload, const struct event_field *fields, size_t n,
		struct event_value *values, bool *scheduled, struct buf *errmsg)
{
	struct view trimmed = view_trim(payload);
	const char *end = NULL;
	cJSON *root;
	int err = 0;

	*scheduled = false;
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
	if (is_scheduled(root)) {
		*scheduled = true;
		goto out;
	}
	for (const cJSON *item = root->child; item; item = item->next) {
		size_t i;

		for (i = 0; i < n; i++)
			if (!strcmp(item->string, fields[i].name))
				break;
		if (i == n) {
			buf_appendf(errmsg, "unknown key '%.100s' in the event (known:", item->string);
			for (size_t j = 0; j < n; j++)
				buf_appendf(errmsg, "%s %s", j ? "," : "", fields[j].name);
			buf_appendc(errmsg, ')');
			err = ERR_CONFIG;
			goto out;
		}
		if (values[i].present) {
			buf_appendf(errmsg, "key '%s' appears twice in the event", fields[i].name);
			err = ERR_CONFIG;
			goto out;
		}
		switch (fields[i].type) {
		case EVENT_BOOL:
			if (!cJSON_IsBool(item))
				goto wrong_type;
			values[i].boolean = cJSON_IsTrue(item);
			break;
		case EVENT_INT:
			if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
			    fabs(item->valuedouble) > 1e15)
				goto wrong_type;
			values[i].integer = (long long)item->valuedouble;
			break;
		case EVENT_STRING:
			if (!cJSON_IsString(item))
				goto wrong_type;
			values[i].string = xstrdup(item->valuestring);
			break;
		}
		values[i].present = true;
		continue;
wrong_type:
		buf_appendf(errmsg, "event key '%s' must be %s", fields[i].name,
			    type_name(fields[i].type));
		err = ERR_CONFIG;
		goto out;
	}
out:
	cJSON_Delete(root);
	return err;
}

void event_values_release(struct event_value *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(values[i].string);
		values[i].string = NULL;
		values[i].present = false;
	}
}
