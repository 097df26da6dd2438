#include <string.h>

#include "core/message_view.h"
#include "unit.h"

#define A "01a1fcd0-0000-7000-8000-00000000000a"
#define B "01a1fcd0-0000-7000-8000-00000000000b"
#define C "01a1fcd0-0000-7000-8000-00000000000c"
#define M1 "01a1fcd0-0001-7000-8000-000000000001"
#define M2 "01a1fcd0-0002-7000-8000-000000000002"

static struct msg_row
msg(const char *id, const char *sender, const char *at)
{
	struct msg_row m;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.sender_id = sender;
	m.created_at = at;
	m.kind = "GROUP";
	m.conversation_id = C;
	m.type = "TEXT";
	m.content = "hi";
	return m;
}

/*
 * A group of A, B, C. Read pointers: B at M1 (lowest), C at M2; delivered:
 * everyone at M2 except A at nothing (lowest, NULL).
 */
static void
test_group_status(void)
{
	struct receipts rc;
	struct msg_row m1 = msg(M1, A, "2025-01-01 00:00:00.001");
	struct msg_row m2 = msg(M2, A, "2025-01-01 00:00:00.002");
	struct msg_row b2 = msg(M2, B, "2025-01-01 00:00:00.002");

	memset(&rc, 0, sizeof(rc));
	rc.r_ex_user = B;
	rc.r_at = "2025-01-01 00:00:00.001";
	rc.r_id = M1;
	rc.r_ex_at = "2025-01-01 00:00:00.002";
	rc.r_ex_id = M2;
	rc.d_ex_user = A;
	rc.d_at = NULL;
	rc.d_id = NULL;
	rc.d_ex_at = "2025-01-01 00:00:00.002";
	rc.d_ex_id = M2;
	/* A's messages: the others are B (read M1) and C (read M2). */
	CHECK_STR(message_view_status(&m1, &rc), "SEEN");
	/* M2 by A: B has not read it; delivered to B and C (A's NULL is A's own). */
	CHECK_STR(message_view_status(&m2, &rc), "DELIVERED");
	/* M2 by B: the lowest read of the others is C's... judged against M2 (ex).
	 * Delivered: A has nothing, so at best SENT. */
	CHECK_STR(message_view_status(&b2, &rc), "SEEN");
	CHECK_STR(message_view_status(&m1, NULL), "SENT");
	/* Same time, id decides. */
	rc.r_at = "2025-01-01 00:00:00.002";
	rc.r_id = M1;
	CHECK_STR(message_view_status(&m2, &rc), "DELIVERED");
	rc.r_id = M2;
	CHECK_STR(message_view_status(&m2, &rc), "SEEN");
}

static void
test_reactions(void)
{
	const char *s = "\xf0\x9f\x91\x8d\x1f" A "\x1e\xe2\x9d\xa4\x1f" B "\x1e"
	    "\xf0\x9f\x91\x8d\x1f" B;
	json_t *r = message_view_reactions(s, strlen(s), B), *x;

	CHECK(json_array_size(r) == 2);
	x = json_array_get(r, 0);
	CHECK_STR(json_string_value(json_object_get(x, "emoji")), "\xf0\x9f\x91\x8d");
	CHECK(json_integer_value(json_object_get(x, "count")) == 2);
	CHECK(json_is_true(json_object_get(x, "reacted")));
	CHECK(json_array_size(json_object_get(x, "userIds")) == 2);
	x = json_array_get(r, 1);
	CHECK(json_integer_value(json_object_get(x, "count")) == 1);
	CHECK(json_is_true(json_object_get(x, "reacted")));
	json_decref(r);
	r = message_view_reactions(s, strlen(s), A);
	CHECK(json_is_false(json_object_get(json_array_get(r, 1), "reacted")));
	json_decref(r);
	r = message_view_reactions(NULL, 0, A);
	CHECK(json_array_size(r) == 0);
	json_decref(r);
	/* Garbage without separators is ignored, never read past its end. */
	r = message_view_reactions("junk", 4, A);
	CHECK(json_array_size(r) == 0);
	json_decref(r);
}

static void
test_json(void)
{
	struct msg_row m = msg(M1, A, "2025-01-01 00:00:00.001");
	json_t *o;

	m.kind = "DIRECT";
	m.direct_key = A ":" B;
	m.metadata = "{\"attachments\":[{\"url\":\"/x\"}]}";
	o = message_view_json(&m, A, NULL);
	CHECK_STR(json_string_value(json_object_get(o, "receiverId")), B);
	CHECK(json_is_null(json_object_get(o, "groupId")));
	CHECK(json_array_size(json_object_get(o, "attachments")) == 1);
	CHECK_STR(json_string_value(json_object_get(o, "createdAt")),
	    "2025-01-01T00:00:00.001Z");
	json_decref(o);
	m.deleted_at = "2025-01-02 00:00:00.000";
	o = message_view_json(&m, A, NULL);
	CHECK(json_is_null(json_object_get(o, "content")));
	CHECK(json_is_true(json_object_get(o, "deleted")));
	CHECK(json_array_size(json_object_get(o, "attachments")) == 0);
	json_decref(o);
}

int
main(void)
{
	RUN(test_group_status);
	RUN(test_reactions);
	RUN(test_json);
	return unit_done();
}
