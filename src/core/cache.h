/*
 * cache.h - memcached access (rate limits, presence, session revocations).
 *
 * The only module that includes libmemcached. One struct cache per thread.
 * Timeouts are tens of milliseconds (config [memcached] timeout_ms), never
 * libmemcached's multi-second defaults, so a dead memcached costs a request
 * at most that long, and a failed server is retried after one second.
 * memcached is never the source of truth: every caller has a fallback for
 * -1 (an error), which is distinct from a miss. [memcached] servers lists
 * unix socket paths ("/path" or "unix:/path"; the cheapest transport on
 * one host) and host:port entries, in any mix.
 *
 * Keys are given without the configured prefix; they must be printable
 * ASCII without spaces, at most 200 bytes.
 */
#ifndef PARLEY_CACHE_H
#define PARLEY_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct config;
struct cache;

struct cache *cache_new(const struct config *cfg);
void cache_free(struct cache *c);

/*
 * Asks every server of [memcached] servers for a key, each on a
 * connection of its own (a key through the pool reaches only the server
 * it hashes to), and calls fn(arg, server, ok) for each, in list order;
 * server is the entry as written (host[:port] or a socket path: no
 * credentials exist to leak), borrowed for the call.
 * The connections are c's, made on first use and kept, so a probe polled
 * by load balancers costs one round trip per server. A server that does
 * not answer on its kept connection is asked once more on a new one (the
 * old one may have died with a restart of the server), so a server down
 * costs two tries of [memcached] timeout_ms at most. An empty list is one
 * failure. Returns how many did not answer.
 */
typedef void cache_ping_fn(void *arg, const char *server, int ok);
int cache_ping(struct cache *c, cache_ping_fn *fn, void *arg);

/* 1 hit (value copied, NUL-terminated, truncated to cap-1), 0 miss, -1 error. */
int cache_get(struct cache *c, const char *key, char *buf, size_t cap, size_t *len);
/* 0 stored, -1 error. ttl in seconds (0 = none). */
int cache_set(struct cache *c, const char *key, const char *val, size_t len, long ttl);
/* 0 stored, 1 key already present, -1 error. */
int cache_add(struct cache *c, const char *key, const char *val, size_t len, long ttl);
/* 0 deleted or absent, -1 error. */
int cache_delete(struct cache *c, const char *key);
/*
 * Adds delta to a counter, creating it at `delta` with ttl if absent.
 * *out receives the new value. 0 or -1.
 */
int cache_incr(struct cache *c, const char *key, uint64_t delta, long ttl, uint64_t *out);
/*
 * Like cache_incr, but a missing key is created holding `initial` (any
 * 64-bit value) instead of delta; *out is then `initial`. 0 or -1.
 */
int cache_incr_init(struct cache *c, const char *key, uint64_t delta,
	uint64_t initial, long ttl, uint64_t *out);
/*
 * Fetches n keys in one round trip. vals[i] receives the value (copied
 * into arena memory, NUL-terminated) or NULL for a miss. 0, or -1 on error
 * (then every vals[i] is NULL).
 */
int cache_get_multi(struct cache *c, struct arena *a, const char *const *keys,
	size_t n, char **vals, size_t *lens);
/*
 * A per-request memo, so the hot path pays one round trip: between
 * cache_memo_begin() and cache_memo_end() (the HTTP pipeline brackets each
 * request), cache_prefetch() fetches up to CACHE_MEMO_MAX keys in one
 * round trip and remembers what it found, hits and misses alike. Then
 * cache_get / cache_get_multi answer remembered keys from memory, and
 * cache_incr_init on a remembered key increments it on the server (waiting
 * for the reply: a write still on its way when the client's next request
 * reads the key would show a stale count) and remembers the answer.
 * cache_set / cache_add / cache_delete forget the key. Outside a memo
 * cache_prefetch does nothing, so code shared with other programs behaves
 * as before.
 *
 * The local memo: when every server is a unix socket and [memcached]
 * local_memo_ms > 0, the process also keeps each prefetch's answer (per
 * set of keys, shared by its threads) and answers the same set of keys
 * from it, without a round trip, for up to local_memo_ms, as long as no
 * process of the host has written any of those keys since it was read
 * (cachegen.h: every write through this module announces itself). So a
 * revoked session or a changed profile is seen on the very next request,
 * as without it; only changes nobody announces (memcached's own expiry,
 * a writer that could not map [memcached] local_memo_file) may show up
 * to local_memo_ms late.
 */
#define CACHE_MEMO_MAX 8
void cache_memo_begin(struct cache *c);
void cache_memo_end(struct cache *c);
/* 0, or -1 on error (then nothing is remembered). */
int cache_prefetch(struct cache *c, const char *const *keys, size_t n);
/*
 * What the memo holds for key: 1 a number (in *v), 0 a remembered miss,
 * -1 not remembered (or not a number). Never a round trip.
 */
int cache_memo_number(struct cache *c, const char *key, uint64_t *v);
/* Subtracts (floors at 0). 0 ok, 1 absent, -1 error. */
int cache_decr(struct cache *c, const char *key, uint64_t delta, uint64_t *out);
/* Sets a new ttl on an existing key. 0 ok, 1 absent, -1 error. */
int cache_touch(struct cache *c, const char *key, long ttl);

#endif
