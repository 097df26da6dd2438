/*
 * metrics.h - Prometheus metrics shared by every process on the host.
 *
 * Counters live in a file mapped MAP_SHARED by all worker processes (the
 * "scoreboard"), updated with atomic adds, so a scrape landing on any one
 * process reports the whole host. The file is (re)initialised under flock
 * when its layout does not match this binary (magic, version, layout key).
 * If the file cannot be mapped, metrics fall back to process-private memory
 * and say so in the log.
 *
 * HTTP requests are counted per (route, method, status) with a latency
 * histogram. Named counters (enum metric_counter) cover everything else;
 * add one by extending the enum and the table in metrics.c.
 */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H

#include <stdint.h>

#include "strbuf.h"

enum metric_counter {
	MC_DB_ERRORS,
	MC_CACHE_ERRORS,
	MC_RATELIMIT_LIMITED,
	MC_RATELIMIT_FAIL_OPEN,
	MC_RATELIMIT_DB_FALLBACK,
	MC_HASH_BUSY,
	MC_EVENTS_WRITTEN,
	MC_NUDGES_SENT,
	MC_SEND_BATCHES,
	MC_SEND_BATCHED,
	MC_SEND_BATCH_FAILURES,
	MC_CACHE_LOCAL_HITS,
	MC__COUNT
};

/*
 * Maps path (created if missing). layout_key identifies the route table
 * (see metrics_layout_key); a mismatch resets the counters. 0 or -1 (then
 * private memory is used and metrics still work per process).
 */
int metrics_open(const char *path, uint64_t layout_key);
/* FNV-1a over strings, for building layout_key. */
uint64_t metrics_layout_key(uint64_t h, const char *s);

/* Records one request: route index (-1 for unmatched), method index, status. */
void metrics_observe(int route, int method, int status, int64_t duration_us);
void metrics_count(enum metric_counter c, uint64_t n);

/*
 * Appends the exposition text. route_names[i] labels route i;
 * method_names[m] labels method m.
 */
void metrics_render(struct strbuf *out, const char *const *route_names,
	int nroutes, const char *const *method_names, int nmethods);

#endif
