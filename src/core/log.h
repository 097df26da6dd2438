/*
 * log.h - leveled logging to stderr or syslog.
 *
 * One line per call, written with a single write so lines from concurrent
 * threads and processes do not interleave. Secrets (passwords, tokens,
 * hashes, keys) must never be passed here.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdint.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* ident is the program name; use_syslog sends lines to syslog(3). */
void log_setup(const char *ident, enum log_level min, int use_syslog);
/* Parses "debug", "info", "warn", "error"; -1 if unknown. */
int log_level_parse(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/*
 * The access log: one info line per request,
 *   "<time> <ident>[<pid>] info: METHOD PATH STATUS 1.234ms[ CODE]"
 * (code may be NULL). Lines are buffered per thread and written in blocks
 * of whole lines, one write each, so they never interleave: when the
 * buffer is nearly full, when its oldest line is ACCESS_LOG_DELAY_MS old
 * (checked at the next line and by log_access_flush_stale, which a thread
 * that does not serve requests calls about once a second), and at
 * log_access_thread_end (every serving thread calls it before exiting).
 * A process killed outright loses at most that much of its access log.
 * With syslog the line goes out at once.
 */
#define ACCESS_LOG_DELAY_MS 1000
void log_access(const char *method, const char *path, int status,
	int64_t dur_us, const char *code);
void log_access_flush_stale(void);
void log_access_thread_end(void);

#endif
