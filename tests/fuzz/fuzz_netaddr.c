/*
 * fuzz_netaddr.c - trusted proxies and X-Forwarded-For (src/core/netaddr.c).
 *
 * Input: "TRUSTED_LIST\nREMOTE\nXFF". netaddr_trusted() on REMOTE must agree
 * with a reference reading of the list (exact addresses and ADDR/BITS, BITS
 * in decimal digits, IPv4 blocks in the mapped range), and netaddr_client() yields either REMOTE itself
 * or one comma-separated entry of XFF (trimmed) that is an IP address, an
 * IPv4-mapped one in its IPv4 form, always NUL-terminated inside
 * NETADDR_MAX bytes. An address always matches
 * a list made of itself and the /0 block of its family.
 */
#include <arpa/inet.h>
#include <string.h>

#include "core/netaddr.h"
#include "fuzz_util.h"

static int
is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* 1 if out is s[0..len), or its IPv4 form when s is IPv4-mapped. */
static int
same_client(const char *out, const char *s, size_t len)
{
	unsigned char b[16];
	char buf[NETADDR_MAX], v4[16];

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(out, buf) == 0)
		return 1;
	if (inet_pton(AF_INET6, buf, b) != 1 || memcmp(b,
	    "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0)
		return 0;
	snprintf(v4, sizeof(v4), "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
	return strcmp(out, v4) == 0;
}

/* 1 if out comes from one whole comma-separated entry of xff (trimmed). */
static int
from_xff(const char *out, const char *xff)
{
	for (;;) {
		size_t n = strcspn(xff, ","), skip = strspn(xff, " \t");
		size_t len = n > skip ? n - skip : 0;

		while (len && strchr(" \t", xff[skip + len - 1]))
			len--;
		if (same_client(out, xff + skip, len))
			return 1;
		if (!xff[n])
			return 0;
		xff += n + 1;
	}
}

/* s[0..len) as 16 bytes (IPv4 mapped); the family, or 0 if no address. */
static int
ref_ip(const char *s, size_t len, unsigned char out[16])
{
	char buf[NETADDR_MAX];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 6;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	return inet_pton(AF_INET, buf, out + 12) == 1 ? 4 : 0;
}

/* The documented rule: ADDR or ADDR/BITS, BITS decimal digits in range. */
static int
ref_trusted(const char *list, const char *s, size_t len)
{
	unsigned char ip[16], net[16];

	if (!ref_ip(s, len, ip))
		return 0;
	while (*list) {
		size_t n = strcspn(list, " ,\t"), alen, bits;
		const char *slash;
		int fam;

		if (n == 0) {
			list++;
			continue;
		}
		slash = memchr(list, '/', n);
		alen = slash ? (size_t)(slash - list) : n;
		fam = ref_ip(list, alen, net);
		bits = 128;
		if (fam && slash) {
			size_t digits = n - alen - 1;

			bits = 0;
			for (size_t i = 0; i < digits && bits <= 128; i++)
				bits = slash[1 + i] >= '0' && slash[1 + i] <= '9' ?
				    bits * 10 + (size_t)(slash[1 + i] - '0') : 999;
			if (digits == 0 || bits > (fam == 4 ? 32u : 128u))
				fam = 0;
			else if (fam == 4)
				bits += 96;
		}
		if (fam) {
			size_t i;

			for (i = 0; i < bits; i++)
				if ((ip[i / 8] ^ net[i / 8]) & (0x80 >> (i % 8)))
					break;
			if (i == bits)
				return 1;
		}
		list += n;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p[3], out[NETADDR_MAX + 8];
	char list[NETADDR_MAX + 16];
	size_t rlen;

	fuzz_split(data, size, p, 3);
	rlen = strlen(p[1]);
	FUZZ_CHECK(netaddr_trusted(p[0], p[1], rlen) ==
	    ref_trusted(p[0], p[1], rlen));

	if (rlen > 0 && rlen < NETADDR_MAX && is_ip(p[1]) &&
	    !strpbrk(p[1], " ,\t")) {
		FUZZ_CHECK(netaddr_trusted(p[1], p[1], rlen) == 1);
		snprintf(list, sizeof(list), "%s", strchr(p[1], ':') ? "::/0" :
		    "0.0.0.0/0");
		FUZZ_CHECK(netaddr_trusted(list, p[1], rlen) == 1);
	}

	memset(out, 'X', sizeof(out));
	netaddr_client(p[0], p[1], p[2], out);
	FUZZ_CHECK(memchr(out, '\0', NETADDR_MAX) != NULL);
	if (strncmp(out, p[1], NETADDR_MAX - 1) != 0 &&
	    !same_client(out, p[1], rlen)) {
		/* Came from X-Forwarded-For: one whole entry, an address. */
		FUZZ_CHECK(*out && is_ip(out));
		FUZZ_CHECK(from_xff(out, p[2]));
	}
	free(p[0]);
	free(p[1]);
	free(p[2]);
	return 0;
}
