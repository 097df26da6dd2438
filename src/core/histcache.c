#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cache.h"
#include "histcache.h"
#include "ids.h"
#include "svc.h"
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

int
histcache_get(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, struct histcache_page *page, uint64_t *version)
{
	char vkey[HISTCACHE_KEY_LEN], pkey[HISTCACHE_KEY_LEN], buf[24];
	const char *keys[2] = { vkey, pkey };
	char *vals[2];
	size_t lens[2];
	const char *nl;
	uint64_t v;
	long hdr[5];
	int n;

	*version = 0;
	if (!ctx->cache)
		return 0;
	version_key(vkey, cid);
	page_key(pkey, cid, uid, sig);
	if (cache_get_multi(ctx->cache, ctx->arena, keys, 2, vals, lens) == -1)
		return 0;
	if (!vals[0]) {
		v = random_version();
		n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		if (cache_add(ctx->cache, vkey, buf, (size_t)n, 0) == 0)
			*version = v;
		return 0;
	}
	v = number(vals[0], lens[0]);
	*version = v;
	if (!v || !vals[1] || !(nl = memchr(vals[1], '\n', lens[1])))
		return 0;
	/* "<version> <total> <pages> <page> <limit>\n<body>" */
	if (sscanf(vals[1], "%20s %ld %ld %ld %ld", buf, &hdr[0], &hdr[1],
	    &hdr[2], &hdr[3]) != 5 || number(buf, strlen(buf)) != v)
		return 0;
	page->total = hdr[0];
	page->pages = hdr[1];
	page->page = hdr[2];
	page->limit = hdr[3];
	page->body = nl + 1;
	page->len = lens[1] - (size_t)(nl + 1 - vals[1]);
	return 1;
}

void
histcache_put(const struct svc_ctx *ctx, const char *cid, const char *uid,
	const char *sig, uint64_t version, const struct histcache_page *page)
{
	char key[HISTCACHE_KEY_LEN], head[128];
	char *val;
	int n;

	if (!version || !ctx->cache || !page->body ||
	    page->len > HISTCACHE_MAX_BODY)
		return;
	page_key(key, cid, uid, sig);
	n = snprintf(head, sizeof(head), "%" PRIu64 " %ld %ld %ld %ld\n",
	    version, page->total, page->pages, page->page, page->limit);
	val = arena_alloc(ctx->arena, (size_t)n + page->len);
	memcpy(val, head, (size_t)n);
	memcpy(val + n, page->body, page->len);
	cache_set(ctx->cache, key, val, (size_t)n + page->len, HISTCACHE_TTL);
}
