/*
 * fuzz_drone_queue.c - drone_parse_queue() and drone_stage_fits() on
 * arbitrary bytes.
 *
 *   make build/fuzz/fuzz_drone_queue
 *   build/fuzz/fuzz_drone_queue -max_total_time=60 tests/fuzz/corpus/drone_queue
 *
 * (point it at a copy of the corpus directory: libFuzzer adds files to it)
 *
 * Beyond "no crash, no leak": a refused document leaves an empty queue (all
 * or nothing), an accepted one has every string present, a status that
 * agrees with its text, and labels with keys; a stage fits a pool built
 * from its own platform and labels, and a stage with labels never fits a
 * pool without any.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drone.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stage(const struct drone_stage *s)
{
	struct drone_pool own = { s->os, s->arch, s->type, s->variant, s->kernel, s->labels,
				  s->label_count };
	struct drone_pool bare = { s->os, s->arch, s->type, s->variant, s->kernel, NULL, 0 };

	if (!s->status_text || !*s->status_text || !s->machine || !s->type || !s->os ||
	    !s->arch || !s->variant || !s->kernel)
		__builtin_trap();
	if ((s->status == DRONE_STAGE_PENDING) != !strcmp(s->status_text, "pending") ||
	    (s->status == DRONE_STAGE_RUNNING) != !strcmp(s->status_text, "running"))
		__builtin_trap();
	if (!s->label_count != !s->labels)
		__builtin_trap();
	for (size_t i = 0; i < s->label_count; i++)
		if (!s->labels[i].key || !s->labels[i].value)
			__builtin_trap();
	if (!drone_stage_fits(s, &own))
		__builtin_trap();
	if (s->label_count && drone_stage_fits(s, &bare))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drone_queue q = DRONE_QUEUE_INIT;
	struct buf reason = BUF_INIT;
	int err = drone_parse_queue(view_make((const char *)data, size), &q, &reason);

	if (err) {
		if (q.count || q.items || !reason.len)
			__builtin_trap();
	} else {
		for (size_t i = 0; i < q.count; i++)
			check_stage(&q.items[i]);
	}
	drone_queue_release(&q);
	buf_release(&reason);
	return 0;
}
