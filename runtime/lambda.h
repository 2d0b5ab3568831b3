/*
 * lambda.h - the Lambda Runtime API loop every function runs in.
 *
 * A function describes itself with a struct lambda_function and hands it to
 * lambda_main() from its main(). lambda_main():
 *
 *  - initialises logging, OpenSSL (without openssl.cnf) and libcurl;
 *  - calls fn->init() once; a failure there is a configuration error: it is
 *    posted to /runtime/init/error as Runtime.InitError with the message
 *    (which names the bad setting) and the process exits non-zero;
 *  - loops: GET /runtime/invocation/next (no timeout: the sandbox may be
 *    frozen in between; a connect timeout of 1 s; a transient failure -
 *    refused, reset, connect timeout, 5xx - is retried a few times with a
 *    short backoff), sets _X_AMZN_TRACE_ID (or clears it), calls
 *    fn->handle(), POSTs /response or /error. A response over Lambda's 6 MB
 *    limit is reported as an error instead of being sent;
 *  - exits non-zero if the Runtime API itself fails, so Lambda replaces the
 *    sandbox (it never spins): /next still failing after its retries,
 *    answered with a 4xx, or without a usable request id; a result that
 *    cannot be sent (transport failure). A result
 *    the Runtime API answers with a non-2xx status is logged and the loop
 *    goes on;
 *  - logs (ERROR) each failed invocation's type and message, so scheduled
 *    invocations, whose error document nobody reads, leave a trace;
 *  - talks to the Runtime API directly, never through a proxy a function
 *    configures (http_proxy, all_proxy).
 *
 * Without AWS_LAMBDA_RUNTIME_API it is a command-line tool for humans:
 *   bootstrap --event FILE|-   run once, print the response JSON on stdout;
 *                              exit 0 on success, 1 on failure (the
 *                              {"errorType","errorMessage"} JSON on stdout,
 *                              Runtime.InitError for a bad setting), 2 on
 *                              bad usage
 *   bootstrap --help           what the function does and its configuration
 *   bootstrap --version
 * There the request id is "local-<ms>-<pid>", the function ARN "", and the
 * deadline now + $LOCAL_TIMEOUT_MS (default 300000, 5 minutes; not
 * enforced, but every AWS call and wait is bounded by it).
 * Event payloads are never logged.
 */
#ifndef LAMBDA_H
#define LAMBDA_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define LAMBDA_MAX_RESPONSE_BYTES (6u * 1024 * 1024)

struct lambda_request {
	struct view payload;		/* the event, as received; ptr is never
				   NULL and is NUL-terminated */
	const char *request_id;
	const char *function_arn;	/* "" when unknown */
	int64_t deadline_ms;		/* Unix time in ms; 0 = none (header
					   missing or invalid: logged) */
	const char *trace_id;		/* NULL when absent or empty */
	const char *client_context;	/* NULL when absent or empty */
	const char *cognito_identity;	/* NULL when absent or empty */
};

/* Milliseconds until the deadline (may be negative); INT64_MAX without one. */
int64_t lambda_remaining_ms(const struct lambda_request *req);
/* Current Unix time in milliseconds. */
int64_t lambda_now_ms(void);

struct lambda_response {
	bool failed;
	struct buf payload;		/* JSON, on success (and kept on failure);
					   empty is sent as null */
	char *error_type;		/* on failure, e.g. "Stopper.InstancesNotStopped" */
	struct buf error_message;	/* on failure: one readable sentence */
};

/* Marks the response failed (type is copied; message is printf-style). */
void lambda_fail(struct lambda_response *resp, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct lambda_function {
	const char *name;		/* "stopper" */
	const char *summary;		/* one line for --help */
	const char *help;		/* the configuration, for --help */
	/*
	 * Reads the configuration; on failure appends a message naming the bad
	 * setting to `errmsg`, frees what it allocated, and returns non-zero
	 * (release() is not called then). NULL: nothing to set up.
	 */
	int (*init)(void **state, struct buf *errmsg);
	void (*handle)(void *state, const struct lambda_request *req,
		       struct lambda_response *resp);
	void (*release)(void *state);	/* NULL: nothing to free */
};

/*
 * Runs the function as described at the top; returns the process's exit
 * code (main() returns it). In Lambda it returns only on failure.
 */
int lambda_main(int argc, char **argv, const struct lambda_function *fn);

#endif
