#include "aws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "banned.h"

const struct aws_service aws_service_ec2 = {
	"ec2", "ec2", "EC2", AWS_PROTOCOL_EC2, "2016-11-15", NULL,
};
const struct aws_service aws_service_autoscaling = {
	"autoscaling", "autoscaling", "AUTO_SCALING", AWS_PROTOCOL_QUERY, "2011-01-01", NULL,
};
const struct aws_service aws_service_ssm = {
	"ssm", "ssm", "SSM", AWS_PROTOCOL_JSON, NULL, "AmazonSSM",
};

#define AWS_MAX_PAGES 100000
/* what a listing's parser may hold at once: a page's skeleton and one item */
#define AWS_XML_MAX_KEPT (4u << 20)
#define AWS_ATTEMPT_CAP_MS 120000

/*
 * The standard retry mode's retry quota (a token bucket per client, as the
 * AWS SDKs keep it): a retry costs AWS_RETRY_COST tokens, or
 * AWS_TIMEOUT_RETRY_COST after a timeout or a connection error; a call that
 * succeeds after retrying gives back what its last retry cost, one that
 * succeeds at once adds AWS_NO_RETRY_INCREMENT, never above the initial
 * AWS_RETRY_QUOTA. When the bucket cannot pay for a retry, the call fails
 * without it: a run that is being throttled backs off instead of adding
 * load.
 */
#define AWS_RETRY_QUOTA 500
#define AWS_RETRY_COST 5
#define AWS_TIMEOUT_RETRY_COST 10
#define AWS_NO_RETRY_INCREMENT 1

struct aws_client {
	struct aws_credentials credentials;
	char *region;
	int max_attempts;
	int64_t margin_ms;
	int64_t deadline_ms;
	char *endpoint_url;
	char *endpoint_url_ec2;
	char *endpoint_url_autoscaling;
	char *endpoint_url_ssm;
	char *user_agent;
	http_transport_fn transport;
	void *transport_ctx;
	struct http_client *own_http;
	struct aws_clock clock;
	struct sigv4_key_cache signing_key;	/* secret material: wiped when freed */
	int retry_tokens;		/* the retry quota left */
	bool quota_warned;		/* "retry quota spent" logged since the last retry */
};

/* ---- parameters ---- */

void aws_params_add(struct aws_params *p, const char *key, const char *value)
{
	if (p->count == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->items = xrealloc(p->items, p->cap * sizeof(*p->items));
	}
	p->items[p->count].key = xstrdup(key);
	p->items[p->count].value = xstrdup(value);
	p->count++;
}

void aws_params_addf(struct aws_params *p, const char *value, const char *key_fmt, ...)
{
	struct buf key = BUF_INIT;
	va_list ap;

	va_start(ap, key_fmt);
	buf_vappendf(&key, key_fmt, ap);
	va_end(ap);
	aws_params_add(p, buf_cstr(&key), value);
	buf_release(&key);
}

void aws_params_release(struct aws_params *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->items[i].key);
		free(p->items[i].value);
	}
	free(p->items);
	p->items = NULL;
	p->count = p->cap = 0;
}

/* ---- errors ---- */

static void error_set(struct aws_error *e, int err, long status, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void error_set(struct aws_error *e, int err, long status, const char *code,
		      const char *fmt, ...)
{
	va_list ap;
	size_t n;

	e->err = err;
	e->http_status = status;
	n = code ? strlen(code) : 0;
	if (n >= sizeof(e->code))
		n = sizeof(e->code) - 1;
	memcpy(e->code, code ? code : "", n);
	e->code[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* one line */
	for (char *p = e->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

void aws_error_describe(const struct aws_error *e, struct buf *out)
{
	if (e->code[0] && e->message[0])
		buf_appendf(out, "%s: %s", e->code, e->message);
	else if (e->code[0])
		buf_appends(out, e->code);
	else
		buf_appends(out, e->message[0] ? e->message : err_name(e->err));
}

bool aws_error_is(const struct aws_error *e, const char *code)
{
	return !strcmp(e->code, code);
}

bool aws_is_throttling_code(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(code, codes[i]))
			return true;
	return false;
}

static bool is_transient_code(const char *code)
{
	return !strcmp(code, "RequestTimeout") || !strcmp(code, "RequestTimeoutException") ||
	       !strcmp(code, "InternalError") || !strcmp(code, "ServiceUnavailable");
}

/* ---- client ---- */

void aws_config_help(struct buf *out)
{
	static const struct config_setting shared[] = {
		{ "AWS_REGION", NULL, "region to work in (Lambda sets it); else AWS_DEFAULT_REGION", false },
		{ "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", NULL,
		  "credentials (Lambda sets them from the function's role); never logged", true },
		{ "AWS_MAX_ATTEMPTS", "3",
		  "attempts per AWS call (1-20): throttling, 5xx and network errors are retried "
		  "with exponential backoff and full jitter", false },
		{ "AWS_ENDPOINT_URL", NULL,
		  "endpoint for every AWS service (LocalStack, the test emulator)", false },
		{ "AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_AUTO_SCALING, AWS_ENDPOINT_URL_SSM", NULL,
		  "endpoint for one service; wins over AWS_ENDPOINT_URL", false },
		{ "SSL_CERT_FILE", NULL,
		  "CA bundle; else the system's (/etc/pki/tls/certs/ca-bundle.crt on Lambda)", false },
		{ "AWS_LAMBDA_LOG_FORMAT", "Text", "Text, or JSON for one JSON object a line", false },
		{ "AWS_LAMBDA_LOG_LEVEL", "INFO", "TRACE, DEBUG, INFO, WARN, ERROR or FATAL", false },
	};
	buf_appendc(out, '\n');
	config_help("Shared settings", shared, sizeof(shared) / sizeof(shared[0]), out);
}

static int64_t real_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep_ms(void *ctx, int64_t ms)
{
	struct timespec ts;

	(void)ctx;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

static double real_random(void *ctx)
{
	(void)ctx;
	/* 2^-32 steps: uniform in [0, 1) */
	return (double)arc4random() / 4294967296.0;
}

const struct aws_clock *aws_clock_real(void)
{
	static const struct aws_clock real_clock = { real_now_ms, real_sleep_ms, real_random, NULL };

	return &real_clock;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

struct aws_client *aws_client_new(const struct aws_client_options *opts)
{
	struct aws_client *c = xcalloc(1, sizeof(*c));

	c->credentials.access_key_id = xstrdup(opts->credentials->access_key_id);
	c->credentials.secret_access_key = xstrdup(opts->credentials->secret_access_key);
	c->credentials.session_token = dup_or_null(opts->credentials->session_token);
	c->region = xstrdup(opts->region);
	c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : AWS_DEFAULT_MAX_ATTEMPTS;
	c->margin_ms = opts->deadline_margin_ms >= 0 ? opts->deadline_margin_ms
						      : AWS_DEFAULT_DEADLINE_MARGIN_MS;
	c->endpoint_url = dup_or_null(opts->endpoint_url);
	c->endpoint_url_ec2 = dup_or_null(opts->endpoint_url_ec2);
	c->endpoint_url_autoscaling = dup_or_null(opts->endpoint_url_autoscaling);
	c->endpoint_url_ssm = dup_or_null(opts->endpoint_url_ssm);
	c->user_agent = xstrdup(opts->user_agent ? opts->user_agent : "devcloud");
	if (opts->transport) {
		c->transport = opts->transport;
		c->transport_ctx = opts->transport_ctx;
	} else {
		c->own_http = http_client_new();
		c->transport = http_transport_curl;
		c->transport_ctx = c->own_http;
	}
	c->clock = opts->clock ? *opts->clock : *aws_clock_real();
	c->retry_tokens = AWS_RETRY_QUOTA;
	return c;
}

void aws_client_free(struct aws_client *c)
{
	if (!c)
		return;
	aws_credentials_release(&c->credentials);
	sigv4_key_cache_wipe(&c->signing_key);
	free(c->region);
	free(c->endpoint_url);
	free(c->endpoint_url_ec2);
	free(c->endpoint_url_autoscaling);
	free(c->endpoint_url_ssm);
	free(c->user_agent);
	http_client_free(c->own_http);
	free(c);
}

static bool valid_region(const char *r)
{
	if (!*r || strlen(r) > 32)
		return false;
	for (const char *p = r; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

const char *aws_region_dns_suffix(const char *region)
{
	static const struct {
		const char *prefix, *suffix;
	} partitions[] = {
		{ "cn-", "amazonaws.com.cn" },		/* aws-cn */
		{ "us-iso-", "c2s.ic.gov" },		/* aws-iso */
		{ "us-isob-", "sc2s.sgov.gov" },	/* aws-iso-b */
		{ "us-isof-", NULL },			/* aws-iso-f */
		{ "eu-isoe-", NULL },			/* aws-iso-e */
		{ "eusc-", NULL },			/* aws-eusc */
		{ "us-gov-", "amazonaws.com" },		/* aws-us-gov */
	};

	for (size_t i = 0; i < sizeof(partitions) / sizeof(partitions[0]); i++)
		if (starts_with(region, partitions[i].prefix))
			return partitions[i].suffix;
	return strstr(region, "-iso") ? NULL : "amazonaws.com";	/* aws */
}

static bool valid_endpoint(const char *url)
{
	return !url || !*url || !strncmp(url, "https://", 8) || !strncmp(url, "http://", 7);
}

int aws_client_from_env(struct aws_client **out, struct buf *errmsg)
{
	struct aws_credentials creds = {
		getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
		getenv("AWS_SESSION_TOKEN"),
	};
	const char *region = getenv("AWS_REGION");
	const char *attempts = getenv("AWS_MAX_ATTEMPTS");
	static const char *const endpoint_vars[] = {
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_AUTO_SCALING",
		"AWS_ENDPOINT_URL_SSM",
	};
	struct aws_client_options opts = { 0 };
	long max_attempts = AWS_DEFAULT_MAX_ATTEMPTS;
	unsigned overrides = 0;		/* bit i: endpoint_vars[i] is set */

	*out = NULL;
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!creds.access_key_id || !*creds.access_key_id) {
		buf_appends(errmsg, "AWS_ACCESS_KEY_ID is not set (Lambda sets it from the function's role)");
		return ERR_CONFIG;
	}
	if (!creds.secret_access_key || !*creds.secret_access_key) {
		buf_appends(errmsg, "AWS_SECRET_ACCESS_KEY is not set");
		return ERR_CONFIG;
	}
	if (!region || !*region) {
		buf_appends(errmsg, "AWS_REGION is not set (nor AWS_DEFAULT_REGION)");
		return ERR_CONFIG;
	}
	if (!valid_region(region)) {
		buf_appendf(errmsg, "AWS_REGION '%s' is not a region name", region);
		return ERR_CONFIG;
	}
	if (attempts && *attempts) {
		char *end;
		max_attempts = strtol(attempts, &end, 10);
		if (*end || end == attempts || max_attempts < 1 || max_attempts > 20) {
			buf_appendf(errmsg, "AWS_MAX_ATTEMPTS must be a whole number from 1 to 20, got '%s'",
				    attempts);
			return ERR_CONFIG;
		}
	}
	for (size_t i = 0; i < sizeof(endpoint_vars) / sizeof(endpoint_vars[0]); i++) {
		const char *v = getenv(endpoint_vars[i]);

		if (!valid_endpoint(v)) {
			buf_appendf(errmsg, "%s must start with https:// or http://", endpoint_vars[i]);
			return ERR_CONFIG;
		}
		if (v && *v)
			overrides |= 1u << i;
	}
	/* every service needs an endpoint when the region's are not built in */
	if (!aws_region_dns_suffix(region) && !(overrides & 1u) && overrides != 0xeu) {
		buf_appendf(errmsg, "the endpoints of AWS_REGION '%s' are not built in; set "
				    "AWS_ENDPOINT_URL to its endpoint", region);
		return ERR_CONFIG;
	}
	opts.credentials = &creds;
	opts.region = region;
	opts.max_attempts = (int)max_attempts;
	opts.deadline_margin_ms = AWS_DEFAULT_DEADLINE_MARGIN_MS;
	opts.endpoint_url = getenv("AWS_ENDPOINT_URL");
	opts.endpoint_url_ec2 = getenv("AWS_ENDPOINT_URL_EC2");
	opts.endpoint_url_autoscaling = getenv("AWS_ENDPOINT_URL_AUTO_SCALING");
	opts.endpoint_url_ssm = getenv("AWS_ENDPOINT_URL_SSM");
	*out = aws_client_new(&opts);
	return 0;
}

void aws_client_set_deadline(struct aws_client *c, int64_t deadline_ms)
{
	c->deadline_ms = deadline_ms;
}

int64_t aws_client_time_left_ms(const struct aws_client *c)
{
	if (!c->deadline_ms)
		return INT64_MAX;
	return c->deadline_ms - c->margin_ms - c->clock.now_ms(c->clock.ctx);
}

const char *aws_client_region(const struct aws_client *c)
{
	return c->region;
}

void aws_client_sleep_ms(struct aws_client *c, int64_t ms)
{
	c->clock.sleep_ms(c->clock.ctx, ms);
}

int64_t aws_client_now_ms(const struct aws_client *c)
{
	return c->clock.now_ms(c->clock.ctx);
}

int aws_client_retry_quota(const struct aws_client *c)
{
	return c->retry_tokens;
}

static void quota_release(struct aws_client *c, int tokens)
{
	c->retry_tokens += tokens;
	if (c->retry_tokens > AWS_RETRY_QUOTA)
		c->retry_tokens = AWS_RETRY_QUOTA;
}

void aws_client_endpoint(const struct aws_client *c, const struct aws_service *svc,
			 struct buf *url)
{
	const char *override = NULL;

	if (svc == &aws_service_ec2)
		override = c->endpoint_url_ec2;
	else if (svc == &aws_service_autoscaling)
		override = c->endpoint_url_autoscaling;
	else if (svc == &aws_service_ssm)
		override = c->endpoint_url_ssm;
	if (!override)
		override = c->endpoint_url;
	if (override) {
		buf_appends(url, override);
	} else {
		const char *suffix = aws_region_dns_suffix(c->region);

		/* (aws_client_from_env() refuses a region without one) */
		buf_appendf(url, "https://%s.%s.%s", svc->endpoint_prefix, c->region,
			    suffix ? suffix : "amazonaws.com");
	}
}

/* ---- one signed exchange ---- */

/*
 * Reads a 2xx answer as it streams in (a listing's page). begin() starts
 * each attempt afresh; end() says whether what came was a whole answer,
 * and whether a garbled one is worth another attempt.
 */
struct body_reader {
	void (*begin)(void *ctx, int attempt);
	int (*write)(void *ctx, struct view chunk);
	int (*end)(void *ctx, bool *retry, struct buf *why);
	void *ctx;
};

struct wire_request {
	const char *operation;		/* for messages */
	const char *content_type;
	const char *target;		/* X-Amz-Target or NULL */
	struct view body;
	const struct body_reader *reader;	/* NULL: the answer is buffered */
};

/* Splits "scheme://authority/path?query" into authority and path. */
static void split_url(const char *url, struct buf *authority, struct buf *path)
{
	const char *p = strstr(url, "://");
	const char *slash;

	p = p ? p + 3 : url;
	slash = strchr(p, '/');
	if (slash) {
		buf_append(authority, p, (size_t)(slash - p));
		buf_appends(path, slash);
	} else {
		buf_appends(authority, p);
		buf_appends(path, "/");
	}
	/* never sign a query or fragment from an endpoint override */
	for (size_t i = 0; i < path->len; i++) {
		if (path->ptr[i] == '?' || path->ptr[i] == '#') {
			path->len = i;
			path->ptr[i] = '\0';
			break;
		}
	}
}

static int send_once(struct aws_client *c, const struct aws_service *svc,
		     const struct wire_request *w, long timeout_ms, struct http_response *resp,
		     struct buf *errmsg)
{
	struct buf url = BUF_INIT, authority = BUF_INIT, path = BUF_INIT, auth = BUF_INIT;
	struct buf h_host = BUF_INIT, h_date = BUF_INIT, h_type = BUF_INIT, h_target = BUF_INIT;
	struct buf h_token = BUF_INIT, h_auth = BUF_INIT, h_agent = BUF_INIT;
	struct sigv4_header sh[5];
	const char *lines[8];
	size_t nsh = 0, nlines = 0;
	char amz_date[17], date[9];
	int64_t now_ms = c->clock.now_ms(c->clock.ctx);
	int err;

	aws_client_endpoint(c, svc, &url);
	split_url(buf_cstr(&url), &authority, &path);
	sigv4_format_time((time_t)(now_ms / 1000), amz_date, date);

	sh[nsh++] = (struct sigv4_header){ "content-type", w->content_type };
	sh[nsh++] = (struct sigv4_header){ "host", buf_cstr(&authority) };
	sh[nsh++] = (struct sigv4_header){ "x-amz-date", amz_date };
	if (c->credentials.session_token)
		sh[nsh++] = (struct sigv4_header){ "x-amz-security-token",
						   c->credentials.session_token };
	if (w->target)
		sh[nsh++] = (struct sigv4_header){ "x-amz-target", w->target };

	struct sigv4_request sreq = {
		.method = "POST",
		.path = buf_cstr(&path),
		.headers = sh,
		.header_count = nsh,
		.body = w->body,
	};
	struct sigv4_params sp = {
		.region = c->region,
		.service = svc->signing_name,
		.credentials = &c->credentials,
		.now = (time_t)(now_ms / 1000),
		.key_cache = &c->signing_key,
	};
	sigv4_authorization(&sreq, &sp, &auth);

	buf_appendf(&h_host, "Host: %s", buf_cstr(&authority));
	buf_appendf(&h_date, "X-Amz-Date: %s", amz_date);
	buf_appendf(&h_type, "Content-Type: %s", w->content_type);
	buf_appendf(&h_auth, "Authorization: %s", buf_cstr(&auth));
	buf_appendf(&h_agent, "User-Agent: %s", c->user_agent);
	lines[nlines++] = buf_cstr(&h_host);
	lines[nlines++] = buf_cstr(&h_date);
	lines[nlines++] = buf_cstr(&h_type);
	lines[nlines++] = buf_cstr(&h_auth);
	lines[nlines++] = buf_cstr(&h_agent);
	if (c->credentials.session_token) {
		buf_appendf(&h_token, "X-Amz-Security-Token: %s", c->credentials.session_token);
		lines[nlines++] = buf_cstr(&h_token);
	}
	if (w->target) {
		buf_appendf(&h_target, "X-Amz-Target: %s", w->target);
		lines[nlines++] = buf_cstr(&h_target);
	}

	struct http_request req = {
		.method = "POST",
		.url = buf_cstr(&url),
		.headers = lines,
		.header_count = nlines,
		.body = w->body,
		.timeout_ms = timeout_ms,
		.sink = w->reader ? w->reader->write : NULL,
		.sink_ctx = w->reader ? w->reader->ctx : NULL,
	};
	err = c->transport(c->transport_ctx, &req, resp, errmsg);

	buf_release(&url);
	buf_release(&authority);
	buf_release(&path);
	buf_release(&auth);
	buf_release(&h_host);
	buf_release(&h_date);
	buf_release(&h_type);
	buf_release(&h_target);
	buf_release_secret(&h_token);
	buf_release(&h_auth);
	buf_release(&h_agent);
	return err;
}

/* ---- interpreting answers ---- */

/*
 * Error documents:
 *   EC2:   <Response><Errors><Error><Code/><Message/></Error></Errors>...</Response>
 *   Query: <ErrorResponse><Error><Type/><Code/><Message/></Error>...</ErrorResponse>
 */
static void xml_error(const struct http_response *resp, struct aws_error *e)
{
	struct xml_node *root = NULL;
	const char *code = NULL, *msg = NULL;

	if (xml_parse(buf_view(&resp->body), &root, NULL) == 0) {
		code = xml_text(root, "Errors/Error/Code");
		msg = xml_text(root, "Errors/Error/Message");
		if (!code) {
			code = xml_text(root, "Error/Code");
			msg = xml_text(root, "Error/Message");
		}
	}
	if (code)
		error_set(e, ERR_AWS, resp->status, code, "%s", msg ? msg : "");
	else
		error_set(e, ERR_AWS, resp->status, "", "HTTP status %ld", resp->status);
	xml_free(root);
}

/* JSON 1.1 errors: {"__type": "...#Code", "message": "..."} or x-amzn-ErrorType. */
static void json_error(const struct http_response *resp, struct aws_error *e)
{
	cJSON *root = cJSON_ParseWithLength(resp->body.ptr ? resp->body.ptr : "", resp->body.len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "__type");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	struct buf code = BUF_INIT;
	struct view hv;

	if (!cJSON_IsString(msg))
		msg = cJSON_GetObjectItemCaseSensitive(root, "Message");
	if (cJSON_IsString(type)) {
		const char *hash = strrchr(type->valuestring, '#');
		buf_appends(&code, hash ? hash + 1 : type->valuestring);
	} else if (http_response_header(resp, "x-amzn-ErrorType", &hv)) {
		for (size_t i = 0; i < hv.len && hv.ptr[i] != ':'; i++)
			buf_appendc(&code, hv.ptr[i]);
	}
	if (code.len)
		error_set(e, ERR_AWS, resp->status, buf_cstr(&code), "%s",
			  cJSON_IsString(msg) ? msg->valuestring : "");
	else
		error_set(e, ERR_AWS, resp->status, "", "HTTP status %ld", resp->status);
	buf_release(&code);
	cJSON_Delete(root);
}

static bool should_retry_status(const struct aws_error *e)
{
	return e->http_status >= 500 || e->http_status == 429 ||
	       aws_is_throttling_code(e->code) || is_transient_code(e->code);
}

/*
 * Parses a response into *parsed (an xml_node or a cJSON). Returns 0, or an
 * error with *retry telling whether another attempt may help.
 */
static int interpret(const struct aws_service *svc, const struct wire_request *w,
		     const struct http_response *resp, void **parsed, struct aws_error *e,
		     bool *retry)
{
	const char *op = w->operation;

	*retry = false;
	if (resp->status >= 200 && resp->status < 300) {
		if (w->reader) {
			struct buf why = BUF_INIT;
			int err;

			/* a transport that does not stream kept the body */
			if (resp->body.len)
				(void)w->reader->write(w->reader->ctx, buf_view(&resp->body));
			err = w->reader->end(w->reader->ctx, retry, &why);
			if (err)
				error_set(e, err, resp->status, "", "%s response to %s: %s",
					  *retry ? "malformed" : "cannot read the", op,
					  buf_cstr(&why));
			buf_release(&why);
			return err;
		}
		if (svc->protocol == AWS_PROTOCOL_JSON) {
			cJSON *root = cJSON_ParseWithLength(resp->body.ptr ? resp->body.ptr : "",
							    resp->body.len);
			if (root && (cJSON_IsObject(root))) {
				*parsed = root;
				return 0;
			}
			cJSON_Delete(root);
			error_set(e, ERR_PARSE, resp->status, "",
				  "malformed JSON in the response to %s", op);
		} else {
			struct xml_node *root = NULL;
			struct buf reason = BUF_INIT;
			if (xml_parse(buf_view(&resp->body), &root, &reason) == 0) {
				*parsed = root;
				return 0;
			}
			error_set(e, ERR_PARSE, resp->status, "", "malformed response to %s: %s",
				  op, buf_cstr(&reason));
			buf_release(&reason);
		}
		/* a garbled 2xx is a transient fault of the path, not an answer */
		*retry = true;
		return ERR_PARSE;
	}
	if (svc->protocol == AWS_PROTOCOL_JSON)
		json_error(resp, e);
	else
		xml_error(resp, e);
	if (aws_is_throttling_code(e->code) || resp->status == 429)
		e->err = ERR_THROTTLED;
	*retry = should_retry_status(e);
	return e->err;
}

static int call(struct aws_client *c, const struct aws_service *svc, const struct wire_request *w,
		void **parsed, struct aws_error *e)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct buf errmsg = BUF_INIT;
	int err = ERR_INTERNAL;

	int paid = 0;			/* what the last retry cost */

	*parsed = NULL;
	memset(e, 0, sizeof(*e));
	for (int attempt = 1; attempt <= c->max_attempts; attempt++) {
		int64_t left = aws_client_time_left_ms(c);
		bool retry = false, costly = false;

		if (left <= 0) {
			if (attempt == 1 || !e->err)
				error_set(e, ERR_TIMEOUT, 0, "",
					  "no time left for %s before the invocation's deadline",
					  w->operation);
			err = e->err;
			break;
		}
		buf_reset(&errmsg);
		if (w->reader)
			w->reader->begin(w->reader->ctx, attempt);
		err = send_once(c, svc, w, left < AWS_ATTEMPT_CAP_MS ? (long)left : AWS_ATTEMPT_CAP_MS,
				&resp, &errmsg);
		/* ERR_PARSE: the reader refused the answer as it came */
		if (err == 0 || (err == ERR_PARSE && w->reader)) {
			err = interpret(svc, w, &resp, parsed, e, &retry);
			if (err == 0) {
				memset(e, 0, sizeof(*e));
				quota_release(c, paid ? paid : AWS_NO_RETRY_INCREMENT);
				break;
			}
		} else if (err == ERR_TIMEOUT) {
			error_set(e, ERR_TIMEOUT, 0, "", "%s timed out: %s", w->operation,
				  buf_cstr(&errmsg));
			retry = aws_client_time_left_ms(c) > 0;
			costly = true;
		} else {
			error_set(e, err, 0, "", "cannot call %s at the %s endpoint: %s", w->operation,
				  svc->signing_name, buf_cstr(&errmsg));
			retry = err == ERR_HTTP;
			costly = true;
		}
		if (!retry || attempt == c->max_attempts)
			break;

		int64_t cap = 1000LL << (attempt - 1 < 5 ? attempt - 1 : 5);
		if (cap > AWS_MAX_BACKOFF_MS)
			cap = AWS_MAX_BACKOFF_MS;
		int64_t delay = (int64_t)(c->clock.random(c->clock.ctx) * (double)cap);
		if (delay >= aws_client_time_left_ms(c)) {
			struct buf m = BUF_INIT;
			buf_appendf(&m, "%s (no time left to retry)", e->message);
			error_set(e, e->err, e->http_status, e->code, "%s", buf_cstr(&m));
			buf_release(&m);
			break;
		}
		paid = costly ? AWS_TIMEOUT_RETRY_COST : AWS_RETRY_COST;
		if (c->retry_tokens < paid) {
			struct buf m = BUF_INIT;
			if (!c->quota_warned)
				log_warn("retry quota spent (%d of %d tokens left): failing calls "
					 "without retrying until successful calls refill it",
					 c->retry_tokens, AWS_RETRY_QUOTA);
			c->quota_warned = true;
			buf_appendf(&m, "%s (not retried: retry quota spent)", e->message);
			error_set(e, e->err, e->http_status, e->code, "%s", buf_cstr(&m));
			buf_release(&m);
			break;
		}
		c->retry_tokens -= paid;
		c->quota_warned = false;
		log_warn("retrying %s in %lld ms after %s%s%s (attempt %d of %d)", w->operation,
			 (long long)delay, e->code[0] ? e->code : err_name(e->err),
			 e->code[0] ? "" : ": ", e->code[0] ? "" : e->message, attempt + 1,
			 c->max_attempts);
		c->clock.sleep_ms(c->clock.ctx, delay);
	}
	http_response_release(&resp);
	buf_release(&errmsg);
	return err;
}

/* ---- Query and EC2 protocols ---- */

static void form_body(const struct aws_service *svc, const char *action,
		      const struct aws_params *params, struct buf *body)
{
	buf_appends(body, "Action=");
	sigv4_uri_encode(body, view_from(action));
	buf_appends(body, "&Version=");
	sigv4_uri_encode(body, view_from(svc->api_version));
	for (size_t i = 0; params && i < params->count; i++) {
		buf_appendc(body, '&');
		sigv4_uri_encode(body, view_from(params->items[i].key));
		buf_appendc(body, '=');
		sigv4_uri_encode(body, view_from(params->items[i].value));
	}
}

int aws_query(struct aws_client *c, const struct aws_service *svc, const char *action,
	      const struct aws_params *params, struct xml_node **result,
	      struct aws_error *error)
{
	struct buf body = BUF_INIT;
	void *parsed = NULL;
	int err;

	form_body(svc, action, params, &body);
	struct wire_request w = { action, "application/x-www-form-urlencoded; charset=utf-8", NULL,
				  buf_view(&body), NULL };
	err = call(c, svc, &w, &parsed, error);
	*result = parsed;
	buf_release(&body);
	return err;
}

/* EC2: <XResponse><nextToken/>; Query: <XResponse><XResult><NextToken/>. */
static const char *xml_next_token(const struct aws_service *svc, const struct xml_node *root)
{
	if (svc->protocol == AWS_PROTOCOL_EC2)
		return xml_text(root, "nextToken");
	for (const struct xml_node *n = root->first_child; n; n = n->next) {
		size_t len = strlen(n->name);
		if (len > 6 && !strcmp(n->name + len - 6, "Result"))
			return xml_text(n, "NextToken");
	}
	return NULL;
}

/* ---- listings, parsed as they stream in ---- */

struct page_reader {
	const struct aws_xml_items *items;
	struct xml_stream *stream;
	const struct xml_node *skeleton;	/* after a whole page */
	bool item_refused;
};

static int page_item(void *ctx, const struct xml_node *item)
{
	struct page_reader *r = ctx;
	int err = r->items->on_item(r->items->ctx, item);

	r->item_refused |= err != 0;
	return err;
}

static void page_begin(void *ctx, int attempt)
{
	struct page_reader *r = ctx;
	struct xml_stream_options opts = {
		r->items->paths, r->items->drop_paths, r->items->on_item ? page_item : NULL, r,
		/* without items the whole page is held, as a buffered answer would be */
		r->items->paths ? AWS_XML_MAX_KEPT : HTTP_DEFAULT_MAX_RESPONSE * 2,
	};

	xml_stream_free(r->stream);
	r->stream = xml_stream_new(&opts);
	r->skeleton = NULL;
	r->item_refused = false;
	if (r->items->on_attempt)
		r->items->on_attempt(r->items->ctx, attempt > 1);
}

static int page_write(void *ctx, struct view chunk)
{
	struct page_reader *r = ctx;

	return xml_stream_feed(r->stream, chunk);
}

static int page_end(void *ctx, bool *retry, struct buf *why)
{
	struct page_reader *r = ctx;
	int err = xml_stream_finish(r->stream, &r->skeleton);

	if (err) {
		buf_appends(why, xml_stream_reason(r->stream));
		/* cut or garbled on the way: worth another attempt; refused items are not */
		*retry = !r->item_refused && err == ERR_PARSE;
	}
	return err;
}

int aws_query_items(struct aws_client *c, const struct aws_service *svc, const char *action,
		    const struct aws_params *params, const struct aws_xml_items *items,
		    struct aws_error *error)
{
	struct page_reader r = { items, NULL, NULL, false };
	const struct body_reader reader = { page_begin, page_write, page_end, &r };
	char *token = NULL;
	int err = 0;

	memset(error, 0, sizeof(*error));
	for (int page = 0;; page++) {
		struct aws_params p = AWS_PARAMS_INIT;
		struct buf body = BUF_INIT;
		const char *next;
		void *unused = NULL;

		if (page >= AWS_MAX_PAGES) {
			error_set(error, ERR_PARSE, 0, "", "%s returned more than %d pages", action,
				  AWS_MAX_PAGES);
			err = ERR_PARSE;
			break;
		}
		for (size_t i = 0; params && i < params->count; i++)
			aws_params_add(&p, params->items[i].key, params->items[i].value);
		if (token)
			aws_params_add(&p, "NextToken", token);
		form_body(svc, action, &p, &body);
		struct wire_request w = { action, "application/x-www-form-urlencoded; charset=utf-8",
					  NULL, buf_view(&body), &reader };
		err = call(c, svc, &w, &unused, error);
		aws_params_release(&p);
		buf_release(&body);
		if (err)
			break;
		err = items->on_page ? items->on_page(items->ctx, r.skeleton) : 0;
		if (err) {
			error_set(error, err, 200, "", "cannot read the response to %s", action);
			break;
		}
		next = xml_next_token(svc, r.skeleton);
		if (!next || !*next)
			break;
		if (token && !strcmp(token, next)) {
			error_set(error, ERR_PARSE, 200, "", "%s returned the same NextToken twice",
				  action);
			err = ERR_PARSE;
			break;
		}
		free(token);
		token = xstrdup(next);
	}
	xml_stream_free(r.stream);
	free(token);
	return err;
}

int aws_query_all(struct aws_client *c, const struct aws_service *svc, const char *action,
		  const struct aws_params *params, aws_xml_page_fn on_page, void *ctx,
		  struct aws_error *error)
{
	/* no items: each page's skeleton is the whole document */
	const struct aws_xml_items whole = { NULL, NULL, NULL, on_page, NULL, ctx };

	return aws_query_items(c, svc, action, params, &whole, error);
}

/* ---- listings streamed into a list ---- */

static void listing_attempt(void *ctx, bool retry)
{
	struct aws_listing *l = ctx;

	if (retry)
		l->truncate(l->list, l->mark);
	else
		l->mark = *l->count(l->list);
}

static int listing_item(void *ctx, const struct xml_node *item)
{
	struct aws_listing *l = ctx;

	return l->add(l->list, item);
}

/* Only the answer asked for: an error or another document is not "none". */
static int listing_page(void *ctx, const struct xml_node *skeleton)
{
	struct aws_listing *l = ctx;

	if (strcmp(skeleton->name, l->root) || (l->container && !xml_path(skeleton, l->container)))
		return ERR_PARSE;
	return 0;
}

int aws_query_listing(struct aws_client *c, const struct aws_service *svc, const char *action,
		      const struct aws_params *params, const char *const *paths,
		      const char *const *drop_paths, struct aws_listing *l,
		      struct aws_error *error)
{
	const struct aws_xml_items items = {
		paths, drop_paths, listing_item, listing_page, listing_attempt, l,
	};

	return aws_query_items(c, svc, action, params, &items, error);
}

/* ---- JSON 1.1 ---- */

int aws_json(struct aws_client *c, const struct aws_service *svc, const char *operation,
	     const cJSON *request, cJSON **result, struct aws_error *error)
{
	struct buf target = BUF_INIT;
	char *body = request ? cJSON_PrintUnformatted(request) : NULL;
	void *parsed = NULL;
	int err;

	buf_appendf(&target, "%s.%s", svc->json_target_prefix, operation);
	struct wire_request w = { operation, "application/x-amz-json-1.1", buf_cstr(&target),
				  view_from(body ? body : "{}"), NULL };
	err = call(c, svc, &w, &parsed, error);
	*result = parsed;
	cJSON_free(body);
	buf_release(&target);
	return err;
}

int aws_json_all(struct aws_client *c, const struct aws_service *svc, const char *operation,
		 const cJSON *request, aws_json_page_fn on_page, void *ctx,
		 struct aws_error *error)
{
	cJSON *req = request ? cJSON_Duplicate(request, 1) : cJSON_CreateObject();
	char *token = NULL;
	int err = 0;

	for (int page = 0;; page++) {
		cJSON *resp = NULL;
		const cJSON *next;

		if (page >= AWS_MAX_PAGES) {
			error_set(error, ERR_PARSE, 0, "", "%s returned more than %d pages",
				  operation, AWS_MAX_PAGES);
			err = ERR_PARSE;
			break;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(req, "NextToken");
		if (token)
			cJSON_AddStringToObject(req, "NextToken", token);
		err = aws_json(c, svc, operation, req, &resp, error);
		if (err)
			break;
		err = on_page(ctx, resp);
		if (err) {
			error_set(error, err, 200, "", "cannot read the response to %s", operation);
			cJSON_Delete(resp);
			break;
		}
		next = cJSON_GetObjectItemCaseSensitive(resp, "NextToken");
		if (!cJSON_IsString(next) || !*next->valuestring) {
			cJSON_Delete(resp);
			break;
		}
		if (token && !strcmp(token, next->valuestring)) {
			error_set(error, ERR_PARSE, 200, "", "%s returned the same NextToken twice",
				  operation);
			err = ERR_PARSE;
			cJSON_Delete(resp);
			break;
		}
		free(token);
		token = xstrdup(next->valuestring);
		cJSON_Delete(resp);
	}
	free(token);
	cJSON_Delete(req);
	return err;
}
