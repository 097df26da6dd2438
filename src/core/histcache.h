/*
 * histcache.h - rendered history pages in memcached.
 *
 * Reading 50 messages costs a MariaDB query with joins and the rendering
 * of 50 objects; clients re-read the same page all the time (every
 * reconnect, every device). So a rendered page is kept in memcached under
 * a key naming the conversation, the reader and the exact query, tagged
 * with the conversation's version: a counter "cv:<conversation id>" that
 * every change visible in history bumps after its commit (a message sent,
 * edited, deleted, reacted to, marked delivered/seen, and every change of
 * membership). A page is served only while its tag equals the current
 * version, so:
 *
 *   - a page is never older than the last committed change (give or take
 *     the instant between a commit and its bump);
 *   - a page is only ever stored for a reader who passed the membership
 *     check at that version, and leaving or being removed bumps the
 *     version, so a former member's pages die with it.
 *
 * A version key that is missing (evicted, memcached restarted) is created
 * with a random 62-bit value, so old pages cannot match a new counter. If
 * a bump fails the version key is deleted; if memcached is unreachable no
 * page is served at all. Pages also expire HISTCACHE_TTL seconds after
 * they were rendered, which bounds how long a changed display name or
 * avatar of a sender stays in cached pages. Everything here is best
 * effort: any failure is a miss, never an error.
 *
 * Each process also keeps copies of the last HISTCACHE_LOCAL_PAGES pages
 * it read or stored, under the same two rules (tag equal to the current
 * version, younger than HISTCACHE_TTL), so that a hit costs memcached the
 * version key only.
 */
#ifndef PARLEY_HISTCACHE_H
#define PARLEY_HISTCACHE_H

#include <stddef.h>
#include <stdint.h>

struct svc_ctx;

#define HISTCACHE_TTL 60
#define HISTCACHE_MAX_BODY (512 * 1024)
#define HISTCACHE_KEY_LEN 128
#define HISTCACHE_NKEYS 2
#define HISTCACHE_LOCAL_PAGES 64             /* copies kept per process */
#define HISTCACHE_LOCAL_MAX_BODY (128 * 1024) /* larger pages: memcached only */

/* A page as stored: the pagination numbers and the response body. */
struct histcache_page {
	long total, pages, page, limit;
	const char *body; /* arena */
	size_t len;
};

/*
 * Bumps conversation cid's version (after a commit that changed what its
 * history shows). Never fails from the caller's view.
 */
void histcache_bump(const struct svc_ctx *ctx, const char *cid);

/*
 * The memcached keys histcache_get will read for these arguments, so that
 * a caller can prefetch them (cache.h's memo) in an earlier round trip:
 * returns how many of keys[] to fetch, 1 (the version key only: this
 * process holds a copy of the page) or 2.
 */
size_t histcache_keys(const char *cid, const char *uid, const char *sig,
	char keys[HISTCACHE_NKEYS][HISTCACHE_KEY_LEN]);

/*
 * Looks up the page of reader uid for query signature sig (any printable
 * text naming the request: route kind and normalised parameters) in
 * conversation cid. 1 hit (*page filled), 0 miss. *version receives the
 * version to tag a page stored after this miss (0: do not store).
 */
int histcache_get(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, struct histcache_page *page, uint64_t *version);

/* Stores a page rendered after a miss that returned version (0: ignored). */
void histcache_put(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, uint64_t version, const struct histcache_page *page);

#endif
