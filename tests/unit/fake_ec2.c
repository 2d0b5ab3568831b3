#include "fake_ec2.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "banned.h"

static void answer_error(struct http_response *resp, long status, const char *code,
			 const char *message)
{
	resp->status = status;
	buf_appendf(&resp->body, "<Response><Errors><Error><Code>%s</Code><Message>%s</Message>"
				 "</Error></Errors><RequestID>r-1</RequestID></Response>",
		    code, message);
}

/* The value of the next "InstanceId.N=" parameter from p on, or NULL. */
static const char *next_id(const char *p, const char **value, size_t *len)
{
	p = strstr(p, "InstanceId.");
	if (!p)
		return NULL;
	*value = strchr(p, '=') + 1;
	*len = strcspn(*value, "&");
	return p + 1;
}

static const struct fake_ec2_refusal *refusal_of(const struct fake_ec2 *e, const char *id,
						 size_t len)
{
	for (const struct fake_ec2_refusal *r = e->refusals; r && r->id; r++)
		if (strlen(r->id) == len && !memcmp(r->id, id, len))
			return r;
	return NULL;
}

static void describe(struct fake_ec2 *e, const char *body, struct http_response *resp)
{
	bool running;
	const char *id;
	size_t len;

	e->describes++;
	if (e->describe_body) {
		resp->status = e->describe_status ? e->describe_status : 200;
		buf_appends(&resp->body, e->describe_body);
		return;
	}
	running = e->describes > e->pending_polls;
	resp->status = 200;
	buf_appends(&resp->body, "<DescribeInstancesResponse><reservationSet><item><instancesSet>");
	for (const char *p = next_id(body, &id, &len); p; p = next_id(p, &id, &len))
		buf_appendf(&resp->body,
			    "<item><instanceId>%.*s</instanceId><instanceState><name>%s</name>"
			    "</instanceState></item>",
			    (int)len, id, running ? "running" : "pending");
	buf_appends(&resp->body, "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
}

static void change_state(struct fake_ec2 *e, const char *body, bool stop,
			 struct http_response *resp)
{
	int *calls = stop ? &e->stop_calls : &e->terminate_calls;
	int call = e->stop_calls + e->terminate_calls;
	bool hibernate = stop && strstr(body, "Hibernate=true") != NULL;
	const char *id;
	size_t len, n = 0;

	(*calls)++;
	for (const char *p = next_id(body, &id, &len); p; p = next_id(p, &id, &len))
		n++;
	if (call < FAKE_MAX)
		e->batch_sizes[call] = n;
	int from = e->fail_from ? e->fail_from : 1;

	if (e->fail_code && *calls >= from && (!e->fail_calls || *calls < from + e->fail_calls)) {
		answer_error(resp, e->fail_status ? e->fail_status : 400, e->fail_code,
			     e->fail_message ? e->fail_message : "failed");
		return;
	}
	if (strstr(body, "DryRun=true")) {
		e->dry_runs++;
		answer_error(resp, 412, "DryRunOperation",
			     "Request would have succeeded, but DryRun flag is set.");
		return;
	}
	/* EC2 refuses the whole call for one instance that refuses */
	for (const char *p = next_id(body, &id, &len); p; p = next_id(p, &id, &len)) {
		const struct fake_ec2_refusal *r = refusal_of(e, id, len);
		if (r) {
			answer_error(resp, 400, r->code, r->message ? r->message : "refused");
			return;
		}
	}
	if (hibernate && e->no_hibernation) {
		answer_error(resp, 400, "UnsupportedHibernationConfiguration", "refused");
		return;
	}
	for (const char *p = next_id(body, &id, &len); p; p = next_id(p, &id, &len))
		buf_appendf(&e->acted, "%.*s%s ", (int)len, id, hibernate ? "[h]" : "");
	resp->status = 200;
	buf_appends(&resp->body, stop ? "<StopInstancesResponse><instancesSet/></StopInstancesResponse>"
				      : "<TerminateInstancesResponse><instancesSet/>"
					"</TerminateInstancesResponse>");
}

static int respond(struct fake_aws *f, const struct http_request *req, struct http_response *resp)
{
	struct fake_ec2 *e = f->user;
	const char *body = req->body.ptr ? req->body.ptr : "";

	if (strstr(body, "Action=DescribeInstances&"))
		describe(e, body, resp);
	else if (strstr(body, "Action=StopInstances"))
		change_state(e, body, true, resp);
	else if (strstr(body, "Action=TerminateInstances"))
		change_state(e, body, false, resp);
	else
		fail_msg("unexpected request: %s", body);
	return 0;
}

void fake_ec2_attach(struct fake_ec2 *e, struct fake_aws *f)
{
	memset(e, 0, sizeof(*e));
	f->respond = respond;
	f->user = e;
}

void fake_ec2_release(struct fake_ec2 *e)
{
	buf_release(&e->acted);
}
