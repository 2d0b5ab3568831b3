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

/* ---- stream ---- */

/*
 * A DescribeInstances page (two reservations, three instances, a
 * nextToken) fed in chunks of a given size: the same instances come out,
 * in order, and the skeleton keeps nextToken but neither the instances
 * nor the reservations.
 */
static const char stream_doc[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
	"  <requestId>r-1</requestId>\n"
	"  <reservationSet>\n"
	"    <item><reservationId>r-a</reservationId><ownerId>1</ownerId><instancesSet>\n"
	"      <item><instanceId>i-1</instanceId><tagSet><item><key>Name</key>"
	"<value>one &amp; only</value></item></tagSet></item>\n"
	"      <item><instanceId>i-2</instanceId></item>\n"
	"    </instancesSet></item>\n"
	"    <item><reservationId>r-b</reservationId><instancesSet>\n"
	"      <item><instanceId>i-3</instanceId><instanceState><name>running</name>"
	"</instanceState></item>\n"
	"    </instancesSet></item>\n"
	"  </reservationSet>\n"
	"  <nextToken>tok&lt;2&gt;</nextToken>\n"
	"</DescribeInstancesResponse>\n";

struct seen {
	struct buf ids;		/* "i-1,i-2,..." */
	int refuse_at;		/* refuse the n-th item (1-based); 0: none */
	int count;
};

static int on_stream_item(void *ctx, const struct xml_node *item)
{
	struct seen *seen = ctx;
	const char *name = xml_text(item, "tagSet/item/value");

	seen->count++;
	buf_appendf(&seen->ids, "%s%s", seen->ids.len ? "," : "", xml_text(item, "instanceId"));
	if (name)
		buf_appendf(&seen->ids, "(%s)", name);
	return seen->count == seen->refuse_at ? ERR_PARSE : 0;
}

static int feed_chunks(struct xml_stream *s, const char *doc, size_t len, size_t chunk)
{
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		int err = xml_stream_feed(s, view_make(doc + off, n));
		if (err)
			return err;
	}
	return 0;
}

static const char *const stream_items[] = { "reservationSet/item/instancesSet/item", NULL };
static const char *const stream_drop[] = { "reservationSet/item", NULL };

static void test_stream_chunks(void **state)
{
	static const size_t chunks[] = { 1, 7, 4096 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct seen seen = { BUF_INIT, 0, 0 };
		struct xml_stream_options opts = { stream_items, stream_drop, on_stream_item, &seen, 0 };
		struct xml_stream *s = xml_stream_new(&opts);
		const struct xml_node *skeleton;

		assert_int_equal(feed_chunks(s, stream_doc, strlen(stream_doc), chunks[i]), 0);
		assert_int_equal(xml_stream_finish(s, &skeleton), 0);
		assert_string_equal(buf_cstr(&seen.ids), "i-1(one & only),i-2,i-3");
		assert_int_equal(xml_stream_items(s), 3);
		assert_string_equal(skeleton->name, "DescribeInstancesResponse");
		assert_string_equal(xml_text(skeleton, "nextToken"), "tok<2>");
		assert_string_equal(xml_text(skeleton, "requestId"), "r-1");
		assert_non_null(xml_child(skeleton, "reservationSet"));
		assert_null(xml_child(xml_child(skeleton, "reservationSet"), "item"));
		xml_stream_free(s);
		buf_release(&seen.ids);
	}
}

/* cut anywhere, the document is refused at the end; items seen before stay counted */
static void test_stream_truncated(void **state)
{
	size_t len = strlen(stream_doc);

	(void)state;
	for (size_t cut = 0; cut < len - 1; cut += 13) {
		struct seen seen = { BUF_INIT, 0, 0 };
		struct xml_stream_options opts = { stream_items, stream_drop, on_stream_item, &seen, 0 };
		struct xml_stream *s = xml_stream_new(&opts);
		const struct xml_node *skeleton = (const void *)1;
		int err = feed_chunks(s, stream_doc, cut, 5);

		if (!err)
			err = xml_stream_finish(s, &skeleton);
		assert_int_equal(err, ERR_PARSE);
		assert_null(skeleton);
		assert_true(seen.count <= 3);
		xml_stream_free(s);
		buf_release(&seen.ids);
	}
}

static void test_stream_refused_item(void **state)
{
	struct seen seen = { BUF_INIT, 2, 0 };
	struct xml_stream_options opts = { stream_items, stream_drop, on_stream_item, &seen, 0 };
	struct xml_stream *s = xml_stream_new(&opts);
	const struct xml_node *skeleton;

	(void)state;
	assert_int_equal(feed_chunks(s, stream_doc, strlen(stream_doc), 7), ERR_PARSE);
	assert_int_equal(seen.count, 2);	/* nothing after the refusal */
	assert_int_equal(xml_stream_finish(s, &skeleton), ERR_PARSE);
	assert_non_null(strstr(xml_stream_reason(s), "refused"));
	xml_stream_free(s);
	buf_release(&seen.ids);
}

/* what is held at once is bounded: one big item is refused, many small ones are not */
static void test_stream_kept_limit(void **state)
{
	struct buf doc = BUF_INIT;
	struct seen seen = { BUF_INIT, 0, 0 };
	const char *const items[] = { "set/item", NULL };
	struct xml_stream_options opts = { items, NULL, on_stream_item, &seen, 64 * 1024 };
	struct xml_stream *s;
	const struct xml_node *skeleton;

	(void)state;
	buf_appends(&doc, "<r><set>");
	for (int i = 0; i < 20000; i++)
		buf_appendf(&doc, "<item><instanceId>i-%d</instanceId></item>", i);
	buf_appends(&doc, "</set></r>");
	s = xml_stream_new(&opts);
	assert_int_equal(feed_chunks(s, doc.ptr, doc.len, 4096), 0);
	assert_int_equal(xml_stream_finish(s, &skeleton), 0);
	assert_int_equal(seen.count, 20000);
	xml_stream_free(s);

	buf_reset(&doc);
	buf_appends(&doc, "<r><set><item><instanceId>");
	for (int i = 0; i < 20000; i++)
		buf_appends(&doc, "0123456789");
	buf_appends(&doc, "</instanceId></item></set></r>");
	s = xml_stream_new(&opts);
	assert_int_equal(feed_chunks(s, doc.ptr, doc.len, 4096), ERR_TOO_LARGE);
	assert_int_equal(seen.count, 20000);
	xml_stream_free(s);
	buf_release(&doc);
	buf_release(&seen.ids);
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
	table_add("stream", "chunks-1-7-4096", test_stream_chunks, NULL);
	table_add("stream", "truncated-anywhere", test_stream_truncated, NULL);
	table_add("stream", "refused-item", test_stream_refused_item, NULL);
	table_add("stream", "kept-limit", test_stream_kept_limit, NULL);

	failed = table_run("xml");
	return failed;
}
