#include "ssm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsid.h"
#include "banned.h"

/* Overwrites a string the way buf_release_secret() does, before it is freed. */
static void wipe_string(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
	}
}

/*
 * The answer:
 *   {"Parameter": {"Name": "/devcloud/slack-webhook", "Type": "SecureString",
 *                  "Value": "...", "Version": 3, "ARN": "...", ...}}
 * Messages name the parameter (not a secret) and never the value.
 */
int ssm_get_parameter(struct aws_client *aws, const char *name, bool decrypt, struct buf *value,
		      struct aws_error *error)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *resp = NULL;
	const cJSON *param, *v;
	int err;

	cJSON_AddStringToObject(req, "Name", name);
	cJSON_AddBoolToObject(req, "WithDecryption", decrypt);
	err = aws_json(aws, &aws_service_ssm, "GetParameter", req, &resp, error);
	if (err)
		goto out;
	param = cJSON_GetObjectItemCaseSensitive(resp, "Parameter");
	v = cJSON_GetObjectItemCaseSensitive(param, "Value");
	if (!cJSON_IsString(v) || !v->valuestring) {
		memset(error, 0, sizeof(*error));
		error->err = err = ERR_PARSE;
		error->http_status = 200;
		snprintf(error->message, sizeof(error->message),
			 "GetParameter answered for '%s' without Parameter.Value", name);
		goto out;
	}
	buf_appends(value, v->valuestring);
	/* cJSON frees without clearing: the copy in the tree must not linger */
	wipe_string(v->valuestring);
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return err;
}

/* ---- Run Command ---- */

#define SSM_DOCUMENT "AWS-RunShellScript"
/* AWS-RunShellScript's executionTimeout: 1 s to 48 h */
#define SSM_MAX_EXECUTION_TIMEOUT_S 172800
/* SendCommand's TimeoutSeconds: 30 s to 30 days */
#define SSM_MIN_DELIVERY_TIMEOUT_S 30
#define SSM_MAX_DELIVERY_TIMEOUT_S 2592000
/* ListCommandInvocations and DescribeInstanceInformation: the largest page */
#define SSM_MAX_RESULTS 50
/* DescribeInstanceInformation's filter: ids asked per call */
#define SSM_IDS_PER_DESCRIBE 50

static int refuse(struct aws_error *error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int refuse(struct aws_error *error, const char *fmt, ...)
{
	va_list ap;

	memset(error, 0, sizeof(*error));
	error->err = ERR_CONFIG;
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof(error->message), fmt, ap);
	va_end(ap);
	return ERR_CONFIG;
}

static int unreadable(struct aws_error *error, const char *operation, const char *what)
{
	memset(error, 0, sizeof(*error));
	error->err = ERR_PARSE;
	error->http_status = 200;
	snprintf(error->message, sizeof(error->message), "%s answered %s", operation, what);
	return ERR_PARSE;
}

static int check_ids(const char *const *ids, size_t count, const char *what,
		     struct aws_error *error)
{
	for (size_t i = 0; i < count; i++)
		if (!instance_id_valid(ids[i]))
			return refuse(error, "cannot %s '%.40s': not an instance id", what,
				      ids[i] ? ids[i] : "(null)");
	return 0;
}

/*
 * The request:
 *   {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["i-..."],
 *    "Parameters": {"commands": ["..."], "executionTimeout": ["900"]},
 *    "TimeoutSeconds": 60, "Comment": "..."}
 * The answer: {"Command": {"CommandId": "<36 characters>", "Status": "Pending", ...}}
 */
int ssm_send_command(struct aws_client *aws, const struct ssm_command *cmd,
		     struct buf *command_id, struct aws_error *error)
{
	cJSON *req = NULL, *resp = NULL, *ids, *params, *lines;
	const cJSON *id;
	int err;

	if (!cmd->instance_count || cmd->instance_count > SSM_MAX_COMMAND_INSTANCES)
		return refuse(error, "cannot send a command to %zu instances (1 to %d)",
			      cmd->instance_count, SSM_MAX_COMMAND_INSTANCES);
	err = check_ids(cmd->instance_ids, cmd->instance_count, "send a command to", error);
	if (err)
		return err;
	if (!cmd->command_count)
		return refuse(error, "cannot send a command without a line to run");
	for (size_t i = 0; i < cmd->command_count; i++)
		if (!cmd->commands[i])
			return refuse(error, "cannot send a command with a missing line");
	if (cmd->execution_timeout_s < 0 || cmd->execution_timeout_s > SSM_MAX_EXECUTION_TIMEOUT_S)
		return refuse(error, "cannot send a command with an execution timeout of %ld s "
				     "(1 to %d)", cmd->execution_timeout_s,
			      SSM_MAX_EXECUTION_TIMEOUT_S);
	if (cmd->delivery_timeout_s &&
	    (cmd->delivery_timeout_s < SSM_MIN_DELIVERY_TIMEOUT_S ||
	     cmd->delivery_timeout_s > SSM_MAX_DELIVERY_TIMEOUT_S))
		return refuse(error, "cannot send a command with a delivery timeout of %ld s "
				     "(%d to %d)", cmd->delivery_timeout_s,
			      SSM_MIN_DELIVERY_TIMEOUT_S, SSM_MAX_DELIVERY_TIMEOUT_S);
	if (cmd->comment && strlen(cmd->comment) > SSM_MAX_COMMENT)
		return refuse(error, "cannot send a command with a comment longer than %d "
				     "characters", SSM_MAX_COMMENT);

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "DocumentName", SSM_DOCUMENT);
	ids = cJSON_AddArrayToObject(req, "InstanceIds");
	for (size_t i = 0; i < cmd->instance_count; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateString(cmd->instance_ids[i]));
	params = cJSON_AddObjectToObject(req, "Parameters");
	lines = cJSON_AddArrayToObject(params, "commands");
	for (size_t i = 0; i < cmd->command_count; i++)
		cJSON_AddItemToArray(lines, cJSON_CreateString(cmd->commands[i]));
	if (cmd->execution_timeout_s) {
		char seconds[24];
		snprintf(seconds, sizeof(seconds), "%ld", cmd->execution_timeout_s);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "executionTimeout"),
				     cJSON_CreateString(seconds));
	}
	if (cmd->delivery_timeout_s)
		cJSON_AddNumberToObject(req, "TimeoutSeconds", (double)cmd->delivery_timeout_s);
	if (cmd->comment)
		cJSON_AddStringToObject(req, "Comment", cmd->comment);
	if (!req || !lines)
		abort();	/* cJSON fails only when out of memory */

	err = aws_json(aws, &aws_service_ssm, "SendCommand", req, &resp, error);
	if (err)
		goto out;
	id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(resp, "Command"),
					      "CommandId");
	if (!cJSON_IsString(id) || !id->valuestring || !*id->valuestring) {
		err = unreadable(error, "SendCommand", "without Command.CommandId");
		goto out;
	}
	buf_appends(command_id, id->valuestring);
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return err;
}

static char *string_dup(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring && *v->valuestring ? xstrdup(v->valuestring)
									 : NULL;
}

void ssm_invocation_list_release(struct ssm_invocation_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].command_id);
		free(list->items[i].instance_id);
		free(list->items[i].status);
		free(list->items[i].status_details);
	}
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

bool ssm_invocation_finished(const char *status)
{
	static const char *const final[] = { "Success", "Failed", "TimedOut", "Cancelled" };

	for (size_t i = 0; status && i < sizeof(final) / sizeof(final[0]); i++)
		if (!strcmp(status, final[i]))
			return true;
	return false;
}

int ssm_parse_invocations(const cJSON *page, struct ssm_invocation_list *out)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(page, "CommandInvocations");
	const cJSON *item;

	if (!cJSON_IsArray(list))
		return ERR_PARSE;
	cJSON_ArrayForEach(item, list) {
		struct ssm_invocation inv = {
			string_dup(item, "CommandId"), string_dup(item, "InstanceId"),
			string_dup(item, "Status"), string_dup(item, "StatusDetails"),
		};

		if (!inv.command_id || !inv.instance_id || !inv.status) {
			free(inv.command_id);
			free(inv.instance_id);
			free(inv.status);
			free(inv.status_details);
			return ERR_PARSE;
		}
		if (out->count == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 8;
			out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
		}
		out->items[out->count++] = inv;
	}
	return 0;
}

static int on_invocations_page(void *ctx, const cJSON *page)
{
	return ssm_parse_invocations(page, ctx);
}

int ssm_list_command_invocations(struct aws_client *aws, const char *command_id,
				 const char *instance_id, struct ssm_invocation_list *out,
				 struct aws_error *error)
{
	cJSON *req;
	int err;

	if (!command_id && !instance_id)
		return refuse(error, "cannot list command invocations of no command and no "
				     "instance");
	if (command_id && (!*command_id || strlen(command_id) > 36))
		return refuse(error, "cannot list the invocations of command '%.40s': not a "
				     "command id", command_id);
	if (instance_id && !instance_id_valid(instance_id))
		return refuse(error, "cannot list the command invocations of '%.40s': not an "
				     "instance id", instance_id);
	req = cJSON_CreateObject();
	if (command_id)
		cJSON_AddStringToObject(req, "CommandId", command_id);
	if (instance_id)
		cJSON_AddStringToObject(req, "InstanceId", instance_id);
	cJSON_AddNumberToObject(req, "MaxResults", SSM_MAX_RESULTS);
	err = aws_json_all(aws, &aws_service_ssm, "ListCommandInvocations", req,
			   on_invocations_page, out, error);
	if (err)
		ssm_invocation_list_release(out);
	cJSON_Delete(req);
	return err;
}

/* ---- managed instances ---- */

void ssm_instance_info_list_release(struct ssm_instance_info_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].instance_id);
		free(list->items[i].ping_status);
	}
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

const struct ssm_instance_info *ssm_instance_info_find(const struct ssm_instance_info_list *list,
							const char *instance_id)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->items[i].instance_id, instance_id))
			return &list->items[i];
	return NULL;
}

int ssm_parse_instance_information(const cJSON *page, struct ssm_instance_info_list *out)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(page, "InstanceInformationList");
	const cJSON *item;

	if (!cJSON_IsArray(list))
		return ERR_PARSE;
	cJSON_ArrayForEach(item, list) {
		struct ssm_instance_info info = { string_dup(item, "InstanceId"),
						  string_dup(item, "PingStatus") };

		if (!info.instance_id || !info.ping_status) {
			free(info.instance_id);
			free(info.ping_status);
			return ERR_PARSE;
		}
		if (out->count == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 8;
			out->items = xrealloc(out->items, out->cap * sizeof(*out->items));
		}
		out->items[out->count++] = info;
	}
	return 0;
}

static int on_instance_information_page(void *ctx, const cJSON *page)
{
	return ssm_parse_instance_information(page, ctx);
}

/*
 * The request, per batch of ids:
 *   {"Filters": [{"Key": "InstanceIds", "Values": ["i-..."]}], "MaxResults": 50}
 */
int ssm_describe_instance_information(struct aws_client *aws, const char *const *instance_ids,
				      size_t count, struct ssm_instance_info_list *out,
				      struct aws_error *error)
{
	size_t next = 0;
	int err;

	err = check_ids(instance_ids, count, "describe", error);
	while (!err && next < count) {
		cJSON *req = cJSON_CreateObject();
		cJSON *filter = cJSON_CreateObject();
		cJSON *values;

		cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "Filters"), filter);
		cJSON_AddStringToObject(filter, "Key", "InstanceIds");
		values = cJSON_AddArrayToObject(filter, "Values");
		for (size_t i = 0; i < SSM_IDS_PER_DESCRIBE && next < count; i++, next++)
			cJSON_AddItemToArray(values, cJSON_CreateString(instance_ids[next]));
		cJSON_AddNumberToObject(req, "MaxResults", SSM_MAX_RESULTS);
		err = aws_json_all(aws, &aws_service_ssm, "DescribeInstanceInformation", req,
				   on_instance_information_page, out, error);
		cJSON_Delete(req);
	}
	if (err)
		ssm_instance_info_list_release(out);
	return err;
}
