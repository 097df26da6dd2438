#include <string.h>

#include "core/arena.h"
#include "core/msgfmt.h"
#include "unit.h"

static void
test_utf8(void)
{
	CHECK(msgfmt_utf8_chars("abc", 3) == 3);
	CHECK(msgfmt_utf8_chars("caf\xc3\xa9", 5) == 4);
	CHECK(msgfmt_utf8_chars("\xf0\x9f\x91\x8d", 4) == 1);
	CHECK(msgfmt_utf8_chars("\xff", 1) == -1);
	CHECK(msgfmt_utf8_chars("\xc0\xaf", 2) == -1);       /* overlong */
	CHECK(msgfmt_utf8_chars("\xed\xa0\x80", 3) == -1);   /* surrogate */
	CHECK(msgfmt_utf8_chars("\xf0\x9f\x91", 3) == -1);   /* truncated */
	CHECK(msgfmt_utf8_chars("a\0b", 3) == -1);
	CHECK(msgfmt_utf8_chars("", 0) == 0);
}

static void
test_emoji(void)
{
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x91\x8d"));                 /* thumbs up */
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd")); /* + skin tone */
	CHECK(msgfmt_emoji_ok("\xe2\x9d\xa4\xef\xb8\x8f"));         /* red heart */
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x87\xab\xf0\x9f\x87\xb7")); /* flag FR */
	/* family: man ZWJ woman ZWJ girl */
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"
	    "\xe2\x80\x8d\xf0\x9f\x91\xa7"));
	CHECK(msgfmt_emoji_ok("1\xef\xb8\x8f\xe2\x83\xa3"));        /* keycap 1 */
	CHECK(msgfmt_emoji_ok("#\xe2\x83\xa3"));
	/* flag of Scotland: black flag, tags g b s c t, cancel tag */
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2"
	    "\xf3\xa0\x81\xb3\xf3\xa0\x81\xa3\xf3\xa0\x81\xb4\xf3\xa0\x81\xbf"));
	CHECK(msgfmt_emoji_ok("\xe2\x86\x94"));                    /* left right arrow */
	/* woman, skin tone, ZWJ, laptop */
	CHECK(msgfmt_emoji_ok("\xf0\x9f\x91\xa9\xf0\x9f\x8f\xbd\xe2\x80\x8d"
	    "\xf0\x9f\x92\xbb"));
	/* One emoji, not a run of them. */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"));     /* thumbs x2 */
	CHECK(!msgfmt_emoji_ok("\xe2\x86\x94\xe2\x86\x94"));             /* arrow x2 */
	CHECK(!msgfmt_emoji_ok("\xe2\x86\x94\xe2\x86\x94\xe2\x86\x94\xe2\x86\x94"));
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x87\xab\xf0\x9f\x87\xb7"
	    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7"));                     /* FR FR */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x87\xab\xf0\x9f\x87\xb7\xf0\x9f\x87\xab"));
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x87\xab"));                /* one indicator */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x8f\xbd"));                /* skin tone alone */
	CHECK(!msgfmt_emoji_ok("\xf3\xa0\x81\xa7"));                /* tag alone */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xe2\x80\x8d"));     /* trailing ZWJ */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xe2\x80\x8d\xe2\x80\x8d"
	    "\xf0\x9f\x91\x8d"));                                      /* ZWJ ZWJ */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xe2\x80\x8d"
	    "1\xe2\x83\xa3"));                                         /* ZWJ keycap */
	CHECK(!msgfmt_emoji_ok("1\xe2\x83\xa3"
	    "2\xe2\x83\xa3"));                                         /* two keycaps */
	CHECK(!msgfmt_emoji_ok("\xe2\x83\xa3"));                    /* keycap mark alone */
	CHECK(!msgfmt_emoji_ok(""));
	CHECK(!msgfmt_emoji_ok("a"));
	CHECK(!msgfmt_emoji_ok("1"));
	CHECK(!msgfmt_emoji_ok(":+1:"));
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d "));
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\n"));
	CHECK(!msgfmt_emoji_ok("caf\xc3\xa9"));
	CHECK(!msgfmt_emoji_ok("\xe2\x80\xae\xf0\x9f\x91\x8d"));    /* RLO */
	CHECK(!msgfmt_emoji_ok("\xe2\x80\x8d"));                    /* ZWJ alone */
	CHECK(!msgfmt_emoji_ok("\xef\xb8\x8f"));                    /* selector alone */
	CHECK(!msgfmt_emoji_ok("\xff\xfe"));
	/* 9 thumbs = 36 bytes: too long */
	CHECK(!msgfmt_emoji_ok("\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
	    "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
	    "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"));
}

static void
test_uuid_time(void)
{
	char id[IDS_UUID_LEN], t[MSGFMT_DBTIME_LEN];

	CHECK(msgfmt_uuid_norm("0193B7A4-6C2E-7D10-9F3A-2B1C4D5E6F70", id) == 0);
	CHECK_STR(id, "0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70");
	CHECK(msgfmt_uuid_norm("nope", id) == -1);
	CHECK(msgfmt_uuid7_ms("0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70") ==
	    0x0193b7a46c2eLL);
	CHECK(msgfmt_uuid7_ms("0193b7a4-6c2e-4d10-9f3a-2b1c4d5e6f70") == -1);
	msgfmt_db_time(0, t);
	CHECK_STR(t, "1970-01-01 00:00:00.000");
	msgfmt_db_time(1735689600123LL, t);
	CHECK_STR(t, "2025-01-01 00:00:00.123");
	ids_uuid7(id);
	CHECK(msgfmt_uuid7_ms(id) > 1700000000000LL);
}

static void
test_cursor(void)
{
	struct msgfmt_cursor c;

	CHECK(msgfmt_cursor_parse("0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70", &c) == 0);
	CHECK(c.has_id);
	CHECK_STR(c.id, "0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70");
	CHECK_STR(c.time, "2024-12-11 21:33:46.414");
	CHECK(msgfmt_cursor_parse("2025-01-01T00:00:00.000Z", &c) == 0);
	CHECK(!c.has_id);
	CHECK_STR(c.time, "2025-01-01 00:00:00.000");
	CHECK(msgfmt_cursor_parse("2025-01-01", &c) == 0);
	CHECK_STR(c.time, "2025-01-01 00:00:00.000");
	CHECK(msgfmt_cursor_parse("0193b7a4-6c2e-4d10-9f3a-2b1c4d5e6f70", &c) == -1);
	CHECK(msgfmt_cursor_parse("yesterday", &c) == -1);
	CHECK(msgfmt_cursor_parse("", &c) == -1);
	CHECK(msgfmt_cursor_parse("' OR 1=1 --", &c) == -1);
}

static void
test_search(void)
{
	struct msgfmt_search s;

	CHECK(msgfmt_search_parse("Hello World", &s) == 0);
	CHECK(s.nterms == 2);
	CHECK_STR(s.terms[0], "hello");
	CHECK_STR(s.boolean, "+hello* +world*");
	/* Operators, short words, stopwords and duplicates go away. */
	CHECK(msgfmt_search_parse("+the -cat* \"meeting\" (notes) ~ab hello HELLO",
	    &s) == 0);
	CHECK_STR(s.boolean, "+cat* +meeting* +notes* +hello*");
	CHECK(msgfmt_search_parse("a an the of", &s) == -1);
	CHECK(msgfmt_search_parse("++--**", &s) == -1);
	CHECK(msgfmt_search_parse("", &s) == -1);
	CHECK(msgfmt_search_parse("caf\xc3\xa9 snake_case", &s) == 0);
	CHECK_STR(s.boolean, "+caf\xc3\xa9* +snake_case*");
	CHECK(msgfmt_search_parse("one two three four five six seven eight nine ten",
	    &s) == 0);
	CHECK(s.nterms == MSGFMT_MAX_TERMS);
}

/* n copies of the UTF-8 text of one character, in a static buffer. */
static const char *
repeat(const char *ch, size_t n, const char *tail)
{
	static char buf[4096];
	size_t len = strlen(ch), j = 0;

	for (size_t i = 0; i < n && j + len < sizeof(buf); i++, j += len)
		memcpy(buf + j, ch, len);
	snprintf(buf + j, sizeof(buf) - j, "%s", tail);
	return buf;
}

/* Words are split where InnoDB's parser splits them, in characters. */
static void
test_search_words(void)
{
	struct msgfmt_search s;

	/* Typographic quotes, guillemets, dashes, ellipses, NBSP, emoji. */
	CHECK(msgfmt_search_parse("\xe2\x80\x9cmeeting\xe2\x80\x9d "
	    "\xc2\xabnotes\xc2\xbb plan\xe2\x80\x94ning hello\xe2\x80\xa6world"
	    " one\xc2\xa0two\xf0\x9f\x98\x80six", &s) == 0);
	CHECK_STR(s.boolean,
	    "+meeting* +notes* +plan* +ning* +hello* +world* +one* +two*");
	/* InnoDB indexes words of up to 84 characters, not bytes. */
	CHECK(msgfmt_search_parse(repeat("\xd0\xb6", 84, ""), &s) == 0);
	CHECK(s.nterms == 1 && strlen(s.terms[0]) == 168);
	CHECK(msgfmt_search_parse(repeat("\xe4\xb8\xad", 84, ""), &s) == 0);
	CHECK(msgfmt_search_parse(repeat("\xd0\xb6", 85, ""), &s) == -1);
	CHECK(msgfmt_search_parse(repeat("x", 84, ""), &s) == 0);
	CHECK(msgfmt_search_parse(repeat("x", 85, ""), &s) == -1);
	/* Three characters, not three bytes. */
	CHECK(msgfmt_search_parse("\xc3\xa9\xc3\xa9", &s) == -1);
}

static void
test_snippet(void)
{
	struct arena a;
	struct msgfmt_search s;
	int matched[MSGFMT_MAX_TERMS];
	const char *b, *m, *e;

	arena_init(&a);
	msgfmt_search_parse("meeting notes", &s);
	CHECK(msgfmt_snippet(&a, "Tomorrow's Meetings are moved; no notes yet",
	    &s, matched, &b, &m, &e) == 2);
	CHECK(matched[0] && matched[1]);
	CHECK_STR(b, "Tomorrow's ");
	CHECK_STR(m, "Meetings");
	CHECK_STR(e, " are moved; no notes yet");
	msgfmt_search_parse("zebra", &s);
	CHECK(msgfmt_snippet(&a, "no match here", &s, matched, &b, &m, &e) == 0);
	CHECK(!matched[0]);
	CHECK_STR(m, "");
	CHECK_STR(e, "no match here");
	/* Context is cut at UTF-8 boundaries. */
	msgfmt_search_parse("target", &s);
	CHECK(msgfmt_snippet(&a, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 target", &s,
	    matched, &b, &m, &e) == 1);
	CHECK(msgfmt_utf8_chars(b, strlen(b)) > 0);
	CHECK_STR(m, "target");
	/* "get" inside "target" is not a word start. */
	msgfmt_search_parse("get", &s);
	CHECK(msgfmt_snippet(&a, "target", &s, matched, &b, &m, &e) == 0);
	/* Words next to non-ASCII punctuation are found. */
	msgfmt_search_parse("planning meeting", &s);
	CHECK(msgfmt_snippet(&a, "\xe2\x80\x9eplanning\xe2\x80\x9c and "
	    "\xc2\xabmeeting\xc2\xbb", &s, matched, &b, &m, &e) == 2);
	CHECK(matched[0] && matched[1]);
	CHECK_STR(b, "\xe2\x80\x9e");
	CHECK_STR(m, "planning");
	/* before and after hold at most MSGFMT_CONTEXT_BYTES, never more. */
	msgfmt_search_parse("kilo", &s);
	msgfmt_snippet(&a, repeat("\xe2\x82\xac", 30, " kilo"), &s, matched, &b,
	    &m, &e);
	CHECK_STR(m, "kilo");
	CHECK(strlen(b) <= MSGFMT_CONTEXT_BYTES && strlen(b) >= 57);
	CHECK(msgfmt_utf8_chars(b, strlen(b)) > 0);
	msgfmt_snippet(&a, repeat("\x80", 200, " kilo"), &s, matched, &b, &m,
	    &e);
	CHECK_STR(m, "kilo");
	CHECK(strlen(b) <= MSGFMT_CONTEXT_BYTES);
	/*
	 * The match is a word InnoDB indexes: not the start of a longer run
	 * (MariaDB matched the later "zulu"), so it is never huge.
	 */
	msgfmt_search_parse("zulu yankee", &s);
	{
		char text[4200];

		snprintf(text, sizeof(text), "zulu%s zulu yankee",
		    repeat("q", 4000, ""));
		CHECK(msgfmt_snippet(&a, text, &s, matched, &b, &m, &e) == 2);
		CHECK_STR(m, "zulu");
		CHECK(strlen(b) <= MSGFMT_CONTEXT_BYTES);
		CHECK_STR(e, " yankee");
	}
	CHECK_STR(msgfmt_truncate(&a, "h\xc3\xa9llo", 2), "h\xc3\xa9");
	CHECK_STR(msgfmt_truncate(&a, "hi", 5), "hi");
	arena_release(&a);
}

int
main(void)
{
	RUN(test_utf8);
	RUN(test_emoji);
	RUN(test_uuid_time);
	RUN(test_cursor);
	RUN(test_search);
	RUN(test_search_words);
	RUN(test_snippet);
	return unit_done();
}
