/*
 * bridge_metrics.c - the bridge's own Prometheus metrics (GET /metrics on
 * the bridge port). Counters are process-wide atomics bumped from any
 * thread; gauges are read from loop state when the loop renders them.
 */
#include <stdatomic.h>

#include "bridge.h"
#include "core/strbuf.h"
#include "core/banned.h"

static const struct {
	const char *name;
	const char *help;
	double scale; /* rendered value = count * scale (0: 1) */
} counters[BM__COUNT] = {
	[BM_CONNECTIONS_TOTAL] = { "parley_bridge_connections_total",
		"WebSocket connections accepted" },
	[BM_CONNECTIONS_REJECTED] = { "parley_bridge_connections_rejected_total",
		"Connections refused (origin, limits)" },
	[BM_AUTH_FAILURES] = { "parley_bridge_auth_failures_total",
		"Failed authentications" },
	[BM_FRAMES_IN] = { "parley_bridge_frames_received_total",
		"Client frames received" },
	[BM_FRAMES_OUT] = { "parley_bridge_frames_sent_total",
		"Frames written to clients" },
	[BM_BYTES_OUT] = { "parley_bridge_sent_bytes_total",
		"Payload bytes written to clients" },
	[BM_DROPS_EPHEMERAL] = { "parley_bridge_queue_drops_total",
		"Ephemeral frames dropped from full send queues" },
	[BM_SLOW_CONSUMERS] = { "parley_bridge_slow_consumer_disconnects_total",
		"Connections closed because their send queue was full" },
	[BM_DEAD_PEERS] = { "parley_bridge_heartbeat_timeouts_total",
		"Connections closed for missing heartbeats" },
	[BM_EVENTS_SEQUENCED] = { "parley_bridge_events_sequenced_total",
		"Events given a stream position by this bridge" },
	[BM_EVENTS_TAILED] = { "parley_bridge_events_received_total",
		"Sequenced events read from the stream" },
	[BM_EVENTS_FANNED] = { "parley_bridge_event_frames_queued_total",
		"Event frames queued to connections (live)" },
	[BM_REPLAY_FRAMES] = { "parley_bridge_replay_frames_total",
		"Event frames replayed to resuming connections" },
	[BM_REPLAY_PAGES] = { "parley_bridge_replay_pages_total",
		"Database pages read for resuming connections" },
	[BM_RESYNCS] = { "parley_bridge_resync_required_total",
		"Resumes answered with resync_required" },
	[BM_RATE_LIMITED] = { "parley_bridge_rate_limited_total",
		"Client frames refused by a rate limit" },
	[BM_NUDGES_IN] = { "parley_bridge_nudges_received_total",
		"Wake-up datagrams received" },
	[BM_PEER_DATAGRAMS_IN] = { "parley_bridge_peer_datagrams_received_total",
		"Ephemeral-event datagrams received from other bridges" },
	[BM_PEER_DATAGRAMS_OUT] = { "parley_bridge_peer_datagrams_sent_total",
		"Datagrams sent to other bridges" },
	[BM_SEQUENCER_TAKEOVERS] = { "parley_bridge_sequencer_acquired_total",
		"Times this bridge took the sequencer lock" },
	[BM_DB_ERRORS] = { "parley_bridge_db_errors_total",
		"Failed database operations in the bridge" },
	[BM_SEQ_BATCHES] = { "parley_bridge_sequence_batches_total",
		"Batches of events numbered by this bridge" },
	[BM_SEQ_MICROS] = { "parley_bridge_sequence_seconds_total",
		"Time spent numbering batches (select + update + commit)", 1e-6 },
};

static _Atomic uint64_t values[BM__COUNT];

/* Event lag from commit (created_at) to the write of a live delivery, in
 * seconds: a replay is as old as the client asked for and would fill the
 * top bucket. */
static const double lag_bounds[] = { 0.001, 0.002, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NLAG (sizeof(lag_bounds) / sizeof(lag_bounds[0]))
static _Atomic uint64_t lag_buckets[NLAG + 1];
static _Atomic uint64_t lag_sum_ms, lag_count;

void
bmetrics_count(enum bmetric m, uint64_t n)
{
	atomic_fetch_add_explicit(&values[m], n, memory_order_relaxed);
}

void
bmetrics_lag(int64_t created_ms, int64_t now_ms)
{
	int64_t ms = now_ms - created_ms;
	size_t i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < NLAG; i++)
		if ((double)ms / 1000.0 <= lag_bounds[i])
			break;
	atomic_fetch_add_explicit(&lag_buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lag_sum_ms, (uint64_t)ms, memory_order_relaxed);
	atomic_fetch_add_explicit(&lag_count, 1, memory_order_relaxed);
}

static void
gauge(struct strbuf *sb, const char *name, const char *help, double v)
{
	strbuf_addf(sb, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help,
	    name, name, v);
}

void
bmetrics_render(struct strbuf *sb)
{
	uint64_t cum = 0;

	for (int i = 0; i < BM__COUNT; i++) {
		uint64_t v = atomic_load(&values[i]);

		strbuf_addf(sb, "# HELP %s %s\n# TYPE %s counter\n",
		    counters[i].name, counters[i].help, counters[i].name);
		if (counters[i].scale)
			strbuf_addf(sb, "%s %.6f\n", counters[i].name,
			    (double)v * counters[i].scale);
		else
			strbuf_addf(sb, "%s %llu\n", counters[i].name,
			    (unsigned long long)v);
	}
	strbuf_adds(sb, "# HELP parley_bridge_event_lag_seconds Time from an "
	    "event's commit to its frame being written, live deliveries only "
	    "(replays are not timed)\n"
	    "# TYPE parley_bridge_event_lag_seconds histogram\n");
	for (size_t i = 0; i <= NLAG; i++) {
		cum += atomic_load(&lag_buckets[i]);
		if (i < NLAG)
			strbuf_addf(sb, "parley_bridge_event_lag_seconds_bucket"
			    "{le=\"%g\"} %llu\n", lag_bounds[i],
			    (unsigned long long)cum);
		else
			strbuf_addf(sb, "parley_bridge_event_lag_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	strbuf_addf(sb, "parley_bridge_event_lag_seconds_sum %.3f\n"
	    "parley_bridge_event_lag_seconds_count %llu\n",
	    (double)atomic_load(&lag_sum_ms) / 1000.0,
	    (unsigned long long)atomic_load(&lag_count));
	gauge(sb, "parley_bridge_connections", "Open WebSocket connections",
	    (double)bridge.nconns);
	gauge(sb, "parley_bridge_connections_authenticated",
	    "Authenticated WebSocket connections", (double)bridge.nauthed);
	gauge(sb, "parley_bridge_users", "Users with a connection here",
	    (double)users_count());
	gauge(sb, "parley_bridge_rooms", "Rooms with a local member connected",
	    (double)rooms_count());
	gauge(sb, "parley_bridge_stream_position",
	    "Highest stream position delivered", (double)bridge.live_pos);
	gauge(sb, "parley_bridge_sequencer",
	    "1 while this bridge holds the sequencer lock",
	    (double)atomic_load(&bridge.sequencer));
	gauge(sb, "parley_bridge_handshakes",
	    "Accepted connections not yet upgraded to WebSocket",
	    (double)listen_handshaking());
	gauge(sb, "parley_bridge_pool_queue", "Jobs waiting for a pool thread",
	    (double)pool_depth());
	gauge(sb, "parley_bridge_replay_buffer_events",
	    "Events kept in memory for resumes", (double)ring_count());
	gauge(sb, "parley_bridge_uptime_seconds", "Seconds since start",
	    (double)(bridge_now_ms() - bridge.started_ms) / 1000.0);
}
