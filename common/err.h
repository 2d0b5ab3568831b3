/*
 * err.h - the error codes every fallible function returns.
 *
 * 0 is success; failures are negative. Details are logged once, where the
 * failure happens; callers only branch on the code.
 */
#ifndef ERR_H
#define ERR_H

enum err {
	ERR_OK = 0,
	ERR_CONFIG = -1,	/* a setting or an event field is invalid */
	ERR_HTTP = -2,		/* transport failure: connect, reset, TLS, ... */
	ERR_THROTTLED = -3,	/* throttled by the service, retries exhausted */
	ERR_AWS = -4,		/* the service answered with an error document */
	ERR_PARSE = -5,		/* a response could not be understood */
	ERR_TOO_LARGE = -6,	/* a body exceeded its size limit */
	ERR_TIMEOUT = -7,	/* the invocation's deadline would be passed */
	ERR_TLS = -8,		/* certificate verification failed */
	ERR_INTERNAL = -9,	/* a bug or an impossible state */
};

#define WARN_UNUSED __attribute__((warn_unused_result))

/* A short lower-case name for an error code ("throttled", "timeout", ...). */
const char *err_name(int err);

#endif
