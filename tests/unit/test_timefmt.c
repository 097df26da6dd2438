#include <string.h>

#include "core/timefmt.h"
#include "unit.h"

static void
test_format(void)
{
	char buf[TIMEFMT_LEN];

	timefmt_iso(0, buf);
	CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
	timefmt_iso(1735689600123LL, buf);
	CHECK_STR(buf, "2025-01-01T00:00:00.123Z");
	CHECK(timefmt_now_ms() > 1735689600000LL);
}

static void
test_parse(void)
{
	int64_t ms;

	CHECK(timefmt_parse("2025-01-01T00:00:00.123Z", &ms) == 0 && ms == 1735689600123LL);
	CHECK(timefmt_parse("2025-01-01T00:00:00Z", &ms) == 0 && ms == 1735689600000LL);
	CHECK(timefmt_parse("2025-01-01T02:00:00+02:00", &ms) == 0 && ms == 1735689600000LL);
	CHECK(timefmt_parse("2025-01-01", &ms) == 0 && ms == 1735689600000LL);
	CHECK(timefmt_parse("2025-01-01T00:00:00.1234567Z", &ms) == 0 && ms == 1735689600123LL);
	CHECK(timefmt_parse("2025-02-30T00:00:00Z", &ms) == -1);
	CHECK(timefmt_parse("2025-13-01", &ms) == -1);
	CHECK(timefmt_parse("2025-01-01T25:00:00Z", &ms) == -1);
	CHECK(timefmt_parse("yesterday", &ms) == -1);
	CHECK(timefmt_parse("2025-01-01T00:00:00Zjunk", &ms) == -1);
	CHECK(timefmt_parse("", &ms) == -1);
}

static void
test_from_db(void)
{
	char buf[TIMEFMT_LEN];

	CHECK(timefmt_from_db("2025-01-01 00:00:00.123", buf) == 0);
	CHECK_STR(buf, "2025-01-01T00:00:00.123Z");
	CHECK(timefmt_from_db("2025-01-01 00:00:00", buf) == 0);
	CHECK_STR(buf, "2025-01-01T00:00:00.000Z");
	CHECK(timefmt_from_db("garbage", buf) == -1);
}

int
main(void)
{
	RUN(test_format);
	RUN(test_parse);
	RUN(test_from_db);
	return unit_done();
}
