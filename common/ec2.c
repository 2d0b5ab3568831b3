#include "ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "banned.h"

#define EC2_MAX_RESULTS "1000"

/* ---- instances ---- */

static void instance_release(struct ec2_instance *inst)
{
	free(inst->id);
	free(inst->state);
	free(inst->type);
	free(inst->image_id);
	free(inst->private_ip);
	free(inst->public_ip);
	for (size_t i = 0; i < inst->tag_count; i++) {
		free(inst->tags[i].key);
		free(inst->tags[i].value);
	}
	free(inst->tags);
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
	for (size_t i = 0; i < inst->tag_count; i++)
		if (!strcmp(inst->tags[i].key, key))
			return inst->tags[i].value;
	return NULL;
}

static char *text_dup(const struct xml_node *node, const char *path)
{
	const char *t = xml_text(node, path);
	return t && *t ? xstrdup(t) : NULL;
}

static int64_t text_time(const struct xml_node *node, const char *path)
{
	const char *t = xml_text(node, path);
	int64_t v;

	if (!t || time_parse_iso8601(t, &v, NULL))
		return 0;
	return v;
}

static int parse_instance(const struct xml_node *item, struct ec2_instance *inst)
{
	const struct xml_node *tags = xml_child(item, "tagSet");
	const struct xml_node *enis = xml_child(item, "networkInterfaceSet");
	const char *hib = xml_text(item, "hibernationOptions/configured");
	size_t ntags = 0;

	memset(inst, 0, sizeof(*inst));
	inst->id = text_dup(item, "instanceId");
	inst->state = text_dup(item, "instanceState/name");
	if (!inst->id || !inst->state)
		return ERR_PARSE;
	inst->type = text_dup(item, "instanceType");
	inst->image_id = text_dup(item, "imageId");
	inst->private_ip = text_dup(item, "privateIpAddress");
	inst->public_ip = text_dup(item, "ipAddress");
	inst->launch_time = text_time(item, "launchTime");
	inst->hibernation_configured = hib && !strcmp(hib, "true");

	xml_for_each(t, tags, "item")
		ntags++;
	if (ntags) {
		inst->tags = xcalloc(ntags, sizeof(*inst->tags));
		xml_for_each(t, tags, "item") {
			const char *k = xml_text(t, "key"), *v = xml_text(t, "value");
			if (!k)
				continue;
			inst->tags[inst->tag_count].key = xstrdup(k);
			inst->tags[inst->tag_count].value = xstrdup(v ? v : "");
			inst->tag_count++;
		}
	}
	xml_for_each(eni, enis, "item") {
		const char *index = xml_text(eni, "attachment/deviceIndex");
		if (index && !strcmp(index, "0"))
			inst->attach_time = text_time(eni, "attachment/attachTime");
	}
	return 0;
}

int ec2_parse_instances(const struct xml_node *root, struct ec2_instance_list *out)
{
	if (!xml_child(root, "reservationSet") && strcmp(root->name, "DescribeInstancesResponse"))
		return ERR_PARSE;
	xml_for_each(res, xml_child(root, "reservationSet"), "item") {
		xml_for_each(item, xml_child(res, "instancesSet"), "item") {
			if (out->count == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 32;
				out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
			}
			if (parse_instance(item, &out->items[out->count])) {
				instance_release(&out->items[out->count]);
				return ERR_PARSE;
			}
			out->count++;
		}
	}
	return 0;
}

static int on_instances_page(void *ctx, const struct xml_node *root)
{
	return ec2_parse_instances(root, ctx);
}

/* Every page of DescribeInstances with these parameters; all or nothing. */
static int describe(struct aws_client *aws, struct aws_params *params,
		    struct ec2_instance_list *out, struct aws_error *error)
{
	int err = aws_query_all(aws, &aws_service_ec2, "DescribeInstances", params,
				on_instances_page, out, error);
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
	struct xml_node *root = NULL;
	int err;

	for (size_t i = 0; i < n; i++)
		aws_params_addf(&params, ids[i], "InstanceId.%zu", i + 1);
	if (opts->hibernate)
		aws_params_add(&params, "Hibernate", "true");
	if (opts->dry_run)
		aws_params_add(&params, "DryRun", "true");
	err = aws_query(aws, &aws_service_ec2, "StopInstances", &params, &root, error);
	if (opts->dry_run) {
		if (err && aws_error_is(error, "DryRunOperation")) {
			memset(error, 0, sizeof(*error));
			err = 0;
		} else if (!err) {
			/* EC2 never answers a dry run with success */
			error->err = err = ERR_PARSE;
			snprintf(error->message, sizeof(error->message),
				 "StopInstances answered a dry run with success");
		}
	}
	xml_free(root);
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

void ec2_filters_describe(const struct ec2_filter_list *list, struct buf *out)
{
	for (size_t i = 0; i < list->count; i++) {
		buf_appendf(out, "%s%s=", i ? "; " : "", list->items[i].name);
		for (size_t j = 0; j < list->items[i].value_count; j++)
			buf_appendf(out, "%s%s", j ? "," : "", list->items[i].values[j]);
	}
}
