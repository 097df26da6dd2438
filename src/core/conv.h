/*
 * conv.h - internals shared by the conversation services (group.c,
 * invite.c, message.c, conversation.c): database failure handling,
 * deadlock retries, events and the current time. Not for handlers.
 */
#ifndef PARLEY_CONV_H
#define PARLEY_CONV_H

#include <jansson.h>

#include "msgfmt.h"
#include "outbox.h"
#include "status.h"
#include "timefmt.h"

struct db;
struct svc_ctx;

/* Transactions that die in a deadlock are run again this many times. */
#define CONV_TX_ATTEMPTS 3

/*
 * After a failed statement: rolls back and answers ST_UNAVAILABLE ("The
 * database is unavailable"). Use as `return conv_db_error(db, e);`.
 */
enum status conv_db_error(struct db *db, struct svc_error *e);

/*
 * 1 if a transaction that answered st should run again: it failed with a
 * deadlock (InnoDB chose it as the victim) and attempt + 1 <
 * CONV_TX_ATTEMPTS.
 */
int conv_retry(struct db *db, enum status st, int attempt);

/*
 * Inside a transaction: whether uid may be in groups, its row locked until
 * the end (group_db_user_active()), so a deactivation under way is waited
 * for. ST_OK if so; else the transaction is rolled back and the answer is
 * ST_NOT_FOUND ("User not found") or conv_db_error()'s.
 */
enum status conv_user_active(const struct svc_ctx *ctx, const char *uid,
	struct svc_error *e);

/* outbox_add() that steals payload. 0 or -1. */
int conv_event(struct db *db, enum outbox_target kind, const char *target,
	const char *type, json_t *payload);

/* The current time as API text and as DATETIME(3) text. */
struct conv_now {
	int64_t ms;
	char iso[TIMEFMT_LEN];
	char db[MSGFMT_DBTIME_LEN];
};
void conv_now(struct conv_now *now);

/*
 * An Idempotency-Key header (NULL: none) is 1..CONV_IDEMPOTENCY_KEY_MAX
 * printable ASCII characters without spaces: ST_OK, or ST_INVALID on the
 * field "Idempotency-Key".
 */
#define CONV_IDEMPOTENCY_KEY_MAX 128
enum status conv_check_idempotency_key(const char *key, struct svc_error *e);

/* Lowercases canonical id into out; 0, or -1 when id is not a UUID. */
int conv_id(const char *id, char out[IDS_UUID_LEN]);

/*
 * The payload of group:member:join (new reference; user borrowed, may be
 * NULL; by may be NULL): {groupId, conversationId, userId, role, user,
 * addedBy, via, joinedAt}.
 */
json_t *conv_join_payload(const char *gid, const char *uid, const char *role,
	json_t *user, const char *by, const char *via, const char *at);

/* group:member:join to the group's room and to the new member's room. */
int conv_emit_join(struct db *db, const char *gid, const char *uid,
	const char *role, json_t *user, const char *by, const char *via,
	const char *at);

/*
 * group:member:leave {groupId, conversationId, userId, reason ("left",
 * "removed"), removedBy, newOwnerId} to the group's room and to the room
 * of the user who left.
 */
int conv_emit_leave(struct db *db, const char *gid, const char *uid,
	const char *reason, const char *by, const char *new_owner);

#endif
