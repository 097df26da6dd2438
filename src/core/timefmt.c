#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"
#include "banned.h"

int64_t
timefmt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
timefmt_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
timefmt_iso(int64_t ms, char buf[TIMEFMT_LEN])
{
	time_t secs = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	char tmp[64];

	gmtime_r(&secs, &tm);
	/* tmp is sized for any int; valid times fill exactly 24 chars. */
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	memcpy(buf, tmp, TIMEFMT_LEN - 1);
	buf[TIMEFMT_LEN - 1] = '\0';
}

/* Reads exactly n digits. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dim[m - 1];
}

static int
parse_parts(const char *s, char sep, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	struct tm tm = { 0 };

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (*p == sep || (sep == 'T' && *p == 't')) {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.') {
				int n = 0, scale = 100;

				p++;
				while (isdigit((unsigned char)*p)) {
					if (n++ < 3) {
						frac += (*p - '0') * scale;
						scale /= 10;
					}
					p++;
				}
				if (n == 0)
					return -1;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (sep == 'T') {
			if (*p == 'Z' || *p == 'z') {
				p++;
			} else if (*p == '+' || *p == '-') {
				int sign = *p++ == '-' ? -1 : 1, oh, om;

				if (digits(&p, 2, &oh))
					return -1;
				if (*p == ':')
					p++;
				if (digits(&p, 2, &om) || oh > 23 || om > 59)
					return -1;
				off = sign * (oh * 60 + om);
			}
		}
	}
	if (*p != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
	return 0;
}

int
timefmt_parse(const char *s, int64_t *ms)
{
	return parse_parts(s, 'T', ms);
}

int
timefmt_from_db(const char *s, char buf[TIMEFMT_LEN])
{
	int64_t ms;

	if (parse_parts(s, ' ', &ms) == -1)
		return -1;
	timefmt_iso(ms, buf);
	return 0;
}
