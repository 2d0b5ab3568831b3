#include "ec2_batch.h"

#include <stdio.h>
#include <string.h>

#include "ec2.h"
#include "log.h"
#include "banned.h"

/*
 * The refusals that name an instance of the call, from EC2's error-code
 * reference: a batch refused with one of these would go through without
 * the instance concerned, so it is worth one call per instance.
 *
 *   IncorrectInstanceState   the instance is in a state that does not allow
 *                            the action (pending, already shutting down)
 *   IncorrectState           the same, in its generic form
 *   InvalidInstanceID.*      NotFound (gone, or not yet visible), Malformed,
 *                            and the bare InvalidInstanceID
 *   UnsupportedOperation     the instance cannot do it (an instance-store
 *                            root cannot be stopped, a Spot Instance that
 *                            cannot be stopped, hibernation not possible)
 *   OperationNotPermitted    stop or termination protection
 *   UnsupportedHibernationConfiguration
 *                            the instance cannot be hibernated
 *
 * Everything else is about the call, not about one instance: throttling,
 * 5xx, network errors and timeouts (already retried by the AWS client),
 * UnauthorizedOperation, AuthFailure, RequestExpired, ExpiredToken,
 * InvalidParameterValue and anything we do not know. Splitting those would
 * turn one fault into one call per instance, each failing the same way.
 */
static const char *const instance_codes[] = {
	"IncorrectInstanceState",
	"IncorrectState",
	"UnsupportedOperation",
	"OperationNotPermitted",
	"UnsupportedHibernationConfiguration",
};

bool ec2_batch_error_names_instance(const struct aws_error *e)
{
	if (e->err != ERR_AWS)
		return false;
	if (!strcmp(e->code, "InvalidInstanceID") || !strncmp(e->code, "InvalidInstanceID.", 18))
		return true;
	for (size_t i = 0; i < sizeof(instance_codes) / sizeof(instance_codes[0]); i++)
		if (!strcmp(e->code, instance_codes[i]))
			return true;
	return false;
}

/*
 * Errors that hold for every later call of the run: the deadline has passed,
 * or the credentials are refused or expired (Lambda's role credentials do
 * not renew within an invocation). UnauthorizedOperation is not one of
 * them: an IAM policy may allow the action only on instances with some tag
 * (ec2:ResourceTag conditions), so the next batch may well be allowed; it
 * costs one call per batch, never one per instance.
 */
static const char *const run_codes[] = {
	"AuthFailure", "RequestExpired", "ExpiredToken", "ExpiredTokenException",
	"InvalidClientTokenId", "SignatureDoesNotMatch", "OptInRequired", "Blocked",
};

bool ec2_batch_error_ends_run(const struct aws_client *aws, const struct aws_error *e)
{
	if (aws_client_time_left_ms(aws) <= 0)
		return true;
	for (size_t i = 0; i < sizeof(run_codes) / sizeof(run_codes[0]); i++)
		if (!strcmp(e->code, run_codes[i]))
			return true;
	return false;
}

static bool refuses_hibernation(const struct aws_error *e)
{
	return e->err == ERR_AWS && (!strcmp(e->code, "UnsupportedHibernationConfiguration") ||
				     !strcmp(e->code, "UnsupportedOperation"));
}

struct batch_run {
	struct aws_client *aws;
	const struct ec2_batch_options *opts;
	const char *const *ids;
	const char *action;		/* "StopInstances" */
	size_t calls;
	bool ended;
	struct aws_error end;		/* why no more calls are made */
};

static int batch_call(struct batch_run *b, const char *const *ids, size_t n, bool hibernate,
		struct aws_error *e)
{
	b->calls++;
	if (b->opts->action == EC2_BATCH_STOP) {
		struct ec2_stop_options so = { hibernate, b->opts->dry_run };
		return ec2_stop_instances(b->aws, ids, n, &so, e);
	}
	return ec2_terminate_instances(b->aws, ids, n, b->opts->dry_run, e);
}

static void describe_short(const struct aws_error *e, struct buf *out)
{
	if (e->code[0])
		buf_appends(out, e->code);
	else
		buf_appends(out, e->message[0] ? e->message : err_name(e->err));
}

/* Notes a run-wide failure: no call is made after it. */
static void note(struct batch_run *b, const struct aws_error *e)
{
	struct buf why = BUF_INIT;

	if (b->ended || !ec2_batch_error_ends_run(b->aws, e))
		return;
	aws_error_describe(e, &why);
	b->ended = true;
	memset(&b->end, 0, sizeof(b->end));
	b->end.err = e->err;
	snprintf(b->end.message, sizeof(b->end.message),
		 "not attempted: an earlier %s call failed with %s", b->action, buf_cstr(&why));
	buf_release(&why);
}

/* Whether calls may still be made; if not, b->end says why. */
static bool may_call(struct batch_run *b)
{
	if (b->ended)
		return false;
	if (aws_client_time_left_ms(b->aws) > 0)
		return true;
	b->ended = true;
	memset(&b->end, 0, sizeof(b->end));
	b->end.err = ERR_TIMEOUT;
	snprintf(b->end.message, sizeof(b->end.message),
		 "not attempted: no time left before the invocation's deadline");
	return false;
}

static void fail_all(struct batch_run *b, size_t start, size_t count, const struct aws_error *e)
{
	for (size_t i = start; i < start + count; i++)
		b->opts->failed(b->opts->ctx, i, e);
}

static void one(struct batch_run *b, size_t i)
{
	const char *id = b->ids[i];
	bool hibernate = b->opts->action == EC2_BATCH_STOP && b->opts->hibernate;
	struct aws_error e;

	if (!may_call(b)) {
		b->opts->failed(b->opts->ctx, i, &b->end);
		return;
	}
	if (batch_call(b, &id, 1, hibernate, &e) == 0) {
		b->opts->done(b->opts->ctx, i, hibernate);
		return;
	}
	if (hibernate && refuses_hibernation(&e)) {
		log_warn("cannot hibernate '%s' (%s); stopping it instead", id, e.code);
		if (!may_call(b)) {
			b->opts->failed(b->opts->ctx, i, &b->end);
			return;
		}
		if (batch_call(b, &id, 1, false, &e) == 0) {
			b->opts->done(b->opts->ctx, i, false);
			return;
		}
	}
	note(b, &e);
	b->opts->failed(b->opts->ctx, i, &e);
}

size_t ec2_batch_run(struct aws_client *aws, const char *const *ids, size_t n,
		     const struct ec2_batch_options *opts)
{
	struct batch_run b = { aws, opts, ids,
			       opts->action == EC2_BATCH_STOP ? "StopInstances" : "TerminateInstances",
			       0, false, { 0 } };
	size_t size = opts->batch_size ? opts->batch_size : EC2_BATCH_DEFAULT_SIZE;
	size_t start;

	if (size > EC2_BATCH_MAX_SIZE)
		size = EC2_BATCH_MAX_SIZE;
	for (start = 0; start < n; start += size) {
		size_t count = n - start < size ? n - start : size;
		bool hibernate = opts->action == EC2_BATCH_STOP && opts->hibernate;
		struct buf why = BUF_INIT;
		struct aws_error e;

		if (!may_call(&b))
			break;
		if (count == 1) {
			one(&b, start);
			continue;
		}
		if (batch_call(&b, ids + start, count, hibernate, &e) == 0) {
			for (size_t i = start; i < start + count; i++)
				opts->done(opts->ctx, i, hibernate);
			continue;
		}
		describe_short(&e, &why);
		if (ec2_batch_error_names_instance(&e)) {
			log_warn("%s for %zu instances refused (%s); trying them one by one", b.action,
				 count, buf_cstr(&why));
			for (size_t i = start; i < start + count; i++)
				one(&b, i);
		} else {
			/* about the call, not an instance: one call per instance would fail alike */
			log_error("%s for %zu instances failed (%s); not trying them one by one",
				  b.action, count, buf_cstr(&why));
			note(&b, &e);
			fail_all(&b, start, count, &e);
		}
		buf_release(&why);
	}
	if (start < n) {
		/* b.end.message reads "not attempted: ..." */
		log_error("%zu instance%s %s", n - start, n - start == 1 ? "" : "s", b.end.message);
		fail_all(&b, start, n - start, &b.end);
	}
	return b.calls;
}
