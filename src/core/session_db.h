/*
 * session_db.h - the SQL of the session service (session.c): sessions,
 * refresh tokens and login-failure rows. Statements and row mapping only;
 * every function returns 0 or -1.
 */
#ifndef PARLEY_SESSION_DB_H
#define PARLEY_SESSION_DB_H

#include <stdint.h>

#include "db.h"

int session_db_create(struct db *db, const char *sid, const char *user_id,
	const char *user_agent, const char *ip, long ttl_s);

/* Stores a refresh token's SHA-256 for session sid. */
int session_db_add_refresh(struct db *db, const unsigned char hash[32],
	const char *sid, long ttl_s);

/*
 * The refresh token with this hash and its session: columns session_id,
 * user_id, role, used (0/1), token_live, session_open, session_live,
 * user_active (0/1 each). 0 or 1 row.
 */
int session_db_refresh_get(struct db *db, struct arena *a,
	const unsigned char hash[32], struct db_rows *out);

/* Marks the token used; *affected is 0 if it already was. */
int session_db_refresh_use(struct db *db, const unsigned char hash[32],
	uint64_t *affected);

/* Slides the session's expiry after a refresh. */
int session_db_touch(struct db *db, const char *sid, long ttl_s);

int session_db_revoke(struct db *db, const char *sid, const char *reason,
	uint64_t *affected);

/*
 * Ids of user_id's unexpired sessions that are open or were revoked in the
 * last recent_s seconds, locked (in a transaction).
 */
int session_db_live_of_user(struct db *db, struct arena *a,
	const char *user_id, long recent_s, struct db_rows *out);

int session_db_revoke_user(struct db *db, const char *user_id,
	const char *reason);

/* One more login-failure row for account (a reservation until released). */
int session_db_failure_add(struct db *db, const char *account);
/* Rows of account in the last hour; *retry_s = seconds until one ages out. */
int session_db_failure_count(struct db *db, struct arena *a,
	const char *account, long *count, long *retry_s);
/* Removes one row of account (a reservation that was not a failure). */
int session_db_failure_release(struct db *db, const char *account);
/* Deletes rows older than an hour (bounded batch). */
int session_db_failure_prune(struct db *db);

#endif
