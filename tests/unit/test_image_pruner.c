/*
 * The image pruner: its pure plan by tables of cases; gathering, apply and
 * whole runs against a simulated account (EC2, Auto Scaling, SSM) answering
 * through the fake transport, with faults injected into every listing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_aws.h"
#include "image_pruner/image_pruner.h"
#include "lambda_internal.h"
#include "table.h"
#include "timeutil.h"
#include "banned.h"

#define NOW_S 1795737600LL /* 2026-11-27T00:00:00Z */

/* ---- building images for the plan tables ---- */

static char *next_token(const char **p, char sep)
{
	const char *s = *p, *end = strchr(s, sep);
	size_t len = end ? (size_t)(end - s) : strlen(s);

	*p = end ? end + 1 : s + len;
	return xstrndup(s, len);
}

/*
 * "id:age_hours[:state[:snap+snap]]" separated by spaces. The state defaults
 * to available, the snapshots to one named "s<id>"; an empty snapshot field
 * means none.
 */
static void make_images(const char *spec, struct ec2_image_list *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = spec; p && *p;) {
		char *tok = next_token(&p, ' ');
		char *field[4] = { NULL, NULL, NULL, NULL };
		size_t n = 1;
		const char *q = tok;
		struct ec2_image *image;
		struct buf date = BUF_INIT;

		for (const char *c = tok; *c; c++)
			n += *c == ':';
		assert_true(n >= 2 && n <= 4);
		for (size_t i = 0; i < n; i++)
			field[i] = next_token(&q, ':');

		out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
		image = &out->items[out->count++];
		memset(image, 0, sizeof(*image));
		image->id = xstrdup(field[0]);
		image->name = xstrdup("");
		image->state = xstrdup(field[2] && *field[2] ? field[2] : "available");
		image->creation_time = NOW_S - strtoll(field[1], NULL, 10) * 3600;
		time_format_iso8601(image->creation_time, &date);
		image->creation_date = buf_detach(&date);
		image->owner_id = xstrdup("123456789012");
		if (!field[3]) {
			struct buf s = BUF_INIT;
			buf_appendf(&s, "s%s", field[0]);
			image->snapshot_ids = xcalloc(1, sizeof(char *));
			image->snapshot_ids[image->snapshot_count++] = buf_detach(&s);
		} else {
			for (const char *r = field[3]; *r;) {
				size_t n = image->snapshot_count + 1;
				image->snapshot_ids = xrealloc(image->snapshot_ids, n * sizeof(char *));
				image->snapshot_ids[image->snapshot_count++] = next_token(&r, '+');
			}
		}
		for (size_t i = 0; i < 4; i++)
			free(field[i]);
		free(tok);
	}
}

/* "id=what|id=what" */
static void make_uses(const char *spec, struct id_note_list *out)
{
	for (const char *p = spec; p && *p;) {
		char *tok = next_token(&p, '|');
		char *eq = strchr(tok, '=');
		*eq = '\0';
		id_note_list_add(out, tok, eq + 1);
		free(tok);
	}
}

static void append_word(struct buf *b, const char *w)
{
	buf_appendf(b, "%s%s", b->len ? " " : "", w);
}

/* The plan as strings the tables compare with. */
static void render_plan(const struct image_pruner_plan *plan, struct buf *kept, struct buf *in_use,
			struct buf *deleted, struct buf *shared)
{
	for (size_t i = 0; i < plan->count; i++) {
		const struct image_pruner_decision *d = &plan->items[i];
		switch (d->action) {
		case IMAGE_PRUNER_KEEP:
			append_word(kept, d->image->id);
			assert_non_null(d->reason);
			break;
		case IMAGE_PRUNER_IN_USE:
			append_word(in_use, d->image->id);
			assert_non_null(d->reason);
			break;
		case IMAGE_PRUNER_DELETE:
			assert_null(d->reason);
			buf_appendf(deleted, "%s%s[", deleted->len ? " " : "", d->image->id);
			for (size_t j = 0; j < d->snapshots.count; j++)
				buf_appendf(deleted, "%s%s", j ? "," : "", d->snapshots.items[j]);
			buf_appendc(deleted, ']');
			for (size_t j = 0; j < d->shared_snapshots.count; j++)
				buf_appendf(shared, "%s%s:%s=%s", shared->len ? "|" : "",
					    d->image->id, d->shared_snapshots.items[j].id,
					    d->shared_snapshots.items[j].text);
			break;
		}
	}
}

struct plan_case {
	const char *name;
	const char *family;
	const char *others;	/* the account's images outside the family */
	const char *in_use;
	size_t keep;
	const char *want_kept, *want_in_use, *want_deleted;
	const char *want_shared;	/* NULL: none */
	const char *want_reasons;	/* "id=part of its reason|..." */
};

static const struct plan_case plan_cases[] = {
	{ "no-images", "", "", "", 5, "", "", "", NULL, NULL },
	{ "fewer-than-n", "a:1 b:2 c:3", "", "", 5, "a b c", "", "", NULL, "c=one of the newest 5" },
	{ "exactly-n", "a:1 b:2 c:3 d:4 e:5", "", "", 5, "a b c d e", "", "", NULL, NULL },
	{ "n-plus-one", "a:1 b:2 c:3 d:4 e:5 f:6", "", "", 5, "a b c d e", "", "f[sf]", NULL, NULL },
	{ "listed-oldest-first", "f:6 e:5 d:4 c:3 b:2 a:1", "", "", 5, "a b c d e", "", "f[sf]",
	  NULL, NULL },
	{ "keep-one", "c:3 a:1 b:2", "", "", 1, "a", "", "b[sb] c[sc]", NULL,
	  "a=one of the newest 1" },
	{ "keep-zero-still-keeps-one", "a:1 b:2", "", "", 0, "a", "", "b[sb]", NULL, NULL },
	{ "one-hour-apart", "a:100 b:101", "", "", 1, "a", "", "b[sb]", NULL, NULL },
	/* ties in creation time */
	{ "tie-at-the-boundary-is-kept", "a:1 c:2 b:2 d:3", "", "", 2, "a b c", "", "d[sd]", NULL,
	  "b=one of the newest 2|c=same time as the oldest of the newest 2" },
	{ "tie-below-the-boundary-goes-together", "a:1 b:2 d:3 c:3", "", "", 2, "a b", "",
	  "c[sc] d[sd]", NULL, NULL },
	{ "all-tied", "b:1 c:1 a:1", "", "", 1, "a b c", "", "", NULL, NULL },
	{ "tie-order-is-by-id", "b:1 a:1 c:2", "", "", 1, "a b", "", "c[sc]", NULL,
	  "a=one of the newest|b=same time" },
	/* only available images count */
	{ "pending-newest-does-not-count", "p:0:pending a:1 b:2 c:3", "", "", 2, "p a b", "",
	  "c[sc]", NULL, "p=state is 'pending'" },
	{ "failed-old-image-is-kept", "a:1 b:2 x:9:failed", "", "", 1, "a x", "", "b[sb]", NULL,
	  "x=state is 'failed'" },
	{ "only-unavailable-images", "p:1:pending q:2:failed r:3:disabled", "", "", 1, "p q r", "",
	  "", NULL, NULL },
	{ "n-available-among-unavailable", "a:1 p:2:pending b:3 f:4:failed", "", "", 2,
	  "a p b f", "", "", NULL, NULL },
	{ "deregistered-state-is-not-deleted-again", "a:1 b:2 z:3:deregistered", "", "", 2,
	  "a b z", "", "", NULL, NULL },
	/* in use */
	{ "old-image-in-use", "a:1 b:2 c:3 d:4", "", "c=instance i-1 (alice)", 2, "a b", "c",
	  "d[sd]", NULL, "c=instance i-1 (alice)" },
	{ "newest-in-use-is-simply-kept", "a:1 b:2 c:3", "", "a=instance i-1", 1, "a", "",
	  "b[sb] c[sc]", NULL, "a=one of the newest 1" },
	{ "use-of-an-image-outside-the-family", "a:1 b:2", "", "zz=instance i-1", 1, "a", "",
	  "b[sb]", NULL, NULL },
	{ "every-use-is-named", "a:1 b:2", "",
	  "b=instance i-1|b=instance i-2|b=launch template lt $Default (version 1)|b=instance i-3|"
	  "b=instance i-4",
	  1, "a", "b", "", NULL,
	  "b=instance i-1; instance i-2; launch template lt $Default (version 1); and 2 more" },
	{ "pending-in-use-reads-as-pending", "a:1 p:2:pending", "", "p=instance i-1", 1, "a p", "",
	  "", NULL, "p=state is 'pending'" },
	/* a listing that names an image twice must not push a newer one out */
	{ "duplicate-listing-counts-once", "a:1 a:1 b:2 c:3", "", "", 2, "a b", "", "c[sc]", NULL,
	  NULL },
	/* snapshots */
	{ "no-snapshots", "a:1 b:2::", "", "", 1, "a", "", "b[]", NULL, NULL },
	{ "several-snapshots", "a:1 b:2::x+y+z", "", "", 1, "a", "", "b[x,y,z]", NULL, NULL },
	{ "snapshot-listed-twice", "a:1 b:2::x+x", "", "", 1, "a", "", "b[x]", NULL, NULL },
	{ "shared-with-a-kept-image", "a:1::s1+s2 b:2::s2+s3", "", "", 1, "a", "", "b[s3]",
	  "b:s2=also used by a", NULL },
	{ "shared-with-an-in-use-image", "a:1 b:2::s1 c:3::s1", "", "c=instance i-1", 1, "a", "c",
	  "b[]", "b:s1=also used by c", NULL },
	{ "shared-with-a-pending-image", "a:1 b:2::s1 p:3:pending:s1", "", "", 1, "a p", "", "b[]",
	  "b:s1=also used by p", NULL },
	{ "shared-by-two-deleted-goes-with-the-later", "a:1 b:2::s1+s2 c:3::s2+s3", "", "", 1, "a",
	  "", "b[s1] c[s2,s3]", "b:s2=goes with c, which also uses it", NULL },
	{ "shared-by-three-deleted", "a:1 b:2::s c:3::s d:4::s", "", "", 1, "a", "",
	  "b[] c[] d[s]", "b:s=goes with d, which also uses it|c:s=goes with d, which also uses it",
	  NULL },
	{ "shared-with-an-image-outside-the-family", "a:1 b:2::s1+s2", "z:500::s2", "", 1, "a", "",
	  "b[s1]", "b:s2=also used by z", NULL },
	/* the account-wide listing holds the family too: a deleted image is no reason to keep */
	{ "own-listing-includes-the-family", "a:1 b:2::s1", "a:1 b:2::s1 z:9::zz", "", 1, "a", "",
	  "b[s1]", NULL, NULL },
	{ "shared-with-a-disabled-image-outside-the-family", "a:1 b:2::s1", "y:3:disabled:s1", "", 1, "a",
	  "", "b[]", "b:s1=also used by y", NULL },
};

static void check_reasons(const struct image_pruner_plan *plan, const char *spec, const char *row)
{
	for (const char *p = spec; p && *p;) {
		char *tok = next_token(&p, '|');
		char *eq = strchr(tok, '=');
		bool found = false;

		*eq = '\0';
		for (size_t i = 0; i < plan->count; i++) {
			if (strcmp(plan->items[i].image->id, tok))
				continue;
			found = true;
			if (!plan->items[i].reason || !strstr(plan->items[i].reason, eq + 1))
				fail_msg("%s: reason of %s is '%s', wanted '%s'", row, tok,
					 plan->items[i].reason ? plan->items[i].reason : "(null)",
					 eq + 1);
		}
		if (!found)
			fail_msg("%s: %s is not in the plan", row, tok);
		free(tok);
	}
}

static void test_plan(void **state)
{
	const struct plan_case *c = *state;
	struct ec2_image_list family, others;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct image_pruner_plan plan;
	struct buf kept = BUF_INIT, used = BUF_INIT, deleted = BUF_INIT, shared = BUF_INIT;

	make_images(c->family, &family);
	make_images(c->others, &others);
	make_uses(c->in_use, &in_use);
	image_pruner_plan(&family, &others, &in_use, c->keep, &plan);
	render_plan(&plan, &kept, &used, &deleted, &shared);
	assert_string_equal(buf_cstr(&kept), c->want_kept);
	assert_string_equal(buf_cstr(&used), c->want_in_use);
	assert_string_equal(buf_cstr(&deleted), c->want_deleted);
	assert_string_equal(buf_cstr(&shared), c->want_shared ? c->want_shared : "");
	check_reasons(&plan, c->want_reasons, c->name);
	/* every image of the family has exactly one decision */
	for (size_t i = 0; i < family.count; i++) {
		size_t n = 0;
		for (size_t j = 0; j < plan.count; j++)
			n += !strcmp(plan.items[j].image->id, family.items[i].id);
		assert_int_equal(n, 1);
	}
	{
		size_t words = 0;
		for (const char *w = buf_cstr(&deleted); *w; w++)
			words += *w == '[';
		assert_int_equal(image_pruner_plan_deletions(&plan), words);
	}
	image_pruner_plan_release(&plan);
	ec2_image_list_release(&family);
	ec2_image_list_release(&others);
	id_note_list_release(&in_use);
	buf_release(&kept);
	buf_release(&used);
	buf_release(&deleted);
	buf_release(&shared);
}

/* ---- a simulated account, answering through the fake transport ---- */

struct sim_image {
	const char *id;
	int age_hours;
	const char *state;
	const char *snaps;	/* space-separated */
	bool outside;		/* not of the family: only the account-wide listing has it */
};

struct sim_instance {
	const char *id, *image, *name, *state;
};

struct sim_version {
	const char *template_id, *template_name;
	long number;
	bool is_default;
	const char *image;	/* NULL: the version names no image */
	bool unlisted;		/* left out of the account-wide listing (created since) */
};

struct sim_group {
	const char *name;
	const char *launch_configuration;
	/* "id=lt-1", "name=devbox@$Latest", "id=lt-1@2" (no @: no Version element) */
	const char *template;
	const char *mixed_template;
	const char *override_template;
};

struct sim_config {
	const char *name, *image;
};

struct sim_param {
	const char *name, *value;
};

enum fault_kind {
	FAULT_NONE,
	FAULT_THROTTLE,
	FAULT_500,
	FAULT_MALFORMED,	/* a garbled 200 */
	FAULT_DENIED,
	FAULT_RESET,		/* the connection is lost */
	FAULT_LOST_500,		/* the action runs, then the answer is a 500 */
};

struct sim_fault {
	const char *action;
	enum fault_kind kind;
	int count;		/* how many calls fail */
	int skip;		/* matching calls let through first */
	int from_page;		/* only pages from this one (0 = the first) */
};

#define SIM_MAX 32

struct sim {
	const struct sim_image *images;
	size_t image_count;
	const struct sim_instance *instances;
	size_t instance_count;
	const struct sim_version *versions;
	size_t version_count;
	const struct sim_group *groups;
	size_t group_count;
	const struct sim_config *configs;
	size_t config_count;
	const struct sim_param *params;
	size_t param_count;
	size_t page_size;	/* 0: everything on one page */
	struct sim_fault faults[4];
	const char *refuse_image;	/* DeregisterImage of it is refused */
	const char *refuse_snapshot;	/* DeleteSnapshot of it is refused */
	const char *refuse_mark;	/* CreateTags naming this image is refused */
	bool in_use_before_dry_run;	/* DeleteSnapshot looks at uses before DryRun */
	/* snapshots an earlier run marked: "snap=ami snap=ami" (no image has them) */
	const char *leftovers;

	/* what happened */
	bool deregistered[SIM_MAX];
	struct buf deleted_snapshots;	/* "snap-1 snap-2 " */
	struct buf calls;		/* "DescribeImages DescribeImages ..." */
	int destructive_calls;		/* DeregisterImage and DeleteSnapshot, dry runs too */
	int dry_runs;
	struct buf marks;		/* CreateTags done: "snap=ami " */
	int mark_calls;			/* CreateTags, dry runs too */
};

/* The decoded value of a form parameter, or NULL. */
static char *form_param(const char *body, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = body; p; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, key, klen) || p[klen] != '=')
			continue;
		struct buf out = BUF_INIT;
		for (const char *v = p + klen + 1; *v && *v != '&'; v++) {
			if (*v == '%' && hex_digit(v[1]) >= 0 && hex_digit(v[2]) >= 0) {
				buf_appendc(&out, (char)(hex_digit(v[1]) * 16 + hex_digit(v[2])));
				v += 2;
			} else {
				buf_appendc(&out, *v);
			}
		}
		return buf_detach(&out);
	}
	return NULL;
}

static bool form_present(const char *body, const char *key)
{
	char *v = form_param(body, key);

	free(v);
	return v != NULL;
}

static bool form_has(const char *body, const char *key, const char *value)
{
	char *v = form_param(body, key);
	bool yes = v && !strcmp(v, value);

	free(v);
	return yes;
}

/* Whether any "<prefix>N" parameter has this value. */
static bool form_list_has(const char *body, const char *prefix, const char *value)
{
	for (int i = 1; i < 100; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%s%d", prefix, i);
		char *v = form_param(body, key);
		if (!v)
			return false;
		bool yes = !strcmp(v, value);
		free(v);
		if (yes)
			return true;
	}
	return false;
}

static bool image_uses(const struct sim_image *image, const char *snap)
{
	size_t len = strlen(snap);

	for (const char *p = image->snaps; p && *p;) {
		size_t n = strcspn(p, " ");
		if (n == len && !strncmp(p, snap, len))
			return true;
		p += n + (p[n] == ' ');
	}
	return false;
}

static bool snapshot_deleted(const struct sim *sim, const char *snap)
{
	struct buf word = BUF_INIT;
	bool yes;

	buf_appendf(&word, "%s ", snap);
	yes = strstr(buf_cstr(&sim->deleted_snapshots), buf_cstr(&word)) != NULL;
	buf_release(&word);
	return yes;
}

/* The image the snapshot's marker names (the latest marking wins), or NULL. */
static char *snapshot_mark(const struct sim *sim, const char *snap)
{
	char *found = NULL;
	size_t len = strlen(snap);

	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass ? buf_cstr(&sim->marks) : sim->leftovers;
		while (p && *p) {
			size_t n = strcspn(p, " ");
			const char *eq = memchr(p, '=', n);
			if (eq && (size_t)(eq - p) == len && !strncmp(p, snap, len)) {
				free(found);
				found = xstrndup(eq + 1, n - len - 1);
			}
			p += n + (p[n] == ' ');
		}
	}
	return found;
}

static int sim_error(struct http_response *resp, bool query, long status, const char *code,
		     const char *message)
{
	resp->status = status;
	if (query)
		buf_appendf(&resp->body, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>"
					 "<Message>%s</Message></Error><RequestId>r</RequestId>"
					 "</ErrorResponse>", code, message);
	else
		buf_appendf(&resp->body, "<Response><Errors><Error><Code>%s</Code><Message>%s"
					 "</Message></Error></Errors><RequestID>r</RequestID></Response>",
			    code, message);
	return 0;
}

/* Items of one listing; the sim serves them a page at a time. */
struct items {
	struct buf item[64];
	size_t count;
};

static struct buf *items_add(struct items *it)
{
	assert_true(it->count < ARRAY_SIZE(it->item));
	return &it->item[it->count++];
}

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->count; i++)
		buf_release(&it->item[i]);
}

static size_t page_start(const char *body)
{
	char *token = form_param(body, "NextToken");
	size_t start = token ? strtoul(token + strlen("tok"), NULL, 10) : 0;

	free(token);
	return start;
}

/* Appends items [start, start + page) inside open/close, then the next token. */
static void serve_page(const struct sim *sim, const char *body, const struct items *it,
		       const char *open, const char *close, const char *token_tag,
		       const char *end, struct http_response *resp)
{
	size_t start = page_start(body);
	size_t stop = sim->page_size ? start + sim->page_size : it->count;

	if (stop > it->count)
		stop = it->count;
	resp->status = 200;
	buf_appends(&resp->body, open);
	for (size_t i = start; i < stop; i++)
		buf_appendv(&resp->body, buf_view(&it->item[i]));
	buf_appends(&resp->body, close);
	if (stop < it->count)
		buf_appendf(&resp->body, "<%s>tok%zu</%s>", token_tag, stop, token_tag);
	buf_appends(&resp->body, end);
}

static void describe_images(struct sim *sim, const char *body, struct http_response *resp)
{
	/* the family listing is the one with filters; the sim does not evaluate them */
	bool family = form_present(body, "Filter.1.Name");
	struct items it = { 0 };

	for (size_t i = 0; i < sim->image_count; i++) {
		const struct sim_image *im = &sim->images[i];
		struct buf date = BUF_INIT;

		if (sim->deregistered[i] || (family && im->outside))
			continue;
		time_format_iso8601(NOW_S - (int64_t)im->age_hours * 3600, &date);
		date.len--; /* "...Z" -> "....000Z", as EC2 writes it */
		buf_appends(&date, ".000Z");
		struct buf *b = items_add(&it);
		buf_appendf(b, "<item><imageId>%s</imageId><imageState>%s</imageState>"
			       "<creationDate>%s</creationDate><imageOwnerId>123456789012</imageOwnerId>"
			       "<name>name-%s</name><blockDeviceMapping>",
			    im->id, im->state ? im->state : "available", buf_cstr(&date), im->id);
		char device = 'a';
		for (const char *p = im->snaps; p && *p; device++) {
			size_t n = strcspn(p, " ");
			buf_appendf(b, "<item><deviceName>/dev/xvd%c</deviceName><ebs><snapshotId>%.*s"
				       "</snapshotId></ebs></item>", device, (int)n, p);
			p += n + (p[n] == ' ');
		}
		buf_appends(b, "</blockDeviceMapping><tagSet/></item>");
		buf_release(&date);
	}
	serve_page(sim, body, &it, "<DescribeImagesResponse><requestId>r</requestId><imagesSet>",
		   "</imagesSet>", "nextToken", "</DescribeImagesResponse>", resp);
	items_release(&it);
}

static void describe_instances(struct sim *sim, const char *body, struct http_response *resp)
{
	bool filtered = form_present(body, "Filter.1.Name");
	struct items it = { 0 };

	for (size_t i = 0; i < sim->instance_count; i++) {
		const struct sim_instance *in = &sim->instances[i];

		/* the one filter the pruner sends: instance-state-name */
		if (filtered && !form_list_has(body, "Filter.1.Value.", in->state))
			continue;
		struct buf *b = items_add(&it);
		buf_appendf(b, "<item><instanceId>%s</instanceId><imageId>%s</imageId>"
			       "<instanceState><name>%s</name></instanceState>"
			       "<instanceType>t3.large</instanceType><tagSet>",
			    in->id, in->image, in->state);
		if (in->name)
			buf_appendf(b, "<item><key>Name</key><value>%s</value></item>", in->name);
		buf_appends(b, "</tagSet></item>");
	}
	serve_page(sim, body, &it,
		   "<DescribeInstancesResponse><requestId>r</requestId><reservationSet><item>"
		   "<reservationId>r-1</reservationId><instancesSet>",
		   "</instancesSet></item></reservationSet>", "nextToken",
		   "</DescribeInstancesResponse>", resp);
	items_release(&it);
}

static long sim_latest(const struct sim *sim, const char *template_id)
{
	long latest = 0;

	for (size_t i = 0; i < sim->version_count; i++)
		if (!strcmp(sim->versions[i].template_id, template_id) &&
		    sim->versions[i].number > latest)
			latest = sim->versions[i].number;
	return latest;
}

static void version_item(const struct sim_version *v, struct buf *b)
{
	buf_appendf(b, "<item><launchTemplateId>%s</launchTemplateId>"
		       "<launchTemplateName>%s</launchTemplateName><versionNumber>%ld</versionNumber>"
		       "<defaultVersion>%s</defaultVersion><launchTemplateData>",
		    v->template_id, v->template_name, v->number, v->is_default ? "true" : "false");
	if (v->image)
		buf_appendf(b, "<imageId>%s</imageId>", v->image);
	buf_appends(b, "</launchTemplateData></item>");
}

static int describe_versions(struct sim *sim, const char *body, struct http_response *resp)
{
	char *id = form_param(body, "LaunchTemplateId");
	char *name = form_param(body, "LaunchTemplateName");
	bool want_default = form_list_has(body, "LaunchTemplateVersion.", "$Default");
	bool want_latest = form_list_has(body, "LaunchTemplateVersion.", "$Latest");
	struct items it = { 0 };
	bool template_found = false;

	for (size_t i = 0; i < sim->version_count; i++) {
		const struct sim_version *v = &sim->versions[i];
		char number[24];

		if (id || name) {
			if (id ? strcmp(id, v->template_id) : strcmp(name, v->template_name))
				continue;
			template_found = true;
		} else if (v->unlisted) {
			continue;
		}
		snprintf(number, sizeof(number), "%ld", v->number);
		if ((want_default && v->is_default) ||
		    (want_latest && v->number == sim_latest(sim, v->template_id)) ||
		    form_list_has(body, "LaunchTemplateVersion.", number))
			version_item(v, items_add(&it));
	}
	if ((id || name) && !template_found) {
		sim_error(resp, false, 400,
			  id ? "InvalidLaunchTemplateId.NotFound"
			     : "InvalidLaunchTemplateName.NotFoundException",
			  "no such launch template");
	} else if ((id || name) && !it.count) {
		sim_error(resp, false, 400, "InvalidLaunchTemplateId.VersionNotFound",
			  "no such version");
	} else {
		serve_page(sim, body, &it,
			   "<DescribeLaunchTemplateVersionsResponse><requestId>r</requestId>"
			   "<launchTemplateVersionSet>",
			   "</launchTemplateVersionSet>", "nextToken",
			   "</DescribeLaunchTemplateVersionsResponse>", resp);
	}
	items_release(&it);
	free(id);
	free(name);
	return 0;
}

/* "id=lt-1@2" -> <LaunchTemplateId>lt-1</LaunchTemplateId><Version>2</Version> */
static void template_spec(const char *spec, struct buf *b)
{
	const char *eq = strchr(spec, '='), *at = strchr(spec, '@');
	int len = (int)(at ? (size_t)(at - eq - 1) : strlen(eq + 1));

	if (!strncmp(spec, "id=", 3))
		buf_appendf(b, "<LaunchTemplateId>%.*s</LaunchTemplateId>", len, eq + 1);
	else
		buf_appendf(b, "<LaunchTemplateName>%.*s</LaunchTemplateName>", len, eq + 1);
	if (at)
		buf_appendf(b, "<Version>%s</Version>", at + 1);
}

static void describe_groups(struct sim *sim, const char *body, struct http_response *resp)
{
	struct items it = { 0 };

	for (size_t i = 0; i < sim->group_count; i++) {
		const struct sim_group *g = &sim->groups[i];
		struct buf *b = items_add(&it);

		buf_appendf(b, "<member><AutoScalingGroupName>%s</AutoScalingGroupName><MinSize>0"
			       "</MinSize><MaxSize>4</MaxSize><DesiredCapacity>1</DesiredCapacity>",
			    g->name);
		if (g->launch_configuration)
			buf_appendf(b, "<LaunchConfigurationName>%s</LaunchConfigurationName>",
				    g->launch_configuration);
		if (g->template) {
			buf_appends(b, "<LaunchTemplate>");
			template_spec(g->template, b);
			buf_appends(b, "</LaunchTemplate>");
		}
		if (g->mixed_template) {
			buf_appends(b, "<MixedInstancesPolicy><LaunchTemplate>"
				       "<LaunchTemplateSpecification>");
			template_spec(g->mixed_template, b);
			buf_appends(b, "</LaunchTemplateSpecification><Overrides>"
				       "<member><InstanceType>t3.large</InstanceType></member>");
			if (g->override_template) {
				buf_appends(b, "<member><InstanceType>m5.large</InstanceType>"
					       "<LaunchTemplateSpecification>");
				template_spec(g->override_template, b);
				buf_appends(b, "</LaunchTemplateSpecification></member>");
			}
			buf_appends(b, "</Overrides></LaunchTemplate></MixedInstancesPolicy>");
		}
		buf_appends(b, "<Instances/></member>");
	}
	serve_page(sim, body, &it,
		   "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
		   "<AutoScalingGroups>",
		   "</AutoScalingGroups>", "NextToken",
		   "</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId>"
		   "</ResponseMetadata></DescribeAutoScalingGroupsResponse>",
		   resp);
	items_release(&it);
}

static void describe_configs(struct sim *sim, const char *body, struct http_response *resp)
{
	struct items it = { 0 };

	for (size_t i = 0; i < sim->config_count; i++)
		if (form_list_has(body, "LaunchConfigurationNames.member.", sim->configs[i].name))
			buf_appendf(items_add(&it),
				    "<member><LaunchConfigurationName>%s</LaunchConfigurationName>"
				    "<ImageId>%s</ImageId></member>",
				    sim->configs[i].name, sim->configs[i].image);
	serve_page(sim, body, &it,
		   "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>"
		   "<LaunchConfigurations>",
		   "</LaunchConfigurations>", "NextToken",
		   "</DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>",
		   resp);
	items_release(&it);
}

static void get_parameter(struct sim *sim, const char *body, struct http_response *resp)
{
	for (size_t i = 0; i < sim->param_count; i++) {
		struct buf want = BUF_INIT;
		bool match;

		buf_appendf(&want, "\"Name\":\"%s\"", sim->params[i].name);
		match = strstr(body, buf_cstr(&want)) != NULL;
		buf_release(&want);
		if (match) {
			assert_non_null(strstr(body, "\"WithDecryption\":false"));
			resp->status = 200;
			buf_appendf(&resp->body, "{\"Parameter\":{\"Name\":\"%s\",\"Type\":\"String\","
						 "\"Value\":\"%s\",\"Version\":1}}",
				    sim->params[i].name, sim->params[i].value);
			return;
		}
	}
	resp->status = 400;
	buf_appends(&resp->body, "{\"__type\":\"ParameterNotFound\",\"message\":\"\"}");
}

static int deregister_image(struct sim *sim, const char *body, struct http_response *resp)
{
	char *id = form_param(body, "ImageId");

	assert_non_null(id);
	sim->destructive_calls++;
	if (form_has(body, "DryRun", "true")) {
		sim->dry_runs++;
		sim_error(resp, false, 412, "DryRunOperation", "would have succeeded");
		goto out;
	}
	if (sim->refuse_image && !strcmp(id, sim->refuse_image)) {
		sim_error(resp, false, 403, "UnauthorizedOperation", "not allowed");
		goto out;
	}
	for (size_t i = 0; i < sim->image_count; i++) {
		if (strcmp(sim->images[i].id, id) || sim->deregistered[i])
			continue;
		sim->deregistered[i] = true;
		resp->status = 200;
		buf_appends(&resp->body, "<DeregisterImageResponse><requestId>r</requestId><return>"
					 "true</return></DeregisterImageResponse>");
		goto out;
	}
	sim_error(resp, false, 400, "InvalidAMIID.NotFound", "no such image");
out:
	free(id);
	return 0;
}

static int delete_snapshot(struct sim *sim, const char *body, struct http_response *resp)
{
	char *id = form_param(body, "SnapshotId");
	bool exists = false;

	assert_non_null(id);
	sim->destructive_calls++;
	for (size_t i = 0; sim->in_use_before_dry_run && i < sim->image_count; i++) {
		if (image_uses(&sim->images[i], id) && !sim->deregistered[i]) {
			struct buf msg = BUF_INIT;
			buf_appendf(&msg, "The snapshot %s is currently in use by %s", id,
				    sim->images[i].id);
			sim_error(resp, false, 400, "InvalidSnapshot.InUse", buf_cstr(&msg));
			buf_release(&msg);
			goto out;
		}
	}
	if (form_has(body, "DryRun", "true")) {
		sim->dry_runs++;
		sim_error(resp, false, 412, "DryRunOperation", "would have succeeded");
		goto out;
	}
	if (sim->refuse_snapshot && !strcmp(id, sim->refuse_snapshot)) {
		sim_error(resp, false, 403, "UnauthorizedOperation", "not allowed");
		goto out;
	}
	for (size_t i = 0; i < sim->image_count; i++) {
		if (!image_uses(&sim->images[i], id))
			continue;
		exists = true;
		if (!sim->deregistered[i]) {
			/* as EC2: a snapshot behind a registered image cannot go */
			sim_error(resp, false, 400, "InvalidSnapshot.InUse", "in use by an image");
			goto out;
		}
	}
	if (!exists) {
		char *mark = snapshot_mark(sim, id);
		exists = mark != NULL;
		free(mark);
	}
	if (!exists || snapshot_deleted(sim, id)) {
		sim_error(resp, false, 400, "InvalidSnapshot.NotFound", "no such snapshot");
		goto out;
	}
	buf_appendf(&sim->deleted_snapshots, "%s ", id);
	resp->status = 200;
	buf_appends(&resp->body, "<DeleteSnapshotResponse><requestId>r</requestId><return>true"
				 "</return></DeleteSnapshotResponse>");
out:
	free(id);
	return 0;
}

/* Every snapshot of the account that carries a marker, deleted ones excepted. */
static void describe_snapshots(struct sim *sim, const char *body, struct http_response *resp)
{
	struct items it = { 0 };
	struct buf seen = BUF_INIT;

	assert_true(form_has(body, "Owner.1", "self"));
	assert_true(form_has(body, "Filter.1.Name", "tag-key"));
	assert_true(form_has(body, "Filter.1.Value.1", IMAGE_PRUNER_MARKER_TAG));
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass ? buf_cstr(&sim->marks) : sim->leftovers;
		while (p && *p) {
			size_t n = strcspn(p, " ");
			char *snap = xstrndup(p, strcspn(p, "="));
			struct buf word = BUF_INIT;

			buf_appendf(&word, " %s ", snap);
			if (!snapshot_deleted(sim, snap) && !strstr(buf_cstr(&seen), buf_cstr(&word))) {
				char *mark = snapshot_mark(sim, snap);
				buf_appendf(&seen, " %s ", snap);
				buf_appendf(items_add(&it),
					    "<item><snapshotId>%s</snapshotId><ownerId>123456789012"
					    "</ownerId><tagSet><item><key>%s</key><value>%s</value>"
					    "</item></tagSet></item>",
					    snap, IMAGE_PRUNER_MARKER_TAG, mark);
				free(mark);
			}
			buf_release(&word);
			free(snap);
			p += n + (p[n] == ' ');
		}
	}
	serve_page(sim, body, &it,
		   "<DescribeSnapshotsResponse><requestId>r</requestId><snapshotSet>",
		   "</snapshotSet>", "nextToken", "</DescribeSnapshotsResponse>", resp);
	items_release(&it);
	buf_release(&seen);
}

static void create_tags(struct sim *sim, const char *body, struct http_response *resp)
{
	char *value = form_param(body, "Tag.1.Value");

	assert_true(form_has(body, "Tag.1.Key", IMAGE_PRUNER_MARKER_TAG));
	assert_non_null(value);
	sim->mark_calls++;
	if (form_has(body, "DryRun", "true")) {
		sim_error(resp, false, 412, "DryRunOperation", "would have succeeded");
	} else if (sim->refuse_mark && !strcmp(value, sim->refuse_mark)) {
		sim_error(resp, false, 403, "UnauthorizedOperation", "not allowed");
	} else {
		for (int i = 1;; i++) {
			char key[32];
			snprintf(key, sizeof(key), "ResourceId.%d", i);
			char *snap = form_param(body, key);
			if (!snap)
				break;
			buf_appendf(&sim->marks, "%s=%s ", snap, value);
			free(snap);
		}
		resp->status = 200;
		buf_appends(&resp->body, "<CreateTagsResponse><requestId>r</requestId><return>true"
					 "</return></CreateTagsResponse>");
	}
	free(value);
}

/* A fault rule that matches this call (and is used up by it), or NULL. */
static struct sim_fault *matching_fault(struct sim *sim, const char *action, size_t page)
{
	for (size_t i = 0; i < ARRAY_SIZE(sim->faults); i++) {
		struct sim_fault *f = &sim->faults[i];

		if (!f->action || strcmp(f->action, action) || f->count <= 0 ||
		    page < (size_t)f->from_page)
			continue;
		if (f->skip > 0) {
			f->skip--;
			continue;
		}
		f->count--;
		return f;
	}
	return NULL;
}

static int sim_fault(const struct sim_fault *f, bool ssm, bool query, struct http_response *resp)
{
	switch (f->kind) {
	case FAULT_THROTTLE:
		if (ssm) {
			resp->status = 400;
			buf_appends(&resp->body, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate "
						 "exceeded\"}");
			return 0;
		}
		return query ? sim_error(resp, true, 400, "Throttling", "Rate exceeded")
			     : sim_error(resp, false, 503, "RequestLimitExceeded", "Request limit "
										  "exceeded.");
	case FAULT_500:
		resp->status = 500;
		buf_appends(&resp->body, ssm ? "{\"__type\":\"InternalServerError\"}"
					     : "<Response><Errors><Error><Code>InternalError</Code>"
					       "<Message>oops</Message></Error></Errors></Response>");
		return 0;
	case FAULT_MALFORMED:
		resp->status = 200;
		buf_appends(&resp->body, ssm ? "{\"Parameter\": " : "<DescribeImagesResponse><images");
		return 0;
	case FAULT_DENIED:
		if (ssm) {
			resp->status = 400;
			buf_appends(&resp->body, "{\"__type\":\"AccessDeniedException\",\"message\":\"no\"}");
			return 0;
		}
		return query ? sim_error(resp, true, 403, "AccessDenied", "not authorized")
			     : sim_error(resp, false, 403, "UnauthorizedOperation", "not authorized");
	case FAULT_RESET:
		/* the connection went away: a transport error */
		return ERR_HTTP;
	case FAULT_NONE:
	case FAULT_LOST_500:
		break;
	}
	return 0;
}

static int sim_respond(struct fake_aws *f, const struct http_request *req,
		       struct http_response *resp)
{
	struct sim *sim = f->user;
	const char *body = req->body.ptr ? req->body.ptr : "";
	bool ssm = body[0] == '{';
	char *action = ssm ? xstrdup("GetParameter") : form_param(body, "Action");
	bool query = !ssm && strstr(req->url, "autoscaling") != NULL;
	const struct sim_fault *fault;
	int err = 0;

	assert_non_null(action);
	buf_appendf(&sim->calls, "%s%s", sim->calls.len ? " " : "", action);
	if (!query && !ssm)
		assert_non_null(strstr(req->url, "ec2"));
	fault = matching_fault(sim, action,
			       ssm ? 0 : page_start(body) / (sim->page_size ? sim->page_size : 1));
	if (fault && fault->kind != FAULT_LOST_500)
		err = sim_fault(fault, ssm, query, resp);
	else if (!strcmp(action, "DescribeImages"))
		describe_images(sim, body, resp);
	else if (!strcmp(action, "DescribeInstances"))
		describe_instances(sim, body, resp);
	else if (!strcmp(action, "DescribeLaunchTemplateVersions"))
		describe_versions(sim, body, resp);
	else if (!strcmp(action, "DescribeAutoScalingGroups"))
		describe_groups(sim, body, resp);
	else if (!strcmp(action, "DescribeLaunchConfigurations"))
		describe_configs(sim, body, resp);
	else if (!strcmp(action, "GetParameter"))
		get_parameter(sim, body, resp);
	else if (!strcmp(action, "DeregisterImage"))
		deregister_image(sim, body, resp);
	else if (!strcmp(action, "DeleteSnapshot"))
		delete_snapshot(sim, body, resp);
	else if (!strcmp(action, "DescribeSnapshots"))
		describe_snapshots(sim, body, resp);
	else if (!strcmp(action, "CreateTags"))
		create_tags(sim, body, resp);
	else
		fail_msg("unexpected action %s", action);
	if (fault && fault->kind == FAULT_LOST_500) {
		/* it acted; the client hears of a failure */
		buf_reset(&resp->body);
		resp->status = 500;
		buf_appends(&resp->body, "<Response><Errors><Error><Code>InternalError</Code>"
					 "<Message>oops</Message></Error></Errors></Response>");
	}
	free(action);
	return err;
}

/* ---- the account the gathering, apply and run tests share ---- */

/*
 * Thirteen images of the family and one outside it; with 3 kept:
 *  01-03 newest, 12 pending: kept;
 *  04 instance, 07 template $Default, 08 template via SSM, 09 group's
 *  numbered version, 10 launch configuration, 11 mixed-instances override
 *  of a template the account-wide listing missed: in use;
 *  05, 06 (its shared snapshot stays for 99), 13 (its instance is
 *  terminated): deleted.
 */
static const struct sim_image account_images[] = {
	{ "ami-01", 1, NULL, "snap-01", false },
	{ "ami-02", 2, NULL, "snap-02", false },
	{ "ami-03", 3, NULL, "snap-03", false },
	{ "ami-04", 4, NULL, "snap-04", false },
	{ "ami-05", 5, NULL, "snap-05a snap-05b", false },
	{ "ami-06", 6, NULL, "snap-06 snap-shared", false },
	{ "ami-07", 7, NULL, "snap-07", false },
	{ "ami-08", 8, NULL, "snap-08", false },
	{ "ami-09", 9, NULL, "snap-09", false },
	{ "ami-10", 10, NULL, "snap-10", false },
	{ "ami-11", 11, NULL, "snap-11", false },
	{ "ami-12", 12, "pending", "snap-12", false },
	{ "ami-13", 13, NULL, "snap-13", false },
	{ "ami-99", 100, NULL, "snap-99 snap-shared", true },
};

static const struct sim_instance account_instances[] = {
	{ "i-1", "ami-04", "alice", "stopped" },
	{ "i-2", "ami-01", NULL, "running" },
	{ "i-9", "ami-13", "gone", "terminated" },
};

static const struct sim_version account_versions[] = {
	{ "lt-1", "devbox", 1, true, "ami-07", false },
	{ "lt-1", "devbox", 2, false, "ami-09", false },
	{ "lt-1", "devbox", 3, false, "ami-01", false },
	{ "lt-2", "golden", 1, true, "resolve:ssm:/devcloud/golden-ami", false },
	{ "lt-3", "spot", 1, true, "ami-11", true },
	{ "lt-4", "bare", 1, true, NULL, false },
};

static const struct sim_group account_groups[] = {
	{ "drone-agents", NULL, "id=lt-1@2", NULL, NULL },
	{ "drone-agents-b", NULL, "id=lt-1@2", NULL, NULL },
	{ "old-group", "old-agents", NULL, NULL, NULL },
	{ "mixed", NULL, NULL, "name=devbox@$Latest", "name=spot" },
	{ "bare", NULL, "name=bare", NULL, NULL },
	/* a numbered version the account-wide listing holds: no lookup */
	{ "pinned", NULL, "id=lt-1@3", NULL, NULL },
};

static const struct sim_config account_configs[] = {
	{ "old-agents", "ami-10" },
	{ "unused", "ami-05" },
};

static const struct sim_param account_params[] = {
	{ "/devcloud/golden-ami", "ami-08" },
};

static void sim_account(struct sim *sim)
{
	memset(sim, 0, sizeof(*sim));
	sim->images = account_images;
	sim->image_count = ARRAY_SIZE(account_images);
	sim->instances = account_instances;
	sim->instance_count = ARRAY_SIZE(account_instances);
	sim->versions = account_versions;
	sim->version_count = ARRAY_SIZE(account_versions);
	sim->groups = account_groups;
	sim->group_count = ARRAY_SIZE(account_groups);
	sim->configs = account_configs;
	sim->config_count = ARRAY_SIZE(account_configs);
	sim->params = account_params;
	sim->param_count = ARRAY_SIZE(account_params);
}

struct rig {
	struct fake_aws fake;
	struct sim sim;
	struct aws_client *aws;
};

static void rig_start(struct rig *r, int max_attempts)
{
	fake_aws_init(&r->fake);
	r->fake.respond = sim_respond;
	r->fake.user = &r->sim;
	r->aws = fake_aws_client(&r->fake, max_attempts);
}

static void rig_release(struct rig *r)
{
	aws_client_free(r->aws);
	fake_aws_release(&r->fake);
	buf_release(&r->sim.deleted_snapshots);
	buf_release(&r->sim.calls);
	buf_release(&r->sim.marks);
}

static size_t count_calls(const struct sim *sim, const char *action)
{
	size_t n = 0, len = strlen(action);

	for (const char *p = buf_cstr(&sim->calls); *p;) {
		size_t w = strcspn(p, " ");
		n += w == len && !strncmp(p, action, len);
		p += w + (p[w] == ' ');
	}
	return n;
}

static bool sim_unchanged(const struct sim *sim)
{
	for (size_t i = 0; i < SIM_MAX; i++)
		if (sim->deregistered[i])
			return false;
	return sim->deleted_snapshots.len == 0 && sim->marks.len == 0;
}

static void render_uses(const struct id_note_list *in_use, struct buf *out)
{
	for (size_t i = 0; i < in_use->count; i++)
		buf_appendf(out, "%s=%s\n", in_use->items[i].id, in_use->items[i].text);
}

/* ---- gathering ---- */

static void test_find_uses_reads_every_user(void **state)
{
	struct rig r;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct buf msg = BUF_INIT, got = BUF_INIT;

	(void)state;
	sim_account(&r.sim);
	rig_start(&r, 1);
	assert_int_equal(image_pruner_find_uses(r.aws, &in_use, &msg), 0);
	render_uses(&in_use, &got);
	assert_string_equal(
		buf_cstr(&got),
		"ami-04=instance i-1 (alice)\n"
		"ami-01=instance i-2\n"
		"ami-07=launch template devbox $Default (version 1)\n"
		"ami-01=launch template devbox $Latest (version 3)\n"
		"ami-08=launch template golden $Default and $Latest (version 1) via SSM parameter "
		"/devcloud/golden-ami\n"
		"ami-09=Auto Scaling group drone-agents (launch template devbox version 2)\n"
		"ami-09=Auto Scaling group drone-agents-b (launch template devbox version 2)\n"
		"ami-01=Auto Scaling group mixed (launch template devbox $Latest, version 3)\n"
		"ami-11=Auto Scaling group mixed (launch template spot $Default, version 1)\n"
		"ami-01=Auto Scaling group pinned (launch template devbox version 3)\n"
		"ami-10=Auto Scaling group old-group (launch configuration old-agents)\n");
	assert_string_equal(buf_cstr(&msg), "");
	/* the account-wide listing, lt-1 version 2 once for both groups, spot's $Default */
	assert_int_equal(count_calls(&r.sim, "DescribeLaunchTemplateVersions"), 3);
	assert_int_equal(count_calls(&r.sim, "DescribeInstances"), 1);
	assert_int_equal(count_calls(&r.sim, "DescribeAutoScalingGroups"), 1);
	assert_int_equal(count_calls(&r.sim, "DescribeLaunchConfigurations"), 1);
	assert_int_equal(count_calls(&r.sim, "GetParameter"), 1);
	/* every state but terminated was asked for */
	static const char *const states[] = { "pending", "running", "shutting-down", "stopping",
					      "stopped" };
	for (size_t i = 0; i < ARRAY_SIZE(states); i++)
		assert_true(form_list_has(buf_cstr(&r.fake.bodies[0]), "Filter.1.Value.",
					  states[i]));
	assert_false(form_list_has(buf_cstr(&r.fake.bodies[0]), "Filter.1.Value.", "terminated"));
	assert_true(form_has(buf_cstr(&r.fake.bodies[0]), "Filter.1.Name", "instance-state-name"));
	/* only the launch configuration the groups name */
	assert_true(fake_aws_body_has(&r.fake, r.fake.calls - 2,
				      "LaunchConfigurationNames.member.1=old-agents"));
	assert_false(fake_aws_body_has(&r.fake, r.fake.calls - 2, "member.2"));
	id_note_list_release(&in_use);
	buf_release(&msg);
	buf_release(&got);
	rig_release(&r);
}

static void test_find_uses_on_small_pages(void **state)
{
	struct rig r;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct buf msg = BUF_INIT;

	(void)state;
	sim_account(&r.sim);
	r.sim.page_size = 1;
	rig_start(&r, 1);
	assert_int_equal(image_pruner_find_uses(r.aws, &in_use, &msg), 0);
	/* one page per item, and a last one of each */
	assert_int_equal(count_calls(&r.sim, "DescribeInstances"), 2);
	assert_int_equal(count_calls(&r.sim, "DescribeAutoScalingGroups"), 6);
	assert_non_null(id_note_list_find(&in_use, "ami-10"));
	assert_non_null(id_note_list_find(&in_use, "ami-11"));
	assert_int_equal(in_use.count, 11);
	id_note_list_release(&in_use);
	buf_release(&msg);
	rig_release(&r);
}

static void test_list_family_and_own(void **state)
{
	struct rig r;
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct ec2_image_list family = EC2_IMAGE_LIST_INIT, own = EC2_IMAGE_LIST_INIT;
	struct buf msg = BUF_INIT;

	(void)state;
	sim_account(&r.sim);
	r.sim.page_size = 4;
	rig_start(&r, 1);
	assert_int_equal(ec2_filters_parse("tag:devcloud:role=devbox-image", "IMAGE_FILTERS",
					   &filters, &msg), 0);
	assert_int_equal(image_pruner_list_family(r.aws, &filters, &family, &msg), 0);
	assert_int_equal(image_pruner_list_own(r.aws, &own, &msg), 0);
	assert_int_equal(family.count, 13);
	assert_int_equal(own.count, 14);
	assert_int_equal(count_calls(&r.sim, "DescribeImages"), 4 + 4);
	/* the family: ours, deprecated ones too, by the filters */
	const char *first = buf_cstr(&r.fake.bodies[0]);
	assert_true(form_has(first, "Owner.1", "self"));
	assert_true(form_has(first, "IncludeDeprecated", "true"));
	assert_true(form_has(first, "Filter.1.Name", "tag:devcloud:role"));
	assert_true(form_has(first, "Filter.1.Value.1", "devbox-image"));
	/* every own image, disabled ones too, for the snapshot check */
	const char *all = buf_cstr(&r.fake.bodies[4]);
	assert_true(form_has(all, "Owner.1", "self"));
	assert_true(form_has(all, "IncludeDeprecated", "true"));
	assert_true(form_has(all, "IncludeDisabled", "true"));
	assert_null(strstr(all, "Filter."));
	assert_true(form_has(buf_cstr(&r.fake.bodies[5]), "NextToken", "tok4"));
	ec2_filters_release(&filters);
	ec2_image_list_release(&family);
	ec2_image_list_release(&own);
	buf_release(&msg);
	rig_release(&r);
}

struct gather_fault_case {
	const char *name;
	struct sim_fault fault;
	size_t page_size;
	const char *want_msg;
	const struct sim_param *params;	/* NULL: the account's */
	const struct sim_config *configs;	/* NULL: the account's */
};

static const struct sim_config no_configs[] = { { "other", "ami-01" } };
static const struct sim_param wrong_params[] = { { "/elsewhere", "ami-01" } };
static const struct sim_param empty_params[] = { { "/devcloud/golden-ami", " " } };

static const struct gather_fault_case gather_faults[] = {
	{ "instances-throttled", { "DescribeInstances", FAULT_THROTTLE, 1, 0, 0 }, 0,
	  "cannot list the instances: RequestLimitExceeded", NULL, NULL },
	{ "instances-page-2-malformed", { "DescribeInstances", FAULT_MALFORMED, 1, 0, 1 }, 1,
	  "cannot list the instances: malformed response", NULL, NULL },
	{ "templates-500", { "DescribeLaunchTemplateVersions", FAULT_500, 1, 0, 0 }, 0,
	  "cannot list the launch templates' $Default and $Latest versions: InternalError", NULL,
	  NULL },
	{ "templates-page-3-throttled", { "DescribeLaunchTemplateVersions", FAULT_THROTTLE, 1, 0, 2 },
	  1, "cannot list the launch templates' $Default and $Latest versions", NULL, NULL },
	{ "version-lookup-denied", { "DescribeLaunchTemplateVersions", FAULT_DENIED, 1, 1, 0 }, 0,
	  "cannot look up launch template 'lt-1' version 2 of Auto Scaling group 'drone-agents': "
	  "UnauthorizedOperation",
	  NULL, NULL },
	{ "groups-throttled", { "DescribeAutoScalingGroups", FAULT_THROTTLE, 1, 0, 0 }, 0,
	  "cannot list the Auto Scaling groups: Throttling: Rate exceeded", NULL, NULL },
	{ "groups-denied", { "DescribeAutoScalingGroups", FAULT_DENIED, 1, 0, 0 }, 0,
	  "cannot list the Auto Scaling groups: AccessDenied", NULL, NULL },
	{ "groups-page-4-500", { "DescribeAutoScalingGroups", FAULT_500, 1, 0, 3 }, 1,
	  "cannot list the Auto Scaling groups", NULL, NULL },
	{ "configurations-500", { "DescribeLaunchConfigurations", FAULT_500, 1, 0, 0 }, 0,
	  "cannot list the launch configurations: InternalError", NULL, NULL },
	{ "configuration-missing", { NULL, FAULT_NONE, 0, 0, 0 }, 0,
	  "launch configuration 'old-agents' of Auto Scaling group 'old-group' was not found", NULL,
	  no_configs },
	{ "parameter-throttled", { "GetParameter", FAULT_THROTTLE, 1, 0, 0 }, 0,
	  "cannot read SSM parameter '/devcloud/golden-ami' (the image of launch template golden "
	  "$Default and $Latest (version 1)): ThrottlingException",
	  NULL, NULL },
	{ "parameter-denied", { "GetParameter", FAULT_DENIED, 1, 0, 0 }, 0,
	  "cannot read SSM parameter '/devcloud/golden-ami'", NULL, NULL },
	{ "parameter-missing", { NULL, FAULT_NONE, 0, 0, 0 }, 0,
	  "cannot read SSM parameter '/devcloud/golden-ami' (the image of launch template golden "
	  "$Default and $Latest (version 1)): ParameterNotFound",
	  wrong_params, NULL },
	{ "parameter-empty", { NULL, FAULT_NONE, 0, 0, 0 }, 0,
	  "SSM parameter '/devcloud/golden-ami' (the image of launch template golden $Default and "
	  "$Latest (version 1)) is empty",
	  empty_params, NULL },
};

/* Any failure leaves in_use empty, and the message names the listing. */
static void test_find_uses_fails_closed(void **state)
{
	const struct gather_fault_case *c = *state;
	struct rig r;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct buf msg = BUF_INIT;

	sim_account(&r.sim);
	r.sim.faults[0] = c->fault;
	r.sim.page_size = c->page_size;
	if (c->params)
		r.sim.params = c->params;
	if (c->configs) {
		r.sim.configs = c->configs;
		r.sim.config_count = 1;
	}
	rig_start(&r, 1);
	assert_int_not_equal(image_pruner_find_uses(r.aws, &in_use, &msg), 0);
	assert_int_equal(in_use.count, 0);
	if (!strstr(buf_cstr(&msg), c->want_msg))
		fail_msg("message '%s' lacks '%s'", buf_cstr(&msg), c->want_msg);
	/* the fault rule fired (or the account was odd to begin with) */
	assert_int_equal(r.sim.faults[0].count, 0);
	id_note_list_release(&in_use);
	buf_release(&msg);
	rig_release(&r);
}

static void test_find_uses_missing_template_version_fails(void **state)
{
	static const struct sim_group groups[] = { { "g", NULL, "name=devbox@7", NULL, NULL } };
	struct rig r;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct buf msg = BUF_INIT;

	(void)state;
	sim_account(&r.sim);
	r.sim.groups = groups;
	r.sim.group_count = 1;
	rig_start(&r, 1);
	assert_int_not_equal(image_pruner_find_uses(r.aws, &in_use, &msg), 0);
	assert_int_equal(in_use.count, 0);
	assert_non_null(strstr(buf_cstr(&msg), "cannot look up launch template 'devbox' version 7 "
					       "of Auto Scaling group 'g': "
					       "InvalidLaunchTemplateId.VersionNotFound"));
	id_note_list_release(&in_use);
	buf_release(&msg);
	rig_release(&r);
}
/* ---- whole runs: gather, plan, apply ---- */

#define ACCOUNT_RESULT                                                                        \
	"{\"deleted\":[{\"image\":\"ami-05\",\"snapshots\":[\"snap-05a\",\"snap-05b\"]},"     \
	"{\"image\":\"ami-06\",\"snapshots\":[\"snap-06\"]},"                                 \
	"{\"image\":\"ami-13\",\"snapshots\":[\"snap-13\"]}],"                                \
	"\"kept\":[\"ami-01\",\"ami-02\",\"ami-03\",\"ami-12\"],"                             \
	"\"in_use\":[\"ami-04\",\"ami-07\",\"ami-08\",\"ami-09\",\"ami-10\",\"ami-11\"],"     \
	"\"failed\":[],\"swept\":[],\"dry_run\":%s}"

struct run {
	struct rig rig;
	struct ec2_filter_list filters;
	struct lambda_response resp;
};

static void run_prune(struct run *run, int max_attempts, size_t keep, bool dry_run)
{
	struct image_pruner_options opts = { &run->filters, keep, dry_run };
	struct buf msg = BUF_INIT;

	rig_start(&run->rig, max_attempts);
	memset(&run->resp, 0, sizeof(run->resp));
	memset(&run->filters, 0, sizeof(run->filters));
	assert_int_equal(ec2_filters_parse("tag:devcloud:role=devbox-image", "IMAGE_FILTERS",
					   &run->filters, &msg), 0);
	opts.filters = &run->filters;
	image_pruner_run(run->rig.aws, &opts, &run->resp);
	buf_release(&msg);
}

static void run_release(struct run *run)
{
	lambda_response_release(&run->resp);
	ec2_filters_release(&run->filters);
	rig_release(&run->rig);
}

static void assert_payload(const struct run *run, const char *fmt, const char *dry_run)
{
	struct buf want = BUF_INIT;

	buf_appendf(&want, fmt, dry_run);
	assert_string_equal(buf_cstr(&run->resp.payload), buf_cstr(&want));
	buf_release(&want);
}

static void assert_account_pruned(const struct sim *sim)
{
	for (size_t i = 0; i < sim->image_count; i++) {
		const char *id = sim->images[i].id;
		bool gone = !strcmp(id, "ami-05") || !strcmp(id, "ami-06") || !strcmp(id, "ami-13");
		if (sim->deregistered[i] != gone)
			fail_msg("%s is %s", id, sim->deregistered[i] ? "gone" : "still there");
	}
	assert_string_equal(buf_cstr(&sim->deleted_snapshots), "snap-05a snap-05b snap-06 snap-13 ");
}

static void test_run_prunes_the_account(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run_prune(&run, 1, 3, false);
	assert_false(run.resp.failed);
	assert_payload(&run, ACCOUNT_RESULT, "false");
	assert_account_pruned(&run.rig.sim);
	assert_int_equal(run.rig.sim.destructive_calls, 3 + 4);
	/* each image's snapshots were marked before it was deregistered */
	assert_int_equal(run.rig.sim.mark_calls, 3);
	assert_string_equal(buf_cstr(&run.rig.sim.marks),
			    "snap-05a=ami-05 snap-05b=ami-05 snap-06=ami-06 snap-13=ami-13 ");
	/* every listing came before the first deletion */
	const char *calls = buf_cstr(&run.rig.sim.calls);
	const char *first = strstr(calls, "CreateTags");
	assert_non_null(first);
	assert_non_null(strstr(first, "CreateTags DeregisterImage DeleteSnapshot DeleteSnapshot "
				      "CreateTags DeregisterImage"));
	assert_true(strstr(calls, "DescribeSnapshots") < first);
	assert_null(strstr(first, "Describe"));
	assert_null(strstr(first, "GetParameter"));
	assert_int_equal(count_calls(&run.rig.sim, "DescribeImages"), 2);
	run_release(&run);
}

static void test_run_on_small_pages(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.page_size = 2;
	run_prune(&run, 1, 3, false);
	assert_payload(&run, ACCOUNT_RESULT, "false");
	assert_account_pruned(&run.rig.sim);
	/* 13 family images on 7 pages, then 14 own ones on 7 */
	assert_int_equal(count_calls(&run.rig.sim, "DescribeImages"), 7 + 7);
	run_release(&run);
}

static void test_run_dry_run_changes_nothing(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run_prune(&run, 1, 3, true);
	assert_false(run.resp.failed);
	assert_payload(&run, ACCOUNT_RESULT, "true");
	assert_true(sim_unchanged(&run.rig.sim));
	/* both calls went, each with DryRun, and so did the markings */
	assert_int_equal(run.rig.sim.destructive_calls, 7);
	assert_int_equal(run.rig.sim.dry_runs, 7);
	assert_int_equal(run.rig.sim.mark_calls, 3);
	run_release(&run);
}

/* EC2 may look at a snapshot's uses before DryRun: the image a dry run keeps registered */
static void test_run_dry_run_with_snapshots_still_in_use(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.in_use_before_dry_run = true;
	run_prune(&run, 1, 3, true);
	assert_false(run.resp.failed);
	assert_payload(&run, ACCOUNT_RESULT, "true");
	assert_true(sim_unchanged(&run.rig.sim));
	run_release(&run);
}

static void test_run_with_nothing_to_delete_lists_only_the_family(void **state)
{
	static const size_t keeps[] = { 12, 13, 1000 };

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(keeps); k++) {
		struct run run;
		sim_account(&run.rig.sim);
		run_prune(&run, 1, keeps[k], false);
		assert_false(run.resp.failed);
		assert_string_equal(buf_cstr(&run.rig.sim.calls), "DescribeImages DescribeSnapshots");
		assert_non_null(strstr(buf_cstr(&run.resp.payload), "\"deleted\":[],"));
		assert_non_null(strstr(buf_cstr(&run.resp.payload), "\"in_use\":[],\"failed\":[]"));
		run_release(&run);
	}
	/* one more than the available ones: one deletion, after every listing */
	struct run run;
	sim_account(&run.rig.sim);
	run_prune(&run, 1, 11, false);
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "\"deleted\":[{\"image\":\"ami-13\",\"snapshots\":[\"snap-13\"]}]"));
	assert_int_equal(count_calls(&run.rig.sim, "DescribeAutoScalingGroups"), 1);
	run_release(&run);
}

static void test_run_on_an_empty_account(void **state)
{
	struct run run;

	(void)state;
	memset(&run.rig.sim, 0, sizeof(run.rig.sim));
	run_prune(&run, 1, 5, false);
	assert_false(run.resp.failed);
	assert_string_equal(buf_cstr(&run.resp.payload),
			    "{\"deleted\":[],\"kept\":[],\"in_use\":[],\"failed\":[],\"swept\":[],"
			    "\"dry_run\":false}");
	assert_string_equal(buf_cstr(&run.rig.sim.calls), "DescribeImages DescribeSnapshots");
	run_release(&run);
}

struct run_fault_case {
	const char *name;
	struct sim_fault fault;
	size_t page_size;
	int max_attempts;
	const char *want_msg;
};

static const struct run_fault_case run_faults[] = {
	{ "family-throttled", { "DescribeImages", FAULT_THROTTLE, 1, 0, 0 }, 0, 1,
	  "cannot list the images (tag:devcloud:role=devbox-image): RequestLimitExceeded" },
	{ "family-500-after-retries", { "DescribeImages", FAULT_500, 3, 0, 0 }, 0, 3,
	  "cannot list the images (tag:devcloud:role=devbox-image): InternalError" },
	{ "family-reset", { "DescribeImages", FAULT_RESET, 1, 0, 0 }, 0, 1,
	  "cannot list the images" },
	{ "family-page-2-malformed", { "DescribeImages", FAULT_MALFORMED, 1, 0, 1 }, 2, 1,
	  "cannot list the images (tag:devcloud:role=devbox-image): malformed response" },
	{ "family-last-page-reset", { "DescribeImages", FAULT_RESET, 1, 0, 6 }, 2, 1,
	  "cannot list the images (tag:devcloud:role=devbox-image)" },
	{ "marked-snapshots-throttled", { "DescribeSnapshots", FAULT_THROTTLE, 1, 0, 0 }, 0, 1,
	  "cannot list the snapshots marked devcloud:deregistered-image: RequestLimitExceeded" },
	{ "marked-snapshots-page-2-malformed", { "DescribeSnapshots", FAULT_MALFORMED, 1, 0, 1 },
	  1, 1, "cannot list the snapshots marked devcloud:deregistered-image: malformed" },
	{ "own-images-denied", { "DescribeImages", FAULT_DENIED, 1, 1, 0 }, 0, 1,
	  "cannot list the account's own images: UnauthorizedOperation" },
	/* the family's pages 3-7 go through, then the own listing's third page fails */
	{ "own-images-page-3-throttled", { "DescribeImages", FAULT_THROTTLE, 1, 5, 2 }, 2, 1,
	  "cannot list the account's own images: RequestLimitExceeded" },
	{ "instances-throttled", { "DescribeInstances", FAULT_THROTTLE, 1, 0, 0 }, 0, 1,
	  "cannot list the instances: RequestLimitExceeded" },
	{ "instances-page-2-reset", { "DescribeInstances", FAULT_RESET, 1, 0, 1 }, 1, 1,
	  "cannot list the instances" },
	{ "templates-500", { "DescribeLaunchTemplateVersions", FAULT_500, 3, 0, 0 }, 0, 3,
	  "cannot list the launch templates' $Default and $Latest versions: InternalError" },
	{ "template-lookup-denied", { "DescribeLaunchTemplateVersions", FAULT_DENIED, 1, 1, 0 }, 0,
	  1, "cannot look up launch template 'lt-1' version 2" },
	{ "groups-denied", { "DescribeAutoScalingGroups", FAULT_DENIED, 1, 0, 0 }, 0, 1,
	  "cannot list the Auto Scaling groups: AccessDenied" },
	{ "groups-page-3-malformed", { "DescribeAutoScalingGroups", FAULT_MALFORMED, 1, 0, 2 }, 1,
	  1, "cannot list the Auto Scaling groups: malformed response" },
	{ "configurations-throttled", { "DescribeLaunchConfigurations", FAULT_THROTTLE, 1, 0, 0 },
	  0, 1, "cannot list the launch configurations: Throttling" },
	{ "parameter-throttled", { "GetParameter", FAULT_THROTTLE, 1, 0, 0 }, 0, 1,
	  "cannot read SSM parameter '/devcloud/golden-ami'" },
	{ "parameter-malformed", { "GetParameter", FAULT_MALFORMED, 1, 0, 0 }, 0, 1,
	  "cannot read SSM parameter '/devcloud/golden-ami'" },
};

/* A failed, throttled or incomplete listing never leads to a deletion. */
static void test_run_fails_closed(void **state)
{
	const struct run_fault_case *c = *state;
	struct run run;
	const char *msg;

	sim_account(&run.rig.sim);
	/* what an earlier run left: not swept either */
	run.rig.sim.leftovers = "snap-l1=ami-0d snap-l2=ami-0e";
	run.rig.sim.faults[0] = c->fault;
	run.rig.sim.page_size = c->page_size;
	run_prune(&run, c->max_attempts, 3, false);
	assert_true(run.resp.failed);
	assert_string_equal(run.resp.error_type, "ImagePruner.ListFailed");
	msg = buf_cstr(&run.resp.error_message);
	if (!strstr(msg, c->want_msg))
		fail_msg("message '%s' lacks '%s'", msg, c->want_msg);
	assert_non_null(strstr(msg, "; nothing was deleted"));
	assert_int_equal(run.rig.sim.faults[0].count, 0);
	assert_int_equal(run.rig.sim.destructive_calls, 0);
	assert_null(strstr(buf_cstr(&run.rig.sim.calls), "DeregisterImage"));
	assert_null(strstr(buf_cstr(&run.rig.sim.calls), "DeleteSnapshot"));
	assert_true(sim_unchanged(&run.rig.sim));
	assert_string_equal(buf_cstr(&run.resp.payload), "");
	run_release(&run);
}

static const struct sim_fault passing_faults[] = {
	{ "DescribeImages", FAULT_THROTTLE, 2, 0, 0 },
	{ "DescribeInstances", FAULT_THROTTLE, 2, 0, 0 },
	{ "DescribeLaunchTemplateVersions", FAULT_500, 2, 0, 0 },
	{ "DescribeAutoScalingGroups", FAULT_THROTTLE, 2, 0, 0 },
	{ "DescribeLaunchConfigurations", FAULT_RESET, 2, 0, 0 },
	{ "GetParameter", FAULT_THROTTLE, 2, 0, 0 },
	{ "DeregisterImage", FAULT_THROTTLE, 2, 0, 0 },
	{ "DeleteSnapshot", FAULT_500, 2, 0, 0 },
	{ "CreateTags", FAULT_THROTTLE, 2, 0, 0 },
	{ "DescribeSnapshots", FAULT_RESET, 2, 0, 0 },
};

/* Throttling that clears within the retries changes nothing in the outcome. */
static void test_run_throttle_that_clears(void **state)
{
	const struct sim_fault *f = *state;
	struct run run;

	sim_account(&run.rig.sim);
	run.rig.sim.faults[0] = *f;
	run_prune(&run, 3, 3, false);
	assert_false(run.resp.failed);
	assert_payload(&run, ACCOUNT_RESULT, "false");
	assert_account_pruned(&run.rig.sim);
	assert_int_equal(run.rig.sim.faults[0].count, 0);
	assert_int_equal(run.rig.fake.sleeps, 2);
	run_release(&run);
}

static void test_apply_refused_deregistration(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.refuse_image = "ami-05";
	run_prune(&run, 1, 3, false);
	assert_true(run.resp.failed);
	assert_string_equal(run.resp.error_type, "ImagePruner.ImagesNotDeleted");
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "1 deletion failed: ami-05 (UnauthorizedOperation: not allowed)");
	/* the others went on; ami-05's snapshots were left alone */
	assert_string_equal(buf_cstr(&run.resp.payload),
			    "{\"deleted\":[{\"image\":\"ami-06\",\"snapshots\":[\"snap-06\"]},"
			    "{\"image\":\"ami-13\",\"snapshots\":[\"snap-13\"]}],"
			    "\"kept\":[\"ami-01\",\"ami-02\",\"ami-03\",\"ami-12\"],"
			    "\"in_use\":[\"ami-04\",\"ami-07\",\"ami-08\",\"ami-09\",\"ami-10\","
			    "\"ami-11\"],\"failed\":[{\"image\":\"ami-05\",\"error\":"
			    "\"UnauthorizedOperation: not allowed\"}],\"swept\":[],\"dry_run\":false}");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-06 snap-13 ");
	assert_int_equal(count_calls(&run.rig.sim, "DeleteSnapshot"), 2);
	run_release(&run);
}

static void test_apply_refused_snapshot(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.refuse_snapshot = "snap-05a";
	run_prune(&run, 1, 3, false);
	assert_true(run.resp.failed);
	assert_string_equal(run.resp.error_type, "ImagePruner.ImagesNotDeleted");
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "1 deletion failed: snap-05a of ami-05 (UnauthorizedOperation: not allowed)");
	/* the image is deleted, with the snapshots that went */
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "{\"image\":\"ami-05\",\"snapshots\":[\"snap-05b\"]}"));
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "\"failed\":[{\"image\":\"ami-05\",\"snapshot\":\"snap-05a\","
			       "\"error\":\"UnauthorizedOperation: not allowed\"}]"));
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-05b snap-06 snap-13 ");
	run_release(&run);
}

static const struct sim_image chain_images[] = {
	{ "ami-a", 1, NULL, "snap-a", false },
	{ "ami-b", 2, NULL, "snap-b snap-x", false },
	{ "ami-c", 3, NULL, "snap-x snap-c", false },
};

/* A snapshot two deleted images share goes after both, never while one still uses it. */
static void test_apply_snapshot_shared_by_two_deleted(void **state)
{
	struct run run;

	(void)state;
	memset(&run.rig.sim, 0, sizeof(run.rig.sim));
	run.rig.sim.images = chain_images;
	run.rig.sim.image_count = ARRAY_SIZE(chain_images);
	run_prune(&run, 1, 1, false);
	assert_false(run.resp.failed);
	assert_string_equal(buf_cstr(&run.resp.payload),
			    "{\"deleted\":[{\"image\":\"ami-b\",\"snapshots\":[\"snap-b\"]},"
			    "{\"image\":\"ami-c\",\"snapshots\":[\"snap-x\",\"snap-c\"]}],"
			    "\"kept\":[\"ami-a\"],\"in_use\":[],\"failed\":[],\"swept\":[],"
			    "\"dry_run\":false}");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-b snap-x snap-c ");
	run_release(&run);

	/* if the later image cannot go, the shared snapshot is not even tried */
	memset(&run.rig.sim, 0, sizeof(run.rig.sim));
	run.rig.sim.images = chain_images;
	run.rig.sim.image_count = ARRAY_SIZE(chain_images);
	run.rig.sim.refuse_image = "ami-c";
	run_prune(&run, 1, 1, false);
	assert_true(run.resp.failed);
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-b ");
	assert_int_equal(count_calls(&run.rig.sim, "DeleteSnapshot"), 1);
	run_release(&run);
}

static const struct sim_image blocked_images[] = {
	{ "ami-a", 1, NULL, "snap-a", false },
	{ "ami-b", 2, NULL, "snap-b snap-x", false },
	{ "ami-c", 3, NULL, "snap-c", false },
	{ "ami-d", 4, NULL, "snap-x snap-d", false },
};

/* An earlier image that could not go still uses the snapshot: it stays. */
static void test_apply_refused_image_keeps_its_shared_snapshot(void **state)
{
	struct run run;

	(void)state;
	memset(&run.rig.sim, 0, sizeof(run.rig.sim));
	run.rig.sim.images = blocked_images;
	run.rig.sim.image_count = ARRAY_SIZE(blocked_images);
	run.rig.sim.refuse_image = "ami-b";
	run_prune(&run, 1, 1, false);
	assert_true(run.resp.failed);
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "1 deletion failed: ami-b (UnauthorizedOperation: not allowed)");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-c snap-d ");
	assert_int_equal(count_calls(&run.rig.sim, "DeleteSnapshot"), 2);
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "{\"image\":\"ami-d\",\"snapshots\":[\"snap-d\"]}"));
	run_release(&run);
}

static void test_result_json_failures_and_counts(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.refuse_image = "ami-13";
	run.rig.sim.refuse_snapshot = "snap-06";
	run_prune(&run, 1, 3, false);
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "2 deletions failed: snap-06 of ami-06 (UnauthorizedOperation: not "
			    "allowed); ami-13 (UnauthorizedOperation: not allowed)");
	run_release(&run);
}

/* ---- the sweep: marked snapshots an earlier run left ---- */

/* "snap=image snap=image snap" (no '=': no marker at all) */
static void make_marked(const char *spec, struct ec2_snapshot_list *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = spec; p && *p;) {
		char *tok = next_token(&p, ' ');
		char *eq = strchr(tok, '=');
		struct ec2_snapshot *snap;

		out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
		snap = &out->items[out->count++];
		memset(snap, 0, sizeof(*snap));
		if (eq)
			*eq = '\0';
		snap->id = xstrdup(tok);
		snap->owner_id = xstrdup("123456789012");
		if (eq) {
			snap->tags = xcalloc(1, sizeof(*snap->tags));
			snap->tags[0].key = xstrdup(IMAGE_PRUNER_MARKER_TAG);
			snap->tags[0].value = xstrdup(eq + 1);
			snap->tag_count = 1;
		}
		free(tok);
	}
}

struct sweep_case {
	const char *name;
	const char *marked;	/* make_marked() */
	const char *own;	/* make_images(): every image the account still has */
	const char *want_deleted;	/* "snap(image) ..." */
	const char *want_kept;		/* "snap: reason|..." */
};

static const struct sweep_case sweep_cases[] = {
	{ "nothing-marked", "", "ami-1:1", "", "" },
	{ "image-gone", "s1=ami-9", "ami-1:1", "s1(ami-9)", "" },
	{ "image-gone-no-images-left", "s1=ami-9 s2=ami-9", "", "s1(ami-9) s2(ami-9)", "" },
	/* a run that failed before deregistering: the plan deletes it again */
	{ "image-still-registered", "s1=ami-1", "ami-1:1:available:s1",
	  "", "s1: its image ami-1 is still registered" },
	{ "registered-image-not-using-it", "s1=ami-1", "ami-1:1:available:",
	  "", "s1: its image ami-1 is still registered" },
	{ "used-by-another-image", "sx=ami-9", "ami-1:1:available:s1+sx",
	  "", "sx: also used by ami-1" },
	{ "used-by-a-deprecated-or-pending-one", "sx=ami-9", "ami-2:1:pending:sx",
	  "", "sx: also used by ami-2" },
	{ "mixed", "s1=ami-9 sx=ami-9 s3=ami-3 s4=ami-8", "ami-3:1:available:s3 ami-4:2:failed:sx",
	  "s1(ami-9) s4(ami-8)",
	  "sx: also used by ami-4|s3: its image ami-3 is still registered" },
	{ "listed-twice", "s1=ami-9 s1=ami-9", "", "s1(ami-9)", "" },
	{ "marker-without-value", "s1=", "", "", "s1: its marker names no image ('')" },
	{ "marker-not-an-image", "s1=i-0abc", "", "", "s1: its marker names no image ('i-0abc')" },
	{ "marker-junk-after-id", "s1=ami-9;x", "", "", "s1: its marker names no image ('ami-9;x')" },
	{ "no-marker-at-all", "s1", "", "", "s1: its marker names no image ('')" },
};

static void test_sweep_plan(void **state)
{
	const struct sweep_case *c = *state;
	struct ec2_snapshot_list marked;
	struct ec2_image_list own;
	struct image_pruner_sweep sweep;
	struct buf deleted = BUF_INIT, kept = BUF_INIT;

	make_marked(c->marked, &marked);
	make_images(c->own, &own);
	image_pruner_plan_sweep(&marked, &own, &sweep);
	for (size_t i = 0; i < sweep.count; i++) {
		const struct image_pruner_sweep_decision *d = &sweep.items[i];
		if (d->delete) {
			assert_null(d->reason);
			buf_appendf(&deleted, "%s%s(%s)", deleted.len ? " " : "", d->snapshot->id,
				    d->image);
		} else {
			assert_non_null(d->reason);
			buf_appendf(&kept, "%s%s: %s", kept.len ? "|" : "", d->snapshot->id,
				    d->reason);
		}
	}
	assert_string_equal(buf_cstr(&deleted), c->want_deleted);
	assert_string_equal(buf_cstr(&kept), c->want_kept);
	image_pruner_sweep_release(&sweep);
	ec2_snapshot_list_release(&marked);
	ec2_image_list_release(&own);
	buf_release(&deleted);
	buf_release(&kept);
}

/* Leftovers of an earlier run go, even when the family has nothing to delete. */
static void test_run_sweeps_leftovers(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	/* l1's image is gone; 07 is still registered; 99 still uses snap-99 */
	run.rig.sim.leftovers = "snap-l1=ami-0d snap-07=ami-07 snap-99=ami-0e snap-l2=ami-0d";
	run_prune(&run, 1, 1000, false);
	assert_false(run.resp.failed);
	assert_string_equal(buf_cstr(&run.rig.sim.calls),
			    "DescribeImages DescribeSnapshots DescribeImages DeleteSnapshot "
			    "DeleteSnapshot");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-l1 snap-l2 ");
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "\"swept\":[{\"snapshot\":\"snap-l1\",\"image\":\"ami-0d\"},"
			       "{\"snapshot\":\"snap-l2\",\"image\":\"ami-0d\"}]"));
	run_release(&run);

	/* with deletions too: the sweep goes first, then the plan */
	sim_account(&run.rig.sim);
	run.rig.sim.leftovers = "snap-l1=ami-0d";
	run_prune(&run, 1, 3, false);
	assert_false(run.resp.failed);
	assert_string_equal(buf_cstr(&run.rig.sim.calls),
			    "DescribeImages DescribeSnapshots DescribeImages DescribeInstances "
			    "DescribeLaunchTemplateVersions DescribeAutoScalingGroups "
			    "DescribeLaunchTemplateVersions DescribeLaunchTemplateVersions "
			    "DescribeLaunchConfigurations GetParameter DeleteSnapshot CreateTags "
			    "DeregisterImage DeleteSnapshot DeleteSnapshot CreateTags DeregisterImage "
			    "DeleteSnapshot CreateTags DeregisterImage DeleteSnapshot");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots),
			    "snap-l1 snap-05a snap-05b snap-06 snap-13 ");
	run_release(&run);

	/* a dry run says what it would sweep, and deletes nothing */
	sim_account(&run.rig.sim);
	run.rig.sim.leftovers = "snap-l1=ami-0d";
	run_prune(&run, 1, 1000, true);
	assert_false(run.resp.failed);
	assert_true(sim_unchanged(&run.rig.sim));
	assert_int_equal(run.rig.sim.dry_runs, 1);
	assert_non_null(strstr(buf_cstr(&run.resp.payload),
			       "\"swept\":[{\"snapshot\":\"snap-l1\",\"image\":\"ami-0d\"}],"
			       "\"dry_run\":true"));
	run_release(&run);
}

/* A refused sweep deletion is a failure naming the snapshot; the rest goes on. */
static void test_run_refused_sweep(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.leftovers = "snap-l1=ami-0d snap-l2=ami-0d";
	run.rig.sim.refuse_snapshot = "snap-l1";
	run_prune(&run, 1, 3, false);
	assert_true(run.resp.failed);
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "1 deletion failed: snap-l1 of ami-0d (UnauthorizedOperation: not "
			    "allowed)");
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots),
			    "snap-l2 snap-05a snap-05b snap-06 snap-13 ");
	run_release(&run);
}

/*
 * An action that went through but whose answer was lost (the client saw a
 * 500 and retried): the run ends as if nothing had gone wrong.
 */
static const struct sim_fault lost_answers[] = {
	{ "CreateTags", FAULT_LOST_500, 1, 0, 0 },
	{ "DeregisterImage", FAULT_LOST_500, 1, 0, 0 },
	{ "DeleteSnapshot", FAULT_LOST_500, 1, 0, 0 },
};

static void test_run_lost_answer_is_done(void **state)
{
	const struct sim_fault *f = *state;
	struct run run;

	sim_account(&run.rig.sim);
	run.rig.sim.faults[0] = *f;
	run_prune(&run, 3, 3, false);
	assert_false(run.resp.failed);
	assert_payload(&run, ACCOUNT_RESULT, "false");
	assert_account_pruned(&run.rig.sim);
	assert_int_equal(run.rig.sim.faults[0].count, 0);
	run_release(&run);
}

/* The answer lost past every retry: this run fails, the next one finishes. */
static void test_run_lost_answers_repaired_next_run(void **state)
{
	const struct sim_fault *f = *state;
	struct run run;
	struct sim after;

	sim_account(&run.rig.sim);
	run.rig.sim.faults[0] = *f;
	run.rig.sim.faults[0].count = 100;
	run_prune(&run, 2, 3, false);
	assert_true(run.resp.failed);
	/* the next run, on the account as this one left it */
	after = run.rig.sim;
	after.deleted_snapshots = (struct buf)BUF_INIT;
	after.marks = (struct buf)BUF_INIT;
	after.calls = (struct buf)BUF_INIT;
	buf_appendv(&after.deleted_snapshots, buf_view(&run.rig.sim.deleted_snapshots));
	buf_appendv(&after.marks, buf_view(&run.rig.sim.marks));
	memset(after.faults, 0, sizeof(after.faults));
	run_release(&run);
	run.rig.sim = after;
	run.rig.sim.leftovers = NULL;
	run_prune(&run, 1, 3, false);
	assert_false(run.resp.failed);
	assert_account_pruned(&run.rig.sim);
	run_release(&run);
}

/* A refused marking: the image is not deregistered, so nothing can be orphaned. */
static void test_apply_refused_marking(void **state)
{
	struct run run;

	(void)state;
	sim_account(&run.rig.sim);
	run.rig.sim.refuse_mark = "ami-06";
	run_prune(&run, 1, 3, false);
	assert_true(run.resp.failed);
	assert_string_equal(buf_cstr(&run.resp.error_message),
			    "1 deletion failed: ami-06 (cannot mark its snapshots: "
			    "UnauthorizedOperation: not allowed)");
	assert_int_equal(count_calls(&run.rig.sim, "DeregisterImage"), 2);
	assert_string_equal(buf_cstr(&run.rig.sim.deleted_snapshots), "snap-05a snap-05b snap-13 ");
	run_release(&run);
}

/* ---- configuration and events (refused before any call) ---- */

static void set_env(const char *filters, const char *max, const char *dry_run)
{
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret-test-key", 1);
	/* nothing listens there: a test that reached the network would fail */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	if (filters)
		setenv("IMAGE_FILTERS", filters, 1);
	else
		unsetenv("IMAGE_FILTERS");
	if (max)
		setenv("MAX_IMAGES_COUNT", max, 1);
	else
		unsetenv("MAX_IMAGES_COUNT");
	if (dry_run)
		setenv("DRY_RUN", dry_run, 1);
	else
		unsetenv("DRY_RUN");
}

static void test_init_refuses_bad_settings(void **state)
{
	static const struct {
		const char *filters, *max, *dry_run, *want;
	} rows[] = {
		{ NULL, "0", NULL, "MAX_IMAGES_COUNT" },
		{ NULL, "1001", NULL, "MAX_IMAGES_COUNT" },
		{ NULL, "-1", NULL, "MAX_IMAGES_COUNT" },
		{ NULL, "five", NULL, "MAX_IMAGES_COUNT" },
		{ "tag:devcloud:role", NULL, NULL, "IMAGE_FILTERS" },
		{ " ; ", NULL, NULL, "IMAGE_FILTERS" },
		{ NULL, NULL, "yes", "DRY_RUN" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct buf msg = BUF_INIT;
		void *s = (void *)1;
		set_env(rows[i].filters, rows[i].max, rows[i].dry_run);
		assert_int_not_equal(image_pruner_init(&s, &msg), 0);
		assert_null(s);
		if (!strstr(buf_cstr(&msg), rows[i].want))
			fail_msg("row %zu: '%s'", i, buf_cstr(&msg));
		buf_release(&msg);
	}
	struct buf msg = BUF_INIT;
	void *s = NULL;
	set_env(NULL, "1000", "true");
	assert_int_equal(image_pruner_init(&s, &msg), 0);
	image_pruner_release(s);
	set_env(NULL, "1", NULL);
	assert_int_equal(image_pruner_init(&s, &msg), 0);
	image_pruner_release(s);
	buf_release(&msg);
}

static void test_bad_events_are_refused(void **state)
{
	static const struct {
		const char *event, *want;
	} rows[] = {
		{ "{\"dry_runn\": true}", "dry_runn" },
		{ "{\"dry_run\": \"true\"}", "dry_run" },
		{ "{\"max_images_count\": 0}",
		  "event key 'max_images_count' (0) cannot be below MAX_IMAGES_COUNT (5) in the "
		  "function's configuration" },
		{ "{\"max_images_count\": 4}", "'max_images_count' (4) cannot be below" },
		{ "{\"max_images_count\": 1001}",
		  "event key 'max_images_count' must be a whole number from 5 to 1000, got 1001" },
		{ "{\"max_images_count\": -3}", "max_images_count" },
		{ "{\"max_images_count\": 2.5}", "max_images_count" },
		{ "{\"max_images_count\": \"5\"}", "max_images_count" },
		{ "{\"image_filters\": \"Name\"}", "image_filters" },
		{ "{\"image_filters\": 3}", "image_filters" },
		{ "[1, 2]", "JSON object" },
		{ "not json", "JSON" },
	};
	struct buf msg = BUF_INIT;
	void *s = NULL;

	(void)state;
	set_env(NULL, NULL, NULL);
	assert_int_equal(image_pruner_init(&s, &msg), 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct lambda_request req = { view_from(rows[i].event), "req-1", "", 0, NULL, NULL,
					      NULL };
		struct lambda_response resp = { 0 };

		image_pruner_handle(s, &req, &resp);
		assert_true(resp.failed);
		assert_string_equal(resp.error_type, "ImagePruner.InvalidEvent");
		if (!strstr(buf_cstr(&resp.error_message), rows[i].want))
			fail_msg("row %zu: '%s'", i, buf_cstr(&resp.error_message));
		lambda_response_release(&resp);
	}
	image_pruner_release(s);
	buf_release(&msg);
}

/* The handler on a client given to image_pruner_init_with(), which owns it. */
static void test_handler_on_a_given_client(void **state)
{
	struct rig r;
	struct buf msg = BUF_INIT;
	struct lambda_response resp = { 0 };
	struct lambda_request req = { view_from("{}"), "req-1", "", 0, NULL, NULL, NULL };
	void *s = NULL;

	(void)state;
	set_env(NULL, "3", "true");
	sim_account(&r.sim);
	rig_start(&r, 1);
	assert_int_equal(image_pruner_init_with(r.aws, &s, &msg), 0);
	r.aws = NULL;		/* the state owns it now */
	image_pruner_handle(s, &req, &resp);
	assert_false(resp.failed);
	assert_non_null(strstr(buf_cstr(&resp.payload), "\"dry_run\":true"));
	assert_non_null(strstr(buf_cstr(&resp.payload), "ami-05"));
	assert_true(count_calls(&r.sim, "DescribeImages") >= 1);
	assert_int_equal(count_calls(&r.sim, "DeregisterImage"), 3);	/* each a DryRun */
	image_pruner_release(s);
	lambda_response_release(&resp);
	rig_release(&r);
	buf_release(&msg);
}

static void test_help_names_every_setting(void **state)
{
	struct buf help = BUF_INIT;

	(void)state;
	image_pruner_help(&help);
	assert_non_null(strstr(buf_cstr(&help), "IMAGE_FILTERS"));
	assert_non_null(strstr(buf_cstr(&help), "default: tag:devcloud:role=devbox-image"));
	assert_non_null(strstr(buf_cstr(&help), "MAX_IMAGES_COUNT"));
	assert_non_null(strstr(buf_cstr(&help), "DRY_RUN"));
	assert_non_null(strstr(buf_cstr(&help), "AWS_MAX_ATTEMPTS"));
	buf_release(&help);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(plan_cases); i++)
		table_add("plan", plan_cases[i].name, test_plan, (void *)&plan_cases[i]);
	table_add("gather", "reads-every-user", test_find_uses_reads_every_user, NULL);
	table_add("gather", "small-pages", test_find_uses_on_small_pages, NULL);
	table_add("gather", "family-and-own", test_list_family_and_own, NULL);
	table_add("gather", "missing-template-version",
		  test_find_uses_missing_template_version_fails, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(gather_faults); i++)
		table_add("gather-fails-closed", gather_faults[i].name, test_find_uses_fails_closed,
			  (void *)&gather_faults[i]);
	table_add("run", "prunes-the-account", test_run_prunes_the_account, NULL);
	table_add("run", "small-pages", test_run_on_small_pages, NULL);
	table_add("run", "dry-run", test_run_dry_run_changes_nothing, NULL);
	table_add("run", "dry-run-snapshots-in-use", test_run_dry_run_with_snapshots_still_in_use,
		  NULL);
	table_add("run", "nothing-to-delete", test_run_with_nothing_to_delete_lists_only_the_family,
		  NULL);
	table_add("run", "empty-account", test_run_on_an_empty_account, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(run_faults); i++)
		table_add("run-fails-closed", run_faults[i].name, test_run_fails_closed,
			  (void *)&run_faults[i]);
	for (size_t i = 0; i < ARRAY_SIZE(passing_faults); i++)
		table_add("run-retries", passing_faults[i].action, test_run_throttle_that_clears,
			  (void *)&passing_faults[i]);
	table_add("apply", "refused-deregistration", test_apply_refused_deregistration, NULL);
	table_add("apply", "refused-snapshot", test_apply_refused_snapshot, NULL);
	table_add("apply", "shared-by-two-deleted", test_apply_snapshot_shared_by_two_deleted,
		  NULL);
	table_add("apply", "refused-image-keeps-shared",
		  test_apply_refused_image_keeps_its_shared_snapshot, NULL);
	table_add("apply", "failures-message", test_result_json_failures_and_counts, NULL);
	table_add("apply", "refused-marking", test_apply_refused_marking, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(sweep_cases); i++)
		table_add("sweep-plan", sweep_cases[i].name, test_sweep_plan, (void *)&sweep_cases[i]);
	table_add("sweep", "leftovers", test_run_sweeps_leftovers, NULL);
	table_add("sweep", "refused", test_run_refused_sweep, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(lost_answers); i++) {
		table_add("lost-answer", lost_answers[i].action, test_run_lost_answer_is_done,
			  (void *)&lost_answers[i]);
		table_add("lost-answer-next-run", lost_answers[i].action,
			  test_run_lost_answers_repaired_next_run, (void *)&lost_answers[i]);
	}
	table_add("lambda", "bad-settings", test_init_refuses_bad_settings, NULL);
	table_add("lambda", "bad-events", test_bad_events_are_refused, NULL);
	table_add("lambda", "help", test_help_names_every_setting, NULL);
	table_add("lambda", "handler-on-a-given-client", test_handler_on_a_given_client, NULL);
	return table_run("image_pruner");
}
