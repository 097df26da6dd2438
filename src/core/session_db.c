#include <stddef.h>

#include "session_db.h"
#include "banned.h"

static const char sql_create[] =
	"INSERT INTO sessions (id, user_id, user_agent, ip, expires_at)"
	" VALUES (?, ?, ?, ?, NOW(3) + INTERVAL ? SECOND)";
static const char sql_add_refresh[] =
	"INSERT INTO refresh_tokens (token_hash, session_id, expires_at)"
	" VALUES (?, ?, NOW(3) + INTERVAL ? SECOND)";
static const char sql_refresh_get[] =
	"SELECT rt.session_id, s.user_id, u.role,"
	" rt.used_at IS NOT NULL AS used,"
	" rt.expires_at > NOW(3) AS token_live,"
	" s.revoked_at IS NULL AS session_open,"
	" s.expires_at > NOW(3) AS session_live,"
	" (u.is_active = 1 AND u.deleted_at IS NULL) AS user_active"
	" FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id"
	" JOIN users u ON u.id = s.user_id WHERE rt.token_hash = ?";
static const char sql_refresh_use[] =
	"UPDATE refresh_tokens SET used_at = NOW(3)"
	" WHERE token_hash = ? AND used_at IS NULL";
static const char sql_touch[] =
	"UPDATE sessions SET last_used_at = NOW(3),"
	" expires_at = NOW(3) + INTERVAL ? SECOND WHERE id = ?";
static const char sql_revoke[] =
	"UPDATE sessions SET revoked_at = NOW(3), revoke_reason = ?"
	" WHERE id = ? AND revoked_at IS NULL";
static const char sql_live_of_user[] =
	"SELECT id FROM sessions WHERE user_id = ? AND (revoked_at IS NULL"
	" OR revoked_at >= NOW(3) - INTERVAL ? SECOND)"
	" AND expires_at > NOW(3) FOR UPDATE";
static const char sql_revoke_user[] =
	"UPDATE sessions SET revoked_at = NOW(3), revoke_reason = ?"
	" WHERE user_id = ? AND revoked_at IS NULL";
static const char sql_failure_add[] =
	"INSERT INTO login_failures (account) VALUES (?)";
static const char sql_failure_count[] =
	"SELECT COUNT(*) AS n, TIMESTAMPDIFF(SECOND, NOW(3),"
	" MIN(at) + INTERVAL 1 HOUR) AS retry FROM login_failures"
	" WHERE account = ? AND at > NOW(3) - INTERVAL 1 HOUR";
static const char sql_failure_release[] =
	"DELETE FROM login_failures WHERE account = ? ORDER BY id DESC LIMIT 1";
static const char sql_failure_prune[] =
	"DELETE FROM login_failures WHERE at < NOW(3) - INTERVAL 1 HOUR LIMIT 1000";

int
session_db_create(struct db *db, const char *sid, const char *user_id,
	const char *user_agent, const char *ip, long ttl_s)
{
	return db_exec(db, NULL, sql_create, "ssssi", sid, user_id, user_agent,
	    ip, (int64_t)ttl_s);
}

int
session_db_add_refresh(struct db *db, const unsigned char hash[32],
	const char *sid, long ttl_s)
{
	return db_exec(db, NULL, sql_add_refresh, "bsi", hash, (size_t)32, sid,
	    (int64_t)ttl_s);
}

int
session_db_refresh_get(struct db *db, struct arena *a,
	const unsigned char hash[32], struct db_rows *out)
{
	return db_query(db, a, out, sql_refresh_get, "b", hash, (size_t)32);
}

int
session_db_refresh_use(struct db *db, const unsigned char hash[32],
	uint64_t *affected)
{
	return db_exec(db, affected, sql_refresh_use, "b", hash, (size_t)32);
}

int
session_db_touch(struct db *db, const char *sid, long ttl_s)
{
	return db_exec(db, NULL, sql_touch, "is", (int64_t)ttl_s, sid);
}

int
session_db_revoke(struct db *db, const char *sid, const char *reason,
	uint64_t *affected)
{
	return db_exec(db, affected, sql_revoke, "ss", reason, sid);
}

int
session_db_live_of_user(struct db *db, struct arena *a, const char *user_id,
	long recent_s, struct db_rows *out)
{
	return db_query(db, a, out, sql_live_of_user, "si", user_id,
	    (int64_t)recent_s);
}

int
session_db_revoke_user(struct db *db, const char *user_id, const char *reason)
{
	return db_exec(db, NULL, sql_revoke_user, "ss", reason, user_id);
}

int
session_db_failure_add(struct db *db, const char *account)
{
	return db_exec(db, NULL, sql_failure_add, "s", account);
}

int
session_db_failure_count(struct db *db, struct arena *a, const char *account,
	long *count, long *retry_s)
{
	struct db_rows rows;

	if (db_query(db, a, &rows, sql_failure_count, "s", account) == -1)
		return -1;
	*count = rows.nrows ? (long)db_get_int(&rows, 0, "n") : 0;
	*retry_s = rows.nrows ? (long)db_get_int(&rows, 0, "retry") : 0;
	return 0;
}

int
session_db_failure_release(struct db *db, const char *account)
{
	return db_exec(db, NULL, sql_failure_release, "s", account);
}

int
session_db_failure_prune(struct db *db)
{
	return db_exec(db, NULL, sql_failure_prune, "");
}
