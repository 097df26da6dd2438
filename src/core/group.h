/*
 * group.h - groups ("chatrooms"): creation, settings, members and roles.
 *
 * A group is a conversation of kind GROUP (direct conversations are the
 * other kind, created by message_send on first use). Members have a role:
 * OWNER > ADMIN > MODERATOR > MEMBER. The rules:
 *
 *   read (details, members, history, search)   any member
 *   update title/description/cover/type/...    OWNER, ADMIN, MODERATOR
 *   delete                                      OWNER (CHATROOM_OWNER_REQUIRED)
 *   add a member                                OWNER, ADMIN (ADMIN role: OWNER)
 *   remove a member / change a role             OWNER, ADMIN, on lower roles
 *   leave                                       anyone; an OWNER hands the
 *       group to the oldest ADMIN, else MODERATOR, else MEMBER; the last
 *       member leaving deletes the group
 *   join without invitation                     PUBLIC groups only
 *
 * A caller who is not a member gets ST_NOT_FOUND for a group whether it
 * exists or not (and for direct conversations passed as group ids), on
 * every call. Members and groups beyond max_members answer ST_CONFLICT with
 * code CHATROOM_FULL.
 *
 * Every change is one transaction that also writes its events with
 * outbox_add() (group:update, group:delete, group:member:join,
 * group:member:leave, group:member:update), then commits and calls
 * outbox_nudge(). Membership events go to the group's room and to the
 * personal room of the user who joined or left (so their clients and
 * bridge subscriptions learn even though they are not, or no longer, in
 * the room); group:delete goes to every member's personal room. Join
 * requests have events of their own (invite.h); docs/websocket.md lists
 * them all.
 *
 * Results are new jansson references the caller owns; strings returned
 * through out-parameters live in ctx->arena. Input objects are borrowed and
 * accept camelCase names and the seeds' snake_case aliases.
 */
#ifndef PARLEY_GROUP_H
#define PARLEY_GROUP_H

#include <stddef.h>

#include <jansson.h>

#include "ids.h"
#include "request.h"
#include "status.h"

struct db_rows;
struct svc_ctx;

enum group_role {
	GROUP_ROLE_NONE = 0, /* not a member */
	GROUP_ROLE_MEMBER,
	GROUP_ROLE_MODERATOR,
	GROUP_ROLE_ADMIN,
	GROUP_ROLE_OWNER,
};

#define GROUP_TITLE_MAX 100        /* characters */
#define GROUP_DESCRIPTION_MAX 500  /* characters */
#define GROUP_COVER_MAX 2048       /* bytes */
#define GROUP_MAX_MEMBERS_LIMIT 10000
#define GROUP_DEFAULT_MAX_MEMBERS 1000
#define GROUP_INITIAL_MEMBERS_MAX 200
#define GROUP_DETAIL_MEMBERS 500   /* members listed in group_get */

/* "OWNER" ... "MEMBER"; NULL for GROUP_ROLE_NONE. */
const char *group_role_name(enum group_role r);
/* Case-insensitive; GROUP_ROLE_NONE if s is not a role. */
enum group_role group_role_parse(const char *s);

/*
 * Creates a group owned by user_id from input {title|name, description?,
 * cover?, type PRIVATE|PUBLIC|SECRET | isPrivate|is_private, maxMembers?,
 * settings?: {allowInvites, messageRetentionDays, autoSummaryEnabled,
 * summaryThreshold}, members?: [user ids]}. *out is the group detail.
 * idem is the request's Idempotency-Key (or NULL): a repeated key of the
 * same user answers with the group the first request created, as it is
 * now, instead of creating another. ST_CREATED, ST_INVALID (e->field),
 * ST_NOT_FOUND (an initial member does not exist, or the original group is
 * no longer visible), ST_CONFLICT (the first request with the key failed
 * while this one waited), ST_UNAVAILABLE.
 */
enum status group_create(const struct svc_ctx *ctx, const char *user_id,
	const json_t *input, const char *idem, json_t **out,
	struct svc_error *e);

/*
 * The caller's groups, most recently active first: each with role,
 * memberCount, unreadCount and lastMessage. search (may be NULL) filters
 * on the title. *items is a new array.
 */
enum status group_list(const struct svc_ctx *ctx, const char *user_id,
	const char *search, const struct page *pg, json_t **items, long *total,
	struct svc_error *e);

/* The group with its members (up to GROUP_DETAIL_MEMBERS, with isOnline). */
enum status group_get(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, json_t **out, struct svc_error *e);

/* Members of a group, by role then join time. */
enum status group_members(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const struct page *pg, json_t **items,
	long *total, struct svc_error *e);

/* Updates the fields present in input (PATCH and PUT alike). *out: group. */
enum status group_update(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const json_t *input, json_t **out,
	struct svc_error *e);

/* Deletes the group (OWNER only); its invitations stop working. */
enum status group_delete(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, struct svc_error *e);

/*
 * Adds target as role (NULL: MEMBER). *out is the new member. ST_OK,
 * ST_NOT_FOUND (group, or no such user: e->code NOT_FOUND), ST_FORBIDDEN,
 * ST_CONFLICT (already a member: CONFLICT; full: CHATROOM_FULL).
 */
enum status group_member_add(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *target_id, const char *role,
	json_t **out, struct svc_error *e);

/* Removes target (actor == target is group_leave). */
enum status group_member_remove(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *target_id, struct svc_error *e);

/*
 * Sets target's role. Only the OWNER grants ADMIN or hands over OWNER (the
 * old owner becomes ADMIN). *out is the updated member.
 */
enum status group_member_set_role(const struct svc_ctx *ctx,
	const char *actor_id, const char *group_id, const char *target_id,
	const char *role, json_t **out, struct svc_error *e);

/*
 * user leaves the group. *new_owner (may be NULL) receives the id of the
 * member who became OWNER, or "" (arena). The last member leaving deletes
 * the group.
 */
enum status group_leave(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const char **new_owner, struct svc_error *e);

/*
 * Inside the caller's transaction (account deletion): user leaves every
 * group it is in, each as group_leave would, with the same events, and
 * its pending join requests are dropped. *convs
 * receives the ids of all its conversations (arena; direct ones are left
 * alone), whose history versions the caller bumps after its commit. 0, or
 * -1 on a database error (the caller rolls back).
 */
int group_leave_all(const struct svc_ctx *ctx, const char *user_id,
	struct db_rows *convs);

/*
 * user joins a PUBLIC group (others are ST_NOT_FOUND). Joining a group one
 * is already in is ST_OK. *out is the group detail.
 */
enum status group_join(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, json_t **out, struct svc_error *e);

/*
 * 1 if user_id is a member of conversation conv_id (group or direct, not
 * deleted), 0 if not (or the ids are malformed), -1 on a database error.
 * For the bridge's room checks.
 */
int group_is_member(const struct svc_ctx *ctx, const char *conv_id,
	const char *user_id);

#endif
