#include <string.h>

#include "core/netaddr.h"
#include "unit.h"

#define T(list, s) netaddr_trusted(list, s, strlen(s))

static void
test_trusted(void)
{
	CHECK(T("127.0.0.1 ::1", "127.0.0.1"));
	CHECK(T("127.0.0.1 ::1", "::1"));
	/* Substrings are not matches (the old strstr bug). */
	CHECK(!T("127.0.0.1", "27.0.0.1"));
	CHECK(!T("127.0.0.1", "127.0.0.10"));
	CHECK(T("10.0.0.0/8", "10.200.3.4"));
	CHECK(!T("10.0.0.0/8", "11.0.0.1"));
	CHECK(T("192.168.1.0/25", "192.168.1.127"));
	CHECK(!T("192.168.1.0/25", "192.168.1.128"));
	CHECK(T("fd00::/8", "fd12::1"));
	CHECK(!T("fd00::/8", "fe80::1"));
	CHECK(T("a, 10.0.0.1", "10.0.0.1"));         /* junk entries skipped */
	CHECK(!T("10.0.0.0/99", "10.0.0.1"));         /* bad prefix */
	CHECK(!T("10.0.0.0/8x", "10.0.0.1"));
	CHECK(!T("127.0.0.1", "not-an-ip"));
	CHECK(!T("", "127.0.0.1"));
	CHECK(T("::ffff:127.0.0.1", "127.0.0.1"));   /* mapped form */
	/* Found by tests/fuzz/fuzz_netaddr.c: an empty prefix was /0. */
	CHECK(!T("fd00::/", "2001:db8::1"));
	CHECK(!T("10.0.0.0/", "203.0.113.9"));
	CHECK(!T("10.0.0.0/+8", "10.0.0.1"));
	CHECK(!T("10.0.0.0/-0", "203.0.113.9"));
	/* IPv6 written with a dotted tail counts bits as IPv6. */
	CHECK(T("::ffff:10.0.0.0/104", "10.1.2.3"));
	CHECK(!T("::ffff:10.0.0.0/104", "11.1.2.3"));
	CHECK(T("::ffff:10.0.0.1/128", "10.0.0.1"));
}

static void
test_client(void)
{
	char out[NETADDR_MAX];
	const char *tp = "127.0.0.1 10.0.0.0/8";

	netaddr_client(tp, "203.0.113.9", "1.2.3.4", out);
	CHECK_STR(out, "203.0.113.9"); /* untrusted peer: header ignored */
	netaddr_client(tp, "127.0.0.1", "1.2.3.4", out);
	CHECK_STR(out, "1.2.3.4");
	netaddr_client(tp, "127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", out);
	CHECK_STR(out, "1.2.3.4"); /* rightmost untrusted, spoofed left ignored */
	netaddr_client(tp, "127.0.0.1", "10.0.0.2, 10.0.0.3", out);
	CHECK_STR(out, "10.0.0.2"); /* all trusted: the leftmost */
	netaddr_client(tp, "127.0.0.1", "1.2.3.4, garbage", out);
	CHECK_STR(out, "127.0.0.1"); /* a non-address ends the walk */
	netaddr_client(tp, "127.0.0.1", "  2001:db8::1 ", out);
	CHECK_STR(out, "2001:db8::1");
	netaddr_client(tp, "127.0.0.1", NULL, out);
	CHECK_STR(out, "127.0.0.1");
	netaddr_client(tp, NULL, "1.2.3.4", out);
	CHECK_STR(out, "unknown");
	netaddr_client(tp, "127.0.0.1", ",,,", out);
	CHECK_STR(out, "127.0.0.1");
}

/* IPv4-mapped addresses come out as IPv4, from the peer or the header. */
static void
test_client_unmaps_ipv4(void)
{
	char out[NETADDR_MAX];
	const char *tp = "127.0.0.1 10.0.0.0/8";

	netaddr_client(tp, "::ffff:198.51.100.7", NULL, out);
	CHECK_STR(out, "198.51.100.7");
	netaddr_client(tp, "::FFFF:c633:6407", NULL, out); /* hex spelling */
	CHECK_STR(out, "198.51.100.7");
	/* A mapped trusted peer still counts as trusted. */
	netaddr_client(tp, "::ffff:127.0.0.1", "203.0.113.9", out);
	CHECK_STR(out, "203.0.113.9");
	netaddr_client(tp, "127.0.0.1", "::ffff:203.0.113.9", out);
	CHECK_STR(out, "203.0.113.9");
	netaddr_client(tp, "127.0.0.1", "::ffff:203.0.113.9, ::ffff:10.0.0.2", out);
	CHECK_STR(out, "203.0.113.9");
	/* Real IPv6, and IPv4-compatible or NAT64 forms, stay IPv6. */
	netaddr_client(tp, "2001:db8::ffff:1.2.3.4", NULL, out);
	CHECK_STR(out, "2001:db8::ffff:1.2.3.4");
	netaddr_client(tp, "64:ff9b::198.51.100.7", NULL, out);
	CHECK_STR(out, "64:ff9b::198.51.100.7");
}

int
main(void)
{
	RUN(test_trusted);
	RUN(test_client);
	RUN(test_client_unmaps_ipv4);
	return unit_done();
}
