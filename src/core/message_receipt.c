/* message_receipt.c - delivered and seen receipts: message_mark(). */
#include <string.h>

#include "conv.h"
#include "db.h"
#include "histcache.h"
#include "jsonx.h"
#include "message.h"
#include "message_db.h"
#include "svc.h"
#include "banned.h"

static enum status
not_found(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Message not found");
}

static int
emit_status(struct db *db, const struct db_rows *r, const char *uid,
	const char *mid, const char *status, const char *at)
{
	const char *cid = db_get(r, 0, "conversation_id");
	const char *kind = db_get(r, 0, "kind");
	const char *sender = db_get(r, 0, "sender_id");
	int direct = kind && strcmp(kind, "DIRECT") == 0;
	json_t *p = json_object();
	int rc;

	jsonx_set_str(p, "messageId", mid);
	jsonx_set_str(p, "conversationId", cid);
	jsonx_set_str(p, "groupId", direct ? NULL : cid);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "status", status);
	jsonx_set_str(p, "at", at);
	if (direct) {
		rc = outbox_add(db, OUTBOX_CONVERSATION, cid, "message:status", p);
	} else {
		/* Group receipts go to the people they concern, not the room. */
		rc = outbox_add(db, OUTBOX_USER, uid, "message:status", p);
		if (rc == 0 && sender && strcmp(sender, uid) != 0)
			rc = outbox_add(db, OUTBOX_USER, sender, "message:status",
			    p);
	}
	json_decref(p);
	return rc;
}

static enum status
mark_tx(const struct svc_ctx *ctx, const char *uid, const char *mid,
	const struct db_rows *r, enum message_mark mark, const char **status,
	struct svc_error *e)
{
	const char *cid = db_get(r, 0, "conversation_id");
	const char *at = db_get(r, 0, "created_at");
	const char *read_at = db_get(r, 0, "last_read_at");
	const char *read_id = db_get(r, 0, "last_read_message_id");
	uint64_t d = 0, s = 0;
	struct conv_now now;
	int seen_before;

	seen_before = read_at && (strcmp(read_at, at) > 0 ||
	    (strcmp(read_at, at) == 0 && read_id && strcmp(read_id, mid) >= 0));
	*status = mark == MESSAGE_MARK_SEEN || seen_before ? "SEEN" : "DELIVERED";
	if (db_begin(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	if (message_db_advance(ctx->db, cid, uid, 0, at, mid, &d) == -1 ||
	    (mark == MESSAGE_MARK_SEEN && message_db_advance(ctx->db, cid, uid,
	    1, at, mid, &s) == -1))
		return conv_db_error(ctx->db, e);
	if (d == 0 && s == 0) {
		db_rollback(ctx->db);
		return ST_OK; /* already there: nothing to announce */
	}
	conv_now(&now);
	if (emit_status(ctx->db, r, uid, mid, s ? "SEEN" : "DELIVERED",
	    now.iso) == -1 || db_commit(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	outbox_nudge(ctx->cfg);
	histcache_bump(ctx, cid);
	return ST_OK;
}

enum status
message_mark(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, enum message_mark mark, json_t **out,
	struct svc_error *e)
{
	char mid[IDS_UUID_LEN];
	const char *status = NULL;
	struct db_rows r;
	enum status st;

	*out = NULL;
	if (conv_id(message_id, mid) == -1)
		return not_found(e);
	if (message_db_mark_access(ctx->db, ctx->arena, user_id, mid, &r) == -1)
		return conv_db_error(ctx->db, e);
	if (r.nrows == 0)
		return not_found(e);
	for (int attempt = 0;; attempt++) {
		st = mark_tx(ctx, user_id, mid, &r, mark, &status, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	*out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", mid, "messageId", mid,
	    "conversationId", db_get(&r, 0, "conversation_id"), "userId",
	    user_id, "status", status);
	return ST_OK;
}
