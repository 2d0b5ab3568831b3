#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "buf.h"
#include "cJSON.h"
#include "banned.h"

static bool log_json;
static enum log_level log_min = LOG_INFO;
static char log_request_id[128];

static const char *const level_names[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL" };

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcasecmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void log_init_from_env(void)
{
	const char *fmt = getenv("AWS_LAMBDA_LOG_FORMAT");
	const char *lvl = getenv("AWS_LAMBDA_LOG_LEVEL");

	log_json = fmt && !strcasecmp(fmt, "JSON");
	if (lvl && *lvl) {
		int l = log_level_parse(lvl);
		if (l >= 0)
			log_min = (enum log_level)l;
	}
}

void log_set_json(bool json)
{
	log_json = json;
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_set_request_id(const char *request_id)
{
	size_t n = request_id ? strlen(request_id) : 0;
	if (n >= sizeof(log_request_id))
		n = sizeof(log_request_id) - 1;
	memcpy(log_request_id, request_id ? request_id : "", n);
	log_request_id[n] = '\0';
}

static void format_timestamp(struct buf *out)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	buf_appendf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (long)(tv.tv_usec / 1000));
}

static void append_one_line(struct buf *line, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf_appendc(line, s[i] == '\n' ? ' ' : s[i]);
}

/*
 * Cuts a message or a field value longer than LOG_TEXT_MAX bytes, on a UTF-8
 * character boundary, and says how much was left out. A CloudWatch log
 * event holds at most 256 KB: even JSON-escaped at its worst (6 bytes a
 * byte), a capped message stays within it.
 */
static void cap_text(struct buf *b)
{
	size_t cut = LOG_TEXT_MAX, dropped;

	if (b->len <= LOG_TEXT_MAX)
		return;
	while (cut > 0 && ((unsigned char)b->ptr[cut] & 0xC0) == 0x80)
		cut--;
	dropped = b->len - cut;
	b->len = cut;
	b->ptr[cut] = '\0';
	buf_appendf(b, LOG_TRUNCATED_MARK, dropped);
}

static void log_emit(enum log_level level, const struct log_field *fields, size_t n,
		     const char *fmt, va_list ap)
{
	struct buf line = BUF_INIT, msg = BUF_INIT, value = BUF_INIT;

	if (!log_enabled(level))
		return;
	buf_vappendf(&msg, fmt, ap);
	cap_text(&msg);
	if (log_json) {
		cJSON *obj = cJSON_CreateObject();
		struct buf ts = BUF_INIT;
		char *text;

		format_timestamp(&ts);
		cJSON_AddStringToObject(obj, "timestamp", buf_cstr(&ts));
		cJSON_AddStringToObject(obj, "level", level_names[level]);
		cJSON_AddStringToObject(obj, "message", buf_cstr(&msg));
		if (log_request_id[0])
			cJSON_AddStringToObject(obj, "requestId", log_request_id);
		for (size_t i = 0; i < n; i++) {
			buf_reset(&value);
			buf_appends(&value, fields[i].value ? fields[i].value : "");
			cap_text(&value);
			cJSON_AddStringToObject(obj, fields[i].key, buf_cstr(&value));
		}
		text = cJSON_PrintUnformatted(obj);
		if (text)
			buf_appends(&line, text);
		cJSON_free(text);
		cJSON_Delete(obj);
		buf_release(&ts);
	} else {
		format_timestamp(&line);
		if (log_request_id[0])
			buf_appendf(&line, " %s", log_request_id);
		buf_appendf(&line, " %s ", level_names[level]);
		/* keep one event a line: newlines in messages and values become spaces */
		append_one_line(&line, msg.ptr, msg.len);
		for (size_t i = 0; i < n; i++) {
			buf_appendf(&line, " %s=", fields[i].key);
			buf_reset(&value);
			buf_appends(&value, fields[i].value ? fields[i].value : "");
			cap_text(&value);
			append_one_line(&line, value.ptr, value.len);
		}
	}
	buf_appendc(&line, '\n');
	fwrite(line.ptr, 1, line.len, stderr);
	fflush(stderr);
	buf_release(&line);
	buf_release(&msg);
	buf_release(&value);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_with(enum log_level level, const struct log_field *fields, size_t n,
	      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(level, fields, n, fmt, ap);
	va_end(ap);
}
