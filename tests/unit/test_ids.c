#include <string.h>

#include "core/b64url.h"
#include "core/ids.h"
#include "unit.h"

static void
test_uuid7(void)
{
	char a[IDS_UUID_LEN], b[IDS_UUID_LEN];

	ids_uuid7(a);
	ids_uuid7(b);
	CHECK(strlen(a) == 36);
	CHECK(ids_is_uuid(a));
	CHECK(a[14] == '7');
	CHECK(strchr("89ab", a[19]) != NULL);
	CHECK(strcmp(a, b) != 0);
	/* Time-ordered: the 48-bit millisecond prefix never goes backwards. */
	CHECK(strncmp(a, b, 13) <= 0);
	CHECK(!ids_is_uuid("not-a-uuid"));
	CHECK(!ids_is_uuid("0189d7c0-0000-7000-8000-00000000000"));
	CHECK(!ids_is_uuid("0189d7c0-0000-7000-8000-0000000000000"));
	CHECK(!ids_is_uuid("0189d7c0x0000-7000-8000-000000000000"));
	CHECK(ids_is_uuid("0189D7C0-0000-7000-8000-000000000000"));
}

static void
test_b64url(void)
{
	char out[64];
	unsigned char back[64];
	long n;

	b64url_encode("hello", 5, out);
	CHECK_STR(out, "aGVsbG8");
	n = b64url_decode("aGVsbG8", 7, back);
	CHECK(n == 5 && memcmp(back, "hello", 5) == 0);
	b64url_encode("\xfb\xff", 2, out);
	CHECK_STR(out, "-_8");
	CHECK(b64url_decode("aGVsbG8=", 8, back) == -1);  /* padding */
	CHECK(b64url_decode("aGV+bG8", 7, back) == -1);   /* std alphabet */
	CHECK(b64url_decode("a", 1, back) == -1);         /* impossible length */
	CHECK(b64url_decode("aGVsbG9", 7, back) == -1);   /* non-canonical bits */
	CHECK(b64url_decode("", 0, back) == 0);
}

static void
test_token(void)
{
	char t[B64URL_ENCLEN(32)];

	ids_token(t, 32);
	CHECK(strlen(t) == 43);
}

int
main(void)
{
	RUN(test_uuid7);
	RUN(test_b64url);
	RUN(test_token);
	return unit_done();
}
