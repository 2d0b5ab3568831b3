/*
 * fuzz_ssm.c - SSM's answers (JSON 1.1): GetParameter, ListCommandInvocations
 * and DescribeInstanceInformation, each as a whole call (retries, errors,
 * pages), and each page parser on its own.
 *
 *   make build/fuzz/fuzz_ssm
 *   build/fuzz/fuzz_ssm -max_total_time=60 tests/fuzz/corpus/ssm
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * The input's first byte picks the call; the rest is the answers, in
 * tests/fuzz/fuzz_wire.h's format. Beyond "no crash, no leak":
 * - GetParameter: a success returns exactly the Parameter.Value of the last
 *   answer; a failure returns no value, and its message never shows a value
 *   the input carried (a webhook URL is a secret);
 * - the listings are all or an error, and whatever is listed is whole;
 * - a page parser leaves only whole entries behind, accepted or not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "ssm.h"

#include "fuzz_wire.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How many times `needle` occurs in the input. */
static size_t occurrences(const uint8_t *data, size_t size, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	const char *p = (const char *)data, *end = p + size, *hit;

	while (len && p < end && (hit = memmem(p, (size_t)(end - p), needle, len))) {
		n++;
		p = hit + 1;
	}
	return n;
}

/* Parameter.Value of an answer body, as a copy; NULL when it has none. */
static char *parameter_value(struct view body)
{
	cJSON *doc = cJSON_ParseWithLength(body.ptr, body.len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "Parameter"), "Value");
	char *copy = cJSON_IsString(v) && v->valuestring ? xstrdup(v->valuestring) : NULL;

	cJSON_Delete(doc);
	return copy;
}

static void get_parameter(struct aws_client *aws, struct fuzz_wire *wire, const uint8_t *data,
			  size_t size)
{
	struct buf value = BUF_INIT;
	struct aws_error error;
	int err = ssm_get_parameter(aws, "/fuzz/slack-webhook", true, &value, &error);

	fuzz_check_error(err, &error, data, size);
	if (err) {
		if (value.len)
			__builtin_trap();
	} else {
		/* the last answer served is the one that succeeded: read it again */
		struct fuzz_wire again = *wire;
		struct view answer = { NULL, 0 }, headers, body;
		char *expected;

		again.pos = 0;
		for (size_t i = 0; i < wire->calls && fuzz_wire_next(&again, &answer); i++)
			;
		(void)fuzz_wire_split(answer, &headers, &body);
		expected = parameter_value(body);
		if (!expected || strcmp(expected, buf_cstr(&value)) || strlen(expected) != value.len)
			__builtin_trap();
		free(expected);
	}
	/*
	 * Every Parameter.Value in the input that is long enough to recognise,
	 * has a '~' (no message of ours does) and occurs only once (so no
	 * error message could have carried it) must stay out of the message.
	 */
	if (err) {
		struct fuzz_wire scan = *wire;
		struct view answer, headers, body;

		scan.pos = 0;
		while (fuzz_wire_next(&scan, &answer)) {
			char *v;

			(void)fuzz_wire_split(answer, &headers, &body);
			v = parameter_value(body);
			if (v && strlen(v) >= 8 && strchr(v, '~') &&
			    occurrences(data, size, v) == 1 && strstr(error.message, v))
				__builtin_trap();
			free(v);
		}
	}
	buf_release_secret(&value);
}

static void list_invocations(struct aws_client *aws, const uint8_t *data, size_t size)
{
	struct ssm_invocation_list list = SSM_INVOCATION_LIST_INIT;
	struct aws_error error;
	int err = ssm_list_command_invocations(aws, "0b5ec4a2-2a8b-4c6d-9e0f-112233445566",
					       NULL, &list, &error);

	fuzz_check_error(err, &error, data, size);
	if (err && (list.count || list.items))
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++)
		if (!list.items[i].command_id || !list.items[i].instance_id ||
		    !list.items[i].status)
			__builtin_trap();
	ssm_invocation_list_release(&list);
}

static void describe_instances(struct aws_client *aws, const uint8_t *data, size_t size)
{
	static const char *const ids[] = { "i-0123456789abcdef0", "i-0fedcba9876543210" };
	struct ssm_instance_info_list list = SSM_INSTANCE_INFO_LIST_INIT;
	struct aws_error error;
	int err = ssm_describe_instance_information(aws, ids, 2, &list, &error);

	fuzz_check_error(err, &error, data, size);
	if (err && (list.count || list.items))
		__builtin_trap();
	for (size_t i = 0; i < list.count; i++) {
		if (!list.items[i].instance_id || !list.items[i].ping_status)
			__builtin_trap();
		if (ssm_instance_info_find(&list, list.items[i].instance_id) == NULL)
			__builtin_trap();
	}
	ssm_instance_info_list_release(&list);
}

/* Each page parser on the first answer's body, accepted or refused. */
static void parse_pages(struct fuzz_wire *wire)
{
	struct fuzz_wire first = *wire;
	struct view answer, headers, body;
	struct ssm_invocation_list invocations = SSM_INVOCATION_LIST_INIT;
	struct ssm_instance_info_list infos = SSM_INSTANCE_INFO_LIST_INIT;
	cJSON *doc;

	first.pos = 0;
	if (!fuzz_wire_next(&first, &answer))
		return;
	(void)fuzz_wire_split(answer, &headers, &body);
	doc = cJSON_ParseWithLength(body.ptr, body.len);
	(void)!ssm_parse_invocations(doc, &invocations);
	for (size_t i = 0; i < invocations.count; i++) {
		const struct ssm_invocation *inv = &invocations.items[i];

		if (!inv->command_id || !inv->instance_id || !inv->status)
			__builtin_trap();
		if (ssm_invocation_finished(inv->status) &&
		    strcmp(inv->status, "Success") && strcmp(inv->status, "Failed") &&
		    strcmp(inv->status, "TimedOut") && strcmp(inv->status, "Cancelled"))
			__builtin_trap();
	}
	(void)!ssm_parse_instance_information(doc, &infos);
	for (size_t i = 0; i < infos.count; i++)
		if (!infos.items[i].instance_id || !infos.items[i].ping_status)
			__builtin_trap();
	ssm_invocation_list_release(&invocations);
	ssm_instance_info_list_release(&infos);
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_wire wire;
	struct aws_clock clock;
	struct aws_client *aws;

	if (size < 1)
		return 0;
	fuzz_quiet();
	fuzz_wire_init(&wire, data + 1, size - 1);
	aws = fuzz_wire_client(&wire, &clock);
	switch (data[0] % 3) {
	case 0:
		get_parameter(aws, &wire, data, size);
		break;
	case 1:
		list_invocations(aws, data, size);
		break;
	default:
		describe_instances(aws, data, size);
		break;
	}
	parse_pages(&wire);
	aws_client_free(aws);
	return 0;
}
