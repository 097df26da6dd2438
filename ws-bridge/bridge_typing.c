/*
 * bridge_typing.c - typing indicators (loop thread only).
 *
 * typing:start / typing:stop name a group (groupId, conversationId,
 * chatroomId) or the other member of a direct conversation (receiverId);
 * the user must belong to it. The frames go to the room's other members,
 * here and on the other bridges (UDP), and are never stored or replayed.
 *
 * Coalescing: at most one typing:start per user and room every 3 seconds,
 * however the client alternates start and stop (an entry is kept, idle,
 * until the window after its last start is over; a start that comes too
 * soon is sent by typing_tick when the window ends, if the user is still
 * typing); a typing:stop is sent only after a start was. A start not
 * followed by a stop within [bridge] typing_timeout_seconds (or when the
 * user's last connection closes, or within a tick of the user leaving
 * the room) gets an automatic typing:stop; a start still owed then is
 * dropped.
 *
 * Delivery is batched: the frames wait up to FLUSH_MS and then go out
 * together, written directly (conn_defer_begin/end), so a member of a busy
 * room gets them in one send instead of one writable callback, epoll_ctl()
 * round and send each (a typing storm is mostly that kernel cost). Each
 * frame is built once, whatever the size of its room.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/config.h"
#include "core/jsonx.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define COALESCE_MS 3000
#define MAX_TYPING 16
#define FLUSH_MS 500

static struct buser *typists;

/* Frames waiting for the next flush, in the order they were decided. */
struct pending {
	struct bid user;
	struct typing_entry t;
	int start;
};
static struct pending *pending;
static size_t npending, cappending;
static lws_sorted_usec_list_t flush_sul;

static void
send_now(const struct bid *user, const struct typing_entry *t, int start)
{
	struct strbuf sb = STRBUF_INIT;
	char id[IDS_UUID_LEN];
	struct frame *f;

	bid_format(user, id);
	strbuf_addf(&sb, "{\"userId\":\"%s\"", id);
	bid_format(&t->room, id);
	strbuf_addf(&sb, ",\"conversationId\":\"%s\"", id);
	if (t->direct) {
		bid_format(&t->peer, id);
		strbuf_addf(&sb, ",\"groupId\":null,\"receiverId\":\"%s\"", id);
	} else {
		bid_format(&t->room, id);
		strbuf_addf(&sb, ",\"groupId\":\"%s\"", id);
	}
	strbuf_addf(&sb, ",\"isTyping\":%s}", start ? "true" : "false");
	f = frame_event(start ? "typing:start" : "typing:stop", 0, sb.buf,
	    sb.len, 1);
	strbuf_release(&sb);
	rooms_send_ephemeral(TARGET_CONVERSATION, &t->room, user, f);
	nudge_forward_ephemeral(TARGET_CONVERSATION, &t->room, user, f);
	frame_unref(f);
}

static void
flush(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	conn_defer_begin();
	for (size_t i = 0; i < npending; i++)
		send_now(&pending[i].user, &pending[i].t, pending[i].start);
	npending = 0;
	conn_defer_end();
}

/* Queues the frame for the next flush (within FLUSH_MS). */
static void
emit(struct buser *u, const struct typing_entry *t, int start)
{
	struct pending *p;

	if (npending == cappending) {
		cappending = cappending ? cappending * 2 : 16;
		pending = xrealloc(pending, cappending * sizeof(*pending));
	}
	p = &pending[npending++];
	p->user = u->id;
	p->t = *t;
	p->start = start;
	if (npending == 1)
		lws_sul_schedule(bridge.ctx, 0, &flush_sul, flush,
		    FLUSH_MS * LWS_US_PER_MS);
}

static void
list_add(struct buser *u)
{
	if (u->in_typing_list)
		return;
	u->in_typing_list = 1;
	u->tprev = NULL;
	u->tnext = typists;
	if (typists)
		typists->tprev = u;
	typists = u;
}

static void
list_remove(struct buser *u)
{
	if (!u->in_typing_list)
		return;
	if (u->tprev)
		u->tprev->tnext = u->tnext;
	else
		typists = u->tnext;
	if (u->tnext)
		u->tnext->tprev = u->tprev;
	u->in_typing_list = 0;
	u->tnext = u->tprev = NULL;
}

static void
entry_remove(struct buser *u, size_t i)
{
	u->typing[i] = u->typing[--u->ntyping];
	if (u->ntyping == 0)
		list_remove(u);
}

/* The entry to replace when u already types in MAX_TYPING rooms. */
static size_t
entry_victim(const struct buser *u)
{
	for (size_t i = 0; i < u->ntyping; i++)
		if (u->typing[i].state == TY_IDLE)
			return i;
	return 0;
}

/* Ends t (removing it once its coalescing window is over). */
static void
entry_stop(struct buser *u, size_t i, int64_t now)
{
	struct typing_entry *t = &u->typing[i];

	if (t->state == TY_SHOWN)
		emit(u, t, 0);
	t->state = TY_IDLE;
	if (now - t->last_emit_ms >= COALESCE_MS)
		entry_remove(u, i);
}

static struct user_room *
typing_room(struct buser *u, const json_t *data, struct bid_why *why)
{
	struct user_room *ur;
	struct bid id;
	int i;

	why->missing = "typing needs groupId or receiverId";
	why->unknown = "No such conversation";
	i = bid_target(data, BID_FIELDS(bid_group_names,
	    JSONX_NAMES("receiverId", "receiver_id")), &id, why);
	if (i == -1)
		return NULL;
	ur = i == 1 ? user_direct_with(u, &id) : user_room(u, &id);
	if (!ur) {
		why->code = "NOT_FOUND";
		why->message = why->unknown;
	}
	return ur;
}

enum status
typing_update(struct conn *c, const json_t *data, int start,
	struct bid_why *why)
{
	struct buser *u = c->user;
	struct user_room *ur;
	struct typing_entry *t = NULL;
	int64_t now = bridge_now_ms();
	size_t i;

	if (!(ur = typing_room(u, data, why)))
		return why->code[0] == 'N' ? ST_NOT_FOUND : ST_INVALID;
	for (i = 0; i < u->ntyping; i++)
		if (bid_eq(&u->typing[i].room, &ur->room->id)) {
			t = &u->typing[i];
			break;
		}
	if (!start) {
		if (t)
			entry_stop(u, i, now);
		return ST_OK;
	}
	if (!t) {
		if (u->ntyping == MAX_TYPING) {
			i = entry_victim(u);
			if (u->typing[i].state == TY_SHOWN)
				emit(u, &u->typing[i], 0);
			entry_remove(u, i);
		}
		if (!u->typing)
			u->typing = xcalloc(MAX_TYPING, sizeof(*u->typing));
		t = &u->typing[u->ntyping++];
		memset(t, 0, sizeof(*t));
		t->room = ur->room->id;
		t->direct = ur->direct;
		t->peer = ur->peer;
		t->last_emit_ms = now - COALESCE_MS;
		t->state = TY_IDLE;
		list_add(u);
	}
	t->expires_ms = now + bridge.cfg->bridge_typing_timeout_s * 1000;
	if (now - t->last_emit_ms >= COALESCE_MS) {
		t->last_emit_ms = now;
		t->state = TY_SHOWN;
		emit(u, t, 1);
	} else if (t->state == TY_IDLE) {
		t->state = TY_OWED; /* typing_tick sends it when allowed */
	}
	return ST_OK;
}

void
typing_tick(int64_t now)
{
	struct buser *u, *next;

	for (u = typists; u; u = next) {
		next = u->tnext;
		for (size_t i = 0; i < u->ntyping;) {
			struct typing_entry *t = &u->typing[i];
			size_t before = u->ntyping;

			if (t->state != TY_IDLE && !user_room(u, &t->room)) {
				/* Left or removed: no start owed any more, and a
				 * shown one is stopped now, not at the timeout. */
				if (t->state == TY_SHOWN)
					emit(u, t, 0);
				entry_remove(u, i);
			} else if (t->state != TY_IDLE && t->expires_ms <= now) {
				entry_stop(u, i, now);
			} else if (t->state == TY_OWED &&
			    now - t->last_emit_ms >= COALESCE_MS) {
				t->last_emit_ms = now;
				t->state = TY_SHOWN;
				emit(u, t, 1);
			} else if (t->state == TY_IDLE &&
			    now - t->last_emit_ms >= COALESCE_MS) {
				entry_remove(u, i);
			}
			if (u->ntyping == before)
				i++;
		}
	}
}

void
typing_user_gone(struct buser *u)
{
	while (u->ntyping) {
		if (u->typing[0].state == TY_SHOWN)
			emit(u, &u->typing[0], 0);
		entry_remove(u, 0);
	}
	list_remove(u);
}
