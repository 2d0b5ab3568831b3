/*
 * fake_aws.h - a scripted transport and clock for unit tests of code that
 * talks to AWS. Each call takes the next scripted answer; every request is
 * recorded so tests can look at what was sent.
 */
#ifndef FAKE_AWS_H
#define FAKE_AWS_H

#include "aws.h"
#include "http.h"

#define FAKE_MAX 64

struct fake_answer {
	int err;		/* transport error, or 0 */
	long status;
	const char *body;
	const char *headers;	/* raw header block, may be NULL */
};

struct fake_aws {
	struct fake_answer answers[FAKE_MAX];
	size_t answer_count;
	size_t calls;
	struct buf bodies[FAKE_MAX];	/* request bodies */
	struct buf heads[FAKE_MAX];	/* request headers, one per line */
	char *urls[FAKE_MAX];
	long timeouts[FAKE_MAX];
	int64_t now_ms;
	int64_t slept_ms[FAKE_MAX];
	size_t sleeps;
	double random_value;
	/* optional: answer by a function instead of the script */
	int (*respond)(struct fake_aws *f, const struct http_request *req,
		       struct http_response *resp);
	void *user;
};

void fake_aws_init(struct fake_aws *f);
void fake_aws_release(struct fake_aws *f);
void fake_aws_answer(struct fake_aws *f, long status, const char *body);
void fake_aws_fail(struct fake_aws *f, int err);
/* A client that uses the fake for transport, time and randomness. */
struct aws_client *fake_aws_client(struct fake_aws *f, int max_attempts);
struct aws_client *fake_aws_client_with(struct fake_aws *f, const struct aws_credentials *creds,
					int max_attempts);
/* Whether request i's body contains s. */
int fake_aws_body_has(const struct fake_aws *f, size_t i, const char *s);

/*
 * The fake's pieces on their own, for clients other than aws_client (the
 * Slack client): the transport takes the fake as its ctx; the clock is
 * returned by value with ctx = f (clients copy it).
 */
http_transport_fn fake_aws_transport(void);
struct aws_clock fake_aws_clock(struct fake_aws *f);
/* A scripted answer with a raw header block ("Retry-After: 3\n"). */
void fake_aws_answer_headers(struct fake_aws *f, long status, const char *headers,
			     const char *body);

#endif
