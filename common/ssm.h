/*
 * ssm.h - SSM (JSON 1.1 protocol): Parameter Store, and Run Command with
 * the managed-instance information that says whether a command can reach
 * an instance.
 */
#ifndef SSM_H
#define SSM_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "buf.h"
#include "err.h"

/*
 * GetParameter: appends the parameter's value to `value`. With decrypt, a
 * SecureString comes back in clear (WithDecryption=true). The value may be
 * a secret: it never appears in `error` nor in logs, and callers wipe it
 * with buf_release_secret() when done. ParameterNotFound and AccessDeniedException
 * come back as ERR_AWS with the code in error->code.
 */
int ssm_get_parameter(struct aws_client *aws, const char *name, bool decrypt,
		      struct buf *value, struct aws_error *error) WARN_UNUSED;

/* ---- Run Command ---- */

/* SendCommand takes at most 50 instance ids. */
#define SSM_MAX_COMMAND_INSTANCES 50
/* A SendCommand comment is at most 100 characters. */
#define SSM_MAX_COMMENT 100

struct ssm_command {
	const char *const *instance_ids;	/* 1 to SSM_MAX_COMMAND_INSTANCES */
	size_t instance_count;
	const char *const *commands;		/* the script's lines, sent as given */
	size_t command_count;
	/*
	 * How long the script may run once started (the document's
	 * executionTimeout, 1-172800 s); 0 leaves the document's default (3600).
	 */
	long execution_timeout_s;
	/*
	 * How long SSM tries to deliver the command to an instance that is not
	 * connected (TimeoutSeconds, 30-2592000 s); 0 leaves SSM's default.
	 */
	long delivery_timeout_s;
	const char *comment;			/* NULL: none; at most SSM_MAX_COMMENT */
};

/*
 * SendCommand of the document AWS-RunShellScript: appends the command's id
 * (36 characters) to `command_id`. Every instance id is checked first, and
 * the counts, timeouts and comment against SSM's limits (ERR_CONFIG, nothing
 * sent). SSM refuses an instance it does not manage or that is not running
 * (InvalidInstanceId, ERR_AWS).
 */
int ssm_send_command(struct aws_client *aws, const struct ssm_command *cmd,
		     struct buf *command_id, struct aws_error *error) WARN_UNUSED;

struct ssm_invocation {
	char *command_id;
	char *instance_id;
	/*
	 * Pending, InProgress, Delayed, Success, Cancelled, TimedOut, Failed,
	 * Cancelling (the model's CommandInvocationStatus)
	 */
	char *status;
	char *status_details;	/* "Undeliverable", "ExecutionTimedOut", ...; NULL if none */
};

struct ssm_invocation_list {
	struct ssm_invocation *items;
	size_t count;
	size_t cap;
};
#define SSM_INVOCATION_LIST_INIT { NULL, 0, 0 }

void ssm_invocation_list_release(struct ssm_invocation_list *list);

/* Whether an invocation's status is final: Success, Failed, TimedOut, Cancelled. */
bool ssm_invocation_finished(const char *status);

/*
 * ListCommandInvocations, every page: the invocations of one command
 * (command_id), of one instance (instance_id), or of one command on one
 * instance; either may be NULL, not both. All or an error (the list is
 * left empty then).
 */
int ssm_list_command_invocations(struct aws_client *aws, const char *command_id,
				 const char *instance_id, struct ssm_invocation_list *out,
				 struct aws_error *error) WARN_UNUSED;

/*
 * One page of ListCommandInvocations:
 *   {"CommandInvocations": [{"CommandId": "...", "InstanceId": "i-...",
 *     "Status": "InProgress", "StatusDetails": "InProgress", ...}],
 *    "NextToken": "..."}
 * ERR_PARSE when the list is missing, or an invocation lacks its command,
 * instance or status.
 */
int ssm_parse_invocations(const cJSON *page, struct ssm_invocation_list *out) WARN_UNUSED;

/* ---- managed instances ---- */

struct ssm_instance_info {
	char *instance_id;
	char *ping_status;	/* "Online", "ConnectionLost", "Inactive" */
};

struct ssm_instance_info_list {
	struct ssm_instance_info *items;
	size_t count;
	size_t cap;
};
#define SSM_INSTANCE_INFO_LIST_INIT { NULL, 0, 0 }

void ssm_instance_info_list_release(struct ssm_instance_info_list *list);

/* The entry of `instance_id`, or NULL: an instance SSM does not manage. */
const struct ssm_instance_info *ssm_instance_info_find(const struct ssm_instance_info_list *list,
							const char *instance_id);

/*
 * DescribeInstanceInformation filtered by instance ids (the InstanceIds
 * filter, 50 ids a call), every page. An instance that SSM does not manage
 * (no agent, no role, never registered) is simply absent from the answer.
 * Every id is checked first (ERR_CONFIG); no ids asks for nothing. All or an
 * error.
 */
int ssm_describe_instance_information(struct aws_client *aws, const char *const *instance_ids,
				      size_t count, struct ssm_instance_info_list *out,
				      struct aws_error *error) WARN_UNUSED;

/*
 * One page of DescribeInstanceInformation:
 *   {"InstanceInformationList": [{"InstanceId": "i-...", "PingStatus": "Online",
 *     "LastPingDateTime": 1.7e9, "PlatformType": "Linux", ...}], "NextToken": "..."}
 * ERR_PARSE when the list is missing or an entry lacks its id or ping status.
 */
int ssm_parse_instance_information(const cJSON *page, struct ssm_instance_info_list *out)
	WARN_UNUSED;

#endif
