#include "fake_aws.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int fake_transport(void *ctx, const struct http_request *req,
			  struct http_response *resp, struct buf *errmsg)
{
	struct fake_aws *f = ctx;
	size_t i = f->calls++;

	if (i < FAKE_MAX) {
		buf_append(&f->bodies[i], req->body.ptr, req->body.len);
		for (size_t h = 0; h < req->header_count; h++)
			buf_appendf(&f->heads[i], "%s\n", req->headers[h]);
		f->urls[i] = xstrdup(req->url);
		f->timeouts[i] = req->timeout_ms;
	}
	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	if (f->respond)
		return f->respond(f, req, resp);
	if (i >= f->answer_count) {
		buf_appends(errmsg, "no scripted answer");
		return ERR_HTTP;
	}
	const struct fake_answer *a = &f->answers[i];
	if (a->err) {
		buf_appends(errmsg, "scripted transport failure");
		return a->err;
	}
	resp->status = a->status;
	buf_appends(&resp->body, a->body ? a->body : "");
	buf_appends(&resp->headers, a->headers ? a->headers : "");
	return 0;
}

static int64_t fake_now(void *ctx)
{
	return ((struct fake_aws *)ctx)->now_ms;
}

static void fake_sleep(void *ctx, int64_t ms)
{
	struct fake_aws *f = ctx;

	if (f->sleeps < FAKE_MAX)
		f->slept_ms[f->sleeps] = ms;
	f->sleeps++;
	f->now_ms += ms;
}

static double fake_random(void *ctx)
{
	return ((struct fake_aws *)ctx)->random_value;
}

void fake_aws_init(struct fake_aws *f)
{
	memset(f, 0, sizeof(*f));
	f->now_ms = 1764748800000LL; /* 2025-12-03T08:00:00Z */
	f->random_value = 0.5;
}

void fake_aws_release(struct fake_aws *f)
{
	for (size_t i = 0; i < FAKE_MAX; i++) {
		buf_release(&f->bodies[i]);
		buf_release(&f->heads[i]);
		free(f->urls[i]);
	}
}

void fake_aws_answer(struct fake_aws *f, long status, const char *body)
{
	f->answers[f->answer_count++] = (struct fake_answer){ 0, status, body, NULL };
}

void fake_aws_fail(struct fake_aws *f, int err)
{
	f->answers[f->answer_count++] = (struct fake_answer){ err, 0, NULL, NULL };
}

struct aws_client *fake_aws_client(struct fake_aws *f, int max_attempts)
{
	struct aws_credentials creds = { (char *)"AKIDTEST", (char *)"secret-test-key", NULL };
	return fake_aws_client_with(f, &creds, max_attempts);
}

struct aws_client *fake_aws_client_with(struct fake_aws *f, const struct aws_credentials *creds,
					int max_attempts)
{
	struct aws_clock clock = { fake_now, fake_sleep, fake_random, f };
	struct aws_client_options o = {
		.credentials = creds,
		.region = "eu-west-1",
		.max_attempts = max_attempts,
		.deadline_margin_ms = 1500,
		.transport = fake_transport,
		.transport_ctx = f,
		.clock = &clock,
	};
	return aws_client_new(&o);
}

int fake_aws_body_has(const struct fake_aws *f, size_t i, const char *s)
{
	return i < FAKE_MAX && strstr(buf_cstr(&f->bodies[i]), s) != NULL;
}

http_transport_fn fake_aws_transport(void)
{
	return fake_transport;
}

struct aws_clock fake_aws_clock(struct fake_aws *f)
{
	return (struct aws_clock){ fake_now, fake_sleep, fake_random, f };
}

void fake_aws_answer_headers(struct fake_aws *f, long status, const char *headers,
			     const char *body)
{
	f->answers[f->answer_count++] = (struct fake_answer){ 0, status, body, headers };
}
