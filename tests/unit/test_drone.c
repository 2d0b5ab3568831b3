/*
 * test_drone.c - the Drone queue client (common/drone.h) on the scripted
 * transport and clock of fake_aws, where every sleep is recorded.
 *
 *   make build/asan/tests/test_drone && build/asan/tests/test_drone
 *
 * parse/<row>    queue documents: real-shaped stages field by field, omitted
 *                fields, and everything refused whole (HTML, truncated JSON,
 *                trailing bytes, a stage without id or status, labels that
 *                are not strings).
 * read/<row>     one scripted exchange each: 200, 401/403 refused at once,
 *                5xx and network errors retried with full jitter, 429 and
 *                Retry-After, a 200 that is not a queue, the deadline.
 * request/shape  the GET: URL from the server (a prefix, trailing slashes),
 *                the bearer token, Accept, the size limit.
 * secret/<row>   the token never in a message or a log line, when the server,
 *                a proxy or the transport echoes it back.
 * options/<row>  server URLs and tokens refused, the URL never quoted.
 * fits/<row>     which stages a pool of runners takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "drone.h"
#include "fake_aws.h"
#include "log.h"

#include "helpers.h"
#include "banned.h"

#define SERVER "https://drone.example.com"
/* made up, shaped like a Drone token (32 alphanumerics) */
#define TOKEN "dR0neT0kenS3cr3tXXXXXXXXXXXXXXXX"

/* Shaped after a real /api/queue answer (drone 2.x), ids and names changed. */
#define STAGE_RUNNING \
	"{\"id\":4211,\"repo_id\":7,\"build_id\":311,\"number\":1,\"name\":\"test\"," \
	"\"kind\":\"pipeline\",\"type\":\"docker\",\"status\":\"running\",\"errignore\":false," \
	"\"exit_code\":0,\"machine\":\"i-0a1b2c3d4e5f60718\",\"os\":\"linux\",\"arch\":\"amd64\"," \
	"\"started\":1764748830,\"stopped\":0,\"created\":1764748800,\"updated\":1764748830," \
	"\"version\":3,\"on_success\":true,\"on_failure\":false,\"labels\":{\"size\":\"large\"}}"
#define STAGE_PENDING \
	"{\"id\":4212,\"repo_id\":7,\"build_id\":312,\"number\":2,\"name\":\"arm\"," \
	"\"kind\":\"pipeline\",\"type\":\"docker\",\"status\":\"pending\",\"errignore\":false," \
	"\"exit_code\":0,\"os\":\"linux\",\"arch\":\"arm64\",\"variant\":\"v8\"," \
	"\"created\":1764748900,\"updated\":1764748900,\"version\":1,\"on_success\":true," \
	"\"on_failure\":false,\"depends_on\":[\"test\"]}"
/* everything omitted that may be */
#define STAGE_BARE "{\"id\":4213,\"status\":\"pending\"}"

/* ---- parsing ---- */

struct parse_case {
	const char *name;
	const char *doc;
	int err;
	/* "id status machine os/arch/variant type labels;" per stage ("" when omitted) */
	const char *stages;
};

static const struct parse_case parse_cases[] = {
	{ "real", "[" STAGE_RUNNING "," STAGE_PENDING "," STAGE_BARE "]\n", 0,
	  "4211 running i-0a1b2c3d4e5f60718 linux/amd64/ docker size=large;"
	  "4212 pending  linux/arm64/v8 docker ;"
	  "4213 pending  //  ;" },
	{ "empty", "[]", 0, "" },
	{ "spaces-around", " \r\n\t[ ]\n\n", 0, "" },
	{ "other-status-kept", "[{\"id\":1,\"status\":\"waiting_on_dependencies\"}]", 0,
	  "1 other  //  ;" },
	{ "null-labels", "[{\"id\":1,\"status\":\"pending\",\"labels\":null}]", 0, "1 pending  //  ;" },
	{ "two-labels", "[{\"id\":1,\"status\":\"pending\",\"labels\":{\"a\":\"1\",\"b\":\"\"}}]", 0,
	  "1 pending  //  a=1,b=;" },
	{ "big-id", "[{\"id\":9007199254740992,\"status\":\"running\"}]", 0,
	  "9007199254740992 running  //  ;" },
	{ "html-from-a-proxy", "<html><head><title>502 Bad Gateway</title></head></html>", ERR_PARSE,
	  NULL },
	{ "truncated", "[" STAGE_RUNNING ",{\"id\":4212,\"sta", ERR_PARSE, NULL },
	{ "truncated-after-a-stage", "[" STAGE_RUNNING, ERR_PARSE, NULL },
	{ "nothing", "", ERR_PARSE, NULL },
	{ "null", "null", ERR_PARSE, NULL },
	{ "object", "{\"message\":\"Unauthorized\"}", ERR_PARSE, NULL },
	{ "trailing-bytes", "[]]", ERR_PARSE, NULL },
	{ "two-documents", "[][]", ERR_PARSE, NULL },
	{ "stage-not-an-object", "[" STAGE_RUNNING ",4]", ERR_PARSE, NULL },
	{ "no-id", "[{\"status\":\"pending\"}]", ERR_PARSE, NULL },
	{ "id-a-string", "[{\"id\":\"1\",\"status\":\"pending\"}]", ERR_PARSE, NULL },
	{ "id-fraction", "[{\"id\":1.5,\"status\":\"pending\"}]", ERR_PARSE, NULL },
	{ "id-too-big", "[{\"id\":1e300,\"status\":\"pending\"}]", ERR_PARSE, NULL },
	{ "no-status", "[{\"id\":1}]", ERR_PARSE, NULL },
	{ "empty-status", "[{\"id\":1,\"status\":\"\"}]", ERR_PARSE, NULL },
	{ "status-a-number", "[{\"id\":1,\"status\":1}]", ERR_PARSE, NULL },
	{ "machine-null", "[{\"id\":1,\"status\":\"running\",\"machine\":null}]", ERR_PARSE, NULL },
	{ "os-a-number", "[{\"id\":1,\"status\":\"running\",\"os\":7}]", ERR_PARSE, NULL },
	{ "labels-an-array", "[{\"id\":1,\"status\":\"running\",\"labels\":[\"a\"]}]", ERR_PARSE,
	  NULL },
	{ "label-a-number", "[{\"id\":1,\"status\":\"running\",\"labels\":{\"a\":1}}]", ERR_PARSE,
	  NULL },
	{ "bad-stage-after-good", "[" STAGE_RUNNING "," STAGE_PENDING ",{\"id\":3}]", ERR_PARSE,
	  NULL },
};

static void describe_queue(const struct drone_queue *q, struct buf *out)
{
	static const char *const names[] = { "pending", "running", "other" };

	for (size_t i = 0; i < q->count; i++) {
		const struct drone_stage *s = &q->items[i];

		buf_appendf(out, "%lld %s %s %s/%s/%s %s ", s->id, names[s->status], s->machine,
			    s->os, s->arch, s->variant, s->type);
		for (size_t l = 0; l < s->label_count; l++)
			buf_appendf(out, "%s%s=%s", l ? "," : "", s->labels[l].key,
				    s->labels[l].value);
		buf_appendc(out, ';');
	}
}

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf reason = BUF_INIT, got = BUF_INIT;
	int err;

	err = drone_parse_queue(view_from(c->doc), &q, &reason);
	assert_int_equal(err, c->err);
	if (err) {
		/* all or nothing, and a reason that does not quote the document */
		assert_int_equal(q.count, 0);
		assert_null(q.items);
		assert_true(reason.len > 0);
		assert_null(strstr(buf_cstr(&reason), "i-0a1b2c3d4e5f60718"));
		assert_null(strstr(buf_cstr(&reason), "Gateway"));
	} else {
		describe_queue(&q, &got);
		assert_string_equal(buf_cstr(&got), c->stages);
		assert_string_equal(buf_cstr(&reason), "");
	}
	if (!strcmp(c->name, "real")) {
		assert_int_equal(q.items[0].build_id, 311);
		assert_int_equal(q.items[0].created, 1764748800);
		assert_int_equal(q.items[2].build_id, 0);
		assert_string_equal(q.items[1].kernel, "");
	}
	drone_queue_release(&q);
	assert_null(q.items);
	drone_queue_release(&q);
	buf_release(&reason);
	buf_release(&got);
}

/* ---- a client on the fake ---- */

struct fixture {
	struct fake_aws fake;
	struct aws_clock clock;
	struct drone_client *drone;
	int64_t start_ms;
};

static void fixture_init(struct fixture *fx, const char *server, int max_attempts)
{
	struct buf errmsg = BUF_INIT;

	fake_aws_init(&fx->fake);
	fx->start_ms = fx->fake.now_ms;
	fx->clock = fake_aws_clock(&fx->fake);
	struct drone_client_options o = {
		.server = server,
		.token = TOKEN,
		.max_attempts = max_attempts,
		.transport = fake_aws_transport(),
		.transport_ctx = &fx->fake,
		.clock = &fx->clock,
	};
	assert_int_equal(drone_client_new(&o, &fx->drone, &errmsg), 0);
	assert_non_null(fx->drone);
	assert_string_equal(buf_cstr(&errmsg), "");
	buf_release(&errmsg);
}

static void fixture_release(struct fixture *fx)
{
	drone_client_free(fx->drone);
	fake_aws_release(&fx->fake);
}

#define OK(body) { 0, 200, body, NULL }
#define ANS(status, body) { 0, status, body, NULL }
#define ANS_H(status, headers, body) { 0, status, body, headers }
#define FAIL(err) { err, 0, NULL, NULL }
#define SCRIPT(...) { __VA_ARGS__ }, sizeof((struct fake_answer[]){ __VA_ARGS__ }) / sizeof(struct fake_answer)
#define SLEEPS(...) { __VA_ARGS__ }, sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)
#define NO_SLEEPS { 0 }, 0

struct read_case {
	const char *name;
	int max_attempts;	/* 0: the default (4) */
	double random;
	int64_t deadline_in_ms;	/* 0: none */
	struct fake_answer script[8];
	size_t steps;
	int err;
	size_t calls;
	int64_t sleeps_ms[8];
	size_t sleeps;
	size_t stages;
	const char *msg;	/* the whole errmsg */
};

static const struct read_case read_cases[] = {
	{ "ok", 0, 0.5, 0, SCRIPT(OK("[" STAGE_RUNNING "," STAGE_PENDING "]")), 0, 1, NO_SLEEPS, 2,
	  "" },
	{ "empty-queue", 0, 0.5, 0, SCRIPT(OK("[]")), 0, 1, NO_SLEEPS, 0, "" },
	{ "unauthorized-not-retried", 0, 0.5, 0,
	  SCRIPT(ANS(401, "{\"message\":\"Unauthorized\"}"), OK("[]")), ERR_CONFIG, 1, NO_SLEEPS, 0,
	  "the Drone token was refused (HTTP 401)" },
	{ "forbidden-not-retried", 0, 0.5, 0, SCRIPT(ANS(403, "{\"message\":\"Forbidden\"}")),
	  ERR_CONFIG, 1, NO_SLEEPS, 0,
	  "the Drone token was refused (HTTP 403): reading the queue needs an admin token" },
	{ "5xx-retried-with-full-jitter", 0, 0.5, 0,
	  SCRIPT(ANS(500, "{\"message\":\"internal\"}"), ANS(502, "<html>Bad Gateway</html>"),
		 ANS(503, ""), OK("[" STAGE_BARE "]")),
	  0, 4, SLEEPS(250, 500, 1000), 1, "" },
	{ "network-retried", 0, 0.25, 0, SCRIPT(FAIL(ERR_HTTP), FAIL(ERR_TIMEOUT), OK("[]")), 0, 3,
	  SLEEPS(125, 250), 0, "" },
	{ "gives-up", 2, 0.5, 0, SCRIPT(ANS(500, "oops"), ANS(504, "Gateway Time-out\nmore")),
	  ERR_HTTP, 2, SLEEPS(250), 0, "gave up after 2 attempts: Drone answered 504: Gateway Time-out" },
	{ "tls-not-retried", 0, 0.5, 0, SCRIPT(FAIL(ERR_TLS)), ERR_TLS, 1, NO_SLEEPS, 0,
	  "cannot read the Drone queue: scripted transport failure" },
	{ "too-large-not-retried", 0, 0.5, 0, SCRIPT(FAIL(ERR_TOO_LARGE)), ERR_TOO_LARGE, 1,
	  NO_SLEEPS, 0, "cannot read the Drone queue: scripted transport failure" },
	{ "not-found-final", 0, 0.5, 0, SCRIPT(ANS(404, "404 page not found")), ERR_HTTP, 1,
	  NO_SLEEPS, 0, "Drone answered 404: 404 page not found" },
	{ "html-200-not-a-queue", 0, 0.5, 0,
	  SCRIPT(OK("<!DOCTYPE html><html><body>Sign in</body></html>"), OK("[]")), ERR_PARSE, 1,
	  NO_SLEEPS, 0, "the queue is not JSON, or it is cut short" },
	{ "truncated-200", 0, 0.5, 0, SCRIPT(OK("[" STAGE_RUNNING ",{\"id\":")), ERR_PARSE, 1,
	  NO_SLEEPS, 0, "the queue is not JSON, or it is cut short" },
	{ "throttled-retry-after", 0, 0.5, 0,
	  SCRIPT(ANS_H(429, "Retry-After: 3\r\n", "slow down"), OK("[]")), 0, 2, SLEEPS(3000), 0,
	  "" },
	{ "throttled-too-long", 0, 0.5, 0, SCRIPT(ANS_H(429, "Retry-After: 120\r\n", "")),
	  ERR_THROTTLED, 1, NO_SLEEPS, 0,
	  "Drone answered 429 (asked to wait 120 s, longer than the 30 s we wait)" },
	{ "no-time-at-all", 0, 0.5, 999, SCRIPT(OK("[]")), ERR_TIMEOUT, 0, NO_SLEEPS, 0,
	  "no time left to read the Drone queue before the deadline" },
	{ "no-time-to-retry", 0, 0.5, 1200, SCRIPT(ANS(500, ""), OK("[]")), ERR_TIMEOUT, 1,
	  NO_SLEEPS, 0, "no time left to retry after 1 attempt: Drone answered 500" },
};

static void test_read(void **state)
{
	const struct read_case *c = *state;
	struct fixture fx;
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf errmsg = BUF_INIT;
	int64_t deadline_ms;

	fixture_init(&fx, SERVER, c->max_attempts);
	fx.fake.random_value = c->random;
	for (size_t i = 0; i < c->steps; i++) {
		const struct fake_answer *a = &c->script[i];
		if (a->err)
			fake_aws_fail(&fx.fake, a->err);
		else
			fake_aws_answer_headers(&fx.fake, a->status, a->headers, a->body);
	}
	deadline_ms = c->deadline_in_ms ? fx.start_ms + c->deadline_in_ms : 0;
	assert_int_equal(drone_get_queue(fx.drone, deadline_ms, &q, &errmsg), c->err);
	assert_string_equal(buf_cstr(&errmsg), c->msg);
	assert_int_equal(q.count, c->stages);
	if (c->err)
		assert_null(q.items);
	assert_int_equal(fx.fake.calls, c->calls);
	assert_int_equal(fx.fake.sleeps, c->sleeps);
	for (size_t i = 0; i < c->sleeps; i++)
		assert_int_equal(fx.fake.slept_ms[i], c->sleeps_ms[i]);
	for (size_t i = 0; i < fx.fake.calls; i++)
		assert_string_equal(fx.fake.urls[i], SERVER "/api/queue");
	if (deadline_ms && c->calls)
		assert_true(fx.fake.now_ms <= deadline_ms);
	drone_queue_release(&q);
	buf_release(&errmsg);
	fixture_release(&fx);
}

/* ---- the request ---- */

struct seen {
	char method[8];
	size_t max_response_bytes;
	long timeout_ms;
};

static int record_and_answer(struct fake_aws *f, const struct http_request *req,
			     struct http_response *resp)
{
	struct seen *seen = f->user;

	assert_true(strlen(req->method) < sizeof(seen->method));
	memcpy(seen->method, req->method, strlen(req->method) + 1);
	seen->max_response_bytes = req->max_response_bytes;
	seen->timeout_ms = req->timeout_ms;
	assert_int_equal(req->body.len, 0);
	resp->status = 200;
	buf_appends(&resp->body, "[]");
	return 0;
}

static void test_request_shape(void **state)
{
	static const char *const servers[][2] = {
		{ SERVER, SERVER "/api/queue" },
		{ SERVER "/", SERVER "/api/queue" },
		{ "https://ci.example.com:8443/drone//", "https://ci.example.com:8443/drone/api/queue" },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/queue" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(servers); i++) {
		struct fixture fx;
		struct drone_queue q = DRONE_QUEUE_INIT;
		struct buf errmsg = BUF_INIT;
		struct seen seen = { "", 0, 0 };

		fixture_init(&fx, servers[i][0], 1);
		fx.fake.respond = record_and_answer;
		fx.fake.user = &seen;
		assert_int_equal(drone_get_queue(fx.drone, fx.start_ms + 60000, &q, &errmsg), 0);
		assert_string_equal(fx.fake.urls[0], servers[i][1]);
		assert_string_equal(seen.method, "GET");
		assert_int_equal(seen.max_response_bytes, DRONE_MAX_RESPONSE_BYTES);
		/* one attempt is capped well inside the deadline, leaving time to retry */
		assert_int_equal(seen.timeout_ms, 10000);
		assert_string_equal(buf_cstr(&fx.fake.heads[0]),
				    "Authorization: Bearer " TOKEN "\n"
				    "Accept: application/json\nUser-Agent: devcloud\n");
		drone_queue_release(&q);
		buf_release(&errmsg);
		fixture_release(&fx);
	}
}

/* ---- the token is never repeated ---- */

/* A transport whose own message repeats the request's header, as a careless one might. */
static int echoing_transport(void *ctx, const struct http_request *req,
			     struct http_response *resp, struct buf *errmsg)
{
	int *calls = ctx;

	(void)resp;
	(*calls)++;
	buf_appendf(errmsg, "connection reset while sending '%s'", req->headers[0]);
	return ERR_HTTP;
}

struct secret_case {
	const char *name;
	long status;
	const char *body;
	int err;
	const char *msg;
};

static const struct secret_case secret_cases[] = {
	{ "500-echoes-token", 500, "{\"message\":\"bad token " TOKEN "\"}", ERR_HTTP,
	  "gave up after 2 attempts: Drone answered 500: {\"message\":\"bad token [redacted]\"}" },
	{ "404-echoes-header", 404, "no route for Authorization: Bearer " TOKEN, ERR_HTTP,
	  "Drone answered 404: no route for Authorization: Bearer [redacted]" },
	{ "401-body-not-repeated", 401, "token " TOKEN " is not valid", ERR_CONFIG,
	  "the Drone token was refused (HTTP 401)" },
	{ "html-200-with-token", 200, "<html>" TOKEN "</html>", ERR_PARSE,
	  "the queue is not JSON, or it is cut short" },
};

static void assert_no_token(const char *s)
{
	if (strstr(s, TOKEN) || strstr(s, "dR0neT0ken"))
		fail_msg("the token leaked: %s", s);
}

static void test_secret(void **state)
{
	const struct secret_case *c = *state;
	struct fixture fx;
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf errmsg = BUF_INIT, logged = BUF_INIT;

	fixture_init(&fx, SERVER, 2);
	fake_aws_answer(&fx.fake, c->status, c->body);
	fake_aws_answer(&fx.fake, c->status, c->body);
	log_set_level(LOG_DEBUG);
	capture_stderr_begin();
	assert_int_equal(drone_get_queue(fx.drone, 0, &q, &errmsg), c->err);
	capture_stderr_end(&logged);
	log_set_level(LOG_ERROR);
	assert_string_equal(buf_cstr(&errmsg), c->msg);
	assert_no_token(buf_cstr(&errmsg));
	assert_no_token(buf_cstr(&logged));
	if (c->status >= 500)
		assert_non_null(strstr(buf_cstr(&logged), "retrying reading the Drone queue"));
	drone_queue_release(&q);
	buf_release(&errmsg);
	buf_release(&logged);
	fixture_release(&fx);
}

static void test_secret_transport(void **state)
{
	struct fake_aws fake;
	struct aws_clock clock;
	struct drone_client *drone;
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf errmsg = BUF_INIT, logged = BUF_INIT;
	int calls = 0;

	(void)state;
	fake_aws_init(&fake);
	clock = fake_aws_clock(&fake);
	struct drone_client_options o = { .server = SERVER, .token = TOKEN, .max_attempts = 2,
					  .transport = echoing_transport, .transport_ctx = &calls,
					  .clock = &clock };
	assert_int_equal(drone_client_new(&o, &drone, &errmsg), 0);
	log_set_level(LOG_DEBUG);
	capture_stderr_begin();
	assert_int_equal(drone_get_queue(drone, 0, &q, &errmsg), ERR_HTTP);
	capture_stderr_end(&logged);
	log_set_level(LOG_ERROR);
	assert_int_equal(calls, 2);
	assert_string_equal(buf_cstr(&errmsg),
			    "gave up after 2 attempts: cannot read the Drone queue: connection reset "
			    "while sending 'Authorization: Bearer [redacted]'");
	assert_no_token(buf_cstr(&logged));
	assert_non_null(strstr(buf_cstr(&logged), "[redacted]"));
	drone_client_free(drone);
	buf_release(&errmsg);
	buf_release(&logged);
	fake_aws_release(&fake);
}

/* ---- options ---- */

struct options_case {
	const char *name;
	const char *server;
	const char *token;
	const char *msg;	/* "" when accepted */
};

static const struct options_case options_cases[] = {
	{ "https", SERVER, TOKEN, "" },
	{ "https-port-prefix", "https://ci.example.com:443/drone", TOKEN, "" },
	{ "http-loopback", "http://localhost:8080", TOKEN, "" },
	{ "http-ipv6-loopback", "http://[::1]:8080/", TOKEN, "" },
	{ "http-elsewhere", "http://drone.example.com", TOKEN,
	  "Drone server URL is not an https:// URL (http:// is accepted only to 127.0.0.1, [::1] or "
	  "localhost)" },
	{ "no-scheme", "drone.example.com", TOKEN, "Drone server URL is not an https:// URL" },
	{ "empty", "", TOKEN, "Drone server URL is empty" },
	{ "null", NULL, TOKEN, "Drone server URL is empty" },
	{ "user-info", "https://drone.example.com@evil.example.com", TOKEN,
	  "Drone server URL must not contain a user name or password" },
	{ "query", SERVER "/?x=1", TOKEN, "Drone server URL must not have a query or a fragment" },
	{ "fragment", SERVER "#a", TOKEN, "Drone server URL must not have a query or a fragment" },
	{ "space", SERVER " /", TOKEN,
	  "Drone server URL contains a space, a control character or a character that is not "
	  "ASCII" },
	{ "bad-port", "https://drone.example.com:99999", TOKEN,
	  "Drone server URL has a port outside 1-65535" },
	{ "no-token", SERVER, NULL, "the Drone token is empty" },
	{ "empty-token", SERVER, "", "the Drone token is empty" },
	{ "token-with-newline", SERVER, "abc\r\nX-Evil: 1",
	  "the Drone token contains a space, a control character or a character that is not ASCII" },
	{ "token-with-space", SERVER, "abc def",
	  "the Drone token contains a space, a control character or a character that is not ASCII" },
};

static void test_options(void **state)
{
	const struct options_case *c = *state;
	struct drone_client *drone = (struct drone_client *)&drone;
	struct buf errmsg = BUF_INIT;
	struct drone_client_options o = { .server = c->server, .token = c->token,
					  .transport = fake_aws_transport() };
	int err = drone_client_new(&o, &drone, &errmsg);

	assert_int_equal(err, *c->msg ? ERR_CONFIG : 0);
	assert_string_equal(buf_cstr(&errmsg), c->msg);
	if (err) {
		assert_null(drone);
		if (c->server && *c->server)
			assert_null(strstr(buf_cstr(&errmsg), c->server));
	}
	drone_client_free(drone);
	buf_release(&errmsg);
}

static void test_token_too_long(void **state)
{
	char token[DRONE_MAX_TOKEN_LEN + 2];
	struct drone_client *drone;
	struct buf errmsg = BUF_INIT;

	(void)state;
	memset(token, 'a', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	struct drone_client_options o = { .server = SERVER, .token = token,
					  .transport = fake_aws_transport() };
	assert_int_equal(drone_client_new(&o, &drone, &errmsg), ERR_CONFIG);
	assert_string_equal(buf_cstr(&errmsg), "the Drone token is longer than 4096 characters");
	token[DRONE_MAX_TOKEN_LEN] = '\0';
	buf_reset(&errmsg);
	assert_int_equal(drone_client_new(&o, &drone, &errmsg), 0);
	drone_client_free(drone);
	buf_release(&errmsg);
}

/* ---- which stages a pool takes ---- */

struct fits_case {
	const char *name;
	const char *stage;	/* one stage object */
	const char *os, *arch, *type, *variant, *kernel;
	const char *labels;	/* "k=v,k=v" or NULL */
	bool fits;
};

static const struct fits_case fits_cases[] = {
	{ "defaults", STAGE_BARE, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "explicit-linux-amd64", "{\"id\":1,\"status\":\"pending\",\"os\":\"linux\","
	  "\"arch\":\"amd64\",\"type\":\"docker\"}", NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "pool-says-linux-amd64", STAGE_BARE, "linux", "amd64", "docker", NULL, NULL, NULL, true },
	{ "other-arch", STAGE_PENDING, NULL, NULL, NULL, NULL, NULL, NULL, false },
	{ "arm-pool-arm-stage", STAGE_PENDING, "linux", "arm64", NULL, "v8", NULL, NULL, true },
	{ "arm-pool-other-variant", STAGE_PENDING, "linux", "arm64", NULL, "v7", NULL, NULL, false },
	{ "arm-pool-no-variant", STAGE_PENDING, "linux", "arm64", NULL, NULL, NULL, NULL, false },
	{ "windows-stage", "{\"id\":1,\"status\":\"pending\",\"os\":\"windows\",\"kernel\":\"1809\"}",
	  NULL, NULL, NULL, NULL, NULL, NULL, false },
	{ "windows-kernel-match", "{\"id\":1,\"status\":\"pending\",\"os\":\"windows\","
	  "\"kernel\":\"1809\"}", "windows", NULL, NULL, NULL, "1809", NULL, true },
	{ "stage-without-kernel-any-pool", STAGE_BARE, NULL, NULL, NULL, NULL, "1809", NULL, true },
	{ "exec-type", "{\"id\":1,\"status\":\"pending\",\"type\":\"exec\"}", NULL, NULL, NULL, NULL,
	  NULL, NULL, false },
	{ "exec-pool-exec-stage", "{\"id\":1,\"status\":\"pending\",\"type\":\"exec\"}", NULL, NULL,
	  "exec", NULL, NULL, NULL, true },
	{ "exec-pool-untyped-stage", STAGE_BARE, NULL, NULL, "exec", NULL, NULL, NULL, false },
	{ "labels-equal", STAGE_RUNNING, NULL, NULL, NULL, NULL, NULL, "size=large", true },
	{ "stage-label-pool-none", STAGE_RUNNING, NULL, NULL, NULL, NULL, NULL, NULL, false },
	{ "pool-label-stage-none", STAGE_BARE, NULL, NULL, NULL, NULL, NULL, "size=large", false },
	{ "label-value-differs", STAGE_RUNNING, NULL, NULL, NULL, NULL, NULL, "size=small", false },
	{ "pool-has-more-labels", STAGE_RUNNING, NULL, NULL, NULL, NULL, NULL, "size=large,gpu=1",
	  false },
	{ "two-labels-any-order", "{\"id\":1,\"status\":\"pending\",\"labels\":{\"a\":\"1\","
	  "\"b\":\"2\"}}", NULL, NULL, NULL, NULL, NULL, "b=2,a=1", true },
};

static void test_fits(void **state)
{
	const struct fits_case *c = *state;
	struct drone_label labels[4];
	char store[4][2][16];
	size_t n = 0;
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf doc = BUF_INIT, reason = BUF_INIT;

	for (const char *p = c->labels; p && *p && n < 4; n++) {
		size_t eq = strcspn(p, "="), len = strcspn(p, ",");
		snprintf(store[n][0], sizeof(store[n][0]), "%.*s", (int)eq, p);
		snprintf(store[n][1], sizeof(store[n][1]), "%.*s", (int)(len - eq - 1), p + eq + 1);
		labels[n].key = store[n][0];
		labels[n].value = store[n][1];
		p += len + (p[len] ? 1 : 0);
	}
	struct drone_pool pool = { c->os, c->arch, c->type, c->variant, c->kernel, labels, n };

	buf_appendf(&doc, "[%s]", c->stage);
	assert_int_equal(drone_parse_queue(buf_view(&doc), &q, &reason), 0);
	assert_int_equal(q.count, 1);
	assert_int_equal(drone_stage_fits(&q.items[0], &pool), c->fits);
	drone_queue_release(&q);
	buf_release(&doc);
	buf_release(&reason);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		table_add("parse", parse_cases[i].name, test_parse, (void *)&parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(read_cases); i++)
		table_add("read", read_cases[i].name, test_read, (void *)&read_cases[i]);
	table_add("request", "shape", test_request_shape, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(secret_cases); i++)
		table_add("secret", secret_cases[i].name, test_secret, (void *)&secret_cases[i]);
	table_add("secret", "transport-echoes-header", test_secret_transport, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(options_cases); i++)
		table_add("options", options_cases[i].name, test_options,
			  (void *)&options_cases[i]);
	table_add("options", "token-too-long", test_token_too_long, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(fits_cases); i++)
		table_add("fits", fits_cases[i].name, test_fits, (void *)&fits_cases[i]);
	return table_run("drone");
}
