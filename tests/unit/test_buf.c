/*
 * test_buf.c - struct buf and struct view (common/buf.h).
 *
 *   make build/asan/tests/test_buf && build/asan/tests/test_buf
 *
 * Table rows run as one cmocka test each, named after the row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "buf.h"

#include "banned.h"


/* ---- buf_appendf ---- */

struct appendf_case {
	const char *name;
	const char *prefix;	/* already in the buffer */
	int width;		/* %*d */
	const char *expect;
};

static struct appendf_case appendf_cases[] = {
	{ "empty-buffer", "", 1, "x=1" },
	{ "after-text", "abc ", 3, "abc x=  1" },
	/* longer than the 64 bytes buf_vappendf first reserves: the second pass */
	{ "wider-than-first-guess", "", 100,
	  "x=                                                                                                   1" },
	{ "crosses-capacity", "0123456789012345678901234567890123456789012345678901234567890", 4,
	  "0123456789012345678901234567890123456789012345678901234567890x=   1" },
};

static void test_appendf(void **state)
{
	const struct appendf_case *c = *state;
	struct buf b = BUF_INIT;

	buf_appends(&b, c->prefix);
	buf_appendf(&b, "x=%*d", c->width, 1);
	assert_string_equal(b.ptr, c->expect);
	assert_int_equal(b.len, strlen(c->expect));
	assert_true(b.cap > b.len);
	assert_int_equal(b.ptr[b.len], '\0');
	buf_release(&b);
}

static void test_appendf_large(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];

	(void)state;
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_appendf(&b, "<%s>", big);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(b.ptr[0], '<');
	assert_int_equal(b.ptr[b.len - 1], '>');
	assert_int_equal(b.ptr[b.len], '\0');
	assert_int_equal(strlen(b.ptr), b.len);
	buf_release(&b);
}

/* ---- append family, reset, detach, release ---- */

static void test_empty_buffer(void **state)
{
	struct buf b = BUF_INIT;
	struct view v;
	char *s;

	(void)state;
	assert_null(b.ptr);
	assert_string_equal(buf_cstr(&b), "");
	v = buf_view(&b);
	assert_int_equal(v.len, 0);
	assert_non_null(v.ptr);
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_release(&b);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_append_family(void **state)
{
	struct buf b = BUF_INIT;
	static const char bin[] = { 'a', '\0', 'b' };

	(void)state;
	buf_appends(&b, "one");
	buf_appendc(&b, ' ');
	buf_appendv(&b, view_make("two-and-more", 3));
	buf_append(&b, NULL, 0);
	buf_appendv(&b, view_from(NULL));
	assert_string_equal(buf_cstr(&b), "one two");
	assert_int_equal(b.len, 7);
	buf_append(&b, bin, sizeof(bin));
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.ptr + 7, bin, 3);
	assert_int_equal(b.ptr[10], '\0');
	buf_release(&b);
}

static void test_reset_keeps_memory(void **state)
{
	struct buf b = BUF_INIT;
	char *ptr;
	size_t cap;

	(void)state;
	buf_appends(&b, "some text");
	ptr = b.ptr;
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.ptr, ptr);
	assert_int_equal(b.cap, cap);
	assert_string_equal(buf_cstr(&b), "");
	buf_appends(&b, "x");
	assert_string_equal(b.ptr, "x");
	buf_release(&b);
	buf_reset(&b);	/* on an empty buffer: harmless */
	assert_null(b.ptr);
}

static void test_detach_moves_ownership(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	buf_appends(&b, "owned");
	s = buf_detach(&b);
	assert_string_equal(s, "owned");
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_appends(&b, "again");	/* usable afterwards */
	assert_string_equal(b.ptr, "again");
	assert_true(b.ptr != s);
	free(s);
	buf_release(&b);
}

static void test_release_secret(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_appends(&b, "wJalrXUtnFEMI/K7MDENG");
	buf_release_secret(&b);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_release_secret(&b);	/* twice is harmless */
	assert_null(b.ptr);
}

static void test_grow(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_grow(&b, 1000);
	assert_non_null(b.ptr);
	assert_true(b.cap >= 1001);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	for (int i = 0; i < 1000; i++)
		buf_appendc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 1000);
	assert_int_equal(strlen(b.ptr), 1000);
	assert_int_equal(b.ptr[999], 'a' + 999 % 26);
	buf_release(&b);
}

/* ---- hex ---- */

struct hex_case {
	const char *name;
	const char *bytes;
	size_t len;
	const char *expect;
};

static struct hex_case hex_cases[] = {
	{ "empty", "", 0, "" },
	{ "one-byte", "\x0f", 1, "0f" },
	{ "high-bit", "\xff\x80\x7f", 3, "ff807f" },
	{ "nul-inside", "a\0b", 3, "610062" },
	{ "sha-prefix", "\xe3\xb0\xc4\x42", 4, "e3b0c442" },
};

static void test_hex(void **state)
{
	const struct hex_case *c = *state;
	struct buf b = BUF_INIT;

	buf_appends(&b, ">");
	buf_append_hex(&b, (const unsigned char *)c->bytes, c->len);
	assert_int_equal(b.ptr[0], '>');
	assert_string_equal(b.ptr + 1, c->expect);
	assert_int_equal(b.len, 1 + 2 * c->len);
	buf_release(&b);
}

struct hex_digit_case {
	const char *name;
	int c;
	int expect;
};

static struct hex_digit_case hex_digit_cases[] = {
	{ "zero", '0', 0 },   { "nine", '9', 9 },  { "lower-a", 'a', 10 },
	{ "lower-f", 'f', 15 }, { "upper-a", 'A', 10 }, { "upper-f", 'F', 15 },
	{ "g", 'g', -1 },     { "G", 'G', -1 },    { "slash", '/', -1 },
	{ "colon", ':', -1 }, { "nul", '\0', -1 }, { "high", 0xe9, -1 },
	{ "minus-one", -1, -1 },
};

static void test_hex_digit(void **state)
{
	const struct hex_digit_case *c = *state;
	assert_int_equal(hex_digit(c->c), c->expect);
}

/* ---- views ---- */

enum view_op { EQS, CASE_EQS, STARTS_WITH };

struct view_case {
	const char *name;
	enum view_op op;
	const char *ptr;
	size_t len;
	const char *s;
	bool expect;
};

static struct view_case view_cases[] = {
	{ "eqs/equal", EQS, "abc", 3, "abc", true },
	{ "eqs/prefix-only", EQS, "abcdef", 3, "abc", true },
	{ "eqs/shorter", EQS, "ab", 2, "abc", false },
	{ "eqs/longer", EQS, "abcd", 4, "abc", false },
	{ "eqs/case-differs", EQS, "ABC", 3, "abc", false },
	{ "eqs/both-empty", EQS, "", 0, "", true },
	{ "eqs/nul-inside", EQS, "a\0c", 3, "a", false },
	{ "case-eqs/upper", CASE_EQS, "CONTENT-Type", 12, "content-type", true },
	{ "case-eqs/differs", CASE_EQS, "content-typo", 12, "content-type", false },
	{ "case-eqs/length", CASE_EQS, "host", 4, "hosts", false },
	{ "case-eqs/slice", CASE_EQS, "HOSTNAME", 4, "host", true },
	{ "starts/yes", STARTS_WITH, "tag:Name", 8, "tag:", true },
	{ "starts/equal", STARTS_WITH, "tag:", 4, "tag:", true },
	{ "starts/too-short", STARTS_WITH, "tag", 3, "tag:", false },
	{ "starts/slice-too-short", STARTS_WITH, "tag:Name", 3, "tag:", false },
	{ "starts/empty-prefix", STARTS_WITH, "x", 1, "", true },
	{ "starts/case-sensitive", STARTS_WITH, "TAG:x", 5, "tag:", false },
};

static void test_view(void **state)
{
	const struct view_case *c = *state;
	struct view v = view_make(c->ptr, c->len);
	bool got = false;

	switch (c->op) {
	case EQS:
		got = view_eqs(v, c->s);
		break;
	case CASE_EQS:
		got = view_case_eqs(v, c->s);
		break;
	case STARTS_WITH:
		got = view_starts_with(v, c->s);
		break;
	}
	assert_int_equal(got, c->expect);
}

struct trim_case {
	const char *name;
	const char *in;
	const char *expect;
};

static struct trim_case trim_cases[] = {
	{ "none", "abc", "abc" },
	{ "spaces", "  abc  ", "abc" },
	{ "all-kinds", "\t\r\n abc \n\r\t", "abc" },
	{ "inner-kept", " a b ", "a b" },
	{ "only-space", " \t\r\n", "" },
	{ "empty", "", "" },
	{ "other-chars-kept", "\vabc\f", "\vabc\f" },
};

static void test_trim(void **state)
{
	const struct trim_case *c = *state;
	struct view v = view_trim(view_from(c->in));
	char *s = view_dup(v);

	assert_string_equal(s, c->expect);
	assert_int_equal(v.len, strlen(c->expect));
	if (v.len)
		assert_ptr_equal(v.ptr, strstr(c->in, c->expect));
	free(s);
}

static void test_view_helpers(void **state)
{
	struct buf b = BUF_INIT;
	struct view v;
	char *dup;

	(void)state;
	v = view_from(NULL);
	assert_int_equal(v.len, 0);
	assert_non_null(v.ptr);
	v = view_from("hello");
	assert_int_equal(v.len, 5);
	assert_true(view_eq(v, view_make("hello world", 5)));
	assert_false(view_eq(v, view_make("hellO", 5)));
	assert_true(view_eq(view_make(NULL, 0), view_from("")));

	dup = view_dup(view_make("abcdef", 3));	/* not NUL-terminated at 3 */
	assert_string_equal(dup, "abc");
	free(dup);

	buf_appends(&b, "in a buffer");
	v = buf_view(&b);
	assert_ptr_equal(v.ptr, b.ptr);
	assert_int_equal(v.len, 11);
	buf_release(&b);
}

static void test_xalloc(void **state)
{
	char *p;

	(void)state;
	p = xmalloc(0);	/* never NULL, even for 0 */
	assert_non_null(p);
	free(p);
	p = xcalloc(0, 0);
	assert_non_null(p);
	free(p);
	p = xcalloc(4, 8);
	for (int i = 0; i < 32; i++)
		assert_int_equal(p[i], 0);
	p = xrealloc(p, 64);
	assert_int_equal(p[31], 0);
	free(p);
	p = xstrndup("abcdef", 2);
	assert_string_equal(p, "ab");
	free(p);
	p = xstrdup("");
	assert_string_equal(p, "");
	free(p);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(appendf_cases); i++)
		table_add("appendf", appendf_cases[i].name, test_appendf, &appendf_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(hex_cases); i++)
		table_add("hex", hex_cases[i].name, test_hex, &hex_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(hex_digit_cases); i++)
		table_add("hex_digit", hex_digit_cases[i].name, test_hex_digit,
			 &hex_digit_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(view_cases); i++)
		table_add("view", view_cases[i].name, test_view, &view_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(trim_cases); i++)
		table_add("trim", trim_cases[i].name, test_trim, &trim_cases[i]);
	table_add("appendf", "large", test_appendf_large, NULL);
	table_add("buf", "empty", test_empty_buffer, NULL);
	table_add("buf", "append-family", test_append_family, NULL);
	table_add("buf", "reset-keeps-memory", test_reset_keeps_memory, NULL);
	table_add("buf", "detach-moves-ownership", test_detach_moves_ownership, NULL);
	table_add("buf", "release-secret", test_release_secret, NULL);
	table_add("buf", "grow", test_grow, NULL);
	table_add("view", "helpers", test_view_helpers, NULL);
	table_add("x", "alloc", test_xalloc, NULL);

	failed = table_run("buf");
	return failed;
}
