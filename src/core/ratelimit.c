#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reply.h"
#include "request.h"
#include "session.h"
#include "svc.h"
#include "banned.h"

/* A memcached counter holds start * SCALE + hits. */
#define SCALE 10000000ULL

struct rl_class {
	const char *name;
	size_t limit_off; /* offset of the limit (long) in struct config */
	long period;      /* seconds */
	int fail_open;    /* 1: allow when memcached is down; 0: use MariaDB */
};

static const struct rl_class classes[] = {
	{ "api", offsetof(struct config, rl_api_per_min), 60, 1 },
	{ "auth", offsetof(struct config, rl_auth_per_min), 60, 0 },
	{ "auth_ip", offsetof(struct config, rl_auth_ip_per_min), 60, 0 },
	{ "register", offsetof(struct config, rl_register_per_15min), 900, 0 },
	{ "refresh", offsetof(struct config, rl_refresh_per_min), 60, 0 },
};

#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static const struct rl_class *
class_find(const char *name)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (strcmp(classes[i].name, name) == 0)
			return &classes[i];
	return NULL;
}

static long
class_limit(const struct rl_class *k, const struct config *cfg)
{
	return *(const long *)((const char *)cfg + k->limit_off);
}

/* A per-thread xorshift64* generator for sampling. */
static uint64_t
sample_random(void)
{
	static __thread uint64_t s;

	if (!s) {
		ids_random(&s, sizeof(s));
		s |= 1;
	}
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545F4914F6CDD1DULL;
}

/*
 * Sampled counting, for fail-open classes whose counter the request
 * already holds in the cache memo (auth prefetches the "api" counter):
 * while far from the limit, a request adds k with probability 1/k instead
 * of adding 1, so a busy user costs memcached one increment per k
 * requests. The count stays unbiased (expected value exact, spread about
 * sqrt(k * hits)); k shrinks with the headroom, to 1 (exact counting) for
 * the last SAMPLE_EXACT requests of a window, and never exceeds
 * SAMPLE_MAX. 0 with *hits (estimated, including this hit) and *start;
 * 1 to count the usual way.
 */
#define SAMPLE_EXACT 256
#define SAMPLE_MAX 64

static int
count_sampled(const struct svc_ctx *ctx, const char *key, long limit,
	long period, int64_t now, uint64_t *hits, int64_t *start)
{
	uint64_t v, k, headroom;

	if (cache_memo_number(ctx->cache, key, &v) != 1)
		return 1;
	*start = (int64_t)(v / SCALE);
	*hits = v % SCALE + 1;
	if (*start > now || *start + period <= now || *hits >= (uint64_t)limit)
		return 1;
	headroom = (uint64_t)limit - *hits;
	k = headroom / SAMPLE_EXACT;
	if (k <= 1)
		return 1;
	if (k > SAMPLE_MAX)
		k = SAMPLE_MAX;
	if (sample_random() % k == 0 &&
	    cache_incr_init(ctx->cache, key, k, v + k, period, &v) == -1)
		return 1;
	return 0;
}

/* Counts a hit in memcached. 0 with *hits and *start, or -1. */
static int
count_cache(const struct svc_ctx *ctx, const char *key, long period,
	int64_t now, uint64_t *hits, int64_t *start)
{
	uint64_t v;

	if (cache_incr_init(ctx->cache, key, 1, (uint64_t)now * SCALE + 1,
	    period, &v) == -1)
		return -1;
	*start = (int64_t)(v / SCALE);
	*hits = v % SCALE;
	if (*start > now || *start + period <= now) {
		/*
		 * memcached expires items on a one-second clock, so a window
		 * can outlive its period by a moment: begin the next one.
		 */
		char num[32];
		int n = snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)((uint64_t)now * SCALE + 1));

		if (cache_set(ctx->cache, key, num, (size_t)n, period) == -1)
			return -1;
		*start = now;
		*hits = 1;
	}
	return 0;
}

static const char sql_rl_upsert[] =
	"INSERT INTO rate_counters (bucket, window_start, hits) VALUES (?, ?, 1)"
	" ON DUPLICATE KEY UPDATE hits = IF(window_start <= ?, 1, hits + 1),"
	" window_start = IF(window_start <= ?, ?, window_start)";
static const char sql_rl_read[] =
	"SELECT hits, window_start FROM rate_counters WHERE bucket = ?";
static const char sql_rl_prune[] =
	"DELETE FROM rate_counters WHERE window_start < ? LIMIT 1000";

/* Counts a hit in MariaDB (memcached is down). 0 or -1. */
static int
count_db(const struct svc_ctx *ctx, const char *key, long period, int64_t now,
	uint64_t *hits, int64_t *start)
{
	struct db_rows rows;
	unsigned char dice;

	if (db_exec(ctx->db, NULL, sql_rl_upsert, "siiii", key, (int64_t)now,
	    (int64_t)(now - period), (int64_t)(now - period), (int64_t)now) == -1 ||
	    db_query(ctx->db, ctx->arena, &rows, sql_rl_read, "s", key) == -1 ||
	    rows.nrows != 1)
		return -1;
	*hits = (uint64_t)db_get_int(&rows, 0, "hits");
	*start = db_get_int(&rows, 0, "window_start");
	ids_random(&dice, 1);
	if (dice == 0)
		db_exec(ctx->db, NULL, sql_rl_prune, "i", (int64_t)(now - 86400));
	return 0;
}

enum status
ratelimit_hit(const struct svc_ctx *ctx, const char *cls, const char *key,
	struct ratelimit_result *out, struct svc_error *e)
{
	const struct rl_class *k = class_find(cls);
	int64_t now = (int64_t)time(NULL), start;
	uint64_t hits;
	char full[200];
	long limit;
	int sampled;

	memset(out, 0, sizeof(*out));
	if (!k) {
		log_error("ratelimit: unknown class '%s'", cls);
		return svc_fail(e, ST_INTERNAL, NULL, NULL);
	}
	limit = class_limit(k, ctx->cfg);
	if (snprintf(full, sizeof(full), "rl:%s:%s", k->name, key) >=
	    (int)sizeof(full))
		return svc_fail(e, ST_INTERNAL, NULL, NULL);
	sampled = k->fail_open && count_sampled(ctx, full, limit, k->period, now,
	    &hits, &start) == 0;
	if (!sampled && count_cache(ctx, full, k->period, now, &hits, &start) == -1) {
		if (k->fail_open) {
			metrics_count(MC_RATELIMIT_FAIL_OPEN, 1);
			return ST_OK;
		}
		metrics_count(MC_RATELIMIT_DB_FALLBACK, 1);
		if (count_db(ctx, full, k->period, now, &hits, &start) == -1)
			return svc_fail(e, ST_UNAVAILABLE, NULL,
			    "Rate limiting is unavailable; retry shortly");
	}
	out->known = 1;
	out->limit = limit;
	out->remaining = hits >= (uint64_t)limit ? 0 : limit - (long)hits;
	out->reset = start + k->period;
	if (hits <= (uint64_t)limit)
		return ST_OK;
	metrics_count(MC_RATELIMIT_LIMITED, 1);
	if (e) {
		e->code = NULL;
		e->message = "Too many requests, please try again later.";
		e->retry_after = out->reset - now > 0 ? (int)(out->reset - now) : 1;
	}
	return ST_RATE_LIMITED;
}

void
ratelimit_user_key(char *out, size_t cap, const char *user_id)
{
	snprintf(out, cap, "rl:api:u:%s", user_id);
}

void
ratelimit_ip_bucket(const char *ip, char *out, size_t cap)
{
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];

	if (ip && strchr(ip, ':') && inet_pton(AF_INET6, ip, &a6) == 1) {
		/*
		 * A mapped IPv4 address is one IPv4 client, not a /64 that all
		 * of them share (netaddr_client() unmaps; other callers may not).
		 */
		if (IN6_IS_ADDR_V4MAPPED(&a6) &&
		    inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof(buf))) {
			snprintf(out, cap, "%s", buf);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf))) {
			snprintf(out, cap, "%s/64", buf);
			return;
		}
	}
	/* fcgi_server.c only hands over addresses it could parse. */
	snprintf(out, cap, "%s", ip && *ip && strlen(ip) < 64 &&
	    !strchr(ip, ' ') ? ip : "unknown");
}

static void
set_headers(struct response *res, const struct ratelimit_result *r)
{
	char buf[32];

	if (!r->known)
		return;
	snprintf(buf, sizeof(buf), "%ld", r->limit);
	reply_header(res, "X-RateLimit-Limit", buf);
	snprintf(buf, sizeof(buf), "%ld", r->remaining);
	reply_header(res, "X-RateLimit-Remaining", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)r->reset);
	reply_header(res, "X-RateLimit-Reset", buf);
}

int
ratelimit_request_or_reply(struct request *req, struct response *res)
{
	const char *cls = req->route->limit_class;
	struct ratelimit_result r;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	char ip[80], key[160], acct[SESSION_LOGIN_KEY_LEN];
	enum status st;

	if (!cls) {
		if (!(req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN)))
			return 0;
		cls = "api";
	}
	request_svc(req, &ctx);
	ratelimit_ip_bucket(req->client_ip, ip, sizeof(ip));
	if (strcmp(cls, "auth") == 0) {
		const char *name = session_login_name(req->json);

		st = ratelimit_hit(&ctx, "auth_ip", ip, &r, &e);
		if (st == ST_OK) {
			/* Every spelling of a name shares one bucket. */
			session_login_key(name ? name : "", acct);
			snprintf(key, sizeof(key), "%s|%.24s", ip, acct + 1);
			st = ratelimit_hit(&ctx, "auth", key, &r, &e);
		}
	} else if (strcmp(cls, "api") == 0 || !class_find(cls)) {
		/* The same key as ratelimit_user_key(), which auth prefetches. */
		if (req->me.authenticated)
			snprintf(key, sizeof(key), "u:%s", req->me.user_id);
		else
			snprintf(key, sizeof(key), "ip:%s", ip);
		st = ratelimit_hit(&ctx, "api", key, &r, &e);
	} else {
		st = ratelimit_hit(&ctx, cls, ip, &r, &e);
	}
	set_headers(res, &r);
	if (st == ST_OK)
		return 0;
	reply_status(res, st, &e);
	return -1;
}
