#include "idlist.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

void id_list_add(struct id_list *l, const char *id)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->count++] = xstrdup(id);
}

bool id_list_has(const struct id_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i], id))
			return true;
	return false;
}

void id_list_release(struct id_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

cJSON *id_list_json(const struct id_list *l)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < l->count; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(l->items[i]));
	return arr;
}

void id_note_list_add(struct id_note_list *l, const char *id, const char *text)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->count].id = xstrdup(id);
	l->items[l->count].text = xstrdup(text);
	l->count++;
}

const char *id_note_list_find(const struct id_note_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i].id, id))
			return l->items[i].text;
	return NULL;
}

void id_note_list_release(struct id_note_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].id);
		free(l->items[i].text);
	}
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

cJSON *id_note_list_json(const struct id_note_list *l, const char *id_key, const char *text_key)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < l->count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, id_key, l->items[i].id);
		cJSON_AddStringToObject(o, text_key, l->items[i].text);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void id_note_list_describe(const struct id_note_list *l, size_t max, struct buf *out)
{
	for (size_t i = 0; i < l->count; i++) {
		if (i == max) {
			buf_appendf(out, "; and %zu more", l->count - i);
			break;
		}
		buf_appendf(out, "%s%s (%s)", i ? "; " : "", l->items[i].id, l->items[i].text);
	}
}

char *json_print(const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	char *out = xstrdup(text ? text : "{}");

	cJSON_free(text);
	return out;
}
