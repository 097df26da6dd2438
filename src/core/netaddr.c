#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "banned.h"

/* Parses an IPv4 or IPv6 address (no port) into the 16-byte mapped form. */
static int
parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char buf[NETADDR_MAX];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 0;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	return inet_pton(AF_INET, buf, out + 12) == 1 ? 0 : -1;
}

/*
 * Parses the block entry[0..n) ("addr" or "addr/bits") into net and *bits
 * (of the 128-bit mapped form): 0, or -1 if it is not a block.
 */
static int
parse_block(const char *entry, size_t n, unsigned char net[16], long *bits)
{
	const char *slash = memchr(entry, '/', n);
	size_t alen = slash ? (size_t)(slash - entry) : n;
	char *end;

	*bits = 128;
	if (parse_ip(entry, alen, net) == -1)
		return -1;
	if (!slash)
		return 0;
	/*
	 * Digits only: strtol() alone reads "10.0.0.0/" as /0 and would
	 * trust every address, and takes "+8" or " 8".
	 */
	if (!isdigit((unsigned char)slash[1]))
		return -1;
	*bits = strtol(slash + 1, &end, 10);
	if (end != entry + n || *bits < 0 || *bits > 128)
		return -1;
	/* IPv4 blocks only: "::ffff:10.0.0.0/104" is IPv6 with dots. */
	if (!memchr(entry, ':', alen))
		*bits += 96;
	return *bits > 128 ? -1 : 0;
}

int
netaddr_block_ok(const char *entry, size_t n)
{
	unsigned char net[16];
	long bits;

	return parse_block(entry, n, net, &bits) == 0;
}

/* 1 if ip lies in the block entry[0..n). */
static int
in_block(const unsigned char ip[16], const char *entry, size_t n)
{
	unsigned char net[16];
	long bits, full, rest;

	if (parse_block(entry, n, net, &bits) == -1)
		return 0;
	full = bits / 8;
	rest = bits % 8;
	return memcmp(ip, net, (size_t)full) == 0 && (rest == 0 ||
	    ((ip[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0);
}

int
netaddr_trusted(const char *list, const char *s, size_t len)
{
	unsigned char ip[16];
	const char *p = list;

	if (parse_ip(s, len, ip) == -1)
		return 0;
	while (p && *p) {
		size_t n;

		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (!n)
			break;
		if (in_block(ip, p, n))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Copies the address s[0..len) (cut to fit) into out, an IPv4-mapped one
 * ("::ffff:198.51.100.7", from a dual-stack listener or a proxy that
 * writes them) in its IPv4 form: one client, one spelling, in rate-limit
 * buckets, sessions and logs.
 */
static void
client_copy(const char *s, size_t len, char out[NETADDR_MAX])
{
	struct in6_addr a6;

	if (len >= NETADDR_MAX)
		len = NETADDR_MAX - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	if (inet_pton(AF_INET6, out, &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6))
		inet_ntop(AF_INET, &a6.s6_addr[12], out, NETADDR_MAX);
}

void
netaddr_client(const char *trusted_list, const char *remote, const char *xff,
	char out[NETADDR_MAX])
{
	const char *end, *start;
	unsigned char tmp[16];

	if (!remote)
		remote = "unknown";
	client_copy(remote, strlen(remote), out);
	if (!xff || !*xff ||
	    !netaddr_trusted(trusted_list, remote, strlen(remote)))
		return;
	end = xff + strlen(xff); /* one past the entry being read */
	for (;;) {
		const char *s;
		size_t len;

		start = end;
		while (start > xff && start[-1] != ',')
			start--;
		s = start;
		len = (size_t)(end - start);
		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (parse_ip(s, len, tmp) == -1)
			return;
		if (!netaddr_trusted(trusted_list, s, len) || start == xff) {
			client_copy(s, len, out);
			return;
		}
		end = start - 1; /* the comma before this entry */
	}
}
