/* stopper: wiring only. The logic is in stopper.c. */
#include "buf.h"
#include "lambda.h"
#include "stopper.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct buf help = BUF_INIT;
	int rc;

	stopper_help(&help);
	struct lambda_function fn = {
		.name = "stopper",
		.summary = "stops the running dev boxes every evening",
		.help = buf_cstr(&help),
		.init = stopper_init,
		.handle = stopper_handle,
		.release = stopper_release,
	};
	rc = lambda_main(argc, argv, &fn);
	buf_release(&help);
	return rc;
}
