#include <string.h>

#include "core/ratelimit.h"
#include "unit.h"

static void
test_ip_bucket(void)
{
	static const struct {
		const char *ip, *bucket;
	} cases[] = {
		{ "198.51.100.7", "198.51.100.7" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ "2001:db8:1:2::beef", "2001:db8:1:2::/64" },
		/* IPv4-mapped: each IPv4 client its own bucket, not one ::/64. */
		{ "::ffff:198.51.100.7", "198.51.100.7" },
		{ "::ffff:198.51.100.8", "198.51.100.8" },
		{ "::ffff:c633:6407", "198.51.100.7" },
		{ NULL, "unknown" },
		{ "a b", "unknown" },
	};
	char out[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ratelimit_ip_bucket(cases[i].ip, out, sizeof(out));
		CHECK_STR(out, cases[i].bucket);
	}
}

int
main(void)
{
	RUN(test_ip_bucket);
	return unit_done();
}
