/*
 * bridge_stream.c - the tail of the events table (DESIGN §2).
 *
 * One thread with its own MariaDB connection. Writers number their events
 * in their own transactions (schema/007-writer-positions.sql): a reader
 * that sees position P sees every position below it, so every bridge
 * simply tails the table by pos and hands the loop batches in pos order.
 *
 * What it must not do is deliver a position that is visible but not yet
 * durable: InnoDB makes a commit visible before its log flush, and a
 * crash in between would give that position to another event later. So
 * the tail stops at durable_pos, which two things move on:
 *
 *   - a writer's nudge "n<pos>" (outbox_nudge), sent after its COMMIT
 *     returned: pos and everything below it are durable;
 *   - a barrier, for positions no nudge announced (a lost datagram, a
 *     writer without nudge targets): read MAX(pos), then make a durable
 *     write of our own (bridge_peers.barriers); its log flush covers every
 *     commit that was visible before it. Once per wake-up at most, and
 *     only when the table is ahead of durable_pos.
 *
 * The same thread wakes on the UDP socket (bridge_nudge.c) or after
 * [bridge] poll_ms, refreshes the bridge_peers registry, watches for
 * revoked sessions, and purges events older than [bridge]
 * event_retention_days (always keeping the newest row, so a resume from
 * before the oldest stored position is told to resync).
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
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define TAIL_BATCH 1000

static struct {
	pthread_t th;
	int wake_fd;
	int stop;
	struct db *db;
	struct arena arena;
	int64_t tail_pos;    /* highest pos handed to the loop */
	int64_t durable_pos; /* highest pos known durable */
	int64_t ahead_pos;   /* MAX(pos) beyond durable_pos at the last check */
	int64_t t_peers, t_purge, t_revoke, t_minpos, t_check;
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
		    " FROM events WHERE pos > ? AND pos <= ? ORDER BY pos"
		    " LIMIT 1000", "ii", S.tail_pos, S.durable_pos) == -1) {
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

/* ---- durability ---- */

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

/*
 * A durable write of this bridge's own (it registers the bridge, too): an
 * autocommitted change, so its COMMIT flushes the log past every
 * transaction that was visible when it began.
 */
static int
register_durably(void)
{
	char token_hex[33];
	const unsigned char *t = nudge_token();

	for (int i = 0; i < 16; i++)
		snprintf(token_hex + 2 * i, 3, "%02x", t[i]);
	if (db_exec(S.db, NULL,
	    "INSERT INTO bridge_peers (id, udp_host, udp_port, token,"
	    " heartbeat_at) VALUES (?, ?, ?, UNHEX(?), NOW(3))"
	    " ON DUPLICATE KEY UPDATE heartbeat_at = NOW(3),"
	    " barriers = barriers + 1", "ssis", bridge.id_text,
	    bridge.cfg->nudge_host,
	    (int64_t)(nudge_fd() >= 0 ? bridge.cfg->nudge_port : 0),
	    token_hex) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return -1;
	}
	return 0;
}

/*
 * Moves durable_pos up to everything committed that no nudge announced:
 * MAX(pos), then the barrier. Under load MAX(pos) is usually a little
 * ahead (commits whose nudge is on its way), so unless asked to act at
 * once (now) it acts only on a position that was already ahead at the
 * previous check, half a poll_ms ago, and still is.
 */
static void
catch_up_durably(int now)
{
	int64_t max;

	if (read_max_pos(&max) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return;
	}
	if (max <= S.durable_pos) {
		S.ahead_pos = 0;
		return;
	}
	if (!now && S.ahead_pos <= S.durable_pos) {
		S.ahead_pos = max;
		return;
	}
	if (register_durably() == -1)
		return;
	bmetrics_count(BM_BARRIERS, 1);
	S.durable_pos = max;
	S.ahead_pos = 0;
}

/* ---- chores ---- */

static void
refresh_peers(void)
{
	if (register_durably() == -1)
		return;
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
	struct revoked_job *r;
	int64_t window;

	/* Look back over everything since the last good check plus a margin
	 * for transactions that commit late; repeats are harmless. */
	window = (now - (S.last_revoke_ok ? S.last_revoke_ok : now)) / 1000 + 15;
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
	r = xcalloc(1, sizeof(*r) + rows.nrows * sizeof(r->sessions[0]));
	r->job.done = revoked_done;
	for (size_t i = 0; i < rows.nrows; i++)
		if (bid_parse(db_cell(&rows, i, 0), &r->sessions[r->n]) == 0)
			r->n++;
	inbox_push(&r->job);
}

static void
chores(int64_t now)
{
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
	if (now >= S.t_purge)
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
	/* What is visible now may not be durable yet: a barrier first. */
	while (!S.stop && register_durably() == -1) {
		pfd[0].fd = S.wake_fd;
		pfd[0].events = POLLIN;
		poll(pfd, 1, 1000);
	}
	S.tail_pos = start;
	S.durable_pos = start;
	refresh_min_pos();
	atomic_store(&bridge.start_pos, start);
	atomic_store(&bridge.stream_ready, 1);
	while (!S.stop) {
		int n = 0, mask, rc;
		int64_t now, announced = 0;

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
		mask = nudge_drain(&announced);
		if (announced > S.durable_pos)
			S.durable_pos = announced;
		now = bridge_now_ms();
		chores(now);
		/* Writers that said nothing (a lost datagram, none configured)
		 * are caught by the barrier within about poll_ms; a bare "n"
		 * asks for it at once. */
		if ((mask & NUDGE_BARE) || now >= S.t_check) {
			catch_up_durably(mask & NUDGE_BARE);
			S.t_check = now + bridge.cfg->bridge_poll_ms / 2;
		}
		if (S.durable_pos > S.tail_pos)
			tail();
	}
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
