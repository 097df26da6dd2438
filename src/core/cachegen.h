/*
 * cachegen.h - write generations of memcached keys, shared by every
 * process on this host, so that a worker may keep what it read from
 * memcached for a moment and still see every write at once.
 *
 * A small file mapped MAP_SHARED holds CACHEGEN_SLOTS counters. A key
 * belongs to one slot (a hash of the key). cache.c bumps the key's slot
 * after each write to the key (set, add, delete, incr, decr) has been
 * sent, and a reader notes the slots of the keys it is about to read
 * before it reads them; a value read then stays exact for as long as its
 * slot has not moved. Counters only grow, so a noted value cannot come
 * back (no ABA). Two keys sharing a slot only cost a spurious re-read.
 *
 * Exact only when every process that writes these keys maps the same
 * file, which is why cache.c uses it only when every memcached server is
 * a unix socket (one host), and even then keeps what it read no longer
 * than [memcached] local_memo_ms: changes nobody announces (an expiry in
 * memcached, a writer that could not map the file) show that late at most.
 */
#ifndef PARLEY_CACHEGEN_H
#define PARLEY_CACHEGEN_H

#include <stddef.h>
#include <stdint.h>

#define CACHEGEN_SLOTS 4096

/*
 * Maps path (created mode 0660 if missing; initialised under flock when
 * new). Once per process; later calls return the first call's result.
 * 0, or -1 (logged; then cachegen_enabled() is 0).
 */
int cachegen_open(const char *path);
int cachegen_enabled(void);

/* The slot of a key (full key, with its prefix). */
uint32_t cachegen_slot(const char *key, size_t len);
/* The slot's current generation (acquire). 0 when not enabled. */
uint64_t cachegen_read(uint32_t slot);
/* Announces a write to a key of the slot (release). */
void cachegen_bump(uint32_t slot);

#endif
