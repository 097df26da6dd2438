#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

static const char *log_ident = "parley";
static enum log_level log_min = LOG_LVL_INFO;
static int log_syslog;

static const char *const level_names[] = {
	[LOG_LVL_DEBUG] = "debug",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_ERROR] = "error",
};

static const int level_syslog[] = {
	[LOG_LVL_DEBUG] = LOG_DEBUG,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_ERROR] = LOG_ERR,
};

void
log_setup(const char *ident, enum log_level min, int use_syslog)
{
	log_ident = ident;
	log_min = min;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	int n, m;
	va_list ap;
	struct timespec ts;
	struct tm tm;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(level_syslog[lvl], "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
	    (int)getpid(), level_names[lvl]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) > sizeof(line) - 2)
		m = (int)sizeof(line) - 2 - n;
	line[n + m] = '\n';
	if (write(STDERR_FILENO, line, (size_t)(n + m + 1)) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}
