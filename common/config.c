#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

const char *config_value(const struct config_setting *s)
{
	const char *v = getenv(s->name);
	return v && *v ? v : s->default_value;
}

static void quote_value(const struct config_setting *s, const char *v, struct buf *out)
{
	if (s->secret)
		buf_appends(out, "(value hidden)");
	else
		buf_appendf(out, "'%.200s'", v);
}

bool config_parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true"))
		*out = true;
	else if (!strcasecmp(s, "false"))
		*out = false;
	else
		return false;
	return true;
}

int config_bool(const struct config_setting *s, bool *out, struct buf *errmsg)
{
	const char *v = config_value(s);

	if (!v) {
		*out = false;
		return 0;
	}
	if (config_parse_bool(v, out))
		return 0;
	buf_appendf(errmsg, "%s must be true or false, got ", s->name);
	quote_value(s, v, errmsg);
	return ERR_CONFIG;
}

int config_long(const struct config_setting *s, long min, long max, long *out,
		struct buf *errmsg)
{
	const char *v = config_value(s);
	char *end;
	long n;

	if (!v) {
		buf_appendf(errmsg, "%s is not set", s->name);
		return ERR_CONFIG;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end || errno == ERANGE || n < min || n > max) {
		buf_appendf(errmsg, "%s must be a whole number from %ld to %ld, got ", s->name, min,
			    max);
		quote_value(s, v, errmsg);
		return ERR_CONFIG;
	}
	*out = n;
	return 0;
}

int config_string(const struct config_setting *s, bool required, size_t max_len,
		  const char **out, struct buf *errmsg)
{
	const char *v = config_value(s);

	if (!v || !*v) {
		if (required) {
			buf_appendf(errmsg, "%s is not set", s->name);
			return ERR_CONFIG;
		}
		*out = NULL;
		return 0;
	}
	if (strlen(v) > max_len) {
		buf_appendf(errmsg, "%s is longer than %zu characters", s->name, max_len);
		return ERR_CONFIG;
	}
	*out = v;
	return 0;
}

void config_help(const char *title, const struct config_setting *settings, size_t n,
		 struct buf *out)
{
	buf_appendf(out, "%s:\n", title);
	for (size_t i = 0; i < n; i++) {
		buf_appendf(out, "  %s\n      %s\n", settings[i].name, settings[i].help);
		if (settings[i].default_value)
			buf_appendf(out, "      default: %s\n",
				    *settings[i].default_value ? settings[i].default_value : "(empty)");
	}
}
