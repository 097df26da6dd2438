/*
 * bridge_auth.c - from a token to a live connection.
 *
 * The token comes from the handshake (Authorization: Bearer, ?token=) or
 * from a first {"type":"auth","token":...} frame within [bridge]
 * auth_timeout_seconds. One pool job then does everything that needs the
 * network: the accounts service's auth_verify_access() (signature,
 * expiry, session not revoked),
 * the user's connection count (memcached presence, also the per-user
 * connection limit) and, for the user's first connection here, the list of
 * its conversations. The connection reads no frames meanwhile.
 *
 * The conversations are read at a known stream position (published_pos);
 * membership events after it are re-applied from the membership look-back
 * (bridge.h) when the job lands, so a join that commits while the list is
 * being read is never missed (applying them twice is harmless). A
 * connection that gets its auth_response while its user's rooms are still
 * loading (another connection's read in flight, or a read that failed and
 * is retried) waits in CS_WAITING and then replays from the seq it was
 * told, so the events committed meanwhile reach it too.
 *
 * Revoked sessions: the stream thread reads sessions revoked in the last
 * seconds every [bridge] revocation_check_ms and auth_revoked() closes
 * their connections with an error frame.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/auth.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/presence.h"
#include "core/strbuf.h"
#include "core/svc.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct auth_job {
	struct bjob job;
	struct conn *c;
	char *token;
	char *ack;
	int want_rooms;
	/* results */
	enum status st;
	char code[64];
	char message[160];
	int retry_after;
	struct identity me;
	int counted;
	uint64_t count;
	int rooms_ok;
	int64_t pos0;
	struct room_row *rows;
	size_t nrows;
};

/* The user's conversations; rows is malloc'd. 0 or -1. */
static int
load_rooms(struct bworker *w, const char *uid, int64_t *pos0,
	struct room_row **out, size_t *n)
{
	struct db_rows rows;
	struct room_row *rr;

	*pos0 = atomic_load(&bridge.published_pos);
	if (db_query(w->db, w->arena, &rows,
	    "SELECT m.conversation_id AS id, c.kind, c.direct_key"
	    " FROM members m JOIN conversations c ON c.id = m.conversation_id"
	    " WHERE m.user_id = ? AND c.deleted_at IS NULL", "s", uid) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return -1;
	}
	rr = xcalloc(rows.nrows + 1, sizeof(*rr));
	*n = 0;
	for (size_t r = 0; r < rows.nrows; r++) {
		struct room_row *x = &rr[*n];

		if (bid_parse(db_get(&rows, r, "id"), &x->conv) == -1)
			continue;
		room_row_kind(x, db_get(&rows, r, "kind"),
		    db_get(&rows, r, "direct_key"), uid);
		(*n)++;
	}
	*out = rr;
	return 0;
}

static void
fail(struct auth_job *a, enum status st, const char *code, const char *msg,
	int retry)
{
	a->st = st;
	snprintf(a->code, sizeof(a->code), "%s", code ? code : status_code(st));
	snprintf(a->message, sizeof(a->message), "%s", msg ? msg :
	    status_message(st));
	a->retry_after = retry;
}

/*
 * A job still running this long after it verified the token checks the
 * session again: a revocation in between is reported by the periodic
 * check only for REVOKE_LOOKBACK_S seconds, while this connection is not
 * yet one it looks at (a rooms read can wait twice the database read
 * timeout, 20 s by default).
 */
#define REVERIFY_AFTER_US (REVOKE_LOOKBACK_S * 1000000LL / 3)

static void
auth_run(struct bjob *j, struct bworker *w)
{
	struct auth_job *a = (struct auth_job *)j;
	const struct config *cfg = bridge.cfg;
	struct svc_ctx ctx = { cfg, w->db, w->cache, w->arena, NULL };
	struct svc_error e = { 0 };
	char key[PRESENCE_KEY_LEN];
	uint64_t n = 0;
	int64_t t0;
	enum status st;
	int alive;

	st = auth_verify_access(cfg, w->db, w->cache, a->token, &a->me, &e);
	if (st != ST_OK) {
		fail(a, st, st == ST_UNAUTHORIZED ? (e.code ? e.code :
		    "AUTH_TOKEN_INVALID") : e.code, e.message, e.retry_after);
		return;
	}
	t0 = timefmt_mono_us();
	presence_key(key, a->me.user_id);
	if (cache_incr(w->cache, key, 1, cfg->bridge_heartbeat_s * 3, &n) == 0) {
		a->counted = 1;
		a->count = n;
		if (n > (uint64_t)cfg->bridge_max_conns_per_user) {
			cache_decr(w->cache, key, 1, &n);
			a->counted = 0;
			fail(a, ST_RATE_LIMITED, "MAX_CONNECTIONS_EXCEEDED",
			    "Too many connections for this user", 0);
			return;
		}
	}
	a->st = ST_OK;
	if (a->want_rooms)
		a->rooms_ok = load_rooms(w, a->me.user_id, &a->pos0, &a->rows,
		    &a->nrows) == 0;
	if (timefmt_mono_us() - t0 < REVERIFY_AFTER_US)
		return;
	/* auth_done() uncounts the connection on failure. */
	alive = auth_session_alive(&ctx, a->me.session_id, NULL, NULL);
	if (alive == 0)
		fail(a, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid access token: the session has ended", 0);
	else if (alive == -1)
		fail(a, ST_UNAVAILABLE, NULL,
		    "Cannot verify the session right now", 1);
}

/* Re-applies membership events after pos0 that concern u. */
static int
fix_up(struct buser *u, int64_t pos0)
{
	size_t i = mlog_since(pos0);

	if (i == SIZE_MAX)
		return -1;
	for (; i < mlog_count(); i++) {
		const struct mevent *ev = mlog_at(i);

		if (ev->effect == ME_JOIN && bid_eq(&ev->member, &u->id))
			user_join(u, &ev->conv, ev->direct, &ev->peer);
		else if (ev->effect == ME_JOIN && ev->direct &&
		    bid_eq(&ev->peer, &u->id))
			user_join(u, &ev->conv, 1, &ev->member);
		else if ((ev->effect == ME_LEAVE && bid_eq(&ev->member, &u->id)) ||
		    ev->effect == ME_DROP)
			user_leave(u, &ev->conv);
	}
	return 0;
}

struct rooms_job {
	struct bjob job;
	struct bid user;
	char uid[IDS_UUID_LEN];
	int ok;
	int64_t pos0;
	struct room_row *rows;
	size_t nrows;
};

static void
rooms_run(struct bjob *j, struct bworker *w)
{
	struct rooms_job *r = (struct rooms_job *)j;

	r->ok = load_rooms(w, r->uid, &r->pos0, &r->rows, &r->nrows) == 0;
}

static void rooms_submit(struct buser *u);

/*
 * Users whose rooms could not be read (MariaDB down) are tried again by
 * the tick, not at once, so an outage is not a busy loop.
 */
static struct bid *retry_ids;
static size_t nretry, capretry;

static void
retry_later(struct buser *u)
{
	if (nretry == capretry) {
		capretry = capretry ? capretry * 2 : 16;
		retry_ids = xrealloc(retry_ids, capretry * sizeof(*retry_ids));
	}
	retry_ids[nretry++] = u->id;
	u->rooms_job = 1; /* held until the retry */
}

void
auth_retry_rooms(void)
{
	size_t n = nretry;
	struct bid *ids = retry_ids;

	retry_ids = NULL;
	nretry = capretry = 0;
	for (size_t i = 0; i < n; i++) {
		struct buser *u = users_get(&ids[i]);

		if (!u)
			continue;
		u->rooms_job = 0;
		if (u->nconns == 0)
			users_remove(u);
		else
			rooms_submit(u);
	}
	free(ids);
}

static void
rooms_done(struct bjob *j)
{
	struct rooms_job *r = (struct rooms_job *)j;
	struct buser *u = users_get(&r->user);

	if (u) {
		u->rooms_job = 0;
		if (u->nconns == 0) {
			users_remove(u);
		} else if (!r->ok) {
			retry_later(u); /* the database is down; keep waiting */
		} else {
			user_set_rooms(u, r->rows, r->nrows);
			if (fix_up(u, r->pos0) == -1)
				rooms_submit(u);
			else
				auth_user_ready(u);
		}
	}
	free(r->rows);
	free(r);
}

static void
rooms_submit(struct buser *u)
{
	struct rooms_job *r = xcalloc(1, sizeof(*r));

	r->job.run = rooms_run;
	r->job.done = rooms_done;
	r->user = u->id;
	bid_format(&u->id, r->uid);
	u->state = US_LOADING;
	u->rooms_job = 1;
	pool_submit(&r->job);
}

/* Uncounts a connection that never became live (a pool job of its own). */
struct uncount_job {
	struct bjob job;
	char uid[IDS_UUID_LEN];
};

static void
uncount_run(struct bjob *j, struct bworker *w)
{
	struct uncount_job *u = (struct uncount_job *)j;
	char key[PRESENCE_KEY_LEN];
	uint64_t n;

	presence_key(key, u->uid);
	cache_decr(w->cache, key, 1, &n);
}

static void
uncount_done(struct bjob *j)
{
	free(j);
}

static void
uncount(const char *uid)
{
	struct uncount_job *u = xcalloc(1, sizeof(*u));

	u->job.run = uncount_run;
	u->job.done = uncount_done;
	snprintf(u->uid, sizeof(u->uid), "%s", uid);
	pool_submit(&u->job);
}

static void
begin(struct conn *c)
{
	if (c->since >= 0)
		replay_start(c, c->since);
	else
		replay_go_live(c);
	if (c->wsi)
		lws_rx_flow_control(c->wsi, 1);
}

void
auth_user_ready(struct buser *u)
{
	struct conn *c;

	for (c = u->conns; c; c = c->unext)
		if (c->state == CS_WAITING)
			begin(c);
	if (u->online_pending) {
		u->online_pending = 0;
		presence_online(u);
	}
}

static void
reject(struct conn *c, const struct auth_job *a)
{
	struct strbuf sb = STRBUF_INIT;

	bmetrics_count(a->st == ST_UNAUTHORIZED ? BM_AUTH_FAILURES :
	    BM_CONNECTIONS_REJECTED, 1);
	strbuf_adds(&sb, "{\"type\":\"auth_response\",\"status\":\"error\"");
	if (a->ack)
		strbuf_addf(&sb, ",\"ackId\":%s", a->ack);
	strbuf_adds(&sb, ",\"error\":");
	json_quote(&sb, a->st == ST_UNAUTHORIZED ? "AUTH_FAILED" : a->code);
	strbuf_adds(&sb, ",\"data\":{\"status\":\"error\",\"code\":");
	json_quote(&sb, a->code);
	strbuf_adds(&sb, ",\"message\":");
	json_quote(&sb, a->message);
	if (a->retry_after > 0)
		strbuf_addf(&sb, ",\"retryAfter\":%d", a->retry_after);
	strbuf_adds(&sb, "}}");
	conn_send_text(c, sb.buf, sb.len);
	strbuf_release(&sb);
	/* 1008 for every refusal: some clients reject 1013 (try again
	 * later); the error frame says why and when. */
	conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL);
}

static void
auth_done(struct bjob *j)
{
	struct auth_job *a = (struct auth_job *)j;
	struct conn *c = a->c;
	struct buser *u;
	struct bid uid, sid;
	struct strbuf sb = STRBUF_INIT;
	int fresh = 0;

	if (!c->wsi) {
		if (a->counted)
			uncount(a->me.user_id);
		goto out;
	}
	if (a->st == ST_OK && (bid_parse(a->me.user_id, &uid) == -1 ||
	    bid_parse(a->me.session_id, &sid) == -1))
		fail(a, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID", NULL, 0);
	u = a->st == ST_OK ? users_get(&uid) : NULL;
	if (u && u->nconns >= bridge.cfg->bridge_max_conns_per_user)
		fail(a, ST_RATE_LIMITED, "MAX_CONNECTIONS_EXCEEDED",
		    "Too many connections for this user", 0);
	if (a->st != ST_OK) {
		if (a->counted)
			uncount(a->me.user_id);
		c->state = CS_NEW;
		reject(c, a);
		goto out;
	}
	if (!u) {
		u = users_add(&uid);
		fresh = 1;
		if (a->rooms_ok) {
			user_set_rooms(u, a->rows, a->nrows);
			if (fix_up(u, a->pos0) == -1)
				rooms_submit(u);
		} else {
			rooms_submit(u);
		}
	} else if (u->state == US_LOADING && !u->rooms_job) {
		rooms_submit(u);
	}
	user_busy(u);
	c->user = u;
	c->session = sid;
	c->counted = (uint8_t)a->counted;
	c->uprev = NULL;
	c->unext = u->conns;
	if (u->conns)
		u->conns->uprev = c;
	u->conns = c;
	if (u->nconns++ == 0)
		user_connected(u, 1);
	bridge.nauthed++;
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	/* An ackId's JSON text is up to several hundred bytes (escapes). */
	strbuf_addf(&sb, "{\"type\":\"auth_response\","
	    "\"status\":\"success\"%s%s,\"data\":{\"status\":\"success\","
	    "\"userId\":\"%s\",\"seq\":%lld}}", a->ack ? ",\"ackId\":" : "",
	    a->ack ? a->ack : "", a->me.user_id, (long long)bridge.live_pos);
	conn_send_text(c, sb.buf, sb.len);
	strbuf_release(&sb);
	if (u->state == US_READY) {
		begin(c);
		/* First connection anywhere (or memcached is down and this is
		 * the first one here): tell the rooms. */
		if ((a->counted && a->count == 1) || (!a->counted && fresh))
			presence_online(u);
	} else {
		c->state = CS_WAITING;
		/* The client counts on every event after the seq just
		 * reported, but the rooms that select them are not in yet:
		 * replay from that seq once they are. */
		if (c->since < 0) {
			c->since = bridge.live_pos;
			c->catch_up = 1;
		}
		if ((a->counted && a->count == 1) || (!a->counted && fresh))
			u->online_pending = 1;
	}
out:
	free(a->rows);
	free(a->token);
	free(a->ack);
	conn_unref(c);
	free(a);
}

/*
 * Only a user's first connection here needs its rooms read. The token is
 * not verified yet, so its subject is only a hint: if it names a user we
 * know, the job skips the read, and auth_done() reads them after all should
 * the verified user turn out not to be known.
 */
static int
user_known(const char *token)
{
	char sub[IDS_UUID_LEN];
	struct bid id;
	struct buser *u;

	if (jwt_peek_subject(token, sub) == -1 || bid_parse(sub, &id) == -1)
		return 0;
	u = users_get(&id);
	return u && u->state == US_READY;
}

void
auth_start(struct conn *c, const char *token, const char *ack_json)
{
	struct auth_job *a = xcalloc(1, sizeof(*a));

	a->job.run = auth_run;
	a->job.done = auth_done;
	a->c = conn_ref(c);
	if (token) {
		a->token = xstrdup(token);
	} else {
		a->token = c->token;
		c->token = NULL;
	}
	a->ack = ack_json ? xstrdup(ack_json) : NULL;
	a->want_rooms = !user_known(a->token);
	c->state = CS_AUTHING;
	lws_rx_flow_control(c->wsi, 0);
	pool_submit(&a->job);
}

void
auth_revoked(const struct bid *sessions, size_t n)
{
	struct conn *c;

	for (c = conns_all; c; c = c->anext) {
		if (!c->user || c->closing)
			continue;
		for (size_t i = 0; i < n; i++)
			if (bid_eq(&c->session, &sessions[i])) {
				conn_send_error(c, NULL, "SESSION_REVOKED",
				    "This session was logged out", 0);
				conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				    NULL);
				break;
			}
	}
}

/*
 * Connection attempts per client address and clock hour, counted by this
 * bridge in memory (no round trip before the handshake is answered; with
 * several bridges the limit applies to each). 0, or seconds to wait.
 *
 * At most ATTEMPT_ADDRESSES addresses are counted at once (a few MB):
 * past that the address seen first this hour is forgotten. Fresh IPv6
 * /64s cost an attacker nothing, and they gain only a new count for
 * addresses they already left behind.
 */
#define ATTEMPT_ADDRESSES 65536

static struct bmap attempts;
static int64_t attempts_hour = -1;
/* The counted addresses, oldest first: a ring once it is full. */
static struct bid *attempt_order;
static size_t attempt_head, attempt_n, attempt_cap;

static void
attempt_remember(const struct bid *key)
{
	if (attempt_n == ATTEMPT_ADDRESSES) {
		bmap_del(&attempts, &attempt_order[attempt_head]);
		attempt_order[attempt_head] = *key;
		attempt_head = (attempt_head + 1) % ATTEMPT_ADDRESSES;
		return;
	}
	if (attempt_n == attempt_cap) { /* head is 0 until it is full */
		attempt_cap = attempt_cap ? attempt_cap * 2 : 64;
		attempt_order = xrealloc(attempt_order,
		    attempt_cap * sizeof(*attempt_order));
	}
	attempt_order[attempt_n++] = *key;
}

int
auth_attempt(const char *ip)
{
	static const unsigned char v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	int64_t now = bridge_now_ms() / 1000, hour = now / 3600;
	struct bid key;
	uintptr_t n;

	if (hour != attempts_hour) {
		bmap_release(&attempts);
		attempt_head = attempt_n = 0;
		attempts_hour = hour;
	}
	/* An IPv6 client counts by its /64, as the REST limits do (one
	 * host can use all of it, and must not get a new count, or a new
	 * map entry, for each address); IPv4 and IPv4-mapped by address. */
	memset(&key, 0, sizeof(key));
	if (inet_pton(AF_INET6, ip, key.b) == 1) {
		if (memcmp(key.b, v4mapped, sizeof(v4mapped)) != 0)
			memset(key.b + 8, 0, 8);
	} else if (inet_pton(AF_INET, ip, key.b + 12) != 1) {
		snprintf((char *)key.b, sizeof(key.b), "%s", ip);
	}
	n = (uintptr_t)bmap_get(&attempts, &key) + 1;
	if (n == 1)
		attempt_remember(&key);
	bmap_put(&attempts, &key, (void *)n);
	if (n > (uintptr_t)bridge.cfg->bridge_connect_attempts_per_hour)
		return (int)(3600 - now % 3600);
	return 0;
}
