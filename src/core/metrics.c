#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "shmfile.h"
#include "xalloc.h"
#include "banned.h"

#define METRICS_MAGIC 0x70726c796d747231ULL /* "prlymtr1" */
#define METRICS_VERSION 2
#define NSLOTS 2048
#define NBUCKETS 14

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[NBUCKETS - 1] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000,
};

static const struct {
	const char *name;
	const char *help;
} counter_info[MC__COUNT] = {
	[MC_DB_ERRORS] = { "parley_db_errors_total", "MariaDB errors seen by the workers" },
	[MC_CACHE_ERRORS] = { "parley_cache_errors_total", "memcached errors seen by the workers" },
	[MC_RATELIMIT_LIMITED] = { "parley_ratelimit_limited_total", "Requests refused with 429" },
	[MC_RATELIMIT_FAIL_OPEN] = { "parley_ratelimit_fail_open_total", "Rate-limit checks let through because memcached was down" },
	[MC_RATELIMIT_DB_FALLBACK] = { "parley_ratelimit_db_fallback_total", "Rate-limit checks answered by MariaDB because memcached was down" },
	[MC_HASH_BUSY] = { "parley_password_hash_busy_total", "Password hashes refused because the concurrency cap was reached" },
	[MC_EVENTS_WRITTEN] = { "parley_events_written_total", "Outbox events written" },
	[MC_NUDGES_SENT] = { "parley_nudges_sent_total", "Wake-up datagrams sent after commits" },
	[MC_SEND_BATCHES] = { "parley_send_batches_total", "Message sends committed together (group commit batches)" },
	[MC_SEND_BATCHED] = { "parley_send_batched_messages_total", "Messages committed in group commit batches" },
	[MC_SEND_BATCH_FAILURES] = { "parley_send_batch_failures_total", "Group commit batches refused and re-sent one by one" },
	[MC_CACHE_LOCAL_HITS] = { "parley_cache_local_hits_total", "Request prefetches answered by the local memo instead of memcached" },
};

struct slot {
	uint32_t key; /* 0 = free; (route+2) << 16 | method << 10 | status */
	uint32_t pad;
	uint64_t count;
	uint64_t sum_us;
	uint64_t buckets[NBUCKETS];
};

struct scoreboard {
	uint64_t magic;
	uint64_t version;
	uint64_t layout;
	uint64_t start_time;
	uint64_t counters[64];
	struct slot slots[NSLOTS];
};

static struct scoreboard *board;

uint64_t
metrics_layout_key(uint64_t h, const char *s)
{
	if (!h)
		h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static void
use_private(void)
{
	board = xcalloc(1, sizeof(*board));
	board->start_time = (uint64_t)time(NULL);
}

int
metrics_open(const char *path, uint64_t layout_key)
{
	int fd = -1;
	void *p;

	if (board)
		return 0;
	if (!path || !*path)
		goto fallback;
	p = shmfile_map_locked(path, sizeof(struct scoreboard), 0640, &fd);
	if (!p)
		goto fallback;
	board = p;
	if (board->magic != METRICS_MAGIC || board->version != METRICS_VERSION ||
	    board->layout != layout_key) {
		memset(board, 0, sizeof(*board));
		board->version = METRICS_VERSION;
		board->layout = layout_key;
		board->start_time = (uint64_t)time(NULL);
		__atomic_store_n(&board->magic, METRICS_MAGIC, __ATOMIC_RELEASE);
	}
	shmfile_release(fd);
	return 0;
fallback:
	log_warn("metrics: cannot share %s (%s); counting per process",
	    path ? path : "(none)", strerror(errno));
	use_private();
	return -1;
}

static struct slot *
find_slot(uint32_t key)
{
	uint32_t h = (key * 2654435761u) % NSLOTS;

	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &board->slots[(h + (uint32_t)i) % NSLOTS];
		uint32_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		if (cur == key)
			return s;
		if (cur == 0) {
			uint32_t expected = 0;

			if (__atomic_compare_exchange_n(&s->key, &expected, key,
			    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
			    expected == key)
				return s;
		}
	}
	return NULL; /* table full: drop the sample */
}

void
metrics_observe(int route, int method, int status, int64_t duration_us)
{
	uint32_t key;
	struct slot *s;
	int b = 0;

	if (!board)
		use_private();
	if (status < 100 || status > 999)
		status = 999;
	key = (uint32_t)(route + 2) << 16 | (uint32_t)(method & 63) << 10 |
	    (uint32_t)status;
	s = find_slot(key);
	if (!s)
		return;
	if (duration_us < 0)
		duration_us = 0;
	while (b < NBUCKETS - 1 && duration_us > bucket_us[b])
		b++;
	__atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->sum_us, (uint64_t)duration_us, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->buckets[b], 1, __ATOMIC_RELAXED);
}

void
metrics_count(enum metric_counter c, uint64_t n)
{
	if (!board)
		use_private();
	__atomic_fetch_add(&board->counters[c], n, __ATOMIC_RELAXED);
}

struct labels {
	const char *route, *method;
	int status;
};

static int
decode_key(uint32_t key, const char *const *route_names, int nroutes,
	const char *const *method_names, int nmethods, struct labels *l)
{
	int route = (int)(key >> 16) - 2;
	int method = (int)((key >> 10) & 63);

	if (route >= nroutes || method >= nmethods)
		return -1;
	l->route = route < 0 ? "unmatched" : route_names[route];
	l->method = method_names[method];
	l->status = (int)(key & 1023);
	return 0;
}

void
metrics_render(struct strbuf *out, const char *const *route_names,
	int nroutes, const char *const *method_names, int nmethods)
{
	struct labels l;

	if (!board)
		use_private();
	strbuf_adds(out, "# HELP parley_http_requests_total HTTP requests by route template, method and status.\n"
	    "# TYPE parley_http_requests_total counter\n");
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &board->slots[i];
		uint32_t key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		if (!key || decode_key(key, route_names, nroutes,
		    method_names, nmethods, &l) == -1)
			continue;
		strbuf_addf(out,
		    "parley_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
		    l.route, l.method, l.status,
		    (unsigned long long)__atomic_load_n(&s->count, __ATOMIC_RELAXED));
	}
	strbuf_adds(out, "# HELP parley_http_request_duration_seconds HTTP request latency inside the worker.\n"
	    "# TYPE parley_http_request_duration_seconds histogram\n");
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &board->slots[i];
		uint32_t key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		uint64_t cum = 0;

		if (!key || decode_key(key, route_names, nroutes,
		    method_names, nmethods, &l) == -1)
			continue;
		for (int b = 0; b < NBUCKETS; b++) {
			cum += __atomic_load_n(&s->buckets[b], __ATOMIC_RELAXED);
			if (b < NBUCKETS - 1)
				strbuf_addf(out,
				    "parley_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",status=\"%d\",le=\"%g\"} %llu\n",
				    l.route, l.method, l.status,
				    (double)bucket_us[b] / 1e6,
				    (unsigned long long)cum);
			else
				strbuf_addf(out,
				    "parley_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",status=\"%d\",le=\"+Inf\"} %llu\n",
				    l.route, l.method, l.status,
				    (unsigned long long)cum);
		}
		strbuf_addf(out,
		    "parley_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\",status=\"%d\"} %.6f\n"
		    "parley_http_request_duration_seconds_count{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
		    l.route, l.method, l.status,
		    (double)__atomic_load_n(&s->sum_us, __ATOMIC_RELAXED) / 1e6,
		    l.route, l.method, l.status, (unsigned long long)cum);
	}
	for (int c = 0; c < MC__COUNT; c++)
		strbuf_addf(out, "# HELP %s %s.\n# TYPE %s counter\n%s %llu\n",
		    counter_info[c].name, counter_info[c].help,
		    counter_info[c].name, counter_info[c].name,
		    (unsigned long long)__atomic_load_n(&board->counters[c],
		    __ATOMIC_RELAXED));
	strbuf_addf(out, "# HELP parley_scoreboard_start_time_seconds When the shared counters were last reset.\n"
	    "# TYPE parley_scoreboard_start_time_seconds gauge\n"
	    "parley_scoreboard_start_time_seconds %llu\n",
	    (unsigned long long)board->start_time);
}
