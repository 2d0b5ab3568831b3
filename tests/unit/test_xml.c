/*
 * test_xml.c - the expat tree (common/xml.h).
 *
 *   make build/asan/tests/test_xml && build/asan/tests/test_xml
 *
 * parse/<row>: a document, whether it parses, and what xml_text() finds at
 * a few paths (or a word the refusal reason must contain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "xml.h"

#include "banned.h"


/* ---- parse ---- */

#define MAX_CHECKS 4

struct path_check {
	const char *path;	/* NULL ends the list */
	const char *text;	/* NULL: no such element */
};

struct parse_case {
	const char *name;
	const char *doc;
	int err;
	const char *reason;		/* when it does not parse: a substring */
	const char *root_name;		/* when it does */
	struct path_check checks[MAX_CHECKS];
};

static struct parse_case parse_cases[] = {
	{ "simple", "<a><b>1</b><c>two</c></a>", 0, NULL, "a",
	  { { "b", "1" }, { "c", "two" }, { "d", NULL } } },
	{ "xml-declaration", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b>x</b></a>", 0, NULL, "a",
	  { { "b", "x" } } },
	{ "default-namespace",
	  "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
	  "<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId></DescribeInstancesResponse>",
	  0, NULL, "DescribeInstancesResponse",
	  { { "requestId", "59dbff89-35bd-4eac-99ed-be587EXAMPLE" } } },
	{ "prefixes-dropped", "<s:Envelope xmlns:s=\"urn:x\"><s:Body><q:v xmlns:q=\"urn:y\">7</q:v>"
	  "</s:Body></s:Envelope>", 0, NULL, "Envelope",
	  { { "Body/v", "7" }, { "s:Body", NULL } } },
	{ "nested-path", "<a><b><c><d>deep</d></c></b></a>", 0, NULL, "a",
	  { { "b/c/d", "deep" }, { "b/c", "" }, { "b/x/d", NULL }, { "b/c/d/e", NULL } } },
	{ "own-text-only", "<a>x<b>inner</b>y<c/>z</a>", 0, NULL, "a",
	  { { "", "xyz" }, { "b", "inner" }, { "c", "" } } },
	{ "whitespace-kept", "<a><b>  spaced\n  </b></a>", 0, NULL, "a", { { "b", "  spaced\n  " } } },
	{ "entities", "<a><b>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</b></a>", 0, NULL, "a",
	  { { "b", "<&>\"'AB" } } },
	{ "cdata", "<a><b><![CDATA[<not-a-tag> & ]]></b></a>", 0, NULL, "a",
	  { { "b", "<not-a-tag> & " } } },
	{ "utf8-text", "<a><b>caf\xc3\xa9 \xe2\x82\xac</b></a>", 0, NULL, "a",
	  { { "b", "caf\xc3\xa9 \xe2\x82\xac" } } },
	{ "attributes-ignored", "<a x=\"1\"><b y='2'>t</b></a>", 0, NULL, "a", { { "b", "t" } } },
	{ "comment-and-pi", "<a><!-- c --><b>t<!-- inside --></b><?pi x?></a>", 0, NULL, "a",
	  { { "b", "t" } } },
	{ "self-closing-root", "<a/>", 0, NULL, "a", { { "", "" }, { "b", NULL } } },
	{ "first-of-same-name", "<a><i>1</i><i>2</i></a>", 0, NULL, "a", { { "i", "1" } } },
	{ "leading-whitespace-ok", "\n  <a><b>t</b></a>\n", 0, NULL, "a", { { "b", "t" } } },
	{ "internal-entity", "<!DOCTYPE a [<!ENTITY e \"ee\">]><a><b>&e;</b></a>", 0, NULL, "a",
	  { { "b", "ee" } } },

	{ "empty", "", ERR_PARSE, "malformed XML", NULL, { { NULL, NULL } } },
	{ "only-whitespace", "   \n", ERR_PARSE, "malformed XML", NULL, { { NULL, NULL } } },
	{ "not-xml", "{\"json\": true}", ERR_PARSE, "line 1", NULL, { { NULL, NULL } } },
	{ "truncated", "<a><b>1</b>", ERR_PARSE, "malformed XML", NULL, { { NULL, NULL } } },
	{ "mismatched-tag", "<a><b>1</c></a>", ERR_PARSE, "mismatched", NULL, { { NULL, NULL } } },
	{ "junk-after-root", "<a/><b/>", ERR_PARSE, "junk", NULL, { { NULL, NULL } } },
	{ "unknown-entity", "<a>&nbsp;</a>", ERR_PARSE, "entity", NULL, { { NULL, NULL } } },
	{ "bad-utf8", "<a>\xff\xfe</a>", ERR_PARSE, "malformed XML", NULL, { { NULL, NULL } } },
	{ "line-number", "<a>\n<b>\n</a>", ERR_PARSE, "line 3", NULL, { { NULL, NULL } } },
	{ "billion-laughs",
	  "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
	  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
	  "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
	  "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
	  "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
	  "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">"
	  "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
	  "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">]>"
	  "<l>&h;</l>",
	  ERR_PARSE, "malformed XML", NULL, { { NULL, NULL } } },
};

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct xml_node *root = (struct xml_node *)0x1;	/* must be overwritten */
	struct buf reason = BUF_INIT;
	int err = xml_parse(view_from(c->doc), &root, &reason);

	assert_int_equal(err, c->err);
	if (c->err) {
		assert_null(root);
		assert_non_null(strstr(buf_cstr(&reason), c->reason));
		assert_null(strchr(buf_cstr(&reason), '\n'));
	} else {
		assert_non_null(root);
		assert_string_equal(buf_cstr(&reason), "");
		assert_string_equal(root->name, c->root_name);
		assert_null(root->parent);
		assert_null(root->next);
		for (size_t i = 0; i < MAX_CHECKS && c->checks[i].path; i++) {
			const char *t = xml_text(root, c->checks[i].path);
			if (c->checks[i].text) {
				assert_non_null(t);
				assert_string_equal(t, c->checks[i].text);
			} else {
				assert_null(t);
			}
		}
	}
	xml_free(root);
	buf_release(&reason);
}

/* A document that is a view into a larger buffer, not NUL-terminated. */
static void test_parse_view_not_terminated(void **state)
{
	static const char text[] = "<a><b>1</b></a><junk>";
	struct xml_node *root;
	int err;

	(void)state;
	err = xml_parse(view_make(text, 15), &root, NULL);
	assert_int_equal(err, 0);
	assert_string_equal(xml_text(root, "b"), "1");
	xml_free(root);
	err = xml_parse(view_make(text, 12), &root, NULL);	/* "<a><b>1</b><" */
	assert_int_equal(err, ERR_PARSE);
	assert_null(root);
}

/* ---- depth ---- */

struct depth_case {
	const char *name;
	int depth;
	int err;
};

static struct depth_case depth_cases[] = {
	{ "1", 1, 0 },
	{ "63", 63, 0 },
	{ "64", 64, 0 },
	{ "65", 65, ERR_PARSE },
	{ "1000", 1000, ERR_PARSE },
};

static void test_depth(void **state)
{
	const struct depth_case *c = *state;
	struct buf doc = BUF_INIT, reason = BUF_INIT;
	struct xml_node *root;
	int err;

	for (int i = 0; i < c->depth; i++)
		buf_appends(&doc, "<e>");
	buf_appends(&doc, "leaf");
	for (int i = 0; i < c->depth; i++)
		buf_appends(&doc, "</e>");
	err = xml_parse(buf_view(&doc), &root, &reason);
	assert_int_equal(err, c->err);
	if (err) {
		assert_null(root);
		assert_string_equal(buf_cstr(&reason), "XML nested too deeply");
	} else {
		const struct xml_node *n = root;
		int levels = 1;
		while (n->first_child) {
			assert_ptr_equal(n->first_child->parent, n);
			n = n->first_child;
			levels++;
		}
		assert_int_equal(levels, c->depth);
		assert_string_equal(buf_cstr(&n->text), "leaf");
	}
	xml_free(root);
	buf_release(&doc);
	buf_release(&reason);
}

/* ---- navigation ---- */

static const char nav_doc[] =
	"<r>"
	"<tagSet>"
	"<item><key>Name</key><value>web-1</value></item>"
	"<other>x</other>"
	"<item><key>devcloud:role</key><value>devbox</value></item>"
	"<item><key>empty</key><value/></item>"
	"</tagSet>"
	"<tagSet><item><key>second-set</key></item></tagSet>"
	"<none/>"
	"</r>";

static void test_navigation(void **state)
{
	struct xml_node *root;
	const struct xml_node *tags, *n;
	const char *keys[4];
	size_t count = 0;

	(void)state;
	assert_int_equal(xml_parse(view_from(nav_doc), &root, NULL), 0);
	tags = xml_child(root, "tagSet");
	assert_non_null(tags);
	assert_ptr_equal(tags->parent, root);
	assert_ptr_equal(root->first_child, tags);

	xml_for_each(item, tags, "item") {
		assert_true(count < ARRAY_SIZE(keys));
		keys[count++] = xml_text(item, "key");
	}
	assert_int_equal(count, 3);
	assert_string_equal(keys[0], "Name");
	assert_string_equal(keys[1], "devcloud:role");
	assert_string_equal(keys[2], "empty");

	/* xml_next_same skips siblings of other names */
	n = xml_child(tags, "item");
	n = xml_next_same(n);
	assert_string_equal(xml_text(n, "value"), "devbox");
	n = xml_next_same(n);
	assert_string_equal(xml_text(n, "value"), "");
	assert_null(xml_next_same(n));

	/* the second tagSet is reachable as a sibling, not by path */
	n = xml_next_same(tags);
	assert_non_null(n);
	assert_string_equal(xml_text(n, "item/key"), "second-set");
	assert_null(xml_next_same(n));
	assert_string_equal(xml_text(root, "tagSet/item/key"), "Name");

	/* missing things are NULL, and NULL propagates */
	assert_null(xml_child(root, "missing"));
	assert_null(xml_child(NULL, "tagSet"));
	assert_null(xml_path(NULL, "a"));
	assert_null(xml_text(NULL, "a"));
	assert_null(xml_text(root, "tagSet/item/nope"));
	assert_null(xml_text(root, "tagSet//item"));
	assert_ptr_equal(xml_path(root, ""), root);
	assert_string_equal(xml_text(root, "none"), "");
	count = 0;
	xml_for_each(item, xml_child(root, "none"), "item")
		count++;
	xml_for_each(item, NULL, "item")
		count++;
	assert_int_equal(count, 0);
	/* names are compared whole, not as prefixes */
	assert_null(xml_child(root, "tag"));
	assert_null(xml_path(root, "tagSetX"));
	assert_null(xml_path(root, "tag"));
	xml_free(root);
}

static void test_free_null(void **state)
{
	(void)state;
	xml_free(NULL);
	assert_true(true);
}

/* A large, wide document: siblings are appended in order. */
static void test_many_siblings(void **state)
{
	struct buf doc = BUF_INIT;
	struct xml_node *root;
	size_t count = 0;

	(void)state;
	buf_appends(&doc, "<list>");
	for (int i = 0; i < 5000; i++)
		buf_appendf(&doc, "<item>%d</item>", i);
	buf_appends(&doc, "</list>");
	assert_int_equal(xml_parse(buf_view(&doc), &root, NULL), 0);
	xml_for_each(item, root, "item") {
		char want[16];
		snprintf(want, sizeof(want), "%zu", count);
		assert_string_equal(buf_cstr(&item->text), want);
		count++;
	}
	assert_int_equal(count, 5000);
	assert_string_equal(buf_cstr(&root->last_child->text), "4999");
	xml_free(root);
	buf_release(&doc);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		table_add("parse", parse_cases[i].name, test_parse, &parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(depth_cases); i++)
		table_add("depth", depth_cases[i].name, test_depth, &depth_cases[i]);
	table_add("parse", "view-not-terminated", test_parse_view_not_terminated, NULL);
	table_add("tree", "navigation", test_navigation, NULL);
	table_add("tree", "free-null", test_free_null, NULL);
	table_add("tree", "many-siblings", test_many_siblings, NULL);

	failed = table_run("xml");
	return failed;
}
