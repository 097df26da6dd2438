#include <string.h>

#include "core/session.h"
#include "unit.h"

#define KEY(s, k) session_login_key(s, k)

static void
test_login_key(void)
{
	char a[SESSION_LOGIN_KEY_LEN], b[SESSION_LOGIN_KEY_LEN];

	CHECK(KEY("alice", a) == 0);
	CHECK_STR(a, "?2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90");
	/* Every spelling the collation takes for "alice" has its key ... */
	CHECK(KEY("ALICE", b) == 0 && strcmp(a, b) == 0);
	CHECK(KEY("Alice  ", b) == -1 && strcmp(a, b) == 0);
	/* ... and what registration never allows is refused. */
	CHECK(KEY("alice ", b) == -1);
	CHECK(KEY("al ice", b) == -1);
	CHECK(KEY("alice\t", b) == -1);
	CHECK(KEY("\talice", b) == -1);
	CHECK(KEY("alic\xc3\xa9", b) == -1);  /* alicé */
	CHECK(KEY("ali\x7f" "ce", b) == -1);
	CHECK(KEY("", b) == -1);
	CHECK(KEY("   ", b) == -1);
	CHECK(KEY("Alice@Example.COM", a) == 0);
	CHECK(KEY("alice@example.com", b) == 0 && strcmp(a, b) == 0);
	CHECK(KEY("bob", b) == 0 && strcmp(a, b) != 0);
	CHECK(strlen(b) == SESSION_LOGIN_KEY_LEN - 1 && b[0] == '?');
}

int
main(void)
{
	RUN(test_login_key);
	return unit_done();
}
