#include "ssm.h"

#include <stdio.h>
#include <string.h>

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
