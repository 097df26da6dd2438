/*
 * message_input.h - what a message request may say (message.c's input).
 *
 * content: 1-5000 characters of text (not only whitespace; more is
 * MESSAGE_TOO_LONG) or an encrypted envelope {encryptedData, iv (base64 or
 * base64url), keyVersion >= 0} (snake_case too), stored normalised. type:
 * TEXT, IMAGE, FILE, VOICE, VIDEO (any case; also messageType,
 * message_type); the non-TEXT types may omit content when
 * metadata.attachments is not empty. The target: exactly one of receiverId,
 * groupId (chatroomId) and conversationId. parentId and replyTo (also
 * metadata.replyTo) are message ids. metadata: an object of at most 8 KiB
 * with mentions (up to 50 user ids) and attachments (up to 20 objects).
 * clientId: 1-128 bytes of text.
 */
#ifndef PARLEY_MESSAGE_INPUT_H
#define PARLEY_MESSAGE_INPUT_H

#include <stddef.h>

#include <jansson.h>

#include "ids.h"
#include "status.h"

struct svc_ctx;

enum message_target {
	MESSAGE_TO_NONE,
	MESSAGE_TO_USER,         /* receiverId: a DM */
	MESSAGE_TO_GROUP,        /* groupId */
	MESSAGE_TO_CONVERSATION, /* conversationId: either kind */
};

/* A send request, validated. Strings are borrowed from the input or arena. */
struct message_input {
	const char *content;   /* text, or NULL */
	char *envelope;        /* normalised envelope JSON, or NULL */
	const char *type;      /* canonical type */
	enum message_target target;
	char target_id[IDS_UUID_LEN];
	char parent[IDS_UUID_LEN], reply[IDS_UUID_LEN];
	int has_parent, has_reply;
	char *metadata;        /* compact JSON, or NULL when empty */
	const char *client_id; /* or NULL */
};

/* Validates a send request. ST_OK or ST_INVALID with e->field (and code). */
enum status message_input_parse(const struct svc_ctx *ctx, const json_t *in,
	struct message_input *out, struct svc_error *e);

/*
 * Validates a content value (v may be NULL): text in *text or an envelope
 * in *envelope (arena), both NULL when absent. ST_OK or ST_INVALID.
 */
enum status message_input_content(const struct svc_ctx *ctx, const json_t *v,
	const char **text, char **envelope, struct svc_error *e);

/* 1 if s is 1..max bytes of UTF-8 text without controls (ascii_only:
 * printable ASCII without spaces), else 0. */
int message_input_token_ok(const char *s, size_t max, int ascii_only);

#endif
