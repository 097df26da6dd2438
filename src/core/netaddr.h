/*
 * netaddr.h - client addresses behind trusted proxies.
 *
 * Used by the FastCGI transport and the bridge alike, so a client has the
 * same address for rate limits and logs on both. X-Forwarded-For counts
 * only when the peer is a trusted proxy; it is read from the right,
 * skipping further trusted proxies, so a client cannot choose its own
 * address by sending the header itself. An entry that is not an address
 * ends the walk and the peer's address is used.
 */
#ifndef PARLEY_NETADDR_H
#define PARLEY_NETADDR_H

#include <stddef.h>

#define NETADDR_MAX 64 /* enough for any textual IPv6 address + NUL */

/*
 * 1 if the address s[0..len) matches an entry of list, a space/comma
 * separated set of exact addresses and CIDR blocks ("10.0.0.0/8",
 * "fd00::/8"); IPv4 is compared in its ::ffff:0:0/96 mapped form.
 */
int netaddr_trusted(const char *list, const char *s, size_t len);

/* 1 if entry[0..n) is an entry netaddr_trusted() can use: addr or addr/bits. */
int netaddr_block_ok(const char *entry, size_t n);

/*
 * Writes the client address into out[NETADDR_MAX]: remote, or the
 * rightmost untrusted X-Forwarded-For entry when remote is trusted.
 * An IPv4-mapped IPv6 address ("::ffff:198.51.100.7", as a dual-stack
 * listener reports IPv4 peers) is written in its IPv4 form, so a client
 * has one address whichever way it came. xff may be NULL. remote NULL
 * gives "unknown".
 */
void netaddr_client(const char *trusted_list, const char *remote,
	const char *xff, char out[NETADDR_MAX]);

#endif
