/*
 * test_config.c - settings from the environment (common/config.h).
 *
 *   make build/asan/tests/test_config && build/asan/tests/test_config
 *
 * Each row sets (or unsets) one environment variable, reads it through a
 * setting with or without a default, and states the value or the message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "config.h"

#include "banned.h"


#define VAR "DEVCLOUD_TEST_SETTING"

static void set_env(const char *value)
{
	if (value)
		assert_int_equal(setenv(VAR, value, 1), 0);
	else
		assert_int_equal(unsetenv(VAR), 0);
}

/* ---- config_value ---- */

struct value_case {
	const char *name;
	const char *env;	/* NULL: unset */
	const char *def;
	const char *expect;
};

static struct value_case value_cases[] = {
	{ "set", "x", "d", "x" },
	{ "unset-default", NULL, "d", "d" },
	{ "empty-takes-default", "", "d", "d" },
	{ "unset-no-default", NULL, NULL, NULL },
	{ "empty-no-default", "", NULL, NULL },
	{ "spaces-kept", " x ", "d", " x " },
};

static void test_value(void **state)
{
	const struct value_case *c = *state;
	const struct config_setting s = { VAR, c->def, "help", false };
	const char *v;

	set_env(c->env);
	v = config_value(&s);
	if (c->expect)
		assert_string_equal(v, c->expect);
	else
		assert_null(v);
}

/* ---- config_bool ---- */

struct bool_case {
	const char *name;
	const char *env;
	const char *def;
	bool secret;
	int err;
	bool expect;
	const char *errmsg;
};

static struct bool_case bool_cases[] = {
	{ "true", "true", NULL, false, 0, true, "" },
	{ "false", "false", "true", false, 0, false, "" },
	{ "upper", "TRUE", NULL, false, 0, true, "" },
	{ "mixed", "FaLsE", "true", false, 0, false, "" },
	{ "unset-default-true", NULL, "true", false, 0, true, "" },
	{ "empty-default-true", "", "true", false, 0, true, "" },
	{ "unset-no-default", NULL, NULL, false, 0, false, "" },
	{ "yes", "yes", "false", false, ERR_CONFIG, false,
	  VAR " must be true or false, got 'yes'" },
	{ "one", "1", "false", false, ERR_CONFIG, false, VAR " must be true or false, got '1'" },
	{ "padded", " true", "false", false, ERR_CONFIG, false,
	  VAR " must be true or false, got ' true'" },
	{ "prefix", "truee", "false", false, ERR_CONFIG, false,
	  VAR " must be true or false, got 'truee'" },
	{ "bad-default", NULL, "maybe", false, ERR_CONFIG, false,
	  VAR " must be true or false, got 'maybe'" },
	{ "secret-hidden", "hunter2", "false", true, ERR_CONFIG, false,
	  VAR " must be true or false, got (value hidden)" },
};

static void test_bool(void **state)
{
	const struct bool_case *c = *state;
	const struct config_setting s = { VAR, c->def, "help", c->secret };
	struct buf errmsg = BUF_INIT;
	bool out = !c->expect;

	set_env(c->env);
	assert_int_equal(config_bool(&s, &out, &errmsg), c->err);
	assert_string_equal(buf_cstr(&errmsg), c->errmsg);
	if (!c->err)
		assert_int_equal(out, c->expect);
	buf_release(&errmsg);
}

/* ---- config_long ---- */

struct long_case {
	const char *name;
	const char *env;
	const char *def;
	long min, max;
	int err;
	long expect;
	const char *errmsg;
};

static struct long_case long_cases[] = {
	{ "plain", "42", NULL, 0, 100, 0, 42, "" },
	{ "min", "0", NULL, 0, 100, 0, 0, "" },
	{ "max", "100", NULL, 0, 100, 0, 100, "" },
	{ "negative", "-5", NULL, -10, 10, 0, -5, "" },
	{ "default", NULL, "12", 1, 8760, 0, 12, "" },
	{ "empty-default", "", "12", 1, 8760, 0, 12, "" },
	{ "below", "-1", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got '-1'" },
	{ "above", "101", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got '101'" },
	{ "trailing", "12h", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got '12h'" },
	{ "fraction", "1.5", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got '1.5'" },
	{ "word", "ten", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got 'ten'" },
	{ "trailing-space", "5 ", NULL, 0, 100, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 100, got '5 '" },
	{ "unset-no-default", NULL, NULL, 0, 100, ERR_CONFIG, 0, VAR " is not set" },
	{ "empty-no-default", "", NULL, 0, 100, ERR_CONFIG, 0, VAR " is not set" },
	{ "overflow-full-range", "99999999999999999999", NULL, 0, __LONG_MAX__, ERR_CONFIG, 0,
	  VAR " must be a whole number from 0 to 9223372036854775807, got "
	      "'99999999999999999999'" },
	{ "underflow-full-range", "-99999999999999999999", NULL, -__LONG_MAX__ - 1, 0,
	  ERR_CONFIG, 0,
	  VAR " must be a whole number from -9223372036854775808 to 0, got "
	      "'-99999999999999999999'" },
	{ "long-max", "9223372036854775807", NULL, 0, __LONG_MAX__, 0, __LONG_MAX__, "" },
};

static void test_long(void **state)
{
	const struct long_case *c = *state;
	const struct config_setting s = { VAR, c->def, "help", false };
	struct buf errmsg = BUF_INIT;
	long out = -12345;

	set_env(c->env);
	assert_int_equal(config_long(&s, c->min, c->max, &out, &errmsg), c->err);
	assert_string_equal(buf_cstr(&errmsg), c->errmsg);
	assert_int_equal(out, c->err ? -12345 : c->expect);
	buf_release(&errmsg);
}

/* ---- config_string ---- */

struct string_case {
	const char *name;
	const char *env;
	const char *def;
	bool required;
	size_t max_len;
	int err;
	const char *expect;	/* NULL: *out is NULL */
	const char *errmsg;
};

static struct string_case string_cases[] = {
	{ "set", "eu-west-1", NULL, true, 64, 0, "eu-west-1", "" },
	{ "exactly-max", "abcd", NULL, true, 4, 0, "abcd", "" },
	{ "too-long", "abcde", NULL, true, 4, ERR_CONFIG, NULL,
	  VAR " is longer than 4 characters" },
	{ "default", NULL, "dflt", true, 64, 0, "dflt", "" },
	{ "optional-unset", NULL, NULL, false, 64, 0, NULL, "" },
	{ "optional-empty", "", NULL, false, 64, 0, NULL, "" },
	{ "required-unset", NULL, NULL, true, 64, ERR_CONFIG, NULL, VAR " is not set" },
	{ "required-empty", "", NULL, true, 64, ERR_CONFIG, NULL, VAR " is not set" },
	{ "required-empty-default", NULL, "", true, 64, ERR_CONFIG, NULL, VAR " is not set" },
};

static void test_string(void **state)
{
	const struct string_case *c = *state;
	const struct config_setting s = { VAR, c->def, "help", false };
	struct buf errmsg = BUF_INIT;
	const char *out = "untouched";

	set_env(c->env);
	assert_int_equal(config_string(&s, c->required, c->max_len, &out, &errmsg), c->err);
	assert_string_equal(buf_cstr(&errmsg), c->errmsg);
	if (c->err)
		assert_string_equal(out, "untouched");
	else if (c->expect)
		assert_string_equal(out, c->expect);
	else
		assert_null(out);
	buf_release(&errmsg);
}

/* ---- config_parse_bool ---- */

struct parse_bool_case {
	const char *name;
	const char *in;
	bool ok;
	bool expect;
};

static struct parse_bool_case parse_bool_cases[] = {
	{ "true", "true", true, true },	  { "True", "True", true, true },
	{ "FALSE", "FALSE", true, false }, { "empty", "", false, false },
	{ "t", "t", false, false },	  { "on", "on", false, false },
	{ "0", "0", false, false },	  { "true-nl", "true\n", false, false },
};

static void test_parse_bool(void **state)
{
	const struct parse_bool_case *c = *state;
	bool out = !c->expect;

	assert_int_equal(config_parse_bool(c->in, &out), c->ok);
	if (c->ok)
		assert_int_equal(out, c->expect);
	else
		assert_int_equal(out, !c->expect);	/* untouched */
}

/* ---- config_help ---- */

static void test_help(void **state)
{
	static const struct config_setting settings[] = {
		{ "DRY_RUN", "false", "log what would be stopped, stop nothing", false },
		{ "INSTANCE_FILTERS", NULL, "which instances to consider", false },
		{ "SLACK_WEBHOOK_URL", "", "where to report", true },
	};
	struct buf out = BUF_INIT;

	(void)state;
	buf_appends(&out, "> ");
	config_help("stopper settings", settings, ARRAY_SIZE(settings), &out);
	assert_string_equal(buf_cstr(&out),
			    "> stopper settings:\n"
			    "  DRY_RUN\n"
			    "      log what would be stopped, stop nothing\n"
			    "      default: false\n"
			    "  INSTANCE_FILTERS\n"
			    "      which instances to consider\n"
			    "  SLACK_WEBHOOK_URL\n"
			    "      where to report\n"
			    "      default: (empty)\n");
	buf_release(&out);
}

int main(void)
{
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(value_cases); i++)
		table_add("value", value_cases[i].name, test_value, &value_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bool_cases); i++)
		table_add("bool", bool_cases[i].name, test_bool, &bool_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(long_cases); i++)
		table_add("long", long_cases[i].name, test_long, &long_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(string_cases); i++)
		table_add("string", string_cases[i].name, test_string, &string_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(parse_bool_cases); i++)
		table_add("parse_bool", parse_bool_cases[i].name, test_parse_bool,
			 &parse_bool_cases[i]);
	table_add("help", "layout", test_help, NULL);

	failed = table_run("config");
	unsetenv(VAR);
	return failed;
}
