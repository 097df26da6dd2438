/*
 * invite_db.h - the SQL of invitations and join requests (invite.c).
 * Prepared statements and row mapping only; 0 or -1 unless said otherwise.
 */
#ifndef PARLEY_INVITE_DB_H
#define PARLEY_INVITE_DB_H

#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "ids.h"

/* idempotency_key may be NULL; a repeated one fails with DB_ERR_DUP. */
int invite_db_insert(struct db *db, const char *id, const char *gid,
	const char *code, const char *title, const char *created_by,
	int64_t max_uses, int require_approval, const char *expires_at,
	const char *idempotency_key);

/*
 * The invitation created_by made with this Idempotency-Key: 1 (id and its
 * group gid set), 0, -1.
 */
int invite_db_find_idempotent(struct db *db, struct arena *a,
	const char *created_by, const char *key, char id[IDS_UUID_LEN],
	char gid[IDS_UUID_LEN]);

/*
 * For the limits: invitations of gid created in the last 24 hours
 * (*day), usable ones (*active), and seconds until the oldest of the
 * last 24 hours leaves the window (*retry).
 */
int invite_db_counts(struct db *db, struct arena *a, const char *gid,
	long *day, long *active, long *retry);

/* gid's invitations, newest first; created_by NULL: everyone's. */
int invite_db_list(struct db *db, struct arena *a, const char *gid,
	const char *created_by, struct db_rows *out);

/* One invitation of gid (0 rows: none). */
int invite_db_get(struct db *db, struct arena *a, const char *gid,
	const char *id, struct db_rows *out);

/* Revokes invitation id of gid and drops the join requests made with it. */
int invite_db_revoke(struct db *db, const char *gid, const char *id);

/* The group of code (no lock): 0 found, 1 none, -1. */
int invite_db_group_of(struct db *db, struct arena *a, const char *code,
	char gid[37]);

/* The invitation of code, locked FOR UPDATE (0 rows: none). */
int invite_db_lock_code(struct db *db, struct arena *a, const char *code,
	struct db_rows *out);

/* Counts one use: a member got in with invitation id. */
int invite_db_use(struct db *db, const char *id);

/*
 * Join requests. A request is live while its invitation is not revoked
 * (expiry does not end it); invite_db_requests lists only live requests of
 * active accounts. invite_db_request_add stores uid's request unless one
 * is pending already: *affected is 1 when it stored a new row, 0 if not.
 * invite_db_request_lock locks uid's request in gid: 0 (with *live and
 * its invitation's id in iid, "" if none), 1 none, -1.
 * invite_db_request_drop_dead drops it if it is not live. A request
 * holds a use of its invitation while it exists (invite_db_json's
 * pendingRequests); deleting it, any way, gives the use back.
 */
int invite_db_request_add(struct db *db, const char *gid, const char *uid,
	const char *invitation_id, uint64_t *affected);
int invite_db_request_lock(struct db *db, struct arena *a, const char *gid,
	const char *uid, int *live, char iid[IDS_UUID_LEN]);
int invite_db_request_drop_dead(struct db *db, const char *gid,
	const char *uid);
/*
 * uid's request in gid as stored, whether it could be approved or not,
 * in invite_db_requests' shape (0 rows: none).
 */
int invite_db_request_get(struct db *db, struct arena *a, const char *gid,
	const char *uid, struct db_rows *out);
int invite_db_requests(struct db *db, struct arena *a, const char *gid,
	struct db_rows *out);
int invite_db_request_del(struct db *db, const char *gid, const char *uid,
	uint64_t *affected);

/* Who decides gid's join requests: its OWNER and ADMINs (column user_id). */
int invite_db_deciders(struct db *db, struct arena *a, const char *gid,
	struct db_rows *out);

/* The invitation object of row i; public_url builds inviteUrl. */
json_t *invite_db_json(const struct db_rows *r, size_t i,
	const char *public_url);
/* The join request object of invite_db_requests row i. */
json_t *invite_db_request_json(const struct db_rows *r, size_t i);

#endif
