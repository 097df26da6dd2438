/*
 * log.h - leveled logging to stderr or syslog.
 *
 * One line per call, written with a single write so lines from concurrent
 * threads and processes do not interleave. Secrets (passwords, tokens,
 * hashes, keys) must never be passed here.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

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

#endif
