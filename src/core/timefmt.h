/*
 * timefmt.h - the one timestamp format of the API.
 *
 * ISO 8601 UTC with milliseconds: "2025-01-01T00:00:00.000Z" (24 chars).
 * Times inside Parley are int64 milliseconds since the Unix epoch.
 */
#ifndef PARLEY_TIMEFMT_H
#define PARLEY_TIMEFMT_H

#include <stdint.h>

#define TIMEFMT_LEN 25 /* including the NUL */

/* Milliseconds since the epoch, wall clock. */
int64_t timefmt_now_ms(void);
/* Monotonic microseconds, for durations. */
int64_t timefmt_mono_us(void);
/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf[TIMEFMT_LEN]. */
void timefmt_iso(int64_t ms, char buf[TIMEFMT_LEN]);
/*
 * Parses ISO 8601 ("2025-01-01T00:00:00Z", optional .fff fraction, 'Z' or
 * +HH:MM offset, or a bare date "2025-01-01") into ms. 0 or -1 if invalid.
 */
int timefmt_parse(const char *s, int64_t *ms);
/*
 * Converts MariaDB's DATETIME(3) text "YYYY-MM-DD HH:MM:SS[.fff]" (UTC) to
 * the API form; returns -1 if s is malformed.
 */
int timefmt_from_db(const char *s, char buf[TIMEFMT_LEN]);

#endif
