/*
 * group_db.h - the SQL of groups and conversation lists (group.c,
 * conversation.c, invite.c and message.c use it). Prepared statements and
 * row mapping only; no rules. Every int function returns 0 on success and
 * -1 on a database error unless it says otherwise.
 */
#ifndef PARLEY_GROUP_DB_H
#define PARLEY_GROUP_DB_H

#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "group.h"
#include "ids.h"

/* A caller's view of one group, read (optionally locked) at the start of a change. */
struct group_access {
	char id[IDS_UUID_LEN];
	enum group_role role;      /* GROUP_ROLE_NONE: not a member */
	char visibility[8];        /* PRIVATE, PUBLIC, SECRET */
	long max_members;
	long member_count;
	const char *settings;      /* JSON text or NULL (arena) */
	/* The latest message (NULL if none; arena); only read when locking. */
	const char *last_message_id;
	const char *last_message_at;
};

/*
 * Reads group gid for user uid. lock = take the group row FOR UPDATE
 * (inside a transaction): every membership change does, so they serialise
 * per group. 0 found (acc->role may be NONE), 1 no such live group, -1.
 */
int group_db_access(struct db *db, struct arena *a, const char *gid,
	const char *uid, int lock, struct group_access *acc);

/* The role of uid in live conversation cid (any kind): 1 member, 0 not, -1. */
int group_db_is_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, enum group_role *role);

/* idempotency_key may be NULL; a repeated one fails with DB_ERR_DUP. */
int group_db_insert(struct db *db, const char *id, const char *title,
	const char *description, const char *cover, const char *visibility,
	long max_members, const char *settings, const char *created_by,
	const char *idempotency_key);

/* The group created_by made with this Idempotency-Key: 1 (id set), 0, -1. */
int group_db_find_idempotent(struct db *db, struct arena *a,
	const char *created_by, const char *key, char id[IDS_UUID_LEN]);

/*
 * Adds uid to cid with role; its read/delivered pointers start at the
 * conversation's last message (read_id/read_at, may be NULL) so history
 * from before the join is not unread. *user (may be NULL) receives the
 * user summary {id, username, displayName, avatar}. A pending join request
 * of uid for cid is dropped. The user row is read with a shared lock
 * (group_db_user_active()). 0 added, 1 no such active user, -1 error
 * (db_errno() == DB_ERR_DUP: already a member).
 */
int group_db_add_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, const char *role, const char *read_id,
	const char *read_at, json_t **user);

int group_db_remove_member(struct db *db, const char *cid, const char *uid,
	uint64_t *affected);
int group_db_set_role(struct db *db, const char *cid, const char *uid,
	const char *role, uint64_t *affected);

/* Drops every pending join request of uid (account deletion). */
int group_db_drop_user_requests(struct db *db, const char *uid);

/*
 * Whether uid may be in groups (active, not deleted): 1 yes, 0 no, -1.
 * Inside a transaction the user row stays share-locked until its end, so
 * the answer holds for it: a deactivation under way (user_state.c locks
 * the row FOR UPDATE) is waited for. Lock order: the group's row first,
 * then the user's, then join requests - deactivation takes the user's,
 * then the join requests.
 */
int group_db_user_active(struct db *db, struct arena *a, const char *uid);

/*
 * The active member who inherits ownership: oldest ADMIN, MODERATOR,
 * MEMBER, into out, and its role now into *role (arena). 0/1/-1.
 */
int group_db_successor(struct db *db, struct arena *a, const char *cid,
	const char *exclude, char out[IDS_UUID_LEN], const char **role);

/* One field of a group update: set = present; value NULL stores NULL. */
struct group_patch {
	int title_set, description_set, cover_set, visibility_set, max_set,
	    settings_set;
	const char *title, *description, *cover, *visibility, *settings;
	long max_members;
};
int group_db_update(struct db *db, const char *cid, const struct group_patch *p);

/* Marks the group deleted and revokes its invitations. */
int group_db_delete(struct db *db, const char *cid);

/* user_id of every member of cid (one column "user_id"). */
int group_db_member_ids(struct db *db, struct arena *a, const char *cid,
	struct db_rows *out);

/* Members with their user summaries, by role then join time. */
int group_db_members(struct db *db, struct arena *a, const char *cid,
	long limit, long offset, struct db_rows *out, long *total);

/* One member row of cid in group_db_members' shape (0 rows: not a member). */
int group_db_member(struct db *db, struct arena *a, const char *cid,
	const char *uid, struct db_rows *out);

/*
 * The caller's conversations, most recently active first, with what lists
 * show (role, memberCount, unreadCount, lastMessage, the DM peer). kind is
 * "GROUP", "DIRECT" or NULL (both); search (NULL: none) matches titles and
 * DM peers; unread_only keeps conversations with unread messages.
 */
struct conv_filter {
	const char *kind;
	const char *search;
	int unread_only;
};
int group_db_list(struct db *db, struct arena *a, const char *uid,
	const struct conv_filter *f, long limit, long offset,
	struct db_rows *out, long *total);

/* One conversation of uid in the list's shape (0 rows: not a member). */
int group_db_row(struct db *db, struct arena *a, const char *uid,
	const char *cid, struct db_rows *out);

/* The group object of list row i (group_db_list / group_db_row). */
json_t *group_db_json(const struct db_rows *r, size_t i);
/* The conversation object of list row i. */
json_t *group_db_conversation_json(const struct db_rows *r, size_t i);
/* The member object of group_db_members row i (isOnline false). */
json_t *group_db_member_json(const struct db_rows *r, size_t i);
/* The settings object from stored JSON text (defaults filled in). */
json_t *group_db_settings(const char *text);

/* Conversation ids of uid's live conversations (one column "id"). */
int group_db_conversation_ids(struct db *db, struct arena *a, const char *uid,
	struct db_rows *out);

#endif
