#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

static void die_oom(size_t size)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom(n * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need < b->len)
		die_oom(SIZE_MAX);
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->ptr = xrealloc(b->ptr, cap);
	b->cap = cap;
	b->ptr[b->len] = '\0';
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void buf_appends(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_appendc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_appendv(struct buf *b, struct view v)
{
	buf_append(b, v.ptr, v.len);
}

void buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->ptr[b->len] = '\0';
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vappendf(b, fmt, ap);
	va_end(ap);
}

void buf_append_hex(struct buf *b, const unsigned char *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	buf_grow(b, len * 2);
	for (size_t i = 0; i < len; i++) {
		b->ptr[b->len++] = digits[data[i] >> 4];
		b->ptr[b->len++] = digits[data[i] & 15];
	}
	b->ptr[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

void buf_release_secret(struct buf *b)
{
	if (b->ptr) {
		volatile char *p = b->ptr;
		for (size_t i = 0; i < b->cap; i++)
			p[i] = 0;
	}
	buf_release(b);
}

char *buf_detach(struct buf *b)
{
	/* a short string kept for long (a plan's reasons, 10,000 of them) would
	   otherwise hold its 64-byte first capacity: give the slack back */
	char *p = !b->ptr ? xstrdup("") : b->cap > b->len + 1 ? xrealloc(b->ptr, b->len + 1) : b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_adopt(struct buf *b, char *s)
{
	buf_release(b);
	if (!s)
		return;
	b->ptr = s;
	b->len = strlen(s);
	b->cap = b->len + 1;
}

const char *buf_cstr(const struct buf *b)
{
	return b->ptr ? b->ptr : "";
}

struct view buf_view(const struct buf *b)
{
	return view_make(buf_cstr(b), b->len);
}

struct view view_from(const char *s)
{
	return view_make(s ? s : "", s ? strlen(s) : 0);
}

struct view view_make(const char *p, size_t len)
{
	struct view v = { p, len };
	return v;
}

bool view_eq(struct view a, struct view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool view_eqs(struct view a, const char *s)
{
	return view_eq(a, view_from(s));
}

bool view_case_eqs(struct view a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && strncasecmp(a.ptr, s, n) == 0;
}

bool view_starts_with(struct view v, const char *prefix)
{
	size_t n = strlen(prefix);
	return v.len >= n && memcmp(v.ptr, prefix, n) == 0;
}

struct view view_trim(struct view v)
{
	while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t' || v.ptr[0] == '\r' ||
			 v.ptr[0] == '\n')) {
		v.ptr++;
		v.len--;
	}
	while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t' ||
			 v.ptr[v.len - 1] == '\r' || v.ptr[v.len - 1] == '\n'))
		v.len--;
	return v;
}

char *view_dup(struct view v)
{
	return xstrndup(v.ptr, v.len);
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
