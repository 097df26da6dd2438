/*
 * bridge_rooms.c - who hears what (loop thread only).
 *
 * A user with a connection here has a struct buser holding its
 * conversations (loaded from the database at its first connection, then
 * kept current by membership events) and its connections. A conversation
 * with a local member has a struct broom listing those users. Events for a
 * user's personal room go to that user's connections; events for a
 * conversation go to every local member's connections. Membership is per
 * user; a connection can additionally mute a room (group:leave).
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/xalloc.h"
#include "core/banned.h"

static struct bmap users;
static struct bmap rooms;
/* Retained users, oldest first. */
static struct buser *idle_head, *idle_tail;
static size_t nidle;

void
rooms_init(void)
{
	bmap_init(&users);
	bmap_init(&rooms);
}

void
rooms_release(void)
{
	bmap_release(&users);
	bmap_release(&rooms);
}

size_t
users_count(void)
{
	return users.n - nidle;
}

void
user_busy(struct buser *u)
{
	if (!u->idle)
		return;
	if (u->iprev)
		u->iprev->inext = u->inext;
	else
		idle_head = u->inext;
	if (u->inext)
		u->inext->iprev = u->iprev;
	else
		idle_tail = u->iprev;
	u->inext = u->iprev = NULL;
	u->idle = 0;
	nidle--;
}

void
user_connected(struct buser *u, int connected)
{
	for (uint32_t i = 0; i < u->nrooms; i++) {
		if (connected)
			u->rooms[i].room->nlive++;
		else
			u->rooms[i].room->nlive--;
	}
}

void
user_idle(struct buser *u, int64_t now_ms)
{
	if (u->state != US_READY || u->rooms_job) {
		if (!u->rooms_job)
			users_remove(u);
		return; /* a rooms job in flight removes it when it lands */
	}
	u->idle = 1;
	u->idle_ms = now_ms;
	u->inext = NULL;
	u->iprev = idle_tail;
	if (idle_tail)
		idle_tail->inext = u;
	else
		idle_head = u;
	idle_tail = u;
	nidle++;
}

void
users_sweep(int64_t now_ms)
{
	while (idle_head && now_ms - idle_head->idle_ms >= USER_RETAIN_MS)
		users_remove(idle_head);
}

size_t
rooms_count(void)
{
	return rooms.n;
}

struct buser *
users_get(const struct bid *id)
{
	return bmap_get(&users, id);
}

struct broom *
rooms_get(const struct bid *id)
{
	return bmap_get(&rooms, id);
}

struct buser *
users_add(const struct bid *id)
{
	struct buser *u = xcalloc(1, sizeof(*u));

	u->id = *id;
	u->state = US_LOADING;
	bmap_put(&users, id, u);
	return u;
}

static void
room_add_user(struct broom *r, struct buser *u)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->users = xrealloc(r->users, r->cap * sizeof(*r->users));
	}
	r->users[r->n++] = u;
}

static void
room_remove_user(struct broom *r, struct buser *u)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->users[i] == u) {
			r->users[i] = r->users[--r->n];
			break;
		}
	if (r->n == 0) {
		bmap_del(&rooms, &r->id);
		free(r->users);
		free(r);
	}
}

struct user_room *
user_room(struct buser *u, const struct bid *conv)
{
	for (uint32_t i = 0; i < u->nrooms; i++)
		if (bid_eq(&u->rooms[i].room->id, conv))
			return &u->rooms[i];
	return NULL;
}

struct user_room *
user_direct_with(struct buser *u, const struct bid *peer)
{
	for (uint32_t i = 0; i < u->nrooms; i++)
		if (u->rooms[i].direct && bid_eq(&u->rooms[i].peer, peer))
			return &u->rooms[i];
	return NULL;
}

void
room_row_kind(struct room_row *x, const char *kind, const char *direct_key,
	const char *uid)
{
	const char *key = direct_key;
	char a[IDS_UUID_LEN];

	if (!kind || strcmp(kind, "DIRECT") != 0)
		return;
	x->direct = 1;
	/* direct_key is "<smaller id>:<larger id>" */
	if (key && strlen(key) == 73 && key[36] == ':') {
		memcpy(a, key, 36);
		a[36] = '\0';
		if (strcmp(a, uid) == 0)
			bid_parse(key + 37, &x->peer);
		else
			bid_parse(a, &x->peer);
	}
}

void
user_join(struct buser *u, const struct bid *conv, int direct,
	const struct bid *peer)
{
	struct broom *r;
	struct user_room *ur = user_room(u, conv);

	if (ur) {
		if (direct && peer && !bid_is_zero(peer)) {
			ur->direct = 1;
			ur->peer = *peer;
		}
		return;
	}
	r = bmap_get(&rooms, conv);
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->id = *conv;
		bmap_put(&rooms, conv, r);
	}
	room_add_user(r, u);
	if (u->nconns)
		r->nlive++;
	if (u->nrooms == u->caprooms) {
		u->caprooms = u->caprooms ? u->caprooms * 2 : 4;
		u->rooms = xrealloc(u->rooms, u->caprooms * sizeof(*u->rooms));
	}
	ur = &u->rooms[u->nrooms++];
	memset(ur, 0, sizeof(*ur));
	ur->room = r;
	ur->direct = (uint8_t)(direct != 0);
	if (direct && peer)
		ur->peer = *peer;
}

void
user_leave(struct buser *u, const struct bid *conv)
{
	struct user_room *ur = user_room(u, conv);

	if (!ur)
		return;
	if (u->nconns)
		ur->room->nlive--;
	room_remove_user(ur->room, u);
	*ur = u->rooms[--u->nrooms];
}

void
user_set_rooms(struct buser *u, const struct room_row *rows, size_t n)
{
	while (u->nrooms)
		user_leave(u, &u->rooms[0].room->id);
	for (size_t i = 0; i < n; i++)
		user_join(u, &rows[i].conv, rows[i].direct, &rows[i].peer);
	u->state = US_READY;
}

void
users_remove(struct buser *u)
{
	user_busy(u); /* out of the retained list */
	while (u->nrooms)
		user_leave(u, &u->rooms[0].room->id);
	bmap_del(&users, &u->id);
	free(u->rooms);
	free(u->typing);
	free(u);
}

struct bid *
user_room_ids(const struct buser *u, size_t *n)
{
	struct bid *ids = xmalloc((u->nrooms + 1) * sizeof(*ids));

	for (uint32_t i = 0; i < u->nrooms; i++)
		ids[i] = u->rooms[i].room->id;
	*n = u->nrooms;
	return ids;
}

/*
 * u's membership of conv ended: a group:leave of its connections ends
 * with it, so a membership that starts later starts subscribed, on every
 * connection, as a new member's does (docs/websocket.md).
 */
static void
user_unmute(struct buser *u, const struct bid *conv)
{
	for (struct conn *c = u->conns; c; c = c->unext)
		if (c->nmuted)
			conn_mute(c, conv, 0);
}

void
rooms_apply(const struct bevent *ev)
{
	struct buser *u;
	struct broom *r;

	switch (ev->effect) {
	case ME_JOIN:
		u = bmap_get(&users, &ev->member);
		if (u && u->state == US_READY)
			user_join(u, &ev->conv, ev->direct, &ev->peer);
		/* The other member of a new direct conversation. */
		if (ev->direct && !bid_is_zero(&ev->peer) &&
		    (u = bmap_get(&users, &ev->peer)) && u->state == US_READY)
			user_join(u, &ev->conv, 1, &ev->member);
		break;
	case ME_LEAVE:
		u = bmap_get(&users, &ev->member);
		if (u)
			user_unmute(u, &ev->conv);
		if (u && u->state == US_READY)
			user_leave(u, &ev->conv);
		break;
	case ME_DROP:
		while ((r = bmap_get(&rooms, &ev->conv)) != NULL) {
			user_unmute(r->users[0], &ev->conv);
			user_leave(r->users[0], &ev->conv);
		}
		break;
	default:
		break;
	}
}

int
rooms_wants(const struct conn *c, const struct bevent *ev)
{
	struct buser *u = c->user;

	if (ev->kind == TARGET_USER)
		return bid_eq(&u->id, &ev->target);
	if (c->nmuted && conn_muted(c, &ev->target))
		return 0;
	for (uint32_t i = 0; i < u->nrooms; i++)
		if (bid_eq(&u->rooms[i].room->id, &ev->target))
			return 1;
	return 0;
}

static void
send_user(struct buser *u, const struct bevent *ev)
{
	struct conn *c, *next;

	for (c = u->conns; c; c = next) {
		next = c->unext;
		if (c->state == CS_REPLAYING && c->holding) {
			replay_hold(c, ev);
			continue;
		}
		if (c->state != CS_LIVE || ev->pos <= c->last_seq)
			continue;
		if (ev->kind == TARGET_CONVERSATION && c->nmuted &&
		    conn_muted(c, &ev->target))
			continue;
		c->last_seq = ev->pos;
		if (conn_send(c, ev->frame) == 0)
			bmetrics_count(BM_EVENTS_FANNED, 1);
	}
}

void
rooms_deliver(const struct bevent *ev)
{
	struct buser *u;
	struct broom *r;

	if (ev->kind == TARGET_USER) {
		if ((u = bmap_get(&users, &ev->target)) && u->state == US_READY)
			send_user(u, ev);
		return;
	}
	if (!(r = bmap_get(&rooms, &ev->target)))
		return;
	/* send_user can disconnect slow consumers, never change rooms. */
	for (uint32_t i = 0; i < r->n; i++)
		send_user(r->users[i], ev);
}

void
rooms_send_ephemeral(int kind, const struct bid *room, const struct bid *except,
	struct frame *f)
{
	struct broom *r;
	struct buser *u;
	struct conn *c, *next;

	if (kind == TARGET_USER) {
		if (!(u = bmap_get(&users, room)) ||
		    (except && bid_eq(except, &u->id)))
			return;
		for (c = u->conns; c; c = next) {
			next = c->unext;
			if (c->state == CS_LIVE || c->state == CS_REPLAYING)
				conn_send(c, f);
		}
		return;
	}
	if (!(r = bmap_get(&rooms, room)))
		return;
	for (uint32_t i = 0; i < r->n; i++) {
		u = r->users[i];
		if (except && bid_eq(except, &u->id))
			continue;
		for (c = u->conns; c; c = next) {
			next = c->unext;
			if ((c->state == CS_LIVE || c->state == CS_REPLAYING) &&
			    !(c->nmuted && conn_muted(c, room)))
				conn_send(c, f);
		}
	}
}
