/*
 * ratelimit.h - request limits per class, per user and per client IP.
 *
 * A limit is N hits per period for one bucket (a class plus a key such as
 * a user id or an address). Windows are fixed but start at a bucket's
 * first hit, so "the 6th attempt within a minute" is always refused and
 * the reset time is exact. Counters live in memcached as one number,
 * start * 10^7 + hits, so a hit is one incr round trip. The "api" counter
 * is prefetched with the session (auth.c): its increment is then sent
 * without waiting, and while more than 512 requests of headroom remain it
 * is sampled (k added with probability 1/k, k <= 64), so a busy user's
 * requests do not each cost memcached a write; near the limit every
 * request counts exactly, and X-RateLimit-Remaining is then exact too.
 *
 * Classes (the route table's limit_class; limits in [ratelimit]):
 *   "api"       api_per_minute per user (per IP when anonymous); the
 *               default for authenticated routes whose class is NULL.
 *   "auth"      login: auth_per_minute per IP + account and
 *               auth_ip_per_minute per IP; the account is the login name's
 *               session_login_key(), alike for all its spellings.
 *   "register"  register_per_15min per IP.
 *   "refresh"   refresh_per_minute per IP.
 * Public routes with a NULL class are not limited. A new class is one line
 * in the table in ratelimit.c plus its config key.
 *
 * When memcached fails, "api" fails open (MC_RATELIMIT_FAIL_OPEN) and the
 * others fall back to the rate_counters table in MariaDB
 * (MC_RATELIMIT_DB_FALLBACK); if that fails too they refuse (503). IPv6
 * clients are bucketed by their /64 (IPv4-mapped ones by their IPv4
 * address).
 */
#ifndef PARLEY_RATELIMIT_H
#define PARLEY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct request;
struct response;
struct svc_ctx;

struct ratelimit_result {
	long limit;
	long remaining;
	int64_t reset; /* epoch seconds when the window ends */
	int known;     /* 0 when the limit failed open (no headers then) */
};

/*
 * Counts one hit on bucket key (printable, no spaces, <= 150 bytes) of
 * class cls. ST_OK, ST_RATE_LIMITED (e->retry_after set), ST_UNAVAILABLE
 * (no store could count a fail-closed class), ST_INTERNAL (unknown class).
 */
enum status ratelimit_hit(const struct svc_ctx *ctx, const char *cls,
	const char *key, struct ratelimit_result *out, struct svc_error *e);

/*
 * The pipeline step (src/app.c, after authentication and body parsing):
 * applies the route's class, sets X-RateLimit-Limit / -Remaining / -Reset,
 * and on refusal writes the 429 (Retry-After, retryAfter) and returns -1.
 */
int ratelimit_request_or_reply(struct request *req, struct response *res);

/*
 * The memcached key that counts user_id's "api" requests, for prefetching
 * it with the session (auth.c).
 */
void ratelimit_user_key(char *out, size_t cap, const char *user_id);

/*
 * Writes the bucket form of an address: IPv4 as is, an IPv4-mapped IPv6
 * address as its IPv4 address, other IPv6 as its /64.
 */
void ratelimit_ip_bucket(const char *ip, char *out, size_t cap);

#endif
