/*
 * user_db.h - the SQL of the users service (user.c): prepared statements
 * and row mapping only, no rules. Every function returns 0 or -1 (then
 * db_errno() tells a duplicate, DB_ERR_DUP, from other failures).
 *
 * Rows of user_db_get / user_db_search carry USER_DB_COLUMNS in order;
 * user_db_json() renders one.
 */
#ifndef PARLEY_USER_DB_H
#define PARLEY_USER_DB_H

#include <stdint.h>

#include <jansson.h>

#include "db.h"

struct user_patch;

int user_db_insert(struct db *db, const char *id, const char *username,
	const char *email, const char *hash, const char *display_name,
	const char *public_key, const char *role);

/* Which of username / email are taken by any account (deleted ones included). */
int user_db_taken(struct db *db, struct arena *a, const char *username,
	const char *email, int *username_taken, int *email_taken);

/* The active user id (0 or 1 row). */
int user_db_get(struct db *db, struct arena *a, const char *id,
	struct db_rows *out);

/* id, role, password_hash of the active user with this username or email. */
int user_db_find_login(struct db *db, struct arena *a, const char *name,
	int by_email, struct db_rows *out);

/* Applies the fields of p that are set (no-op if the user is not active). */
int user_db_update(struct db *db, const char *id, const struct user_patch *p);

/*
 * Active users whose username or display name contains query, or whose
 * email is email (NULL: none is compared), exact usernames first.
 */
int user_db_search(struct db *db, struct arena *a, const char *query,
	const char *email, long limit, long offset, struct db_rows *out,
	long *total);

/* Anonymises and disables id (within the caller's transaction). */
int user_db_anonymise(struct db *db, const char *id, const char *new_username,
	uint64_t *affected);

/*
 * Deleted accounts that are still members of a live group or have a
 * pending join request (deleted before deletion left groups): column id,
 * oldest deletion first.
 */
int user_db_deleted_in_groups(struct db *db, struct arena *a,
	struct db_rows *out);

/* Locks deleted account id: 1 (it is one), 0 (no such deleted one), -1. */
int user_db_lock_deleted(struct db *db, struct arena *a, const char *id);

/* Locks account id unless deleted: 1 (locked), 0 (no such account), -1. */
int user_db_lock_undeleted(struct db *db, struct arena *a, const char *id);

/* Marks account id inactive (in the caller's transaction). */
int user_db_deactivate(struct db *db, const char *id);

int user_db_set_password(struct db *db, const char *id, const char *hash,
	uint64_t *affected);

/*
 * Renders row `row` of user_db_get / user_db_search result r: own adds email,
 * role and updatedAt. Presence (isOnline, lastSeen) is the caller's.
 */
json_t *user_db_json(const struct db_rows *r, size_t row, int own);

#endif
