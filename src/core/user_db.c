#include <string.h>

#include "jsonx.h"
#include "strbuf.h"
#include "user.h"
#include "user_db.h"
#include "banned.h"

#define USER_DB_COLUMNS \
	"id, username, email, display_name, avatar_url, status_message, bio," \
	" location, public_key, role, last_seen, created_at, updated_at"

static const char sql_insert[] =
	"INSERT INTO users (id, username, email, password_hash, display_name,"
	" public_key, role) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char sql_taken[] =
	"SELECT SUM(username = ?) AS u, SUM(email = ?) AS e FROM users"
	" WHERE username = ? OR email = ?";
static const char sql_get[] =
	"SELECT " USER_DB_COLUMNS " FROM users"
	" WHERE id = ? AND is_active = 1 AND deleted_at IS NULL";
static const char sql_find_by_name[] =
	"SELECT id, role, password_hash FROM users"
	" WHERE username = ? AND is_active = 1 AND deleted_at IS NULL";
static const char sql_find_by_email[] =
	"SELECT id, role, password_hash FROM users"
	" WHERE email = ? AND is_active = 1 AND deleted_at IS NULL";
/* One statement for every combination of fields (flag, value pairs). */
static const char sql_update[] =
	"UPDATE users SET"
	" username = IF(?, ?, username),"
	" display_name = IF(?, ?, display_name),"
	" avatar_url = IF(?, ?, avatar_url),"
	" status_message = IF(?, ?, status_message),"
	" bio = IF(?, ?, bio),"
	" location = IF(?, ?, location),"
	" public_key = IF(?, ?, public_key)"
	" WHERE id = ? AND is_active = 1 AND deleted_at IS NULL";
#define SEARCH_WHERE \
	" WHERE is_active = 1 AND deleted_at IS NULL AND (? = ''" \
	" OR username LIKE ? OR display_name LIKE ? OR email = ?)"
static const char sql_search[] =
	"SELECT " USER_DB_COLUMNS " FROM users" SEARCH_WHERE
	" ORDER BY (username = ?) DESC, (username LIKE ?) DESC, username"
	" LIMIT ? OFFSET ?";
static const char sql_search_count[] =
	"SELECT COUNT(*) AS n FROM users" SEARCH_WHERE;
static const char sql_anonymise[] =
	"UPDATE users SET username = ?, email = NULL, password_hash = NULL,"
	" display_name = 'Deleted user', avatar_url = NULL, status_message = NULL,"
	" bio = NULL, location = NULL, public_key = NULL, is_active = 0,"
	" deleted_at = NOW(3) WHERE id = ? AND deleted_at IS NULL";
/*
 * Deleted accounts still in a live group or with a pending join request:
 * deleted before account deletion took them out (older data).
 */
static const char sql_deleted_in_groups[] =
	"SELECT u.id FROM users u WHERE u.deleted_at IS NOT NULL AND (EXISTS"
	" (SELECT 1 FROM members mb JOIN conversations c"
	" ON c.id = mb.conversation_id AND c.kind = 'GROUP'"
	" AND c.deleted_at IS NULL WHERE mb.user_id = u.id)"
	" OR EXISTS (SELECT 1 FROM join_requests jr WHERE jr.user_id = u.id))"
	" ORDER BY u.deleted_at, u.id";
static const char sql_lock_deleted[] =
	"SELECT id FROM users WHERE id = ? AND deleted_at IS NOT NULL"
	" FOR UPDATE";
static const char sql_lock_undeleted[] =
	"SELECT is_active FROM users WHERE id = ? AND deleted_at IS NULL"
	" FOR UPDATE";
static const char sql_deactivate[] =
	"UPDATE users SET is_active = 0 WHERE id = ?";
static const char sql_set_password[] =
	"UPDATE users SET password_hash = ? WHERE id = ? AND is_active = 1"
	" AND deleted_at IS NULL";

int
user_db_insert(struct db *db, const char *id, const char *username,
	const char *email, const char *hash, const char *display_name,
	const char *public_key, const char *role)
{
	return db_exec(db, NULL, sql_insert, "sssssss", id, username, email,
	    hash, display_name, public_key, role ? role : "USER");
}

int
user_db_taken(struct db *db, struct arena *a, const char *username,
	const char *email, int *username_taken, int *email_taken)
{
	struct db_rows rows;

	if (db_query(db, a, &rows, sql_taken, "ssss", username, email, username,
	    email) == -1)
		return -1;
	*username_taken = rows.nrows && db_get_int(&rows, 0, "u") > 0;
	*email_taken = rows.nrows && db_get_int(&rows, 0, "e") > 0;
	return 0;
}

int
user_db_get(struct db *db, struct arena *a, const char *id, struct db_rows *out)
{
	return db_query(db, a, out, sql_get, "s", id);
}

int
user_db_find_login(struct db *db, struct arena *a, const char *name,
	int by_email, struct db_rows *out)
{
	return db_query(db, a, out, by_email ? sql_find_by_email :
	    sql_find_by_name, "s", name);
}

int
user_db_update(struct db *db, const char *id, const struct user_patch *p)
{
	return db_exec(db, NULL, sql_update, "isisisisisisiss",
	    (int64_t)p->username.set, p->username.value,
	    (int64_t)p->display_name.set, p->display_name.value,
	    (int64_t)p->avatar.set, p->avatar.value,
	    (int64_t)p->status_message.set, p->status_message.value,
	    (int64_t)p->bio.set, p->bio.value,
	    (int64_t)p->location.set, p->location.value,
	    (int64_t)p->public_key.set, p->public_key.value, id);
}

/* "%q%" with LIKE's wildcards in q escaped (backslash is the escape). */
static char *
like_pattern(struct arena *a, const char *q, int prefix_only)
{
	struct strbuf sb = STRBUF_INIT;
	char *out;

	if (!prefix_only)
		strbuf_add(&sb, "%", 1);
	for (const char *p = q; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			strbuf_add(&sb, "\\", 1);
		strbuf_add(&sb, p, 1);
	}
	strbuf_add(&sb, "%", 1);
	out = arena_strndup(a, sb.buf, sb.len);
	strbuf_release(&sb);
	return out;
}

int
user_db_search(struct db *db, struct arena *a, const char *query,
	const char *email, long limit, long offset, struct db_rows *out,
	long *total)
{
	struct db_rows count;
	char *sub = like_pattern(a, query, 0), *prefix = like_pattern(a, query, 1);

	if (db_query(db, a, &count, sql_search_count, "ssss", query, sub, sub,
	    email) == -1)
		return -1;
	*total = count.nrows ? (long)db_get_int(&count, 0, "n") : 0;
	return db_query(db, a, out, sql_search, "ssssssii", query, sub, sub,
	    email, query, prefix, (int64_t)limit, (int64_t)offset);
}

int
user_db_anonymise(struct db *db, const char *id, const char *new_username,
	uint64_t *affected)
{
	return db_exec(db, affected, sql_anonymise, "ss", new_username, id);
}

int
user_db_deleted_in_groups(struct db *db, struct arena *a, struct db_rows *out)
{
	return db_query(db, a, out, sql_deleted_in_groups, "");
}

int
user_db_lock_deleted(struct db *db, struct arena *a, const char *id)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_lock_deleted, "s", id) == -1)
		return -1;
	return r.nrows ? 1 : 0;
}

int
user_db_lock_undeleted(struct db *db, struct arena *a, const char *id)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_lock_undeleted, "s", id) == -1)
		return -1;
	return r.nrows ? 1 : 0;
}

int
user_db_deactivate(struct db *db, const char *id)
{
	return db_exec(db, NULL, sql_deactivate, "s", id);
}

int
user_db_set_password(struct db *db, const char *id, const char *hash,
	uint64_t *affected)
{
	return db_exec(db, affected, sql_set_password, "ss", hash, id);
}

json_t *
user_db_json(const struct db_rows *r, size_t row, int own)
{
	json_t *u = json_object();

	jsonx_set_str(u, "id", db_get(r, row, "id"));
	jsonx_set_str(u, "username", db_get(r, row, "username"));
	if (own)
		jsonx_set_str(u, "email", db_get(r, row, "email"));
	jsonx_set_str(u, "displayName", db_get(r, row, "display_name"));
	jsonx_set_str(u, "avatar", db_get(r, row, "avatar_url"));
	jsonx_set_str(u, "statusMessage", db_get(r, row, "status_message"));
	jsonx_set_str(u, "bio", db_get(r, row, "bio"));
	jsonx_set_str(u, "location", db_get(r, row, "location"));
	jsonx_set_str(u, "publicKey", db_get(r, row, "public_key"));
	if (own)
		jsonx_set_str(u, "role", db_get(r, row, "role"));
	json_object_set_new(u, "isOnline", json_false());
	jsonx_set_time(u, "lastSeen", db_get(r, row, "last_seen"));
	jsonx_set_time(u, "createdAt", db_get(r, row, "created_at"));
	if (own)
		jsonx_set_time(u, "updatedAt", db_get(r, row, "updated_at"));
	return u;
}
