/*
 * xml.h - a small read-only XML tree, built with expat.
 *
 * AWS's Query and EC2 protocols answer in XML documents of a few KB to a few
 * MB. xml_parse() turns one into a tree of elements (namespace prefixes are
 * dropped, attributes ignored: AWS puts nothing in them), and the per-service
 * parsers walk that tree into small structs. Element text is the
 * concatenation of the element's own character data.
 */
#ifndef XML_H
#define XML_H

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

#endif
