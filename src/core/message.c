#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conv.h"
#include "db.h"
#include "group.h"
#include "group_db.h"
#include "histcache.h"
#include "jsonx.h"
#include "message.h"
#include "message_db.h"
#include "sendq.h"
#include "message_input.h"
#include "message_view.h"
#include "metrics.h"
#include "msgfmt.h"
#include "svc.h"
#include "user.h"
#include "banned.h"

static enum status
not_found(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Message not found");
}

static enum status
no_conversation(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Conversation not found");
}

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

/* field (parentId, replyTo) names no message of the conversation. */
static enum status
foreign_ref(struct svc_error *e, const char *field)
{
	return invalid(e, field, "must name a message of the same conversation");
}

/* "<smaller id>:<larger id>" (arena). */
static char *
direct_key(const struct svc_ctx *ctx, const char *a, const char *b)
{
	return strcmp(a, b) < 0 ? arena_printf(ctx->arena, "%s:%s", a, b) :
	    arena_printf(ctx->arena, "%s:%s", b, a);
}

static int
emit_created(struct db *db, const char *cid, const char *uid, const char *peer)
{
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s}", "conversationId", cid,
	    "kind", "DIRECT", "userId", uid, "peerId", peer, "receiverId", peer);

	return conv_event(db, OUTBOX_USER, uid, "conversation:created", p);
}

/*
 * A deleted or deactivated account receives nothing: not in a DM that
 * exists (its membership stays, for the history), as none would be made.
 */
static enum status
peer_gone(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
}

/*
 * Finds or creates the DM of uid and peer; race-safe (unique direct_key).
 * ref names the field (parentId, replyTo) of a message the send refers
 * to, or is NULL: a DM that does not exist yet holds none, so it is not
 * created for that send.
 */
static enum status
direct_open(const struct svc_ctx *ctx, const char *uid, const char *peer,
	const char *key, const char *ref, char cid[IDS_UUID_LEN],
	struct svc_error *e)
{
	struct db *db = ctx->db;
	int active = 0;
	int rc = message_db_direct_to(db, ctx->arena, key, peer, cid, &active);

	if (rc == 0)
		return active ? ST_OK : peer_gone(e);
	if (rc == -1)
		return conv_db_error(db, e);
	if (ref)
		return foreign_ref(e, ref);
	ids_uuid7(cid);
	if (db_begin(db) == -1)
		return conv_db_error(db, e);
	if (message_db_direct_insert(db, cid, key, uid) == -1) {
		if (db_errno(db) != DB_ERR_DUP)
			return conv_db_error(db, e);
		/* Someone opened it first: use theirs. */
		db_rollback(db);
		rc = message_db_direct(db, ctx->arena, key, cid);
		return rc == 0 ? ST_OK : rc == 1 ? no_conversation(e) :
		    conv_db_error(db, e);
	}
	rc = group_db_add_member(db, ctx->arena, cid, uid, "MEMBER", NULL, NULL,
	    NULL);
	if (rc == 0)
		rc = group_db_add_member(db, ctx->arena, cid, peer, "MEMBER",
		    NULL, NULL, NULL);
	if (rc == 1) {
		db_rollback(db);
		return peer_gone(e);
	}
	if (rc == -1 || emit_created(db, cid, uid, peer) == -1 ||
	    emit_created(db, cid, peer, uid) == -1 || db_commit(db) == -1)
		return conv_db_error(db, e);
	outbox_nudge(ctx->cfg);
	return ST_OK;
}

/* The message quoted or threaded under; must be in conversation cid. */
static enum status
locate(const struct svc_ctx *ctx, const char *id, const char *cid,
	const char *field, const char **root, struct svc_error *e)
{
	const char *conv = NULL, *parent = NULL;
	int rc = message_db_locate(ctx->db, ctx->arena, id, &conv, &parent);

	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1 || !conv || strcmp(conv, cid) != 0)
		return foreign_ref(e, field);
	if (root)
		*root = parent ? parent : id; /* threads are one level deep */
	return ST_OK;
}

/* Who sends: username, displayName, avatar (the accounts service's cached view). */
struct sender {
	json_t *view; /* owns the strings below */
	const char *username, *display, *avatar;
};

static enum status
sender_load(const struct svc_ctx *ctx, const char *uid, struct sender *s,
	struct svc_error *e)
{
	enum status st = user_get(ctx, uid, 0, &s->view, e);

	if (st != ST_OK)
		return st == ST_NOT_FOUND ? no_conversation(e) : st;
	s->username = jsonx_str(s->view, "username");
	s->display = jsonx_str(s->view, "displayName");
	s->avatar = jsonx_str(s->view, "avatar");
	return ST_OK;
}

/*
 * The send transaction (message_db_send: one round trip): the
 * membership-checked insert, its event and, in threads, the parent's reply
 * count, committed together or not at all, then announced (sendq.h).
 */
static enum status
send_tx(const struct svc_ctx *ctx, const struct msg_new *mn, const char *kind,
	const json_t *msg, int *dup, struct svc_error *e)
{
	char *payload = json_dumps(msg, JSON_COMPACT);
	int rc;

	*dup = 0;
	if (!payload)
		return svc_fail(e, ST_INTERNAL, NULL, NULL);
	rc = sendq_send(ctx, mn, kind, payload);
	free(payload);
	if (rc == -1 && db_errno(ctx->db) == DB_ERR_DUP) {
		*dup = 1;
		return ST_CONFLICT;
	}
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1)
		return no_conversation(e);
	metrics_count(MC_EVENTS_WRITTEN, 1);
	return ST_OK;
}

/* The message object of a message about to be sent. */
static json_t *
new_message(const struct svc_ctx *ctx, const struct msg_new *mn,
	const char *kind, const char *dkey, const struct sender *s)
{
	struct msg_row row;
	struct db_rows r;

	memset(&row, 0, sizeof(row));
	row.id = mn->id;
	row.conversation_id = mn->conversation_id;
	row.kind = kind;
	row.direct_key = dkey;
	row.sender_id = mn->sender_id;
	row.sender_username = s->username;
	row.sender_display = s->display;
	row.sender_avatar = s->avatar;
	row.type = mn->type;
	row.content = mn->content;
	row.encrypted = mn->encrypted;
	row.parent_id = mn->parent_id;
	row.reply_to_id = mn->reply_to_id;
	row.metadata = mn->metadata;
	row.client_id = mn->client_id;
	row.created_at = mn->created_at;
	/* The quoted message (already checked to be in this conversation). */
	if (mn->reply_to_id && message_db_get(ctx->db, ctx->arena, mn->sender_id,
	    mn->reply_to_id, &r) == 0 && r.nrows) {
		row.rp_id = mn->reply_to_id;
		row.rp_sender = db_get(&r, 0, "sender_id");
		row.rp_type = db_get(&r, 0, "type");
		row.rp_content = db_get(&r, 0, "content");
		row.rp_deleted = db_get(&r, 0, "deleted_at");
		row.rp_encrypted = db_get(&r, 0, "encrypted") != NULL;
	}
	return message_view_json(&row, NULL, NULL);
}

enum status
message_send(const struct svc_ctx *ctx, const char *sender_id,
	const json_t *input, const char *idempotency_key, json_t **out,
	int *created, struct svc_error *e)
{
	struct message_input si;
	struct msg_new mn;
	char id[IDS_UUID_LEN], cid[IDS_UUID_LEN], at[MSGFMT_DBTIME_LEN];
	const char *kind = NULL, *dkey = NULL, *root = NULL;
	struct sender snd;
	enum status st;
	json_t *msg;
	int dup = 0, rc;

	*out = NULL;
	*created = 0;
	st = conv_check_idempotency_key(idempotency_key, e);
	if (st != ST_OK)
		return st;
	st = message_input_parse(ctx, input, &si, e);
	if (st != ST_OK)
		return st;
	switch (si.target) {
	case MESSAGE_TO_USER:
		if (strcmp(si.target_id, sender_id) == 0)
			return invalid(e, "receiverId",
			    "you cannot send a direct message to yourself");
		dkey = direct_key(ctx, sender_id, si.target_id);
		st = direct_open(ctx, sender_id, si.target_id, dkey,
		    si.has_parent ? "parentId" : si.has_reply ? "replyTo" : NULL,
		    cid, e);
		if (st != ST_OK)
			return st;
		kind = "DIRECT";
		break;
	case MESSAGE_TO_GROUP:
		memcpy(cid, si.target_id, IDS_UUID_LEN);
		kind = "GROUP";
		break;
	default:
		memcpy(cid, si.target_id, IDS_UUID_LEN);
		switch (message_db_conversation(ctx->db, ctx->arena, cid, &kind,
		    &dkey)) {
		case -1:
			return conv_db_error(ctx->db, e);
		case 1:
			return no_conversation(e);
		}
		/* A second look for DMs only: group sends pay nothing. */
		rc = kind && strcmp(kind, "DIRECT") == 0 ?
		    message_db_peer_gone(ctx->db, ctx->arena, cid, sender_id) :
		    0;
		if (rc == -1)
			return conv_db_error(ctx->db, e);
		if (rc == 1)
			return peer_gone(e);
		break;
	}
	/*
	 * Only members learn whether a message is in the conversation (the
	 * send itself checks membership too, later, for every target).
	 */
	if ((si.has_parent || si.has_reply) && si.target != MESSAGE_TO_USER)
		switch (group_db_is_member(ctx->db, ctx->arena, cid, sender_id,
		    NULL)) {
		case -1:
			return conv_db_error(ctx->db, e);
		case 0:
			return no_conversation(e);
		}
	if (si.has_parent) {
		st = locate(ctx, si.parent, cid, "parentId", &root, e);
		if (st != ST_OK)
			return st;
	}
	if (si.has_reply && strcmp(si.reply, si.parent) != 0) {
		st = locate(ctx, si.reply, cid, "replyTo", NULL, e);
		if (st != ST_OK)
			return st;
	}
	ids_uuid7(id);
	msgfmt_db_time(msgfmt_uuid7_ms(id), at);
	memset(&mn, 0, sizeof(mn));
	mn.id = id;
	mn.conversation_id = cid;
	mn.sender_id = sender_id;
	mn.type = si.type;
	mn.content = si.content;
	mn.encrypted = si.envelope;
	mn.parent_id = root;
	mn.reply_to_id = si.has_reply ? si.reply : si.has_parent ? si.parent :
	    NULL;
	mn.metadata = si.metadata;
	mn.client_id = si.client_id;
	mn.idempotency_key = idempotency_key;
	mn.created_at = at;
	st = sender_load(ctx, sender_id, &snd, e);
	if (st != ST_OK)
		return st;
	msg = new_message(ctx, &mn, kind, dkey, &snd);
	json_decref(snd.view);
	for (int attempt = 0;; attempt++) {
		st = send_tx(ctx, &mn, kind, msg, &dup, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st == ST_OK) {
		*out = msg;
		*created = 1;
		return ST_OK;
	}
	if (!dup) {
		json_decref(msg);
		return st;
	}
	/*
	 * Our own id already there: the first attempt committed but its
	 * answer was lost with the connection (db.c then retries once).
	 */
	rc = message_db_exists(ctx->db, ctx->arena, id);
	if (rc == 1) {
		*out = msg;
		*created = 1;
		return ST_OK;
	}
	json_decref(msg);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	/* A retry of an earlier send: answer with the original message. */
	switch (message_db_find_retry(ctx->db, ctx->arena, sender_id,
	    si.client_id, idempotency_key, id)) {
	case -1:
		return conv_db_error(ctx->db, e);
	case 1:
		return svc_fail(e, ST_CONFLICT, NULL,
		    "A concurrent request with this key failed; retry");
	}
	return message_get(ctx, sender_id, id, out, e);
}

/*
 * Reads message id for reader uid: the row (*m), and the receipts of its
 * conversation (*rc, may be NULL). Not visible -> ST_NOT_FOUND.
 */
static enum status
load(const struct svc_ctx *ctx, const char *uid, const char *id_in,
	struct msg_row *m, struct receipts *rc, struct svc_error *e)
{
	char id[IDS_UUID_LEN];
	struct db_rows r, q;
	struct msg_row *rows;

	if (conv_id(id_in, id) == -1)
		return not_found(e);
	if (message_db_get(ctx->db, ctx->arena, uid, id, &r) == -1)
		return conv_db_error(ctx->db, e);
	if (r.nrows == 0)
		return not_found(e);
	message_db_rows(&r, ctx->arena, &rows);
	if (!rows[0].my_role || rows[0].conv_deleted)
		return not_found(e);
	*m = rows[0];
	if (!rc)
		return ST_OK;
	if (message_db_receipts(ctx->db, ctx->arena, m->conversation_id, uid,
	    &q) == -1)
		return conv_db_error(ctx->db, e);
	message_view_receipts(&q, rc);
	return rc->member ? ST_OK : not_found(e);
}

enum status
message_get(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **out, struct svc_error *e)
{
	struct msg_row m;
	struct receipts rc;
	enum status st;

	*out = NULL;
	st = load(ctx, user_id, message_id, &m, &rc, e);
	if (st != ST_OK)
		return st;
	*out = message_view_json(&m, user_id, &rc);
	return ST_OK;
}

/* Whether uid may edit m: ST_OK, or why not. */
static enum status
may_edit(const struct msg_row *m, const char *uid, struct svc_error *e)
{
	if (!m->my_role || m->conv_deleted)
		return not_found(e);
	if (!m->sender_id || strcmp(m->sender_id, uid) != 0)
		return svc_fail(e, ST_FORBIDDEN, "MESSAGE_EDIT_DENIED",
		    "You can only edit your own messages");
	if (m->deleted_at)
		return svc_fail(e, ST_FORBIDDEN, "MESSAGE_EDIT_DENIED",
		    "A deleted message cannot be edited");
	return ST_OK;
}

/* Whether uid may delete m (deleted or not): ST_OK, or why not. */
static enum status
may_delete(const struct msg_row *m, const char *uid, struct svc_error *e)
{
	int own, moderator;

	if (!m->my_role || m->conv_deleted)
		return not_found(e);
	own = m->sender_id && strcmp(m->sender_id, uid) == 0;
	moderator = m->kind && strcmp(m->kind, "GROUP") == 0 &&
	    group_role_parse(m->my_role) >= GROUP_ROLE_MODERATOR;
	if (!own && !moderator)
		return svc_fail(e, ST_FORBIDDEN, "MESSAGE_DELETE_DENIED",
		    "You cannot delete this message");
	return ST_OK;
}

/*
 * BEGIN, lock m (message_db_lock) and ask may() again on what the locks
 * read: a removal or demotion that committed after load() decides, not
 * the role read then. On failure the transaction is rolled back.
 */
static enum status
begin_locked(const struct svc_ctx *ctx, const char *uid, struct msg_row *m,
	enum status (*may)(const struct msg_row *, const char *,
	struct svc_error *), struct svc_error *e)
{
	enum status st;

	if (db_begin(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	switch (message_db_lock(ctx->db, ctx->arena, uid, m)) {
	case -1:
		return conv_db_error(ctx->db, e);
	case 1:
		db_rollback(ctx->db);
		return not_found(e);
	}
	st = may(m, uid, e);
	if (st != ST_OK)
		db_rollback(ctx->db);
	return st;
}

static enum status
edit_tx(const struct svc_ctx *ctx, const char *uid, struct msg_row *m,
	const struct receipts *rc, json_t **out, struct svc_error *e)
{
	struct conv_now now;
	uint64_t affected = 0;
	enum status st;
	json_t *msg;

	conv_now(&now);
	st = begin_locked(ctx, uid, m, may_edit, e);
	if (st != ST_OK)
		return st;
	if (message_db_edit(ctx->db, m->id, uid, m->content, m->encrypted,
	    now.db, &affected) == -1)
		return conv_db_error(ctx->db, e);
	if (affected == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, "MESSAGE_EDIT_DENIED",
		    "This message can no longer be edited");
	}
	m->edited_at = arena_strdup(ctx->arena, now.db);
	msg = message_view_json(m, NULL, rc);
	if (conv_event(ctx->db, OUTBOX_CONVERSATION, m->conversation_id,
	    "message:edit", msg) == -1 || db_commit(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	outbox_nudge(ctx->cfg);
	histcache_bump(ctx, m->conversation_id);
	*out = message_view_json(m, uid, rc);
	return ST_OK;
}

enum status
message_edit(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, const json_t *input, json_t **out,
	struct svc_error *e)
{
	struct msg_row m;
	struct receipts rc;
	const char *text;
	char *envelope;
	enum status st;

	*out = NULL;
	st = load(ctx, user_id, message_id, &m, &rc, e);
	if (st != ST_OK)
		return st;
	/* Answered before the content is read; edit_tx() decides. */
	st = may_edit(&m, user_id, e);
	if (st != ST_OK)
		return st;
	st = message_input_content(ctx, json_object_get(input, "content"), &text,
	    &envelope, e);
	if (st != ST_OK)
		return st;
	if (!text && !envelope)
		return invalid(e, "content", "content is required");
	if ((m.encrypted != NULL) != (envelope != NULL))
		return invalid(e, "content", m.encrypted ?
		    "an encrypted message is edited with an envelope" :
		    "a plain message is edited with text");
	m.content = text;
	m.encrypted = envelope;
	for (int attempt = 0;; attempt++) {
		st = edit_tx(ctx, user_id, &m, &rc, out, e);
		if (!conv_retry(ctx->db, st, attempt))
			return st;
	}
}

enum status
message_versions(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **items, struct svc_error *e)
{
	struct msg_row m;
	struct db_rows r;
	enum status st;

	*items = NULL;
	st = load(ctx, user_id, message_id, &m, NULL, e);
	if (st != ST_OK)
		return st;
	if (message_db_edits(ctx->db, ctx->arena, m.id, &r) == -1)
		return conv_db_error(ctx->db, e);
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		json_t *v = json_object();
		const char *enc = db_get(&r, i, "encrypted");

		if (enc)
			json_object_set_new(v, "content", json_loads(enc, 0, NULL));
		else
			jsonx_set_str(v, "content", db_get(&r, i, "content"));
		json_object_set_new(v, "isEncrypted", json_boolean(enc != NULL));
		jsonx_set_time(v, "validFrom", db_get(&r, i, "valid_from"));
		jsonx_set_time(v, "replacedAt", db_get(&r, i, "replaced_at"));
		json_array_append_new(*items, v);
	}
	return ST_OK;
}

static json_t *
deleted_json(const struct msg_row *m, const char *by, const char *at)
{
	json_t *o = json_object();
	int direct = m->kind && strcmp(m->kind, "DIRECT") == 0;

	jsonx_set_str(o, "id", m->id);
	jsonx_set_str(o, "messageId", m->id);
	jsonx_set_str(o, "conversationId", m->conversation_id);
	jsonx_set_str(o, "groupId", direct ? NULL : m->conversation_id);
	json_object_set_new(o, "deleted", json_true());
	jsonx_set_str(o, "deletedBy", by);
	jsonx_set_time(o, "deletedAt", at);
	return o;
}

static enum status
delete_tx(const struct svc_ctx *ctx, const char *uid, struct msg_row *m,
	json_t **out, struct svc_error *e)
{
	struct conv_now now;
	uint64_t affected = 0;
	enum status st;

	conv_now(&now);
	st = begin_locked(ctx, uid, m, may_delete, e);
	if (st != ST_OK)
		return st;
	if (m->deleted_at) {
		/* Deleted before, or meanwhile: who did it and when. */
		db_rollback(ctx->db);
		*out = deleted_json(m, m->deleted_by, m->deleted_at);
		return ST_OK;
	}
	if (message_db_delete(ctx->db, m->id, uid, now.db, &affected) == -1)
		return conv_db_error(ctx->db, e);
	*out = deleted_json(m, uid, now.db);
	if (conv_event(ctx->db, OUTBOX_CONVERSATION, m->conversation_id,
	    "message:delete", json_deep_copy(*out)) == -1 ||
	    db_commit(ctx->db) == -1) {
		json_decref(*out);
		*out = NULL;
		return conv_db_error(ctx->db, e);
	}
	outbox_nudge(ctx->cfg);
	histcache_bump(ctx, m->conversation_id);
	return ST_OK;
}

enum status
message_delete(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **out, struct svc_error *e)
{
	struct msg_row m;
	enum status st;

	*out = NULL;
	st = load(ctx, user_id, message_id, &m, NULL, e);
	if (st != ST_OK)
		return st;
	for (int attempt = 0;; attempt++) {
		st = delete_tx(ctx, user_id, &m, out, e);
		if (!conv_retry(ctx->db, st, attempt))
			return st;
	}
}

static enum status
deleted_conflict(struct svc_error *e)
{
	return svc_fail(e, ST_CONFLICT, NULL,
	    "A deleted message cannot be reacted to");
}

/* Whether uid may react to m: ST_OK, or why not. */
static enum status
may_react(const struct msg_row *m, const char *uid, struct svc_error *e)
{
	(void)uid;
	if (!m->my_role || m->conv_deleted)
		return not_found(e);
	return m->deleted_at ? deleted_conflict(e) : ST_OK;
}

static enum status
react_tx(const struct svc_ctx *ctx, const char *uid, struct msg_row *m,
	const char *emoji, int add, const char **concat, size_t *len,
	struct svc_error *e)
{
	struct db *db = ctx->db;
	uint64_t affected = 0;
	long mine = 0;
	enum status st;
	json_t *p;

	/*
	 * The message row, locked, orders this against its deletion (which
	 * drops its reactions) and against the same user's other reactions,
	 * whose count the limit reads; the member row read under the group's
	 * shared lock, against a removal under way.
	 */
	st = begin_locked(ctx, uid, m, may_react, e);
	if (st != ST_OK)
		return st;
	if (add) {
		if (message_db_react_count(db, ctx->arena, m->id, uid, &mine) == -1)
			return conv_db_error(db, e);
		if (mine >= MESSAGE_REACTIONS_PER_USER) {
			db_rollback(db);
			return invalid(e, "emoji",
			    "at most 20 different reactions per message");
		}
		if (message_db_react_add(db, m->id, uid, emoji) == -1) {
			if (db_errno(db) != DB_ERR_DUP)
				return conv_db_error(db, e);
		} else {
			affected = 1;
		}
	} else if (message_db_react_del(db, m->id, uid, emoji, &affected) == -1) {
		return conv_db_error(db, e);
	}
	if (affected == 0) {
		db_rollback(db);
		if (message_db_reactions(db, ctx->arena, m->id, concat, len) == -1)
			return conv_db_error(db, e);
		return ST_OK;
	}
	if (message_db_reactions(db, ctx->arena, m->id, concat, len) == -1)
		return conv_db_error(db, e);
	p = json_object();
	jsonx_set_str(p, "messageId", m->id);
	jsonx_set_str(p, "conversationId", m->conversation_id);
	jsonx_set_str(p, "groupId", strcmp(m->kind, "DIRECT") == 0 ? NULL :
	    m->conversation_id);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "emoji", emoji);
	jsonx_set_str(p, "action", add ? "add" : "remove");
	json_object_set_new(p, "reactions",
	    message_view_reactions(*concat, *len, NULL));
	if (conv_event(db, OUTBOX_CONVERSATION, m->conversation_id,
	    "message:react", p) == -1 || db_commit(db) == -1)
		return conv_db_error(db, e);
	outbox_nudge(ctx->cfg);
	histcache_bump(ctx, m->conversation_id);
	return ST_OK;
}

enum status
message_react(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, const char *emoji, int add, json_t **out,
	struct svc_error *e)
{
	const char *concat = NULL;
	struct msg_row m;
	size_t len = 0;
	enum status st;

	*out = NULL;
	if (!emoji || !msgfmt_emoji_ok(emoji))
		return invalid(e, "emoji",
		    "emoji must be one emoji (at most 32 bytes)");
	st = load(ctx, user_id, message_id, &m, NULL, e);
	if (st != ST_OK)
		return st;
	if (m.deleted_at)
		return deleted_conflict(e);
	for (int attempt = 0;; attempt++) {
		st = react_tx(ctx, user_id, &m, emoji, add, &concat, &len, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	*out = json_object();
	jsonx_set_str(*out, "messageId", m.id);
	jsonx_set_str(*out, "emoji", emoji);
	jsonx_set_str(*out, "action", add ? "add" : "remove");
	json_object_set_new(*out, "reactions",
	    message_view_reactions(concat, len, user_id));
	return ST_OK;
}
