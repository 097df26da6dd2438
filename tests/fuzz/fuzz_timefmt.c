/*
 * fuzz_timefmt.c - ISO 8601 and DATETIME parsing (src/core/timefmt.c).
 *
 * timefmt_parse() and timefmt_from_db() on the input. A time that parses
 * and lies in years 0000-9999 must print as 24 characters that parse back
 * to the same millisecond (and the DB form must convert to the same text).
 */
#include <string.h>

#include "core/timefmt.h"
#include "fuzz_util.h"

#define MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char iso[TIMEFMT_LEN], db[TIMEFMT_LEN];
	int64_t ms, again;

	if (timefmt_parse(s, &ms) == 0 && ms >= MIN_MS && ms <= MAX_MS) {
		timefmt_iso(ms, iso);
		FUZZ_CHECK(strlen(iso) == 24);
		FUZZ_CHECK(timefmt_parse(iso, &again) == 0 && again == ms);
		/* The DB spelling of the same instant. */
		memcpy(db, iso, 23);
		db[10] = ' ';
		db[23] = '\0';
		FUZZ_CHECK(timefmt_from_db(db, iso) == 0);
		FUZZ_CHECK(timefmt_parse(iso, &again) == 0 && again == ms);
	}
	if (timefmt_from_db(s, iso) == 0)
		FUZZ_CHECK(strlen(iso) == 24);
	free(s);
	return 0;
}
