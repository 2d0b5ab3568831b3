#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "banned.h"

/* the largest pages each action allows: fewer calls, same answer */
#define EC2_MAX_RESULTS "1000"
#define EC2_LAUNCH_TEMPLATE_MAX_RESULTS "200"

/* ---- shared helpers ---- */

/* The text at `path`, or NULL when the element is absent or empty. */
static char *text_dup(const struct xml_node *node, const char *path)
{
	const char *t = xml_text(node, path);
	return t && *t ? xstrdup(t) : NULL;
}

/* Room for one more item in a list of `size`-byte items. */
static void *grow(void *items, size_t count, size_t *cap, size_t size)
{
	if (count < *cap)
		return items;
	*cap = *cap ? *cap * 2 : 32;
	return xrealloc(items, *cap * size);
}

static void tags_release(struct ec2_tag *tags, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

static const char *tag_lookup(const struct ec2_tag *tags, size_t count, const char *key)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(tags[i].key, key))
			return tags[i].value;
	return NULL;
}

/*
 * <tagSet><item><key/><value/></item></tagSet>: an item without a key is
 * skipped (EC2 never sends one), a missing value is "".
 */
static void parse_tags(const struct xml_node *set, struct ec2_tag **tags, size_t *count)
{
	size_t n = 0;

	*tags = NULL;
	*count = 0;
	xml_for_each(t, set, "item")
		n++;
	if (!n)
		return;
	*tags = xcalloc(n, sizeof(**tags));
	xml_for_each(t, set, "item") {
		const char *k = xml_text(t, "key"), *v = xml_text(t, "value");
		if (!k)
			continue;
		(*tags)[*count].key = xstrdup(k);
		(*tags)[*count].value = xstrdup(v ? v : "");
		(*count)++;
	}
}

/*
 * A call whose answer holds nothing we need, with EC2's DryRun: EC2 then
 * checks permissions and parameters and answers DryRunOperation where it
 * would have acted. A success answer to a dry run would mean it acted for
 * real, which EC2 never does: it is reported rather than taken as a pass.
 * Releases `params`.
 */
static int call_dry_runnable(struct aws_client *aws, const char *action,
			     struct aws_params *params, bool dry_run, struct aws_error *error)
{
	struct xml_node *root = NULL;
	int err;

	if (dry_run)
		aws_params_add(params, "DryRun", "true");
	err = aws_query(aws, &aws_service_ec2, action, params, &root, error);
	xml_free(root);
	if (dry_run) {
		if (err && aws_error_is(error, "DryRunOperation")) {
			memset(error, 0, sizeof(*error));
			err = 0;
		} else if (!err) {
			memset(error, 0, sizeof(*error));
			error->err = err = ERR_PARSE;
			error->http_status = 200;
			snprintf(error->message, sizeof(error->message),
				 "%s answered a dry run with success", action);
		}
	}
	aws_params_release(params);
	return err;
}

static int stream_listing(struct aws_client *aws, const char *action,
			  const struct aws_params *params, const char *const *paths,
			  const char *const *drop_paths, struct aws_listing *l,
			  struct aws_error *error)
{
	return aws_query_listing(aws, &aws_service_ec2, action, params, paths, drop_paths, l,
				 error);
}

/* Each list type's count and truncate, for struct aws_listing. */
#define LISTING_OPS(type, release_one) \
	static size_t *type##_count(void *list) \
	{ \
		return &((struct type *)list)->count; \
	} \
	static void type##_truncate(void *list, size_t n) \
	{ \
		struct type *l = list; \
		while (l->count > n) \
			release_one(&l->items[--l->count]); \
	}

/* ---- instances ---- */

static void instance_release(struct ec2_instance *inst)
{
	if (inst->block) {
		free(inst->block);
		memset(inst, 0, sizeof(*inst));
		return;
	}
	free(inst->id);
	free(inst->state);
	free(inst->type);
	free(inst->image_id);
	free(inst->private_ip);
	free(inst->private_dns_name);
	free(inst->public_ip);
	tags_release(inst->tags, inst->tag_count);
}

void ec2_instance_list_release(struct ec2_instance_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		instance_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

const char *ec2_instance_tag(const struct ec2_instance *inst, const char *key)
{
	return tag_lookup(inst->tags, inst->tag_count, key);
}

static int64_t text_time(const struct xml_node *node, const char *path)
{
	const char *t = xml_text(node, path);
	int64_t v;

	if (!t || time_parse_iso8601(t, &v, NULL))
		return 0;
	return v;
}

/* Lays strings out one after the other in an instance's block; NULL stays NULL. */
struct packer {
	char *next;
};

static char *pack(struct packer *p, const char *s)
{
	size_t n;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	out = memcpy(p->next, s, n);
	p->next += n;
	return out;
}

static size_t packed_len(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/*
 * One instance of a DescribeInstances page, in one allocation: the tag
 * array, then every string.
 */
static bool keep_tag(const struct ec2_instance_list *list, const char *key)
{
	if (!key)
		return false;	/* EC2 never sends a tag without its key */
	if (!list->keep_tags)
		return true;
	for (size_t i = 0; list->keep_tags[i]; i++)
		if (!strcmp(list->keep_tags[i], key))
			return true;
	return false;
}

static int parse_instance(const struct ec2_instance_list *list, const struct xml_node *item,
			  struct ec2_instance *inst)
{
	const struct xml_node *enis = xml_child(item, "networkInterfaceSet");
	const struct xml_node *tag_set = xml_child(item, "tagSet");
	const char *hib = xml_text(item, "hibernationOptions/configured");
	const char *id = nonempty(xml_text(item, "instanceId"));
	const char *state = nonempty(xml_text(item, "instanceState/name"));
	const char *fields[5] = {
		nonempty(xml_text(item, "instanceType")), nonempty(xml_text(item, "imageId")),
		nonempty(xml_text(item, "privateIpAddress")),
		nonempty(xml_text(item, "privateDnsName")), nonempty(xml_text(item, "ipAddress")),
	};
	size_t len = packed_len(id) + packed_len(state), ntags = 0;
	struct packer p;

	memset(inst, 0, sizeof(*inst));
	if (!id || !state)
		return ERR_PARSE;
	for (size_t i = 0; i < 5; i++) {
		if (list->lean)
			fields[i] = NULL;
		len += packed_len(fields[i]);
	}
	xml_for_each(t, tag_set, "item") {
		const char *k = xml_text(t, "key"), *v = xml_text(t, "value");
		if (!keep_tag(list, k))
			continue;
		len += strlen(k) + 1 + (v ? strlen(v) : 0) + 1;
		ntags++;
	}
	inst->block = xmalloc(ntags * sizeof(struct ec2_tag) + len);
	inst->tags = ntags ? inst->block : NULL;
	p.next = (char *)inst->block + ntags * sizeof(struct ec2_tag);
	inst->id = pack(&p, id);
	inst->state = pack(&p, state);
	inst->type = pack(&p, fields[0]);
	inst->image_id = pack(&p, fields[1]);
	inst->private_ip = pack(&p, fields[2]);
	inst->private_dns_name = pack(&p, fields[3]);
	inst->public_ip = pack(&p, fields[4]);
	xml_for_each(t, tag_set, "item") {
		const char *k = xml_text(t, "key"), *v = xml_text(t, "value");
		if (!keep_tag(list, k))
			continue;
		inst->tags[inst->tag_count].key = pack(&p, k);
		inst->tags[inst->tag_count].value = pack(&p, v ? v : "");
		inst->tag_count++;
	}
	inst->launch_time = text_time(item, "launchTime");
	inst->hibernation_configured = hib && !strcmp(hib, "true");
	xml_for_each(eni, enis, "item") {
		const char *index = xml_text(eni, "attachment/deviceIndex");
		if (index && !strcmp(index, "0"))
			inst->attach_time = text_time(eni, "attachment/attachTime");
	}
	return 0;
}

static int add_instance(void *list, const struct xml_node *item)
{
	struct ec2_instance_list *out = list;

	out->items = grow(out->items, out->count, &out->cap, sizeof(*out->items));
	if (parse_instance(out, item, &out->items[out->count])) {
		instance_release(&out->items[out->count]);
		return ERR_PARSE;
	}
	out->count++;
	return 0;
}

int ec2_parse_instances(const struct xml_node *root, struct ec2_instance_list *out)
{
	if (!xml_child(root, "reservationSet") && strcmp(root->name, "DescribeInstancesResponse"))
		return ERR_PARSE;
	xml_for_each(res, xml_child(root, "reservationSet"), "item") {
		xml_for_each(item, xml_child(res, "instancesSet"), "item") {
			if (add_instance(out, item))
				return ERR_PARSE;
		}
	}
	return 0;
}

LISTING_OPS(ec2_instance_list, instance_release)

/* Every page of DescribeInstances with these parameters; all or nothing. */
static int describe(struct aws_client *aws, struct aws_params *params,
		    struct ec2_instance_list *out, struct aws_error *error)
{
	static const char *const paths[] = { "reservationSet/item/instancesSet/item", NULL };
	/* a reservation's own fields are not read: only its instances */
	static const char *const drop[] = { "reservationSet/item", NULL };
	struct aws_listing l = { .list = out, .count = ec2_instance_list_count, .truncate = ec2_instance_list_truncate,
				  .add = add_instance, .root = "DescribeInstancesResponse" };
	int err = stream_listing(aws, "DescribeInstances", params, paths, drop, &l, error);
	if (err)
		ec2_instance_list_release(out);
	aws_params_release(params);
	return err;
}

int ec2_describe_instances(struct aws_client *aws, const struct ec2_filter_list *filters,
			   struct ec2_instance_list *out, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	ec2_filters_to_params(filters, &params);
	aws_params_add(&params, "MaxResults", EC2_MAX_RESULTS);
	return describe(aws, &params, out, error);
}

int ec2_describe_instances_by_id(struct aws_client *aws, const char *const *ids, size_t n,
				 struct ec2_instance_list *out, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "InstanceId.%zu", i + 1);
	return describe(aws, &params, out, error);
}

int ec2_stop_instances(struct aws_client *aws, const char *const *ids, size_t n,
		       const struct ec2_stop_options *opts, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "InstanceId.%zu", i + 1);
	if (opts->hibernate)
		aws_params_add(&params, "Hibernate", "true");
	return call_dry_runnable(aws, "StopInstances", &params, opts->dry_run, error);
}

int ec2_terminate_instances(struct aws_client *aws, const char *const *ids, size_t n,
			    bool dry_run, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "InstanceId.%zu", i + 1);
	return call_dry_runnable(aws, "TerminateInstances", &params, dry_run, error);
}

/* ---- images (AMIs) and their snapshots ---- */

static void image_release(struct ec2_image *image)
{
	free(image->id);
	free(image->name);
	free(image->state);
	free(image->creation_date);
	free(image->owner_id);
	for (size_t i = 0; i < image->snapshot_count; i++)
		free(image->snapshot_ids[i]);
	free(image->snapshot_ids);
	tags_release(image->tags, image->tag_count);
}

void ec2_image_list_release(struct ec2_image_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		image_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

const char *ec2_image_tag(const struct ec2_image *image, const char *key)
{
	return tag_lookup(image->tags, image->tag_count, key);
}

/*
 * EC2 writes creationDate as 2026-11-25T03:12:45.000Z. A date without a
 * time of day is refused too: its age would be a guess of up to a day,
 * and the callers delete what is old enough.
 */
static int parse_creation_date(const char *text, int64_t *epoch_s)
{
	bool date_only = false;

	if (!text || time_parse_iso8601(text, epoch_s, &date_only) || date_only)
		return ERR_PARSE;
	return 0;
}

static int parse_image(const struct xml_node *item, struct ec2_image *image)
{
	const struct xml_node *mappings = xml_child(item, "blockDeviceMapping");
	const char *name = xml_text(item, "name"), *owner = xml_text(item, "imageOwnerId");
	size_t n = 0;

	memset(image, 0, sizeof(*image));
	image->id = text_dup(item, "imageId");
	image->state = text_dup(item, "imageState");
	image->creation_date = text_dup(item, "creationDate");
	if (!image->id || !image->state ||
	    parse_creation_date(image->creation_date, &image->creation_time))
		return ERR_PARSE;
	image->name = xstrdup(name ? name : "");
	image->owner_id = xstrdup(owner ? owner : "");

	/* instance-store (ephemeral) mappings and "no device" ones have no snapshot */
	xml_for_each(m, mappings, "item")
		n++;
	if (n) {
		image->snapshot_ids = xcalloc(n, sizeof(*image->snapshot_ids));
		xml_for_each(m, mappings, "item") {
			char *snap = text_dup(m, "ebs/snapshotId");
			if (snap)
				image->snapshot_ids[image->snapshot_count++] = snap;
		}
	}
	parse_tags(xml_child(item, "tagSet"), &image->tags, &image->tag_count);
	return 0;
}

static int add_image(void *list, const struct xml_node *item)
{
	struct ec2_image_list *out = list;

	out->items = grow(out->items, out->count, &out->cap, sizeof(*out->items));
	if (parse_image(item, &out->items[out->count])) {
		image_release(&out->items[out->count]);
		return ERR_PARSE;
	}
	out->count++;
	return 0;
}

int ec2_parse_images(const struct xml_node *root, struct ec2_image_list *out)
{
	/* an empty answer may omit the set; any other document is not ours */
	if (!xml_child(root, "imagesSet") && strcmp(root->name, "DescribeImagesResponse"))
		return ERR_PARSE;
	xml_for_each(item, xml_child(root, "imagesSet"), "item") {
		if (add_image(out, item))
			return ERR_PARSE;
	}
	return 0;
}

LISTING_OPS(ec2_image_list, image_release)

int ec2_describe_images(struct aws_client *aws, const struct ec2_image_query *query,
			struct ec2_image_list *out, struct aws_error *error)
{
	static const char *const paths[] = { "imagesSet/item", NULL };
	struct aws_listing l = { .list = out, .count = ec2_image_list_count, .truncate = ec2_image_list_truncate,
				  .add = add_image, .root = "DescribeImagesResponse" };
	struct aws_params params = AWS_PARAMS_INIT;
	int err;

	for (size_t i = 0; query->owners && query->owners[i]; i++)
		aws_params_addf(&params, query->owners[i], "Owner.%zu", i + 1);
	if (query->filters)
		ec2_filters_to_params(query->filters, &params);
	/* only when asked: "false" is EC2's default, and older models lack the flags */
	if (query->include_deprecated)
		aws_params_add(&params, "IncludeDeprecated", "true");
	if (query->include_disabled)
		aws_params_add(&params, "IncludeDisabled", "true");
	aws_params_add(&params, "MaxResults", EC2_MAX_RESULTS);
	err = stream_listing(aws, "DescribeImages", &params, paths, NULL, &l, error);
	/* a partial listing could make an image look unused: none at all instead */
	if (err)
		ec2_image_list_release(out);
	aws_params_release(&params);
	return err;
}

int ec2_deregister_image(struct aws_client *aws, const char *image_id, bool dry_run,
			 struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	aws_params_add(&params, "ImageId", image_id);
	return call_dry_runnable(aws, "DeregisterImage", &params, dry_run, error);
}

int ec2_delete_snapshot(struct aws_client *aws, const char *snapshot_id, bool dry_run,
			struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	aws_params_add(&params, "SnapshotId", snapshot_id);
	return call_dry_runnable(aws, "DeleteSnapshot", &params, dry_run, error);
}

/* ---- snapshots and tags ---- */

static void snapshot_release(struct ec2_snapshot *snapshot)
{
	free(snapshot->id);
	free(snapshot->owner_id);
	tags_release(snapshot->tags, snapshot->tag_count);
}

void ec2_snapshot_list_release(struct ec2_snapshot_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		snapshot_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

const char *ec2_snapshot_tag(const struct ec2_snapshot *snapshot, const char *key)
{
	return tag_lookup(snapshot->tags, snapshot->tag_count, key);
}

static int add_snapshot(void *list, const struct xml_node *item)
{
	struct ec2_snapshot_list *out = list;
	struct ec2_snapshot *s;
	const char *owner = xml_text(item, "ownerId");

	out->items = grow(out->items, out->count, &out->cap, sizeof(*out->items));
	s = &out->items[out->count];
	memset(s, 0, sizeof(*s));
	s->id = text_dup(item, "snapshotId");
	if (!s->id) {
		snapshot_release(s);
		return ERR_PARSE;
	}
	s->owner_id = xstrdup(owner ? owner : "");
	parse_tags(xml_child(item, "tagSet"), &s->tags, &s->tag_count);
	out->count++;
	return 0;
}

int ec2_parse_snapshots(const struct xml_node *root, struct ec2_snapshot_list *out)
{
	if (!xml_child(root, "snapshotSet") && strcmp(root->name, "DescribeSnapshotsResponse"))
		return ERR_PARSE;
	xml_for_each(item, xml_child(root, "snapshotSet"), "item") {
		if (add_snapshot(out, item))
			return ERR_PARSE;
	}
	return 0;
}

LISTING_OPS(ec2_snapshot_list, snapshot_release)

int ec2_describe_snapshots(struct aws_client *aws, const char *const *owners,
			   const struct ec2_filter_list *filters, struct ec2_snapshot_list *out,
			   struct aws_error *error)
{
	static const char *const paths[] = { "snapshotSet/item", NULL };
	struct aws_listing l = { .list = out, .count = ec2_snapshot_list_count, .truncate = ec2_snapshot_list_truncate,
				  .add = add_snapshot, .root = "DescribeSnapshotsResponse" };
	struct aws_params params = AWS_PARAMS_INIT;
	int err;

	/* the model's member is OwnerIds; its wire name is Owner.N */
	for (size_t i = 0; owners && owners[i]; i++)
		aws_params_addf(&params, owners[i], "Owner.%zu", i + 1);
	if (filters)
		ec2_filters_to_params(filters, &params);
	aws_params_add(&params, "MaxResults", EC2_MAX_RESULTS);
	err = stream_listing(aws, "DescribeSnapshots", &params, paths, NULL, &l, error);
	if (err)
		ec2_snapshot_list_release(out);
	aws_params_release(&params);
	return err;
}

int ec2_create_tags(struct aws_client *aws, const char *const *ids, size_t n, const char *key,
		    const char *value, bool dry_run, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	/* Resources and Tags in the model; ResourceId.N and Tag.N.Key on the wire */
	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "ResourceId.%zu", i + 1);
	aws_params_add(&params, "Tag.1.Key", key);
	aws_params_add(&params, "Tag.1.Value", value);
	return call_dry_runnable(aws, "CreateTags", &params, dry_run, error);
}

int ec2_delete_tags(struct aws_client *aws, const char *const *ids, size_t n, const char *key,
		    bool dry_run, struct aws_error *error)
{
	struct aws_params params = AWS_PARAMS_INIT;

	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "ResourceId.%zu", i + 1);
	/* a key without a value: the tag goes whatever its value */
	aws_params_add(&params, "Tag.1.Key", key);
	return call_dry_runnable(aws, "DeleteTags", &params, dry_run, error);
}

/* ---- launch templates ---- */

static void launch_template_version_release(struct ec2_launch_template_version *v)
{
	free(v->template_id);
	free(v->template_name);
	free(v->image_id);
}

void ec2_launch_template_version_list_release(struct ec2_launch_template_version_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		launch_template_version_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

/* Version numbers start at 1; anything else is not a version EC2 wrote. */
static int parse_version_number(const char *text, long *out)
{
	char *end;
	long v;

	if (!text || *text < '0' || *text > '9')
		return ERR_PARSE;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v < 1)
		return ERR_PARSE;
	*out = v;
	return 0;
}

static int parse_launch_template_version(const struct xml_node *item,
					 struct ec2_launch_template_version *v)
{
	const char *name = xml_text(item, "launchTemplateName");
	const char *is_default = xml_text(item, "defaultVersion");

	memset(v, 0, sizeof(*v));
	v->template_id = text_dup(item, "launchTemplateId");
	if (!v->template_id || parse_version_number(xml_text(item, "versionNumber"), &v->version))
		return ERR_PARSE;
	v->template_name = xstrdup(name ? name : "");
	v->is_default = is_default && !strcmp(is_default, "true");
	v->image_id = text_dup(item, "launchTemplateData/imageId");
	return 0;
}

static int add_launch_template_version(void *list, const struct xml_node *item)
{
	struct ec2_launch_template_version_list *out = list;

	out->items = grow(out->items, out->count, &out->cap, sizeof(*out->items));
	if (parse_launch_template_version(item, &out->items[out->count])) {
		launch_template_version_release(&out->items[out->count]);
		return ERR_PARSE;
	}
	out->count++;
	return 0;
}

int ec2_parse_launch_template_versions(const struct xml_node *root,
				       struct ec2_launch_template_version_list *out)
{
	if (!xml_child(root, "launchTemplateVersionSet") &&
	    strcmp(root->name, "DescribeLaunchTemplateVersionsResponse"))
		return ERR_PARSE;
	xml_for_each(item, xml_child(root, "launchTemplateVersionSet"), "item") {
		if (add_launch_template_version(out, item))
			return ERR_PARSE;
	}
	return 0;
}

LISTING_OPS(ec2_launch_template_version_list, launch_template_version_release)

int ec2_describe_launch_template_versions(struct aws_client *aws, const char *template_id,
					  const char *template_name,
					  const char *const *versions,
					  struct ec2_launch_template_version_list *out,
					  struct aws_error *error)
{
	static const char *const paths[] = { "launchTemplateVersionSet/item", NULL };
	struct aws_listing l = { .list = out, .count = ec2_launch_template_version_list_count, .truncate = ec2_launch_template_version_list_truncate,
				  .add = add_launch_template_version, .root = "DescribeLaunchTemplateVersionsResponse" };
	struct aws_params params = AWS_PARAMS_INIT;
	int err;

	/* without versions EC2 lists every version of the template: never what we mean */
	if (!versions || !versions[0]) {
		memset(error, 0, sizeof(*error));
		error->err = ERR_INTERNAL;
		snprintf(error->message, sizeof(error->message),
			 "DescribeLaunchTemplateVersions called without versions");
		ec2_launch_template_version_list_release(out);
		return ERR_INTERNAL;
	}
	if (template_id)
		aws_params_add(&params, "LaunchTemplateId", template_id);
	else if (template_name)
		aws_params_add(&params, "LaunchTemplateName", template_name);
	/* the model's member is Versions; its wire name is LaunchTemplateVersion.N */
	for (size_t i = 0; versions[i]; i++)
		aws_params_addf(&params, versions[i], "LaunchTemplateVersion.%zu", i + 1);
	aws_params_add(&params, "MaxResults", EC2_LAUNCH_TEMPLATE_MAX_RESULTS);
	err = stream_listing(aws, "DescribeLaunchTemplateVersions", &params, paths, NULL, &l,
			     error);
	if (err)
		ec2_launch_template_version_list_release(out);
	aws_params_release(&params);
	return err;
}
/* ---- filters ---- */

void ec2_filters_add(struct ec2_filter_list *list, const char *name, const char *const *values)
{
	struct ec2_filter *f;
	size_t n = 0;

	while (values[n])
		n++;
	list->items = xrealloc(list->items, (list->count + 1) * sizeof(*list->items));
	f = &list->items[list->count++];
	f->name = xstrdup(name);
	f->value_count = n;
	f->values = xcalloc(n + 1, sizeof(*f->values));
	for (size_t i = 0; i < n; i++)
		f->values[i] = xstrdup(values[i]);
}

void ec2_filters_release(struct ec2_filter_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		for (size_t j = 0; j < list->items[i].value_count; j++)
			free(list->items[i].values[j]);
		free(list->items[i].values);
		free(list->items[i].name);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

int ec2_filters_parse(const char *spec, const char *setting, struct ec2_filter_list *out,
		      struct buf *errmsg)
{
	struct view rest = view_from(spec);

	while (rest.len) {
		const char *semi = memchr(rest.ptr, ';', rest.len);
		struct view part = view_make(rest.ptr, semi ? (size_t)(semi - rest.ptr) : rest.len);
		const char *eq;
		struct view name, values;
		struct ec2_filter *f;

		rest = semi ? view_make(semi + 1, rest.len - part.len - 1) : view_make(rest.ptr, 0);
		part = view_trim(part);
		if (!part.len)
			continue;
		eq = memchr(part.ptr, '=', part.len);
		if (!eq) {
			buf_appendf(errmsg, "%s: filter '%.*s' has no '=' (write name=value[,value])",
				    setting, (int)part.len, part.ptr);
			goto fail;
		}
		name = view_trim(view_make(part.ptr, (size_t)(eq - part.ptr)));
		values = view_trim(view_make(eq + 1, (size_t)(part.ptr + part.len - eq - 1)));
		if (!name.len) {
			buf_appendf(errmsg, "%s: filter '%.*s' has no name", setting, (int)part.len,
				    part.ptr);
			goto fail;
		}
		if (!values.len) {
			buf_appendf(errmsg, "%s: filter '%.*s' has no value", setting,
				    (int)name.len, name.ptr);
			goto fail;
		}
		out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
		f = &out->items[out->count++];
		f->name = view_dup(name);
		f->values = NULL;
		f->value_count = 0;
		/* runs once more after a trailing ',' so that "a=1," is refused */
		for (bool more = true; more;) {
			const char *comma = memchr(values.ptr, ',', values.len);
			struct view v = view_make(values.ptr,
						  comma ? (size_t)(comma - values.ptr) : values.len);
			more = comma != NULL;
			values = comma ? view_make(comma + 1, values.len - v.len - 1)
				       : view_make(values.ptr, 0);
			v = view_trim(v);
			if (!v.len) {
				buf_appendf(errmsg, "%s: filter '%s' has an empty value", setting,
					    f->name);
				goto fail;
			}
			f->values = xrealloc(f->values, (f->value_count + 2) * sizeof(*f->values));
			f->values[f->value_count++] = view_dup(v);
			f->values[f->value_count] = NULL;
		}
	}
	if (!out->count) {
		buf_appendf(errmsg, "%s is empty: it must select something", setting);
		return ERR_CONFIG;
	}
	return 0;
fail:
	ec2_filters_release(out);
	return ERR_CONFIG;
}

void ec2_filters_to_params(const struct ec2_filter_list *list, struct aws_params *params)
{
	for (size_t i = 0; i < list->count; i++) {
		aws_params_addf(params, list->items[i].name, "Filter.%zu.Name", i + 1);
		for (size_t j = 0; j < list->items[i].value_count; j++)
			aws_params_addf(params, list->items[i].values[j], "Filter.%zu.Value.%zu",
					i + 1, j + 1);
	}
}

void ec2_filters_append(struct ec2_filter_list *dst, const struct ec2_filter_list *src)
{
	for (size_t i = 0; src && i < src->count; i++)
		ec2_filters_add(dst, src->items[i].name, (const char *const *)src->items[i].values);
}

void ec2_filters_with_states(const struct ec2_filter_list *filters, const char *const *states,
			     struct ec2_filter_list *query)
{
	bool has_state_filter = false;

	ec2_filters_append(query, filters);
	for (size_t i = 0; i < filters->count; i++)
		has_state_filter |= !strcmp(filters->items[i].name, "instance-state-name");
	if (!has_state_filter)
		ec2_filters_add(query, "instance-state-name", states);
}

void ec2_filters_describe(const struct ec2_filter_list *list, struct buf *out)
{
	for (size_t i = 0; i < list->count; i++) {
		buf_appendf(out, "%s%s=", i ? "; " : "", list->items[i].name);
		for (size_t j = 0; j < list->items[i].value_count; j++)
			buf_appendf(out, "%s%s", j ? "," : "", list->items[i].values[j]);
	}
}
