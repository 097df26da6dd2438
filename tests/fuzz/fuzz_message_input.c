/*
 * fuzz_message_input.c - message send bodies (src/core/message_input.c).
 *
 * The input is parsed with jsonx_parse() as the API does and handed to
 * message_input_parse(); message_input_token_ok() also sees the raw text.
 * When a body is accepted: exactly one target, a lowercase UUID; content is
 * 1..5000 code points of valid UTF-8 with something visible, or an envelope
 * that is valid JSON with the three documented members; metadata is
 * compact JSON within 8 KiB; parent / reply ids are lowercase UUIDs; the
 * type is canonical; clientId is 1..128 bytes of control-free UTF-8.
 * Everything the caller gets must be printable into a JSON reply.
 */
#include <ctype.h>
#include <string.h>

#include "core/jsonx.h"
#include "core/message.h"
#include "core/message_input.h"
#include "core/svc.h"
#include "fuzz_util.h"

static void
check_input(const struct message_input *mi)
{
	FUZZ_CHECK(mi->target != MESSAGE_TO_NONE && fuzz_lower_uuid(mi->target_id));
	FUZZ_CHECK(mi->type && (strcmp(mi->type, "TEXT") == 0 ||
	    strcmp(mi->type, "IMAGE") == 0 || strcmp(mi->type, "FILE") == 0 ||
	    strcmp(mi->type, "VOICE") == 0 || strcmp(mi->type, "VIDEO") == 0));
	FUZZ_CHECK(!(mi->content && mi->envelope));
	if (mi->content) {
		FUZZ_CHECK(fuzz_utf8_ok(mi->content, strlen(mi->content), 0));
		FUZZ_CHECK(fuzz_chars(mi->content) >= 1 &&
		    fuzz_chars(mi->content) <= MESSAGE_CONTENT_MAX);
		FUZZ_CHECK(strspn(mi->content, " \t\r\n") < strlen(mi->content));
	}
	if (mi->envelope) {
		json_t *env = json_loads(mi->envelope, 0, NULL);

		FUZZ_CHECK(json_is_object(env) && json_object_size(env) == 3);
		FUZZ_CHECK(json_is_string(json_object_get(env, "encryptedData")) &&
		    json_is_string(json_object_get(env, "iv")) &&
		    json_integer_value(json_object_get(env, "keyVersion")) >= 0);
		json_decref(env);
	}
	if (!mi->content && !mi->envelope)
		FUZZ_CHECK(strcmp(mi->type, "TEXT") != 0 && mi->metadata);
	if (mi->metadata) {
		json_t *m = json_loads(mi->metadata, 0, NULL);

		FUZZ_CHECK(json_is_object(m) && json_object_size(m) > 0);
		FUZZ_CHECK(strlen(mi->metadata) <= MESSAGE_METADATA_MAX);
		json_decref(m);
	}
	if (mi->has_parent)
		FUZZ_CHECK(fuzz_lower_uuid(mi->parent));
	if (mi->has_reply)
		FUZZ_CHECK(fuzz_lower_uuid(mi->reply));
	if (mi->client_id)
		FUZZ_CHECK(message_input_token_ok(mi->client_id,
		    MESSAGE_CLIENT_ID_MAX, 0) &&
		    fuzz_utf8_ok(mi->client_id, strlen(mi->client_id), 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct svc_ctx ctx;
	struct svc_error e;
	struct message_input mi;
	char err[200], *s;
	json_t *in = NULL;

	s = fuzz_strndup(data, size);
	if (message_input_token_ok(s, 64, 1)) {
		for (const char *p = s; *p; p++)
			FUZZ_CHECK(*p > ' ' && *p < 0x7f);
	}
	free(s);

	if (jsonx_parse((const char *)data, size, JSONX_MAX_DEPTH, &in, err,
	    sizeof(err)) == -1)
		return 0;
	arena_init(&a);
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = &a;
	memset(&e, 0, sizeof(e));
	if (message_input_parse(&ctx, in, &mi, &e) == ST_OK)
		check_input(&mi);
	else
		FUZZ_CHECK(e.message && e.field);
	arena_release(&a);
	json_decref(in);
	return 0;
}
