/*
 * fuzz_netaddr.c - trusted proxies and X-Forwarded-For (src/core/netaddr.c).
 *
 * Input: "TRUSTED_LIST\nREMOTE\nXFF". netaddr_trusted() on REMOTE must agree
 * with a reference reading of the list (exact addresses and ADDR/BITS, BITS
 * in decimal digits, IPv4 blocks in the mapped range), and netaddr_client() yields either REMOTE itself
 * or one comma-separated entry of XFF (trimmed) that is an IP address,
 * always NUL-terminated inside NETADDR_MAX bytes. An address always matches
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
	if (strncmp(out, p[1], NETADDR_MAX - 1) != 0) {
		/* Came from X-Forwarded-For: one whole entry, an address. */
		size_t n = strlen(out);
		int whole = 0;

		FUZZ_CHECK(*out && is_ip(out));
		for (const char *at = strstr(p[2], out); at && !whole;
		    at = strstr(at + 1, out))
			whole = (at == p[2] || strchr(" \t,", at[-1])) &&
			    strchr(" \t,", at[n]);
		FUZZ_CHECK(whole);
	}
	free(p[0]);
	free(p[1]);
	free(p[2]);
	return 0;
}
