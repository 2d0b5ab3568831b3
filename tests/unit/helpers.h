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
#include "xml.h"

/*
 * Sends stderr (where the logs go) to a temporary file until
 * capture_stderr_end(), which restores it and appends what was written.
 * One capture at a time.
 */
void capture_stderr_begin(void);
void capture_stderr_end(struct buf *out);

/*
 * Parses a fixture document for a group setup; NULL (with the reason
 * printed, naming `what`) when it is not well-formed.
 */
struct xml_node *parse_fixture(const char *text, const char *what);

/* got equals want, or both are NULL. */
void assert_opt_string(const char *got, const char *want);

#endif
