/*
 * test_idlist.c - id lists and their JSON (common/idlist.h): the hand-fed
 * JSON text must be exactly what cJSON itself prints, and parse back.
 *
 *   make build/asan/tests/test_idlist && build/asan/tests/test_idlist
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "idlist.h"

#include "banned.h"

/* cJSON's own rendering of a value, as the reference */
static char *cjson_text(cJSON *item)
{
	char *text = cJSON_PrintUnformatted(item);

	cJSON_Delete(item);
	assert_non_null(text);
	return text;
}

/* ---- json_append_string ---- */

struct string_case {
	const char *name;
	const char *s;
};

static struct string_case string_cases[] = {
	{ "empty", "" },
	{ "id", "i-0123456789abcdef0" },
	{ "quotes-and-backslash", "say \"hi\" \\ bye" },
	{ "control-characters", "a\nb\tc\rd\be\ff\x01g\x1fh" },
	{ "utf-8", "d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93 \xf0\x9f\x9a\x80" },
	{ "slash", "a/b</script>" },
	{ "every-byte-escaped", "\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15"
			       "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f" },
};

static void test_string(void **state)
{
	const struct string_case *c = *state;
	struct buf out = BUF_INIT;
	char *want = cjson_text(cJSON_CreateString(c->s));
	cJSON *back;

	buf_appends(&out, "x");	/* appends after what is there */
	json_append_string(&out, c->s);
	assert_string_equal(buf_cstr(&out) + 1, want);
	assert_int_equal(out.len, strlen(out.ptr));
	back = cJSON_Parse(buf_cstr(&out) + 1);
	assert_true(cJSON_IsString(back));
	assert_string_equal(back->valuestring, c->s);
	cJSON_Delete(back);
	cJSON_free(want);
	buf_release(&out);
}

/* a long string of the worst kind: six bytes out per byte in */
static void test_string_long_worst_case(void **state)
{
	size_t n = 70000;
	char *s = malloc(n + 1);
	struct buf out = BUF_INIT;
	char *want;

	(void)state;
	assert_non_null(s);
	memset(s, '\x01', n);
	s[n] = '\0';
	want = cjson_text(cJSON_CreateString(s));
	json_append_string(&out, s);
	assert_int_equal(out.len, 6 * n + 2);
	assert_string_equal(buf_cstr(&out), want);
	cJSON_free(want);
	buf_release(&out);
	free(s);
}

/* ---- json_append_number ---- */

struct number_case {
	const char *name;
	double v;
};

static struct number_case number_cases[] = {
	{ "zero", 0 },
	{ "hours", 7.5 },
	{ "tenth", 0.1 },
	{ "negative", -42 },
	{ "large-integer", 123456789012.0 },
	{ "beyond-int", 3e9 },
	{ "tiny", 1e-300 },
	{ "huge", 1.7e308 },
	{ "nan", NAN },
	{ "infinity", INFINITY },
};

static void test_number(void **state)
{
	const struct number_case *c = *state;
	struct buf out = BUF_INIT;
	char *want = cjson_text(cJSON_CreateNumber(c->v));

	json_append_number(&out, c->v);
	assert_string_equal(buf_cstr(&out), want);
	cJSON_free(want);
	buf_release(&out);
}

/* ---- the lists as raw nodes ---- */

static char *print_in_object(cJSON *list)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddItemToObject(root, "list", list);
	return cjson_text(root);
}

static void test_id_list_json(void **state)
{
	struct id_list l = ID_LIST_INIT;
	char *text;

	(void)state;
	text = print_in_object(id_list_json(&l));
	assert_string_equal(text, "{\"list\":[]}");
	cJSON_free(text);
	id_list_add(&l, "i-1");
	id_list_add(&l, "a \"quoted\" one");
	id_list_add(&l, "i-3");
	text = print_in_object(id_list_json(&l));
	assert_string_equal(text, "{\"list\":[\"i-1\",\"a \\\"quoted\\\" one\",\"i-3\"]}");
	cJSON_free(text);
	id_list_release(&l);
}

static void test_id_note_list_json(void **state)
{
	struct id_note_list l = ID_NOTE_LIST_INIT;
	char *text;

	(void)state;
	text = print_in_object(id_note_list_json(&l, "id", "error"));
	assert_string_equal(text, "{\"list\":[]}");
	cJSON_free(text);
	id_note_list_add(&l, "i-1", "IncorrectInstanceState: it is \"stopping\"");
	id_note_list_add(&l, "i-2", "line\nbreak");
	text = print_in_object(id_note_list_json(&l, "id", "error"));
	assert_string_equal(text, "{\"list\":[{\"id\":\"i-1\",\"error\":\"IncorrectInstanceState: "
			    "it is \\\"stopping\\\"\"},{\"id\":\"i-2\",\"error\":\"line\\nbreak\"}]}");
	cJSON_free(text);
	id_note_list_release(&l);
}

/* 10,000 ids are one node holding text, and read back as 10,000 strings */
static void test_large_list_is_one_node(void **state)
{
	struct id_list l = ID_LIST_INIT;
	cJSON *node, *back;
	char id[32];
	int i = 0;

	(void)state;
	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "i-%017x", i);
		id_list_add(&l, id);
	}
	node = id_list_json(&l);
	assert_true(cJSON_IsRaw(node));
	assert_null(node->child);
	back = cJSON_Parse(node->valuestring);
	assert_int_equal(cJSON_GetArraySize(back), 10000);
	i = 0;
	for (cJSON *it = back->child; it; it = it->next, i++) {
		snprintf(id, sizeof(id), "i-%017x", i);
		assert_string_equal(it->valuestring, id);
	}
	cJSON_Delete(back);
	cJSON_Delete(node);
	id_list_release(&l);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(string_cases); i++)
		table_add("string", string_cases[i].name, test_string, &string_cases[i]);
	table_add("string", "long-worst-case", test_string_long_worst_case, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(number_cases); i++)
		table_add("number", number_cases[i].name, test_number, &number_cases[i]);
	table_add("list", "id-list", test_id_list_json, NULL);
	table_add("list", "id-note-list", test_id_note_list_json, NULL);
	table_add("list", "large-list-is-one-node", test_large_list_is_one_node, NULL);
	return table_run("idlist");
}
