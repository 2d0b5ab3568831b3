/*
 * lambda_internal.h - the pieces of lambda.c that unit tests reach into.
 *
 * Not for functions: they use lambda.h only. The Runtime API loop takes its
 * transport as a function pointer (http.h's http_transport_fn), so the whole
 * loop - /next, the handler, /response or /error, the init error - runs in
 * tests against a scripted fake, without a network.
 */
#ifndef LAMBDA_INTERNAL_H
#define LAMBDA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "lambda.h"

/* The path every Runtime API URL starts with, after http://host:port. */
#define LAMBDA_API_VERSION "2018-06-01"

/*
 * GET /next is tried LAMBDA_NEXT_ATTEMPTS times when it fails transiently
 * (refused, reset, a connect timeout, a 5xx), waiting LAMBDA_NEXT_BACKOFF_MS
 * and then twice as long after each failure (50 + 100 + 200 + 400 ms). A
 * connection to the Runtime API must be made within
 * LAMBDA_CONNECT_TIMEOUT_MS (aws-lambda-cpp's value); the /next read itself
 * has no time limit (the sandbox is frozen between invocations).
 */
#define LAMBDA_NEXT_ATTEMPTS 5
#define LAMBDA_NEXT_BACKOFF_MS 50
#define LAMBDA_CONNECT_TIMEOUT_MS 1000

struct lambda_runtime {
	const char *api;		/* host:port, as in AWS_LAMBDA_RUNTIME_API */
	http_transport_fn transport;	/* http_transport_curl in production */
	void *transport_ctx;		/* its struct http_client */
	void (*sleep_ms)(long ms);	/* between /next attempts; NULL = nanosleep */
};

/*
 * Calls fn->init (posting /runtime/init/error on failure), then serves up to
 * max_invocations invocations (0 = forever), then calls fn->release.
 * Returns 0 after max_invocations; ERR_CONFIG when init failed; the error of
 * the Runtime API call that failed otherwise (everything is logged here).
 */
int lambda_run(const struct lambda_runtime *rt, const struct lambda_function *fn,
	       long max_invocations) WARN_UNUSED;

/*
 * Parses Lambda-Runtime-Deadline-Ms: a positive decimal Unix time in ms, with
 * nothing else around it. 0 on success; ERR_PARSE (and *deadline_ms = 0,
 * meaning "no deadline") otherwise.
 */
int lambda_parse_deadline_ms(struct view v, int64_t *deadline_ms) WARN_UNUSED;

/*
 * Whether a request id can go into a Runtime API URL as it is: 1 to 128 of
 * [A-Za-z0-9._:~-] (Lambda's are UUIDs).
 */
bool lambda_request_id_valid(struct view id);

/*
 * Appends the error document Lambda expects:
 *   {"errorMessage":"...","errorType":"...","stackTrace":[]}
 */
void lambda_error_json(struct buf *out, const char *type, const char *message);

/*
 * Appends the error type as it goes into the Lambda-Runtime-Function-Error-Type
 * header and the document: characters outside [A-Za-z0-9._:-] become '_', an
 * empty or NULL type becomes "Function.Error", and it is cut at 128 bytes.
 */
void lambda_error_type_clean(struct buf *out, const char *type);

/*
 * Turns a successful response over LAMBDA_MAX_RESPONSE_BYTES into the
 * Function.ResponseSizeTooLarge failure Lambda itself would report; returns
 * whether it did.
 */
bool lambda_response_check_size(struct lambda_response *resp);

/* Frees what a handler put into resp; resp is all zero afterwards. */
void lambda_response_release(struct lambda_response *resp);


#endif
