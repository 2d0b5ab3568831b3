/*
 * xml.h - a small read-only XML tree, built with expat.
 *
 * AWS's Query and EC2 protocols answer in XML documents of a few KB to a few
 * MB. xml_parse() turns one into a tree of elements (namespace prefixes are
 * dropped, attributes ignored: AWS puts nothing in them), and the per-service
 * parsers walk that tree into small structs. Element text is the
 * concatenation of the element's own character data. Listings are parsed
 * as they stream in instead (struct xml_stream below): one item at a time.
 */
#ifndef XML_H
#define XML_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct xml_node {
	char *name;
	struct buf text;
	struct xml_node *parent;
	struct xml_node *first_child;
	struct xml_node *last_child;
	struct xml_node *next;	/* next sibling */
	bool in_arena;		/* a streamed item's: freed with its item, all at once */
};

/*
 * Parses doc into a tree owned by the caller (free with xml_free()).
 * Returns ERR_PARSE for a malformed or truncated document, with a
 * one-line reason in `reason` when it is not NULL. Documents nested deeper
 * than 64 levels are refused.
 */
int xml_parse(struct view doc, struct xml_node **root, struct buf *reason) WARN_UNUSED;
void xml_free(struct xml_node *root);

/* First child element called `name`, or NULL. */
const struct xml_node *xml_child(const struct xml_node *node, const char *name);
/* The next sibling after `node` with the same name, or NULL. */
const struct xml_node *xml_next_same(const struct xml_node *node);
/* Follows a '/'-separated path of child names: xml_path(root, "a/b/c"). */
const struct xml_node *xml_path(const struct xml_node *node, const char *path);
/* Text of the child at `path`, or NULL when there is no such element. */
const char *xml_text(const struct xml_node *node, const char *path);

/* Iterates over the children of `parent` named `name`. */
#define xml_for_each(var, parent, name) \
	for (const struct xml_node *var = xml_child((parent), (name)); var; \
	     var = xml_next_same(var))

/*
 * A streaming parser, for listings whose answers grow with the account:
 * the bytes are fed as they arrive (expat is a push parser), and each
 * element at one of `item_paths` (relative to the root, "a/b/item") is
 * handed to on_item() as a small tree as soon as it closes, then freed.
 * Everything else is kept in a skeleton of the document (nextToken,
 * RequestId, the containers of the items, empty), which
 * xml_stream_finish() returns. Elements at `drop_paths` are freed when
 * they close, with what they hold besides their items (reservationSet/item
 * in DescribeInstances: its items are the instances, its own fields are
 * not read). Memory then follows one item, not the size of the answer.
 *
 * Without item paths the skeleton is the whole document (xml_parse()).
 * max_kept_bytes bounds what is held at once (the skeleton and the item
 * being read): beyond it the document is refused with ERR_TOO_LARGE.
 * A non-zero return from on_item() stops the parse with that error.
 */
struct xml_stream_options {
	const char *const *item_paths;	/* NULL-terminated; NULL: none */
	const char *const *drop_paths;	/* NULL-terminated; NULL: none */
	int (*on_item)(void *ctx, const struct xml_node *item);
	void *ctx;
	size_t max_kept_bytes;		/* 0: no limit */
};

struct xml_stream;
struct xml_stream *xml_stream_new(const struct xml_stream_options *opts);
void xml_stream_free(struct xml_stream *s);
/* Parses the next chunk; items that close in it are handed over. */
int xml_stream_feed(struct xml_stream *s, struct view chunk) WARN_UNUSED;
/*
 * Ends the document: ERR_PARSE when it is truncated, malformed or empty.
 * On success *skeleton (owned by the stream) is the document without its
 * items.
 */
int xml_stream_finish(struct xml_stream *s, const struct xml_node **skeleton) WARN_UNUSED;
/* Why feed or finish failed, one line ("" when they did not). */
const char *xml_stream_reason(const struct xml_stream *s);
/* Items handed to on_item() so far. */
size_t xml_stream_items(const struct xml_stream *s);

#endif
