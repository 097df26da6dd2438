#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cache.h"
#include "histcache.h"
#include "ids.h"
#include "svc.h"
#include "timefmt.h"
#include "xalloc.h"
#include "banned.h"

static void
version_key(char out[HISTCACHE_KEY_LEN], const char *cid)
{
	snprintf(out, HISTCACHE_KEY_LEN, "cv:%s", cid);
}

/* FNV-1a, 64 bits: the query signature only has to tell queries apart. */
static uint64_t
fnv64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void
page_key(char out[HISTCACHE_KEY_LEN], const char *cid, const char *uid,
	const char *sig)
{
	snprintf(out, HISTCACHE_KEY_LEN, "hp:%s:%s:%016" PRIx64, cid, uid,
	    fnv64(sig));
}

static uint64_t
random_version(void)
{
	uint64_t v;

	ids_random(&v, sizeof(v));
	v &= (1ULL << 62) - 1;
	return v ? v : 1;
}

/* A decimal number filling s[0..len), else 0. */
static uint64_t
number(const char *s, size_t len)
{
	uint64_t v = 0;

	if (!s || len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/*
 * This process's copies of the pages it recently read or stored, so that
 * a hit fetches only the version key from memcached, not the body. A copy
 * keeps its tag and its birth (when it was rendered) and is served under
 * memcached's rule: tag equal to the current version, younger than
 * HISTCACHE_TTL. Shared by the worker threads under one lock; the least
 * recently used copy makes room.
 */
struct local_page {
	uint64_t hash; /* of key; 0: free slot */
	char key[HISTCACHE_KEY_LEN];
	uint64_t version, used;
	int64_t born; /* seconds since the epoch */
	struct histcache_page page; /* body malloc'd */
};

static pthread_mutex_t local_mu = PTHREAD_MUTEX_INITIALIZER;
static struct local_page local[HISTCACHE_LOCAL_PAGES];
static uint64_t local_clock;

static int64_t
now_s(void)
{
	return timefmt_now_ms() / 1000;
}

/* The slot holding a live copy of key, else NULL. Under local_mu. */
static struct local_page *
local_find(const char *key, uint64_t hash)
{
	for (size_t i = 0; i < HISTCACHE_LOCAL_PAGES; i++)
		if (local[i].hash == hash && strcmp(local[i].key, key) == 0) {
			if (local[i].born + HISTCACHE_TTL > now_s())
				return &local[i];
			free((char *)local[i].page.body);
			memset(&local[i], 0, sizeof(local[i]));
			return NULL;
		}
	return NULL;
}

static int
local_has(const char *key)
{
	int found;

	pthread_mutex_lock(&local_mu);
	found = local_find(key, fnv64(key)) != NULL;
	pthread_mutex_unlock(&local_mu);
	return found;
}

/* Copies key's page tagged version into *page (arena). 1 found, else 0. */
static int
local_get(const char *key, uint64_t version, struct arena *a,
	struct histcache_page *page)
{
	struct local_page *l;
	char *body = NULL;

	pthread_mutex_lock(&local_mu);
	l = local_find(key, fnv64(key));
	if (l && l->version == version) {
		l->used = ++local_clock;
		*page = l->page;
		body = arena_alloc(a, page->len);
		memcpy(body, l->page.body, page->len);
		page->body = body;
	}
	pthread_mutex_unlock(&local_mu);
	return body != NULL;
}

static void
local_put(const char *key, uint64_t version, int64_t born,
	const struct histcache_page *page)
{
	uint64_t hash = fnv64(key);
	struct local_page *l;
	char *body;

	if (page->len > HISTCACHE_LOCAL_MAX_BODY || !hash)
		return;
	body = xmalloc(page->len);
	memcpy(body, page->body, page->len);
	pthread_mutex_lock(&local_mu);
	if (!(l = local_find(key, hash))) {
		l = &local[0];
		for (size_t i = 1; i < HISTCACHE_LOCAL_PAGES && l->hash; i++)
			if (!local[i].hash || local[i].used < l->used)
				l = &local[i];
	}
	free((char *)l->page.body);
	l->hash = hash;
	snprintf(l->key, sizeof(l->key), "%s", key);
	l->version = version;
	l->born = born;
	l->used = ++local_clock;
	l->page = *page;
	l->page.body = body;
	pthread_mutex_unlock(&local_mu);
}

void
histcache_bump(const struct svc_ctx *ctx, const char *cid)
{
	char key[HISTCACHE_KEY_LEN];
	uint64_t out;

	if (!ctx->cache || !cid)
		return;
	version_key(key, cid);
	if (cache_incr_init(ctx->cache, key, 1, random_version(), 0, &out) == -1)
		cache_delete(ctx->cache, key);
}

size_t
histcache_keys(const char *cid, const char *uid, const char *sig,
	char keys[HISTCACHE_NKEYS][HISTCACHE_KEY_LEN])
{
	version_key(keys[0], cid);
	page_key(keys[1], cid, uid, sig);
	return local_has(keys[1]) ? 1 : 2;
}

/*
 * Parses a stored page, "<version> <total> <pages> <page> <limit> <born>\n
 * <body>", tagged version into *page (body pointing into v). 1, or 0 if
 * it is malformed, of another version or expired.
 */
static int
parse_page(const char *v, size_t len, uint64_t version,
	struct histcache_page *page, int64_t *born)
{
	const char *nl = v ? memchr(v, '\n', len) : NULL;
	char buf[24];
	long hdr[4];
	long long b;

	if (!nl || sscanf(v, "%20s %ld %ld %ld %ld %lld", buf, &hdr[0],
	    &hdr[1], &hdr[2], &hdr[3], &b) != 6 ||
	    number(buf, strlen(buf)) != version || b + HISTCACHE_TTL <= now_s())
		return 0;
	page->total = hdr[0];
	page->pages = hdr[1];
	page->page = hdr[2];
	page->limit = hdr[3];
	page->body = nl + 1;
	page->len = len - (size_t)(nl + 1 - v);
	*born = (int64_t)b;
	return 1;
}

int
histcache_get(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, struct histcache_page *page, uint64_t *version)
{
	char k[HISTCACHE_NKEYS][HISTCACHE_KEY_LEN], buf[24];
	const char *keys[HISTCACHE_NKEYS] = { k[0], k[1] };
	char *vals[HISTCACHE_NKEYS] = { NULL, NULL };
	size_t lens[HISTCACHE_NKEYS] = { 0, 0 }, nk;
	int64_t born;
	uint64_t v;
	int n;

	*version = 0;
	if (!ctx->cache)
		return 0;
	nk = histcache_keys(cid, uid, sig, k);
	if (cache_get_multi(ctx->cache, ctx->arena, keys, nk, vals, lens) == -1)
		return 0;
	if (!vals[0]) {
		v = random_version();
		n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		if (cache_add(ctx->cache, k[0], buf, (size_t)n, 0) == 0)
			*version = v;
		return 0;
	}
	v = number(vals[0], lens[0]);
	*version = v;
	if (!v)
		return 0;
	if (local_get(k[1], v, ctx->arena, page))
		return 1;
	/* The copy here was stale or is gone: memcached's may be newer. */
	if (nk == 1 && cache_get_multi(ctx->cache, ctx->arena, &keys[1], 1,
	    &vals[1], &lens[1]) == -1)
		return 0;
	if (!parse_page(vals[1], lens[1], v, page, &born))
		return 0;
	local_put(k[1], v, born, page);
	return 1;
}

void
histcache_put(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, uint64_t version, const struct histcache_page *page)
{
	char key[HISTCACHE_KEY_LEN], head[160];
	int64_t born = now_s();
	char *val;
	int n;

	if (!version || !ctx->cache || !page->body ||
	    page->len > HISTCACHE_MAX_BODY)
		return;
	page_key(key, cid, uid, sig);
	n = snprintf(head, sizeof(head), "%" PRIu64 " %ld %ld %ld %ld %lld\n",
	    version, page->total, page->pages, page->page, page->limit,
	    (long long)born);
	val = arena_alloc(ctx->arena, (size_t)n + page->len);
	memcpy(val, head, (size_t)n);
	memcpy(val + n, page->body, page->len);
	cache_set(ctx->cache, key, val, (size_t)n + page->len, HISTCACHE_TTL);
	local_put(key, version, born, page);
}
