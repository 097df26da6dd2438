/*
 * user.h - accounts and profiles: the rules (user_db.c holds the SQL).
 *
 * A user has a username (3-50 of [A-Za-z0-9_], unique ignoring case), an
 * email (unique ignoring case), a scrypt password hash, a profile
 * (displayName, avatar URL, statusMessage, bio, location, publicKey), a
 * platform role (USER or ADMIN) and presence. Two JSON views exist:
 *
 *   own     what the user sees of themselves: id, username, email,
 *           displayName, avatar, statusMessage, bio, location, publicKey,
 *           role, isOnline, lastSeen, createdAt, updatedAt
 *   public  what everyone else sees: the same without email, role and
 *           updatedAt. Never a password hash or session data.
 *
 * The own view (minus presence) is cached in memcached as "user:<id>" for
 * USER_CACHE_TTL seconds, because GET /auth/me is the hottest read of all;
 * every change to a users row must call user_cache_forget() after commit
 * (the bridge too, if it updates last_seen and wants it seen at once).
 *
 * Deleting an account anonymises it (username "deleted_<id hex>", email,
 * hash and profile cleared, is_active 0, deleted_at set) and revokes its
 * sessions; rows that refer to it (messages, memberships) stay.
 */
#ifndef PARLEY_USER_H
#define PARLEY_USER_H

#include <jansson.h>

#include "ids.h"
#include "request.h"
#include "status.h"

struct cache;
struct db_rows;
struct svc_ctx;

#define USER_CACHE_TTL 300

/* Limits, in characters (code points) unless said otherwise. */
#define USER_NAME_MIN 3
#define USER_NAME_MAX 50
#define USER_EMAIL_MAX 254        /* bytes */
#define USER_DISPLAY_NAME_MAX 100
#define USER_AVATAR_MAX 2048      /* bytes */
#define USER_STATUS_MAX 200
#define USER_BIO_MAX 1000
#define USER_LOCATION_MAX 100
#define USER_PUBLIC_KEY_MAX 16384 /* bytes */

struct user_new {
	const char *username;
	const char *email;
	const char *password;
	const char *display_name; /* may be NULL */
	const char *public_key;   /* may be NULL */
	const char *role;         /* "USER" (NULL) or "ADMIN" (parleyctl only) */
};

/* One field of a profile update: set = present in the request; value NULL clears it. */
struct user_field {
	int set;
	const char *value;
};

struct user_patch {
	struct user_field username;
	struct user_field display_name;
	struct user_field avatar;
	struct user_field status_message;
	struct user_field bio;
	struct user_field location;
	struct user_field public_key;
};

/*
 * Validates a registration (seed 002 rules). ST_OK or ST_INVALID with
 * e->field naming the offending field (camelCase) and e->message why.
 */
enum status user_validate_new(const struct user_new *in, struct svc_error *e);

/*
 * Validates and creates an account: hashes the password, inserts the row.
 * id receives the new user's id. ST_CREATED, ST_INVALID, ST_CONFLICT
 * (e->field "username" or "email"), ST_UNAVAILABLE (hash slots busy, or
 * the database is down).
 */
enum status user_create(const struct svc_ctx *ctx, const struct user_new *in,
	char id[IDS_UUID_LEN], struct svc_error *e);

/*
 * The JSON of active user id (new reference in *out): the own view when
 * own is set, else the public view; with presence. ST_OK, ST_NOT_FOUND,
 * ST_UNAVAILABLE.
 */
enum status user_get(const struct svc_ctx *ctx, const char *id, int own,
	json_t **out, struct svc_error *e);

/*
 * The own view of active user id as JSON text (arena memory, *len bytes):
 * the object user_get(own = 1) gives, spliced from the cached text without
 * building a jansson tree, for the hottest read (GET /auth/me). ST_OK,
 * ST_NOT_FOUND, ST_UNAVAILABLE.
 */
enum status user_get_own_text(const struct svc_ctx *ctx, const char *id,
	const char **json, size_t *len, struct svc_error *e);

/*
 * Applies a profile update to user id on behalf of me (the user themself
 * or a platform admin; anyone else gets ST_FORBIDDEN, a missing user
 * ST_NOT_FOUND). Fields not in struct user_patch (email, role, password,
 * ids, timestamps) cannot be changed here. *out receives the own view.
 * ST_OK, ST_INVALID, ST_CONFLICT (username taken), ST_FORBIDDEN,
 * ST_NOT_FOUND, ST_UNAVAILABLE.
 */
enum status user_update(const struct svc_ctx *ctx, const struct identity *me,
	const char *id, const struct user_patch *p, json_t **out,
	struct svc_error *e);

/*
 * Anonymises and disables user id on behalf of me (self or admin), takes
 * it out of every group as if it left (group_leave_all: an owned group goes
 * to its successor, a group it was alone in is deleted) and revokes all its
 * sessions. ST_OK, ST_FORBIDDEN, ST_NOT_FOUND, ST_UNAVAILABLE.
 */
enum status user_delete(const struct svc_ctx *ctx, const struct identity *me,
	const char *id, struct svc_error *e);

/*
 * Accounts deleted before deletion took them out of their groups (older
 * data) and still in a group or with a pending join request: *ids gets
 * their ids (column 0, arena), oldest deletion first. 0, or -1.
 */
int user_deleted_in_groups(const struct svc_ctx *ctx, struct db_rows *ids);

/*
 * Repairs deleted account id as user_delete treats accounts now: in one
 * transaction it leaves every group (group_leave_all: hand-over, deletion
 * of a group left empty, the same events) and its join requests go. Safe
 * to repeat (nothing left to do is ST_OK). ST_OK, ST_NOT_FOUND (no such
 * deleted account), ST_UNAVAILABLE.
 */
enum status user_repair_deleted(const struct svc_ctx *ctx, const char *id,
	struct svc_error *e);

/*
 * Searches active users: query (may be empty: everyone) matches a
 * username or display name by substring (case-insensitive; exact and
 * prefix username matches first) or an email exactly. *items receives an
 * array of public views, *total the number of matches.
 */
enum status user_search(const struct svc_ctx *ctx, const char *query,
	const struct page *pg, json_t **items, long *total, struct svc_error *e);

/*
 * Looks up an active account by login name (an email when it contains
 * '@', else a username). 1 found (id, role and hash filled; hash may be
 * NULL: no password set), 0 not found, -1 database error. Strings are
 * arena memory.
 */
int user_find_login(const struct svc_ctx *ctx, const char *login,
	const char **id, const char **role, const char **hash);

/*
 * Sets a new password for user id (policy-checked), revoking every
 * session. For parleyctl user reset-password. ST_OK, ST_INVALID,
 * ST_NOT_FOUND, ST_UNAVAILABLE. On ST_OK *cache_stale (may be NULL) is 1
 * when the sessions were revoked in MariaDB but memcached could not be
 * told (session_revoke_all() returned 1): their access tokens may then be
 * accepted for up to AUTH_SESSION_ALIVE_TTL seconds more.
 */
enum status user_set_password(const struct svc_ctx *ctx, const char *id,
	const char *password, int *cache_stale, struct svc_error *e);

/*
 * Deactivates account id (user_state.c): it can no longer log in or be
 * seen, and in the same transaction its pending join requests go, so the
 * invitation uses they held come back (deletion does the same). Every
 * session is then revoked. Repeating it on an inactive account (one set
 * inactive in SQL, say) still drops its requests. For parleyctl user
 * deactivate. ST_OK, ST_NOT_FOUND (no such account, or deleted),
 * ST_UNAVAILABLE. *cache_stale as for user_set_password().
 */
enum status user_deactivate(const struct svc_ctx *ctx, const char *id,
	int *cache_stale, struct svc_error *e);

#define USER_CACHE_KEY_LEN (5 + IDS_UUID_LEN)
/* The memcached key of user id's cached view ("user:<id>", id lowercase). */
void user_cache_key(char out[USER_CACHE_KEY_LEN], const char *id);

/* Drops the cached own view of user id (after any change to its row). */
void user_cache_forget(struct cache *cache, const char *id);

/* 1 if s is a valid username, else 0 (e->message says why when e is set). */
int user_username_valid(const char *s, struct svc_error *e);

#endif
