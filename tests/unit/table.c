#include "table.h"

#include <stdlib.h>

#include "buf.h"
#include "banned.h"

static struct CMUnitTest *tests;
static size_t test_count;

void table_add(const char *group, const char *name, CMUnitTestFunction fn, void *state)
{
	struct buf b = BUF_INIT;

	buf_appendf(&b, "%s/%s", group, name);
	tests = xrealloc(tests, (test_count + 1) * sizeof(*tests));
	tests[test_count++] = (struct CMUnitTest){
		.name = buf_detach(&b),
		.test_func = fn,
		.initial_state = state,
	};
}

int table_run_group(const char *group_name, CMFixtureFunction setup, CMFixtureFunction teardown)
{
	int failed = _cmocka_run_group_tests(group_name, tests, test_count, setup, teardown);

	for (size_t i = 0; i < test_count; i++)
		free((char *)tests[i].name);
	free(tests);
	tests = NULL;
	test_count = 0;
	return failed;
}

int table_run(const char *group_name)
{
	return table_run_group(group_name, NULL, NULL) ? 1 : 0;
}
