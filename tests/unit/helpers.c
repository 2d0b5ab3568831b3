#include "helpers.h"

#include <stdio.h>
#include <unistd.h>

#include "banned.h"

static FILE *capture_file;
static int saved_stderr = -1;

void capture_stderr_begin(void)
{
	fflush(stderr);
	assert_null(capture_file);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fileno(capture_file), STDERR_FILENO), STDERR_FILENO);
}

void capture_stderr_end(struct buf *out)
{
	char chunk[4096];
	size_t n;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(capture_file);
	while ((n = fread(chunk, 1, sizeof(chunk), capture_file)) > 0)
		buf_append(out, chunk, n);
	fclose(capture_file);
	capture_file = NULL;
}

struct xml_node *parse_fixture(const char *text, const char *what)
{
	struct xml_node *root = NULL;
	struct buf reason = BUF_INIT;

	if (xml_parse(view_from(text), &root, &reason)) {
		print_error("%s: %s\n", what, buf_cstr(&reason));
		root = NULL;
	}
	buf_release(&reason);
	return root;
}

void assert_opt_string(const char *got, const char *want)
{
	if (want) {
		assert_non_null(got);
		assert_string_equal(got, want);
	} else {
		assert_null(got);
	}
}
