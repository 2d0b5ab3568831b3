/*
 * The build monitor: its pure plan, the admins' mentions and the Slack
 * message by tables of cases; init and the handler on a scripted AWS (EC2
 * and SSM) and a scripted Slack.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "build_monitor/build_monitor.h"
#include "cJSON.h"
#include "fake_aws.h"
#include "table.h"
#include "timeutil.h"
#include "banned.h"

#define NOW "2026-11-26T09:00:00Z"
#define AMI1 "ami-0a000000000000001"
#define AMI2 "ami-0a000000000000002"
#define AMI3 "ami-0a000000000000003"
#define B1 "i-0b000000000000001"
#define B2 "i-0b000000000000002"
#define B3 "i-0b000000000000003"
/* the secret part of the test webhook: must never show */
#define HOOK_SECRET "XyZsecretTOKEN1234567890"
#define HOOK_URL "http://127.0.0.1:9/services/T0AAAAAAA/B0BBBBBBB/" HOOK_SECRET

static int64_t at(const char *iso)
{
	int64_t t = 0;
	assert_int_equal(time_parse_iso8601(iso, &t, NULL), 0);
	return t;
}

static void assert_has(const char *text, const char *needle)
{
	if (!text || !strstr(text, needle))
		fail_msg("'%s' not found in: %s", needle, text ? text : "(null)");
}

static void assert_lacks(const char *text, const char *needle)
{
	if (text && strstr(text, needle))
		fail_msg("'%s' unexpectedly found in: %s", needle, text);
}

/* ---- test data: images and builders ---- */

struct img {
	const char *id, *state, *created, *name;
};

struct inst {
	const char *id, *state, *launched, *private_ip, *public_ip, *name;
};

#define MAX_ITEMS 4

static void make_images(const struct img *spec, struct ec2_image_list *out)
{
	memset(out, 0, sizeof(*out));
	out->items = xcalloc(MAX_ITEMS, sizeof(*out->items));
	out->cap = MAX_ITEMS;
	for (size_t i = 0; i < MAX_ITEMS && spec[i].id; i++) {
		struct ec2_image *im = &out->items[out->count++];
		im->id = xstrdup(spec[i].id);
		im->state = xstrdup(spec[i].state);
		im->name = xstrdup(spec[i].name ? spec[i].name : "");
		im->creation_date = xstrdup(spec[i].created);
		im->creation_time = at(spec[i].created);
		im->owner_id = xstrdup("123456789012");
	}
}

static void make_instances(const struct inst *spec, struct ec2_instance_list *out)
{
	memset(out, 0, sizeof(*out));
	out->items = xcalloc(MAX_ITEMS, sizeof(*out->items));
	out->cap = MAX_ITEMS;
	for (size_t i = 0; i < MAX_ITEMS && spec[i].id; i++) {
		struct ec2_instance *in = &out->items[out->count++];
		in->id = xstrdup(spec[i].id);
		in->state = xstrdup(spec[i].state);
		in->launch_time = at(spec[i].launched);
		in->private_ip = spec[i].private_ip ? xstrdup(spec[i].private_ip) : NULL;
		in->public_ip = spec[i].public_ip ? xstrdup(spec[i].public_ip) : NULL;
		if (spec[i].name) {
			in->tags = xcalloc(1, sizeof(*in->tags));
			in->tags[0].key = xstrdup("Name");
			in->tags[0].value = xstrdup(spec[i].name);
			in->tag_count = 1;
		}
	}
}

/* ---- the plan ---- */

struct plan_row {
	const char *name;
	struct img images[MAX_ITEMS];
	struct inst builders[MAX_ITEMS];
	bool builders_unknown;
	long max_age_hours;
	enum build_monitor_ip ip;
	/* expected */
	const char *latest;		/* NULL: none */
	int64_t age_s;
	bool stale;
	enum build_monitor_next next;
	const char *builder;		/* NULL: none */
	const char *address;
	const char *note_has;		/* NULL: no note */
};

#define PRIV BUILD_MONITOR_IP_PRIVATE
#define PUB BUILD_MONITOR_IP_PUBLIC
#define INSPECT BUILD_MONITOR_INSPECT_LOG
#define START BUILD_MONITOR_START_BUILD
#define UNKNOWN BUILD_MONITOR_BUILDER_UNKNOWN
#define RUNNING_B1 { { B1, "running", "2026-11-26T03:00:00Z", "10.0.0.4", "203.0.113.4", "nightly" } }

static const struct plan_row plan_rows[] = {
	{ "no-image", { { 0 } }, { { 0 } }, false, 24, PRIV, NULL, 0, true, START, NULL, NULL, NULL },
	{ "fresh", { { AMI1, "available", "2026-11-26T06:00:00Z", "devbox-2026-11-26" } }, { { 0 } },
	  false, 24, PRIV, AMI1, 3 * 3600, false, START, NULL, NULL, NULL },
	/* strictly older than the limit alerts: exactly 24 h does not */
	{ "exactly-24h", { { AMI1, "available", "2026-11-25T09:00:00Z", "d" } }, { { 0 } }, false, 24,
	  PRIV, AMI1, 86400, false, START, NULL, NULL, NULL },
	{ "24h-plus-1s", { { AMI1, "available", "2026-11-25T08:59:59Z", "d" } }, { { 0 } }, false, 24,
	  PRIV, AMI1, 86401, true, START, NULL, NULL, NULL },
	{ "24h-minus-1s", { { AMI1, "available", "2026-11-25T09:00:01Z", "d" } }, { { 0 } }, false,
	  24, PRIV, AMI1, 86399, false, START, NULL, NULL, NULL },
	{ "max-age-48-keeps-30h-fresh", { { AMI1, "available", "2026-11-25T03:00:00Z", "d" } },
	  { { 0 } }, false, 48, PRIV, AMI1, 30 * 3600, false, START, NULL, NULL, NULL },
	{ "max-age-1", { { AMI1, "available", "2026-11-26T07:59:59Z", "d" } }, { { 0 } }, false, 1,
	  PRIV, AMI1, 3601, true, START, NULL, NULL, NULL },
	{ "newest-of-several",
	  { { AMI1, "available", "2026-11-24T03:00:00Z", "a" },
	    { AMI3, "available", "2026-11-26T03:00:00Z", "c" },
	    { AMI2, "available", "2026-11-25T03:00:00Z", "b" } },
	  { { 0 } }, false, 24, PRIV, AMI3, 6 * 3600, false, START, NULL, NULL, NULL },
	{ "tie-goes-to-greater-id",
	  { { AMI2, "available", "2026-11-26T03:00:00Z", "b" },
	    { AMI1, "available", "2026-11-26T03:00:00Z", "a" } },
	  { { 0 } }, false, 24, PRIV, AMI2, 6 * 3600, false, START, NULL, NULL, NULL },
	{ "tie-in-the-other-order",
	  { { AMI1, "available", "2026-11-26T03:00:00Z", "a" },
	    { AMI2, "available", "2026-11-26T03:00:00Z", "b" } },
	  { { 0 } }, false, 24, PRIV, AMI2, 6 * 3600, false, START, NULL, NULL, NULL },
	/* a build still in progress (pending) or failed does not count */
	{ "pending-newest-ignored",
	  { { AMI2, "pending", "2026-11-26T08:00:00Z", "new" },
	    { AMI1, "available", "2026-11-25T03:00:00Z", "old" } },
	  { { 0 } }, false, 24, PRIV, AMI1, 30 * 3600, true, START, NULL, NULL, NULL },
	{ "only-pending-and-failed",
	  { { AMI2, "pending", "2026-11-26T08:00:00Z", "new" },
	    { AMI1, "failed", "2026-11-26T03:00:00Z", "bad" } },
	  { { 0 } }, false, 24, PRIV, NULL, 0, true, START, NULL, NULL, NULL },
	{ "created-in-the-future-is-age-0", { { AMI1, "available", "2026-11-26T09:00:05Z", "d" } },
	  { { 0 } }, false, 24, PRIV, AMI1, 0, false, START, NULL, NULL, NULL },
	/* builders */
	{ "builder-running-private", { { 0 } }, RUNNING_B1, false, 24, PRIV, NULL, 0, true, INSPECT,
	  B1, "10.0.0.4", NULL },
	{ "builder-running-public", { { 0 } }, RUNNING_B1, false, 24, PUB, NULL, 0, true, INSPECT, B1,
	  "203.0.113.4", NULL },
	{ "builder-stopped", { { 0 } },
	  { { B1, "stopped", "2026-11-26T03:00:00Z", "10.0.0.4", NULL, "nightly" } }, false, 24, PRIV,
	  NULL, 0, true, START, NULL, NULL, NULL },
	{ "builder-pending-is-not-running", { { 0 } },
	  { { B1, "pending", "2026-11-26T03:00:00Z", "10.0.0.4", NULL, "nightly" } }, false, 24, PRIV,
	  NULL, 0, true, START, NULL, NULL, NULL },
	{ "builders-unknown", { { 0 } }, { { 0 } }, true, 24, PRIV, NULL, 0, true, UNKNOWN, NULL, NULL,
	  NULL },
	{ "private-missing-falls-back-to-public", { { 0 } },
	  { { B1, "running", "2026-11-26T03:00:00Z", NULL, "203.0.113.4", NULL } }, false, 24, PRIV,
	  NULL, 0, true, INSPECT, B1, "203.0.113.4", "it has no private IP; this is its public one" },
	{ "public-missing-falls-back-to-private", { { 0 } },
	  { { B1, "running", "2026-11-26T03:00:00Z", "10.0.0.4", NULL, NULL } }, false, 24, PUB, NULL,
	  0, true, INSPECT, B1, "10.0.0.4", "it has no public IP; this is its private one" },
	{ "empty-ip-counts-as-missing", { { 0 } },
	  { { B1, "running", "2026-11-26T03:00:00Z", "", "203.0.113.4", NULL } }, false, 24, PRIV,
	  NULL, 0, true, INSPECT, B1, "203.0.113.4", "no private IP" },
	{ "no-ip-at-all-gives-the-id", { { 0 } },
	  { { B1, "running", "2026-11-26T03:00:00Z", NULL, NULL, NULL } }, false, 24, PUB, NULL, 0,
	  true, INSPECT, B1, B1, "it has no IP address" },
	{ "several-builders-newest-launch",
	  { { 0 } },
	  { { B1, "running", "2026-11-26T01:00:00Z", "10.0.0.1", NULL, NULL },
	    { B3, "stopped", "2026-11-26T08:00:00Z", "10.0.0.3", NULL, NULL },
	    { B2, "running", "2026-11-26T05:00:00Z", "10.0.0.2", NULL, NULL } },
	  false, 24, PRIV, NULL, 0, true, INSPECT, B2, "10.0.0.2", NULL },
	{ "builders-tie-greater-id",
	  { { 0 } },
	  { { B2, "running", "2026-11-26T05:00:00Z", "10.0.0.2", NULL, NULL },
	    { B1, "running", "2026-11-26T05:00:00Z", "10.0.0.1", NULL, NULL } },
	  false, 24, PRIV, NULL, 0, true, INSPECT, B2, "10.0.0.2", NULL },
};

static void test_plan_row(void **state)
{
	const struct plan_row *r = *state;
	struct ec2_image_list images;
	struct ec2_instance_list builders;
	struct build_monitor_policy policy = { r->max_age_hours, r->ip };
	struct build_monitor_plan plan;

	make_images(r->images, &images);
	make_instances(r->builders, &builders);
	build_monitor_plan(&images, r->builders_unknown ? NULL : &builders, at(NOW), &policy, &plan);

	if (r->latest) {
		assert_non_null(plan.latest);
		assert_string_equal(plan.latest->id, r->latest);
	} else {
		assert_null(plan.latest);
	}
	assert_int_equal(plan.age_s, r->age_s);
	assert_int_equal(plan.stale, r->stale);
	assert_int_equal(plan.next, r->next);
	if (r->builder) {
		assert_non_null(plan.builder);
		assert_string_equal(plan.builder->id, r->builder);
		assert_string_equal(plan.builder_address, r->address);
	} else {
		assert_null(plan.builder);
		assert_null(plan.builder_address);
	}
	if (r->note_has)
		assert_has(plan.address_note, r->note_has);
	else
		assert_null(plan.address_note);

	build_monitor_plan_release(&plan);
	ec2_image_list_release(&images);
	ec2_instance_list_release(&builders);
}

/* ---- SLACK_ADMINS ---- */

struct admins_row {
	const char *name;
	const char *spec;
	const char *mentions;	/* NULL: an error */
	const char *error_has;
};

static const struct admins_row admins_rows[] = {
	{ "empty", "", "", NULL },
	{ "null", NULL, "", NULL },
	{ "only-separators", " , ,\t", "", NULL },
	{ "one-user", "U024BE7LH", "<@U024BE7LH>", NULL },
	{ "enterprise-user", "W0123ABC", "<@W0123ABC>", NULL },
	{ "user-group", "S0614TZR7", "<!subteam^S0614TZR7>", NULL },
	{ "commas", "U024BE7LH,W0123ABC", "<@U024BE7LH> <@W0123ABC>", NULL },
	{ "spaces-and-commas", "  U024BE7LH ,  S0614TZR7\tW0123ABC ",
	  "<@U024BE7LH> <!subteam^S0614TZR7> <@W0123ABC>", NULL },
	{ "long-id", "U0123456789ABCDEF", "<@U0123456789ABCDEF>", NULL },
	{ "duplicate-once", "U024BE7LH U024BE7LH,U024BE7LH", "<@U024BE7LH>", NULL },
	{ "lower-case", "u024be7lh", NULL, "SLACK_ADMINS: 'u024be7lh' is not a Slack user id" },
	{ "a-name", "U024BE7LH,@alice", NULL, "'@alice'" },
	{ "already-a-mention", "<@U024BE7LH>", NULL, "'<@U024BE7LH>'" },
	{ "channel-id", "C0123ABCD", NULL, "'C0123ABCD'" },
	{ "too-short", "U12345", NULL, "'U12345'" },
	{ "longest", "U01234567890123456789", "<@U01234567890123456789>", NULL },
	{ "too-long", "U012345678901234567890", NULL, "'U012345678901234567890'" },
	{ "punctuation", "U024BE7L!", NULL, "'U024BE7L!'" },
	{ "here", "!here", NULL, "'!here'" },
	{ "semicolon-is-not-a-separator", "U024BE7LH;W0123ABC", NULL, "'U024BE7LH;W0123ABC'" },
};

static void test_admins_row(void **state)
{
	const struct admins_row *r = *state;
	struct buf mentions = BUF_INIT, err = BUF_INIT;
	int rc = build_monitor_parse_admins(r->spec, &mentions, &err);

	if (r->mentions) {
		assert_int_equal(rc, 0);
		assert_string_equal(buf_cstr(&mentions), r->mentions);
		assert_string_equal(buf_cstr(&err), "");
	} else {
		assert_int_equal(rc, ERR_CONFIG);
		assert_has(buf_cstr(&err), r->error_has);
		assert_string_equal(buf_cstr(&mentions), "");
	}
	buf_release(&mentions);
	buf_release(&err);
}

static void test_admins_limit(void **state)
{
	struct buf spec = BUF_INIT, mentions = BUF_INIT, err = BUF_INIT;

	(void)state;
	for (int i = 0; i < 50; i++)
		buf_appendf(&spec, "U%08d ", i);
	assert_int_equal(build_monitor_parse_admins(buf_cstr(&spec), &mentions, &err), 0);
	assert_has(buf_cstr(&mentions), "<@U00000049>");
	buf_reset(&mentions);
	buf_appends(&spec, "U99999999");
	assert_int_equal(build_monitor_parse_admins(buf_cstr(&spec), &mentions, &err), ERR_CONFIG);
	assert_has(buf_cstr(&err), "SLACK_ADMINS lists more than 50 ids");
	buf_release(&spec);
	buf_release(&mentions);
	buf_release(&err);
}

/* ---- the message ---- */

struct message_row {
	const char *name;
	struct img images[MAX_ITEMS];
	struct inst builders[MAX_ITEMS];
	bool builders_unknown;
	enum build_monitor_ip ip;
	const char *mentions;
	const char *build_command;
	bool test;
	const char *text_has[4];	/* in the fallback text */
	const char *text_lacks[3];
};

#define STALE_IMAGE { { AMI1, "available", "2026-11-25T03:00:00Z", "devbox-2026-11-25" } }

static const struct message_row message_rows[] = {
	{ "stale-with-builder", STALE_IMAGE, RUNNING_B1, false, PRIV, "<@U024BE7LH>", "/devcloud build",
	  false,
	  { "<@U024BE7LH> :warning: The newest dev-box image devbox-2026-11-25 (" AMI1
	    ") is 30 h old (built 2026-11-25 03:00 UTC).",
	    "\nBuilder " B1 " (nightly) is running: inspect its build log with "
	    "`ssh ubuntu@10.0.0.4 cat build.log`." },
	  { "/devcloud build", "test", "(it has" } },
	{ "stale-public-ip", STALE_IMAGE, RUNNING_B1, false, PUB, "", "/devcloud build", false,
	  { "`ssh ubuntu@203.0.113.4 cat build.log`" }, { "10.0.0.4" } },
	{ "ip-fallback-is-explained", STALE_IMAGE,
	  { { B1, "running", "2026-11-26T03:00:00Z", NULL, "203.0.113.4", NULL } }, false, PRIV, "",
	  "/devcloud build", false,
	  { "Builder " B1 " is running", "`ssh ubuntu@203.0.113.4 cat build.log` (it has no private "
					  "IP; this is its public one)." },
	  { "()" } },
	{ "stale-no-builder", STALE_IMAGE, { { 0 } }, false, PRIV, "<@U024BE7LH> <!subteam^S0614TZR7>",
	  "/devcloud build", false,
	  { "<@U024BE7LH> <!subteam^S0614TZR7> :warning: The newest",
	    "\nNo builder is running: start a new build with `/devcloud build`." },
	  { "ssh" } },
	{ "builders-unknown", STALE_IMAGE, { { 0 } }, true, PRIV, "", "make image", false,
	  { "The builder could not be checked: unless a build is running, start one with "
	    "`make image`." },
	  { "ssh", "No builder is running" } },
	{ "no-image", { { 0 } }, { { 0 } }, false, PRIV, "<@U024BE7LH>", "/devcloud build", false,
	  { "<@U024BE7LH> :warning: No available dev-box image was found", "`/devcloud build`" },
	  { "(built" } },
	{ "no-mentions-starts-with-the-news", STALE_IMAGE, { { 0 } }, false, PRIV, "",
	  "/devcloud build", false, { ":warning: The newest" }, { "<@" } },
	{ "fractional-age", { { AMI1, "available", "2026-11-25T02:30:00Z", "d" } }, { { 0 } }, false,
	  PRIV, "", "/devcloud build", false, { "is 30.5 h old (built 2026-11-25 02:30 UTC)" }, { 0 } },
	{ "image-without-a-name", { { AMI1, "available", "2026-11-25T03:00:00Z", "" } }, { { 0 } },
	  false, PRIV, "", "/devcloud build", false,
	  { "The newest dev-box image " AMI1 " is 30 h old" }, { "()" } },
	{ "names-are-escaped", { { AMI1, "available", "2026-11-25T03:00:00Z", "a<b>&c" } },
	  { { B1, "running", "2026-11-26T03:00:00Z", "10.0.0.4", NULL, "<!channel> & co" } }, false,
	  PRIV, "", "/devcloud build", false,
	  { "image a&lt;b&gt;&amp;c (", "Builder " B1 " (&lt;!channel&gt; &amp; co) is running" },
	  { "<!channel>", "a<b>" } },
	{ "command-is-escaped", STALE_IMAGE, { { 0 } }, false, PRIV, "", "make a && b > log", false,
	  { "`make a &amp;&amp; b &gt; log`" }, { "&& b" } },
	{ "test-on-a-fresh-image", { { AMI1, "available", "2026-11-26T06:00:00Z", "d" } }, { { 0 } },
	  false, PRIV, "<@U024BE7LH>", "/devcloud build", true,
	  { "<@U024BE7LH> :test_tube: Test alert (force_alert), nothing is wrong: the newest dev-box "
	    "image d (" AMI1 ") is 3 h old" },
	  { ":warning:" } },
	/* a forced alert on a stale image is a real one */
	{ "test-on-a-stale-image-is-real", STALE_IMAGE, { { 0 } }, false, PRIV, "", "/devcloud build",
	  true, { ":warning: The newest" }, { "Test alert" } },
};

static cJSON *message_for(const struct message_row *r, struct ec2_image_list *images,
			  struct ec2_instance_list *builders, struct build_monitor_plan *plan,
			  const struct build_monitor_policy *policy)
{
	struct build_monitor_message_options mo = {
		.mentions = r->mentions,
		.build_command = r->build_command,
		.image_filters = "tag:devcloud:role=devbox-image",
		.builder_filters = "tag:devcloud:role=builder",
		.test = r->test,
	};

	make_images(r->images, images);
	make_instances(r->builders, builders);
	build_monitor_plan(images, r->builders_unknown ? NULL : builders, at(NOW), policy, plan);
	return build_monitor_message(plan, policy, &mo);
}

static const char *block_text(const cJSON *blocks, int i)
{
	const cJSON *b = cJSON_GetArrayItem(blocks, i);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");

	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type")),
			    "section");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type")),
			    "mrkdwn");
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "text"));
}

static void test_message_row(void **state)
{
	const struct message_row *r = *state;
	struct ec2_image_list images;
	struct ec2_instance_list builders;
	struct build_monitor_plan plan;
	struct build_monitor_policy policy = { 24, r->ip };
	cJSON *msg = message_for(r, &images, &builders, &plan, &policy);
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "text"));
	const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(msg, "blocks");
	struct buf both = BUF_INIT;

	assert_non_null(text);
	for (size_t i = 0; i < ARRAY_SIZE(r->text_has) && r->text_has[i]; i++)
		assert_has(text, r->text_has[i]);
	for (size_t i = 0; i < ARRAY_SIZE(r->text_lacks) && r->text_lacks[i]; i++)
		assert_lacks(text, r->text_lacks[i]);
	/* the blocks say the same as the fallback: head, then the next step */
	assert_int_equal(cJSON_GetArraySize(blocks), 3);
	buf_appendf(&both, "%s\n%s", block_text(blocks, 0), block_text(blocks, 1));
	assert_string_equal(buf_cstr(&both), text);
	buf_release(&both);
	cJSON_Delete(msg);
	build_monitor_plan_release(&plan);
	ec2_image_list_release(&images);
	ec2_instance_list_release(&builders);
}

/* The payload as Slack reads it: printed, parsed back, Block Kit's shape. */
static void test_message_shape(void **state)
{
	const struct message_row *r = &message_rows[0];
	struct ec2_image_list images;
	struct ec2_instance_list builders;
	struct build_monitor_plan plan;
	struct build_monitor_policy policy = { 36, PRIV };
	cJSON *msg = message_for(r, &images, &builders, &plan, &policy), *back;
	const cJSON *blocks, *ctx, *el;
	char *printed;

	(void)state;
	printed = cJSON_PrintUnformatted(msg);
	back = cJSON_Parse(printed);
	assert_non_null(back);
	/* only the keys Slack knows */
	assert_int_equal(cJSON_GetArraySize(back), 2);
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(back, "text")));
	blocks = cJSON_GetObjectItemCaseSensitive(back, "blocks");
	assert_true(cJSON_IsArray(blocks));
	assert_int_equal(cJSON_GetArraySize(blocks), 3);
	assert_has(block_text(blocks, 0), "is 30 h old");
	assert_has(block_text(blocks, 1), "`ssh ubuntu@10.0.0.4 cat build.log`");
	ctx = cJSON_GetArrayItem(blocks, 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx, "type")),
			    "context");
	el = cJSON_GetObjectItemCaseSensitive(ctx, "elements");
	assert_int_equal(cJSON_GetArraySize(el), 1);
	el = cJSON_GetArrayItem(el, 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "type")),
			    "mrkdwn");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "text")),
			    "Alerts when the newest image is older than 36 h · images: "
			    "tag:devcloud:role=devbox-image (owner: self) · builders: "
			    "tag:devcloud:role=builder");
	cJSON_free(printed);
	cJSON_Delete(back);
	cJSON_Delete(msg);
	build_monitor_plan_release(&plan);
	ec2_image_list_release(&images);
	ec2_instance_list_release(&builders);
}

/* Long filters are cut (Slack caps a block's text), at a character boundary. */
static void test_message_context_is_capped(void **state)
{
	struct ec2_image_list images = EC2_IMAGE_LIST_INIT;
	struct build_monitor_plan plan;
	struct build_monitor_policy policy = { 24, PRIV };
	struct buf filters = BUF_INIT;
	cJSON *msg, *ctx;
	const char *text;

	(void)state;
	buf_appends(&filters, "tag:Name=");
	for (int i = 0; i < 200; i++)
		buf_appends(&filters, "é");	/* two bytes each */
	struct build_monitor_message_options mo = { "", "/devcloud build", buf_cstr(&filters), "x",
						    false };
	build_monitor_plan(&images, NULL, at(NOW), &policy, &plan);
	msg = build_monitor_message(&plan, &policy, &mo);
	ctx = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(msg, "blocks"), 2);
	text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ctx, "elements"), 0), "text"));
	assert_has(text, "é… (owner: self)");
	assert_true(strlen(text) < 400);
	/* cut between characters: whole two-byte "é"s only */
	const char *start = strstr(text, "tag:Name="), *end = strstr(text, "… (owner");
	assert_int_equal((size_t)(end - start - strlen("tag:Name=")) % 2, 0);
	cJSON_Delete(msg);
	build_monitor_plan_release(&plan);
	buf_release(&filters);
}

/* ---- the result ---- */

static void test_result_json(void **state)
{
	static const struct img stale[MAX_ITEMS] = STALE_IMAGE;
	struct ec2_image_list images, none = EC2_IMAGE_LIST_INIT;
	struct build_monitor_policy policy = { 24, PRIV };
	struct build_monitor_plan plan;
	char *json;

	(void)state;
	make_images(stale, &images);
	build_monitor_plan(&images, NULL, at(NOW) + 1800, &policy, &plan);
	json = build_monitor_result_json(&plan, true, false, NULL);
	assert_string_equal(json, "{\"latest_image\":{\"id\":\"" AMI1 "\",\"name\":\"devbox-2026-11-25\","
				  "\"creation_date\":\"2026-11-25T03:00:00Z\"},\"age_hours\":30.5,"
				  "\"alerted\":true,\"dry_run\":false}");
	free(json);
	build_monitor_plan_release(&plan);

	build_monitor_plan(&none, NULL, at(NOW), &policy, &plan);
	json = build_monitor_result_json(&plan, true, true, "the \"text\"");
	assert_string_equal(json, "{\"latest_image\":null,\"age_hours\":null,\"alerted\":true,"
				  "\"dry_run\":true,\"message\":\"the \\\"text\\\"\"}");
	free(json);
	build_monitor_plan_release(&plan);
	ec2_image_list_release(&images);
}

/* ---- a scripted world: EC2, SSM and Slack ---- */

#define MAX_POSTS 8

struct world {
	struct fake_aws fake;
	/* EC2 */
	const struct img *images;	/* DescribeImages answers these */
	const struct inst *builders;	/* DescribeInstances answers these */
	long images_status;		/* non-200: an error answer */
	long builders_status;
	int describe_images, describe_instances, get_parameter;
	struct buf images_request, builders_request, ssm_request;
	/* SSM */
	long ssm_status;
	const char *ssm_body;
	/* Slack: scripted statuses, then 200 */
	long slack_status[MAX_POSTS];
	const char *slack_headers[MAX_POSTS];
	size_t posts;
	struct buf post_bodies[MAX_POSTS];
	char *post_url;
	int64_t post_at_ms[MAX_POSTS];
	long post_timeout_ms[MAX_POSTS];
};

static const char *ec2_error(const char *code)
{
	static char body[256];
	snprintf(body, sizeof(body), "<Response><Errors><Error><Code>%s</Code><Message>not "
		 "allowed</Message></Error></Errors><RequestID>r</RequestID></Response>", code);
	return body;
}

static void images_xml(const struct img *spec, struct buf *out)
{
	buf_appends(out, "<DescribeImagesResponse><imagesSet>");
	for (size_t i = 0; spec && i < MAX_ITEMS && spec[i].id; i++)
		buf_appendf(out, "<item><imageId>%s</imageId><name>%s</name><imageState>%s</imageState>"
			    "<creationDate>%s</creationDate><imageOwnerId>123456789012</imageOwnerId>"
			    "</item>",
			    spec[i].id, spec[i].name ? spec[i].name : "", spec[i].state,
			    spec[i].created);
	buf_appends(out, "</imagesSet></DescribeImagesResponse>");
}

static void instances_xml(const struct inst *spec, struct buf *out)
{
	buf_appends(out, "<DescribeInstancesResponse><reservationSet><item><instancesSet>");
	for (size_t i = 0; spec && i < MAX_ITEMS && spec[i].id; i++) {
		buf_appendf(out, "<item><instanceId>%s</instanceId><instanceState><name>%s</name>"
			    "</instanceState><launchTime>%s</launchTime>",
			    spec[i].id, spec[i].state, spec[i].launched);
		if (spec[i].private_ip)
			buf_appendf(out, "<privateIpAddress>%s</privateIpAddress>", spec[i].private_ip);
		if (spec[i].public_ip)
			buf_appendf(out, "<ipAddress>%s</ipAddress>", spec[i].public_ip);
		if (spec[i].name)
			buf_appendf(out, "<tagSet><item><key>Name</key><value>%s</value></item></tagSet>",
				    spec[i].name);
		buf_appends(out, "</item>");
	}
	buf_appends(out, "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
}

static int world_aws(struct fake_aws *f, const struct http_request *req,
		     struct http_response *resp)
{
	struct world *w = f->user;
	const char *body = req->body.ptr ? req->body.ptr : "";

	resp->status = 200;
	if (strstr(body, "Action=DescribeImages")) {
		w->describe_images++;
		buf_appends(&w->images_request, body);
		if (w->images_status != 200) {
			resp->status = w->images_status;
			buf_appends(&resp->body, ec2_error("UnauthorizedOperation"));
		} else {
			images_xml(w->images, &resp->body);
		}
	} else if (strstr(body, "Action=DescribeInstances")) {
		w->describe_instances++;
		buf_appends(&w->builders_request, body);
		if (w->builders_status != 200) {
			resp->status = w->builders_status;
			buf_appends(&resp->body, ec2_error("UnauthorizedOperation"));
		} else {
			instances_xml(w->builders, &resp->body);
		}
	} else {
		w->get_parameter++;
		buf_appends(&w->ssm_request, body);
		for (size_t h = 0; h < req->header_count; h++)
			if (!strncmp(req->headers[h], "X-Amz-Target:", 13))
				buf_appendf(&w->ssm_request, " %s", req->headers[h]);
		resp->status = w->ssm_status;
		buf_appends(&resp->body, w->ssm_body);
	}
	return 0;
}

static int world_slack(void *ctx, const struct http_request *req, struct http_response *resp,
		       struct buf *errmsg)
{
	struct world *w = ctx;
	size_t i = w->posts++;

	(void)errmsg;
	assert_true(i < MAX_POSTS);
	assert_string_equal(req->method, "POST");
	buf_append(&w->post_bodies[i], req->body.ptr, req->body.len);
	free(w->post_url);
	w->post_url = xstrdup(req->url);
	w->post_at_ms[i] = w->fake.now_ms;
	w->post_timeout_ms[i] = req->timeout_ms;
	resp->status = w->slack_status[i] ? w->slack_status[i] : 200;
	buf_appends(&resp->body, resp->status == 200 ? "ok" : resp->status == 404 ? "no_service"
												: "oops");
	if (w->slack_headers[i])
		buf_appends(&resp->headers, w->slack_headers[i]);
	return 0;
}

static int64_t world_now(void *ctx)
{
	return ((struct world *)ctx)->fake.now_ms;
}

static void world_sleep(void *ctx, int64_t ms)
{
	((struct world *)ctx)->fake.now_ms += ms;
}

static double world_random(void *ctx)
{
	(void)ctx;
	return 0.5;
}

static const struct aws_clock world_clock = { world_now, world_sleep, world_random, NULL };

static const char *const setting_names[] = {
	"IMAGE_FILTERS", "IMAGE_MAX_AGE_HOURS", "BUILDER_FILTERS", "BUILDER_IP", "BUILD_COMMAND",
	"SLACK_ADMINS", "SLACK_WEBHOOK_PARAMETER", "SLACK_WEBHOOK_URL", "DRY_RUN",
};

/* Clears every setting, then sets "NAME=value" pairs (NULL-terminated). */
static void set_env(const char *const *pairs)
{
	for (size_t i = 0; i < ARRAY_SIZE(setting_names); i++)
		unsetenv(setting_names[i]);
	for (size_t i = 0; pairs && pairs[i]; i++) {
		const char *eq = strchr(pairs[i], '=');
		char *name = xstrndup(pairs[i], (size_t)(eq - pairs[i]));
		setenv(name, eq + 1, 1);
		free(name);
	}
}

static struct world *world_new(void)
{
	struct world *w = xcalloc(1, sizeof(*w));

	fake_aws_init(&w->fake);
	/* the fake's clock stands at NOW */
	w->fake.now_ms = at(NOW) * 1000;
	w->fake.respond = world_aws;
	w->fake.user = w;
	w->images_status = w->builders_status = 200;
	w->ssm_status = 200;
	return w;
}

static void world_free(struct world *w)
{
	fake_aws_release(&w->fake);
	buf_release(&w->images_request);
	buf_release(&w->builders_request);
	buf_release(&w->ssm_request);
	for (size_t i = 0; i < MAX_POSTS; i++)
		buf_release(&w->post_bodies[i]);
	free(w->post_url);
	free(w);
}

static int world_init(struct world *w, const char *const *env, void **state, struct buf *errmsg)
{
	struct aws_clock clock = world_clock;
	struct build_monitor_slack_io slack = {
		.transport = world_slack,
		.transport_ctx = w,
		.clock = &clock,
	};

	clock.ctx = w;
	set_env(env);
	return build_monitor_init_with(fake_aws_client(&w->fake, 1), &slack, state, errmsg);
}

/* ---- init ---- */

struct init_row {
	const char *name;
	const char *env[6];
	const char *error_has;	/* NULL: init succeeds */
	const char *error_lacks;
};

#define X10 "xxxxxxxxxx"
#define X50 X10 X10 X10 X10 X10
#define X200 X50 X50 X50 X50

static const struct init_row init_rows[] = {
	{ "url", { "SLACK_WEBHOOK_URL=" HOOK_URL }, NULL, NULL },
	{ "dry-run-needs-no-webhook", { "DRY_RUN=true" }, NULL, NULL },
	{ "all-settings",
	  { "SLACK_WEBHOOK_URL=" HOOK_URL, "SLACK_ADMINS=U024BE7LH, S0614TZR7", "BUILDER_IP=Public",
	    "IMAGE_MAX_AGE_HOURS=8760", "BUILD_COMMAND=make image", "IMAGE_FILTERS=name=devbox-*" },
	  NULL, NULL },
	{ "neither-webhook", { 0 }, "SLACK_WEBHOOK_PARAMETER (or SLACK_WEBHOOK_URL for local runs) is "
				  "not set", NULL },
	{ "both-webhooks", { "SLACK_WEBHOOK_URL=" HOOK_URL, "SLACK_WEBHOOK_PARAMETER=/x" },
	  "SLACK_WEBHOOK_PARAMETER and SLACK_WEBHOOK_URL are both set", HOOK_SECRET },
	{ "both-webhooks-in-a-dry-run",
	  { "DRY_RUN=true", "SLACK_WEBHOOK_URL=" HOOK_URL, "SLACK_WEBHOOK_PARAMETER=/x" },
	  "both set", HOOK_SECRET },
	{ "bad-admin", { "SLACK_WEBHOOK_URL=" HOOK_URL, "SLACK_ADMINS=U024BE7LH,alice" },
	  "SLACK_ADMINS: 'alice'", NULL },
	{ "bad-builder-ip", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILDER_IP=elastic" },
	  "BUILDER_IP must be private or public, got 'elastic'", NULL },
	{ "max-age-0", { "SLACK_WEBHOOK_URL=" HOOK_URL, "IMAGE_MAX_AGE_HOURS=0" },
	  "IMAGE_MAX_AGE_HOURS must be a whole number from 1 to 8760", NULL },
	{ "max-age-8761", { "SLACK_WEBHOOK_URL=" HOOK_URL, "IMAGE_MAX_AGE_HOURS=8761" },
	  "IMAGE_MAX_AGE_HOURS", NULL },
	{ "command-backtick", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILD_COMMAND=run `x`" },
	  "BUILD_COMMAND must be one line without backticks", NULL },
	{ "command-newline", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILD_COMMAND=a\nb" },
	  "BUILD_COMMAND must be one line", NULL },
	{ "command-201-chars", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILD_COMMAND=" X200 "x" },
	  "BUILD_COMMAND is longer than 200 characters", NULL },
	{ "command-200-chars", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILD_COMMAND=" X200 }, NULL, NULL },
	{ "bad-image-filters", { "SLACK_WEBHOOK_URL=" HOOK_URL, "IMAGE_FILTERS=devbox" },
	  "IMAGE_FILTERS", NULL },
	{ "bad-builder-filters", { "SLACK_WEBHOOK_URL=" HOOK_URL, "BUILDER_FILTERS=;" },
	  "BUILDER_FILTERS", NULL },
	{ "bad-dry-run", { "SLACK_WEBHOOK_URL=" HOOK_URL, "DRY_RUN=yes" }, "DRY_RUN", NULL },
	/* the URL's own problems are told without the URL */
	{ "url-not-https",
	  { "SLACK_WEBHOOK_URL=http://hooks.example.com/services/T0AAAAAAA/B0BBBBBBB/" HOOK_SECRET },
	  "SLACK_WEBHOOK_URL is not a usable Slack webhook URL: ", HOOK_SECRET },
	{ "url-garbage", { "SLACK_WEBHOOK_URL=" HOOK_SECRET }, "SLACK_WEBHOOK_URL is not a usable",
	  HOOK_SECRET },
};

static void test_init_row(void **state)
{
	const struct init_row *r = *state;
	struct world *w = world_new();
	struct buf errmsg = BUF_INIT;
	void *fn = NULL;
	int rc = world_init(w, r->env, &fn, &errmsg);

	if (r->error_has) {
		assert_int_equal(rc, ERR_CONFIG);
		assert_null(fn);
		assert_has(buf_cstr(&errmsg), r->error_has);
		if (r->error_lacks)
			assert_lacks(buf_cstr(&errmsg), r->error_lacks);
	} else {
		if (rc)
			fail_msg("init failed: %s", buf_cstr(&errmsg));
		assert_non_null(fn);
	}
	/* none of these reads anything from AWS */
	assert_int_equal(w->fake.calls, 0);
	build_monitor_release(fn);
	buf_release(&errmsg);
	world_free(w);
	set_env(NULL);
}

static const char *const PARAM_ENV[] = { "SLACK_WEBHOOK_PARAMETER=/devcloud/slack-webhook", NULL };

static void test_init_reads_the_parameter(void **state)
{
	struct world *w = world_new();
	struct buf errmsg = BUF_INIT;
	void *fn = NULL;

	(void)state;
	/* pasted with a newline at the end: still the URL */
	w->ssm_body = "{\"Parameter\":{\"Name\":\"/devcloud/slack-webhook\",\"Type\":\"SecureString\","
		      "\"Value\":\"" HOOK_URL "\\n\",\"Version\":3}}";
	if (world_init(w, PARAM_ENV, &fn, &errmsg))
		fail_msg("init failed: %s", buf_cstr(&errmsg));
	assert_int_equal(w->get_parameter, 1);
	assert_has(buf_cstr(&w->ssm_request), "\"Name\":\"/devcloud/slack-webhook\"");
	assert_has(buf_cstr(&w->ssm_request), "\"WithDecryption\":true");
	assert_has(buf_cstr(&w->ssm_request), "X-Amz-Target: AmazonSSM.GetParameter");
	/* bounded well inside Lambda's 10 s init phase */
	assert_true(w->fake.timeouts[0] > 0 && w->fake.timeouts[0] <= 8000);

	/* the next alert goes to that URL, trimmed */
	w->images = NULL;
	struct lambda_request req = { view_from("{}"), "req-1", "", w->fake.now_ms + 60000, NULL,
				      NULL, NULL };
	struct lambda_response resp = { false, BUF_INIT, NULL, BUF_INIT };
	build_monitor_handle(fn, &req, &resp);
	assert_false(resp.failed);
	assert_int_equal(w->posts, 1);
	assert_string_equal(w->post_url, HOOK_URL);
	buf_release(&resp.payload);
	build_monitor_release(fn);
	buf_release(&errmsg);
	world_free(w);
	set_env(NULL);
}

struct param_row {
	const char *name;
	long status;
	const char *body;
	const char *error_has;
};

static const struct param_row param_rows[] = {
	{ "not-found", 400,
	  "{\"__type\":\"ParameterNotFound\",\"message\":\"Parameter /devcloud/slack-webhook not found.\"}",
	  "cannot read SLACK_WEBHOOK_PARAMETER '/devcloud/slack-webhook': ParameterNotFound" },
	{ "access-denied", 400,
	  "{\"__type\":\"AccessDeniedException\",\"message\":\"not authorized to perform "
	  "ssm:GetParameter\"}",
	  "cannot read SLACK_WEBHOOK_PARAMETER '/devcloud/slack-webhook': AccessDeniedException" },
	{ "not-a-url", 200,
	  "{\"Parameter\":{\"Name\":\"/devcloud/slack-webhook\",\"Type\":\"SecureString\","
	  "\"Value\":\"ftp://example.com/" HOOK_SECRET "\"}}",
	  "SLACK_WEBHOOK_PARAMETER '/devcloud/slack-webhook' does not hold a usable Slack webhook URL" },
	{ "empty", 200,
	  "{\"Parameter\":{\"Name\":\"/devcloud/slack-webhook\",\"Type\":\"SecureString\","
	  "\"Value\":\" \"}}",
	  "does not hold a usable Slack webhook URL" },
};

static void test_init_parameter_error(void **state)
{
	const struct param_row *r = *state;
	struct world *w = world_new();
	struct buf errmsg = BUF_INIT;
	void *fn = NULL;

	w->ssm_status = r->status;
	w->ssm_body = r->body;
	assert_int_equal(world_init(w, PARAM_ENV, &fn, &errmsg), r->status == 200 ? ERR_CONFIG
										     : ERR_AWS);
	assert_null(fn);
	assert_has(buf_cstr(&errmsg), r->error_has);
	assert_lacks(buf_cstr(&errmsg), HOOK_SECRET);
	assert_int_equal(w->get_parameter, 1);
	buf_release(&errmsg);
	world_free(w);
	set_env(NULL);
}

/* ---- the handler ---- */

struct run {
	struct world *w;
	void *fn;
	struct lambda_response resp;
	cJSON *result;		/* the payload, parsed (NULL when empty) */
	cJSON *post;		/* the last Slack post, parsed */
};

static const char *const URL_ENV[] = { "SLACK_WEBHOOK_URL=" HOOK_URL, "SLACK_ADMINS=U024BE7LH",
				       NULL };

static void run_start(struct run *r, const char *const *env)
{
	struct buf errmsg = BUF_INIT;

	memset(r, 0, sizeof(*r));
	r->w = world_new();
	if (world_init(r->w, env, &r->fn, &errmsg))
		fail_msg("init failed: %s", buf_cstr(&errmsg));
	buf_release(&errmsg);
}

static void run_event(struct run *r, const char *event, int64_t time_left_ms)
{
	struct lambda_request req = { view_from(event), "req-1", "",
				      r->w->fake.now_ms + time_left_ms, NULL, NULL, NULL };

	build_monitor_handle(r->fn, &req, &r->resp);
	r->result = r->resp.payload.len ? cJSON_Parse(buf_cstr(&r->resp.payload)) : NULL;
	if (r->resp.payload.len)
		assert_non_null(r->result);
	if (r->w->posts)
		r->post = cJSON_Parse(buf_cstr(&r->w->post_bodies[r->w->posts - 1]));
}

static void run_end(struct run *r)
{
	cJSON_Delete(r->result);
	cJSON_Delete(r->post);
	buf_release(&r->resp.payload);
	buf_release(&r->resp.error_message);
	free(r->resp.error_type);
	build_monitor_release(r->fn);
	world_free(r->w);
	set_env(NULL);
}

static const char *post_text(const struct run *r)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->post, "text"));
}

static bool result_bool(const struct run *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->result, key);
	assert_true(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static const struct img STALE[MAX_ITEMS] = STALE_IMAGE;
static const struct img FRESH[MAX_ITEMS] = {
	{ AMI1, "available", "2026-11-26T06:00:00Z", "devbox-2026-11-26" } };
static const struct inst BUILDER[MAX_ITEMS] = RUNNING_B1;

static void test_handle_stale_with_builder(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->builders = BUILDER;
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 1);
	assert_has(post_text(&r), "<@U024BE7LH> :warning: The newest dev-box image devbox-2026-11-25");
	assert_has(post_text(&r), "`ssh ubuntu@10.0.0.4 cat build.log`");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.post, "blocks")), 3);
	/* the listings asked for this account's family, deprecated included, running builders */
	assert_has(buf_cstr(&r.w->images_request), "Owner.1=self");
	assert_has(buf_cstr(&r.w->images_request), "IncludeDeprecated=true");
	assert_has(buf_cstr(&r.w->images_request), "Filter.1.Name=tag%3Adevcloud%3Arole");
	assert_has(buf_cstr(&r.w->images_request), "Filter.1.Value.1=devbox-image");
	assert_has(buf_cstr(&r.w->builders_request), "Filter.1.Value.1=builder");
	assert_has(buf_cstr(&r.w->builders_request), "Filter.2.Name=instance-state-name");
	assert_has(buf_cstr(&r.w->builders_request), "Filter.2.Value.1=running");
	/* the result */
	assert_true(result_bool(&r, "alerted"));
	assert_false(result_bool(&r, "dry_run"));
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.result, "age_hours")),
			   30.0, 1e-9);
	const cJSON *im = cJSON_GetObjectItemCaseSensitive(r.result, "latest_image");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(im, "id")), AMI1);
	assert_null(cJSON_GetObjectItemCaseSensitive(r.result, "message"));
	run_end(&r);
}

static void test_handle_fresh_posts_nothing(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = FRESH;
	run_event(&r, "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\"}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 0);
	assert_false(result_bool(&r, "alerted"));
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.result, "age_hours")),
			   3.0, 1e-9);
	run_end(&r);
}

static void test_handle_no_image_alerts(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 1);
	assert_has(post_text(&r), "No available dev-box image was found");
	assert_has(post_text(&r), "No builder is running: start a new build with `/devcloud build`");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.result, "latest_image")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.result, "age_hours")));
	assert_true(result_bool(&r, "alerted"));
	run_end(&r);
}

static void test_handle_force_alert_is_a_test(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = FRESH;
	run_event(&r, "{\"force_alert\": true}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 1);
	assert_has(post_text(&r), "Test alert (force_alert), nothing is wrong");
	assert_true(result_bool(&r, "alerted"));
	run_end(&r);
}

static void test_handle_max_age_override(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	run_event(&r, "{\"image_max_age_hours\": 48}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 0);
	assert_false(result_bool(&r, "alerted"));
	run_end(&r);
}

static void test_handle_images_not_listed(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images_status = 403;
	run_event(&r, "{}", 60000);
	assert_true(r.resp.failed);
	assert_string_equal(r.resp.error_type, "BuildMonitor.ListFailed");
	assert_has(buf_cstr(&r.resp.error_message),
		   "cannot list images (tag:devcloud:role=devbox-image): UnauthorizedOperation");
	assert_has(buf_cstr(&r.resp.error_message), "no alert was sent");
	assert_int_equal(r.w->posts, 0);
	assert_int_equal(r.w->describe_instances, 0);
	assert_null(r.result);
	run_end(&r);
}

static void test_handle_builders_not_listed(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->builders_status = 403;
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 1);
	assert_has(post_text(&r), "The builder could not be checked");
	assert_has(post_text(&r), "`/devcloud build`");
	run_end(&r);
}

static void test_handle_dry_run(void **state)
{
	static const char *const env[] = { "DRY_RUN=true", NULL };
	struct run r;

	(void)state;
	run_start(&r, env);
	r.w->images = STALE;
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 0);
	assert_true(result_bool(&r, "dry_run"));
	assert_true(result_bool(&r, "alerted"));
	assert_has(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.result, "message")),
		   "is 30 h old");
	run_end(&r);

	/* the event's dry run with a webhook configured: nothing posted either */
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	run_event(&r, "{\"dry_run\": true}", 60000);
	assert_int_equal(r.w->posts, 0);
	assert_true(result_bool(&r, "dry_run"));
	assert_has(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.result, "message")),
		   "<@U024BE7LH>");
	run_end(&r);

	/* a fresh image in a dry run: no message */
	run_start(&r, env);
	r.w->images = FRESH;
	run_event(&r, "{}", 60000);
	assert_false(result_bool(&r, "alerted"));
	assert_null(cJSON_GetObjectItemCaseSensitive(r.result, "message"));
	run_end(&r);
}

struct event_row {
	const char *name;
	const char *const *env;
	const char *event;
	const char *error_has;
};

static const char *const DRY_ENV[] = { "DRY_RUN=true", NULL };

static const struct event_row event_rows[] = {
	{ "unknown-key", URL_ENV, "{\"force\": true}", "unknown key 'force'" },
	{ "wrong-type", URL_ENV, "{\"force_alert\": \"yes\"}", "'force_alert' must be true or false" },
	{ "max-age-0", URL_ENV, "{\"image_max_age_hours\": 0}",
	  "'image_max_age_hours' must be from 1 to 8760, got 0" },
	{ "max-age-too-big", URL_ENV, "{\"image_max_age_hours\": 8761}", "image_max_age_hours" },
	{ "max-age-fraction", URL_ENV, "{\"image_max_age_hours\": 1.5}",
	  "'image_max_age_hours' must be a whole number" },
	{ "not-json", URL_ENV, "{", "not valid JSON" },
	/* without a webhook only DRY_RUN=true starts, and that is final */
	{ "real-run-without-webhook", DRY_ENV, "{\"dry_run\": false}",
	  "event key 'dry_run' cannot be false: DRY_RUN=true in the function's configuration is "
	  "final" },
	{ "scheduled-unknown-key", URL_ENV,
	  "{\"source\": \"aws.events\", \"detail-type\": \"Scheduled Event\", \"force\": true}",
	  "unknown key 'force' in the scheduled event" },
};

static void test_event_row(void **state)
{
	const struct event_row *e = *state;
	struct run r;

	run_start(&r, e->env);
	run_event(&r, e->event, 60000);
	assert_true(r.resp.failed);
	assert_string_equal(r.resp.error_type, "BuildMonitor.InvalidEvent");
	assert_has(buf_cstr(&r.resp.error_message), e->error_has);
	assert_int_equal(r.w->fake.calls, 0);
	assert_int_equal(r.w->posts, 0);
	run_end(&r);
}

static void test_handle_slack_retries_5xx(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->slack_status[0] = 500;
	r.w->slack_status[1] = 503;
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 3);
	assert_true(r.w->post_at_ms[1] > r.w->post_at_ms[0]);
	assert_true(r.w->post_at_ms[2] > r.w->post_at_ms[1]);
	assert_true(result_bool(&r, "alerted"));
	run_end(&r);
}

static void test_handle_slack_refuses(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->slack_status[0] = 404;
	run_event(&r, "{}", 60000);
	assert_true(r.resp.failed);
	assert_string_equal(r.resp.error_type, "BuildMonitor.AlertNotDelivered");
	assert_has(buf_cstr(&r.resp.error_message),
		   "cannot deliver the alert to Slack: Slack answered 404");
	assert_lacks(buf_cstr(&r.resp.error_message), HOOK_SECRET);
	assert_lacks(buf_cstr(&r.resp.payload), HOOK_SECRET);
	assert_int_equal(r.w->posts, 1);
	/* the result is still there, saying nobody was told */
	assert_false(result_bool(&r, "alerted"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(r.result, "latest_image"));
	run_end(&r);
}

static void test_handle_slack_throttles_past_the_deadline(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->slack_status[0] = 429;
	r.w->slack_headers[0] = "Retry-After: 30\r\n";
	run_event(&r, "{}", 10000);
	assert_true(r.resp.failed);
	assert_string_equal(r.resp.error_type, "BuildMonitor.AlertNotDelivered");
	assert_has(buf_cstr(&r.resp.error_message), "429");
	/* refused at once rather than waiting past the deadline */
	assert_int_equal(r.w->posts, 1);
	assert_int_equal(r.w->fake.now_ms, at(NOW) * 1000);
	run_end(&r);
}

static void test_handle_slack_honours_retry_after(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	r.w->slack_status[0] = 429;
	r.w->slack_headers[0] = "Retry-After: 2\r\n";
	run_event(&r, "{}", 60000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 2);
	assert_int_equal(r.w->post_at_ms[1] - r.w->post_at_ms[0], 2000);
	run_end(&r);
}

/* The deadline the handler gives Slack keeps time to send the result. */
static void test_handle_slack_keeps_a_margin(void **state)
{
	struct run r;

	(void)state;
	run_start(&r, URL_ENV);
	r.w->images = STALE;
	run_event(&r, "{}", 8000);
	assert_false(r.resp.failed);
	assert_int_equal(r.w->posts, 1);
	/* 8 s left, 1.5 s of them kept for the result */
	assert_true(r.w->post_timeout_ms[0] > 0 && r.w->post_timeout_ms[0] <= 8000 - 1500);
	run_end(&r);
}

int main(void)
{
	int failed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(plan_rows); i++)
		table_add("plan", plan_rows[i].name, test_plan_row, (void *)&plan_rows[i]);
	failed |= table_run("build_monitor_plan");

	for (size_t i = 0; i < ARRAY_SIZE(admins_rows); i++)
		table_add("admins", admins_rows[i].name, test_admins_row, (void *)&admins_rows[i]);
	table_add("admins", "at-most-50", test_admins_limit, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(message_rows); i++)
		table_add("message", message_rows[i].name, test_message_row, (void *)&message_rows[i]);
	table_add("message", "block-kit-shape", test_message_shape, NULL);
	table_add("message", "context-is-capped", test_message_context_is_capped, NULL);
	table_add("result", "json", test_result_json, NULL);
	failed |= table_run("build_monitor_message");

	for (size_t i = 0; i < ARRAY_SIZE(init_rows); i++)
		table_add("init", init_rows[i].name, test_init_row, (void *)&init_rows[i]);
	table_add("init", "reads-the-parameter", test_init_reads_the_parameter, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(param_rows); i++)
		table_add("init-parameter", param_rows[i].name, test_init_parameter_error,
			  (void *)&param_rows[i]);
	for (size_t i = 0; i < ARRAY_SIZE(event_rows); i++)
		table_add("event", event_rows[i].name, test_event_row, (void *)&event_rows[i]);
	table_add("handle", "stale-with-builder", test_handle_stale_with_builder, NULL);
	table_add("handle", "fresh-posts-nothing", test_handle_fresh_posts_nothing, NULL);
	table_add("handle", "no-image-alerts", test_handle_no_image_alerts, NULL);
	table_add("handle", "force-alert-is-a-test", test_handle_force_alert_is_a_test, NULL);
	table_add("handle", "max-age-override", test_handle_max_age_override, NULL);
	table_add("handle", "images-not-listed", test_handle_images_not_listed, NULL);
	table_add("handle", "builders-not-listed", test_handle_builders_not_listed, NULL);
	table_add("handle", "dry-run", test_handle_dry_run, NULL);
	table_add("handle", "slack-retries-5xx", test_handle_slack_retries_5xx, NULL);
	table_add("handle", "slack-refuses", test_handle_slack_refuses, NULL);
	table_add("handle", "slack-throttles-past-the-deadline",
		  test_handle_slack_throttles_past_the_deadline, NULL);
	table_add("handle", "slack-honours-retry-after", test_handle_slack_honours_retry_after, NULL);
	table_add("handle", "slack-keeps-a-margin", test_handle_slack_keeps_a_margin, NULL);
	failed |= table_run("build_monitor_handler");
	return failed;
}
