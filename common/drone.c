#include "drone.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "webcall.h"
#include "banned.h"

#define DRONE_DEFAULT_MAX_ATTEMPTS 4
#define DRONE_DEFAULT_BASE_BACKOFF_MS 500
#define DRONE_MAX_BACKOFF_MS 8000
/* an attempt that would leave less than this before the deadline is not started */
#define DRONE_MIN_ATTEMPT_MS 1000
/* the queue comes back in well under a second; a hung server leaves time to retry */
#define DRONE_ATTEMPT_CAP_MS 10000
#define DRONE_MAX_RETRY_AFTER_MS 30000
/* how much of an answer's body goes into a message */
#define DRONE_REASON_MAX 100

struct drone_client {
	struct buf queue_url;	/* <server>/api/queue */
	struct buf token;	/* a secret: wiped on free */
	int max_attempts;
	int64_t base_backoff_ms;
	struct webcall_link link;
};

/* ---- the client ---- */

static int check_token(const char *token, struct buf *errmsg)
{
	size_t len = token ? strlen(token) : 0;

	if (!len) {
		buf_appends(errmsg, "the Drone token is empty");
		return ERR_CONFIG;
	}
	if (len > DRONE_MAX_TOKEN_LEN) {
		buf_appendf(errmsg, "the Drone token is longer than %d characters",
			    DRONE_MAX_TOKEN_LEN);
		return ERR_CONFIG;
	}
	/* it goes into a header line: no way to end the line or add another */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)token[i];
		if (ch <= ' ' || ch >= 0x7f) {
			buf_appends(errmsg, "the Drone token contains a space, a control character "
					    "or a character that is not ASCII");
			return ERR_CONFIG;
		}
	}
	return 0;
}

int drone_client_new(const struct drone_client_options *opts, struct drone_client **out,
		     struct buf *errmsg)
{
	struct drone_client *c;
	size_t path_offset = 0;
	size_t end;
	int err;

	*out = NULL;
	err = webcall_check_url(opts->server, "Drone server URL", &path_offset, errmsg);
	if (err)
		return err;
	if (strpbrk(opts->server + path_offset, "?#")) {
		buf_appends(errmsg, "Drone server URL must not have a query or a fragment");
		return ERR_CONFIG;
	}
	err = check_token(opts->token, errmsg);
	if (err)
		return err;

	c = xcalloc(1, sizeof(*c));
	end = strlen(opts->server);
	while (end > path_offset && opts->server[end - 1] == '/')
		end--;
	buf_append(&c->queue_url, opts->server, end);
	buf_appends(&c->queue_url, "/api/queue");
	buf_appends(&c->token, opts->token);
	c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : DRONE_DEFAULT_MAX_ATTEMPTS;
	c->base_backoff_ms = opts->base_backoff_ms > 0 ? opts->base_backoff_ms
						       : DRONE_DEFAULT_BASE_BACKOFF_MS;
	webcall_link_init(&c->link, opts->transport, opts->transport_ctx, opts->clock);
	*out = c;
	return 0;
}

void drone_client_free(struct drone_client *c)
{
	if (!c)
		return;
	buf_release_secret(&c->token);
	buf_release(&c->queue_url);
	webcall_link_release(&c->link);
	free(c);
}

/* ---- the queue document ---- */

static void stage_release(struct drone_stage *s)
{
	free(s->status_text);
	free(s->machine);
	free(s->type);
	free(s->os);
	free(s->arch);
	free(s->variant);
	free(s->kernel);
	for (size_t i = 0; i < s->label_count; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
}

void drone_queue_release(struct drone_queue *q)
{
	for (size_t i = 0; i < q->count; i++)
		stage_release(&q->items[i]);
	free(q->items);
	q->items = NULL;
	q->count = 0;
}

/* A whole number within +-2^53 (JSON numbers are doubles). */
static int number_field(const cJSON *obj, const char *key, bool required, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (!v)
		return required ? ERR_PARSE : 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    fabs(v->valuedouble) > 9007199254740992.0)
		return ERR_PARSE;
	*out = (long long)v->valuedouble;
	return 0;
}

/* A string, or "" when omitted; anything else (null, a number) is refused. */
static int string_field(const cJSON *obj, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v && !cJSON_IsString(v))
		return ERR_PARSE;
	*out = xstrdup(v ? v->valuestring : "");
	return 0;
}

static int parse_stage(const cJSON *item, struct drone_stage *s, struct buf *reason)
{
	const cJSON *labels, *l, *label_object;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	if (!cJSON_IsObject(item)) {
		buf_appends(reason, "a stage is not a JSON object");
		return ERR_PARSE;
	}
	if (number_field(item, "id", true, &s->id) ||
	    number_field(item, "build_id", false, &s->build_id) ||
	    number_field(item, "created", false, &s->created)) {
		buf_appends(reason, "a stage has no numeric id, or a build_id or created that is not "
				    "a whole number");
		return ERR_PARSE;
	}
	if (string_field(item, "status", &s->status_text) || !*s->status_text) {
		buf_appendf(reason, "stage %lld has no status", s->id);
		return ERR_PARSE;
	}
	if (string_field(item, "machine", &s->machine) || string_field(item, "type", &s->type) ||
	    string_field(item, "os", &s->os) || string_field(item, "arch", &s->arch) ||
	    string_field(item, "variant", &s->variant) ||
	    string_field(item, "kernel", &s->kernel)) {
		buf_appendf(reason, "stage %lld has a machine, type or platform that is not a string",
			    s->id);
		return ERR_PARSE;
	}
	s->status = !strcmp(s->status_text, "pending")	  ? DRONE_STAGE_PENDING
		    : !strcmp(s->status_text, "running") ? DRONE_STAGE_RUNNING
							 : DRONE_STAGE_OTHER;

	labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
	if (labels && !cJSON_IsNull(labels) && !cJSON_IsObject(labels)) {
		buf_appendf(reason, "stage %lld has labels that are not an object", s->id);
		return ERR_PARSE;
	}
	label_object = cJSON_IsObject(labels) ? labels : NULL;
	cJSON_ArrayForEach(l, label_object)
		n++;
	if (n)
		s->labels = xcalloc(n, sizeof(*s->labels));
	cJSON_ArrayForEach(l, label_object) {
		if (!cJSON_IsString(l) || !l->string) {
			buf_appendf(reason, "stage %lld has a label whose value is not a string",
				    s->id);
			return ERR_PARSE;
		}
		s->labels[s->label_count].key = xstrdup(l->string);
		s->labels[s->label_count].value = xstrdup(l->valuestring);
		s->label_count++;
	}
	return 0;
}

int drone_parse_queue(struct view doc, struct drone_queue *out, struct buf *reason)
{
	const char *end = NULL;
	cJSON *root;
	const cJSON *item;
	size_t n = 0;
	int err = 0;

	root = cJSON_ParseWithLengthOpts(doc.ptr ? doc.ptr : "", doc.len, &end, false);
	if (!root) {
		buf_appends(reason, doc.len ? "the queue is not JSON, or it is cut short"
					    : "the queue is empty, not even []");
		return ERR_PARSE;
	}
	for (const char *p = end; p && p < doc.ptr + doc.len; p++) {
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
			buf_appends(reason, "the queue has more after its JSON document");
			err = ERR_PARSE;
			goto out;
		}
	}
	if (!cJSON_IsArray(root)) {
		buf_appends(reason, "the queue is not a JSON array");
		err = ERR_PARSE;
		goto out;
	}
	cJSON_ArrayForEach(item, root)
		n++;
	if (n)
		out->items = xcalloc(n, sizeof(*out->items));
	cJSON_ArrayForEach(item, root) {
		err = parse_stage(item, &out->items[out->count], reason);
		out->count++;	/* a half-parsed stage is released with the rest */
		if (err)
			break;
	}
out:
	if (err)
		drone_queue_release(out);
	cJSON_Delete(root);
	return err;
}

/* ---- matching ---- */

static bool eq_default(const char *a, const char *b, const char *dflt)
{
	return !strcmp(a && *a ? a : dflt, b && *b ? b : dflt);
}

static const char *label_value(const struct drone_label *labels, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(labels[i].key, key))
			return labels[i].value;
	return NULL;
}

bool drone_stage_fits(const struct drone_stage *stage, const struct drone_pool *pool)
{
	if (!eq_default(stage->os, pool->os, "linux") ||
	    !eq_default(stage->arch, pool->arch, "amd64") ||
	    !eq_default(stage->type, pool->type, "docker"))
		return false;
	if (*stage->variant && !eq_default(stage->variant, pool->variant, ""))
		return false;
	if (*stage->kernel && !eq_default(stage->kernel, pool->kernel, ""))
		return false;
	/* the same set of labels: Drone's scheduler compares them whole */
	for (size_t i = 0; i < stage->label_count; i++) {
		const char *v = label_value(pool->labels, pool->label_count, stage->labels[i].key);
		if (!v || strcmp(v, stage->labels[i].value))
			return false;
	}
	for (size_t i = 0; i < pool->label_count; i++) {
		const char *v = label_value(stage->labels, stage->label_count, pool->labels[i].key);
		if (!v || strcmp(v, pool->labels[i].value))
			return false;
	}
	return true;
}

/* ---- reading the queue ---- */

struct read {
	struct drone_client *client;
	struct drone_queue *out;
};

static void append_safe(struct buf *out, const struct drone_client *c, struct view text)
{
	struct view secret = buf_view(&c->token);
	webcall_append_safe_line(out, text, &secret, 1, DRONE_REASON_MAX);
}

static enum webcall_outcome read_once(void *ctx, int64_t timeout_ms, int *err, bool *throttled,
				      int64_t *wait_ms, struct buf *reason)
{
	struct read *r = ctx;
	struct drone_client *c = r->client;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct buf transport_msg = BUF_INIT, auth = BUF_INIT;
	enum webcall_outcome result;
	const char *headers[3];

	buf_appends(&auth, "Authorization: Bearer ");
	buf_appendv(&auth, buf_view(&c->token));
	headers[0] = buf_cstr(&auth);
	headers[1] = "Accept: application/json";
	headers[2] = "User-Agent: devcloud";
	struct http_request req = {
		.method = "GET",
		.url = buf_cstr(&c->queue_url),
		.headers = headers,
		.header_count = 3,
		.timeout_ms = (long)timeout_ms,
		.max_response_bytes = DRONE_MAX_RESPONSE_BYTES,
	};

	*throttled = false;
	*wait_ms = -1;
	*err = c->link.transport(c->link.transport_ctx, &req, &resp, &transport_msg);
	if (*err) {
		buf_appends(reason, "cannot read the Drone queue: ");
		append_safe(reason, c, buf_view(&transport_msg));
		/* a certificate or a size limit does not change on a retry */
		result = *err == ERR_HTTP || *err == ERR_TIMEOUT ? WEBCALL_RETRY : WEBCALL_FINAL;
		goto out;
	}
	if (resp.status == 200) {
		*err = drone_parse_queue(buf_view(&resp.body), r->out, reason);
		result = *err ? WEBCALL_FINAL : WEBCALL_DONE;
		goto out;
	}
	if (resp.status == 401 || resp.status == 403) {
		/* the answer's body is not repeated: it adds nothing and could echo the token */
		buf_appendf(reason, "the Drone token was refused (HTTP %ld)%s", resp.status,
			    resp.status == 403 ? ": reading the queue needs an admin token" : "");
		*err = ERR_CONFIG;
		result = WEBCALL_FINAL;
		goto out;
	}
	buf_appendf(reason, "Drone answered %ld", resp.status);
	if (view_trim(buf_view(&resp.body)).len) {
		buf_appends(reason, ": ");
		append_safe(reason, c, buf_view(&resp.body));
	}
	if (resp.status == 429) {
		*err = ERR_THROTTLED;
		*throttled = true;
		if (!webcall_retry_after_ms(&resp, wait_ms))
			*wait_ms = -1;
		result = WEBCALL_RETRY;
	} else {
		*err = ERR_HTTP;
		result = resp.status >= 500 && resp.status < 600 ? WEBCALL_RETRY : WEBCALL_FINAL;
	}
out:
	http_response_release(&resp);
	buf_release(&transport_msg);
	buf_release_secret(&auth);
	return result;
}

int drone_get_queue(struct drone_client *c, int64_t deadline_ms, struct drone_queue *out,
		    struct buf *errmsg)
{
	const struct webcall_policy policy = {
		.action = "read the Drone queue",
		.retry_name = "reading the Drone queue",
		.max_attempts = c->max_attempts,
		.base_backoff_ms = c->base_backoff_ms,
		.max_backoff_ms = DRONE_MAX_BACKOFF_MS,
		.min_attempt_ms = DRONE_MIN_ATTEMPT_MS,
		.attempt_cap_ms = DRONE_ATTEMPT_CAP_MS,
		.max_retry_after_ms = DRONE_MAX_RETRY_AFTER_MS,
	};
	struct read r = { c, out };
	int err = webcall_run(&policy, &c->link.clock, deadline_ms, read_once, &r, errmsg);

	if (err)
		drone_queue_release(out);
	return err;
}
