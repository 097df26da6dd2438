/*
 * bridge_presence.c - who is online.
 *
 * memcached key "presence:<userId>" (under [memcached] prefix) counts the
 * user's open connections across every bridge: +1 when one authenticates
 * (bridge_auth.c), -1 when it closes. Its TTL is three heartbeats and each
 * bridge refreshes it every heartbeat for the users it holds, so the
 * counts of a bridge that crashed expire instead of keeping its users
 * online forever (if a user also has a connection on a live bridge, the
 * key lives on with a count that is too high until that connection closes
 * and the TTL runs out; it never reads 0 while the user is connected).
 * A value above 0 means online: GET /users/{id}/presence reads the same
 * key. users.last_seen is written when a connection closes.
 *
 * Going from 0 to 1 connection sends user:online, and back to 0 sends
 * user:offline, to the rooms the user shares (ephemeral frames, forwarded
 * to the other bridges over UDP, never stored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/presence.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

/* The key GET /users/{id}/presence reads (core/presence.h). */
static void
key_for(char *buf, size_t cap, const char *uid)
{
	char key[PRESENCE_KEY_LEN];

	presence_key(key, uid);
	snprintf(buf, cap, "%s", key);
}

/* Sends type for user to rooms (ids), here and on every peer. */
static void
announce(const char *type, const struct bid *user, const struct bid *rooms,
	size_t n, const char *last_seen)
{
	struct strbuf sb = STRBUF_INIT;
	char uid[IDS_UUID_LEN];
	struct frame *f;

	bid_format(user, uid);
	strbuf_addf(&sb, "{\"userId\":\"%s\"", uid);
	if (last_seen)
		strbuf_addf(&sb, ",\"lastSeen\":\"%s\"", last_seen);
	strbuf_add(&sb, "}", 1);
	f = frame_event(type, 0, sb.buf, sb.len, 1);
	strbuf_release(&sb);
	/* Over the limit here is over it everywhere: the peers are not
	 * asked. Under it, each peer counts its own members. */
	for (size_t i = 0; i < n; i++)
		if (presence_deliver(&rooms[i], user, f) == 0)
			nudge_forward_presence(&rooms[i], user, f);
	frame_unref(f);
}

int
presence_deliver(const struct bid *room, const struct bid *user,
	struct frame *f)
{
	struct broom *r = rooms_get(room);
	struct buser *u;
	uint32_t n;

	/* Presence in big rooms is asked for (GET .../presence), not
	 * pushed: it would be quadratic in the room size. The members
	 * counted are those connected here, not the ones merely retained
	 * after their last connection closed; the user an offline frame is
	 * about has just left and still counts, so the decision is the one
	 * its online frame got. */
	if (r) {
		n = r->nlive;
		if (user && (u = users_get(user)) && u->nconns == 0)
			n++;
		if (n > (uint32_t)bridge.cfg->bridge_presence_room_limit)
			return -1;
	}
	rooms_send_ephemeral(TARGET_CONVERSATION, room, user, f);
	return 0;
}

void
presence_online(struct buser *u)
{
	size_t n;
	struct bid *ids = user_room_ids(u, &n);

	announce("user:online", &u->id, ids, n, NULL);
	free(ids);
}

struct gone_job {
	struct bjob job;
	struct bid user;
	char uid[IDS_UUID_LEN];
	int counted;   /* decrement the count */
	int last;      /* no connection left on this bridge */
	int offline;   /* result: nobody holds a connection any more */
	char seen[TIMEFMT_LEN];
	struct bid *rooms;
	size_t nrooms;
};

static void
gone_run(struct bjob *j, struct bworker *w)
{
	struct gone_job *g = (struct gone_job *)j;
	char key[64];
	uint64_t n = 0;
	int rc = 1;

	if (g->counted) {
		key_for(key, sizeof(key), g->uid);
		rc = cache_decr(w->cache, key, 1, &n);
	}
	if (!g->last)
		return;
	/* With the count unknown (memcached down), this bridge's view is
	 * all there is. */
	g->offline = rc == -1 || !g->counted || n == 0;
	timefmt_iso(timefmt_now_ms(), g->seen);
}

static void
gone_done(struct bjob *j)
{
	struct gone_job *g = (struct gone_job *)j;
	struct buser *u = users_get(&g->user);

	/* Announce only if nobody came back here meanwhile. */
	if (g->offline && (!u || u->nconns == 0))
		announce("user:offline", &g->user, g->rooms, g->nrooms, g->seen);
	free(g->rooms);
	free(g);
}

static void seen_add(const struct bid *user);

void
presence_disconnect(struct buser *u, int counted)
{
	struct gone_job *g;

	if ((!counted && u->nconns > 0) || bridge.stopping)
		return;
	g = xcalloc(1, sizeof(*g));
	g->job.run = gone_run;
	g->job.done = gone_done;
	g->user = u->id;
	bid_format(&u->id, g->uid);
	g->counted = counted;
	g->last = u->nconns == 0;
	if (g->last) {
		g->rooms = user_room_ids(u, &g->nrooms);
		seen_add(&u->id);
	}
	pool_submit(&g->job);
}

/*
 * users.last_seen: departures are collected and written once a second in
 * one statement, so a reconnect storm is not thousands of commits.
 */
static struct {
	struct strbuf ids; /* a JSON array being built */
	size_t n;
} seen;

static void
seen_add(const struct bid *user)
{
	char uid[IDS_UUID_LEN];

	bid_format(user, uid);
	strbuf_addf(&seen.ids, "%s\"%s\"", seen.n ? "," : "[", uid);
	seen.n++;
}

struct seen_job {
	struct bjob job;
	char *ids;
};

static void
seen_run(struct bjob *j, struct bworker *w)
{
	struct seen_job *s = (struct seen_job *)j;

	if (db_exec(w->db, NULL, "UPDATE JSON_TABLE(?, '$[*]' COLUMNS"
	    " (id CHAR(36) PATH '$')) j STRAIGHT_JOIN users u ON u.id = j.id"
	    " SET u.last_seen = NOW(3)", "s", s->ids) == -1)
		bmetrics_count(BM_DB_ERRORS, 1);
}

static void
seen_done(struct bjob *j)
{
	struct seen_job *s = (struct seen_job *)j;

	free(s->ids);
	free(s);
}

void
presence_flush(void)
{
	struct seen_job *s;

	if (!seen.n)
		return;
	strbuf_add(&seen.ids, "]", 1);
	s = xcalloc(1, sizeof(*s));
	s->job.run = seen_run;
	s->job.done = seen_done;
	s->ids = strbuf_detach(&seen.ids, NULL);
	seen.n = 0;
	pool_submit(&s->job);
}

struct refresh_job {
	struct bjob job;
	size_t n;
	struct {
		char uid[IDS_UUID_LEN];
		uint32_t count;
	} users[];
};

static void
refresh_run(struct bjob *j, struct bworker *w)
{
	struct refresh_job *r = (struct refresh_job *)j;
	long ttl = bridge.cfg->bridge_heartbeat_s * 3;
	char key[64];
	uint64_t n;

	for (size_t i = 0; i < r->n; i++) {
		key_for(key, sizeof(key), r->users[i].uid);
		/* Lost (memcached restarted, or expired): count again. */
		if (cache_touch(w->cache, key, ttl) == 1)
			cache_incr(w->cache, key, r->users[i].count, ttl, &n);
	}
}

static void
refresh_done(struct bjob *j)
{
	free(j);
}

void
presence_refresh(void)
{
	size_t n = 0;
	struct refresh_job *r;
	struct conn *c;

	/* One job per 2000 users keeps each job short. */
	r = NULL;
	for (c = conns_all; c; c = c->anext) {
		struct buser *u = c->user;

		if (!u || !c->counted || u->conns != c)
			continue; /* each user once: at its first connection */
		if (!r) {
			r = xmalloc(sizeof(*r) + 2000 * sizeof(r->users[0]));
			r->job.run = refresh_run;
			r->job.done = refresh_done;
			n = 0;
		}
		bid_format(&u->id, r->users[n].uid);
		r->users[n].count = u->nconns;
		if (++n == 2000) {
			r->n = n;
			pool_submit(&r->job);
			r = NULL;
		}
	}
	if (r) {
		r->n = n;
		pool_submit(&r->job);
	}
}

void
presence_shutdown(struct db *db, struct cache *cache)
{
	struct strbuf ids = STRBUF_INIT;
	struct conn *c;
	char key[64], uid[IDS_UUID_LEN];
	uint64_t n;
	size_t nids = 0;

	for (c = conns_all; c; c = c->anext) {
		if (!c->user)
			continue;
		bid_format(&c->user->id, uid);
		if (c->counted) {
			key_for(key, sizeof(key), uid);
			cache_decr(cache, key, 1, &n);
			c->counted = 0;
		}
		if (c->user->conns != c)
			continue;
		strbuf_addf(&ids, "%s\"%s\"", nids ? "," : "[", uid);
		if (++nids == 5000 || !c->anext) {
			strbuf_add(&ids, "]", 1);
			db_exec(db, NULL, "UPDATE JSON_TABLE(?, '$[*]' COLUMNS"
			    " (id CHAR(36) PATH '$')) j STRAIGHT_JOIN users u"
			    " ON u.id = j.id SET u.last_seen = NOW(3)", "s", ids.buf);
			strbuf_release(&ids);
			nids = 0;
		}
	}
	if (nids) {
		strbuf_add(&ids, "]", 1);
		db_exec(db, NULL, "UPDATE JSON_TABLE(?, '$[*]' COLUMNS"
		    " (id CHAR(36) PATH '$')) j STRAIGHT_JOIN users u"
		    " ON u.id = j.id SET u.last_seen = NOW(3)", "s", ids.buf);
	}
	strbuf_release(&ids);
}
