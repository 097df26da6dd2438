#include <string.h>

#include "core/arena.h"
#include "core/jsonx.h"
#include "unit.h"

static int
parses(const char *s)
{
	json_t *v = NULL;
	char err[200];
	int rc = jsonx_parse(s, strlen(s), JSONX_MAX_DEPTH, &v, err, sizeof(err));

	json_decref(v);
	return rc == 0;
}

static void
test_parse(void)
{
	char deep[200], ok[100];
	json_t *v = NULL;
	char err[200];

	CHECK(parses("{\"a\":1}"));
	CHECK(parses("[1,2]"));
	CHECK(!parses(""));
	CHECK(!parses("{"));
	CHECK(!parses("{\"a\":1,\"a\":2}"));
	CHECK(jsonx_parse("{\"a\":1,\"a\":2}", 13, 32, &v, err, sizeof(err)) == -1);
	CHECK(strstr(err, "duplicate") != NULL);
	CHECK(jsonx_parse("{\"a\":\0}", 7, 32, &v, err, sizeof(err)) == -1);
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	deep[80] = '\0';
	CHECK(!parses(deep));
	memset(ok, '[', 32);
	memset(ok + 32, ']', 32);
	ok[64] = '\0';
	CHECK(parses(ok));
	/* Brackets inside strings do not count. */
	CHECK(jsonx_depth("{\"a\":\"[[[[[\\\"[[[\"}", 18, 2) == 1);
	CHECK(!parses("{\"a\":\"\xff\"}")); /* invalid UTF-8 */
}

/* The reason goes back to the client in JSON: it must stay valid UTF-8. */
static void
test_parse_error_text(void)
{
	/* Found by tests/fuzz/fuzz_bridge_protocol.c: jansson quoted "\\\xd5". */
	static const char bad[] = "{\"\\\xd5\xbe\xc6\x17";
	json_t *v = NULL;
	char err[200], small[34];
	int clean = 1;

	CHECK(jsonx_parse(bad, sizeof(bad) - 1, 32, &v, err, sizeof(err)) == -1);
	for (const char *p = err; *p; p++)
		clean &= (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	CHECK(clean);
	CHECK(strstr(err, "invalid escape") != NULL);
	CHECK(jsonx_parse("[\xc3\xa9\xc3\xa9\xc3\xa9]", 8, 32, &v, small,
	    sizeof(small)) == -1);
	for (const char *p = small; *p; p++)
		clean &= (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	CHECK(clean);
}

static void
test_fields(void)
{
	json_t *o = json_pack("{s:s,s:i}", "display_name", "Ann", "n", 3);
	json_t *v;
	const char *bad = NULL;

	CHECK(jsonx_field(o, JSONX_NAMES("displayName", "display_name"), &v,
	    &bad) == 0);
	CHECK_STR(json_string_value(v), "Ann");
	CHECK(jsonx_str(o, "n") == NULL);
	CHECK(jsonx_field(o, JSONX_NAMES("missing"), &v, &bad) == 0 && !v);
	CHECK(jsonx_field(NULL, JSONX_NAMES("n"), &v, &bad) == 0 && !v);
	jsonx_set_time(o, "t", "2025-01-02 03:04:05.678");
	CHECK_STR(json_string_value(json_object_get(o, "t")), "2025-01-02T03:04:05.678Z");
	jsonx_set_time(o, "u", NULL);
	CHECK(json_is_null(json_object_get(o, "u")));
	json_decref(o);
}

/* Two spellings of one field: equal values are one field, others a 400. */
static void
test_field_spellings(void)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "title", "A", "name", "A",
	    "cover_url", "/c", "x", 1, "y", "1");
	char buf[JSONX_DISAGREE_MAX];
	struct arena a;
	json_t *v;
	const char *bad = NULL;

	arena_init(&a);
	CHECK(jsonx_field(o, JSONX_NAMES("title", "name"), &v, &bad) == 0);
	CHECK_STR(json_string_value(v), "A");
	json_object_set_new(o, "name", json_integer(5)); /* wrong type */
	CHECK(jsonx_field(o, JSONX_NAMES("title", "name"), &v, &bad) == -1);
	CHECK(v == NULL);
	CHECK_STR(bad, "name");
	CHECK_STR(jsonx_disagree(&a, o, JSONX_NAMES("title", "name"), bad),
	    "title and name disagree: send one of them");
	/* The wrong type may come first, too. */
	CHECK(jsonx_field(o, JSONX_NAMES("name", "title"), &v, &bad) == -1);
	CHECK_STR(bad, "title");
	/* A third spelling counts like the second; absent ones are skipped. */
	json_object_set_new(o, "coverUrl", json_string("/d"));
	CHECK(jsonx_field(o, JSONX_NAMES("cover", "cover_url", "coverUrl"), &v,
	    &bad) == -1);
	CHECK_STR(bad, "coverUrl");
	CHECK_STR(jsonx_disagree(&a, o, JSONX_NAMES("cover", "cover_url",
	    "coverUrl"), bad), "cover_url and coverUrl disagree: send one of them");
	CHECK_STR(jsonx_disagree_buf(buf, o, JSONX_NAMES("cover", "cover_url",
	    "coverUrl"), bad), "cover_url and coverUrl disagree: send one of them");
	/* 1 and "1" are not the same value. */
	CHECK(jsonx_field(o, JSONX_NAMES("x", "y"), &v, &bad) == -1);
	json_decref(o);
	arena_release(&a);
}

static void
test_uuid_array(void)
{
	json_t *ok = json_pack("[s]", "0189d7c0-0000-7000-8000-000000000000");
	json_t *bad = json_pack("[s,i]", "0189d7c0-0000-7000-8000-000000000000", 1);
	json_t *two = json_pack("[s,s]", "0189d7c0-0000-7000-8000-000000000000",
	    "0189d7c0-0000-7000-8000-000000000001");
	json_t *obj = json_object();

	CHECK(jsonx_uuid_array(ok, 1) == 0);
	CHECK(jsonx_uuid_array(two, 1) == -1);
	CHECK(jsonx_uuid_array(obj, 5) == -1);
	CHECK(jsonx_uuid_array(bad, 5) == -2);
	json_decref(ok);
	json_decref(bad);
	json_decref(two);
	json_decref(obj);
}

int
main(void)
{
	RUN(test_parse);
	RUN(test_parse_error_text);
	RUN(test_fields);
	RUN(test_field_spellings);
	RUN(test_uuid_array);
	return unit_done();
}
