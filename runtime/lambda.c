#include "lambda.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cJSON.h"
#include "err.h"
#include "http.h"
#include "lambda_internal.h"
#include "log.h"
#include "banned.h"

#ifndef DEVCLOUD_VERSION
#define DEVCLOUD_VERSION "dev"
#endif

#define LOCAL_TIMEOUT_MS_DEFAULT 300000	/* 5 minutes: a person is waiting */
#define REQUEST_ID_MAX 128
#define ERROR_TYPE_MAX 128

/* ---- time ---------------------------------------------------------------- */

int64_t lambda_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lambda_remaining_ms(const struct lambda_request *req)
{
	if (req->deadline_ms <= 0)
		return INT64_MAX;
	return req->deadline_ms - lambda_now_ms();
}

/* ---- responses ----------------------------------------------------------- */

void lambda_fail(struct lambda_response *resp, const char *type, const char *fmt, ...)
{
	va_list ap;

	resp->failed = true;
	free(resp->error_type);
	resp->error_type = xstrdup(type ? type : "");
	buf_reset(&resp->error_message);
	va_start(ap, fmt);
	buf_vappendf(&resp->error_message, fmt, ap);
	va_end(ap);
}

void lambda_response_release(struct lambda_response *resp)
{
	buf_release(&resp->payload);
	buf_release(&resp->error_message);
	free(resp->error_type);
	resp->error_type = NULL;
	resp->failed = false;
}

bool lambda_response_check_size(struct lambda_response *resp)
{
	size_t len = resp->payload.len;

	if (resp->failed || len <= LAMBDA_MAX_RESPONSE_BYTES)
		return false;
	lambda_fail(resp, "Function.ResponseSizeTooLarge",
		    "response payload of %zu bytes exceeds Lambda's limit of %u bytes", len,
		    LAMBDA_MAX_RESPONSE_BYTES);
	return true;
}

static bool error_type_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '-';
}

void lambda_error_type_clean(struct buf *out, const char *type)
{
	size_t n;

	if (!type || !*type) {
		buf_appends(out, "Function.Error");
		return;
	}
	n = strlen(type);
	if (n > ERROR_TYPE_MAX)
		n = ERROR_TYPE_MAX;
	for (size_t i = 0; i < n; i++)
		buf_appendc(out, error_type_char_ok(type[i]) ? type[i] : '_');
}

void lambda_error_json(struct buf *out, const char *type, const char *message)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(doc, "errorMessage", message ? message : "");
	cJSON_AddStringToObject(doc, "errorType", type ? type : "");
	cJSON_AddArrayToObject(doc, "stackTrace");
	text = cJSON_PrintUnformatted(doc);
	if (!text)	/* only on OOM, which the hooks turn into abort() */
		abort();
	buf_appends(out, text);
	cJSON_free(text);
	cJSON_Delete(doc);
}

/* ---- header parsing ------------------------------------------------------ */

int lambda_parse_deadline_ms(struct view v, int64_t *deadline_ms)
{
	char digits[24];
	char *end;
	long long n;

	*deadline_ms = 0;
	if (v.len == 0 || v.len >= sizeof(digits))
		return ERR_PARSE;
	for (size_t i = 0; i < v.len; i++)
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return ERR_PARSE;
	memcpy(digits, v.ptr, v.len);
	digits[v.len] = '\0';
	errno = 0;
	n = strtoll(digits, &end, 10);
	if (errno || *end || n <= 0)
		return ERR_PARSE;
	*deadline_ms = n;
	return 0;
}

bool lambda_request_id_valid(struct view id)
{
	if (id.len == 0 || id.len > REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		char c = id.ptr[i];

		if (!error_type_char_ok(c) && c != '~')
			return false;
	}
	return true;
}

/* ---- the Runtime API loop ------------------------------------------------ */

static void runtime_url(struct buf *url, const struct lambda_runtime *rt, const char *path)
{
	buf_reset(url);
	buf_appendf(url, "http://%s/" LAMBDA_API_VERSION "%s", rt->api, path);
}

/* Appends " (errorType)" from a Runtime API error document, when it has one. */
static void append_api_error_type(struct buf *out, const struct buf *body)
{
	cJSON *doc = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "errorType");
	struct buf clean = BUF_INIT;

	if (cJSON_IsString(type)) {
		lambda_error_type_clean(&clean, type->valuestring);
		buf_appendf(out, " (%s)", buf_cstr(&clean));
	}
	buf_release(&clean);
	cJSON_Delete(doc);
}

/*
 * POSTs a result document. A status other than 2xx is logged and tolerated
 * (Lambda has its own view of the invocation then; the next /next decides
 * what happens); a transport failure is returned.
 */
static int post(const struct lambda_runtime *rt, const char *path, const char *what,
		const char *const *headers, size_t header_count, struct view body)
{
	struct buf url = BUF_INIT, errmsg = BUF_INIT, detail = BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct http_request req = {
		.method = "POST",
		.headers = headers,
		.header_count = header_count,
		.body = body,
		.max_response_bytes = 64 * 1024,
		.no_proxy = true,	/* never through a function's proxy */
	};
	int err;

	runtime_url(&url, rt, path);
	req.url = buf_cstr(&url);
	err = rt->transport(rt->transport_ctx, &req, &resp, &errmsg);
	if (err) {
		log_error("cannot post the %s to the Runtime API: %s", what, buf_cstr(&errmsg));
	} else if (resp.status < 200 || resp.status > 299) {
		append_api_error_type(&detail, &resp.body);
		log_error("the Runtime API refused the %s: status %ld%s", what, resp.status,
			  buf_cstr(&detail));
	}
	buf_release(&url);
	buf_release(&errmsg);
	buf_release(&detail);
	http_response_release(&resp);
	return err;
}

/* `type` is already cleaned by lambda_error_type_clean(). */
static int post_error(const struct lambda_runtime *rt, const char *path, const char *what,
		      const char *type, const char *message)
{
	struct buf header = BUF_INIT, body = BUF_INIT;
	const char *headers[2];
	int err;

	buf_appendf(&header, "Lambda-Runtime-Function-Error-Type: %s", type);
	headers[0] = "Content-Type: application/json";
	headers[1] = buf_cstr(&header);
	lambda_error_json(&body, type, message);
	err = post(rt, path, what, headers, 2, buf_view(&body));
	buf_release(&header);
	buf_release(&body);
	return err;
}

static int post_result(const struct lambda_runtime *rt, const char *request_id,
		       struct lambda_response *resp)
{
	struct buf path = BUF_INIT, type = BUF_INIT;
	int err;

	lambda_response_check_size(resp);
	if (resp->failed) {
		struct log_field field = { "errorType", NULL };

		lambda_error_type_clean(&type, resp->error_type);
		field.value = buf_cstr(&type);
		log_with(LOG_ERROR, &field, 1, "invocation failed: %s",
			 buf_cstr(&resp->error_message));
		buf_appendf(&path, "/runtime/invocation/%s/error", request_id);
		err = post_error(rt, buf_cstr(&path), "invocation error", buf_cstr(&type),
				 buf_cstr(&resp->error_message));
	} else {
		static const char *const headers[] = { "Content-Type: application/json" };
		struct view body = resp->payload.len ? buf_view(&resp->payload)
						     : view_from("null");

		buf_appendf(&path, "/runtime/invocation/%s/response", request_id);
		err = post(rt, buf_cstr(&path), "response", headers, 1, body);
	}
	buf_release(&path);
	buf_release(&type);
	return err;
}

/* A header's value as a heap string; NULL when absent or empty. */
static char *header_dup(const struct http_response *r, const char *name)
{
	struct view v;

	return http_response_header(r, name, &v) && v.len ? view_dup(v) : NULL;
}

static void sleep_ms_real(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Whether a failed /next is worth another try: the Runtime API was not
 * reachable for a moment (refused, reset, a connect timeout) or answered
 * with a 5xx. A 4xx means Lambda is done with this sandbox.
 */
static bool next_failure_transient(int err, long status)
{
	if (err)
		return err == ERR_HTTP || err == ERR_TIMEOUT;
	return status >= 500 && status <= 599;
}

/*
 * GETs /next into `next` (a 200), retrying transient failures as described
 * in lambda_internal.h. Logs each retry (WARN) and the final failure.
 */
static int get_next(const struct lambda_runtime *rt, struct http_response *next)
{
	/* no total timeout: the sandbox may be frozen; never through a proxy */
	struct http_request get = {
		.method = "GET",
		.connect_timeout_ms = LAMBDA_CONNECT_TIMEOUT_MS,
		.no_proxy = true,
	};
	struct buf url = BUF_INIT, why = BUF_INIT;
	long backoff_ms = LAMBDA_NEXT_BACKOFF_MS;
	int err;

	runtime_url(&url, rt, "/runtime/invocation/next");
	get.url = buf_cstr(&url);
	for (int attempt = 1;; attempt++) {
		buf_reset(&why);
		err = rt->transport(rt->transport_ctx, &get, next, &why);
		if (!err && next->status == 200)
			break;
		if (!err) {
			buf_appendf(&why, "status %ld", next->status);
			append_api_error_type(&why, &next->body);
		}
		if (!next_failure_transient(err, next->status) ||
		    attempt == LAMBDA_NEXT_ATTEMPTS) {
			if (attempt > 1)
				log_error("cannot get the next invocation from the Runtime API "
					  "after %d attempts: %s", attempt, buf_cstr(&why));
			else
				log_error("cannot get the next invocation from the Runtime API: %s",
					  buf_cstr(&why));
			if (!err)
				err = ERR_AWS;
			break;
		}
		log_warn("cannot get the next invocation from the Runtime API (attempt %d of %d): "
			 "%s; retrying in %ld ms", attempt, LAMBDA_NEXT_ATTEMPTS, buf_cstr(&why),
			 backoff_ms);
		(rt->sleep_ms ? rt->sleep_ms : sleep_ms_real)(backoff_ms);
		backoff_ms *= 2;
	}
	buf_release(&url);
	buf_release(&why);
	return err;
}

/* Waits for one invocation, runs the handler, posts its result. */
static int invoke_once(const struct lambda_runtime *rt, const struct lambda_function *fn,
		       void *state)
{
	struct http_response next = HTTP_RESPONSE_INIT;
	struct lambda_request req = { 0 };
	struct lambda_response resp = { 0 };
	char *request_id = NULL, *arn = NULL, *trace = NULL, *client_context = NULL,
	     *cognito = NULL, *deadline = NULL;
	struct view v;
	int err;

	err = get_next(rt, &next);
	if (err)
		goto out;
	if (!http_response_header(&next, "Lambda-Runtime-Aws-Request-Id", &v) ||
	    !lambda_request_id_valid(v)) {
		log_error("the next invocation has no usable Lambda-Runtime-Aws-Request-Id");
		err = ERR_PARSE;
		goto out;
	}
	request_id = view_dup(v);
	log_set_request_id(request_id);

	deadline = header_dup(&next, "Lambda-Runtime-Deadline-Ms");
	if (deadline && lambda_parse_deadline_ms(view_from(deadline), &req.deadline_ms))
		log_warn("ignoring the invalid Lambda-Runtime-Deadline-Ms '%.32s'", deadline);
	arn = header_dup(&next, "Lambda-Runtime-Invoked-Function-Arn");
	trace = header_dup(&next, "Lambda-Runtime-Trace-Id");
	client_context = header_dup(&next, "Lambda-Runtime-Client-Context");
	cognito = header_dup(&next, "Lambda-Runtime-Cognito-Identity");
	if (trace)
		setenv("_X_AMZN_TRACE_ID", trace, 1);
	else
		unsetenv("_X_AMZN_TRACE_ID");

	req.payload = view_make(buf_cstr(&next.body), next.body.len);
	req.request_id = request_id;
	req.function_arn = arn ? arn : "";
	req.trace_id = trace;
	req.client_context = client_context;
	req.cognito_identity = cognito;
	fn->handle(state, &req, &resp);

	/* the event can be 6 MB: let it go before the response is sent */
	http_response_release(&next);
	err = post_result(rt, request_id, &resp);
out:
	log_set_request_id(NULL);
	lambda_response_release(&resp);
	http_response_release(&next);
	free(request_id);
	free(deadline);
	free(arn);
	free(trace);
	free(client_context);
	free(cognito);
	return err;
}

int lambda_run(const struct lambda_runtime *rt, const struct lambda_function *fn,
	       long max_invocations)
{
	struct buf errmsg = BUF_INIT;
	void *state = NULL;
	int err = 0;

	if (fn->init && fn->init(&state, &errmsg)) {
		const char *msg = errmsg.len ? buf_cstr(&errmsg) : "initialisation failed";

		log_error("cannot start: %s", msg);
		/* the exit is what matters; a failed post is logged by post() */
		(void)post_error(rt, "/runtime/init/error", "init error", "Runtime.InitError",
				 msg);
		buf_release(&errmsg);
		return ERR_CONFIG;
	}
	buf_release(&errmsg);
	for (long n = 0; !max_invocations || n < max_invocations; n++) {
		err = invoke_once(rt, fn, state);
		if (err)
			break;
	}
	if (fn->release)
		fn->release(state);
	return err;
}

/* ---- the command line ---------------------------------------------------- */

static void *cjson_malloc(size_t size)
{
	return xmalloc(size);
}

static void usage(FILE *out, const struct lambda_function *fn)
{
	fprintf(out, "usage: %s --event FILE|-\n       %s --help | --version\n", fn->name,
		fn->name);
}

static void help(const struct lambda_function *fn)
{
	printf("%s - %s\n\n", fn->name, fn->summary ? fn->summary : "");
	usage(stdout, fn);
	printf("\n"
	       "On AWS Lambda (AWS_LAMBDA_RUNTIME_API set) this is the function's\n"
	       "bootstrap. Run by hand, --event runs it once on the event in FILE (or\n"
	       "on stdin with -), prints the response JSON on stdout and exits 0, or\n"
	       "prints {\"errorType\",\"errorMessage\"} and exits 1 (errorType\n"
	       "Runtime.InitError when a setting is bad); bad usage exits 2.\n");
	if (fn->help && *fn->help)
		printf("\n%s%s", fn->help, fn->help[strlen(fn->help) - 1] == '\n' ? "" : "\n");
	printf("\n"
	       "Runtime:\n"
	       "  AWS_LAMBDA_RUNTIME_API\n"
	       "      host:port of the Lambda Runtime API (set by Lambda)\n"
	       "  LOCAL_TIMEOUT_MS\n"
	       "      with --event: the deadline the function sees, in ms from now;\n"
	       "      its AWS calls and waits end by then (the process is not killed)\n"
	       "      default: %d (5 minutes)\n"
	       "Logs go to stderr; event payloads are never logged.\n",
	       LOCAL_TIMEOUT_MS_DEFAULT);
}

static int read_event(const char *path, struct buf *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char chunk[65536];
	size_t n;
	int saved;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	saved = ferror(f) ? (errno ? errno : EIO) : 0;
	if (f != stdin)
		fclose(f);
	errno = saved;
	return saved ? -1 : 0;
}

static int parse_local_timeout(int64_t *timeout_ms)
{
	const char *s = getenv("LOCAL_TIMEOUT_MS");
	char *end;
	long long n;

	*timeout_ms = LOCAL_TIMEOUT_MS_DEFAULT;
	if (!s || !*s)
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end || n <= 0)
		return ERR_CONFIG;
	*timeout_ms = n;
	return 0;
}

/* Appends {"errorType":...,"errorMessage":...}, the type cleaned. */
static void local_error_json(struct buf *out, const char *type, const char *message)
{
	struct buf clean = BUF_INIT;
	cJSON *doc = cJSON_CreateObject();
	char *text;

	lambda_error_type_clean(&clean, type);
	cJSON_AddStringToObject(doc, "errorType", buf_cstr(&clean));
	cJSON_AddStringToObject(doc, "errorMessage", message ? message : "");
	text = cJSON_PrintUnformatted(doc);
	if (!text)	/* only on OOM, which the hooks turn into abort() */
		abort();
	buf_appends(out, text);
	cJSON_free(text);
	cJSON_Delete(doc);
	buf_release(&clean);
}

static int run_local(const struct lambda_function *fn, const char *event_path)
{
	struct buf event = BUF_INIT, errmsg = BUF_INIT, out = BUF_INIT, id = BUF_INIT;
	struct lambda_response resp = { 0 };
	struct lambda_request req = { 0 };
	int64_t timeout_ms;
	void *state = NULL;
	bool setup_failed = false;
	int rc;

	if (parse_local_timeout(&timeout_ms)) {
		fprintf(stderr,
			"error: LOCAL_TIMEOUT_MS must be a positive number of ms, not '%s'\n",
			getenv("LOCAL_TIMEOUT_MS"));
		rc = 2;
		goto out;
	}
	if (read_event(event_path, &event)) {
		fprintf(stderr, "error: cannot read the event '%s': %s\n", event_path,
			strerror(errno));
		rc = 2;
		goto out;
	}
	if (http_global_init()) {
		buf_appends(&errmsg, "cannot initialise OpenSSL or libcurl");
		setup_failed = true;
	} else if (fn->init && fn->init(&state, &errmsg)) {
		if (!errmsg.len)
			buf_appends(&errmsg, "initialisation failed");
		setup_failed = true;
	}
	if (setup_failed) {
		/* a setup error is a failure like any other: its JSON on stdout */
		fprintf(stderr, "error: %s\n", buf_cstr(&errmsg));
		local_error_json(&out, "Runtime.InitError", buf_cstr(&errmsg));
		buf_appendc(&out, '\n');
		if (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout))
			fprintf(stderr, "error: cannot write the response: %s\n",
				strerror(errno));
		rc = 1;
		goto out;
	}

	buf_appendf(&id, "local-%" PRId64 "-%ld", lambda_now_ms(), (long)getpid());
	req.payload = view_make(buf_cstr(&event), event.len);
	req.request_id = buf_cstr(&id);
	req.function_arn = "";
	req.deadline_ms = lambda_now_ms() + timeout_ms;
	log_set_request_id(req.request_id);
	fn->handle(state, &req, &resp);
	log_set_request_id(NULL);
	lambda_response_check_size(&resp);

	if (resp.failed) {
		struct buf type = BUF_INIT;

		lambda_error_type_clean(&type, resp.error_type);
		local_error_json(&out, resp.error_type, buf_cstr(&resp.error_message));
		fprintf(stderr, "error: %s: %s\n", buf_cstr(&type),
			buf_cstr(&resp.error_message));
		buf_release(&type);
		rc = 1;
	} else {
		buf_appendv(&out, resp.payload.len ? buf_view(&resp.payload) : view_from("null"));
		rc = 0;
	}
	buf_appendc(&out, '\n');
	if (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout)) {
		fprintf(stderr, "error: cannot write the response: %s\n", strerror(errno));
		rc = 1;
	}
	if (fn->release)
		fn->release(state);
out:
	lambda_response_release(&resp);
	buf_release(&event);
	buf_release(&errmsg);
	buf_release(&out);
	buf_release(&id);
	return rc;
}

static int run_runtime(const struct lambda_function *fn, const char *api)
{
	struct lambda_runtime rt = { .api = api, .transport = http_transport_curl };
	int err;

	for (const char *p = api; *p; p++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]",
			    *p)) {
			log_error("AWS_LAMBDA_RUNTIME_API is not a host:port: '%s'", api);
			return 1;
		}
	}
	if (http_global_init())
		return 1;

	rt.transport_ctx = http_client_new();
	err = lambda_run(&rt, fn, 0);
	http_client_free(rt.transport_ctx);
	return err ? 1 : 0;
}

int lambda_main(int argc, char **argv, const struct lambda_function *fn)
{
	cJSON_Hooks hooks = { cjson_malloc, free };
	const char *event_path = NULL, *api;

	cJSON_InitHooks(&hooks);
	log_init_from_env();

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			help(fn);
			return 0;
		} else if (!strcmp(arg, "--version")) {
			printf("%s %s\n", fn->name, DEVCLOUD_VERSION);
			return 0;
		} else if (!strcmp(arg, "--event")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: --event needs a file name, or - for stdin\n");
				usage(stderr, fn);
				return 2;
			}
			event_path = argv[++i];
		} else if (!strncmp(arg, "--event=", 8)) {
			event_path = arg + 8;
		} else {
			fprintf(stderr, "error: unknown argument '%s'\n", arg);
			usage(stderr, fn);
			return 2;
		}
	}
	if (event_path && !*event_path) {
		fprintf(stderr, "error: --event needs a file name, or - for stdin\n");
		return 2;
	}
	if (event_path)
		return run_local(fn, event_path);

	api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (!api || !*api) {
		fprintf(stderr, "error: AWS_LAMBDA_RUNTIME_API is not set; to run once "
				"by hand, use --event\n");
		usage(stderr, fn);
		return 2;
	}
	return run_runtime(fn, api);
}
