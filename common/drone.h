/*
 * drone.h - the Drone CI API: the build queue, read with an admin token.
 *
 *   GET <server>/api/queue   Authorization: Bearer <token>
 *
 * answers a JSON array of the incomplete stages, pending or running:
 *
 *   [{"id": 42, "repo_id": 7, "build_id": 311, "number": 1, "name": "test",
 *     "kind": "pipeline", "type": "docker", "status": "running",
 *     "machine": "i-0a1b2c3d4e5f60718", "os": "linux", "arch": "amd64",
 *     "variant": "v8", "kernel": "", "labels": {"size": "large"},
 *     "created": 1764748800, "updated": 1764748830, ...}, ...]
 *
 * Fields that are empty are left out (Go's omitempty): no "machine" on a
 * pending stage, no "labels" without labels. `machine` is the name of the
 * runner that took a running stage (its DRONE_RUNNER_NAME).
 *
 * The token is a secret: the client keeps its own copy, wipes it when freed,
 * and it never appears in logs, messages or results, even when the server or
 * a proxy echoes it back. The server URL must be https://, or http:// to a
 * loopback address (see webcall.h).
 *
 * Reading: 200 with a JSON array is the queue, all of it or an error
 * (ERR_PARSE for anything else: HTML from a proxy, truncated JSON, a stage
 * without its id or status; never a partial queue). 401 and 403 are "the
 * Drone token was refused" (ERR_CONFIG, not retried); 5xx, 429 and network
 * failures are retried with exponential backoff and full jitter within the
 * deadline; other answers are final (ERR_HTTP).
 */
#ifndef DRONE_H
#define DRONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "err.h"
#include "http.h"

/* The largest queue we read: about 40,000 stages. */
#define DRONE_MAX_RESPONSE_BYTES (16u << 20)
#define DRONE_MAX_TOKEN_LEN 4096

struct drone_client_options {
	const char *server;		/* "https://drone.example.com[/prefix]"; copied */
	const char *token;		/* an admin token; copied; a secret */
	int max_attempts;		/* 0: 4 */
	int64_t base_backoff_ms;	/* 0: 500 (doubled each retry, capped at 8 s) */
	http_transport_fn transport;	/* NULL: libcurl */
	void *transport_ctx;
	const struct aws_clock *clock;	/* NULL: real time */
};

struct drone_client;

/*
 * ERR_CONFIG when the server URL is not acceptable (the message says why)
 * or the token is empty, too long, or holds a space or control character
 * (it goes into a header line).
 */
int drone_client_new(const struct drone_client_options *opts, struct drone_client **out,
		     struct buf *errmsg) WARN_UNUSED;
void drone_client_free(struct drone_client *c);

struct drone_label {
	char *key;
	char *value;
};

enum drone_stage_status { DRONE_STAGE_PENDING, DRONE_STAGE_RUNNING, DRONE_STAGE_OTHER };

/* One stage, with only what the scaler uses. Strings are never NULL. */
struct drone_stage {
	long long id;
	long long build_id;
	enum drone_stage_status status;
	char *status_text;	/* as Drone wrote it */
	char *machine;		/* "" for a stage no runner has taken */
	char *type;		/* "" when omitted */
	char *os, *arch, *variant, *kernel;	/* "" when omitted */
	struct drone_label *labels;
	size_t label_count;
	long long created;	/* Unix seconds; 0 when omitted */
};

struct drone_queue {
	struct drone_stage *items;
	size_t count;
};
#define DRONE_QUEUE_INIT { NULL, 0 }

void drone_queue_release(struct drone_queue *q);

/*
 * Reads the whole queue into `out` (empty on entry). deadline_ms is Unix ms
 * on the client's clock; 0 means none. On failure `out` stays empty and
 * errmsg has a one-line reason ("the Drone token was refused (HTTP 401)",
 * "gave up after 4 attempts: Drone answered 502: Bad Gateway").
 */
int drone_get_queue(struct drone_client *c, int64_t deadline_ms, struct drone_queue *out,
		    struct buf *errmsg) WARN_UNUSED;

/*
 * Parses a queue document. ERR_PARSE (with a reason, never quoting the
 * document) unless it is one JSON array of stage objects, each with a
 * numeric id and a string status, string os/arch/type/... when present,
 * and labels an object of strings; nothing but white space may follow.
 * Stages are kept in the document's order; `out` is empty on failure.
 */
int drone_parse_queue(struct view doc, struct drone_queue *out, struct buf *reason) WARN_UNUSED;

/*
 * The stages a pool of runners takes. os and arch NULL or "" mean "linux"
 * and "amd64", type NULL or "" means "docker"; variant and kernel may be
 * NULL. Labels are the runners' DRONE_RUNNER_LABELS.
 */
struct drone_pool {
	const char *os, *arch, *type, *variant, *kernel;
	const struct drone_label *labels;
	size_t label_count;
};

/*
 * Whether a runner of `pool` would take `stage`, as Drone's scheduler
 * decides: the same os and arch (a stage that omits them is linux/amd64),
 * the same type (omitted: docker), the stage's variant and kernel when it
 * names them, and the same labels: every label of the stage on the runner
 * and every label of the runner on the stage, with equal values.
 */
bool drone_stage_fits(const struct drone_stage *stage, const struct drone_pool *pool);

#endif
