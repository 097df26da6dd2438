#include <string.h>

#include "conv.h"
#include "db.h"
#include "group_db.h"
#include "ids.h"
#include "jsonx.h"
#include "message_input.h"
#include "svc.h"
#include "banned.h"

enum status
conv_db_error(struct db *db, struct svc_error *e)
{
	db_rollback(db);
	return svc_fail(e, ST_UNAVAILABLE, NULL, "The database is unavailable");
}

enum status
conv_check_idempotency_key(const char *key, struct svc_error *e)
{
	if (!key || message_input_token_ok(key, CONV_IDEMPOTENCY_KEY_MAX, 1))
		return ST_OK;
	e->field = "Idempotency-Key";
	return svc_fail(e, ST_INVALID, NULL,
	    "Idempotency-Key must be 1-128 printable ASCII characters");
}

int
conv_retry(struct db *db, enum status st, int attempt)
{
	return st == ST_UNAVAILABLE && db_errno(db) == DB_ERR_DEADLOCK &&
	    attempt + 1 < CONV_TX_ATTEMPTS;
}

enum status
conv_user_active(const struct svc_ctx *ctx, const char *uid,
	struct svc_error *e)
{
	int rc = group_db_user_active(ctx->db, ctx->arena, uid);

	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	return ST_OK;
}

int
conv_event(struct db *db, enum outbox_target kind, const char *target,
	const char *type, json_t *payload)
{
	int rc = outbox_add(db, kind, target, type, payload);

	json_decref(payload);
	return rc;
}

void
conv_now(struct conv_now *now)
{
	now->ms = timefmt_now_ms();
	timefmt_iso(now->ms, now->iso);
	msgfmt_db_time(now->ms, now->db);
}

int
conv_id(const char *id, char out[IDS_UUID_LEN])
{
	return msgfmt_uuid_norm(id, out);
}

json_t *
conv_join_payload(const char *gid, const char *uid, const char *role,
	json_t *user, const char *by, const char *via, const char *at)
{
	json_t *p = json_object();

	jsonx_set_str(p, "groupId", gid);
	jsonx_set_str(p, "conversationId", gid);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "role", role);
	json_object_set(p, "user", user ? user : json_null());
	jsonx_set_str(p, "addedBy", by);
	jsonx_set_str(p, "via", via);
	jsonx_set_str(p, "joinedAt", at);
	return p;
}

int
conv_emit_join(struct db *db, const char *gid, const char *uid,
	const char *role, json_t *user, const char *by, const char *via,
	const char *at)
{
	json_t *p = conv_join_payload(gid, uid, role, user, by, via, at);
	int rc = outbox_add(db, OUTBOX_CONVERSATION, gid, "group:member:join", p);

	if (rc == 0)
		rc = outbox_add(db, OUTBOX_USER, uid, "group:member:join", p);
	json_decref(p);
	return rc;
}

int
conv_emit_leave(struct db *db, const char *gid, const char *uid,
	const char *reason, const char *by, const char *new_owner)
{
	json_t *p = json_object();
	int rc;

	jsonx_set_str(p, "groupId", gid);
	jsonx_set_str(p, "conversationId", gid);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "reason", reason);
	jsonx_set_str(p, "removedBy", by);
	jsonx_set_str(p, "newOwnerId", new_owner && *new_owner ? new_owner :
	    NULL);
	rc = outbox_add(db, OUTBOX_CONVERSATION, gid, "group:member:leave", p);
	if (rc == 0)
		rc = outbox_add(db, OUTBOX_USER, uid, "group:member:leave", p);
	json_decref(p);
	return rc;
}
