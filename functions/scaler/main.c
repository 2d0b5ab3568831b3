/* scaler: wiring only. The logic is in scaler.c and scaler_plan.c. */
#include "buf.h"
#include "lambda.h"
#include "scaler.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct buf help = BUF_INIT;
	int rc;

	scaler_help(&help);
	struct lambda_function fn = {
		.name = "scaler",
		.summary = "sizes the Drone agents' Auto Scaling group from the build queue",
		.help = buf_cstr(&help),
		.init = scaler_init,
		.handle = scaler_handle,
		.release = scaler_release,
	};
	rc = lambda_main(argc, argv, &fn);
	buf_release(&help);
	return rc;
}
