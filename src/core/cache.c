#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>

#include "arena.h"
#include "cache.h"
#include "cachegen.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"
#include "banned.h"

#define MEMO_INLINE 448

struct memo_entry {
	char key[256];     /* with the prefix */
	size_t klen;
	char *val;         /* inline or malloc'd; NULL for a remembered miss */
	size_t vlen;
	char inline_val[MEMO_INLINE];
};

struct cache {
	memcached_st *mc;
	memcached_result_st result; /* reused by every multi-get */
	char prefix[64];
	size_t prefix_len;
	int memo_on;
	int nmemo;
	struct memo_entry memo[CACHE_MEMO_MAX];
	long local_ms;     /* how long a prefetch's answer is kept; 0 = never */
	/* cache_ping(): a connection per server, made on first use */
	char *servers;     /* [memcached] servers */
	long timeout_ms;
	int nping;
	memcached_st **ping;
};

/*
 * The local memo (cache.h): the answers of recent prefetches, shared by
 * the threads of this process, each set of keys in one of HELD_SETS
 * places chosen by a hash of its keys (a newer set evicts an older one).
 */
#define HELD_SETS 256

struct held_set {
	pthread_mutex_t lock;
	int n;                          /* keys; 0: empty */
	int64_t at_ms;                  /* when memcached answered */
	uint64_t gen[CACHE_MEMO_MAX];   /* their cachegen slots before the read */
	struct memo_entry e[CACHE_MEMO_MAX];
};

static struct held_set *held;
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

#define SERVER_NAME_MAX 256

/*
 * The next server of a space or comma separated list at *p into item;
 * 0 at the end of the list. Over-long names are skipped (logged).
 */
static int
next_server(const char **p, char item[SERVER_NAME_MAX])
{
	while (**p) {
		size_t n = strcspn(*p, ", \t");

		if (n == 0 || n >= SERVER_NAME_MAX) {
			if (n)
				log_warn("cache: server name too long: %.*s",
				    (int)n, *p);
			*p += n ? n : 1;
			continue;
		}
		memcpy(item, *p, n);
		item[n] = '\0';
		*p += n;
		return 1;
	}
	return 0;
}

/*
 * Adds each server of a space or comma separated list: a unix socket path
 * ("/path" or "unix:/path") or host[:port[:weight]] (libmemcached's syntax).
 * 1 if they are all unix sockets (and there is one).
 */
static int
add_servers(memcached_st *mc, const char *list)
{
	char item[SERVER_NAME_MAX];
	const char *p = list;
	int sockets = 0, others = 0;

	while (next_server(&p, item)) {
		memcached_server_st *servers;
		memcached_return_t rc = MEMCACHED_SUCCESS;

		if (strncmp(item, "unix:", 5) == 0 || item[0] == '/') {
			rc = memcached_server_add_unix_socket(mc,
			    item + (item[0] == '/' ? 0 : 5));
			sockets++;
		} else if ((servers = memcached_servers_parse(item))) {
			rc = memcached_server_push(mc, servers);
			memcached_server_list_free(servers);
			others++;
		} else {
			others++;
		}
		if (rc != MEMCACHED_SUCCESS)
			log_warn("cache: server %s: %s", item,
			    memcached_strerror(mc, rc));
	}
	return sockets > 0 && others == 0;
}

static void
held_init(void)
{
	held = xcalloc(HELD_SETS, sizeof(*held));
	for (int i = 0; i < HELD_SETS; i++)
		pthread_mutex_init(&held[i].lock, NULL);
}

/*
 * [memcached] timeout_ms for every phase, never libmemcached's seconds;
 * a failed server is tried again after a second and never given up.
 */
static void
set_behaviour(memcached_st *mc, long ms)
{
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, (uint64_t)ms);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)ms);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, (uint64_t)ms * 1000);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, (uint64_t)ms * 1000);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1000000);
}

struct cache *
cache_new(const struct config *cfg)
{
	struct cache *c = xcalloc(1, sizeof(*c));
	memcached_return_t rc;
	long ms = cfg->mc_timeout_ms;

	snprintf(c->prefix, sizeof(c->prefix), "%s", cfg->mc_prefix);
	c->prefix_len = strlen(c->prefix);
	c->servers = xstrdup(cfg->mc_servers);
	c->timeout_ms = ms;
	c->mc = memcached_create(NULL);
	if (!c->mc || !memcached_result_create(c->mc, &c->result))
		abort();
	/*
	 * The local memo is exact only if every writer of the keys maps
	 * the same counters: one host, which sockets-only guarantees.
	 */
	if (add_servers(c->mc, cfg->mc_servers) &&
	    cachegen_open(cfg->mc_local_memo_file) == 0 &&
	    cfg->mc_local_memo_ms > 0) {
		c->local_ms = cfg->mc_local_memo_ms;
		pthread_once(&held_once, held_init);
	}
	set_behaviour(c->mc, ms);
	rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
	    MEMCACHED_DISTRIBUTION_CONSISTENT);
	if (rc != MEMCACHED_SUCCESS)
		log_warn("cache: %s", memcached_strerror(c->mc, rc));
	return c;
}

static void
memo_val_free(struct memo_entry *m)
{
	if (m->val != m->inline_val)
		free(m->val);
	m->val = NULL;
}

static void
memo_clear(struct cache *c)
{
	for (int i = 0; i < c->nmemo; i++)
		memo_val_free(&c->memo[i]);
	c->nmemo = 0;
}

void
cache_free(struct cache *c)
{
	if (!c)
		return;
	memo_clear(c);
	for (int i = 0; i < c->nping; i++)
		memcached_free(c->ping[i]);
	free(c->ping);
	free(c->servers);
	memcached_result_free(&c->result);
	memcached_free(c->mc);
	free(c);
}

void
cache_memo_begin(struct cache *c)
{
	if (!c)
		return;
	memo_clear(c);
	c->memo_on = 1;
}

void
cache_memo_end(struct cache *c)
{
	if (!c)
		return;
	memo_clear(c);
	c->memo_on = 0;
}

static struct memo_entry *
memo_find(struct cache *c, const char *k, size_t klen)
{
	for (int i = 0; i < c->nmemo; i++)
		if (c->memo[i].klen == klen && memcmp(c->memo[i].key, k, klen) == 0)
			return &c->memo[i];
	return NULL;
}

static void
memo_forget(struct cache *c, const char *k, size_t klen)
{
	struct memo_entry *m = memo_find(c, k, klen);
	struct memo_entry *last;

	if (!m)
		return;
	memo_val_free(m);
	last = &c->memo[--c->nmemo];
	if (m == last)
		return;
	memcpy(m->key, last->key, last->klen);
	m->klen = last->klen;
	m->vlen = last->vlen;
	if (last->val == last->inline_val) {
		memcpy(m->inline_val, last->inline_val, last->vlen + 1);
		m->val = m->inline_val;
	} else {
		m->val = last->val;
	}
	last->val = NULL;
}

static void
memo_store(struct memo_entry *m, const char *v, size_t len)
{
	memo_val_free(m);
	m->vlen = 0;
	if (v) {
		m->val = len < sizeof(m->inline_val) ? m->inline_val :
		    xmalloc(len + 1);
		memcpy(m->val, v, len);
		m->val[len] = '\0';
		m->vlen = len;
	}
}

static size_t
full_key(const struct cache *c, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);

	if (c->prefix_len + klen >= cap)
		return 0;
	memcpy(out, c->prefix, c->prefix_len);
	memcpy(out + c->prefix_len, key, klen + 1);
	return c->prefix_len + klen;
}

/*
 * Tells every process that key k may have changed (cachegen.h). Called
 * after the write was sent, whatever its outcome: a spurious announcement
 * only costs a re-read.
 */
static void
announce(const char *k, size_t klen)
{
	if (cachegen_enabled())
		cachegen_bump(cachegen_slot(k, klen));
}

static int
failed(struct cache *c, memcached_return_t rc, const char *what)
{
	static __thread int64_t last_log;
	int64_t now = (int64_t)time(NULL);

	/* Log at most once a second per thread; an outage is one event. */
	if (now != last_log) {
		last_log = now;
		log_warn("cache: %s: %s", what, memcached_strerror(c->mc, rc));
	}
	return -1;
}

/*
 * A connection to the one server item, which cache_ping() keeps. A dead
 * server is tried again after a second (set_behaviour()), so a probe
 * polled during an outage waits for it at most once a second.
 */
static memcached_st *
ping_new(const char *item, long ms)
{
	memcached_st *mc = memcached_create(NULL);

	if (!mc)
		abort();
	add_servers(mc, item);
	set_behaviour(mc, ms);
	return mc;
}

/* Whether mc's one server answers a get (a miss is an answer). */
static int
ping_answers(memcached_st *mc, const char *key)
{
	memcached_return_t rc = MEMCACHED_FAILURE;
	uint32_t flags;
	size_t len;
	char *v;

	if (memcached_server_count(mc) == 1) {
		v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
		free(v);
	}
	return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND;
}

int
cache_ping(struct cache *c, cache_ping_fn *fn, void *arg)
{
	char item[SERVER_NAME_MAX], key[256];
	const char *p = c->servers;
	int failed = 0, i = 0;

	snprintf(key, sizeof(key), "%sping", c->prefix);
	for (; next_server(&p, item); i++) {
		int ok;

		if (i == c->nping) {
			c->ping = xrealloc(c->ping, (size_t)(i + 1) *
			    sizeof(*c->ping));
			c->ping[c->nping++] = ping_new(item, c->timeout_ms);
		}
		ok = ping_answers(c->ping[i], key);
		if (!ok) {
			/* The kept connection may have died with a restart
			 * of the server, and a failed one waits out its retry
			 * time: one more try on a new one before "down". */
			memcached_free(c->ping[i]);
			c->ping[i] = ping_new(item, c->timeout_ms);
			ok = ping_answers(c->ping[i], key);
		}
		fn(arg, item, ok);
		failed += !ok;
	}
	if (i == 0) {
		fn(arg, c->servers, 0);
		failed++;
	}
	return failed;
}

int
cache_get(struct cache *c, const char *key, char *buf, size_t cap, size_t *len)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;
	uint32_t flags;
	size_t vlen = 0;
	char *v;

	if (!klen)
		return -1;
	if (c->memo_on) {
		struct memo_entry *m = memo_find(c, k, klen);

		if (m) {
			if (!m->val)
				return 0;
			vlen = m->vlen < cap ? m->vlen : cap - 1;
			memcpy(buf, m->val, vlen);
			buf[vlen] = '\0';
			if (len)
				*len = vlen;
			return 1;
		}
	}
	v = memcached_get(c->mc, k, klen, &vlen, &flags, &rc);
	if (!v) {
		if (rc == MEMCACHED_NOTFOUND)
			return 0;
		return failed(c, rc, "get");
	}
	if (vlen >= cap)
		vlen = cap - 1;
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	if (len)
		*len = vlen;
	free(v);
	return 1;
}

int
cache_set(struct cache *c, const char *key, const char *val, size_t len, long ttl)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;

	if (!klen)
		return -1;
	memo_forget(c, k, klen);
	rc = memcached_set(c->mc, k, klen, val, len, (time_t)ttl, 0);
	announce(k, klen);
	return rc == MEMCACHED_SUCCESS ? 0 : failed(c, rc, "set");
}

int
cache_add(struct cache *c, const char *key, const char *val, size_t len, long ttl)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;

	if (!klen)
		return -1;
	memo_forget(c, k, klen);
	rc = memcached_add(c->mc, k, klen, val, len, (time_t)ttl, 0);
	if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS)
		return 1;
	announce(k, klen);
	return rc == MEMCACHED_SUCCESS ? 0 : failed(c, rc, "add");
}

int
cache_delete(struct cache *c, const char *key)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;

	if (!klen)
		return -1;
	memo_forget(c, k, klen);
	rc = memcached_delete(c->mc, k, klen, 0);
	announce(k, klen);
	if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
		return 0;
	return failed(c, rc, "delete");
}

/*
 * Adds delta to k on the server, creating it holding `initial` if absent.
 * 0 with *out, or -1.
 */
static int
incr_on_server(struct cache *c, const char *k, size_t klen, uint64_t delta,
	uint64_t initial, long ttl, uint64_t *out)
{
	char num[32];
	memcached_return_t rc;
	int n;

	for (int attempt = 0; attempt < 3; attempt++) {
		rc = memcached_increment(c->mc, k, klen, (uint32_t)delta, out);
		if (rc == MEMCACHED_SUCCESS)
			return 0;
		if (rc != MEMCACHED_NOTFOUND)
			return failed(c, rc, "incr");
		n = snprintf(num, sizeof(num), "%llu", (unsigned long long)initial);
		rc = memcached_add(c->mc, k, klen, num, (size_t)n, (time_t)ttl, 0);
		if (rc == MEMCACHED_SUCCESS) {
			*out = initial;
			return 0;
		}
		if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
			return failed(c, rc, "add");
		/* Lost a race to create it: increment the winner's value. */
	}
	return -1;
}

int
cache_incr(struct cache *c, const char *key, uint64_t delta, long ttl, uint64_t *out)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	int r;

	if (!klen)
		return -1;
	r = incr_on_server(c, k, klen, delta, delta, ttl, out);
	announce(k, klen);
	return r;
}

/*
 * An increment of a key the memo holds: made on the server, waiting for
 * its reply, and the server's answer kept in the memo. Not sent with
 * noreply: the client's next request, served by another process, could
 * read the key before such a write arrived, and see a stale count, or no
 * counter at all and create it, the first count then lost (a creating
 * add that loses the race fails silently). 0, or -1 (memo forgotten).
 */
static int
memo_incr(struct cache *c, struct memo_entry *m, uint64_t delta,
	uint64_t initial, long ttl, uint64_t *out)
{
	char num[32];
	int n;

	if (incr_on_server(c, m->key, m->klen, delta, initial, ttl, out) == -1) {
		announce(m->key, m->klen);
		memo_forget(c, m->key, m->klen);
		return -1;
	}
	announce(m->key, m->klen);
	n = snprintf(num, sizeof(num), "%llu", (unsigned long long)*out);
	memo_store(m, num, (size_t)n);
	return 0;
}

int
cache_incr_init(struct cache *c, const char *key, uint64_t delta,
	uint64_t initial, long ttl, uint64_t *out)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	struct memo_entry *m;
	int r;

	if (!klen)
		return -1;
	if (c->memo_on && (m = memo_find(c, k, klen)))
		return memo_incr(c, m, delta, initial, ttl, out);
	r = incr_on_server(c, k, klen, delta, initial, ttl, out);
	announce(k, klen);
	return r;
}

int
cache_get_multi(struct cache *c, struct arena *a, const char *const *keys,
	size_t n, char **vals, size_t *lens)
{
	const char **kp = arena_alloc(a, n * sizeof(*kp));
	size_t *kl = arena_alloc(a, n * sizeof(*kl));
	memcached_result_st *result = &c->result;
	memcached_return_t rc;

	size_t *idx = arena_alloc(a, n * sizeof(*idx)), ask = 0;

	for (size_t i = 0; i < n; i++) {
		char k[256];
		struct memo_entry *m;

		vals[i] = NULL;
		if (lens)
			lens[i] = 0;
		kl[i] = full_key(c, keys[i], k, sizeof(k));
		if (!kl[i])
			return -1;
		if (c->memo_on && (m = memo_find(c, k, kl[i]))) {
			if (m->val) {
				vals[i] = arena_strndup(a, m->val, m->vlen);
				if (lens)
					lens[i] = m->vlen;
			}
			continue;
		}
		kp[ask] = arena_strndup(a, k, kl[i]);
		kl[ask] = kl[i];
		idx[ask++] = i;
	}
	if (ask == 0)
		return 0;
	rc = memcached_mget(c->mc, kp, kl, ask);
	if (rc != MEMCACHED_SUCCESS)
		return failed(c, rc, "mget");
	while (memcached_fetch_result(c->mc, result, &rc)) {
		const char *rk = memcached_result_key_value(result);
		size_t rklen = memcached_result_key_length(result);

		for (size_t j = 0; j < ask; j++)
			if (kl[j] == rklen && memcmp(kp[j], rk, rklen) == 0 &&
			    !vals[idx[j]]) {
				vals[idx[j]] = arena_strndup(a,
				    memcached_result_value(result),
				    memcached_result_length(result));
				if (lens)
					lens[idx[j]] = memcached_result_length(result);
				break;
			}
	}
	if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS &&
	    rc != MEMCACHED_NOTFOUND) {
		for (size_t i = 0; i < n; i++)
			vals[i] = NULL;
		return failed(c, rc, "mget");
	}
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The place of the set of keys memo[from..nmemo) in held[]. */
static struct held_set *
held_place(const struct cache *c, int from)
{
	uint32_t h = 2166136261u;

	for (int i = from; i < c->nmemo; i++)
		h = (h ^ cachegen_slot(c->memo[i].key, c->memo[i].klen)) *
		    16777619u;
	return &held[h % HELD_SETS];
}

/*
 * Answers memo[from..nmemo) from the local memo if it holds exactly these
 * keys, read less than local_ms ago, none written since. 1 answered, 0 not.
 */
static int
held_answer(struct cache *c, int from)
{
	struct held_set *s = held_place(c, from);
	int n = c->nmemo - from, ok;

	pthread_mutex_lock(&s->lock);
	ok = s->n == n && now_ms() - s->at_ms < c->local_ms;
	for (int i = 0; ok && i < n; i++) {
		const struct memo_entry *h = &s->e[i], *m = &c->memo[from + i];

		ok = h->klen == m->klen && memcmp(h->key, m->key, m->klen) == 0 &&
		    s->gen[i] == cachegen_read(cachegen_slot(m->key, m->klen));
	}
	for (int i = 0; ok && i < n; i++)
		memo_store(&c->memo[from + i], s->e[i].val, s->e[i].vlen);
	pthread_mutex_unlock(&s->lock);
	if (ok)
		metrics_count(MC_CACHE_LOCAL_HITS, 1);
	return ok;
}

/* Keeps memcached's answer for memo[from..nmemo), read at generations gen. */
static void
held_keep(struct cache *c, int from, const uint64_t *gen, int64_t at)
{
	struct held_set *s = held_place(c, from);
	int n = c->nmemo - from;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < n; i++) {
		const struct memo_entry *m = &c->memo[from + i];

		memcpy(s->e[i].key, m->key, m->klen);
		s->e[i].klen = m->klen;
		memo_store(&s->e[i], m->val, m->vlen);
		s->gen[i] = gen[i];
	}
	s->n = n;
	s->at_ms = at;
	pthread_mutex_unlock(&s->lock);
}

int
cache_prefetch(struct cache *c, const char *const *keys, size_t n)
{
	uint64_t gen[CACHE_MEMO_MAX];
	int64_t at = 0;
	const char *kp[CACHE_MEMO_MAX];
	size_t kl[CACHE_MEMO_MAX];
	memcached_result_st *result = &c->result;
	memcached_return_t rc;
	int base = c->nmemo;

	if (!c->memo_on || n == 0)
		return 0;
	if (n > (size_t)(CACHE_MEMO_MAX - c->nmemo))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct memo_entry *m = &c->memo[c->nmemo];

		m->klen = full_key(c, keys[i], m->key, sizeof(m->key));
		if (!m->klen || memo_find(c, m->key, m->klen))
			continue;
		m->val = NULL;
		m->vlen = 0;
		kp[c->nmemo - base] = m->key;
		kl[c->nmemo - base] = m->klen;
		c->nmemo++;
	}
	if (c->nmemo == base)
		return 0;
	if (c->local_ms) {
		if (held_answer(c, base))
			return 0;
		/* The clock and the generations before the read, not after. */
		at = now_ms();
		for (int i = base; i < c->nmemo; i++)
			gen[i - base] = cachegen_read(cachegen_slot(c->memo[i].key,
			    c->memo[i].klen));
	}
	rc = memcached_mget(c->mc, kp, kl, (size_t)(c->nmemo - base));
	if (rc != MEMCACHED_SUCCESS) {
		c->nmemo = base;
		return failed(c, rc, "mget");
	}
	while (memcached_fetch_result(c->mc, result, &rc)) {
		struct memo_entry *m = memo_find(c,
		    memcached_result_key_value(result),
		    memcached_result_key_length(result));

		if (m && !m->val)
			memo_store(m, memcached_result_value(result),
			    memcached_result_length(result));
	}
	if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS &&
	    rc != MEMCACHED_NOTFOUND) {
		while (c->nmemo > base)
			memo_val_free(&c->memo[--c->nmemo]);
		return failed(c, rc, "mget");
	}
	if (c->local_ms)
		held_keep(c, base, gen, at);
	return 0;
}

int
cache_memo_number(struct cache *c, const char *key, uint64_t *v)
{
	char k[256], *end;
	size_t klen = full_key(c, key, k, sizeof(k));
	struct memo_entry *m;

	if (!klen || !c->memo_on || !(m = memo_find(c, k, klen)))
		return -1;
	if (!m->val)
		return 0;
	*v = strtoull(m->val, &end, 10);
	return end != m->val && *end == '\0' ? 1 : -1;
}

int
cache_decr(struct cache *c, const char *key, uint64_t delta, uint64_t *out)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;

	if (!klen)
		return -1;
	rc = memcached_decrement(c->mc, k, klen, (uint32_t)delta, out);
	announce(k, klen);
	if (rc == MEMCACHED_SUCCESS)
		return 0;
	if (rc == MEMCACHED_NOTFOUND)
		return 1;
	return failed(c, rc, "decr");
}

int
cache_touch(struct cache *c, const char *key, long ttl)
{
	char k[256];
	size_t klen = full_key(c, key, k, sizeof(k));
	memcached_return_t rc;

	if (!klen)
		return -1;
	rc = memcached_touch(c->mc, k, klen, (time_t)ttl);
	if (rc == MEMCACHED_SUCCESS)
		return 0;
	if (rc == MEMCACHED_NOTFOUND)
		return 1;
	return failed(c, rc, "touch");
}
