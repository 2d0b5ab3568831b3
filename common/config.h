/*
 * config.h - settings from the environment, with defaults and --help text.
 *
 * A function lists its settings in one table; the same table reads the
 * environment and documents the function in --help (and the README). A
 * setting that is unset or set to the empty string takes its default.
 * Every reader validates and, on a bad value, appends a message that names
 * the setting and quotes the value (values of settings marked secret are
 * never quoted).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>

#include "buf.h"
#include "err.h"

struct config_setting {
	const char *name;		/* environment variable */
	const char *default_value;	/* NULL: no default (unset allowed) */
	const char *help;		/* one line */
	bool secret;			/* never echo the value */
};

/* The environment's value, or the default (may be NULL). */
const char *config_value(const struct config_setting *s);

/* "true" or "false" (any case). */
int config_bool(const struct config_setting *s, bool *out, struct buf *errmsg) WARN_UNUSED;
/* A whole number in [min, max]. */
int config_long(const struct config_setting *s, long min, long max, long *out,
		struct buf *errmsg) WARN_UNUSED;
/* A string of at most max_len bytes; `required` refuses an empty one. */
int config_string(const struct config_setting *s, bool required, size_t max_len,
		  const char **out, struct buf *errmsg) WARN_UNUSED;

/* Parses "true"/"false" in any case; false for anything else. */
bool config_parse_bool(const char *s, bool *out);

/* Appends a --help section: "title:", then one block per setting. */
void config_help(const char *title, const struct config_setting *settings, size_t n,
		 struct buf *out);

#endif
