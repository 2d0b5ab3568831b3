#include "err.h"

#include "banned.h"

const char *err_name(int err)
{
	switch (err) {
	case ERR_OK:
		return "ok";
	case ERR_CONFIG:
		return "invalid configuration";
	case ERR_HTTP:
		return "network error";
	case ERR_THROTTLED:
		return "throttled";
	case ERR_AWS:
		return "AWS error";
	case ERR_PARSE:
		return "unreadable response";
	case ERR_TOO_LARGE:
		return "too large";
	case ERR_TIMEOUT:
		return "timeout";
	case ERR_TLS:
		return "TLS verification failed";
	default:
		return "internal error";
	}
}
