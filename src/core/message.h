/*
 * message.h - messages in direct conversations and groups: send, read,
 * edit, delete, receipts, reactions, history and search.
 *
 * The HTTP handlers (api_messages.c) and the WebSocket bridge both call
 * these; they hold every rule. Conversations are addressed by receiverId
 * (a direct conversation, created on first use), groupId or
 * conversationId. A caller who is not a member of a message's
 * conversation gets ST_NOT_FOUND whether the message (or conversation)
 * exists or not, on every call.
 *
 * The message object (what every call returns and message:received
 * carries): {id, conversationId, groupId (null for DMs), receiverId (the
 * other user of a DM, else null), senderId, sender {id, username,
 * displayName, avatar}, type, content (text, the encrypted envelope
 * {encryptedData, iv, keyVersion}, or null once deleted), isEncrypted,
 * status (SENT, DELIVERED, SEEN), parentId, replyTo {id, senderId, type,
 * content (first 200 characters), isEncrypted, deleted} or null,
 * replyCount, metadata, attachments (metadata.attachments or []),
 * reactions [{emoji, count, reacted, userIds (first 20)}], clientId,
 * editedAt, deleted, deletedAt, createdAt, updatedAt}.
 *
 * Status is per recipient: a DM message is SEEN once its recipient's read
 * pointer has passed it, DELIVERED once the delivered pointer has; in a
 * group the status is the lowest over the other members (SEEN when all
 * have seen it). Pointers only move forward and seen implies delivered.
 * A member's unread count is the messages of others past their read
 * pointer; members who join start with both pointers at the last message.
 *
 * Events (one transaction with the change; outbox_nudge() after commit):
 *   message:received  conversation room   the message object
 *   message:edit      conversation room   the message object
 *   message:delete    conversation room   {id, messageId, conversationId,
 *                                          groupId, deleted, deletedBy,
 *                                          deletedAt}
 *   message:status    DM: conversation room; group: the reader's and the
 *                     sender's personal rooms
 *                                         {messageId, conversationId,
 *                                          groupId, userId, status, at}
 *   message:react     conversation room   {messageId, conversationId,
 *                                          groupId, userId, emoji, action
 *                                          ("add"/"remove"), reactions}
 *   conversation:created  both users' personal rooms, when a DM starts
 *                                         {conversationId, kind: "DIRECT",
 *                                          userId, peerId, receiverId (=
 *                                          peerId)}
 *
 * docs/websocket.md ("Events") is the clients' copy of this list. A DM's
 * events name no receiverId beyond the message object's: the other user
 * is the conversation's other member, which clients know.
 *
 * Results are new jansson references the caller owns. Input objects are
 * borrowed and accept camelCase and the seeds' snake_case names.
 */
#ifndef PARLEY_MESSAGE_H
#define PARLEY_MESSAGE_H

#include <jansson.h>

#include "status.h"

struct svc_ctx;

#define MESSAGE_CONTENT_MAX 5000      /* characters */
#define MESSAGE_METADATA_MAX 8192     /* bytes of JSON */
#define MESSAGE_CLIENT_ID_MAX 128     /* bytes */
#define MESSAGE_ENVELOPE_DATA_MAX 65536
#define MESSAGE_REACTIONS_PER_USER 20 /* distinct emoji per user and message */

/*
 * Sends input {content, type?, receiverId | groupId | conversationId,
 * parentId?, replyTo?, metadata?, clientId?} from sender_id. content is
 * 1-5000 characters of text (over 5000: ST_INVALID with code
 * MESSAGE_TOO_LONG) or an envelope {encryptedData, iv, keyVersion} stored
 * opaque and never searched; IMAGE/FILE/VOICE/VIDEO messages may omit it
 * when metadata.attachments is non-empty. idempotency_key (may be NULL) is
 * the HTTP Idempotency-Key header.
 *
 * A clientId or idempotency key the sender used before returns the
 * original message (*created = 0) instead of a second copy, also when the
 * two requests race (a unique index decides). Otherwise *created = 1.
 * ST_OK, ST_INVALID (e->field), ST_NOT_FOUND (no such conversation or user,
 * not a member, or a DM whose other user is deleted or deactivated: "User
 * not found", also when the DM exists), ST_UNAVAILABLE.
 */
enum status message_send(const struct svc_ctx *ctx, const char *sender_id,
	const json_t *input, const char *idempotency_key, json_t **out,
	int *created, struct svc_error *e);

/* One message. */
enum status message_get(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **out, struct svc_error *e);

/*
 * Edits user's own message: input {content} (text, or an envelope for an
 * encrypted message). The previous version is kept (message_edits).
 * ST_FORBIDDEN with MESSAGE_EDIT_DENIED for someone else's or a deleted
 * message. Edit and delete decide who may inside their transaction, on
 * the member and message rows read locked (message_db_lock()): a removal
 * or demotion that commits while they run is waited for and counts.
 */
enum status message_edit(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, const json_t *input, json_t **out,
	struct svc_error *e);

/* The previous versions of a message, oldest first. */
enum status message_versions(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **items, struct svc_error *e);

/*
 * Deletes (tombstones) a message: its sender, or a group's OWNER, ADMIN or
 * MODERATOR (else ST_FORBIDDEN, MESSAGE_DELETE_DENIED). Deleting a deleted
 * message (again, or in a race another delete won) is ST_OK without an
 * event, answering the deletion as stored: who made it and when. *out:
 * {id, messageId, conversationId, groupId, deleted, deletedBy, deletedAt}.
 */
enum status message_delete(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, json_t **out, struct svc_error *e);

enum message_mark { MESSAGE_MARK_DELIVERED, MESSAGE_MARK_SEEN };

/*
 * Moves user's delivered (and for SEEN also read) pointer up to the
 * message. *out: {id, messageId, conversationId, userId, status} where
 * status is user's state for that message afterwards.
 */
enum status message_mark(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, enum message_mark mark, json_t **out,
	struct svc_error *e);

/*
 * Adds (add = 1) or removes user's emoji reaction (msgfmt_emoji_ok; else
 * ST_INVALID). Adding twice or removing an absent reaction is ST_OK
 * without an event. A deleted message is ST_CONFLICT. Decided inside its
 * transaction as edit and delete are (below), with the message row locked
 * so that its deletion and the same user's other reactions (at most 20)
 * come one at a time. *out: {messageId, emoji, action, reactions}.
 */
enum status message_react(const struct svc_ctx *ctx, const char *user_id,
	const char *message_id, const char *emoji, int add, json_t **out,
	struct svc_error *e);

/*
 * History of one conversation: exactly one of conversation_id, group_id
 * and peer_id (the other user of a DM; no DM yet is an empty page).
 * Filters (NULL = none): type, status, from/to (ISO 8601), parent_id
 * (replies of that thread). before/after: a message id or an ISO
 * timestamp. order "asc"/"desc" (default: desc, or asc when only after is
 * given). page/limit page from the cursor.
 */
struct message_query {
	const char *conversation_id, *group_id, *peer_id;
	const char *type, *status, *from, *to, *parent_id;
	const char *before, *after, *order;
	long limit, offset;
};

/* total: messages matching the filters (on the cursor's side). */
struct message_page {
	long total;              /* at most HISTORY_TOTAL_MAX (message_db.h) */
	int total_capped;        /* more matched than total says */
	const char *next_cursor; /* arena; NULL when there is no more */
};

enum status message_history(const struct svc_ctx *ctx, const char *user_id,
	const struct message_query *q, json_t **items, struct message_page *pg,
	struct svc_error *e);

/*
 * Full-text search over the conversations user_id belongs to (or one of
 * them: conversation_id, else ST_NOT_FOUND for a non-member). query is
 * sanitised (msgfmt_search_parse); nothing searchable is ST_INVALID.
 * Items: {message, relevanceScore, matchedTerms, context {before, match,
 * after}}, best first.
 */
struct message_search_query {
	const char *query, *conversation_id, *sender_id, *type, *from, *to;
	long limit, offset;
};

enum status message_search(const struct svc_ctx *ctx, const char *user_id,
	const struct message_search_query *q, json_t **items, long *total,
	struct svc_error *e);

#endif
