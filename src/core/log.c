#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"
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

/*
 * One thread's access-log buffer. The owner appends under mu; the flusher
 * (log_access_flush_stale) takes mu too, so a block is written once.
 */
#define ACCESS_BUF_SIZE 16384
#define ACCESS_LINE_MAX 1024
#define ACCESS_PATH_MAX 512

struct access_buf {
	pthread_mutex_t mu;
	struct access_buf *next;
	int64_t first_ms;          /* realtime of the oldest buffered line */
	time_t stamp_sec;          /* second stamp[] was formatted for */
	char stamp[24];            /* "YYYY-MM-DDTHH:MM:SS." */
	char ident[64];            /* " ident[pid] info: " */
	size_t ident_len;
	size_t len;
	char buf[ACCESS_BUF_SIZE];
};

static pthread_mutex_t access_list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct access_buf *access_list;
static __thread struct access_buf *access_mine;

/* Writes out the buffer; mu held. */
static void
access_write(struct access_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(STDERR_FILENO, b->buf + off, b->len - off);

		if (n <= 0)
			break; /* nowhere left to report a failing stderr */
		off += (size_t)n;
	}
	b->len = 0;
}

static struct access_buf *
access_buf_get(void)
{
	struct access_buf *b = access_mine;
	int n;

	if (b)
		return b;
	b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	n = snprintf(b->ident, sizeof(b->ident), "Z %s[%d] %s: ", log_ident,
	    (int)getpid(), level_names[LOG_LVL_INFO]);
	b->ident_len = n > 0 && (size_t)n < sizeof(b->ident) ? (size_t)n : 0;
	b->stamp_sec = -1;
	pthread_mutex_lock(&access_list_mu);
	b->next = access_list;
	access_list = b;
	pthread_mutex_unlock(&access_list_mu);
	access_mine = b;
	return b;
}

/* Appends the decimal digits of v, at least `width` of them. */
static char *
put_uint(char *p, unsigned long long v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *
put_str(char *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	memcpy(p, s, n);
	return p + n;
}

static void
access_stamp(struct access_buf *b, time_t sec)
{
	struct tm tm;
	char *p = b->stamp;

	gmtime_r(&sec, &tm);
	p = put_uint(p, (unsigned)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p = put_uint(p, (unsigned)(tm.tm_mon + 1), 2);
	*p++ = '-';
	p = put_uint(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_uint(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_uint(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_uint(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	*p = '\0';
	b->stamp_sec = sec;
}

/* Formats one access-log line into line (ACCESS_LINE_MAX); its length. */
static size_t
access_line(struct access_buf *b, const struct timespec *ts, char *line,
	const char *method, const char *path, int status, int64_t dur_us,
	const char *code)
{
	char *p = line;

	if (b->stamp_sec != ts->tv_sec)
		access_stamp(b, ts->tv_sec);
	p = put_str(p, b->stamp, sizeof(b->stamp));
	p = put_uint(p, (unsigned long long)(ts->tv_nsec / 1000000), 3);
	memcpy(p, b->ident, b->ident_len);
	p += b->ident_len;
	p = put_str(p, method, 16);
	*p++ = ' ';
	p = put_str(p, path, ACCESS_PATH_MAX);
	*p++ = ' ';
	p = put_uint(p, (unsigned)(status < 0 ? 0 : status), 1);
	*p++ = ' ';
	p = put_uint(p, (unsigned long long)(dur_us / 1000), 1);
	*p++ = '.';
	p = put_uint(p, (unsigned long long)(dur_us % 1000), 3);
	*p++ = 'm';
	*p++ = 's';
	if (code) {
		*p++ = ' ';
		p = put_str(p, code, 64);
	}
	*p++ = '\n';
	return (size_t)(p - line);
}

void
log_access(const char *method, const char *path, int status, int64_t dur_us,
	const char *code)
{
	struct access_buf *b;
	struct timespec ts;
	char line[ACCESS_LINE_MAX];
	int64_t now_ms;
	size_t n;

	if (LOG_LVL_INFO < log_min)
		return;
	if (log_syslog) {
		log_info("%s %s %d %lld.%03lldms%s%s", method, path, status,
		    (long long)(dur_us / 1000), (long long)(dur_us % 1000),
		    code ? " " : "", code ? code : "");
		return;
	}
	if (dur_us < 0)
		dur_us = 0;
	b = access_buf_get();
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_lock(&b->mu);
	n = access_line(b, &ts, line, method, path, status, dur_us, code);
	if (b->len + n > sizeof(b->buf))
		access_write(b);
	if (b->len == 0)
		b->first_ms = now_ms;
	memcpy(b->buf + b->len, line, n);
	b->len += n;
	if (b->len > sizeof(b->buf) - ACCESS_LINE_MAX ||
	    now_ms - b->first_ms >= ACCESS_LOG_DELAY_MS)
		access_write(b);
	pthread_mutex_unlock(&b->mu);
}

void
log_access_flush_stale(void)
{
	struct timespec ts;
	int64_t now_ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_lock(&access_list_mu);
	for (struct access_buf *b = access_list; b; b = b->next) {
		pthread_mutex_lock(&b->mu);
		if (b->len && now_ms - b->first_ms >= ACCESS_LOG_DELAY_MS)
			access_write(b);
		pthread_mutex_unlock(&b->mu);
	}
	pthread_mutex_unlock(&access_list_mu);
}

void
log_access_thread_end(void)
{
	struct access_buf *b = access_mine, **pp;

	if (!b)
		return;
	pthread_mutex_lock(&access_list_mu);
	for (pp = &access_list; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	pthread_mutex_unlock(&access_list_mu);
	access_write(b);
	pthread_mutex_destroy(&b->mu);
	free(b);
	access_mine = NULL;
}
