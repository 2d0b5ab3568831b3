/*
 * fuzz_aws_errors.c - one AWS call, whatever comes back: EC2's and the
 * Query protocol's XML error documents, JSON 1.1 errors (__type, message,
 * x-amzn-ErrorType), throttling, 5xx and resets with their retries,
 * garbled 2xx bodies.
 *
 *   make build/fuzz/fuzz_aws_errors
 *   build/fuzz/fuzz_aws_errors -max_total_time=60 tests/fuzz/corpus/aws_errors
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * The input's first byte picks the protocol (EC2, Query, JSON); the rest is
 * the answers, in tests/fuzz/fuzz_wire.h's format. Beyond "no crash, no
 * leak": a success comes with a document and only from a 2xx answer; a
 * failure is a negative enum err mirrored in the aws_error, with a one-line,
 * NUL-terminated message that never shows the client's secret key or
 * session token; "throttled" only for a throttling code or a 429; never
 * more attempts than the client allows.
 */
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "cJSON.h"
#include "xml.h"

#include "fuzz_wire.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_wire wire;
	struct aws_clock clock;
	struct aws_client *aws;
	struct aws_error error;
	unsigned protocol;
	int err;

	if (size < 1)
		return 0;
	fuzz_quiet();
	protocol = data[0] % 3;
	fuzz_wire_init(&wire, data + 1, size - 1);
	aws = fuzz_wire_client(&wire, &clock);
	if (protocol == 2) {
		cJSON *req = cJSON_CreateObject(), *result = NULL;

		cJSON_AddStringToObject(req, "Name", "/fuzz/parameter");
		err = aws_json(aws, &aws_service_ssm, "GetParameter", req, &result, &error);
		if (!err != !!result || (result && !cJSON_IsObject(result)))
			__builtin_trap();
		cJSON_Delete(result);
		cJSON_Delete(req);
	} else {
		struct aws_params params = AWS_PARAMS_INIT;
		struct xml_node *result = NULL;

		aws_params_add(&params, "MaxResults", "1000");
		err = aws_query(aws, protocol ? &aws_service_autoscaling : &aws_service_ec2,
				protocol ? "DescribeAutoScalingGroups" : "DescribeInstances",
				&params, &result, &error);
		if (!err != !!result)
			__builtin_trap();
		xml_free(result);
		aws_params_release(&params);
	}
	fuzz_check_error(err, &error, data, size);
	/* a success is a 2xx answer, the last one served */
	if (!err && (wire.last_status < 200 || wire.last_status > 299))
		__builtin_trap();
	/* an HTTP error is the status of the last answer */
	if (err == ERR_AWS && error.http_status != wire.last_status)
		__builtin_trap();
	if (wire.calls > AWS_DEFAULT_MAX_ATTEMPTS)
		__builtin_trap();
	aws_client_free(aws);
	return 0;
}
