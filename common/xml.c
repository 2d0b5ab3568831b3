#include "xml.h"

#include <expat.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define XML_MAX_DEPTH 64

/* What one node costs, roughly, for max_kept_bytes. */
#define NODE_COST(n) (sizeof(struct xml_node) + strlen((n)->name) + 1 + (n)->text.cap)

/*
 * Where a streamed item's nodes, names and texts live: bump allocation in
 * chunks, all given back at once when the item has been handed over. An
 * instance of DescribeInstances is some 60 elements: 60 x 3 malloc/free
 * pairs per instance were a third of a 10,000-instance listing's work.
 */
#define ARENA_CHUNK 16384

/* Under ASan, the unused part of a chunk is poisoned: an overrun is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define arena_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define arena_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define arena_poison(p, n) ((void)(p), (void)(n))
#define arena_unpoison(p, n) ((void)(p), (void)(n))
#endif

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *chunks;	/* the newest first; the last is kept on reset */
	size_t allocated;		/* bytes handed out since the reset */
};

static void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->chunks;
	size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (!c || c->size - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		c = xmalloc(sizeof(*c) + cap);
		c->size = cap;
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
		arena_poison(c->data, cap);
	}
	c->used += size;
	a->allocated += size;
	arena_unpoison((char *)c->data + c->used - size, size);
	return (char *)c->data + c->used - size;
}

/* Gives everything back; keeps one chunk for the next item. */
static void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->chunks;

	while (c && c->next) {
		struct arena_chunk *next = c->next;
		arena_unpoison(c->data, c->size);
		free(c);
		c = next;
	}
	if (c) {
		c->used = 0;
		arena_poison(c->data, c->size);
	}
	a->chunks = c;
	a->allocated = 0;
}

static void arena_release(struct arena *a)
{
	arena_reset(a);
	if (a->chunks)
		arena_unpoison(a->chunks->data, a->chunks->size);
	free(a->chunks);
	a->chunks = NULL;
}

struct xml_stream {
	XML_Parser parser;
	struct arena arena;		/* the item being read */
	struct xml_stream_options opts;
	struct xml_node *root;
	struct xml_node *current;
	int depth;
	int item_depth;		/* depth of the item being read; 0: none */
	int err;		/* the first error, 0 while all is well */
	size_t kept;		/* bytes held, about */
	size_t items;
	struct buf path;	/* below the root: "reservationSet/item" */
	size_t path_len[XML_MAX_DEPTH + 2];	/* path.len before each depth's name */
	unsigned char detached[XML_MAX_DEPTH + 2];	/* 1: item, 2: dropped on close */
	struct buf reason;
};

static const char *local_name(const char *name)
{
	const char *colon = strrchr(name, ':');
	return colon ? colon + 1 : name;
}

static bool path_in(const struct buf *path, const char *const *paths)
{
	for (size_t i = 0; paths && paths[i]; i++)
		if (!strcmp(buf_cstr(path), paths[i]))
			return true;
	return false;
}

static size_t node_free(struct xml_node *node)
{
	size_t freed = 0;

	/* an item's nodes go with its arena */
	while (node && !node->in_arena) {
		struct xml_node *next = node->next;
		freed += node_free(node->first_child);
		freed += NODE_COST(node);
		free(node->name);
		buf_release(&node->text);
		free(node);
		node = next;
	}
	return freed;
}

static void stream_fail(struct xml_stream *s, int err, const char *why)
{
	if (!s->err) {
		s->err = err;
		buf_appends(&s->reason, why);
	}
	XML_StopParser(s->parser, XML_FALSE);
}

static bool over_limit(struct xml_stream *s)
{
	if (s->opts.max_kept_bytes && s->kept > s->opts.max_kept_bytes) {
		stream_fail(s, ERR_TOO_LARGE, "XML element too large to hold");
		return true;
	}
	return false;
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_stream *s = data;
	struct xml_node *n;
	int d;

	(void)attrs;
	if (s->err)
		return;
	d = ++s->depth;
	if (d > XML_MAX_DEPTH) {
		stream_fail(s, ERR_PARSE, "XML nested too deeply");
		return;
	}
	name = local_name(name);
	s->detached[d] = 0;
	s->path_len[d] = s->path.len;
	if (d > 1 && !s->item_depth) {
		if (s->path.len)
			buf_appendc(&s->path, '/');
		buf_appends(&s->path, name);
		if (path_in(&s->path, s->opts.item_paths)) {
			s->item_depth = d;
			s->detached[d] = 1;
		} else if (path_in(&s->path, s->opts.drop_paths)) {
			s->detached[d] = 2;
		}
	}
	if (s->item_depth) {
		size_t len = strlen(name) + 1, before = s->arena.allocated;

		n = arena_alloc(&s->arena, sizeof(*n));
		memset(n, 0, sizeof(*n));
		n->name = memcpy(arena_alloc(&s->arena, len), name, len);
		n->in_arena = true;
		s->kept += s->arena.allocated - before;
	} else {
		n = xcalloc(1, sizeof(*n));
		n->name = xstrdup(name);
		s->kept += NODE_COST(n);
	}
	n->parent = s->current;
	if (!s->current) {
		s->root = n;
	} else if (!s->detached[d]) {
		if (s->current->last_child)
			s->current->last_child->next = n;
		else
			s->current->first_child = n;
		s->current->last_child = n;
	}
	s->current = n;
	over_limit(s);
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct xml_stream *s = data;
	struct xml_node *n = s->current;
	int d = s->depth--;

	(void)name;
	if (s->err || !n)
		return;
	s->current = n->parent;
	if (d == s->item_depth) {
		int err;

		s->item_depth = 0;
		s->items++;
		err = s->opts.on_item ? s->opts.on_item(s->opts.ctx, n) : 0;
		s->kept -= s->arena.allocated;	/* all of it was counted in */
		arena_reset(&s->arena);
		if (err)
			stream_fail(s, err, "an item of the XML document was refused");
	} else if (d > 1 && s->detached[d]) {
		n->next = NULL;
		s->kept -= node_free(n);
	}
	if (d > 1 && !s->item_depth) {
		s->path.len = s->path_len[d];
		s->path.ptr[s->path.len] = '\0';
	}
}

static void XMLCALL on_text(void *data, const XML_Char *text, int len)
{
	struct xml_stream *s = data;
	struct xml_node *n = s->current;
	size_t before;

	if (s->err || !n)
		return;
	if (n->in_arena) {
		before = s->arena.allocated;
		if (n->text.len + (size_t)len + 1 > n->text.cap) {
			/* grows within the arena: the old copy goes with the item */
			size_t need = n->text.len + (size_t)len + 1;
			size_t cap = 2 * n->text.cap > need ? 2 * n->text.cap : need;
			char *p = arena_alloc(&s->arena, cap);

			if (n->text.len)
				memcpy(p, n->text.ptr, n->text.len);
			n->text.ptr = p;
			n->text.cap = cap;
		}
		memcpy(n->text.ptr + n->text.len, text, (size_t)len);
		n->text.len += (size_t)len;
		n->text.ptr[n->text.len] = '\0';
		s->kept += s->arena.allocated - before;
	} else {
		before = n->text.cap;
		buf_append(&n->text, text, (size_t)len);
		s->kept += n->text.cap - before;
	}
	over_limit(s);
}

struct xml_stream *xml_stream_new(const struct xml_stream_options *opts)
{
	struct xml_stream *s = xcalloc(1, sizeof(*s));

	s->opts = *opts;
	s->parser = XML_ParserCreate("UTF-8");
	if (!s->parser)
		abort();
	XML_SetUserData(s->parser, s);
	XML_SetElementHandler(s->parser, on_start, on_end);
	XML_SetCharacterDataHandler(s->parser, on_text);
	return s;
}

void xml_stream_free(struct xml_stream *s)
{
	if (!s)
		return;
	XML_ParserFree(s->parser);
	/* a node cut off by an error may be detached from the skeleton */
	while (s->current && s->current != s->root) {
		struct xml_node *n = s->current, *parent = n->parent;
		bool linked = false;

		for (struct xml_node *c = parent ? parent->first_child : NULL; c; c = c->next)
			linked |= c == n;
		if (!linked) {
			n->next = NULL;
			node_free(n);
		}
		s->current = parent;
	}
	node_free(s->root);
	arena_release(&s->arena);
	buf_release(&s->path);
	buf_release(&s->reason);
	free(s);
}

static int parse_error(struct xml_stream *s)
{
	if (!s->err) {
		s->err = ERR_PARSE;
		buf_appendf(&s->reason, "malformed XML at line %lu: %s",
			    (unsigned long)XML_GetCurrentLineNumber(s->parser),
			    XML_ErrorString(XML_GetErrorCode(s->parser)));
	}
	return s->err;
}

int xml_stream_feed(struct xml_stream *s, struct view chunk)
{
	if (s->err)
		return s->err;
	while (chunk.len) {
		int n = chunk.len > (size_t)INT32_MAX ? INT32_MAX : (int)chunk.len;

		if (XML_Parse(s->parser, chunk.ptr, n, 0) == XML_STATUS_ERROR)
			return parse_error(s);
		chunk.ptr += n;
		chunk.len -= (size_t)n;
	}
	return 0;
}

int xml_stream_finish(struct xml_stream *s, const struct xml_node **skeleton)
{
	*skeleton = NULL;
	if (s->err)
		return s->err;
	if (XML_Parse(s->parser, "", 0, 1) == XML_STATUS_ERROR)
		return parse_error(s);
	if (!s->root) {
		s->err = ERR_PARSE;
		buf_appends(&s->reason, "empty XML document");
		return s->err;
	}
	*skeleton = s->root;
	return 0;
}

const char *xml_stream_reason(const struct xml_stream *s)
{
	return buf_cstr(&s->reason);
}

size_t xml_stream_items(const struct xml_stream *s)
{
	return s->items;
}

int xml_parse(struct view doc, struct xml_node **root, struct buf *reason)
{
	struct xml_stream_options opts = { 0 };
	struct xml_stream *s = xml_stream_new(&opts);
	const struct xml_node *skeleton = NULL;
	int err;

	*root = NULL;
	err = xml_stream_feed(s, doc);
	if (!err)
		err = xml_stream_finish(s, &skeleton);
	if (err) {
		if (reason)
			buf_appends(reason, xml_stream_reason(s));
	} else {
		*root = s->root;
		s->root = NULL;
		s->current = NULL;
	}
	xml_stream_free(s);
	return err;
}

void xml_free(struct xml_node *node)
{
	node_free(node);
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
