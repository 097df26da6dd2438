#include <stdio.h>
#include <string.h>

#include "invite_db.h"
#include "jsonx.h"
#include "banned.h"

/*
 * current_uses counts the members who got in with an invitation; each
 * pending join request made with it holds one more use until it is
 * decided. Counting the requests (rather than a use per request) gives a
 * use back whichever way a request ends: rejected, its user admitted
 * another way or deleted. The scan stays inside the group's own primary
 * key range, which joining and approving hold locked anyway.
 */
#define PENDING \
	"(SELECT COUNT(*) FROM join_requests jr" \
	" WHERE jr.conversation_id = invitations.conversation_id" \
	" AND jr.invitation_id = invitations.id)"
#define USABLE \
	"revoked_at IS NULL AND (expires_at IS NULL OR expires_at > NOW(3))" \
	" AND (max_uses IS NULL OR current_uses + " PENDING " < max_uses)"
#define INVITE_COLS \
	"id, conversation_id, code, title, created_by, max_uses, current_uses," \
	" " PENDING " AS pending, require_approval, expires_at, revoked_at," \
	" created_at, (" USABLE ") AS active"
#define IN_DAY "created_at > NOW(3) - INTERVAL 1 DAY"

static const char sql_insert[] =
	"INSERT INTO invitations (id, conversation_id, code, title, created_by,"
	" max_uses, require_approval, expires_at, idempotency_key)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_find_idempotent[] =
	"SELECT id, conversation_id FROM invitations"
	" WHERE created_by = ? AND idempotency_key = ?";
static const char sql_counts[] =
	"SELECT COALESCE(SUM(" IN_DAY "), 0) AS day,"
	" COALESCE(SUM(" USABLE "), 0) AS active,"
	" COALESCE(TIMESTAMPDIFF(SECOND, NOW(3),"
	" MIN(IF(" IN_DAY ", created_at, NULL)) + INTERVAL 1 DAY), 0) AS retry"
	" FROM invitations WHERE conversation_id = ?";
static const char sql_list[] =
	"SELECT " INVITE_COLS " FROM invitations WHERE conversation_id = ?"
	" AND (? IS NULL OR created_by = ?)"
	" ORDER BY created_at DESC, id DESC LIMIT 500";
static const char sql_get[] =
	"SELECT " INVITE_COLS " FROM invitations"
	" WHERE id = ? AND conversation_id = ?";
static const char sql_revoke[] =
	"UPDATE invitations SET revoked_at = NOW(3)"
	" WHERE id = ? AND revoked_at IS NULL";
static const char sql_revoke_requests[] =
	"DELETE FROM join_requests"
	" WHERE conversation_id = ? AND invitation_id = ?";
static const char sql_group_of[] =
	"SELECT conversation_id FROM invitations WHERE code = ?";
static const char sql_lock_code[] =
	"SELECT " INVITE_COLS " FROM invitations WHERE code = ? FOR UPDATE";
static const char sql_use[] =
	"UPDATE invitations SET current_uses = current_uses + 1 WHERE id = ?";
static const char sql_request_add[] =
	"INSERT INTO join_requests (conversation_id, user_id, invitation_id)"
	" VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE created_at = created_at";
/*
 * A join request lives as long as its invitation (i) is not revoked. It
 * was made while the code was valid, so the invitation expiring does not
 * end it (admins may take longer than the default 24 hours), and neither
 * does "used up": the request itself holds its slot.
 */
#define REQUEST_LIVE "(i.id IS NOT NULL AND i.revoked_at IS NULL)"
/* A request with its user's summary (invite_db_request_json). */
#define REQUEST_ROW \
	"SELECT jr.user_id, jr.invitation_id, jr.created_at, u.username," \
	" u.display_name, u.avatar_url" \
	" FROM join_requests jr JOIN users u ON u.id = jr.user_id"
/* Only requests that could be approved: live, of an active account. */
static const char sql_requests[] =
	REQUEST_ROW " AND u.is_active = 1 AND u.deleted_at IS NULL"
	" LEFT JOIN invitations i ON i.id = jr.invitation_id"
	" WHERE jr.conversation_id = ? AND " REQUEST_LIVE
	" ORDER BY jr.created_at, jr.user_id LIMIT 500";
static const char sql_request_lock[] =
	"SELECT " REQUEST_LIVE " AS live, jr.invitation_id FROM join_requests jr"
	" LEFT JOIN invitations i ON i.id = jr.invitation_id"
	" WHERE jr.conversation_id = ? AND jr.user_id = ? FOR UPDATE";
static const char sql_request_drop_dead[] =
	"DELETE jr FROM join_requests jr"
	" LEFT JOIN invitations i ON i.id = jr.invitation_id"
	" WHERE jr.conversation_id = ? AND jr.user_id = ?"
	" AND NOT " REQUEST_LIVE;
static const char sql_request_get[] =
	REQUEST_ROW " WHERE jr.conversation_id = ? AND jr.user_id = ?";
static const char sql_deciders[] =
	"SELECT user_id FROM members WHERE conversation_id = ?"
	" AND role IN ('OWNER', 'ADMIN')";
static const char sql_request_del[] =
	"DELETE FROM join_requests WHERE conversation_id = ? AND user_id = ?";

int
invite_db_insert(struct db *db, const char *id, const char *gid,
	const char *code, const char *title, const char *created_by,
	int64_t max_uses, int require_approval, const char *expires_at,
	const char *idempotency_key)
{
	/* max_uses < 0 stores NULL (unlimited). */
	if (max_uses < 0)
		return db_exec(db, NULL, sql_insert, "ssssssiss", id, gid, code,
		    title, created_by, (const char *)NULL,
		    (int64_t)require_approval, expires_at, idempotency_key);
	return db_exec(db, NULL, sql_insert, "sssssiiss", id, gid, code, title,
	    created_by, max_uses, (int64_t)require_approval, expires_at,
	    idempotency_key);
}

int
invite_db_find_idempotent(struct db *db, struct arena *a,
	const char *created_by, const char *key, char id[IDS_UUID_LEN],
	char gid[IDS_UUID_LEN])
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_find_idempotent, "ss", created_by, key) == -1)
		return -1;
	if (r.nrows == 0)
		return 0;
	snprintf(id, IDS_UUID_LEN, "%s", db_get(&r, 0, "id"));
	snprintf(gid, IDS_UUID_LEN, "%s", db_get(&r, 0, "conversation_id"));
	return 1;
}

int
invite_db_counts(struct db *db, struct arena *a, const char *gid, long *day,
	long *active, long *retry)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_counts, "s", gid) == -1)
		return -1;
	*day = (long)db_get_int(&r, 0, "day");
	*active = (long)db_get_int(&r, 0, "active");
	*retry = (long)db_get_int(&r, 0, "retry");
	return 0;
}

int
invite_db_list(struct db *db, struct arena *a, const char *gid,
	const char *created_by, struct db_rows *out)
{
	return db_query(db, a, out, sql_list, "sss", gid, created_by, created_by);
}

int
invite_db_get(struct db *db, struct arena *a, const char *gid, const char *id,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_get, "ss", id, gid);
}

int
invite_db_revoke(struct db *db, const char *gid, const char *id)
{
	if (db_exec(db, NULL, sql_revoke, "s", id) == -1)
		return -1;
	return db_exec(db, NULL, sql_revoke_requests, "ss", gid, id);
}

int
invite_db_group_of(struct db *db, struct arena *a, const char *code,
	char gid[37])
{
	struct db_rows r;
	const char *v;

	if (db_query(db, a, &r, sql_group_of, "s", code) == -1)
		return -1;
	v = r.nrows ? db_cell(&r, 0, 0) : NULL;
	if (!v || strlen(v) != 36)
		return 1;
	memcpy(gid, v, 37);
	return 0;
}

int
invite_db_lock_code(struct db *db, struct arena *a, const char *code,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_lock_code, "s", code);
}

int
invite_db_use(struct db *db, const char *id)
{
	return db_exec(db, NULL, sql_use, "s", id);
}

int
invite_db_request_add(struct db *db, const char *gid, const char *uid,
	const char *invitation_id, uint64_t *affected)
{
	return db_exec(db, affected, sql_request_add, "sss", gid, uid,
	    invitation_id);
}

int
invite_db_request_lock(struct db *db, struct arena *a, const char *gid,
	const char *uid, int *live, char iid[IDS_UUID_LEN])
{
	struct db_rows r;

	*live = 0;
	if (db_query(db, a, &r, sql_request_lock, "ss", gid, uid) == -1)
		return -1;
	if (r.nrows == 0)
		return 1;
	*live = db_get_int(&r, 0, "live") != 0;
	snprintf(iid, IDS_UUID_LEN, "%s", db_get(&r, 0, "invitation_id") ?
	    db_get(&r, 0, "invitation_id") : "");
	return 0;
}

int
invite_db_request_drop_dead(struct db *db, const char *gid, const char *uid)
{
	return db_exec(db, NULL, sql_request_drop_dead, "ss", gid, uid);
}

int
invite_db_request_get(struct db *db, struct arena *a, const char *gid,
	const char *uid, struct db_rows *out)
{
	return db_query(db, a, out, sql_request_get, "ss", gid, uid);
}

int
invite_db_deciders(struct db *db, struct arena *a, const char *gid,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_deciders, "s", gid);
}

int
invite_db_requests(struct db *db, struct arena *a, const char *gid,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_requests, "s", gid);
}

int
invite_db_request_del(struct db *db, const char *gid, const char *uid,
	uint64_t *affected)
{
	return db_exec(db, affected, sql_request_del, "ss", gid, uid);
}

json_t *
invite_db_json(const struct db_rows *r, size_t i, const char *public_url)
{
	json_t *o = json_object();
	const char *code = db_get(r, i, "code");
	const char *max = db_get(r, i, "max_uses");
	size_t n = strlen(public_url);
	char url[2300];

	while (n && public_url[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s/join/%s", (int)n, public_url,
	    code ? code : "");
	jsonx_set_str(o, "id", db_get(r, i, "id"));
	jsonx_set_str(o, "groupId", db_get(r, i, "conversation_id"));
	jsonx_set_str(o, "code", code);
	jsonx_set_str(o, "inviteCode", code);
	jsonx_set_str(o, "inviteUrl", url);
	jsonx_set_str(o, "title", db_get(r, i, "title"));
	json_object_set_new(o, "maxUses", max ?
	    json_integer((json_int_t)db_get_int(r, i, "max_uses")) : json_null());
	json_object_set_new(o, "currentUses",
	    json_integer((json_int_t)db_get_int(r, i, "current_uses")));
	json_object_set_new(o, "pendingRequests",
	    json_integer((json_int_t)db_get_int(r, i, "pending")));
	json_object_set_new(o, "requireApproval",
	    json_boolean(db_get_int(r, i, "require_approval") != 0));
	json_object_set_new(o, "isActive",
	    json_boolean(db_get_int(r, i, "active") != 0));
	jsonx_set_time(o, "expiresAt", db_get(r, i, "expires_at"));
	jsonx_set_time(o, "revokedAt", db_get(r, i, "revoked_at"));
	jsonx_set_str(o, "createdBy", db_get(r, i, "created_by"));
	jsonx_set_time(o, "createdAt", db_get(r, i, "created_at"));
	return o;
}

json_t *
invite_db_request_json(const struct db_rows *r, size_t i)
{
	json_t *o = json_object(), *u = json_object();

	jsonx_set_str(u, "id", db_get(r, i, "user_id"));
	jsonx_set_str(u, "username", db_get(r, i, "username"));
	jsonx_set_str(u, "displayName", db_get(r, i, "display_name"));
	jsonx_set_str(u, "avatar", db_get(r, i, "avatar_url"));
	jsonx_set_str(o, "userId", db_get(r, i, "user_id"));
	json_object_set_new(o, "user", u);
	jsonx_set_str(o, "invitationId", db_get(r, i, "invitation_id"));
	jsonx_set_str(o, "status", "PENDING");
	jsonx_set_time(o, "createdAt", db_get(r, i, "created_at"));
	return o;
}
