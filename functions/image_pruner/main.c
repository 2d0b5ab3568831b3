/* image_pruner: wiring only. The logic is in image_pruner.c. */
#include "buf.h"
#include "image_pruner.h"
#include "lambda.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct buf help = BUF_INIT;
	int rc;

	image_pruner_help(&help);
	struct lambda_function fn = {
		.name = "image_pruner",
		.summary = "keeps the newest dev box images and deletes the rest with their snapshots",
		.help = buf_cstr(&help),
		.init = image_pruner_init,
		.handle = image_pruner_handle,
		.release = image_pruner_release,
	};
	rc = lambda_main(argc, argv, &fn);
	buf_release(&help);
	return rc;
}
