/*
 * helpers.h - small assertions and fixtures the unit tests share.
 */
#ifndef HELPERS_H
#define HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"

/*
 * Sends stderr (where the logs go) to a temporary file until
 * capture_stderr_end(), which restores it and appends what was written.
 * One capture at a time.
 */
void capture_stderr_begin(void);
void capture_stderr_end(struct buf *out);

/* got equals want, or both are NULL. */
void assert_opt_string(const char *got, const char *want);

#endif
