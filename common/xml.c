#include "xml.h"

#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define XML_MAX_DEPTH 64

struct xml_builder {
	struct xml_node *root;
	struct xml_node *current;
	int depth;
	int too_deep;
};

static const char *local_name(const char *name)
{
	const char *colon = strrchr(name, ':');
	return colon ? colon + 1 : name;
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_builder *b = data;
	struct xml_node *n;

	(void)attrs;
	if (++b->depth > XML_MAX_DEPTH) {
		b->too_deep = 1;
		return;
	}
	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(local_name(name));
	n->parent = b->current;
	if (b->current) {
		if (b->current->last_child)
			b->current->last_child->next = n;
		else
			b->current->first_child = n;
		b->current->last_child = n;
	} else {
		b->root = n;
	}
	b->current = n;
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct xml_builder *b = data;

	(void)name;
	if (b->depth-- > XML_MAX_DEPTH)
		return;
	if (b->current)
		b->current = b->current->parent;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct xml_builder *b = data;

	if (b->current && b->depth <= XML_MAX_DEPTH)
		buf_append(&b->current->text, s, (size_t)len);
}

int xml_parse(struct view doc, struct xml_node **root, struct buf *reason)
{
	struct xml_builder b = { 0 };
	XML_Parser p = XML_ParserCreate("UTF-8");
	int err = 0;

	*root = NULL;
	if (!p)
		abort();
	XML_SetUserData(p, &b);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	if (doc.len > (size_t)INT32_MAX ||
	    XML_Parse(p, doc.ptr, (int)doc.len, 1) == XML_STATUS_ERROR) {
		if (reason)
			buf_appendf(reason, "malformed XML at line %lu: %s",
				    (unsigned long)XML_GetCurrentLineNumber(p),
				    XML_ErrorString(XML_GetErrorCode(p)));
		err = ERR_PARSE;
	} else if (b.too_deep) {
		if (reason)
			buf_appends(reason, "XML nested too deeply");
		err = ERR_PARSE;
	} else if (!b.root) {
		if (reason)
			buf_appends(reason, "empty XML document");
		err = ERR_PARSE;
	}
	XML_ParserFree(p);
	if (err)
		xml_free(b.root);
	else
		*root = b.root;
	return err;
}

void xml_free(struct xml_node *node)
{
	while (node) {
		struct xml_node *next = node->next;
		xml_free(node->first_child);
		free(node->name);
		buf_release(&node->text);
		free(node);
		node = next;
	}
}

const struct xml_node *xml_child(const struct xml_node *node, const char *name)
{
	if (!node)
		return NULL;
	for (const struct xml_node *c = node->first_child; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const struct xml_node *xml_next_same(const struct xml_node *node)
{
	for (const struct xml_node *c = node->next; c; c = c->next)
		if (!strcmp(c->name, node->name))
			return c;
	return NULL;
}

const struct xml_node *xml_path(const struct xml_node *node, const char *path)
{
	while (node && *path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		const struct xml_node *found = NULL;

		for (const struct xml_node *c = node->first_child; c; c = c->next) {
			if (strlen(c->name) == len && !memcmp(c->name, path, len)) {
				found = c;
				break;
			}
		}
		node = found;
		path += len + (slash ? 1 : 0);
	}
	return node;
}

const char *xml_text(const struct xml_node *node, const char *path)
{
	const struct xml_node *n = xml_path(node, path);
	return n ? buf_cstr(&n->text) : NULL;
}
