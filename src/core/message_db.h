/*
 * message_db.h - the SQL of messages (message.c): prepared statements and
 * row mapping only. Every int function returns 0 on success and -1 on a
 * database error unless it says otherwise.
 */
#ifndef PARLEY_MESSAGE_DB_H
#define PARLEY_MESSAGE_DB_H

#include <stdint.h>

#include "db.h"
#include "ids.h"

/* One message as read (all strings borrowed from the rows or the arena). */
struct msg_row {
	const char *id, *conversation_id, *kind, *direct_key;
	const char *sender_id, *sender_username, *sender_display, *sender_avatar;
	const char *type, *content, *encrypted, *parent_id, *reply_to_id;
	const char *metadata, *client_id, *edited_at, *deleted_at, *created_at;
	const char *deleted_by; /* only read by message_db_lock() */
	long reply_count;
	/* The message replied to (LEFT JOIN; rp_id NULL if none/absent). */
	const char *rp_id, *rp_sender, *rp_content, *rp_type, *rp_deleted;
	int rp_encrypted;
	/* "emoji\x1fuser\x1e..." in reaction order, or NULL. */
	const char *reactions;
	size_t reactions_len;
	/* Access columns (message_db_get): the reader's role, if a member. */
	const char *my_role, *conv_deleted;
	double score; /* search relevance */
};

/* Maps every row of a message query into *out (arena array of r->nrows). */
void message_db_rows(const struct db_rows *r, struct arena *a,
	struct msg_row **out);

/* Message id with the reader uid's role in its conversation (0 rows: none). */
int message_db_get(struct db *db, struct arena *a, const char *uid,
	const char *id, struct db_rows *out);

/*
 * The reader's membership and the receipt pointers of conversation cid,
 * as rows with column k: 'M' (uid's membership: role, kind, direct_key, n
 * = number of messages; absent if not a member), then the two lowest read
 * pointers ('R': user_id, at, mid) and the two lowest delivered ones ('D').
 */
int message_db_receipts(struct db *db, struct arena *a, const char *cid,
	const char *uid, struct db_rows *out);

/* The live DM conversation for direct_key: 0 found (id), 1 none, -1. */
int message_db_direct(struct db *db, struct arena *a, const char *direct_key,
	char id[IDS_UUID_LEN]);

/*
 * message_db_direct for a send to peer: also *peer_active, whether peer
 * may still receive messages (neither deactivated nor deleted).
 */
int message_db_direct_to(struct db *db, struct arena *a,
	const char *direct_key, const char *peer, char id[IDS_UUID_LEN],
	int *peer_active);

int message_db_direct_insert(struct db *db, const char *id,
	const char *direct_key, const char *created_by);

/* conversation_id and parent_id of message id: 0, 1 none, -1. */
int message_db_locate(struct db *db, struct arena *a, const char *id,
	const char **conversation_id, const char **parent_id);

/* What message_send writes. */
struct msg_new {
	const char *id, *conversation_id, *sender_id, *type, *content;
	const char *encrypted, *parent_id, *reply_to_id, *metadata, *client_id;
	const char *idempotency_key, *created_at;
};

/*
 * The send transaction in one round trip (the stored procedure
 * parley_message_send, schema/003): inserts the message if its sender is a
 * member of the live conversation of kind kind, writes the
 * message:received event with payload (JSON text) to the conversation's
 * room, counts a thread reply, commits. The conversation's row is not
 * written: the senders of one group must not queue on its row lock.
 * 0 sent, 1 not a member (or no such live conversation of that kind), -1
 * error with everything rolled back (db_errno() == DB_ERR_DUP: the id,
 * clientId or Idempotency-Key was used before).
 */
int message_db_send(struct db *db, const struct msg_new *m, const char *kind,
	const char *payload);

/* 1 if message id exists, 0 if not, -1. */
int message_db_exists(struct db *db, struct arena *a, const char *id);

/* kind and direct_key of live conversation cid: 0, 1 none, -1. */
int message_db_conversation(struct db *db, struct arena *a, const char *cid,
	const char **kind, const char **direct_key);

/*
 * 1 if uid is in DM cid and its other user is deactivated or deleted;
 * else 0 (also for anyone outside cid), or -1.
 */
int message_db_peer_gone(struct db *db, struct arena *a, const char *cid,
	const char *uid);

int message_db_count_reply(struct db *db, const char *parent_id);

/* The id of sender's message with client_id / idempotency key: 0, 1, -1. */
int message_db_find_retry(struct db *db, struct arena *a, const char *sender,
	const char *client_id, const char *idem_key, char id[IDS_UUID_LEN]);

/* Saves the current version into message_edits, then replaces it. */
int message_db_edit(struct db *db, const char *id, const char *sender,
	const char *content, const char *encrypted, const char *edited_at,
	uint64_t *affected);

/* Previous versions, oldest first (content, encrypted, valid_from, replaced_at). */
int message_db_edits(struct db *db, struct arena *a, const char *id,
	struct db_rows *out);

/*
 * Tombstones the message: content, envelope, metadata, edits, reactions go,
 * and a reply no longer counts in its thread root's reply_count.
 */
int message_db_delete(struct db *db, const char *id, const char *by,
	const char *at, uint64_t *affected);

/*
 * Message id for receipts by member uid: conversation_id, sender_id,
 * created_at, kind, direct_key and uid's pointers (0 rows: not visible).
 */
int message_db_mark_access(struct db *db, struct arena *a, const char *uid,
	const char *id, struct db_rows *out);

/* Moves uid's delivered (read = 0) or read pointer forward to (at, mid). */
int message_db_advance(struct db *db, const char *cid, const char *uid,
	int read, const char *at, const char *mid, uint64_t *affected);

/*
 * Inside a transaction, before message m is edited or deleted by uid:
 * takes the row of m's conversation and uid's member row with a shared
 * lock, then m's row FOR UPDATE, and reads m->my_role, conv_deleted,
 * sender_id, deleted_at and deleted_by afresh from them. Group changes
 * lock the group's row FOR UPDATE before member rows (group_db_access),
 * so a change of uid's membership or role under way is waited for and
 * what it leaves is read; senders hold the same shared lock, so neither
 * waits for the other. 0, 1 when the message or its conversation is
 * gone, -1.
 */
int message_db_lock(struct db *db, struct arena *a, const char *uid,
	struct msg_row *m);

int message_db_react_add(struct db *db, const char *id, const char *uid,
	const char *emoji);
int message_db_react_del(struct db *db, const char *id, const char *uid,
	const char *emoji, uint64_t *affected);
int message_db_react_count(struct db *db, struct arena *a, const char *id,
	const char *uid, long *n);
/* The message's reactions in the msg_row.reactions form (*out may be NULL). */
int message_db_reactions(struct db *db, struct arena *a, const char *id,
	const char **out, size_t *len);

/* History of one conversation: filters (NULL = none) and a cursor. */
struct msg_filter {
	const char *conversation_id;
	const char *type, *from, *to, *parent_id;
	const char *before_at, *before_id; /* before_at NULL: no cursor */
	const char *after_at, *after_id;
	int desc;
	/* status filter: NULL, or SEEN/DELIVERED/SENT with the thresholds */
	const char *status;
	const char *read_ex_user, *read_ex_at, *read_ex_id, *read_at, *read_id;
	const char *del_ex_user, *del_ex_at, *del_ex_id, *del_at, *del_id;
};
int message_db_history(struct db *db, struct arena *a,
	const struct msg_filter *f, long limit, long offset,
	struct db_rows *out);
/*
 * How many messages f matches, counted up to HISTORY_TOTAL_MAX: past it
 * *total is HISTORY_TOTAL_MAX and *capped 1, so that a request never
 * costs what the whole conversation holds.
 */
#define HISTORY_TOTAL_MAX 10000
int message_db_history_count(struct db *db, struct arena *a,
	const struct msg_filter *f, long *total, int *capped);

/*
 * Search over uid's conversations: boolean is the full-text expression and
 * terms its words (msgfmt_search_parse); *total counts every match. The
 * plan follows how many messages uid can read (message_db.c).
 */
#define MESSAGE_DB_SEARCH_TERMS 8
struct msg_search_filter {
	const char *boolean, *conversation_id, *sender_id, *type, *from, *to;
	const char *terms[MESSAGE_DB_SEARCH_TERMS];
	size_t nterms;
};
int message_db_search(struct db *db, struct arena *a, const char *uid,
	const struct msg_search_filter *f, long limit, long offset,
	struct db_rows *out, long *total);

#endif
