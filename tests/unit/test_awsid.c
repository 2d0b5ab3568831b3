/*
 * test_awsid.c - the shape of EC2 ids (common/awsid.h).
 *
 *   make build/asan/tests/test_awsid && build/asan/tests/test_awsid
 *
 * ids/<row>  one id and prefix each: accepted or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table.h"

#include "awsid.h"

#include "banned.h"

struct id_case {
	const char *name;
	const char *id;
	const char *prefix;
	bool valid;
};

static const struct id_case id_cases[] = {
	{ "short-form", "i-0a1b2c3d", "i", true },
	{ "long-form", "i-0123456789abcdef0", "i", true },
	{ "image", "ami-0123456789abcdef0", "ami", true },
	{ "snapshot-short", "snap-deadbeef", "snap", true },
	{ "nine-digits", "i-0a1b2c3d4", "i", false },
	{ "sixteen-digits", "i-0123456789abcdef", "i", false },
	{ "eighteen-digits", "i-0123456789abcdef01", "i", false },
	{ "upper-case", "i-0A1B2C3D", "i", false },
	{ "not-hex", "i-0a1b2c3g", "i", false },
	{ "no-digits", "i-", "i", false },
	{ "no-dash", "i0a1b2c3d", "i", false },
	{ "wrong-prefix", "ami-0a1b2c3d", "i", false },
	{ "prefix-of-prefix", "snap-0a1b2c3d", "sn", false },
	{ "trailing-space", "i-0a1b2c3d ", "i", false },
	{ "leading-space", " i-0a1b2c3d", "i", false },
	{ "newline", "i-0a1b2c3d\n", "i", false },
	{ "query-injection", "i-0a1b2c3d&InstanceId.2=i-12345678", "i", false },
	{ "json-injection", "i-0a1b2c3d\",\"x", "i", false },
	{ "empty", "", "i", false },
	{ "null", NULL, "i", false },
};

static void test_id(void **state)
{
	const struct id_case *c = *state;

	assert_int_equal(aws_id_valid(c->id, c->prefix), c->valid);
	if (!c->id || !c->prefix || !c->prefix[0] || (c->prefix[0] == 'i' && !c->prefix[1]))
		assert_int_equal(instance_id_valid(c->id), c->valid);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(id_cases); i++)
		table_add("ids", id_cases[i].name, test_id, (void *)&id_cases[i]);
	return table_run("awsid");
}
