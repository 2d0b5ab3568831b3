/*
 * buf.h - one growable byte buffer, used everywhere.
 *
 * A struct buf is always NUL-terminated (ptr is never NULL after the first
 * append; buf_cstr() gives "" for an empty one), so it can be handed to C
 * string functions. Out of memory aborts: a Lambda sandbox is disposable.
 *
 * A struct view is a borrowed, read-only slice: {ptr, len}, passed by value,
 * not necessarily NUL-terminated.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *ptr;
	size_t len;
	size_t cap;
};
#define BUF_INIT { 0 }

struct view {
	const char *ptr;
	size_t len;
};

/* Allocation helpers that abort on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

void buf_grow(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_appends(struct buf *b, const char *s);
void buf_appendc(struct buf *b, char c);
void buf_appendv(struct buf *b, struct view v);
void buf_appendf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vappendf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Appends the lower-case hex form of len bytes. */
void buf_append_hex(struct buf *b, const unsigned char *data, size_t len);
/* Empties the buffer but keeps its memory. */
void buf_reset(struct buf *b);
/* Frees; b equals BUF_INIT afterwards. */
void buf_release(struct buf *b);
/* Like buf_release() but overwrites the bytes first (for secrets). */
void buf_release_secret(struct buf *b);
/* Ownership of the string moves to the caller (never NULL); b is reset. */
char *buf_detach(struct buf *b);
/* b takes s (malloc'd, NUL-terminated; NULL: nothing) as its whole content,
   releasing what it held: buf_detach()'s inverse, without a copy. */
void buf_adopt(struct buf *b, char *s);
/* The contents as a C string; "" for an empty buffer. */
const char *buf_cstr(const struct buf *b);
struct view buf_view(const struct buf *b);

/* Views. */
struct view view_from(const char *s);	/* s may be NULL: empty view */
struct view view_make(const char *p, size_t len);
bool view_eq(struct view a, struct view b);
bool view_eqs(struct view a, const char *s);
bool view_starts_with(struct view v, const char *prefix);
bool view_case_eqs(struct view a, const char *s);
struct view view_trim(struct view v);
/* A NUL-terminated heap copy. */
char *view_dup(struct view v);

/* Value of a hex digit, or -1. */
int hex_digit(int c);

#endif
