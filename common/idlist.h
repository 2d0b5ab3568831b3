/*
 * idlist.h - lists of ids (instances, images, snapshots) and of ids with a
 * note (why one was skipped, why one failed), as the functions' results
 * hold them and as their JSON results show them.
 */
#ifndef IDLIST_H
#define IDLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cJSON.h"

struct id_list {
	char **items;
	size_t count;
	size_t cap;
};
#define ID_LIST_INIT { NULL, 0, 0 }

/* Appends a copy of id. */
void id_list_add(struct id_list *l, const char *id);
bool id_list_has(const struct id_list *l, const char *id);
void id_list_release(struct id_list *l);
/* ["a","b"], as one raw cJSON node (owned by the caller): a list of
   10,000 ids costs its text, not 10,000 nodes */
cJSON *id_list_json(const struct id_list *l);
/* The same text, appended to out. */
void id_list_append_json(struct buf *out, const struct id_list *l);

struct id_note {
	char *id;
	char *text;
};

struct id_note_list {
	struct id_note *items;
	size_t count;
	size_t cap;
};
#define ID_NOTE_LIST_INIT { NULL, 0, 0 }

/* Appends copies of id and text. */
void id_note_list_add(struct id_note_list *l, const char *id, const char *text);
/* The note of id, or NULL. */
const char *id_note_list_find(const struct id_note_list *l, const char *id);
void id_note_list_release(struct id_note_list *l);
/* [{"<id_key>":id,"<text_key>":text},...], as one raw node (owned by the caller) */
cJSON *id_note_list_json(const struct id_note_list *l, const char *id_key, const char *text_key);
/* The same text, appended to out. */
void id_note_list_append_json(struct buf *out, const struct id_note_list *l,
			      const char *id_key, const char *text_key);
/* "a (why); b (why); and 3 more" with at most `max` entries spelled out. */
void id_note_list_describe(const struct id_note_list *l, size_t max, struct buf *out);

/*
 * Large results are written as text with these rather than built as cJSON
 * trees: a node costs about 100 bytes, an id in the text about 22.
 * Append a JSON string (quoted, escaped) or number, as cJSON prints them. */
void json_append_string(struct buf *out, const char *s);
void json_append_number(struct buf *out, double v);
/* "key": (a member's name and its colon) */
void json_append_member(struct buf *out, const char *key);
/* A raw cJSON node holding text's JSON; text is released. */
cJSON *json_raw(struct buf *text);

/* Prints a cJSON document unformatted into a malloc'd string ("{}" if cJSON fails). */
char *json_print(const cJSON *doc);

#endif
