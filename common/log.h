/*
 * log.h - log lines in the format Lambda expects.
 *
 * AWS_LAMBDA_LOG_FORMAT=JSON gives one JSON object a line:
 *   {"timestamp":"2026-11-27T18:00:00.123Z","level":"INFO",
 *    "message":"stopped 3 instances","requestId":"...", <fields>}
 * anything else gives text:
 *   2026-11-27T18:00:00.123Z <requestId> INFO stopped 3 instances key=value
 * AWS_LAMBDA_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR, FATAL; default INFO)
 * drops lines below it. Lines go to stderr (Lambda collects both streams;
 * stdout stays free for local mode's response).
 *
 * A message, and each field value, longer than LOG_TEXT_MAX bytes is cut
 * (on a character boundary) and ends with LOG_TRUNCATED_MARK, so one line
 * always fits a CloudWatch log event (256 KB).
 *
 * Never log credentials, Authorization headers, tokens, webhook URLs or event
 * payloads: callers pass only what is safe.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define LOG_TEXT_MAX 32768
#define LOG_TRUNCATED_MARK " [... %zu bytes cut]"

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

struct log_field {
	const char *key;
	const char *value;	/* rendered as a JSON string */
};

/* Reads AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL. */
void log_init_from_env(void);
void log_set_json(bool json);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Request id added to every line until changed; NULL clears it. */
void log_set_request_id(const char *request_id);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_with(enum log_level level, const struct log_field *fields, size_t n,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Parses a level name (case-insensitive); -1 if unknown. */
int log_level_parse(const char *name);

#endif
