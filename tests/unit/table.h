/*
 * table.h - one cmocka test per table row, each with its own name.
 *
 *   for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
 *           table_add("trim", cases[i].name, test_trim, &cases[i]);
 *   return table_run("buf");
 *
 * A failing row then names itself ("trim/inner-spaces") in cmocka's output.
 */
#ifndef TABLE_H
#define TABLE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Registers test "group/name" running fn with *state = `state`. */
void table_add(const char *group, const char *name, CMUnitTestFunction fn, void *state);
/* Runs every registered test as one group, forgets them; the number failed. */
int table_run_group(const char *group_name, CMFixtureFunction setup, CMFixtureFunction teardown);
/* table_run_group() without fixtures, as an exit status (0 or 1). */
int table_run(const char *group_name);

#endif
