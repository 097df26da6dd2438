#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_db.h"
#include "jsonx.h"
#include "msgfmt.h"
#include "strbuf.h"
#include "unread_db.h"
#include "banned.h"

static const char sql_access[] =
	"SELECT c.visibility, c.max_members, c.settings, mb.role,"
	" (SELECT COUNT(*) FROM members x WHERE x.conversation_id = c.id)"
	" AS member_count"
	" FROM conversations c"
	" LEFT JOIN members mb ON mb.conversation_id = c.id AND mb.user_id = ?"
	" WHERE c.id = ? AND c.kind = 'GROUP' AND c.deleted_at IS NULL";
/*
 * The locking form reads no other member rows: counting under FOR UPDATE
 * would lock every member row and deadlock with senders (they hold a share
 * lock on their own member row, then update the conversation row).
 */
static const char sql_access_lock[] =
	"SELECT c.visibility, c.max_members, c.settings, mb.role"
	" FROM conversations c"
	" LEFT JOIN members mb ON mb.conversation_id = c.id AND mb.user_id = ?"
	" WHERE c.id = ? AND c.kind = 'GROUP' AND c.deleted_at IS NULL"
	" FOR UPDATE";
static const char sql_count[] =
	"SELECT COUNT(*) AS n FROM members WHERE conversation_id = ?";
static const char sql_last[] =
	"SELECT id, created_at FROM messages WHERE conversation_id = ?"
	" ORDER BY created_at DESC, id DESC LIMIT 1";
static const char sql_is_member[] =
	"SELECT mb.role FROM members mb"
	" JOIN conversations c ON c.id = mb.conversation_id"
	" AND c.deleted_at IS NULL"
	" WHERE mb.conversation_id = ? AND mb.user_id = ?";
static const char sql_insert[] =
	"INSERT INTO conversations (id, kind, title, description, cover_url,"
	" visibility, max_members, settings, created_by, idempotency_key)"
	" VALUES (?, 'GROUP', ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_find_idempotent[] =
	"SELECT id FROM conversations WHERE created_by = ? AND idempotency_key = ?";
/* User u may be in groups: not deactivated, not deleted. */
#define USER_ACTIVE "u.is_active = 1 AND u.deleted_at IS NULL"
/*
 * The user row is read with a shared lock, so a deactivation under way
 * (user_state.c, FOR UPDATE) is waited for and seen, whatever the
 * server's isolation level (under READ COMMITTED an INSERT ... SELECT
 * reads without one).
 */
static const char sql_add_member[] =
	"INSERT INTO members (conversation_id, user_id, role,"
	" last_read_message_id, last_read_at, last_delivered_message_id,"
	" last_delivered_at)"
	" SELECT ?, u.id, ?, ?, ?, ?, ? FROM users u"
	" WHERE u.id = ? AND " USER_ACTIVE " LOCK IN SHARE MODE";
/* A member has no pending join request: joining by any way ends it. */
static const char sql_drop_request[] =
	"DELETE FROM join_requests WHERE conversation_id = ? AND user_id = ?";
/* Uses ix_join_requests_user (schema/007). */
static const char sql_drop_user_requests[] =
	"DELETE FROM join_requests WHERE user_id = ?";
static const char sql_user_active[] =
	"SELECT 1 FROM users u WHERE u.id = ? AND " USER_ACTIVE
	" LOCK IN SHARE MODE";
/*
 * Not folded into the insert with RETURNING: libmariadb leaves the
 * connection unusable after an INSERT ... RETURNING fails (here with a
 * duplicate key), so statements that may fail never return rows.
 */
static const char sql_user_summary[] =
	"SELECT JSON_OBJECT('id', id, 'username', username,"
	" 'displayName', display_name, 'avatar', avatar_url) AS user"
	" FROM users WHERE id = ?";
static const char sql_remove_member[] =
	"DELETE FROM members WHERE conversation_id = ? AND user_id = ?";
static const char sql_set_role[] =
	"UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?";
/*
 * Members in list order: role (the ENUM's order is OWNER, ADMIN,
 * MODERATOR, MEMBER), then join time. A page is read off ix_members_order
 * (schema 009) and only its own rows are joined.
 */
#define MEMBER_ORDER "mb.role, mb.joined_at, mb.user_id"
static const char sql_successor[] =
	"SELECT mb.user_id, mb.role FROM members mb"
	" JOIN users u ON u.id = mb.user_id"
	" WHERE mb.conversation_id = ? AND mb.user_id <> ? AND " USER_ACTIVE
	" ORDER BY " MEMBER_ORDER " LIMIT 1";
static const char sql_update[] =
	"UPDATE conversations SET"
	" title = IF(?, ?, title),"
	" description = IF(?, ?, description),"
	" cover_url = IF(?, ?, cover_url),"
	" visibility = IF(?, ?, visibility),"
	" max_members = IF(?, ?, max_members),"
	" settings = IF(?, ?, settings)"
	" WHERE id = ? AND kind = 'GROUP' AND deleted_at IS NULL";
static const char sql_delete[] =
	"UPDATE conversations SET deleted_at = NOW(3)"
	" WHERE id = ? AND deleted_at IS NULL";
static const char sql_revoke_all[] =
	"UPDATE invitations SET revoked_at = NOW(3)"
	" WHERE conversation_id = ? AND revoked_at IS NULL";
static const char sql_drop_requests[] =
	"DELETE FROM join_requests WHERE conversation_id = ?";
static const char sql_member_ids[] =
	"SELECT user_id FROM members WHERE conversation_id = ?";
static const char sql_members[] =
	"SELECT mb.user_id, mb.role, mb.joined_at, mb.last_read_at,"
	" u.username, u.display_name, u.avatar_url"
	" FROM (SELECT mb.user_id FROM members mb WHERE mb.conversation_id = ?"
	" ORDER BY " MEMBER_ORDER " LIMIT ? OFFSET ?) p"
	" STRAIGHT_JOIN members mb ON mb.conversation_id = ?"
	" AND mb.user_id = p.user_id"
	" JOIN users u ON u.id = mb.user_id ORDER BY " MEMBER_ORDER;
static const char sql_member[] =
	"SELECT mb.user_id, mb.role, mb.joined_at, mb.last_read_at,"
	" u.username, u.display_name, u.avatar_url"
	" FROM members mb JOIN users u ON u.id = mb.user_id"
	" WHERE mb.conversation_id = ? AND mb.user_id = ?";
static const char sql_conversation_ids[] =
	"SELECT mb.conversation_id AS id FROM members mb"
	" JOIN conversations c ON c.id = mb.conversation_id"
	" AND c.deleted_at IS NULL WHERE mb.user_id = ?";

/* Message t is past member mb's read pointer. */
#define AFTER_READ(t) \
	"(mb.last_read_at IS NULL OR " t ".created_at > mb.last_read_at" \
	" OR (" t ".created_at = mb.last_read_at" \
	" AND " t ".id > mb.last_read_message_id))"
/*
 * The newest live message of others in c is past mb's read pointer,
 * walking back from the newest message (only while they are mb's own or
 * deleted). Used only when the last message is mb's own or deleted.
 */
#define NEWEST_OTHER_UNREAD \
	"(SELECT " AFTER_READ("x") " FROM messages x" \
	" WHERE x.conversation_id = c.id AND x.deleted_at IS NULL" \
	" AND NOT (x.sender_id <=> mb.user_id)" \
	" ORDER BY x.created_at DESC, x.id DESC LIMIT 1) = 1"
/* c's newest message: one entry at the end of ix_messages_conversation. */
#define NEWEST(what) \
	"(SELECT " what " FROM messages x WHERE x.conversation_id = c.id" \
	" ORDER BY x.created_at DESC, x.id DESC LIMIT 1)"
/*
 * c has a message unread by mb (unread_db.h says why not a count): its
 * newest message is past the pointer and is someone else's live message
 * (2), or is mb's own or deleted (1) with such a message behind it. One
 * subquery reads the newest message once for both questions: asking
 * them apart cost more than reading the row of conversations already
 * read.
 */
#define HAS_UNREAD \
	"(CASE " NEWEST("IF(" AFTER_READ("x") ", IF(x.deleted_at IS NULL" \
	" AND NOT (x.sender_id <=> mb.user_id), 2, 1), 0)") \
	" WHEN 2 THEN TRUE WHEN 1 THEN " NEWEST_OTHER_UNREAD \
	" ELSE FALSE END)"
/* c's title or its DM peer's names match the pattern. */
#define SEARCH_MATCH \
	"(c.title LIKE ? OR (c.kind = 'DIRECT' AND EXISTS (SELECT 1" \
	" FROM members pm JOIN users pu ON pu.id = pm.user_id" \
	" WHERE pm.conversation_id = c.id AND pm.user_id <> mb.user_id" \
	" AND (pu.username LIKE ? OR pu.display_name LIKE ?))))"
#define LIST_COLS \
	"c.id, c.kind, c.title, c.description, c.cover_url, c.visibility," \
	" c.max_members, c.settings, c.created_by, c.created_at, c.updated_at," \
	" lm.created_at AS last_message_at, mb.role, mb.joined_at," \
	" (SELECT COUNT(*) FROM members x WHERE x.conversation_id = c.id)" \
	" AS member_count," \
	" (SELECT o.user_id FROM members o WHERE o.conversation_id = c.id" \
	" AND o.role = 'OWNER' LIMIT 1) AS owner_id," \
	" NULL AS unread_count, NULL AS unread_capped," \
	" mb.last_read_at AS read_at, mb.last_read_message_id AS read_id," \
	" " AFTER_READ("lm") " AS lm_after_read," \
	" lm.id AS lm_id, lm.sender_id AS lm_sender, lm.type AS lm_type," \
	" lm.content AS lm_content, lm.encrypted IS NOT NULL AS lm_enc," \
	" lm.deleted_at AS lm_deleted, lm.created_at AS lm_created," \
	" lu.username AS lm_username, lu.display_name AS lm_display," \
	" pu.id AS peer_id, pu.username AS peer_username," \
	" pu.display_name AS peer_display, pu.avatar_url AS peer_avatar"
#define MY_CONVERSATIONS \
	" FROM members mb JOIN conversations c ON c.id = mb.conversation_id" \
	" AND c.deleted_at IS NULL"
#define LIST_JOINS \
	" LEFT JOIN messages lm ON lm.id = " NEWEST("x.id") \
	" LEFT JOIN users lu ON lu.id = lm.sender_id" \
	" LEFT JOIN members pm ON c.kind = 'DIRECT'" \
	" AND pm.conversation_id = c.id AND pm.user_id <> mb.user_id" \
	" LEFT JOIN users pu ON pu.id = pm.user_id"
/*
 * A page is found from what the filters need alone (the kind; the title,
 * or the DM peer's names, for a search; the newest message, and the walk
 * back only behind the caller's own or a deleted one, for unread) and
 * the conversations' last message times; only its own rows are joined to
 * last message, sender and peer. With every row joined, then counted
 * with the same joins, a member of 2,000 groups paid 40-53 ms per page
 * unfiltered and 33-47 ms filtered (10-15 ms now, docs/PERFORMANCE.md).
 * Parameters: user, kind twice, pattern four times (NULL: no search),
 * unread (0 or 1).
 */
#define LIST_WHERE \
	" WHERE mb.user_id = ? AND (? IS NULL OR c.kind = ?)" \
	" AND (? IS NULL OR " SEARCH_MATCH ")" \
	" AND (? = 0 OR " HAS_UNREAD ")"
/*
 * The window count is the total, taken from the keys already found (a
 * separate count ran the filter over every conversation again); only a
 * page past the end, which has no row to carry it, runs sql_list_count.
 */
#define LIST_KEYS \
	"SELECT c.id AS pid, COALESCE(" NEWEST("x.created_at") \
	", c.created_at) AS k, COUNT(*) OVER () AS total" \
	MY_CONVERSATIONS LIST_WHERE \
	" ORDER BY k DESC, c.id DESC LIMIT ? OFFSET ?"
static const char sql_list[] =
	"SELECT " LIST_COLS ", p.total AS list_total FROM (" LIST_KEYS ") p"
	" STRAIGHT_JOIN members mb ON mb.conversation_id = p.pid"
	" AND mb.user_id = ?"
	" JOIN conversations c ON c.id = p.pid" LIST_JOINS
	" ORDER BY p.k DESC, p.pid DESC";
static const char sql_list_count[] =
	"SELECT COUNT(*) AS n" MY_CONVERSATIONS LIST_WHERE;
static const char sql_row[] =
	"SELECT " LIST_COLS MY_CONVERSATIONS LIST_JOINS
	" WHERE mb.user_id = ? AND mb.conversation_id = ?";

static void
copy_cell(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

int
group_db_access(struct db *db, struct arena *a, const char *gid,
	const char *uid, int lock, struct group_access *acc)
{
	struct db_rows r, n;

	memset(acc, 0, sizeof(*acc));
	if (db_query(db, a, &r, lock ? sql_access_lock : sql_access, "ss", uid,
	    gid) == -1)
		return -1;
	if (r.nrows == 0)
		return 1;
	copy_cell(acc->id, sizeof(acc->id), gid);
	copy_cell(acc->visibility, sizeof(acc->visibility),
	    db_get(&r, 0, "visibility"));
	acc->max_members = (long)db_get_int(&r, 0, "max_members");
	acc->settings = db_get(&r, 0, "settings");
	acc->role = group_role_parse(db_get(&r, 0, "role"));
	if (!lock) {
		acc->member_count = (long)db_get_int(&r, 0, "member_count");
		return 0;
	}
	/* Plain reads after the lock: they see every committed change. */
	if (db_query(db, a, &n, sql_count, "s", gid) == -1)
		return -1;
	acc->member_count = (long)db_get_int(&n, 0, "n");
	if (db_query(db, a, &n, sql_last, "s", gid) == -1)
		return -1;
	acc->last_message_id = db_get(&n, 0, "id");
	acc->last_message_at = db_get(&n, 0, "created_at");
	return 0;
}

int
group_db_is_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, enum group_role *role)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_is_member, "ss", cid, uid) == -1)
		return -1;
	if (role)
		*role = r.nrows ? group_role_parse(db_get(&r, 0, "role")) :
		    GROUP_ROLE_NONE;
	return r.nrows ? 1 : 0;
}

int
group_db_insert(struct db *db, const char *id, const char *title,
	const char *description, const char *cover, const char *visibility,
	long max_members, const char *settings, const char *created_by,
	const char *idempotency_key)
{
	return db_exec(db, NULL, sql_insert, "sssssisss", id, title,
	    description, cover, visibility, (int64_t)max_members, settings,
	    created_by, idempotency_key);
}

int
group_db_find_idempotent(struct db *db, struct arena *a,
	const char *created_by, const char *key, char id[IDS_UUID_LEN])
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_find_idempotent, "ss", created_by, key) == -1)
		return -1;
	if (r.nrows == 0)
		return 0;
	snprintf(id, IDS_UUID_LEN, "%s", db_get(&r, 0, "id"));
	return 1;
}

int
group_db_add_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, const char *role, const char *read_id,
	const char *read_at, json_t **user)
{
	struct db_rows r;
	uint64_t added = 0;
	const char *text;

	if (user)
		*user = NULL;
	if (db_exec(db, &added, sql_add_member, "sssssss", cid, role, read_id,
	    read_at, read_id, read_at, uid) == -1)
		return -1;
	if (added == 0)
		return 1;
	if (db_exec(db, NULL, sql_drop_request, "ss", cid, uid) == -1)
		return -1;
	if (!user)
		return 0;
	if (db_query(db, a, &r, sql_user_summary, "s", uid) == -1)
		return -1;
	text = db_get(&r, 0, "user");
	if (user && text)
		*user = json_loads(text, 0, NULL);
	return 0;
}

int
group_db_remove_member(struct db *db, const char *cid, const char *uid,
	uint64_t *affected)
{
	return db_exec(db, affected, sql_remove_member, "ss", cid, uid);
}

int
group_db_set_role(struct db *db, const char *cid, const char *uid,
	const char *role, uint64_t *affected)
{
	return db_exec(db, affected, sql_set_role, "sss", role, cid, uid);
}

int
group_db_drop_user_requests(struct db *db, const char *uid)
{
	return db_exec(db, NULL, sql_drop_user_requests, "s", uid);
}

int
group_db_user_active(struct db *db, struct arena *a, const char *uid)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_user_active, "s", uid) == -1)
		return -1;
	return r.nrows ? 1 : 0;
}

int
group_db_successor(struct db *db, struct arena *a, const char *cid,
	const char *exclude, char out[IDS_UUID_LEN], const char **role)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_successor, "ss", cid, exclude) == -1)
		return -1;
	if (r.nrows == 0)
		return 1;
	copy_cell(out, IDS_UUID_LEN, db_get(&r, 0, "user_id"));
	*role = db_get(&r, 0, "role");
	return 0;
}

int
group_db_update(struct db *db, const char *cid, const struct group_patch *p)
{
	return db_exec(db, NULL, sql_update, "isisisisiiiss",
	    (int64_t)p->title_set, p->title,
	    (int64_t)p->description_set, p->description,
	    (int64_t)p->cover_set, p->cover,
	    (int64_t)p->visibility_set, p->visibility,
	    (int64_t)p->max_set, (int64_t)p->max_members,
	    (int64_t)p->settings_set, p->settings, cid);
}

int
group_db_delete(struct db *db, const char *cid)
{
	if (db_exec(db, NULL, sql_delete, "s", cid) == -1 ||
	    db_exec(db, NULL, sql_revoke_all, "s", cid) == -1)
		return -1;
	return db_exec(db, NULL, sql_drop_requests, "s", cid);
}

int
group_db_member_ids(struct db *db, struct arena *a, const char *cid,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_member_ids, "s", cid);
}

int
group_db_members(struct db *db, struct arena *a, const char *cid, long limit,
	long offset, struct db_rows *out, long *total)
{
	struct db_rows n;

	if (total) {
		if (db_query(db, a, &n, sql_count, "s", cid) == -1)
			return -1;
		*total = (long)db_get_int(&n, 0, "n");
	}
	return db_query(db, a, out, sql_members, "siis", cid, (int64_t)limit,
	    (int64_t)offset, cid);
}

int
group_db_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, struct db_rows *out)
{
	return db_query(db, a, out, sql_member, "ss", cid, uid);
}

/* "%q%" with LIKE's wildcards escaped (backslash is LIKE's escape). */
static char *
like_pattern(struct arena *a, const char *q)
{
	struct strbuf sb = STRBUF_INIT;
	char *out;

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
group_db_list(struct db *db, struct arena *a, const char *uid,
	const struct conv_filter *f, long limit, long offset,
	struct db_rows *out, long *total)
{
	const char *like = f->search && *f->search ?
	    like_pattern(a, f->search) : NULL;
	int64_t unread = f->unread_only ? 1 : 0;
	struct db_rows n;

	if (db_query(db, a, out, sql_list, "sssssssiiis", uid, f->kind,
	    f->kind, like, like, like, like, unread, (int64_t)limit,
	    (int64_t)offset, uid) == -1)
		return -1;
	*total = out->nrows ? (long)db_get_int(out, 0, "list_total") : 0;
	if (out->nrows == 0 && offset > 0) {
		if (db_query(db, a, &n, sql_list_count, "sssssssi", uid,
		    f->kind, f->kind, like, like, like, like, unread) == -1)
			return -1;
		*total = (long)db_get_int(&n, 0, "n");
	}
	return unread_db_fill(db, a, uid, out);
}

int
group_db_row(struct db *db, struct arena *a, const char *uid, const char *cid,
	struct db_rows *out)
{
	if (db_query(db, a, out, sql_row, "ss", uid, cid) == -1)
		return -1;
	return unread_db_fill(db, a, uid, out);
}

int
group_db_conversation_ids(struct db *db, struct arena *a, const char *uid,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_conversation_ids, "s", uid);
}

json_t *
group_db_settings(const char *text)
{
	json_t *s = text ? json_loads(text, 0, NULL) : NULL;
	json_t *out = json_object();
	json_t *v;

	v = json_object_get(s, "allowInvites");
	json_object_set_new(out, "allowInvites",
	    json_boolean(v ? json_is_true(v) : 1));
	v = json_object_get(s, "messageRetentionDays");
	json_object_set_new(out, "messageRetentionDays",
	    json_is_integer(v) ? json_integer(json_integer_value(v)) :
	    json_null());
	v = json_object_get(s, "autoSummaryEnabled");
	json_object_set_new(out, "autoSummaryEnabled",
	    json_boolean(v ? json_is_true(v) : 1));
	v = json_object_get(s, "summaryThreshold");
	json_object_set_new(out, "summaryThreshold",
	    json_integer(json_is_integer(v) ? json_integer_value(v) : 50));
	json_decref(s);
	return out;
}

static json_t *
int_cell(const struct db_rows *r, size_t i, const char *name)
{
	return json_integer((json_int_t)db_get_int(r, i, name));
}

/* The last message of a list row, or null. */
static json_t *
last_message_json(const struct db_rows *r, size_t i)
{
	const char *id = db_get(r, i, "lm_id");
	const char *deleted = db_get(r, i, "lm_deleted");
	const char *content = db_get(r, i, "lm_content");
	int enc = db_get_int(r, i, "lm_enc") != 0;
	json_t *m, *sender;
	struct arena a;

	if (!id)
		return json_null();
	m = json_object();
	jsonx_set_str(m, "id", id);
	jsonx_set_str(m, "senderId", db_get(r, i, "lm_sender"));
	sender = json_null();
	if (db_get(r, i, "lm_sender")) {
		sender = json_object();
		jsonx_set_str(sender, "id", db_get(r, i, "lm_sender"));
		jsonx_set_str(sender, "username", db_get(r, i, "lm_username"));
		jsonx_set_str(sender, "displayName", db_get(r, i, "lm_display"));
	}
	json_object_set_new(m, "sender", sender);
	jsonx_set_str(m, "type", db_get(r, i, "lm_type"));
	if (content && !deleted) {
		arena_init(&a);
		jsonx_set_str(m, "content", msgfmt_truncate(&a, content, 200));
		arena_release(&a);
	} else {
		json_object_set_new(m, "content", json_null());
	}
	json_object_set_new(m, "isEncrypted", json_boolean(enc && !deleted));
	json_object_set_new(m, "deleted", json_boolean(deleted != NULL));
	jsonx_set_time(m, "createdAt", db_get(r, i, "lm_created"));
	return m;
}

json_t *
group_db_json(const struct db_rows *r, size_t i)
{
	json_t *g = json_object();
	const char *vis = db_get(r, i, "visibility");

	jsonx_set_str(g, "id", db_get(r, i, "id"));
	jsonx_set_str(g, "title", db_get(r, i, "title"));
	jsonx_set_str(g, "name", db_get(r, i, "title"));
	jsonx_set_str(g, "description", db_get(r, i, "description"));
	jsonx_set_str(g, "cover", db_get(r, i, "cover_url"));
	jsonx_set_str(g, "type", vis);
	json_object_set_new(g, "isPrivate",
	    json_boolean(!vis || strcmp(vis, "PUBLIC") != 0));
	json_object_set_new(g, "maxMembers", int_cell(r, i, "max_members"));
	json_object_set_new(g, "memberCount", int_cell(r, i, "member_count"));
	jsonx_set_str(g, "ownerId", db_get(r, i, "owner_id"));
	jsonx_set_str(g, "createdBy", db_get(r, i, "created_by"));
	json_object_set_new(g, "settings",
	    group_db_settings(db_get(r, i, "settings")));
	jsonx_set_str(g, "role", db_get(r, i, "role"));
	jsonx_set_time(g, "joinedAt", db_get(r, i, "joined_at"));
	json_object_set_new(g, "unreadCount", int_cell(r, i, "unread_count"));
	json_object_set_new(g, "unreadCountCapped",
	    json_boolean(db_get_int(r, i, "unread_capped") == 1));
	json_object_set_new(g, "lastMessage", last_message_json(r, i));
	jsonx_set_time(g, "lastMessageAt", db_get(r, i, "last_message_at"));
	jsonx_set_time(g, "createdAt", db_get(r, i, "created_at"));
	jsonx_set_time(g, "updatedAt", db_get(r, i, "updated_at"));
	return g;
}

json_t *
group_db_conversation_json(const struct db_rows *r, size_t i)
{
	json_t *c = json_object(), *peer;
	const char *kind = db_get(r, i, "kind");
	int direct = kind && strcmp(kind, "DIRECT") == 0;
	const char *last = db_get(r, i, "last_message_at");

	jsonx_set_str(c, "id", db_get(r, i, "id"));
	jsonx_set_str(c, "kind", kind);
	if (direct) {
		const char *name = db_get(r, i, "peer_display");

		peer = json_object();
		jsonx_set_str(peer, "id", db_get(r, i, "peer_id"));
		jsonx_set_str(peer, "username", db_get(r, i, "peer_username"));
		jsonx_set_str(peer, "displayName", name);
		jsonx_set_str(peer, "avatar", db_get(r, i, "peer_avatar"));
		jsonx_set_str(c, "title", name ? name :
		    db_get(r, i, "peer_username"));
		jsonx_set_str(c, "avatar", db_get(r, i, "peer_avatar"));
		json_object_set_new(c, "peer", peer);
		json_object_set_new(c, "groupType", json_null());
	} else {
		jsonx_set_str(c, "title", db_get(r, i, "title"));
		jsonx_set_str(c, "avatar", db_get(r, i, "cover_url"));
		json_object_set_new(c, "peer", json_null());
		jsonx_set_str(c, "groupType", db_get(r, i, "visibility"));
	}
	jsonx_set_str(c, "role", db_get(r, i, "role"));
	json_object_set_new(c, "memberCount", int_cell(r, i, "member_count"));
	json_object_set_new(c, "unreadCount", int_cell(r, i, "unread_count"));
	json_object_set_new(c, "unreadCountCapped",
	    json_boolean(db_get_int(r, i, "unread_capped") == 1));
	json_object_set_new(c, "lastMessage", last_message_json(r, i));
	jsonx_set_time(c, "lastMessageAt", last);
	jsonx_set_time(c, "lastActivityAt", last ? last :
	    db_get(r, i, "created_at"));
	jsonx_set_time(c, "createdAt", db_get(r, i, "created_at"));
	return c;
}

json_t *
group_db_member_json(const struct db_rows *r, size_t i)
{
	json_t *m = json_object();

	jsonx_set_str(m, "userId", db_get(r, i, "user_id"));
	jsonx_set_str(m, "id", db_get(r, i, "user_id"));
	jsonx_set_str(m, "username", db_get(r, i, "username"));
	jsonx_set_str(m, "displayName", db_get(r, i, "display_name"));
	jsonx_set_str(m, "avatar", db_get(r, i, "avatar_url"));
	jsonx_set_str(m, "role", db_get(r, i, "role"));
	jsonx_set_time(m, "joinedAt", db_get(r, i, "joined_at"));
	jsonx_set_time(m, "lastReadAt", db_get(r, i, "last_read_at"));
	json_object_set_new(m, "isOnline", json_false());
	return m;
}
