/* Unit tests of ws-bridge/bridge_util.c: ids, the id map, frames, events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-bridge/bridge.h"
#include "core/strbuf.h"
#include "unit.h"

/* bridge_util.c needs nothing else from the daemon. */
struct bridge bridge;

static void
test_bid(void)
{
	struct bid a, b;
	char s[IDS_UUID_LEN];

	CHECK(bid_parse("01a1fcc2-F8A0-70ad-a952-71cf6f0e1e38", &a) == 0);
	bid_format(&a, s);
	CHECK_STR(s, "01a1fcc2-f8a0-70ad-a952-71cf6f0e1e38");
	CHECK(bid_parse(s, &b) == 0 && bid_eq(&a, &b));
	CHECK(bid_parse("01a1fcc2f8a070ada95271cf6f0e1e38", &b) == -1);
	CHECK(bid_parse("01a1fcc2-f8a0-70ad-a952-71cf6f0e1e3", &b) == -1);
	CHECK(bid_parse("01a1fcc2-f8a0-70ad-a952-71cf6f0e1e3g", &b) == -1);
	CHECK(bid_parse(NULL, &b) == -1);
	memset(&b, 0, sizeof(b));
	CHECK(bid_is_zero(&b) && !bid_is_zero(&a));
}

static void
make_id(struct bid *id, unsigned n)
{
	memset(id, 0, sizeof(*id));
	/* UUIDv7-like: shared timestamp prefix, varying tail */
	id->b[0] = 0x01;
	id->b[1] = 0xa1;
	memcpy(id->b + 12, &n, sizeof(n));
}

static void
test_bmap(void)
{
	struct bmap m;
	struct bid id;
	int ok = 1;

	bmap_init(&m);
	CHECK(bmap_get(&m, &id) == NULL);
	for (unsigned i = 1; i <= 5000; i++) {
		make_id(&id, i);
		bmap_put(&m, &id, (void *)(uintptr_t)i);
	}
	CHECK(m.n == 5000);
	/* delete every third, then every key must still be found or gone */
	for (unsigned i = 3; i <= 5000; i += 3) {
		make_id(&id, i);
		if (bmap_del(&m, &id) != (void *)(uintptr_t)i)
			ok = 0;
	}
	for (unsigned i = 1; i <= 5000; i++) {
		void *v;

		make_id(&id, i);
		v = bmap_get(&m, &id);
		if (i % 3 == 0 ? v != NULL : v != (void *)(uintptr_t)i)
			ok = 0;
	}
	CHECK(ok);
	CHECK(m.n == 5000 - 5000 / 3);
	make_id(&id, 7);
	bmap_put(&m, &id, (void *)(uintptr_t)77);
	CHECK(bmap_get(&m, &id) == (void *)(uintptr_t)77);
	CHECK(m.n == 5000 - 5000 / 3);
	make_id(&id, 999999);
	CHECK(bmap_del(&m, &id) == NULL);
	bmap_release(&m);
}

static void
test_frames(void)
{
	struct frame *f = frame_event("message:received", 42, "{\"a\":1}", 7, 0);
	struct strbuf sb = STRBUF_INIT;

	CHECK_STR((char *)frame_text(f),
	    "{\"type\":\"message:received\",\"seq\":42,\"data\":{\"a\":1}}");
	CHECK(f->len == strlen((char *)frame_text(f)) && f->seq == 42);
	frame_unref(f);
	f = frame_event("typing:start", 0, NULL, 0, 1);
	CHECK_STR((char *)frame_text(f), "{\"type\":\"typing:start\",\"data\":{}}");
	CHECK(f->ephemeral == 1);
	frame_ref(f);
	frame_unref(f);
	frame_unref(f);
	json_quote(&sb, "a\"b\\c\n\x01");
	CHECK_STR(sb.buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	strbuf_release(&sb);
}

static void
test_events(void)
{
	const char *g = "01a1fcc2-0000-7000-8000-000000000001";
	const char *u = "01a1fcc2-0000-7000-8000-000000000002";
	const char *v = "01a1fcc2-0000-7000-8000-000000000003";
	char payload[300];
	struct bevent ev;
	struct bid gid, uid, vid;

	bid_parse(g, &gid);
	bid_parse(u, &uid);
	bid_parse(v, &vid);
	snprintf(payload, sizeof(payload), "{\"groupId\":\"%s\",\"userId\":\"%s\"}",
	    g, u);
	CHECK(bevent_from_row(&ev, 7, "CONVERSATION", g, "group:member:join",
	    payload, strlen(payload), 1000) == 0);
	CHECK(ev.effect == ME_JOIN && bid_eq(&ev.conv, &gid) &&
	    bid_eq(&ev.member, &uid) && ev.frame->seq == 7 &&
	    ev.frame->created_ms == 1000);
	bevent_release(&ev);
	/* the copy in the member's personal room names the group in data */
	CHECK(bevent_from_row(&ev, 8, "USER", u, "group:member:leave", payload,
	    strlen(payload), 0) == 0);
	CHECK(ev.effect == ME_LEAVE && bid_eq(&ev.conv, &gid) &&
	    bid_eq(&ev.member, &uid) && bid_eq(&ev.target, &uid));
	bevent_release(&ev);
	CHECK(bevent_from_row(&ev, 9, "USER", u, "group:delete", payload,
	    strlen(payload), 0) == 0);
	CHECK(ev.effect == ME_DROP && bid_eq(&ev.conv, &gid));
	bevent_release(&ev);
	snprintf(payload, sizeof(payload), "{\"conversationId\":\"%s\","
	    "\"userId\":\"%s\",\"kind\":\"DIRECT\",\"peerId\":\"%s\"}", g, u, v);
	CHECK(bevent_from_row(&ev, 10, "USER", u, "conversation:created", payload,
	    strlen(payload), 0) == 0);
	CHECK(ev.effect == ME_JOIN && ev.direct && bid_eq(&ev.peer, &vid));
	bevent_release(&ev);
	CHECK(bevent_from_row(&ev, 11, "CONVERSATION", g, "message:received",
	    "{\"id\":1}", 8, 0) == 0);
	CHECK(ev.effect == ME_NONE);
	bevent_release(&ev);
	/* malformed rows are skipped, not trusted */
	CHECK(bevent_from_row(&ev, 12, "USER", "nope", "x", "{}", 2, 0) == -1);
	CHECK(bevent_from_row(&ev, 13, "CONVERSATION", g, "group:member:join",
	    "not json", 8, 0) == 0 && ev.effect == ME_NONE);
	bevent_release(&ev);
}

int
main(void)
{
	RUN(test_bid);
	RUN(test_bmap);
	RUN(test_frames);
	RUN(test_events);
	return unit_done();
}
