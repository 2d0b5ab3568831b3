#include "timeutil.h"

#include <string.h>
#include <time.h>

#include "banned.h"

int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

int time_parse_iso8601(const char *s, int64_t *epoch_s, bool *date_only)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	const char *p = s;

	if (strlen(s) < 10 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
	    p[7] != '-' || !digits(p + 8, 2, &d))
		return ERR_PARSE;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return ERR_PARSE;
	p += 10;
	if (date_only)
		*date_only = *p == '\0';
	if (*p) {
		if ((*p != 'T' && *p != 't' && *p != ' ') || !digits(p + 1, 2, &h) || p[3] != ':' ||
		    !digits(p + 4, 2, &mi))
			return ERR_PARSE;
		p += 6;
		if (*p == ':') {
			if (!digits(p + 1, 2, &sec))
				return ERR_PARSE;
			p += 3;
			if (*p == '.') {
				p++;
				if (*p < '0' || *p > '9')
					return ERR_PARSE;
				while (*p >= '0' && *p <= '9')
					p++;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return ERR_PARSE;
		if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
			off = 0;
		} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
			int oh, om;
			if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
				return ERR_PARSE;
			off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		} else {
			return ERR_PARSE;
		}
	}
	*epoch_s = time_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		   mi * 60 + sec - off;
	return 0;
}

void time_format_iso8601(int64_t epoch_s, struct buf *out)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_appendf(out, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int64_t time_tenths_of_hour(int64_t seconds)
{
	return seconds >= 0 ? (seconds + 180) / 360 : -((-seconds + 180) / 360);
}

double time_hours(int64_t seconds)
{
	return (double)time_tenths_of_hour(seconds) / 10.0;
}

void time_format_hours(int64_t seconds, struct buf *out)
{
	long long tenths = (long long)time_tenths_of_hour(seconds);
	long long whole = tenths / 10, tenth = tenths % 10;

	if (tenth < 0)
		tenth = -tenth;
	if (tenth)
		buf_appendf(out, "%s%lld.%lld h", tenths < 0 && !whole ? "-" : "", whole, tenth);
	else
		buf_appendf(out, "%lld h", whole);
}
