/*
 * conversation.h - a user's conversations (DMs and groups) as one list.
 *
 * The list is ordered by last activity (the last message, else creation)
 * and each item carries {id, kind DIRECT|GROUP, title (group title or the
 * DM peer's name), avatar, peer (DMs: {id, username, displayName,
 * avatar}), groupType, role, memberCount, unreadCount, lastMessage,
 * lastMessageAt, lastActivityAt, createdAt}. Unread counts are the
 * messages of others past the user's read pointer (message.h).
 */
#ifndef PARLEY_CONVERSATION_H
#define PARLEY_CONVERSATION_H

#include <stddef.h>

#include <jansson.h>

#include "request.h"
#include "status.h"

struct svc_ctx;

/*
 * user_id's conversations. kind: "DIRECT", "GROUP" or NULL (both, also
 * accepted in any case); unread_only keeps those with unread messages;
 * search (may be NULL) matches group titles and DM peers. *items is new.
 */
enum status conversation_list(const struct svc_ctx *ctx, const char *user_id,
	const char *kind, int unread_only, const char *search,
	const struct page *pg, json_t **items, long *total,
	struct svc_error *e);

/*
 * The ids of every live conversation user_id belongs to, for the bridge's
 * room subscriptions: *ids is an arena array of *n arena strings.
 */
enum status conversation_ids(const struct svc_ctx *ctx, const char *user_id,
	const char ***ids, size_t *n, struct svc_error *e);

#endif
