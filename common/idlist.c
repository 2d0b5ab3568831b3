#include "idlist.h"

#include <limits.h>
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

void id_list_append_json(struct buf *out, const struct id_list *l)
{
	buf_appendc(out, '[');
	for (size_t i = 0; i < l->count; i++) {
		if (i)
			buf_appendc(out, ',');
		json_append_string(out, l->items[i]);
	}
	buf_appendc(out, ']');
}

cJSON *id_list_json(const struct id_list *l)
{
	struct buf text = BUF_INIT;

	id_list_append_json(&text, l);
	return json_raw(&text);
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

void id_note_list_append_json(struct buf *out, const struct id_note_list *l,
			      const char *id_key, const char *text_key)
{
	buf_appendc(out, '[');
	for (size_t i = 0; i < l->count; i++) {
		buf_appends(out, i ? ",{" : "{");
		json_append_member(out, id_key);
		json_append_string(out, l->items[i].id);
		buf_appendc(out, ',');
		json_append_member(out, text_key);
		json_append_string(out, l->items[i].text);
		buf_appendc(out, '}');
	}
	buf_appendc(out, ']');
}

cJSON *id_note_list_json(const struct id_note_list *l, const char *id_key, const char *text_key)
{
	struct buf text = BUF_INIT;

	id_note_list_append_json(&text, l, id_key, text_key);
	return json_raw(&text);
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

/*
 * cJSON prints a value into a caller's buffer (cJSON_PrintPreallocated), so a
 * stack item that borrows the string or number is enough: no node, no copy.
 */
static void append_item(struct buf *out, cJSON *item, size_t room)
{
	char *at;

	buf_grow(out, room);
	at = out->ptr + out->len;
	if (room > INT_MAX || !cJSON_PrintPreallocated(item, at, (int)room, false)) {
		buf_appends(out, "null");
		return;
	}
	out->len += strlen(at);
}

void json_append_string(struct buf *out, const char *s)
{
	cJSON item = { 0 };

	item.type = cJSON_String;
	item.valuestring = (char *)s;
	/* the worst case: every byte as \u00XX, the quotes, NUL and cJSON's slack */
	append_item(out, &item, 6 * strlen(s) + 8);
}

void json_append_number(struct buf *out, double v)
{
	cJSON item = { 0 };

	item.type = cJSON_Number;
	item.valuedouble = v;
	item.valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
	append_item(out, &item, 64);
}

void json_append_member(struct buf *out, const char *key)
{
	json_append_string(out, key);
	buf_appendc(out, ':');
}

cJSON *json_raw(struct buf *text)
{
	cJSON *raw = cJSON_CreateRaw(buf_cstr(text));

	buf_release(text);
	return raw;
}
