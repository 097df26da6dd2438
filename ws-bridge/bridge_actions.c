/*
 * bridge_actions.c - client actions that go through the services.
 *
 * message:send and the other message actions, and the membership check of
 * group:join, run on a pool thread through the same service functions the
 * REST handlers call (message.h, group.h), so the rules live in one place.
 * The services write the outbox events themselves; the bridge answers the
 * sender with an ack (or an error with the service's code) and the events
 * reach everyone, the sender's other connections included, through the
 * stream like any REST change.
 *
 * The WebSocket-only limits apply here, before the service: [bridge]
 * messages_per_minute per user and messages_per_minute_per_chat per user
 * and conversation (fixed one-minute windows in memcached, shared by every
 * bridge; they fail open if memcached is down).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/group.h"
#include "core/jsonx.h"
#include "core/message.h"
#include "core/request.h"
#include "core/strbuf.h"
#include "core/svc.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct action_job {
	struct bjob job;
	struct conn *c;
	int action;
	json_t *data;
	char *ack;
	struct identity me;
	/* results */
	enum status st;
	char code[64];
	char message[200];
	int retry_after;
	char *reply;       /* ack data as JSON text (malloc'd) */
	struct room_row join; /* ACT_GROUP_JOIN: the conversation */
	int64_t pos0;         /* ACT_GROUP_JOIN: stream position before */
	char chat[IDS_UUID_LEN + 1]; /* ACT_MESSAGE_SEND: see chat_key() */
};

static void
set_error(struct action_job *a, enum status st, const struct svc_error *e)
{
	a->st = st;
	snprintf(a->code, sizeof(a->code), "%s", e && e->code ? e->code :
	    status_code(st));
	snprintf(a->message, sizeof(a->message), "%s", e && e->message ?
	    e->message : status_message(st));
	a->retry_after = e ? e->retry_after : 0;
}

/*
 * The per-chat window's key for a message:send, made on the loop, which
 * knows the user's rooms: a direct conversation counts as its other member
 * whichever way it is named (receiverId or its conversation id), a group
 * as its id, both in canonical form, so respelling an id (letter case,
 * receiverId for conversationId) opens no new window. Ids that do not
 * parse share "-"; the service refuses them anyway.
 */
static void
chat_key(struct conn *c, const json_t *data, char out[IDS_UUID_LEN + 1])
{
	const char *s = jsonx_str_of(data, bid_group_names);
	struct user_room *ur;
	struct bid id;
	char kind = 'c';

	if (s ? bid_parse(s, &id) == -1 :
	    bid_parse(jsonx_str_of(data, JSONX_NAMES("receiverId",
	    "receiver_id")), &id) == -1) {
		snprintf(out, IDS_UUID_LEN + 1, "-");
		return;
	}
	if (!s)
		kind = 'u';
	else if ((ur = user_room(c->user, &id)) && ur->direct) {
		id = ur->peer;
		kind = 'u';
	}
	out[0] = kind;
	bid_format(&id, out + 1);
}

/* memcached fixed-window counter: 0 ok, else seconds to wait. */
static int
over_limit(struct bworker *w, const char *key, long limit)
{
	time_t now = time(NULL);
	char k[200];
	uint64_t n;

	snprintf(k, sizeof(k), "%s:%lld", key, (long long)(now / 60));
	if (cache_incr(w->cache, k, 1, 120, &n) == -1)
		return 0;
	return n > (uint64_t)limit ? (int)(60 - now % 60) : 0;
}

static int
message_limits(struct action_job *a, struct bworker *w)
{
	const struct config *cfg = bridge.cfg;
	char key[160];
	int wait;

	snprintf(key, sizeof(key), "wsmsg:%s", a->me.user_id);
	if ((wait = over_limit(w, key, cfg->bridge_messages_per_minute)) == 0) {
		snprintf(key, sizeof(key), "wsmsgc:%s:%s", a->me.user_id,
		    a->chat);
		wait = over_limit(w, key, cfg->bridge_messages_per_minute_per_chat);
	}
	if (wait) {
		struct svc_error e = { "RATE_LIMIT_EXCEEDED",
			"Too many messages; slow down", NULL, wait };

		bmetrics_count(BM_RATE_LIMITED, 1);
		set_error(a, ST_RATE_LIMITED, &e);
		return -1;
	}
	return 0;
}

/*
 * group:join for a room the bridge does not know: is the user a member?
 * The answer holds at a position after pos0; action_done() replays the
 * membership events since then, so a removal that lands between the check
 * and the answer wins (as fix_up() does for a user's rooms).
 */
static void
run_group_join(struct action_job *a, const struct svc_ctx *ctx)
{
	const char *gid = jsonx_str_of(a->data, bid_group_names);
	char buf[128], cid[IDS_UUID_LEN];
	struct bid_why why = { .missing = "groupId is required",
	    .unknown = "No such group" };
	struct db_rows rows;
	int m;

	/* act_group() read this id already: it is one. */
	if (bid_target(a->data, BID_FIELDS(bid_group_names), &a->join.conv,
	    &why) == -1) {
		set_error(a, ST_INTERNAL, NULL);
		return;
	}
	a->pos0 = atomic_load(&bridge.published_pos);
	m = group_is_member(ctx, gid, a->me.user_id);
	if (m != 1) {
		struct svc_error e = { m == 0 ? "NOT_FOUND" : NULL, m == 0 ?
			"No such group" : NULL, NULL, m == 0 ? 0 : 1 };

		set_error(a, m == 0 ? ST_NOT_FOUND : ST_UNAVAILABLE, &e);
		return;
	}
	/*
	 * A direct conversation is joined as one (typing by receiverId and
	 * the frames' shape need its flag and peer); its kind never changes.
	 */
	bid_format(&a->join.conv, cid);
	if (db_query(ctx->db, ctx->arena, &rows, "SELECT kind, direct_key"
	    " FROM conversations WHERE id = ?", "s", cid) == -1) {
		struct svc_error e = { NULL, NULL, NULL, 1 };

		bmetrics_count(BM_DB_ERRORS, 1);
		set_error(a, ST_UNAVAILABLE, &e);
		return;
	}
	if (rows.nrows != 1) {
		struct svc_error e = { "NOT_FOUND", "No such group", NULL, 0 };

		set_error(a, ST_NOT_FOUND, &e);
		return;
	}
	room_row_kind(&a->join, db_get(&rows, 0, "kind"),
	    db_get(&rows, 0, "direct_key"), a->me.user_id);
	snprintf(buf, sizeof(buf), "{\"groupId\":\"%s\",\"subscribed\":true}",
	    gid);
	a->reply = xstrdup(buf);
	a->st = ST_OK;
}

/* Keeps a service answer: the ack's data, or the error. */
static void
finish(struct action_job *a, enum status st, json_t *out,
	const struct svc_error *e)
{
	if (st == ST_OK || st == ST_CREATED) {
		a->st = ST_OK;
		a->reply = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) :
		    NULL;
	} else {
		set_error(a, st, e);
	}
	json_decref(out);
}

static void
run_message(struct action_job *a, const struct svc_ctx *ctx)
{
	struct svc_error e = { 0 };
	json_t *out = NULL, *emoji;
	/* act_service() has checked the message's id (bid_target()). */
	const char *mid = jsonx_str_of(a->data, bid_message_names);
	enum status st;
	int created = 0, add;

	switch (a->action) {
	case ACT_MESSAGE_SEND:
		st = message_send(ctx, a->me.user_id, a->data, NULL, &out,
		    &created, &e);
		break;
	case ACT_MESSAGE_EDIT:
		st = message_edit(ctx, a->me.user_id, mid, a->data, &out, &e);
		break;
	case ACT_MESSAGE_DELETE:
		st = message_delete(ctx, a->me.user_id, mid, &out, &e);
		break;
	case ACT_MESSAGE_DELIVERED:
	case ACT_MESSAGE_SEEN:
		st = message_mark(ctx, a->me.user_id, mid,
		    a->action == ACT_MESSAGE_SEEN ? MESSAGE_MARK_SEEN :
		    MESSAGE_MARK_DELIVERED, &out, &e);
		break;
	case ACT_MESSAGE_REACT:
		/* As POST /messages/{id}/reactions reads it (api_messages.c). */
		st = svc_field(ctx->arena, a->data, JSONX_NAMES("emoji",
		    "reaction"), &emoji, &e);
		if (st != ST_OK)
			break;
		add = !json_is_true(json_object_get(a->data, "remove")) &&
		    !(jsonx_str(a->data, "action") &&
		    strcmp(jsonx_str(a->data, "action"), "remove") == 0);
		st = message_react(ctx, a->me.user_id, mid,
		    json_string_value(emoji), add, &out, &e);
		break;
	default:
		st = ST_INTERNAL;
		break;
	}
	finish(a, st, out, &e);
}

static void
action_run(struct bjob *j, struct bworker *w)
{
	struct action_job *a = (struct action_job *)j;
	struct svc_ctx ctx = { bridge.cfg, w->db, w->cache, w->arena, NULL };

	switch (a->action) {
	case ACT_GROUP_JOIN:
		run_group_join(a, &ctx);
		return;
	case ACT_MESSAGE_SEND:
		if (message_limits(a, w) == -1)
			return;
		break;
	default:
		break;
	}
	run_message(a, &ctx);
}

/* The loop's half of group:join: still a member now? */
static void
apply_group_join(struct action_job *a, struct conn *c)
{
	struct svc_error e = { NULL, NULL, NULL, 0 };

	switch (mlog_membership(&c->user->id, &a->join.conv, a->pos0, 1)) {
	case 1:
		user_join(c->user, &a->join.conv, a->join.direct,
		    &a->join.peer);
		conn_mute(c, &a->join.conv, 0);
		return;
	case 0: /* removed since the check */
		e.code = "NOT_FOUND";
		e.message = "No such group";
		set_error(a, ST_NOT_FOUND, &e);
		return;
	default: /* too many membership changes since to tell */
		e.retry_after = 1;
		set_error(a, ST_UNAVAILABLE, &e);
		return;
	}
}

static void
action_done(struct bjob *j)
{
	struct action_job *a = (struct action_job *)j;
	struct conn *c = a->c;

	c->busy = 0;
	if (c->wsi && c->user) {
		if (a->action == ACT_GROUP_JOIN && a->st == ST_OK)
			apply_group_join(a, c);
		if (a->st == ST_OK || a->st == ST_CREATED) {
			protocol_ack(c, a->ack, NULL, a->reply);
			/* seed 002: the sender also hears message:sent */
			if (a->action == ACT_MESSAGE_SEND)
				protocol_ack(c, a->ack, "message:sent", a->reply);
		} else {
			conn_send_error(c, a->ack, a->code, a->message,
			    a->retry_after);
		}
		lws_rx_flow_control(c->wsi, 1);
	}
	json_decref(a->data);
	free(a->ack);
	free(a->reply);
	conn_unref(c);
	free(a);
}

void
actions_submit(struct conn *c, int action, json_t *data, const char *ack_json)
{
	struct action_job *a = xcalloc(1, sizeof(*a));

	a->job.run = action_run;
	a->job.done = action_done;
	a->c = conn_ref(c);
	a->action = action;
	a->data = data;
	a->ack = ack_json ? xstrdup(ack_json) : NULL;
	if (action == ACT_MESSAGE_SEND)
		chat_key(c, data, a->chat);
	a->me.authenticated = 1;
	bid_format(&c->user->id, a->me.user_id);
	bid_format(&c->session, a->me.session_id);
	c->busy = 1;
	lws_rx_flow_control(c->wsi, 0);
	pool_submit(&a->job);
}
