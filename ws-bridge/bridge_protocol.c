/*
 * bridge_protocol.c - client frames and the action table (DESIGN §6).
 *
 * A client frame is a JSON object {"type": ..., "data": {...}, "ackId":
 * ...}; seed 003's {"event": ...} spelling and its snake_case names are
 * accepted too. Each type maps to one handler in actions[]; a handler
 * answers with {"type":"ack","ackId":..,"data":..} or {"type":"error",
 * "ackId":..,"data":{code,message,retryAfter?}}. Handlers that need the
 * database hand the work to the pool (bridge_actions.c) and the connection
 * reads nothing more until the answer, which keeps its actions in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridge.h"
#include "core/config.h"
#include "core/jsonx.h"
#include "core/msgfmt.h"
#include "core/strbuf.h"
#include "core/banned.h"

#define MAX_ACK_ID 128

enum {
	F_NOAUTH = 1, /* allowed before authentication */
	F_FREE = 2,   /* not counted against events_per_minute */
};

struct msgctx {
	struct conn *c;
	json_t *msg;       /* the whole frame */
	json_t *data;      /* msg.data, or for flat frames msg less its
	                    * envelope */
	const char *ack;   /* ackId as JSON text, or NULL */
};

typedef void action_fn(struct msgctx *m, int arg);

struct action {
	const char *type;
	action_fn *fn;
	int arg;
	unsigned flags;
};

static action_fn act_auth, act_ping, act_resume, act_typing, act_group,
    act_service;

static const struct action actions[] = {
	{ "auth", act_auth, 0, F_NOAUTH | F_FREE },
	{ "ping", act_ping, 0, F_NOAUTH | F_FREE },
	{ "resume", act_resume, 0, 0 },
	{ "message:send", act_service, ACT_MESSAGE_SEND, 0 },
	{ "message:edit", act_service, ACT_MESSAGE_EDIT, 0 },
	{ "message:delete", act_service, ACT_MESSAGE_DELETE, 0 },
	{ "message:delivered", act_service, ACT_MESSAGE_DELIVERED, 0 },
	{ "message:seen", act_service, ACT_MESSAGE_SEEN, 0 },
	{ "message:read", act_service, ACT_MESSAGE_SEEN, 0 },
	{ "message:react", act_service, ACT_MESSAGE_REACT, 0 },
	{ "typing:start", act_typing, 1, 0 },
	{ "typing:stop", act_typing, 0, 0 },
	{ "group:join", act_group, 1, 0 },
	{ "group:leave", act_group, 0, 0 },
	/* seed 003 spellings */
	{ "send_message", act_service, ACT_MESSAGE_SEND, 0 },
	{ "message_read", act_service, ACT_MESSAGE_SEEN, 0 },
	{ "typing_start", act_typing, 1, 0 },
	{ "typing_stop", act_typing, 0, 0 },
	{ "join_chatroom", act_group, 1, 0 },
	{ "leave_chatroom", act_group, 0, 0 },
};

void
protocol_ack(struct conn *c, const char *ack_json, const char *type,
	const char *data_json)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "{\"type\":");
	json_quote(&sb, type ? type : "ack");
	if (ack_json)
		strbuf_addf(&sb, ",\"ackId\":%s", ack_json);
	strbuf_adds(&sb, ",\"data\":");
	strbuf_adds(&sb, data_json ? data_json : "{}");
	strbuf_add(&sb, "}", 1);
	conn_send_text(c, sb.buf, sb.len);
	strbuf_release(&sb);
}

/* Spends one token of c's events-per-minute bucket; 0 or seconds to wait. */
static int
take_token(struct conn *c)
{
	int64_t per_min = bridge.cfg->bridge_events_per_minute;
	int64_t now = bridge_now_ms(), cap = per_min * 1000;
	/* tokens are kept in thousandths of an event */
	int64_t t = c->tokens + (now - c->tokens_ms) * per_min / 60;
	if (t > cap)
		t = cap;
	c->tokens_ms = now;
	if (t < 1000) {
		c->tokens = t;
		return (int)((1000 - t) * 60 / (per_min * 1000)) + 1;
	}
	c->tokens = t - 1000;
	return 0;
}

/*
 * Spends a token of c's budget for a frame that is not free: 0, or -1
 * after answering with the rate-limit error in the frame's place.
 */
static int
budget_or_reply(struct conn *c, const char *ack)
{
	int wait = take_token(c);

	if (wait == 0)
		return 0;
	bmetrics_count(BM_RATE_LIMITED, 1);
	conn_send_error(c, ack, "RATE_LIMIT_EXCEEDED",
	    "Too many events on this connection", wait);
	return -1;
}

/*
 * Refuses a frame that reaches no action (malformed, unknown, before
 * authentication). Only auth and ping are free (docs/websocket.md): a
 * client flooding garbage spends its budget as one flooding valid frames
 * does, and past it gets the same rate-limit error.
 */
static void
refuse(struct conn *c, const char *ack, const char *code, const char *message)
{
	if (budget_or_reply(c, ack) == 0)
		conn_send_error(c, ack, code, message, 0);
}

void
protocol_refuse(struct conn *c, const char *code, const char *message)
{
	refuse(c, NULL, code, message);
}

static void
act_auth(struct msgctx *m, int arg)
{
	const char *token = jsonx_str(m->msg, "token");

	if (!token)
		token = jsonx_str(m->data, "token");
	if (m->c->state != CS_NEW) {
		conn_send_error(m->c, m->ack, "CONFLICT", "Already authenticated",
		    0);
		return;
	}
	if (!token || !*token || strlen(token) > 4096) {
		conn_send_error(m->c, m->ack, "VALIDATION_ERROR",
		    "auth needs a token", 0);
		return;
	}
	auth_start(m->c, token, m->ack);
}

static void
act_ping(struct msgctx *m, int arg)
{
	json_t *ts = json_object_get(m->data, "timestamp");
	struct strbuf sb = STRBUF_INIT;
	long long t;

	if (!ts)
		ts = json_object_get(m->msg, "timestamp");
	t = json_is_integer(ts) ? (long long)json_integer_value(ts) :
	    (long long)bridge_now_ms();
	/* The ackId's JSON text can be several times its 128 characters
	 * (escapes): no fixed buffer. */
	strbuf_addf(&sb, "{\"type\":\"pong\"%s%s,\"timestamp\":%lld,"
	    "\"data\":{\"timestamp\":%lld,\"seq\":%lld}}", m->ack ?
	    ",\"ackId\":" : "", m->ack ? m->ack : "", t, t,
	    (long long)bridge.live_pos);
	conn_send_text(m->c, sb.buf, sb.len);
	strbuf_release(&sb);
}

static void
act_resume(struct msgctx *m, int arg)
{
	json_t *since = json_object_get(m->msg, "since");
	char buf[96];

	if (!since)
		since = json_object_get(m->data, "since");
	if (!json_is_integer(since) || json_integer_value(since) < 0) {
		conn_send_error(m->c, m->ack, "VALIDATION_ERROR",
		    "resume needs since: the last seq received (0 or more)", 0);
		return;
	}
	if (m->c->state != CS_LIVE && m->c->state != CS_REPLAYING) {
		conn_send_error(m->c, m->ack, "CONFLICT",
		    "Not ready to resume yet", 1);
		return;
	}
	snprintf(buf, sizeof(buf), "{\"since\":%lld}",
	    (long long)json_integer_value(since));
	protocol_ack(m->c, m->ack, NULL, buf);
	/* The client's own resume ends with "resumed", even one that
	 * replaces the catch-up replay of a connection whose rooms loaded
	 * late (auth_done()). */
	m->c->catch_up = 0;
	replay_start(m->c, json_integer_value(since));
}

static void
act_typing(struct msgctx *m, int start)
{
	struct bid_why why;

	if (typing_update(m->c, m->data, start, &why) != ST_OK) {
		conn_send_error(m->c, m->ack, why.code, why.message, 0);
		return;
	}
	if (m->ack)
		protocol_ack(m->c, m->ack, NULL, NULL);
}

static void
act_group(struct msgctx *m, int join)
{
	struct bid_why why = { .missing = "groupId is required",
	    .unknown = "No such group" };
	const char *id;
	char buf[128];
	struct bid conv;

	if (bid_target(m->data, BID_FIELDS(bid_group_names), &conv,
	    &why) == -1) {
		conn_send_error(m->c, m->ack, why.code, why.message, 0);
		return;
	}
	id = jsonx_str_of(m->data, bid_group_names);
	if (!user_room(m->c->user, &conv)) {
		if (join) {
			/* Not known here: ask the groups service. */
			actions_submit(m->c, ACT_GROUP_JOIN,
			    json_incref(m->data), m->ack);
			return;
		}
		conn_send_error(m->c, m->ack, "NOT_FOUND", "No such group", 0);
		return;
	}
	if (conn_mute(m->c, &conv, !join) == -1) {
		snprintf(buf, sizeof(buf), "Unsubscribed from %d conversations "
		    "on this connection already; group:join one first",
		    CONN_MUTED_MAX);
		conn_send_error(m->c, m->ack, "CONFLICT", buf, 0);
		return;
	}
	snprintf(buf, sizeof(buf), "{\"groupId\":\"%s\",\"subscribed\":%s}", id,
	    join ? "true" : "false");
	protocol_ack(m->c, m->ack, NULL, buf);
}

static void
act_service(struct msgctx *m, int action)
{
	struct bid_why why = { .missing = "messageId is required",
	    .unknown = "Message not found" };
	struct bid id;

	/* Every action but message:send names the message it acts on. */
	if (action != ACT_MESSAGE_SEND && bid_target(m->data,
	    BID_FIELDS(bid_message_names), &id, &why) == -1) {
		conn_send_error(m->c, m->ack, why.code, why.message, 0);
		return;
	}
	actions_submit(m->c, action, json_incref(m->data), m->ack);
}

/*
 * The frame's own field spelled names (jsonx_field()) into *v, borrowed;
 * -1 when its spellings disagree, answered as REST answers such a body.
 */
static int
envelope_field(struct conn *c, const char *ack, const json_t *msg,
	const char *const *names, json_t **v)
{
	char why[JSONX_DISAGREE_MAX];
	const char *bad;

	if (jsonx_field(msg, names, v, &bad) == 0)
		return 0;
	refuse(c, ack, "VALIDATION_ERROR", jsonx_disagree_buf(why, msg, names,
	    bad));
	return -1;
}

void
protocol_handle(struct conn *c, const char *text, size_t len)
{
	static const char *const envelope[] = { "type", "event", "ackId",
		"ack_id" };
	struct msgctx m = { c, NULL, NULL, NULL };
	char err[128], *ack = NULL;
	const char *type;
	json_t *ackv, *typev, *flat = NULL;
	size_t i;

	bmetrics_count(BM_FRAMES_IN, 1);
	/* jsonx_parse() refuses these too, in words about a request body. */
	if (len == 0 || memchr(text, '\0', len)) {
		refuse(c, NULL, "INVALID_MESSAGE_FORMAT", len == 0 ?
		    "The frame is empty: send a JSON object" :
		    "A frame must not contain a NUL byte");
		goto out;
	}
	if (jsonx_parse(text, len, 16, &m.msg, err, sizeof(err)) == -1 ||
	    !json_is_object(m.msg)) {
		refuse(c, NULL, "INVALID_MESSAGE_FORMAT",
		    m.msg ? "A frame must be a JSON object" : err);
		goto out;
	}
	/* Spellings that disagree leave no ackId to answer to. */
	if (envelope_field(c, NULL, m.msg, JSONX_NAMES("ackId", "ack_id"),
	    &ackv) == -1)
		goto out;
	if (json_is_string(ackv) || json_is_integer(ackv)) {
		/* Characters, as docs/websocket.md counts them (and REST its
		 * limits), not the bytes of the JSON text, which has quotes
		 * and escapes: an integer's digits are well within. */
		if (json_is_string(ackv) && msgfmt_utf8_chars(
		    json_string_value(ackv), json_string_length(ackv)) >
		    MAX_ACK_ID) {
			refuse(c, NULL, "VALIDATION_ERROR",
			    "ackId is too long");
			goto out;
		}
		ack = json_dumps(ackv, JSON_ENCODE_ANY | JSON_COMPACT);
	} else if (ackv && !json_is_null(ackv)) {
		refuse(c, NULL, "VALIDATION_ERROR",
		    "ackId must be a string or an integer");
		goto out;
	}
	m.ack = ack;
	if (envelope_field(c, m.ack, m.msg, JSONX_NAMES("type", "event"),
	    &typev) == -1)
		goto out;
	type = json_string_value(typev);
	m.data = json_object_get(m.msg, "data");
	if (!m.data) {
		/* A flat frame: its fields are the data, less the envelope's
		 * own (its "type" is the frame's, not a message's type). */
		m.data = flat = json_copy(m.msg);
		for (i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++)
			json_object_del(flat, envelope[i]);
	}
	if (!type || !json_is_object(m.data)) {
		refuse(c, m.ack, "INVALID_MESSAGE_FORMAT",
		    "A frame needs a string type and an object data");
		goto out;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].type, type) == 0)
			break;
	if (i == sizeof(actions) / sizeof(actions[0])) {
		refuse(c, m.ack, "INVALID_MESSAGE_FORMAT",
		    "Unknown frame type");
		goto out;
	}
	if (!(actions[i].flags & F_FREE) && budget_or_reply(c, m.ack) == -1)
		goto out;
	if (!(actions[i].flags & F_NOAUTH) && !c->user) {
		conn_send_error(c, m.ack, "UNAUTHORIZED",
		    "Authenticate first: {\"type\":\"auth\",\"token\":...}", 0);
		goto out;
	}
	actions[i].fn(&m, actions[i].arg);
out:
	free(ack);
	json_decref(flat);
	json_decref(m.msg);
}
