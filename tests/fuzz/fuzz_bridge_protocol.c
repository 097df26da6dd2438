/*
 * fuzz_bridge_protocol.c - client frames of the WebSocket bridge
 * (ws-bridge/bridge_protocol.c: protocol_handle) without libwebsockets.
 *
 * The first input byte sets the connection's state (authenticated or not,
 * CS_*); the rest is one text message. The loop, pool and database side
 * is replaced by the stubs below, which check what the protocol hands
 * them: every frame sent is one valid JSON object, every ackId spliced
 * into a frame is valid JSON text, an integer or a string of at most 128
 * characters (docs/websocket.md), error codes and
 * messages are NUL-free valid UTF-8 (json_quote() then makes valid JSON of
 * them, see fuzz_bridge_util.c), auth tokens are 1..4096 bytes, and the
 * data handed to the services is an object.
 */
#include <string.h>

#include "bridge.h"
#include "core/config.h"
#include "core/msgfmt.h"
#include "fuzz_util.h"

struct bridge bridge;
static struct config cfg;
static struct buser fake_user;
static struct user_room fake_room;
static int64_t clock_ms;

static void
check_ack(const char *ack)
{
	json_t *v;

	if (!ack)
		return;
	FUZZ_CHECK(fuzz_json_ok(ack, strlen(ack)));
	FUZZ_CHECK(fuzz_utf8_ok(ack, strlen(ack), 0));
	v = json_loads(ack, JSON_DECODE_ANY, NULL);
	FUZZ_CHECK(json_is_integer(v) || (json_is_string(v) &&
	    msgfmt_utf8_chars(json_string_value(v), json_string_length(v)) <=
	    128));
	json_decref(v);
}

static void
check_text(const char *s)
{
	FUZZ_CHECK(s && fuzz_utf8_ok(s, strlen(s), 0));
}

void
bmetrics_count(enum bmetric m, uint64_t n)
{
}

int64_t
bridge_now_ms(void)
{
	return clock_ms += 50;
}

void
conn_send_text(struct conn *c, const char *text, size_t len)
{
	json_t *v = json_loadb(text, len, 0, NULL);

	FUZZ_CHECK(strlen(text) == len && fuzz_utf8_ok(text, len, 0));
	FUZZ_CHECK(json_is_object(v) &&
	    json_is_string(json_object_get(v, "type")));
	json_decref(v);
}

void
conn_send_error(struct conn *c, const char *ack_json, const char *code,
	const char *message, int retry_after)
{
	check_ack(ack_json);
	check_text(code);
	if (message)
		check_text(message);
	FUZZ_CHECK(retry_after >= 0);
}

void
auth_start(struct conn *c, const char *token, const char *ack_json)
{
	FUZZ_CHECK(c->state == CS_NEW && token && *token &&
	    strlen(token) <= 4096);
	check_ack(ack_json);
}

void
replay_start(struct conn *c, int64_t since)
{
	FUZZ_CHECK(since >= 0);
}

enum status
typing_update(struct conn *c, const json_t *data, int start,
	struct bid_why *why)
{
	FUZZ_CHECK(json_is_object(data));
	if (json_object_size(data) & 1) {
		why->code = "VALIDATION_ERROR";
		why->message = "typing needs a conversation";
		return ST_INVALID;
	}
	return ST_OK;
}

struct user_room *
user_room(struct buser *u, const struct bid *conv)
{
	FUZZ_CHECK(u == &fake_user);
	return conv->b[15] & 1 ? &fake_room : NULL;
}

int
conn_mute(struct conn *c, const struct bid *conv, int on)
{
	return 0;
}

void
actions_submit(struct conn *c, int action, json_t *data, const char *ack_json)
{
	FUZZ_CHECK(c->user && json_is_object(data));
	check_ack(ack_json);
	json_decref(data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn c;
	char *text;

	if (size == 0)
		return 0;
	cfg.bridge_events_per_minute = 100;
	bridge.cfg = &cfg;
	bridge.live_pos = 12345;
	memset(&c, 0, sizeof(c));
	c.state = (uint8_t)(data[0] % (CS_CLOSED + 1));
	c.user = data[0] & 0x80 ? &fake_user : NULL;
	c.tokens = data[0] & 0x40 ? 0 : 100000;
	c.tokens_ms = clock_ms;
	/* Exactly the message bytes, so ASan sees a read past them. */
	text = malloc(size - 1 ? size - 1 : 1);
	memcpy(text, data + 1, size - 1);
	protocol_handle(&c, text, size - 1);
	free(text);
	return 0;
}
