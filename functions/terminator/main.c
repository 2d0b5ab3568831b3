/* terminator: wiring only. The logic is in terminator.c. */
#include "buf.h"
#include "lambda.h"
#include "terminator.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct buf help = BUF_INIT;
	int rc;

	terminator_help(&help);
	struct lambda_function fn = {
		.name = "terminator",
		.summary = "terminates builder instances that have outlived their lifetime",
		.help = buf_cstr(&help),
		.init = terminator_init,
		.handle = terminator_handle,
		.release = terminator_release,
	};
	rc = lambda_main(argc, argv, &fn);
	buf_release(&help);
	return rc;
}
