/*
 * bridge_stream.c - the sequencer and the tail (DESIGN §2).
 *
 * One thread with its own MariaDB connection. Every bridge tails the
 * events table by pos and hands the loop batches in pos order. The bridge
 * whose connection holds GET_LOCK('parley.sequencer') is also the
 * sequencer: it reads committed rows that have no position yet (a plain
 * SELECT sees only committed rows, so it never skips a row whose
 * transaction commits late, the trap of tailing AUTO_INCREMENT ids) and
 * numbers them max_pos+1, +2, ... in one UPDATE. It then delivers them to
 * its own loop directly and tells the other bridges with an 's' datagram.
 * If the holder dies its connection closes, the lock frees, and whichever
 * bridge asks next (each tries once a second) carries on from MAX(pos).
 *
 * Safety nets for the window in which two bridges could both believe they
 * hold the lock (a connection reset between two checks): the UPDATE only
 * touches rows still without pos, the unique key on pos refuses a number
 * twice, and a holder that is surprised by either re-reads MAX(pos) and
 * lets the tail deliver. Positions can have holes; they never go back.
 *
 * The same thread wakes on the UDP socket (bridge_nudge.c) or after
 * [bridge] poll_ms, refreshes the bridge_peers registry, watches for
 * revoked sessions, and (the sequencer only) purges events older than
 * [bridge] event_retention_days, always keeping the newest row so that
 * positions never restart.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define SEQ_BATCH 512
#define TAIL_BATCH 1000
#define LOCK_NAME "parley.sequencer"

static struct {
	pthread_t th;
	int wake_fd;
	int stop;
	struct db *db;
	struct arena arena;
	int holder;
	int64_t next_pos;
	int64_t tail_pos;
	int64_t t_lock, t_peers, t_purge, t_revoke, t_minpos, t_tail;
	int64_t last_revoke_ok;
} S = { .wake_fd = -1 };

/* ---- handing events to the loop ---- */

struct batch_job {
	struct bjob job;
	size_t n;
	struct bevent ev[];
};

static void
batch_done(struct bjob *j)
{
	struct batch_job *b = (struct batch_job *)j;

	for (size_t i = 0; i < b->n; i++) {
		struct bevent *ev = &b->ev[i];

		if (ev->pos <= bridge.live_pos) {
			bevent_release(ev);
			continue;
		}
		if (ev->effect == ME_JOIN)
			rooms_apply(ev);
		rooms_deliver(ev);
		if (ev->effect == ME_LEAVE || ev->effect == ME_DROP)
			rooms_apply(ev);
		bridge.live_pos = ev->pos;
		ring_push(ev); /* takes the frame */
	}
	atomic_store(&bridge.published_pos, bridge.live_pos);
	free(b);
}

static struct batch_job *
batch_new(size_t n)
{
	struct batch_job *b = xcalloc(1, sizeof(*b) + n * sizeof(b->ev[0]));

	b->job.done = batch_done;
	return b;
}

static void
batch_push(struct batch_job *b)
{
	if (b->n == 0) {
		free(b);
		return;
	}
	bmetrics_count(BM_EVENTS_TAILED, b->n);
	inbox_push(&b->job);
}

/* ---- the tail ---- */

static int
tail(void)
{
	for (;;) {
		struct db_rows rows;
		struct batch_job *b;

		arena_reset(&S.arena);
		if (db_query(S.db, &S.arena, &rows,
		    "SELECT pos, target_kind, target_id, type, payload,"
		    " FLOOR(UNIX_TIMESTAMP(created_at) * 1000) AS ms"
		    " FROM events WHERE pos > ? ORDER BY pos LIMIT 1000", "i",
		    (int64_t)S.tail_pos) == -1) {
			bmetrics_count(BM_DB_ERRORS, 1);
			return -1;
		}
		b = batch_new(rows.nrows);
		for (size_t r = 0; r < rows.nrows; r++) {
			int64_t pos = db_get_int(&rows, r, "pos");
			const char *payload = db_get(&rows, r, "payload");

			S.tail_pos = pos;
			if (bevent_from_row(&b->ev[b->n], pos,
			    db_get(&rows, r, "target_kind"),
			    db_get(&rows, r, "target_id"),
			    db_get(&rows, r, "type"), payload,
			    rows.lens[r * rows.ncols + 4],
			    db_get_int(&rows, r, "ms")) == 0)
				b->n++;
		}
		batch_push(b);
		if (rows.nrows < TAIL_BATCH)
			return 0;
	}
}

/* ---- the sequencer ---- */

static int
read_max_pos(int64_t *out)
{
	struct db_rows rows;

	arena_reset(&S.arena);
	if (db_query(S.db, &S.arena, &rows,
	    "SELECT COALESCE(MAX(pos), 0) AS m FROM events", "") == -1 ||
	    rows.nrows != 1)
		return -1;
	*out = db_get_int(&rows, 0, "m");
	return 0;
}

static void
lose_lock(const char *why)
{
	if (S.holder)
		log_warn("sequencer: giving up the lock (%s)", why);
	S.holder = 0;
	atomic_store(&bridge.sequencer, 0);
}

static void
manage_lock(void)
{
	struct db_rows rows;

	arena_reset(&S.arena);
	if (S.holder) {
		if (db_query(S.db, &S.arena, &rows,
		    "SELECT IS_USED_LOCK('" LOCK_NAME "') = CONNECTION_ID()"
		    " AS mine", "") == -1 || rows.nrows != 1 ||
		    db_get_int(&rows, 0, "mine") != 1)
			lose_lock("lock no longer held by this connection");
		return;
	}
	if (db_query(S.db, &S.arena, &rows,
	    "SELECT GET_LOCK('" LOCK_NAME "', 0) AS got", "") == -1 ||
	    rows.nrows != 1 || db_get_int(&rows, 0, "got") != 1)
		return;
	if (read_max_pos(&S.next_pos) == -1) {
		db_exec(S.db, NULL, "DO RELEASE_LOCK('" LOCK_NAME "')", "");
		return;
	}
	S.next_pos++;
	S.holder = 1;
	atomic_store(&bridge.sequencer, 1);
	bmetrics_count(BM_SEQUENCER_TAKEOVERS, 1);
	log_info("sequencer: this bridge now assigns stream positions "
	    "(next %lld)", (long long)S.next_pos);
	S.t_peers = 0; /* announce it now */
}

/*
 * Gives rows (their "id" column) the positions first, first+1, ... in one
 * autocommitted statement: a primary-key UPDATE for one row (the usual
 * case when the load is light and latency matters most), else one static
 * statement joining a [[id,pos],...] map built in *map.
 */
static int
number_rows(const struct db_rows *rows, int64_t first, struct strbuf *map,
	uint64_t *affected)
{
	if (rows->nrows == 1)
		return db_exec(S.db, affected,
		    "UPDATE events SET pos = ? WHERE id = ? AND pos IS NULL",
		    "is", first, db_get(rows, 0, "id"));
	strbuf_add(map, "[", 1);
	for (size_t r = 0; r < rows->nrows; r++)
		strbuf_addf(map, "%s[%s,%lld]", r ? "," : "",
		    db_get(rows, r, "id"), (long long)(first + (int64_t)r));
	strbuf_add(map, "]", 1);
	return db_exec(S.db, affected,
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]',"
	    " p BIGINT UNSIGNED PATH '$[1]')) j STRAIGHT_JOIN events e"
	    " ON e.id = j.id SET e.pos = j.p WHERE e.pos IS NULL", "s",
	    map->buf);
}

/* One batch: 1 if more may be waiting, 0 if done, -1 on error. */
static int
sequence_batch(void)
{
	struct strbuf map = STRBUF_INIT;
	struct db_rows rows;
	struct batch_job *b = NULL;
	uint64_t affected = 0;
	int64_t first = S.next_pos, t0 = timefmt_mono_us();
	int rc = -1;

	/*
	 * No ORDER BY: any order of committed rows is a valid visibility
	 * order, and sorting made MariaDB filesort every batch (the unique
	 * index on pos does not give id order to the optimizer). The rows
	 * come in index order anyway, so the oldest are numbered first.
	 */
	arena_reset(&S.arena);
	if (db_query(S.db, &S.arena, &rows,
	    "SELECT id, target_kind, target_id, type, payload,"
	    " FLOOR(UNIX_TIMESTAMP(created_at) * 1000) AS ms"
	    " FROM events WHERE pos IS NULL LIMIT 512", "") == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return -1;
	}
	if (rows.nrows == 0)
		return 0;
	if (number_rows(&rows, first, &map, &affected) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		if (db_errno(S.db) == DB_ERR_DUP)
			log_warn("sequencer: position %lld already taken; "
			    "re-reading", (long long)first);
		if (read_max_pos(&S.next_pos) == 0)
			S.next_pos++;
		S.t_lock = 0;
		goto out;
	}
	S.next_pos = first + (int64_t)rows.nrows;
	bmetrics_count(BM_EVENTS_SEQUENCED, affected);
	bmetrics_count(BM_SEQ_BATCHES, 1);
	bmetrics_count(BM_SEQ_MICROS, (uint64_t)(timefmt_mono_us() - t0));
	nudge_peers_sequenced();
	if (affected != rows.nrows || S.tail_pos != first - 1) {
		/* Someone else numbered some of them, or we are behind: let
		 * the tail read what really is in the table. */
		if (affected != rows.nrows)
			log_warn("sequencer: %llu of %zu rows numbered",
			    (unsigned long long)affected, rows.nrows);
		rc = tail() == 0 ? 1 : -1;
		goto out;
	}
	b = batch_new(rows.nrows);
	for (size_t r = 0; r < rows.nrows; r++)
		if (bevent_from_row(&b->ev[b->n], first + (int64_t)r,
		    db_get(&rows, r, "target_kind"),
		    db_get(&rows, r, "target_id"), db_get(&rows, r, "type"),
		    db_get(&rows, r, "payload"), rows.lens[r * rows.ncols + 4],
		    db_get_int(&rows, r, "ms")) == 0)
			b->n++;
	S.tail_pos = S.next_pos - 1;
	batch_push(b);
	rc = rows.nrows == SEQ_BATCH ? 1 : 0;
out:
	strbuf_release(&map);
	return rc;
}

static void
sequence(void)
{
	/* Bounded so the other chores still run under a flood. */
	for (int i = 0; i < 64 && S.holder; i++)
		if (sequence_batch() != 1)
			break;
}

/* ---- chores ---- */

static void
refresh_peers(void)
{
	char token_hex[33];
	const unsigned char *t = nudge_token();

	for (int i = 0; i < 16; i++)
		snprintf(token_hex + 2 * i, 3, "%02x", t[i]);
	if (db_exec(S.db, NULL,
	    "INSERT INTO bridge_peers (id, udp_host, udp_port, token,"
	    " is_sequencer, heartbeat_at) VALUES (?, ?, ?, UNHEX(?), ?, NOW(3))"
	    " ON DUPLICATE KEY UPDATE is_sequencer = VALUES(is_sequencer),"
	    " heartbeat_at = NOW(3)", "ssisi", bridge.id_text,
	    bridge.cfg->nudge_host,
	    (int64_t)(nudge_fd() >= 0 ? bridge.cfg->nudge_port : 0), token_hex,
	    (int64_t)S.holder) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return;
	}
	arena_reset(&S.arena);
	nudge_set_peers(S.db, &S.arena);
}

/* 1 if more old events are waiting (come back soon), else 0. */
static int
purge(void)
{
	uint64_t n = 0;
	int64_t max;

	if (read_max_pos(&max) == -1)
		return 0;
	/* Small bites: this thread also carries the live stream. */
	for (int i = 0; i < 2; i++) {
		if (db_exec(S.db, &n,
		    "DELETE FROM events WHERE created_at < NOW(3) - INTERVAL ? DAY"
		    " AND pos IS NOT NULL AND pos < ? LIMIT 1000", "ii",
		    (int64_t)bridge.cfg->event_retention_days, max) == -1)
			return 0;
		if (n < 1000)
			break;
	}
	db_exec(S.db, NULL, "DELETE FROM bridge_peers"
	    " WHERE heartbeat_at < NOW(3) - INTERVAL 1 MINUTE", "");
	return n == 1000;
}

static void
refresh_min_pos(void)
{
	struct db_rows rows;

	arena_reset(&S.arena);
	if (db_query(S.db, &S.arena, &rows,
	    "SELECT COALESCE(MIN(pos), 0) AS m FROM events", "") == 0 &&
	    rows.nrows == 1)
		atomic_store(&bridge.min_pos, db_get_int(&rows, 0, "m"));
}

struct revoked_job {
	struct bjob job;
	size_t n;
	struct bid sessions[];
};

/*
 * On a pool thread: marks the sessions revoked in memcached again. The
 * HTTP request that revoked them answered 503 if it could not (session.h),
 * but the "alive" answers memcached still holds would outlive that for up
 * to AUTH_SESSION_ALIVE_TTL seconds; repeating the mark for as long as
 * the sessions are in the look-back completes the revocation as soon as
 * memcached takes writes again.
 */
static void
forget_run(struct bjob *j, struct bworker *w)
{
	struct revoked_job *r = (struct revoked_job *)j;
	char sid[IDS_UUID_LEN];

	for (size_t i = 0; i < r->n; i++) {
		bid_format(&r->sessions[i], sid);
		(void)auth_session_forget(bridge.cfg, w->cache, sid);
	}
}

static void
forget_done(struct bjob *j)
{
	free(j);
}

static void
revoked_done(struct bjob *j)
{
	struct revoked_job *r = (struct revoked_job *)j;

	auth_revoked(r->sessions, r->n);
	free(r);
}

static void
check_revocations(int64_t now)
{
	struct db_rows rows;
	struct revoked_job *r, *f;
	size_t size;
	int64_t window;

	/* Look back over everything since the last good check plus a margin
	 * for transactions that commit late; repeats are harmless. */
	window = (now - (S.last_revoke_ok ? S.last_revoke_ok : now)) / 1000 +
	    REVOKE_LOOKBACK_S;
	arena_reset(&S.arena);
	if (db_query(S.db, &S.arena, &rows,
	    "SELECT id FROM sessions WHERE revoked_at >= NOW(3) - INTERVAL ? SECOND",
	    "i", window) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return;
	}
	S.last_revoke_ok = now;
	if (rows.nrows == 0)
		return;
	size = sizeof(*r) + rows.nrows * sizeof(r->sessions[0]);
	r = xcalloc(1, size);
	r->job.done = revoked_done;
	for (size_t i = 0; i < rows.nrows; i++)
		if (bid_parse(db_cell(&rows, i, 0), &r->sessions[r->n]) == 0)
			r->n++;
	/* The same sessions for a pool thread to mark in memcached. */
	f = xmalloc(size);
	memcpy(f, r, size);
	f->job.next = NULL;
	f->job.run = forget_run;
	f->job.done = forget_done;
	inbox_push(&r->job);
	pool_submit(&f->job);
}

static void
chores(int64_t now)
{
	if (now >= S.t_lock) {
		manage_lock();
		S.t_lock = now + 1000;
	}
	if (now >= S.t_peers) {
		refresh_peers();
		S.t_peers = now + 2000;
	}
	if (now >= S.t_revoke) {
		check_revocations(now);
		S.t_revoke = now + bridge.cfg->bridge_revocation_check_ms;
	}
	if (now >= S.t_minpos) {
		refresh_min_pos();
		S.t_minpos = now + 5000;
	}
	if (S.holder && now >= S.t_purge)
		S.t_purge = now + (purge() ? 1000 : 60000);
}

static void *
stream_main(void *arg)
{
	struct pollfd pfd[2];
	int64_t start;

	db_thread_init();
	S.db = db_new(bridge.cfg);
	arena_init(&S.arena);
	/* The bridge is useless without the database: wait for it. */
	while (!S.stop && read_max_pos(&start) == -1) {
		log_warn("stream: database unavailable; retrying");
		pfd[0].fd = S.wake_fd;
		pfd[0].events = POLLIN;
		poll(pfd, 1, 1000);
	}
	S.tail_pos = start;
	refresh_min_pos();
	atomic_store(&bridge.start_pos, start);
	atomic_store(&bridge.stream_ready, 1);
	while (!S.stop) {
		int n = 0, mask, rc;
		int64_t now;

		pfd[n].fd = S.wake_fd;
		pfd[n++].events = POLLIN;
		if (nudge_fd() >= 0) {
			pfd[n].fd = nudge_fd();
			pfd[n++].events = POLLIN;
		}
		rc = poll(pfd, (nfds_t)n, (int)bridge.cfg->bridge_poll_ms);
		if (S.stop)
			break;
		if (rc < 0 && errno != EINTR) {
			log_error("stream: poll: %s", strerror(errno));
			rc = 0;
		}
		mask = nudge_drain();
		now = bridge_now_ms();
		chores(now);
		if ((mask & NUDGE_WRITE) && !S.holder)
			nudge_relay_to_sequencer();
		if (S.holder)
			sequence();
		/* The holder delivers what it numbers itself; others (and a
		 * holder that fell behind) read the table, unless all that
		 * woke them is a writer's nudge: nothing is numbered yet, the
		 * sequencer's 's' follows. */
		if (S.holder ? S.tail_pos < S.next_pos - 1 :
		    rc == 0 || !(mask & (NUDGE_WRITE | NUDGE_RELAYED)) ||
		    (mask & NUDGE_SEQUENCED) ||
		    now - S.t_tail >= bridge.cfg->bridge_poll_ms) {
			tail();
			S.t_tail = now;
		}
	}
	if (S.holder)
		db_exec(S.db, NULL, "DO RELEASE_LOCK('" LOCK_NAME "')", "");
	db_exec(S.db, NULL, "DELETE FROM bridge_peers WHERE id = ?", "s",
	    bridge.id_text);
	db_free(S.db);
	arena_release(&S.arena);
	db_thread_release();
	return NULL;
}

int
stream_start(void)
{
	S.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (S.wake_fd < 0)
		return -1;
	return pthread_create(&S.th, NULL, stream_main, NULL) == 0 ? 0 : -1;
}

void
stream_stop(void)
{
	uint64_t one = 1;

	S.stop = 1;
	if (write(S.wake_fd, &one, sizeof(one)) < 0)
		log_warn("stream: cannot wake the thread");
	pthread_join(S.th, NULL);
	close(S.wake_fd);
}

int
stream_is_sequencer(void)
{
	return atomic_load(&bridge.sequencer);
}
