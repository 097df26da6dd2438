/*
 * fuzz_bridge_util.c - the bridge's ids, id map, JSON quoting and event
 * rows (ws-bridge/bridge_util.c). No libwebsockets context is needed.
 *
 * The first input byte picks a mode:
 *   0  bid_parse() agrees with ids_is_uuid() and bid_format() gives back the
 *      lowercase text; json_quote() of valid UTF-8 is a JSON string that
 *      jansson reads back as the same text.
 *   1  "KIND\nTARGET\nTYPE\nPAYLOAD" through bevent_from_row(): the frame is
 *      NUL-terminated, and valid JSON whenever TYPE is valid UTF-8 and
 *      PAYLOAD a JSON object (the stored events always are).
 *   2  each byte is a put / delete / get on a bmap of 64 keys built to
 *      collide, checked after every step against a plain array (the
 *      backward-shift deletion must keep every probe chain reachable).
 */
#include <ctype.h>
#include <string.h>

#include "bridge.h"
#include "core/strbuf.h"
#include "fuzz_util.h"

static void
mode_ids(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), text[IDS_UUID_LEN];
	struct strbuf sb = STRBUF_INIT;
	struct bid id;
	int ok = ids_is_uuid(s);

	FUZZ_CHECK((bid_parse(s, &id) == 0) == ok);
	if (ok) {
		bid_format(&id, text);
		for (int i = 0; i < 36; i++)
			FUZZ_CHECK(text[i] == tolower((unsigned char)s[i]));
	}
	json_quote(&sb, s);
	FUZZ_CHECK(sb.len == strlen(sb.buf));
	if (fuzz_utf8_ok(s, strlen(s), 0)) {
		json_t *v = json_loadb(sb.buf, sb.len, JSON_DECODE_ANY, NULL);

		FUZZ_CHECK(json_is_string(v) && strcmp(json_string_value(v), s) == 0);
		json_decref(v);
	}
	strbuf_release(&sb);
	free(s);
}

static void
mode_row(const uint8_t *data, size_t size)
{
	char *p[4];
	struct bevent ev;
	json_t *payload;

	fuzz_split(data, size, p, 4);
	if (bevent_from_row(&ev, 42, p[0], p[1], p[2], p[3], strlen(p[3]),
	    1700000000000LL) == 0) {
		const char *text = (const char *)frame_text(ev.frame);

		FUZZ_CHECK(bid_parse(p[1], &ev.target) == 0);
		FUZZ_CHECK(text[ev.frame->len] == '\0' &&
		    strlen(text) == ev.frame->len && ev.frame->seq == 42);
		payload = json_loads(p[3], 0, NULL);
		if (json_is_object(payload) && fuzz_utf8_ok(p[2], strlen(p[2]), 0))
			FUZZ_CHECK(fuzz_json_ok(text, ev.frame->len));
		json_decref(payload);
		bevent_release(&ev);
	}
	for (int i = 0; i < 4; i++)
		free(p[i]);
}

static void
mode_map(const uint8_t *data, size_t size)
{
	static int vals[64];
	void *ref[64] = { 0 };
	struct bid keys[64];
	struct bmap m;
	size_t n = 0;

	memset(keys, 0, sizeof(keys));
	for (int i = 0; i < 64; i++) {
		/* Few distinct hash inputs: long probe chains and wrap-around. */
		keys[i].b[8] = (unsigned char)(i & 7);
		keys[i].b[15] = (unsigned char)(i >> 3);
		keys[i].b[3] = (unsigned char)i;
	}
	bmap_init(&m);
	for (size_t k = 0; k < size; k++) {
		int op = data[k] >> 6, i = data[k] & 63;

		if (op <= 1) {
			n += ref[i] == NULL;
			ref[i] = &vals[i];
			bmap_put(&m, &keys[i], ref[i]);
		} else if (op == 2) {
			FUZZ_CHECK(bmap_del(&m, &keys[i]) == ref[i]);
			n -= ref[i] != NULL;
			ref[i] = NULL;
		}
		FUZZ_CHECK(m.n == n && bmap_get(&m, &keys[i]) == ref[i]);
		if (k % 8 == 7 || k + 1 == size)
			for (int j = 0; j < 64; j++)
				FUZZ_CHECK(bmap_get(&m, &keys[j]) == ref[j]);
	}
	bmap_release(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		mode_ids(data + 1, size - 1);
		break;
	case 1:
		mode_row(data + 1, size - 1);
		break;
	case 2:
		mode_map(data + 1, size - 1);
		break;
	}
	return 0;
}
