/* build_monitor: wiring only. The logic is in build_monitor.c. */
#include "buf.h"
#include "build_monitor.h"
#include "lambda.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct buf help = BUF_INIT;
	int rc;

	build_monitor_help(&help);
	struct lambda_function fn = {
		.name = "build_monitor",
		.summary = "tells the admins on Slack when the nightly dev-box image is stale",
		.help = buf_cstr(&help),
		.init = build_monitor_init,
		.handle = build_monitor_handle,
		.release = build_monitor_release,
	};
	rc = lambda_main(argc, argv, &fn);
	buf_release(&help);
	return rc;
}
