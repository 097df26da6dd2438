/* message_input.c - validating what a message request says. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conv.h"
#include "ids.h"
#include "jsonx.h"
#include "message.h"
#include "message_input.h"
#include "msgfmt.h"
#include "svc.h"
#include "banned.h"

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

static const char *const user_types[] = { "TEXT", "IMAGE", "FILE", "VOICE",
	"VIDEO" };

/* The canonical message type for s (user-sendable types only), or NULL. */
static const char *
type_name(const char *s)
{
	for (size_t i = 0; s && i < sizeof(user_types) / sizeof(user_types[0]); i++)
		if (strcasecmp(s, user_types[i]) == 0)
			return user_types[i];
	return NULL;
}

static int
b64_chars(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
		    c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * content: text of 1..5000 characters (*text), or an encrypted envelope
 * (*envelope: normalised JSON, arena). NULL/absent leaves both NULL.
 */
enum status
message_input_content(const struct svc_ctx *ctx, const json_t *v, const char **text,
	char **envelope, struct svc_error *e)
{
	*text = NULL;
	*envelope = NULL;
	if (!v || json_is_null(v))
		return ST_OK;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		long chars = msgfmt_utf8_chars(s, len);
		int visible = 0;

		if (chars < 0 || strlen(s) != len)
			return invalid(e, "content", "content must be valid text");
		for (size_t i = 0; i < len && !visible; i++)
			visible = !strchr(" \t\r\n", s[i]);
		if (!visible)
			return invalid(e, "content", "content must not be empty");
		if (chars > MESSAGE_CONTENT_MAX) {
			e->field = "content";
			return svc_fail(e, ST_INVALID, "MESSAGE_TOO_LONG",
			    "content exceeds 5000 characters");
		}
		*text = s;
		return ST_OK;
	}
	if (json_is_object(v)) {
		const char *data, *iv = jsonx_str(v, "iv");
		json_t *dv, *kv, *env;
		char *dump;

		if (svc_field(ctx->arena, v, JSONX_NAMES("encryptedData",
		    "encrypted_data"), &dv, e) != ST_OK ||
		    svc_field(ctx->arena, v, JSONX_NAMES("keyVersion",
		    "key_version"), &kv, e) != ST_OK)
			return ST_INVALID;
		data = json_string_value(dv);
		if (!b64_chars(data, MESSAGE_ENVELOPE_DATA_MAX) ||
		    !b64_chars(iv, 256) || !json_is_integer(kv) ||
		    json_integer_value(kv) < 0 ||
		    json_integer_value(kv) > 2147483647)
			return invalid(e, "content",
			    "an encrypted envelope needs encryptedData and iv"
			    " (base64) and keyVersion (integer >= 0)");
		env = json_pack("{s:s,s:s,s:I}", "encryptedData", data, "iv", iv,
		    "keyVersion", (json_int_t)json_integer_value(kv));
		dump = json_dumps(env, JSON_COMPACT);
		json_decref(env);
		*envelope = arena_strdup(ctx->arena, dump ? dump : "{}");
		free(dump);
		return ST_OK;
	}
	return invalid(e, "content",
	    "content must be text or an encrypted envelope");
}

/*
 * The id field of obj spelled names into out (*present: whether given).
 * Not an id: ST_INVALID naming names[0] with message why.
 */
static enum status
uuid_field(const struct svc_ctx *ctx, const json_t *obj,
	const char *const *names, char out[IDS_UUID_LEN], int *present,
	const char *why, struct svc_error *e)
{
	json_t *v;

	*present = 0;
	if (svc_field(ctx->arena, obj, names, &v, e) != ST_OK)
		return ST_INVALID;
	if (!v || json_is_null(v))
		return ST_OK;
	if (!json_is_string(v) || conv_id(json_string_value(v), out) == -1)
		return invalid(e, names[0], why);
	*present = 1;
	return ST_OK;
}

/* Printable text without control characters, 1..max bytes. */
int
message_input_token_ok(const char *s, size_t max, int ascii_only)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || msgfmt_utf8_chars(s, n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (ascii_only && (c == ' ' || c > 0x7e)))
			return 0;
	}
	return 1;
}

static enum status
parse_metadata(const struct svc_ctx *ctx, const json_t *meta,
	struct message_input *si, struct svc_error *e)
{
	json_t *v, *x;
	size_t i;
	char *dump;

	if (!meta || json_is_null(meta))
		return ST_OK;
	if (!json_is_object(meta))
		return invalid(e, "metadata", "metadata must be an object");
	v = json_object_get(meta, "mentions");
	if (v) {
		int bad = jsonx_uuid_array(v, 50);

		if (bad == -1)
			return invalid(e, "metadata",
			    "metadata.mentions must be an array of up to 50 user ids");
		if (bad == -2)
			return invalid(e, "metadata",
			    "metadata.mentions must hold user ids");
	}
	v = json_object_get(meta, "attachments");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) > 20)
			return invalid(e, "metadata",
			    "metadata.attachments must be an array of up to 20 objects");
		json_array_foreach(v, i, x)
			if (!json_is_object(x))
				return invalid(e, "metadata",
				    "metadata.attachments must hold objects");
	}
	if (json_object_size(meta) == 0)
		return ST_OK;
	dump = json_dumps(meta, JSON_COMPACT);
	if (!dump || strlen(dump) > MESSAGE_METADATA_MAX) {
		free(dump);
		return invalid(e, "metadata", "metadata is larger than 8 KiB");
	}
	si->metadata = arena_strdup(ctx->arena, dump);
	free(dump);
	return ST_OK;
}

/* Where a message goes: one of these, each under its spellings. */
static const struct {
	const char *const *names;
	enum message_target t;
} targets[] = {
	{ JSONX_NAMES("receiverId", "receiver_id"), MESSAGE_TO_USER },
	{ JSONX_NAMES("groupId", "group_id"), MESSAGE_TO_GROUP },
	{ JSONX_NAMES("chatroomId", "chatroom_id"), MESSAGE_TO_GROUP },
	{ JSONX_NAMES("conversationId", "conversation_id"),
	  MESSAGE_TO_CONVERSATION },
};

enum status
message_input_parse(const struct svc_ctx *ctx, const json_t *in, struct message_input *si,
	struct svc_error *e)
{
	const json_t *meta = json_object_get(in, "metadata");
	json_t *v, *att;
	char meta_reply[IDS_UUID_LEN];
	enum status st;
	int present, n = 0;

	memset(si, 0, sizeof(*si));
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (uuid_field(ctx, in, targets[i].names, si->target_id,
		    &present, "must be a valid id", e) != ST_OK)
			return ST_INVALID;
		if (present) {
			n++;
			si->target = targets[i].t;
		}
	}
	if (n != 1)
		return invalid(e, "receiverId",
		    "give exactly one of receiverId, groupId, conversationId");
	if (svc_field(ctx->arena, in, JSONX_NAMES("type", "message_type",
	    "messageType"), &v, e) != ST_OK)
		return ST_INVALID;
	si->type = "TEXT";
	if (v && !json_is_null(v) && !(si->type = type_name(json_string_value(v))))
		return invalid(e, "type",
		    "type must be TEXT, IMAGE, FILE, VOICE or VIDEO");
	st = message_input_content(ctx, json_object_get(in, "content"), &si->content,
	    &si->envelope, e);
	if (st != ST_OK)
		return st;
	st = parse_metadata(ctx, meta, si, e);
	if (st != ST_OK)
		return st;
	att = json_object_get(meta, "attachments");
	if (!si->content && !si->envelope && (strcmp(si->type, "TEXT") == 0 ||
	    json_array_size(att) == 0))
		return invalid(e, "content", "content is required");
	if (uuid_field(ctx, in, JSONX_NAMES("parentId", "parent_id"), si->parent,
	    &si->has_parent, "parentId must be a message id", e) != ST_OK ||
	    uuid_field(ctx, in, JSONX_NAMES("replyTo", "reply_to"), si->reply,
	    &si->has_reply, "replyTo must be a message id", e) != ST_OK ||
	    uuid_field(ctx, meta, JSONX_NAMES("replyTo", "reply_to"),
	    meta_reply, &present, "replyTo must be a message id", e) != ST_OK)
		return ST_INVALID;
	/* Seed 002 also puts replyTo in metadata: one field, two places. */
	if (present && si->has_reply && strcmp(meta_reply, si->reply) != 0)
		return invalid(e, "replyTo", "replyTo and metadata.replyTo"
		    " disagree: send one of them");
	if (present && !si->has_reply) {
		memcpy(si->reply, meta_reply, sizeof(meta_reply));
		si->has_reply = 1;
	}
	if (svc_field(ctx->arena, in, JSONX_NAMES("clientId", "client_id"), &v,
	    e) != ST_OK)
		return ST_INVALID;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !message_input_token_ok(json_string_value(v),
		    MESSAGE_CLIENT_ID_MAX, 0))
			return invalid(e, "clientId",
			    "clientId must be 1-128 bytes of text");
		si->client_id = json_string_value(v);
	}
	return ST_OK;
}
