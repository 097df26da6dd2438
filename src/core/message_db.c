#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message_db.h"
#include "banned.h"

/*
 * The columns every message read returns (m = messages, c =
 * conversations, u = the sender, rp = the message replied to). Reactions
 * come with each row, concatenated in the order they were made, so a page
 * of history is one statement.
 */
#define MSG_COLS \
	"m.id, m.conversation_id, c.kind, c.direct_key, m.sender_id," \
	" u.username AS s_username, u.display_name AS s_display," \
	" u.avatar_url AS s_avatar, m.type, m.content, m.encrypted," \
	" m.parent_id, m.reply_to_id, m.metadata, m.client_id, m.edited_at," \
	" m.deleted_at, m.created_at, m.reply_count, rp.id AS rp_id," \
	" rp.sender_id AS rp_sender, rp.content AS rp_content," \
	" rp.type AS rp_type, rp.deleted_at AS rp_deleted," \
	" rp.encrypted IS NOT NULL AS rp_enc," \
	" (SELECT GROUP_CONCAT(r.emoji, '\x1f', r.user_id" \
	" ORDER BY r.created_at, r.user_id SEPARATOR '\x1e')" \
	" FROM reactions r WHERE r.message_id = m.id) AS reactions"
#define MSG_JOINS \
	" JOIN conversations c ON c.id = m.conversation_id" \
	" LEFT JOIN users u ON u.id = m.sender_id" \
	" LEFT JOIN messages rp ON rp.id = m.reply_to_id"
#define MSG_FROM " FROM messages m" MSG_JOINS

static const char sql_get[] =
	"SELECT " MSG_COLS ", c.deleted_at AS conv_deleted, mb.role AS my_role"
	MSG_FROM
	" LEFT JOIN members mb ON mb.conversation_id = m.conversation_id"
	" AND mb.user_id = ? WHERE m.id = ?";
static const char sql_receipts[] =
	"(SELECT 'M' AS k, mb.user_id, mb.role, c.kind, c.direct_key,"
	" NULL AS at, NULL AS mid"
	" FROM members mb JOIN conversations c ON c.id = mb.conversation_id"
	" AND c.deleted_at IS NULL"
	" WHERE mb.conversation_id = ? AND mb.user_id = ?)"
	" UNION ALL (SELECT 'R', user_id, NULL, NULL, NULL, last_read_at,"
	" last_read_message_id FROM members WHERE conversation_id = ?"
	" ORDER BY last_read_at, last_read_message_id LIMIT 2)"
	" UNION ALL (SELECT 'D', user_id, NULL, NULL, NULL,"
	" last_delivered_at, last_delivered_message_id FROM members"
	" WHERE conversation_id = ?"
	" ORDER BY last_delivered_at, last_delivered_message_id LIMIT 2)";
static const char sql_direct[] =
	"SELECT id FROM conversations WHERE direct_key = ?"
	" AND deleted_at IS NULL";
static const char sql_direct_to[] =
	"SELECT c.id, EXISTS(SELECT 1 FROM users u WHERE u.id = ?"
	" AND u.is_active = 1 AND u.deleted_at IS NULL) AS peer_active"
	" FROM conversations c WHERE c.direct_key = ? AND c.deleted_at IS NULL";
static const char sql_direct_insert[] =
	"INSERT INTO conversations (id, kind, direct_key, created_by)"
	" VALUES (?, 'DIRECT', ?, ?)";
static const char sql_locate[] =
	"SELECT conversation_id, parent_id FROM messages WHERE id = ?";
/* schema/003-conversations.sql: the whole send transaction. */
static const char sql_send[] =
	"CALL parley_message_send(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_exists[] =
	"SELECT id FROM messages WHERE id = ?";
static const char sql_conversation[] =
	"SELECT kind, direct_key FROM conversations"
	" WHERE id = ? AND deleted_at IS NULL";
/* Only for the DM's own members: others learn nothing here. */
static const char sql_peer_gone[] =
	"SELECT 1 FROM members me JOIN members mb"
	" ON mb.conversation_id = me.conversation_id AND mb.user_id <> me.user_id"
	" JOIN users u ON u.id = mb.user_id"
	" WHERE me.conversation_id = ? AND me.user_id = ?"
	" AND (u.is_active = 0 OR u.deleted_at IS NOT NULL)";
static const char sql_count_reply[] =
	"UPDATE messages SET reply_count = reply_count + 1 WHERE id = ?";
static const char sql_find_client[] =
	"SELECT id FROM messages WHERE sender_id = ? AND client_id = ?";
static const char sql_find_idem[] =
	"SELECT id FROM messages WHERE sender_id = ? AND idempotency_key = ?";
static const char sql_save_version[] =
	"INSERT INTO message_edits (message_id, content, encrypted, valid_from)"
	" SELECT id, content, encrypted, COALESCE(edited_at, created_at)"
	" FROM messages WHERE id = ? AND sender_id = ? AND deleted_at IS NULL";
static const char sql_edit[] =
	"UPDATE messages SET content = ?, encrypted = ?, edited_at = ?"
	" WHERE id = ? AND sender_id = ? AND deleted_at IS NULL";
static const char sql_edits[] =
	"SELECT content, encrypted, valid_from, replaced_at FROM message_edits"
	" WHERE message_id = ? ORDER BY id";
static const char sql_delete[] =
	"UPDATE messages SET content = NULL, encrypted = NULL, metadata = NULL,"
	" deleted_at = ?, deleted_by = ? WHERE id = ? AND deleted_at IS NULL";
static const char sql_delete_edits[] =
	"DELETE FROM message_edits WHERE message_id = ?";
static const char sql_delete_reactions[] =
	"DELETE FROM reactions WHERE message_id = ?";
/* reply_count counts live replies; the guard keeps it from wrapping. */
static const char sql_uncount_reply[] =
	"UPDATE messages p JOIN messages r ON r.parent_id = p.id"
	" SET p.reply_count = p.reply_count - 1"
	" WHERE r.id = ? AND p.reply_count > 0";
static const char sql_mark_access[] =
	"SELECT m.conversation_id, m.sender_id, m.created_at, c.kind,"
	" c.direct_key, mb.last_read_at, mb.last_read_message_id,"
	" mb.last_delivered_at, mb.last_delivered_message_id"
	" FROM messages m JOIN conversations c ON c.id = m.conversation_id"
	" AND c.deleted_at IS NULL"
	" JOIN members mb ON mb.conversation_id = m.conversation_id"
	" AND mb.user_id = ? WHERE m.id = ?";
static const char sql_advance_read[] =
	"UPDATE members SET last_read_at = ?, last_read_message_id = ?"
	" WHERE conversation_id = ? AND user_id = ? AND (last_read_at IS NULL"
	" OR last_read_at < ? OR (last_read_at = ? AND last_read_message_id < ?))";
static const char sql_advance_delivered[] =
	"UPDATE members SET last_delivered_at = ?, last_delivered_message_id = ?"
	" WHERE conversation_id = ? AND user_id = ? AND (last_delivered_at IS NULL"
	" OR last_delivered_at < ? OR (last_delivered_at = ?"
	" AND last_delivered_message_id < ?))";
/*
 * The conversation's row comes first (a LEFT JOIN reads it before the
 * member row), in the order group changes lock them.
 */
static const char sql_lock_conversation[] =
	"SELECT c.deleted_at AS conv_deleted, mb.role AS my_role"
	" FROM conversations c LEFT JOIN members mb"
	" ON mb.conversation_id = c.id AND mb.user_id = ?"
	" WHERE c.id = ? LOCK IN SHARE MODE";
static const char sql_lock_message[] =
	"SELECT sender_id, deleted_at, deleted_by FROM messages WHERE id = ?"
	" FOR UPDATE";
static const char sql_react_add[] =
	"INSERT INTO reactions (message_id, user_id, emoji) VALUES (?, ?, ?)";
static const char sql_react_del[] =
	"DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?";
static const char sql_react_count[] =
	"SELECT COUNT(*) AS n FROM reactions WHERE message_id = ? AND user_id = ?";
static const char sql_reactions[] =
	"SELECT GROUP_CONCAT(r.emoji, '\x1f', r.user_id"
	" ORDER BY r.created_at, r.user_id SEPARATOR '\x1e') AS reactions"
	" FROM reactions r WHERE r.message_id = ?";

/*
 * History. Optional filters are "? IS NULL OR ..." (MariaDB folds the
 * parameter as a constant per execution, so a cursor is an index range).
 * Positions are (created_at, id). The status filter compares positions
 * with the recipients' pointers: a message by ex_user is judged against
 * the ex thresholds, any other against the common ones (see message.c,
 * receipts).
 *
 * Every condition on a column outside ix_messages_conversation (type,
 * parent_id, the status) costs a row read per message looked at, even
 * when its filter is absent: so HISTORY_KEYS is the statement for
 * requests that filter on none of them, which then walk the index alone.
 * A page is found first (ids only, LIMIT and OFFSET on the index) and
 * only its rows are joined: a deep OFFSET skips index entries, not
 * joined rows. The total stops at HISTORY_TOTAL_MAX + 1 messages.
 */
#define LE "(m.created_at, m.id) <= (?, ?)"
#define STATUS_EXPR \
	"CASE WHEN IF(m.sender_id <=> ?, " LE ", " LE ") THEN 'SEEN'" \
	" WHEN IF(m.sender_id <=> ?, " LE ", " LE ") THEN 'DELIVERED'" \
	" ELSE 'SENT' END"
#define HISTORY_KEYS \
	" WHERE m.conversation_id = ?" \
	" AND (? IS NULL OR m.created_at >= ?)" \
	" AND (? IS NULL OR m.created_at <= ?)" \
	" AND (? IS NULL OR m.created_at < ? OR (m.created_at = ? AND m.id < ?))" \
	" AND (? IS NULL OR m.created_at > ? OR (m.created_at = ? AND m.id > ?))"
#define HISTORY_ROWS \
	" AND m.type = COALESCE(?, m.type)" \
	" AND m.parent_id <=> COALESCE(?, m.parent_id)" \
	" AND (? IS NULL OR " STATUS_EXPR " = ?)"
#define KEYS_TYPES "sssssssssssss"
#define ROWS_TYPES "ssssssssssssss"
#define HISTORY_PAGE(where, order) \
	"SELECT " MSG_COLS " FROM (SELECT m.id FROM messages m" where \
	" ORDER BY " order " LIMIT ? OFFSET ?) p" \
	" STRAIGHT_JOIN messages m ON m.id = p.id" MSG_JOINS " ORDER BY " order
#define DESC "m.created_at DESC, m.id DESC"
#define ASC "m.created_at, m.id"
#define STR_(x) #x
#define STR(x) STR_(x)
#define HISTORY_TOTAL_SCAN 10001 /* one more than counted says "capped" */
_Static_assert(HISTORY_TOTAL_SCAN == HISTORY_TOTAL_MAX + 1, "history total");
#define HISTORY_COUNT(where) \
	"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages m" where \
	" LIMIT " STR(HISTORY_TOTAL_SCAN) ") t"
static const char *const sql_history[2][2] = { /* [row filters][desc] */
	{ HISTORY_PAGE(HISTORY_KEYS, ASC), HISTORY_PAGE(HISTORY_KEYS, DESC) },
	{ HISTORY_PAGE(HISTORY_KEYS HISTORY_ROWS, ASC),
	  HISTORY_PAGE(HISTORY_KEYS HISTORY_ROWS, DESC) },
};
static const char *const sql_history_count[2] = {
	HISTORY_COUNT(HISTORY_KEYS), HISTORY_COUNT(HISTORY_KEYS HISTORY_ROWS),
};

/*
 * Search runs one of two plans (message_db_search). Both read a page of
 * (id, score, total) first, then the page's columns: the window count
 * saves a second pass for the total, and the reactions subquery and wide
 * columns are read for the page only.
 *
 * The full-text plan asks InnoDB's FULLTEXT index, whose cost grows with
 * every message in the install that holds a term, whoever can read it:
 * 300,000 others' "hello" made one caller's search of five messages take
 * 3.8 s. The scan plan reads only the caller's conversations through
 * ix_messages_conversation and tests each message itself, so it is used
 * when they hold at most SCAN_MAX messages (about 1-4 us per message).
 * It matches what InnoDB would: a term is the start of a word (a run of
 * letters, digits and '_', as msgfmt.h splits words), compared in the
 * column's collation (so case and accents fold as in the index). Its
 * score is 1 + the number of word starts the terms match (case folded,
 * accents exact); the two plans' scores order one result list each and
 * are not comparable with each other. Where they differ: the scan also
 * finds words InnoDB does not index, i.e. stopwords ("wit" finds "with")
 * and words longer than 84 characters.
 */
#define SEARCH_FILTERS \
	" AND m.deleted_at IS NULL AND c.deleted_at IS NULL" \
	" AND (? IS NULL OR m.conversation_id = ?)" \
	" AND (? IS NULL OR m.sender_id = ?)" \
	" AND m.type = COALESCE(?, m.type)" \
	" AND (? IS NULL OR m.created_at >= ?)" \
	" AND (? IS NULL OR m.created_at <= ?)"
#define SEARCH_PAGE \
	" ORDER BY score DESC, m.created_at DESC, m.id DESC LIMIT ? OFFSET ?"
/*
 * The terms, LIKE-escaped, as one constant row (a statement parameter can
 * be used once only), in the column's collation; unused ones are NULL.
 */
#define SCAN_ARG(n) \
	" CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci AS t" #n
#define SCAN_ARGS \
	" (SELECT" SCAN_ARG(1) "," SCAN_ARG(2) "," SCAN_ARG(3) "," SCAN_ARG(4) \
	"," SCAN_ARG(5) "," SCAN_ARG(6) "," SCAN_ARG(7) "," SCAN_ARG(8) ") t"
/* Term n: somewhere in the text (cheap), then at the start of a word. */
#define SCAN_TERM(n) \
	" AND (t.t" #n " IS NULL OR (m.content LIKE CONCAT('%', t.t" #n ", '%')" \
	" AND CONCAT(' ', REGEXP_REPLACE(m.content, '[^[:alnum:]_]+', ' '))" \
	" LIKE CONCAT('% ', t.t" #n ", '%')))"
#define SCAN_TERMS SCAN_TERM(1) SCAN_TERM(2) SCAN_TERM(3) SCAN_TERM(4) \
	SCAN_TERM(5) SCAN_TERM(6) SCAN_TERM(7) SCAN_TERM(8)
#define SEARCH_ROWS(page) \
	"SELECT " MSG_COLS ", s.score, s.total FROM (" page ") s" \
	" JOIN messages m ON m.id = s.id" MSG_JOINS \
	" ORDER BY s.score DESC, m.created_at DESC, m.id DESC"
static const char sql_search_ft[] = SEARCH_ROWS(
	"SELECT m.id, MATCH(m.content) AGAINST (? IN BOOLEAN MODE) AS score,"
	" COUNT(*) OVER () AS total FROM messages m"
	" JOIN conversations c ON c.id = m.conversation_id"
	" JOIN members mb ON mb.conversation_id = m.conversation_id"
	" AND mb.user_id = ?"
	" WHERE MATCH(m.content) AGAINST (? IN BOOLEAN MODE)"
	SEARCH_FILTERS SEARCH_PAGE);
static const char sql_search_scan[] = SEARCH_ROWS(
	"SELECT m.id, 1 + CHAR_LENGTH(REGEXP_REPLACE(m.content, ?, '\\\\1.'))"
	" - CHAR_LENGTH(m.content) AS score, COUNT(*) OVER () AS total"
	" FROM" SCAN_ARGS " JOIN members mb"
	" JOIN messages m ON m.conversation_id = mb.conversation_id"
	" JOIN conversations c ON c.id = m.conversation_id"
	" WHERE mb.user_id = ?" SEARCH_FILTERS SCAN_TERMS SEARCH_PAGE);
/* How many messages the scan would read, counted up to a bound. */
static const char sql_search_scope[] =
	"SELECT COUNT(*) AS n FROM (SELECT 1 FROM members mb"
	" JOIN messages m ON m.conversation_id = mb.conversation_id"
	" WHERE mb.user_id = ? AND (? IS NULL OR mb.conversation_id = ?)"
	" LIMIT ?) x";

enum {
	C_ID, C_CONV, C_KIND, C_DKEY, C_SENDER, C_SUSER, C_SDISP, C_SAVATAR,
	C_TYPE, C_CONTENT, C_ENC, C_PARENT, C_REPLY, C_META, C_CLIENT,
	C_EDITED, C_DELETED, C_CREATED, C_RCOUNT, C_RPID, C_RPSENDER,
	C_RPCONTENT, C_RPTYPE, C_RPDELETED, C_RPENC, C_REACT, C_ROLE,
	C_CONVDEL, C_SCORE, C__N
};

static const char *const col_names[C__N] = {
	[C_ID] = "id", [C_CONV] = "conversation_id", [C_KIND] = "kind",
	[C_DKEY] = "direct_key", [C_SENDER] = "sender_id",
	[C_SUSER] = "s_username", [C_SDISP] = "s_display",
	[C_SAVATAR] = "s_avatar", [C_TYPE] = "type", [C_CONTENT] = "content",
	[C_ENC] = "encrypted", [C_PARENT] = "parent_id",
	[C_REPLY] = "reply_to_id", [C_META] = "metadata",
	[C_CLIENT] = "client_id", [C_EDITED] = "edited_at",
	[C_DELETED] = "deleted_at", [C_CREATED] = "created_at",
	[C_RCOUNT] = "reply_count", [C_RPID] = "rp_id",
	[C_RPSENDER] = "rp_sender", [C_RPCONTENT] = "rp_content",
	[C_RPTYPE] = "rp_type", [C_RPDELETED] = "rp_deleted",
	[C_RPENC] = "rp_enc", [C_REACT] = "reactions", [C_ROLE] = "my_role",
	[C_CONVDEL] = "conv_deleted", [C_SCORE] = "score",
};

void
message_db_rows(const struct db_rows *r, struct arena *a, struct msg_row **out)
{
	int col[C__N];
	struct msg_row *rows = arena_zalloc(a, (r->nrows + 1) * sizeof(*rows));

	for (int c = 0; c < C__N; c++)
		col[c] = db_col(r, col_names[c]);
	for (size_t i = 0; i < r->nrows; i++) {
		struct msg_row *m = &rows[i];
		const char *v[C__N];

		for (int c = 0; c < C__N; c++)
			v[c] = col[c] < 0 ? NULL : db_cell(r, i, (unsigned)col[c]);
		m->id = v[C_ID];
		m->conversation_id = v[C_CONV];
		m->kind = v[C_KIND];
		m->direct_key = v[C_DKEY];
		m->sender_id = v[C_SENDER];
		m->sender_username = v[C_SUSER];
		m->sender_display = v[C_SDISP];
		m->sender_avatar = v[C_SAVATAR];
		m->type = v[C_TYPE];
		m->content = v[C_CONTENT];
		m->encrypted = v[C_ENC];
		m->parent_id = v[C_PARENT];
		m->reply_to_id = v[C_REPLY];
		m->metadata = v[C_META];
		m->client_id = v[C_CLIENT];
		m->edited_at = v[C_EDITED];
		m->deleted_at = v[C_DELETED];
		m->created_at = v[C_CREATED];
		m->reply_count = v[C_RCOUNT] ? strtol(v[C_RCOUNT], NULL, 10) : 0;
		m->rp_id = v[C_RPID];
		m->rp_sender = v[C_RPSENDER];
		m->rp_content = v[C_RPCONTENT];
		m->rp_type = v[C_RPTYPE];
		m->rp_deleted = v[C_RPDELETED];
		m->rp_encrypted = v[C_RPENC] && strcmp(v[C_RPENC], "1") == 0;
		m->reactions = v[C_REACT];
		m->reactions_len = col[C_REACT] < 0 ? 0 :
		    r->lens[i * r->ncols + (unsigned)col[C_REACT]];
		m->my_role = v[C_ROLE];
		m->conv_deleted = v[C_CONVDEL];
		m->score = v[C_SCORE] ? strtod(v[C_SCORE], NULL) : 0.0;
	}
	*out = rows;
}

int
message_db_get(struct db *db, struct arena *a, const char *uid, const char *id,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_get, "ss", uid, id);
}

int
message_db_receipts(struct db *db, struct arena *a, const char *cid,
	const char *uid, struct db_rows *out)
{
	return db_query(db, a, out, sql_receipts, "ssss", cid, uid, cid, cid);
}

int
message_db_direct(struct db *db, struct arena *a, const char *direct_key,
	char id[IDS_UUID_LEN])
{
	struct db_rows r;
	const char *v;

	if (db_query(db, a, &r, sql_direct, "s", direct_key) == -1)
		return -1;
	v = r.nrows ? db_cell(&r, 0, 0) : NULL;
	if (!v || strlen(v) != 36)
		return 1;
	memcpy(id, v, IDS_UUID_LEN);
	return 0;
}

int
message_db_direct_to(struct db *db, struct arena *a, const char *direct_key,
	const char *peer, char id[IDS_UUID_LEN], int *peer_active)
{
	struct db_rows r;
	const char *v;

	*peer_active = 0;
	if (db_query(db, a, &r, sql_direct_to, "ss", peer, direct_key) == -1)
		return -1;
	v = r.nrows ? db_get(&r, 0, "id") : NULL;
	if (!v || strlen(v) != 36)
		return 1;
	memcpy(id, v, IDS_UUID_LEN);
	*peer_active = db_get_int(&r, 0, "peer_active") != 0;
	return 0;
}

int
message_db_direct_insert(struct db *db, const char *id, const char *direct_key,
	const char *created_by)
{
	return db_exec(db, NULL, sql_direct_insert, "sss", id, direct_key,
	    created_by);
}

int
message_db_locate(struct db *db, struct arena *a, const char *id,
	const char **conversation_id, const char **parent_id)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_locate, "s", id) == -1)
		return -1;
	if (r.nrows == 0)
		return 1;
	*conversation_id = db_get(&r, 0, "conversation_id");
	*parent_id = db_get(&r, 0, "parent_id");
	return 0;
}

int
message_db_send(struct db *db, const struct msg_new *m, const char *kind,
	const char *payload)
{
	if (db_exec(db, NULL, sql_send, "ssssssssssssss", m->id,
	    m->conversation_id, m->sender_id, kind, m->type, m->content,
	    m->encrypted, m->parent_id, m->reply_to_id, m->metadata,
	    m->client_id, m->idempotency_key, m->created_at, payload) == 0)
		return 0;
	/* SIGNAL SQLSTATE '45000' in the procedure: not a member. */
	return db_errno(db) == DB_ERR_SIGNAL ? 1 : -1;
}

int
message_db_exists(struct db *db, struct arena *a, const char *id)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_exists, "s", id) == -1)
		return -1;
	return r.nrows ? 1 : 0;
}

int
message_db_conversation(struct db *db, struct arena *a, const char *cid,
	const char **kind, const char **direct_key)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_conversation, "s", cid) == -1)
		return -1;
	if (r.nrows == 0)
		return 1;
	*kind = db_get(&r, 0, "kind");
	*direct_key = db_get(&r, 0, "direct_key");
	return 0;
}

int
message_db_peer_gone(struct db *db, struct arena *a, const char *cid,
	const char *uid)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_peer_gone, "ss", cid, uid) == -1)
		return -1;
	return r.nrows ? 1 : 0;
}

int
message_db_count_reply(struct db *db, const char *parent_id)
{
	return db_exec(db, NULL, sql_count_reply, "s", parent_id);
}

int
message_db_find_retry(struct db *db, struct arena *a, const char *sender,
	const char *client_id, const char *idem_key, char id[IDS_UUID_LEN])
{
	struct db_rows r;
	const char *v;

	for (int pass = 0; pass < 2; pass++) {
		const char *key = pass == 0 ? client_id : idem_key;

		if (!key)
			continue;
		if (db_query(db, a, &r, pass == 0 ? sql_find_client :
		    sql_find_idem, "ss", sender, key) == -1)
			return -1;
		v = r.nrows ? db_cell(&r, 0, 0) : NULL;
		if (v && strlen(v) == 36) {
			memcpy(id, v, IDS_UUID_LEN);
			return 0;
		}
	}
	return 1;
}

int
message_db_edit(struct db *db, const char *id, const char *sender,
	const char *content, const char *encrypted, const char *edited_at,
	uint64_t *affected)
{
	if (db_exec(db, NULL, sql_save_version, "ss", id, sender) == -1)
		return -1;
	return db_exec(db, affected, sql_edit, "sssss", content, encrypted,
	    edited_at, id, sender);
}

int
message_db_edits(struct db *db, struct arena *a, const char *id,
	struct db_rows *out)
{
	return db_query(db, a, out, sql_edits, "s", id);
}

int
message_db_delete(struct db *db, const char *id, const char *by,
	const char *at, uint64_t *affected)
{
	if (db_exec(db, affected, sql_delete, "sss", at, by, id) == -1)
		return -1;
	if (*affected == 0)
		return 0;
	if (db_exec(db, NULL, sql_delete_edits, "s", id) == -1 ||
	    db_exec(db, NULL, sql_uncount_reply, "s", id) == -1)
		return -1;
	return db_exec(db, NULL, sql_delete_reactions, "s", id);
}

int
message_db_mark_access(struct db *db, struct arena *a, const char *uid,
	const char *id, struct db_rows *out)
{
	return db_query(db, a, out, sql_mark_access, "ss", uid, id);
}

int
message_db_advance(struct db *db, const char *cid, const char *uid, int read,
	const char *at, const char *mid, uint64_t *affected)
{
	return db_exec(db, affected, read ? sql_advance_read :
	    sql_advance_delivered, "sssssss", at, mid, cid, uid, at, at, mid);
}

int
message_db_lock(struct db *db, struct arena *a, const char *uid,
	struct msg_row *m)
{
	struct db_rows c, r;

	if (db_query(db, a, &c, sql_lock_conversation, "ss", uid,
	    m->conversation_id) == -1 ||
	    db_query(db, a, &r, sql_lock_message, "s", m->id) == -1)
		return -1;
	if (c.nrows == 0 || r.nrows == 0)
		return 1;
	m->conv_deleted = db_get(&c, 0, "conv_deleted");
	m->my_role = db_get(&c, 0, "my_role");
	m->sender_id = db_get(&r, 0, "sender_id");
	m->deleted_at = db_get(&r, 0, "deleted_at");
	m->deleted_by = db_get(&r, 0, "deleted_by");
	return 0;
}

int
message_db_react_add(struct db *db, const char *id, const char *uid,
	const char *emoji)
{
	return db_exec(db, NULL, sql_react_add, "sss", id, uid, emoji);
}

int
message_db_react_del(struct db *db, const char *id, const char *uid,
	const char *emoji, uint64_t *affected)
{
	return db_exec(db, affected, sql_react_del, "sss", id, uid, emoji);
}

int
message_db_react_count(struct db *db, struct arena *a, const char *id,
	const char *uid, long *n)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_react_count, "ss", id, uid) == -1)
		return -1;
	*n = (long)db_get_int(&r, 0, "n");
	return 0;
}

int
message_db_reactions(struct db *db, struct arena *a, const char *id,
	const char **out, size_t *len)
{
	struct db_rows r;

	if (db_query(db, a, &r, sql_reactions, "s", id) == -1)
		return -1;
	*out = r.nrows ? db_cell(&r, 0, 0) : NULL;
	*len = *out ? r.lens[0] : 0;
	return 0;
}

#define KEYS_ARGS(f) \
	f->conversation_id, f->from, f->from, f->to, f->to, \
	f->before_at, f->before_at, f->before_at, f->before_id, f->after_at, \
	f->after_at, f->after_at, f->after_id
#define ROWS_ARGS(f) \
	f->type, f->parent_id, f->status, f->read_ex_user, \
	f->read_ex_at, f->read_ex_id, f->read_at, f->read_id, f->del_ex_user, \
	f->del_ex_at, f->del_ex_id, f->del_at, f->del_id, f->status

/* Whether f filters on a column outside the index (HISTORY_ROWS). */
static int
row_filtered(const struct msg_filter *f)
{
	return f->type || f->parent_id || f->status;
}

int
message_db_history(struct db *db, struct arena *a, const struct msg_filter *f,
	long limit, long offset, struct db_rows *out)
{
	const char *sql = sql_history[row_filtered(f)][f->desc != 0];

	if (!row_filtered(f))
		return db_query(db, a, out, sql, KEYS_TYPES "ii", KEYS_ARGS(f),
		    (int64_t)limit, (int64_t)offset);
	return db_query(db, a, out, sql, KEYS_TYPES ROWS_TYPES "ii",
	    KEYS_ARGS(f), ROWS_ARGS(f), (int64_t)limit, (int64_t)offset);
}

int
message_db_history_count(struct db *db, struct arena *a,
	const struct msg_filter *f, long *total, int *capped)
{
	struct db_rows r;
	int rc;

	if (!row_filtered(f))
		rc = db_query(db, a, &r, sql_history_count[0], KEYS_TYPES,
		    KEYS_ARGS(f));
	else
		rc = db_query(db, a, &r, sql_history_count[1],
		    KEYS_TYPES ROWS_TYPES, KEYS_ARGS(f), ROWS_ARGS(f));
	if (rc == -1)
		return -1;
	*total = (long)db_get_int(&r, 0, "n");
	*capped = *total > HISTORY_TOTAL_MAX;
	if (*capped)
		*total = HISTORY_TOTAL_MAX;
	return 0;
}

/* The scan plan is used up to this many messages (see SEARCH_FILTERS). */
#define SCAN_MAX 20000

/*
 * The scan plan's arguments: each term LIKE-escaped ('_' is the only LIKE
 * wildcard a word can hold) and the score's pattern, every term at the
 * start of a word ("(?<![[:alnum:]_])(one|two)"; words hold no regular
 * expression syntax).
 */
static void
scan_args(struct arena *a, const struct msg_search_filter *f,
	const char *like[MESSAGE_DB_SEARCH_TERMS], const char **pattern)
{
	static const char head[] = "(?<![[:alnum:]_])(";
	size_t cap = sizeof(head) + 1, len;
	char *re;

	for (size_t i = 0; i < f->nterms; i++)
		cap += strlen(f->terms[i]) + 1;
	re = arena_alloc(a, cap);
	len = (size_t)snprintf(re, cap, "%s", head);
	for (size_t i = 0; i < MESSAGE_DB_SEARCH_TERMS; i++) {
		const char *t = i < f->nterms ? f->terms[i] : NULL;
		char *e;
		size_t n = 0;

		like[i] = NULL;
		if (!t)
			continue;
		len += (size_t)snprintf(re + len, cap - len, "%s%s",
		    i ? "|" : "", t);
		e = arena_alloc(a, 2 * strlen(t) + 1);
		for (; *t; t++) {
			if (*t == '_')
				e[n++] = '\\';
			e[n++] = *t;
		}
		e[n] = '\0';
		like[i] = e;
	}
	snprintf(re + len, cap - len, ")");
	*pattern = re;
}

static int
search_page(struct db *db, struct arena *a, const char *uid,
	const struct msg_search_filter *f, int scan, long limit, long offset,
	struct db_rows *out)
{
	const char *like[MESSAGE_DB_SEARCH_TERMS], *pattern;

	if (!scan)
		return db_query(db, a, out, sql_search_ft, "ssssssssssssii",
		    f->boolean, uid, f->boolean, f->conversation_id,
		    f->conversation_id, f->sender_id, f->sender_id, f->type,
		    f->from, f->from, f->to, f->to, (int64_t)limit,
		    (int64_t)offset);
	scan_args(a, f, like, &pattern);
	return db_query(db, a, out, sql_search_scan,
	    "sssssssssssssssssssii", pattern, like[0], like[1], like[2],
	    like[3], like[4], like[5], like[6], like[7], uid,
	    f->conversation_id, f->conversation_id, f->sender_id, f->sender_id,
	    f->type, f->from, f->from, f->to, f->to, (int64_t)limit,
	    (int64_t)offset);
}

int
message_db_search(struct db *db, struct arena *a, const char *uid,
	const struct msg_search_filter *f, long limit, long offset,
	struct db_rows *out, long *total)
{
	struct db_rows n;
	int scan;

	if (db_query(db, a, &n, sql_search_scope, "sssi", uid,
	    f->conversation_id, f->conversation_id, (int64_t)SCAN_MAX + 1) == -1)
		return -1;
	scan = db_get_int(&n, 0, "n") <= SCAN_MAX;
	if (search_page(db, a, uid, f, scan, limit, offset, out) == -1)
		return -1;
	*total = out->nrows ? (long)db_get_int(out, 0, "total") : 0;
	/* Past the last page: the first row of page one has the total. */
	if (out->nrows == 0 && offset > 0) {
		if (search_page(db, a, uid, f, scan, 1, 0, &n) == -1)
			return -1;
		*total = n.nrows ? (long)db_get_int(&n, 0, "total") : 0;
	}
	return 0;
}
