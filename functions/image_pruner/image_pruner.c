#include "image_pruner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaling.h"
#include "cJSON.h"
#include "config.h"
#include "event.h"
#include "log.h"
#include "ssm.h"
#include "banned.h"

#define SSM_PREFIX "resolve:ssm:"
/* uses spelled out in one image's reason; the rest are counted */
#define MAX_USES_SHOWN 3
/* failures spelled out in the error message */
#define MAX_FAILURES_SHOWN 10

static const char *const self_owner[] = { "self", NULL };

/* The image's name for logs: its AMI name, else its Name tag, else "". */
static const char *image_label(const struct ec2_image *image)
{
	const char *name = image->name && *image->name ? image->name : ec2_image_tag(image, "Name");

	return name ? name : "";
}

/* ---- gathering ---- */

int image_pruner_list_family(struct aws_client *aws, const struct ec2_filter_list *filters,
			     struct ec2_image_list *out, struct buf *errmsg)
{
	struct ec2_image_query query = { self_owner, filters, true, false };
	struct aws_error e;
	int err;

	err = ec2_describe_images(aws, &query, out, &e);
	if (err) {
		buf_appends(errmsg, "cannot list the images (");
		ec2_filters_describe(filters, errmsg);
		buf_appends(errmsg, "): ");
		aws_error_describe(&e, errmsg);
	}
	return err;
}

int image_pruner_list_own(struct aws_client *aws, struct ec2_image_list *out, struct buf *errmsg)
{
	struct ec2_image_query query = { self_owner, NULL, true, true };
	struct aws_error e;
	int err;

	err = ec2_describe_images(aws, &query, out, &e);
	if (err) {
		buf_appends(errmsg, "cannot list the account's own images: ");
		aws_error_describe(&e, errmsg);
	}
	return err;
}

int image_pruner_list_marked(struct aws_client *aws, struct ec2_snapshot_list *out,
			     struct buf *errmsg)
{
	static const char *const marker[] = { IMAGE_PRUNER_MARKER_TAG, NULL };
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct aws_error e;
	int err;

	ec2_filters_add(&filters, "tag-key", marker);
	err = ec2_describe_snapshots(aws, self_owner, &filters, out, &e);
	if (err) {
		buf_appends(errmsg, "cannot list the snapshots marked " IMAGE_PRUNER_MARKER_TAG ": ");
		aws_error_describe(&e, errmsg);
	}
	ec2_filters_release(&filters);
	return err;
}

/*
 * A launch template version asked for on its own (by an Auto Scaling group
 * naming a numbered version, or a template the account-wide listing did
 * not return), kept so that several groups naming it cost one call.
 */
struct version_lookup {
	char *template;		/* id or name, as the group wrote it */
	bool by_id;
	char *version;		/* "$Default", "$Latest" or a number */
	struct ec2_launch_template_version_list found;
};

/* What find_uses() works with; everything here is released at its end. */
struct uses {
	struct aws_client *aws;
	struct ec2_launch_template_version_list current;	/* every $Default and $Latest */
	struct version_lookup *lookups;
	size_t lookup_count;
	struct id_note_list refs;	/* image id (or resolve:ssm:...) -> user */
	struct id_note_list params;	/* SSM parameter -> its value */
	struct buf *errmsg;
};

static void add_instance_uses(struct uses *u, const struct ec2_instance_list *instances)
{
	for (size_t i = 0; i < instances->count; i++) {
		const struct ec2_instance *inst = &instances->items[i];
		const char *name = ec2_instance_tag(inst, "Name");
		struct buf what = BUF_INIT;

		if (!inst->image_id || !*inst->image_id)
			continue;
		buf_appendf(&what, "instance %s", inst->id);
		if (name && *name)
			buf_appendf(&what, " (%s)", name);
		id_note_list_add(&u->refs, inst->image_id, buf_cstr(&what));
		buf_release(&what);
	}
}

static int list_instance_uses(struct uses *u)
{
	/*
	 * Every state but terminated: a stopped dev box is still someone's, and
	 * shutting-down is not gone yet.
	 */
	static const char *const not_terminated[] = { "pending", "running", "shutting-down",
						      "stopping", "stopped", NULL };
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct ec2_instance_list instances = EC2_INSTANCE_LIST_INIT;
	struct aws_error e;
	int err;

	ec2_filters_add(&filters, "instance-state-name", not_terminated);
	err = ec2_describe_instances(u->aws, &filters, &instances, &e);
	if (err) {
		buf_appends(u->errmsg, "cannot list the instances: ");
		aws_error_describe(&e, u->errmsg);
	} else {
		add_instance_uses(u, &instances);
	}
	ec2_instance_list_release(&instances);
	ec2_filters_release(&filters);
	return err;
}

static const char *template_label(const struct ec2_launch_template_version *v)
{
	return v->template_name && *v->template_name ? v->template_name : v->template_id;
}

/* The highest version number listed for v's template. */
static long latest_listed(const struct ec2_launch_template_version_list *list,
			  const struct ec2_launch_template_version *v)
{
	long latest = v->version;

	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->items[i].template_id, v->template_id) &&
		    list->items[i].version > latest)
			latest = list->items[i].version;
	return latest;
}

static int list_template_uses(struct uses *u)
{
	static const char *const default_and_latest[] = { "$Default", "$Latest", NULL };
	struct aws_error e;
	int err;

	err = ec2_describe_launch_template_versions(u->aws, NULL, NULL, default_and_latest,
						    &u->current, &e);
	if (err) {
		buf_appends(u->errmsg,
			    "cannot list the launch templates' $Default and $Latest versions: ");
		aws_error_describe(&e, u->errmsg);
		return err;
	}
	for (size_t i = 0; i < u->current.count; i++) {
		const struct ec2_launch_template_version *v = &u->current.items[i];
		bool latest = latest_listed(&u->current, v) == v->version;
		struct buf what = BUF_INIT;

		if (!v->image_id || !*v->image_id)
			continue;
		buf_appendf(&what, "launch template %s %s (version %ld)", template_label(v),
			    v->is_default ? (latest ? "$Default and $Latest" : "$Default")
					  : "$Latest",
			    v->version);
		id_note_list_add(&u->refs, v->image_id, buf_cstr(&what));
		buf_release(&what);
	}
	return 0;
}

static bool ref_names(const struct asg_template_ref *t, const struct ec2_launch_template_version *v)
{
	if (t->template_id)
		return v->template_id && !strcmp(t->template_id, v->template_id);
	return t->template_name && v->template_name && !strcmp(t->template_name, v->template_name);
}

/*
 * The version a group's reference means, within `list`: the account-wide
 * $Default/$Latest listing, or the answer to a lookup of exactly that
 * reference. Either holds the template's $Latest version whenever it holds
 * the template at all, so the highest number listed is $Latest. NULL when
 * the list does not hold the version.
 */
static const struct ec2_launch_template_version *
pick_version(const struct ec2_launch_template_version_list *list, const struct asg_template_ref *t,
	     const char *version)
{
	const struct ec2_launch_template_version *best = NULL;
	bool want_default = !strcmp(version, "$Default");
	bool want_latest = !strcmp(version, "$Latest");
	long number = 0;

	if (!want_default && !want_latest) {
		char *end;
		errno = 0;
		number = strtol(version, &end, 10);
		if (errno || end == version || *end || number < 1)
			return NULL;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct ec2_launch_template_version *v = &list->items[i];

		if (!ref_names(t, v))
			continue;
		if (want_default ? v->is_default
				 : want_latest ? (!best || v->version > best->version)
					       : v->version == number)
			best = v;
	}
	return best;
}

/* Looks the version up on its own, once per template and version. */
static int look_up_version(struct uses *u, const struct asg_group *g,
			   const struct asg_template_ref *t, const char *version,
			   const struct ec2_launch_template_version **out)
{
	const char *template = t->template_id ? t->template_id : t->template_name;
	const char *versions[] = { version, NULL };
	struct version_lookup *l;
	struct aws_error e;
	int err;

	for (size_t i = 0; i < u->lookup_count; i++) {
		l = &u->lookups[i];
		if (l->by_id == (t->template_id != NULL) && !strcmp(l->template, template) &&
		    !strcmp(l->version, version)) {
			*out = pick_version(&l->found, t, version);
			return 0;
		}
	}
	u->lookups = xrealloc(u->lookups, (u->lookup_count + 1) * sizeof(*u->lookups));
	l = &u->lookups[u->lookup_count++];
	memset(l, 0, sizeof(*l));
	l->template = xstrdup(template);
	l->by_id = t->template_id != NULL;
	l->version = xstrdup(version);
	err = ec2_describe_launch_template_versions(u->aws, t->template_id,
						    t->template_id ? NULL : t->template_name,
						    versions, &l->found, &e);
	if (err) {
		buf_appendf(u->errmsg,
			    "cannot look up launch template '%s' version %s of Auto Scaling group "
			    "'%s': ",
			    template, version, g->name);
		aws_error_describe(&e, u->errmsg);
		return err;
	}
	*out = pick_version(&l->found, t, version);
	return 0;
}

static int add_group_template_use(struct uses *u, const struct asg_group *g,
				  const struct asg_template_ref *t)
{
	const char *version = t->version && *t->version ? t->version : "$Default";
	const struct ec2_launch_template_version *v;
	bool floating = !strcmp(version, "$Default") || !strcmp(version, "$Latest");
	struct buf what = BUF_INIT;
	int err;

	/*
	 * The account-wide listing holds the $Default and the $Latest version
	 * of every template it returned; any other version, or a template it
	 * did not return (created since, say), is asked for.
	 */
	v = pick_version(&u->current, t, version);
	if (!v) {
		err = look_up_version(u, g, t, version, &v);
		if (err)
			return err;
	}
	if (!v) {
		buf_appendf(u->errmsg,
			    "launch template '%s' version %s of Auto Scaling group '%s' was not "
			    "found",
			    t->template_id ? t->template_id : t->template_name, version, g->name);
		return ERR_AWS;
	}
	if (!v->image_id || !*v->image_id)
		return 0;
	buf_appendf(&what, "Auto Scaling group %s (launch template %s ", g->name,
		    template_label(v));
	if (floating)
		buf_appendf(&what, "%s, version %ld)", version, v->version);
	else
		buf_appendf(&what, "version %ld)", v->version);
	id_note_list_add(&u->refs, v->image_id, buf_cstr(&what));
	buf_release(&what);
	return 0;
}

static int add_launch_configuration_uses(struct uses *u, const struct asg_group_list *groups)
{
	struct asg_launch_configuration_list configs = ASG_LAUNCH_CONFIGURATION_LIST_INIT;
	const char **names = xcalloc(groups->count + 1, sizeof(*names));
	size_t n = 0;
	struct aws_error e;
	int err = 0;

	for (size_t i = 0; i < groups->count; i++) {
		const char *lc = groups->items[i].launch_configuration;
		bool seen = false;

		if (!lc || !*lc)
			continue;
		for (size_t j = 0; j < n && !seen; j++)
			seen = !strcmp(names[j], lc);
		if (!seen)
			names[n++] = lc;
	}
	if (!n)
		goto out;
	err = asg_describe_launch_configurations(u->aws, names, &configs, &e);
	if (err) {
		buf_appends(u->errmsg, "cannot list the launch configurations: ");
		aws_error_describe(&e, u->errmsg);
		goto out;
	}
	for (size_t i = 0; i < groups->count; i++) {
		const struct asg_group *g = &groups->items[i];
		const struct asg_launch_configuration *found = NULL;
		struct buf what = BUF_INIT;

		if (!g->launch_configuration || !*g->launch_configuration)
			continue;
		for (size_t j = 0; j < configs.count && !found; j++)
			if (!strcmp(configs.items[j].name, g->launch_configuration))
				found = &configs.items[j];
		if (!found) {
			/* a group's configuration cannot be deleted: the listing is incomplete */
			buf_appendf(u->errmsg,
				    "launch configuration '%s' of Auto Scaling group '%s' was not "
				    "found",
				    g->launch_configuration, g->name);
			err = ERR_AWS;
			goto out;
		}
		buf_appendf(&what, "Auto Scaling group %s (launch configuration %s)", g->name,
			    found->name);
		id_note_list_add(&u->refs, found->image_id, buf_cstr(&what));
		buf_release(&what);
	}
out:
	asg_launch_configuration_list_release(&configs);
	free(names);
	return err;
}

static int list_group_uses(struct uses *u)
{
	struct asg_group_list groups = ASG_GROUP_LIST_INIT;
	struct aws_error e;
	int err;

	err = asg_describe_groups(u->aws, NULL, &groups, &e);
	if (err) {
		buf_appends(u->errmsg, "cannot list the Auto Scaling groups: ");
		aws_error_describe(&e, u->errmsg);
		goto out;
	}
	for (size_t i = 0; i < groups.count; i++)
		for (size_t j = 0; j < groups.items[i].template_count; j++)
			if ((err = add_group_template_use(u, &groups.items[i],
							  &groups.items[i].templates[j])))
				goto out;
	err = add_launch_configuration_uses(u, &groups);
out:
	asg_group_list_release(&groups);
	return err;
}

/*
 * The value of an SSM parameter, read once per invocation. It is read
 * without decryption: an image id is no secret, and a SecureString's
 * ciphertext matches no image (so it is never shown either).
 */
static int read_parameter(struct uses *u, const char *name, const char *what, const char **value)
{
	struct buf raw = BUF_INIT;
	struct aws_error e;
	char *trimmed = NULL;
	int err;

	if ((*value = id_note_list_find(&u->params, name)))
		return 0;
	err = ssm_get_parameter(u->aws, name, false, &raw, &e);
	if (err) {
		buf_appendf(u->errmsg, "cannot read SSM parameter '%s' (the image of %s): ", name,
			    what);
		aws_error_describe(&e, u->errmsg);
		goto out;
	}
	trimmed = view_dup(view_trim(buf_view(&raw)));
	if (!*trimmed) {
		buf_appendf(u->errmsg, "SSM parameter '%s' (the image of %s) is empty", name, what);
		err = ERR_AWS;
		goto out;
	}
	id_note_list_add(&u->params, name, trimmed);
	*value = id_note_list_find(&u->params, name);
out:
	free(trimmed);
	buf_release_secret(&raw);
	return err;
}

/*
 * Moves the references into in_use, reading the image id of every
 * "resolve:ssm:<parameter>" from SSM (the value only ever shows in results
 * as the id of an image of the family it matches).
 */
static int resolve_refs(struct uses *u, struct id_note_list *in_use)
{
	for (size_t i = 0; i < u->refs.count; i++) {
		const char *ref = u->refs.items[i].id, *what = u->refs.items[i].text;
		const char *value;
		struct buf via = BUF_INIT;
		int err;

		if (strncmp(ref, SSM_PREFIX, strlen(SSM_PREFIX))) {
			id_note_list_add(in_use, ref, what);
			continue;
		}
		err = read_parameter(u, ref + strlen(SSM_PREFIX), what, &value);
		if (err)
			return err;
		buf_appendf(&via, "%s via SSM parameter %s", what, ref + strlen(SSM_PREFIX));
		id_note_list_add(in_use, value, buf_cstr(&via));
		buf_release(&via);
	}
	return 0;
}

int image_pruner_find_uses(struct aws_client *aws, struct id_note_list *in_use,
			   struct buf *errmsg)
{
	struct uses u = { .aws = aws, .errmsg = errmsg };
	struct id_note_list found = ID_NOTE_LIST_INIT;
	int err;

	if (!(err = list_instance_uses(&u)) && !(err = list_template_uses(&u)) &&
	    !(err = list_group_uses(&u)) && !(err = resolve_refs(&u, &found))) {
		/* all or nothing: in_use sees the uses only once every listing is in */
		for (size_t i = 0; i < found.count; i++)
			id_note_list_add(in_use, found.items[i].id, found.items[i].text);
	}
	id_note_list_release(&found);
	ec2_launch_template_version_list_release(&u.current);
	for (size_t i = 0; i < u.lookup_count; i++) {
		free(u.lookups[i].template);
		free(u.lookups[i].version);
		ec2_launch_template_version_list_release(&u.lookups[i].found);
	}
	free(u.lookups);
	id_note_list_release(&u.refs);
	id_note_list_release(&u.params);
	return err;
}

/* ---- plan ---- */

static int newest_first(const void *a, const void *b)
{
	const struct ec2_image *x = *(const struct ec2_image *const *)a;
	const struct ec2_image *y = *(const struct ec2_image *const *)b;

	if (x->creation_time != y->creation_time)
		return x->creation_time > y->creation_time ? -1 : 1;
	return strcmp(x->id, y->id);
}

static bool has_snapshot(const struct ec2_image *image, const char *snapshot)
{
	for (size_t i = 0; i < image->snapshot_count; i++)
		if (!strcmp(image->snapshot_ids[i], snapshot))
			return true;
	return false;
}

/*
 * The plan's lookups, built once so that 2,000 images cost n log n, not n^2:
 * which images use a snapshot (own and family listings), which image ids
 * are deleted, and where a family image sits in the plan.
 */
struct snap_use {
	const char *snapshot;
	const struct ec2_image *image;
};

struct snap_index {
	struct snap_use *uses;	/* by snapshot, then by place in the listing */
	size_t count;
};

struct plan_index {
	struct snap_index own, family;
	const char **deleted;	/* ids of the images deleted, sorted */
	size_t deleted_count;
	size_t *place;		/* family->items[i] is plan->items[place[i]]; SIZE_MAX: a repeat */
	const struct ec2_image_list *family_list;
};

static int by_snapshot(const void *a, const void *b)
{
	const struct snap_use *x = a, *y = b;
	int c = strcmp(x->snapshot, y->snapshot);

	if (c)
		return c;
	return x->image < y->image ? -1 : x->image > y->image;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void snap_index_build(struct snap_index *ix, const struct ec2_image_list *list)
{
	size_t n = 0;

	for (size_t i = 0; list && i < list->count; i++)
		n += list->items[i].snapshot_count;
	ix->uses = xcalloc(n + 1, sizeof(*ix->uses));
	ix->count = 0;
	for (size_t i = 0; list && i < list->count; i++)
		for (size_t j = 0; j < list->items[i].snapshot_count; j++) {
			const char *snap = list->items[i].snapshot_ids[j];
			if (snap && *snap)
				ix->uses[ix->count++] = (struct snap_use){ snap, &list->items[i] };
		}
	qsort(ix->uses, ix->count, sizeof(*ix->uses), by_snapshot);
}

/* The uses of snapshot: [*first, *end) */
static void snap_index_find(const struct snap_index *ix, const char *snapshot,
			    const struct snap_use **first, const struct snap_use **end)
{
	size_t lo = 0, hi = ix->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->uses[mid].snapshot, snapshot) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = ix->uses + lo;
	while (lo < ix->count && !strcmp(ix->uses[lo].snapshot, snapshot))
		lo++;
	*end = ix->uses + lo;
}

static void plan_index_build(struct plan_index *ix, const struct image_pruner_plan *plan,
			     const struct ec2_image_list *family, const struct ec2_image_list *own)
{
	snap_index_build(&ix->own, own);
	snap_index_build(&ix->family, family);
	ix->family_list = family;
	ix->deleted = xcalloc(plan->count + 1, sizeof(*ix->deleted));
	ix->deleted_count = 0;
	ix->place = xcalloc(family->count + 1, sizeof(*ix->place));
	for (size_t i = 0; i < family->count; i++)
		ix->place[i] = SIZE_MAX;
	for (size_t i = 0; i < plan->count; i++) {
		ix->place[plan->items[i].image - family->items] = i;
		if (plan->items[i].action == IMAGE_PRUNER_DELETE)
			ix->deleted[ix->deleted_count++] = plan->items[i].image->id;
	}
	qsort(ix->deleted, ix->deleted_count, sizeof(*ix->deleted), by_string);
}

static void plan_index_release(struct plan_index *ix)
{
	free(ix->own.uses);
	free(ix->family.uses);
	free(ix->deleted);
	free(ix->place);
}

static bool planned_for_deletion(const struct plan_index *ix, const char *id)
{
	return bsearch(&id, ix->deleted, ix->deleted_count, sizeof(*ix->deleted), by_string);
}

/* The first image of a listing (in its order) that stays and uses the snapshot. */
static const struct ec2_image *staying_user(const struct snap_index *uses,
					    const struct plan_index *ix, const char *snapshot)
{
	const struct snap_use *u, *end;

	for (snap_index_find(uses, snapshot, &u, &end); u < end; u++)
		if (!planned_for_deletion(ix, u->image->id))
			return u->image;
	return NULL;
}

/* The last deletion of the plan after `at` whose image uses the snapshot, or NULL. */
static const struct ec2_image *later_deleter(const struct image_pruner_plan *plan,
					     const struct plan_index *ix, size_t at,
					     const char *snapshot)
{
	const struct snap_use *u, *end;
	size_t last = SIZE_MAX;

	for (snap_index_find(&ix->family, snapshot, &u, &end); u < end; u++) {
		size_t p = ix->place[u->image - ix->family_list->items];
		if (p != SIZE_MAX && p > at && plan->items[p].action == IMAGE_PRUNER_DELETE &&
		    (last == SIZE_MAX || p > last))
			last = p;
	}
	return last == SIZE_MAX ? NULL : plan->items[last].image;
}

/* "instance i-1 (alice); launch template devbox ...; and 2 more" */
static char *uses_of(const struct id_note_list *in_use, const char *id)
{
	struct buf out = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < in_use->count; i++) {
		if (strcmp(in_use->items[i].id, id))
			continue;
		if (n < MAX_USES_SHOWN)
			buf_appendf(&out, "%s%s", n ? "; " : "", in_use->items[i].text);
		n++;
	}
	if (n > MAX_USES_SHOWN)
		buf_appendf(&out, "; and %zu more", n - MAX_USES_SHOWN);
	return n ? buf_detach(&out) : NULL;
}

/* Which of a deleted image's snapshots go, and which stay and why. */
static void plan_snapshots(struct image_pruner_plan *plan, size_t at, const struct plan_index *ix)
{
	struct image_pruner_decision *d = &plan->items[at];

	for (size_t i = 0; i < d->image->snapshot_count; i++) {
		const char *snap = d->image->snapshot_ids[i];
		const struct ec2_image *user;
		struct buf why = BUF_INIT;

		if (!snap || !*snap || id_list_has(&d->snapshots, snap) ||
		    id_note_list_find(&d->shared_snapshots, snap))
			continue;
		if ((user = staying_user(&ix->own, ix, snap)) ||
		    (user = staying_user(&ix->family, ix, snap)))
			buf_appendf(&why, "also used by %s", user->id);
		else if ((user = later_deleter(plan, ix, at, snap)))
			buf_appendf(&why, "goes with %s, which also uses it", user->id);
		if (why.len)
			id_note_list_add(&d->shared_snapshots, snap, buf_cstr(&why));
		else
			id_list_add(&d->snapshots, snap);
		buf_release(&why);
	}
}

/* by id, then by place in the listing: the first of repeated ids sorts first */
static int by_id_then_place(const void *a, const void *b)
{
	const struct ec2_image *x = *(const struct ec2_image *const *)a;
	const struct ec2_image *y = *(const struct ec2_image *const *)b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

void image_pruner_plan(const struct ec2_image_list *family, const struct ec2_image_list *own,
		       const struct id_note_list *in_use, size_t keep_count,
		       struct image_pruner_plan *out)
{
	const struct ec2_image **sorted = xcalloc(family->count + 1, sizeof(*sorted));
	struct plan_index ix;
	size_t n = 0, kept = 0;
	int64_t oldest_kept = 0;

	/* 0 would delete the whole family; init refuses it, and so does the plan */
	if (keep_count < IMAGE_PRUNER_MIN_KEEP)
		keep_count = IMAGE_PRUNER_MIN_KEEP;
	/* an image listed twice is planned once (its first listing) */
	for (size_t i = 0; i < family->count; i++)
		sorted[i] = &family->items[i];
	qsort(sorted, family->count, sizeof(*sorted), by_id_then_place);
	for (size_t i = 0; i < family->count; i++)
		if (!n || strcmp(sorted[n - 1]->id, sorted[i]->id))
			sorted[n++] = sorted[i];
	qsort(sorted, n, sizeof(*sorted), newest_first);

	out->count = n;
	out->items = xcalloc(n + 1, sizeof(*out->items));
	for (size_t i = 0; i < n; i++) {
		struct image_pruner_decision *d = &out->items[i];
		const struct ec2_image *image = sorted[i];
		struct buf reason = BUF_INIT;

		d->image = image;
		d->action = IMAGE_PRUNER_KEEP;
		if (strcmp(image->state, "available")) {
			/* not usable yet, or broken: never counted, never deleted */
			buf_appendf(&reason, "state is '%s'", image->state);
		} else if (kept < keep_count) {
			buf_appendf(&reason, "one of the newest %zu", keep_count);
			kept++;
			oldest_kept = image->creation_time;
		} else if (image->creation_time == oldest_kept) {
			buf_appendf(&reason,
				    "created at the same time as the oldest of the newest %zu",
				    keep_count);
		} else if ((d->reason = uses_of(in_use, image->id))) {
			d->action = IMAGE_PRUNER_IN_USE;
		} else {
			d->action = IMAGE_PRUNER_DELETE;
		}
		if (reason.len)
			d->reason = buf_detach(&reason);
		buf_release(&reason);
	}
	/* every deletion is decided: now which snapshots no remaining image needs */
	plan_index_build(&ix, out, family, own);
	for (size_t i = 0; i < n; i++)
		if (out->items[i].action == IMAGE_PRUNER_DELETE)
			plan_snapshots(out, i, &ix);
	plan_index_release(&ix);
	free(sorted);
}

void image_pruner_plan_release(struct image_pruner_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		free(plan->items[i].reason);
		id_list_release(&plan->items[i].snapshots);
		id_note_list_release(&plan->items[i].shared_snapshots);
	}
	free(plan->items);
	plan->items = NULL;
	plan->count = 0;
}

size_t image_pruner_plan_deletions(const struct image_pruner_plan *plan)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->count; i++)
		n += plan->items[i].action == IMAGE_PRUNER_DELETE;
	return n;
}

/* A marker's value names an image: "ami-" and hex digits (AWS writes 8 or 17). */
static bool names_an_image(const char *value)
{
	size_t n;

	if (!value || strncmp(value, "ami-", 4))
		return false;
	n = strspn(value + 4, "0123456789abcdef");
	return n && !value[4 + n];
}

static const struct ec2_image *find_image(const struct ec2_image_list *images, const char *id)
{
	for (size_t i = 0; i < images->count; i++)
		if (!strcmp(images->items[i].id, id))
			return &images->items[i];
	return NULL;
}

void image_pruner_plan_sweep(const struct ec2_snapshot_list *marked,
			     const struct ec2_image_list *own, struct image_pruner_sweep *out)
{
	out->count = 0;
	out->items = xcalloc(marked->count + 1, sizeof(*out->items));
	for (size_t i = 0; i < marked->count; i++) {
		const struct ec2_snapshot *snap = &marked->items[i];
		const char *image = ec2_snapshot_tag(snap, IMAGE_PRUNER_MARKER_TAG);
		struct image_pruner_sweep_decision *d;
		const struct ec2_image *user = NULL;
		struct buf reason = BUF_INIT;
		bool dup = false;

		for (size_t j = 0; j < out->count && !dup; j++)
			dup = !strcmp(out->items[j].snapshot->id, snap->id);
		if (dup)
			continue;
		d = &out->items[out->count++];
		d->snapshot = snap;
		d->image = image ? image : "";
		if (!names_an_image(image))
			buf_appendf(&reason, "its marker names no image ('%s')", d->image);
		else if (find_image(own, image))
			buf_appendf(&reason, "its image %s is still registered", image);
		else
			for (size_t j = 0; j < own->count && !user; j++)
				if (has_snapshot(&own->items[j], snap->id))
					user = &own->items[j];
		if (user)
			buf_appendf(&reason, "also used by %s", user->id);
		d->delete = !reason.len;
		d->reason = reason.len ? buf_detach(&reason) : NULL;
		buf_release(&reason);
	}
}

void image_pruner_sweep_release(struct image_pruner_sweep *sweep)
{
	for (size_t i = 0; i < sweep->count; i++)
		free(sweep->items[i].reason);
	free(sweep->items);
	sweep->items = NULL;
	sweep->count = 0;
}

/* ---- apply ---- */

static void record_failure(struct image_pruner_result *r, const char *image, const char *snapshot,
			   const char *error)
{
	struct image_pruner_failure *f;

	r->failed = xrealloc(r->failed, (r->failed_count + 1) * sizeof(*r->failed));
	f = &r->failed[r->failed_count++];
	f->image = xstrdup(image);
	f->snapshot = snapshot ? xstrdup(snapshot) : NULL;
	f->error = xstrdup(error);
}

static struct image_pruner_deleted *record_deleted(struct image_pruner_result *r, const char *image)
{
	struct image_pruner_deleted *d;

	r->deleted = xrealloc(r->deleted, (r->deleted_count + 1) * sizeof(*r->deleted));
	d = &r->deleted[r->deleted_count++];
	d->image = xstrdup(image);
	d->snapshots = (struct id_list)ID_LIST_INIT;
	return d;
}

/* An image whose deregistration was refused and which uses the snapshot. */
static const char *refused_user(const struct image_pruner_plan *plan, const struct id_list *refused,
				const char *snapshot)
{
	for (size_t i = 0; refused->count && i < plan->count; i++) {
		const struct ec2_image *image = plan->items[i].image;
		if (id_list_has(refused, image->id) && has_snapshot(image, snapshot))
			return image->id;
	}
	return NULL;
}

/*
 * In a dry run the image is still registered, so EC2 may answer a snapshot's
 * DryRun with InvalidSnapshot.InUse ("... is currently in use by ami-...")
 * rather than DryRunOperation. When the image named is the one this run
 * would deregister first, the deletion would have succeeded.
 */
static bool in_use_by_itself(const struct aws_error *e, const char *image_id)
{
	const char *at;

	if (!aws_error_is(e, "InvalidSnapshot.InUse") || !(at = strstr(e->message, image_id)))
		return false;
	at += strlen(image_id);
	/* the whole id, not a prefix of a longer one */
	return !((*at >= '0' && *at <= '9') || (*at >= 'a' && *at <= 'f'));
}

static void record_swept(struct image_pruner_result *r, const char *snapshot, const char *image)
{
	struct image_pruner_swept *s;

	r->swept = xrealloc(r->swept, (r->swept_count + 1) * sizeof(*r->swept));
	s = &r->swept[r->swept_count++];
	s->snapshot = xstrdup(snapshot);
	s->image = xstrdup(image);
}

void image_pruner_apply_sweep(struct aws_client *aws, const struct image_pruner_sweep *sweep,
			      bool dry_run, struct image_pruner_result *r)
{
	struct buf why = BUF_INIT;

	r->dry_run = dry_run;
	for (size_t i = 0; i < sweep->count; i++) {
		const struct image_pruner_sweep_decision *d = &sweep->items[i];
		const char *snap = d->snapshot->id;
		struct aws_error e;

		if (!d->delete) {
			log_info("keeping marked snapshot %s: %s", snap, d->reason);
			continue;
		}
		buf_reset(&why);
		if (ec2_delete_snapshot(aws, snap, dry_run, &e)) {
			if (!aws_error_is(&e, "InvalidSnapshot.NotFound")) {
				aws_error_describe(&e, &why);
				log_error("cannot delete snapshot '%s' left by %s: %s", snap, d->image,
					  buf_cstr(&why));
				record_failure(r, d->image, snap, buf_cstr(&why));
				continue;
			}
			log_info("snapshot %s left by %s is gone already", snap, d->image);
		} else {
			log_info("%s snapshot %s left by %s, which is deregistered",
				 dry_run ? "would delete" : "deleted", snap, d->image);
		}
		record_swept(r, snap, d->image);
	}
	buf_release(&why);
}

/*
 * Marks the snapshots that go with an image before it is deregistered, so
 * that a run that stops after the deregistration (a fault, a timeout)
 * leaves them findable: the next run's sweep deletes them.
 */
static int mark_snapshots(struct aws_client *aws, const char *image_id,
			  const struct id_list *snapshots, bool dry_run, struct aws_error *e)
{
	if (!snapshots->count)
		return 0;
	return ec2_create_tags(aws, (const char *const *)snapshots->items, snapshots->count,
			       IMAGE_PRUNER_MARKER_TAG, image_id, dry_run, e);
}

static void delete_image(struct aws_client *aws, const struct image_pruner_plan *plan,
			 const struct image_pruner_decision *d, bool dry_run,
			 struct id_list *refused, struct image_pruner_result *r)
{
	const char *id = d->image->id, *label = image_label(d->image);
	const char *open = *label ? " (" : "", *close = *label ? ")" : "";
	struct image_pruner_deleted *deleted;
	struct id_list snapshots = ID_LIST_INIT;
	struct buf why = BUF_INIT;
	struct aws_error e;

	for (size_t i = 0; i < d->shared_snapshots.count; i++)
		log_info("keeping snapshot %s of %s: %s", d->shared_snapshots.items[i].id, id,
			 d->shared_snapshots.items[i].text);
	for (size_t i = 0; i < d->snapshots.count; i++) {
		const char *snap = d->snapshots.items[i];
		const char *blocker = refused_user(plan, refused, snap);

		if (blocker)
			/* the next run deletes it, once that image has gone */
			log_warn("keeping snapshot %s of %s: %s, which also uses it, was not "
				 "deregistered",
				 snap, id, blocker);
		else
			id_list_add(&snapshots, snap);
	}
	if (mark_snapshots(aws, id, &snapshots, dry_run, &e)) {
		buf_appends(&why, "cannot mark its snapshots: ");
		aws_error_describe(&e, &why);
		log_error("not deregistering '%s'%s%s%s: %s", id, open, label, close,
			  buf_cstr(&why));
		record_failure(r, id, NULL, buf_cstr(&why));
		id_list_add(refused, id);
		goto out;
	}
	if (ec2_deregister_image(aws, id, dry_run, &e)) {
		if (!aws_error_is(&e, "InvalidAMIID.NotFound")) {
			aws_error_describe(&e, &why);
			log_error("cannot deregister '%s'%s%s%s: %s", id, open, label, close,
				  buf_cstr(&why));
			record_failure(r, id, NULL, buf_cstr(&why));
			id_list_add(refused, id);
			goto out;
		}
		/* a retry after a lost answer, or someone else: it is gone either way */
		log_info("%s%s%s%s is deregistered already", id, open, label, close);
	} else {
		log_info("%s %s%s%s%s, created %s", dry_run ? "would deregister" : "deregistered",
			 id, open, label, close, d->image->creation_date);
	}
	deleted = record_deleted(r, id);
	for (size_t i = 0; i < snapshots.count; i++) {
		const char *snap = snapshots.items[i];

		buf_reset(&why);
		if (ec2_delete_snapshot(aws, snap, dry_run, &e) &&
		    !aws_error_is(&e, "InvalidSnapshot.NotFound") &&
		    !(dry_run && in_use_by_itself(&e, id))) {
			aws_error_describe(&e, &why);
			log_error("cannot delete snapshot '%s' of %s: %s", snap, id,
				  buf_cstr(&why));
			record_failure(r, id, snap, buf_cstr(&why));
			continue;
		}
		log_info("%s snapshot %s of %s", dry_run ? "would delete" : "deleted", snap, id);
		id_list_add(&deleted->snapshots, snap);
	}
out:
	id_list_release(&snapshots);
	buf_release(&why);
}

void image_pruner_apply(struct aws_client *aws, const struct image_pruner_plan *plan,
			bool dry_run, struct image_pruner_result *r)
{
	struct id_list refused = ID_LIST_INIT;

	r->dry_run = dry_run;
	for (size_t i = 0; i < plan->count; i++) {
		const struct image_pruner_decision *d = &plan->items[i];
		const char *label = image_label(d->image);
		const char *open = *label ? " (" : "", *close = *label ? ")" : "";

		if (d->action == IMAGE_PRUNER_KEEP) {
			id_list_add(&r->kept, d->image->id);
			log_info("keeping %s%s%s%s: %s", d->image->id, open, label, close,
				 d->reason);
		} else if (d->action == IMAGE_PRUNER_IN_USE) {
			id_list_add(&r->in_use, d->image->id);
			log_info("keeping %s%s%s%s: in use by %s", d->image->id, open, label, close,
				 d->reason);
		}
	}
	for (size_t i = 0; i < plan->count; i++)
		if (plan->items[i].action == IMAGE_PRUNER_DELETE)
			delete_image(aws, plan, &plan->items[i], dry_run, &refused, r);
	id_list_release(&refused);
}

void image_pruner_result_release(struct image_pruner_result *r)
{
	for (size_t i = 0; i < r->deleted_count; i++) {
		free(r->deleted[i].image);
		id_list_release(&r->deleted[i].snapshots);
	}
	free(r->deleted);
	for (size_t i = 0; i < r->failed_count; i++) {
		free(r->failed[i].image);
		free(r->failed[i].snapshot);
		free(r->failed[i].error);
	}
	free(r->failed);
	for (size_t i = 0; i < r->swept_count; i++) {
		free(r->swept[i].snapshot);
		free(r->swept[i].image);
	}
	free(r->swept);
	id_list_release(&r->kept);
	id_list_release(&r->in_use);
	memset(r, 0, sizeof(*r));
}

char *image_pruner_result_json(const struct image_pruner_result *r)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *deleted = cJSON_AddArrayToObject(root, "deleted");
	cJSON *failed, *swept;
	char *out;

	for (size_t i = 0; i < r->deleted_count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "image", r->deleted[i].image);
		cJSON_AddItemToObject(o, "snapshots", id_list_json(&r->deleted[i].snapshots));
		cJSON_AddItemToArray(deleted, o);
	}
	cJSON_AddItemToObject(root, "kept", id_list_json(&r->kept));
	cJSON_AddItemToObject(root, "in_use", id_list_json(&r->in_use));
	failed = cJSON_AddArrayToObject(root, "failed");
	for (size_t i = 0; i < r->failed_count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "image", r->failed[i].image);
		if (r->failed[i].snapshot)
			cJSON_AddStringToObject(o, "snapshot", r->failed[i].snapshot);
		cJSON_AddStringToObject(o, "error", r->failed[i].error);
		cJSON_AddItemToArray(failed, o);
	}
	swept = cJSON_AddArrayToObject(root, "swept");
	for (size_t i = 0; i < r->swept_count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "snapshot", r->swept[i].snapshot);
		cJSON_AddStringToObject(o, "image", r->swept[i].image);
		cJSON_AddItemToArray(swept, o);
	}
	cJSON_AddBoolToObject(root, "dry_run", r->dry_run);
	out = json_print(root);
	cJSON_Delete(root);
	return out;
}

/* ---- the Lambda function ---- */

static const struct config_setting settings[] = {
	{ "IMAGE_FILTERS", "tag:devcloud:role=devbox-image",
	  "EC2 filters selecting the image family among the account's own images: "
	  "name=value[,value], several separated by ';'",
	  false },
	{ "MAX_IMAGES_COUNT", "5",
	  "how many of the family's newest available images to keep (1-1000); images in use "
	  "are kept as well",
	  false },
	{ "DRY_RUN", "false",
	  "change nothing; EC2's DryRun checks the permissions and the response lists what "
	  "would be deleted",
	  false },
};
enum { S_FILTERS, S_MAX_IMAGES, S_DRY_RUN };

static const struct event_field event_fields[] = {
	{ "dry_run", EVENT_BOOL },
	{ "image_filters", EVENT_STRING },
	{ "max_images_count", EVENT_INT },
};
enum { E_DRY_RUN, E_FILTERS, E_MAX_IMAGES, E_COUNT };

struct image_pruner_state {
	struct aws_client *aws;
	struct ec2_filter_list filters;
	long keep_count;
	bool dry_run;
};

void image_pruner_help(struct buf *out)
{
	buf_appends(out,
		    "Keeps the newest MAX_IMAGES_COUNT available images (AMIs) of the account's\n"
		    "own matching IMAGE_FILTERS, and the older ones still in use (by an instance\n"
		    "that is not terminated, a launch template's $Default or $Latest version, an\n"
		    "Auto Scaling group's launch template or launch configuration). The others\n"
		    "are deregistered and the snapshots behind them deleted, except snapshots\n"
		    "another image still uses. If any listing fails, nothing is deleted.\n"
		    "Before an image is deregistered, its snapshots are tagged\n"
		    "" IMAGE_PRUNER_MARKER_TAG "=<image id>; every run first deletes the\n"
		    "tagged snapshots whose image is gone and that no other image uses, so an\n"
		    "interrupted run leaves nothing behind.\n\n"
		    "Event: a scheduled event, {}, or overrides (in either) such as\n"
		    "  {\"dry_run\": true, \"max_images_count\": 8, "
		    "\"image_filters\": \"name=devbox-*\"}\n"
		    "An event only narrows the configuration: its filters are added to\n"
		    "IMAGE_FILTERS, its count may not be below MAX_IMAGES_COUNT, and DRY_RUN=true\n"
		    "is final.\n\n");
	config_help("Configuration (environment variables)", settings,
		    sizeof(settings) / sizeof(settings[0]), out);
	aws_config_help(out);
}

void image_pruner_release(void *state)
{
	struct image_pruner_state *s = state;

	if (!s)
		return;
	aws_client_free(s->aws);
	ec2_filters_release(&s->filters);
	free(s);
}

int image_pruner_init_with(struct aws_client *aws, void **state, struct buf *errmsg)
{
	struct image_pruner_state *s = xcalloc(1, sizeof(*s));
	int err;

	*state = NULL;
	s->aws = aws;
	/* the function's own settings first: their mistakes are the likelier ones */
	if ((err = ec2_filters_parse(config_value(&settings[S_FILTERS]), "IMAGE_FILTERS",
				     &s->filters, errmsg)) ||
	    (err = config_long(&settings[S_MAX_IMAGES], IMAGE_PRUNER_MIN_KEEP,
			       IMAGE_PRUNER_MAX_KEEP, &s->keep_count, errmsg)) ||
	    (err = config_bool(&settings[S_DRY_RUN], &s->dry_run, errmsg)) ||
	    (!s->aws && (err = aws_client_from_env(&s->aws, errmsg)))) {
		image_pruner_release(s);
		return err;
	}
	*state = s;
	return 0;
}

int image_pruner_init(void **state, struct buf *errmsg)
{
	return image_pruner_init_with(NULL, state, errmsg);
}

/*
 * Reads the event over the configuration. The run's filters are the
 * configured ones plus the event's (an image must match both), written to
 * `filters` (the caller releases it). An event may only narrow what the
 * configuration allows: it may keep more images than MAX_IMAGES_COUNT, not
 * fewer, and DRY_RUN=true is final. (Keeping the newest N of a narrower
 * family never deletes an image that keeping the newest N of the whole
 * family would keep.) ERR_CONFIG with a message naming the bad key.
 */
static int read_event(const struct image_pruner_state *s, struct view payload,
		      struct ec2_filter_list *filters, struct image_pruner_options *opts,
		      struct buf *msg)
{
	struct event_value ev[E_COUNT] = { 0 };
	struct ec2_filter_list event_filters = EC2_FILTER_LIST_INIT;
	bool scheduled;
	long keep = s->keep_count;
	int err;

	err = event_parse(payload, event_fields, E_COUNT, ev, &scheduled, msg);
	if (!err)
		err = event_bool_towards(&ev[E_DRY_RUN], "dry_run", s->dry_run, true, "DRY_RUN",
					 &opts->dry_run, msg);
	if (!err)
		err = event_int_at_least(&ev[E_MAX_IMAGES], "max_images_count", s->keep_count,
					 IMAGE_PRUNER_MAX_KEEP, "MAX_IMAGES_COUNT", &keep, msg);
	if (!err && ev[E_FILTERS].present)
		err = ec2_filters_parse(ev[E_FILTERS].string, "image_filters", &event_filters, msg);
	if (!err) {
		ec2_filters_append(filters, &s->filters);
		ec2_filters_append(filters, &event_filters);
		opts->filters = filters;
		opts->keep_count = (size_t)keep;
	}
	ec2_filters_release(&event_filters);
	event_values_release(ev, E_COUNT);
	return err;
}

static size_t count_available(const struct ec2_image_list *images)
{
	size_t n = 0;

	for (size_t i = 0; i < images->count; i++)
		n += !strcmp(images->items[i].state, "available");
	return n;
}

static void fail_deletions(const struct image_pruner_result *r, struct lambda_response *resp)
{
	struct id_note_list failures = ID_NOTE_LIST_INIT;
	struct buf msg = BUF_INIT, what = BUF_INIT;

	for (size_t i = 0; i < r->failed_count; i++) {
		buf_reset(&what);
		if (r->failed[i].snapshot)
			buf_appendf(&what, "%s of %s", r->failed[i].snapshot, r->failed[i].image);
		else
			buf_appends(&what, r->failed[i].image);
		id_note_list_add(&failures, buf_cstr(&what), r->failed[i].error);
	}
	buf_appendf(&msg, "%zu deletion%s failed: ", r->failed_count,
		    r->failed_count == 1 ? "" : "s");
	id_note_list_describe(&failures, MAX_FAILURES_SHOWN, &msg);
	lambda_fail(resp, "ImagePruner.ImagesNotDeleted", "%s", buf_cstr(&msg));
	id_note_list_release(&failures);
	buf_release(&msg);
	buf_release(&what);
}

/* A listing failed: nothing was, or will be, deleted in this invocation. */
static void fail_listing(const struct buf *msg, struct lambda_response *resp)
{
	log_error("%s", buf_cstr(msg));
	lambda_fail(resp, "ImagePruner.ListFailed", "%s; nothing was deleted", buf_cstr(msg));
}

void image_pruner_run(struct aws_client *aws, const struct image_pruner_options *opts,
		      struct lambda_response *resp)
{
	struct ec2_image_list family = EC2_IMAGE_LIST_INIT, own = EC2_IMAGE_LIST_INIT;
	struct ec2_snapshot_list marked = EC2_SNAPSHOT_LIST_INIT;
	struct id_note_list in_use = ID_NOTE_LIST_INIT;
	struct image_pruner_plan plan = { NULL, 0 };
	struct image_pruner_sweep sweep = { NULL, 0 };
	struct image_pruner_result result = { 0 };
	struct buf msg = BUF_INIT, desc = BUF_INIT;
	const char *dry = opts->dry_run ? "dry run: " : "";
	size_t snapshots = 0;
	char *json;

	ec2_filters_describe(opts->filters, &desc);
	log_info("%slooking for images (%s), keeping the newest %zu", dry, buf_cstr(&desc),
		 opts->keep_count);
	if (image_pruner_list_family(aws, opts->filters, &family, &msg) ||
	    image_pruner_list_marked(aws, &marked, &msg)) {
		fail_listing(&msg, resp);
		goto out;
	}

	/*
	 * The other listings only ever save an image the family alone would
	 * have deleted (or a snapshot of one): with nothing to delete, they
	 * are not needed. The sweep needs every own image (one may still use
	 * a marked snapshot), and nothing else.
	 */
	image_pruner_plan(&family, &own, &in_use, opts->keep_count, &plan);
	if (image_pruner_plan_deletions(&plan)) {
		image_pruner_plan_release(&plan);
		if (image_pruner_list_own(aws, &own, &msg) ||
		    image_pruner_find_uses(aws, &in_use, &msg)) {
			fail_listing(&msg, resp);
			goto out;
		}
		image_pruner_plan(&family, &own, &in_use, opts->keep_count, &plan);
	} else {
		log_info("%zu image%s, %zu available: nothing to delete", family.count,
			 family.count == 1 ? "" : "s", count_available(&family));
		if (marked.count && image_pruner_list_own(aws, &own, &msg)) {
			fail_listing(&msg, resp);
			goto out;
		}
	}
	/* first what an earlier run left behind, then this run's deletions */
	image_pruner_plan_sweep(&marked, &own, &sweep);
	image_pruner_apply_sweep(aws, &sweep, opts->dry_run, &result);
	image_pruner_apply(aws, &plan, opts->dry_run, &result);

	json = image_pruner_result_json(&result);
	buf_appends(&resp->payload, json);
	free(json);
	for (size_t i = 0; i < result.deleted_count; i++)
		snapshots += result.deleted[i].snapshots.count;
	log_info("%s%zu deleted (%zu snapshot%s), %zu kept, %zu in use, %zu failed, %zu swept",
		 dry, result.deleted_count, snapshots, snapshots == 1 ? "" : "s", result.kept.count,
		 result.in_use.count, result.failed_count, result.swept_count);
	if (result.failed_count) {
		fail_deletions(&result, resp);
	}
out:
	image_pruner_plan_release(&plan);
	image_pruner_sweep_release(&sweep);
	image_pruner_result_release(&result);
	ec2_snapshot_list_release(&marked);
	ec2_image_list_release(&family);
	ec2_image_list_release(&own);
	id_note_list_release(&in_use);
	buf_release(&msg);
	buf_release(&desc);
}

void image_pruner_handle(void *state, const struct lambda_request *req,
			 struct lambda_response *resp)
{
	struct image_pruner_state *s = state;
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct image_pruner_options opts;
	struct buf msg = BUF_INIT;

	aws_client_set_deadline(s->aws, req->deadline_ms);
	if (read_event(s, req->payload, &filters, &opts, &msg))
		lambda_fail(resp, "ImagePruner.InvalidEvent", "%s", buf_cstr(&msg));
	else
		image_pruner_run(s->aws, &opts, resp);
	ec2_filters_release(&filters);
	buf_release(&msg);
}
