/*
 * fuzz_msgfmt.c - the text rules of conversations (src/core/msgfmt.c).
 *
 * Input: "QUERY\nCONTENT". Checks on the pieces and the whole:
 *  - msgfmt_utf8_chars() agrees with an independent UTF-8 validator and
 *    counts code points;
 *  - msgfmt_emoji_ok() accepts only short valid UTF-8 without letters,
 *    spaces or controls, ASCII only as keycap bases;
 *  - msgfmt_search_parse() keeps 1..8 distinct lowercase words of 3 to 84
 *    characters that occur in the query and spells the boolean expression
 *    from exactly those;
 *  - msgfmt_snippet() returns three adjacent pieces of CONTENT, each valid
 *    UTF-8 when CONTENT is (they go into JSON), within the context size
 *    and the longest word whatever CONTENT holds;
 *  - msgfmt_truncate() returns a prefix of at most N code points;
 *  - msgfmt_cursor_parse() yields a DATETIME(3) text and a lowercase id.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/msgfmt.h"
#include "fuzz_util.h"

static long
ref_chars(const char *s, size_t len)
{
	long n = 0;

	if (!fuzz_utf8_ok(s, len, 0))
		return -1;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static void
check_emoji(const char *s)
{
	size_t len = strlen(s);

	if (!msgfmt_emoji_ok(s))
		return;
	FUZZ_CHECK(len > 0 && len <= MSGFMT_EMOJI_MAX);
	FUZZ_CHECK(fuzz_utf8_ok(s, len, 0));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			continue;
		FUZZ_CHECK(c == '#' || c == '*' || (c >= '0' && c <= '9'));
		/* keycap: base, optional U+FE0F, then U+20E3 */
		FUZZ_CHECK(strncmp(s + i + 1, "\xe2\x83\xa3", 3) == 0 ||
		    strncmp(s + i + 1, "\xef\xb8\x8f\xe2\x83\xa3", 6) == 0);
	}
}

static void
check_search(const char *q, struct msgfmt_search *sr)
{
	char expect[sizeof(sr->boolean)];
	size_t n = 0;

	if (msgfmt_search_parse(q, sr) == -1) {
		FUZZ_CHECK(sr->nterms == 0);
		return;
	}
	FUZZ_CHECK(sr->nterms >= 1 && sr->nterms <= MSGFMT_MAX_TERMS);
	expect[0] = '\0';
	for (size_t i = 0; i < sr->nterms; i++) {
		const char *t = sr->terms[i];
		size_t len = strlen(t);

		FUZZ_CHECK(len <= MSGFMT_TERM_MAX && ref_chars(t, len) >= 3 &&
		    ref_chars(t, len) <= MSGFMT_TERM_CHARS);
		for (size_t j = 0; j < len; j++)
			FUZZ_CHECK(!isupper((unsigned char)t[j]) &&
			    ((unsigned char)t[j] >= 0x80 ||
			    isalnum((unsigned char)t[j]) || t[j] == '_'));
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(sr->terms[j], t) != 0);
		FUZZ_CHECK(strcasestr(q, t) != NULL);
		n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%s+%s*",
		    i ? " " : "", t);
	}
	FUZZ_CHECK(strcmp(expect, sr->boolean) == 0);
}

static void
check_snippet(struct arena *a, const char *content,
	const struct msgfmt_search *sr)
{
	const char *before, *match, *after, *at;
	int matched[MSGFMT_MAX_TERMS];
	size_t bl, ml, al, found, clen = strlen(content);

	found = msgfmt_snippet(a, content, sr, matched, &before, &match, &after);
	FUZZ_CHECK(found <= sr->nterms);
	bl = strlen(before);
	ml = strlen(match);
	al = strlen(after);
	/* The sizes hold for any bytes: cuts only ever move inwards. */
	FUZZ_CHECK(bl <= MSGFMT_CONTEXT_BYTES && ml <= MSGFMT_TERM_MAX &&
	    al <= 2 * MSGFMT_CONTEXT_BYTES);
	if (found)
		FUZZ_CHECK(ml > 0 && al <= MSGFMT_CONTEXT_BYTES);
	/* The three pieces are adjacent in content. */
	at = content;
	while ((at = strstr(at, before)) != NULL) {
		if (strncmp(at + bl, match, ml) == 0 &&
		    strncmp(at + bl + ml, after, al) == 0)
			break;
		at++;
	}
	FUZZ_CHECK(at != NULL);
	if (found == 0)
		FUZZ_CHECK(bl == 0 && ml == 0 && at == content);
	if (fuzz_utf8_ok(content, clen, 0))
		FUZZ_CHECK(fuzz_utf8_ok(before, bl, 0) &&
		    fuzz_utf8_ok(match, ml, 0) && fuzz_utf8_ok(after, al, 0));
}

static void
check_truncate(struct arena *a, const char *s, size_t max)
{
	char *t = msgfmt_truncate(a, s, max);
	size_t len = strlen(t);

	FUZZ_CHECK(strncmp(s, t, len) == 0);
	if (fuzz_utf8_ok(s, strlen(s), 0)) {
		FUZZ_CHECK(ref_chars(t, len) >= 0 && (size_t)ref_chars(t, len) <= max);
		FUZZ_CHECK((size_t)ref_chars(t, len) == max || len == strlen(s));
	}
}

static void
check_cursor(const char *s)
{
	struct msgfmt_cursor c;

	if (msgfmt_cursor_parse(s, &c) == -1)
		return;
	FUZZ_CHECK(strlen(c.time) == MSGFMT_DBTIME_LEN - 1 && c.time[10] == ' ');
	if (c.has_id) {
		FUZZ_CHECK(ids_is_uuid(c.id));
		for (int i = 0; i < 36; i++)
			FUZZ_CHECK(!isupper((unsigned char)c.id[i]));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msgfmt_search sr;
	struct arena a;
	char *p[2], *whole = malloc(size ? size : 1);

	memcpy(whole, data, size);
	FUZZ_CHECK(msgfmt_utf8_chars(whole, size) == ref_chars(whole, size));

	fuzz_split(data, size, p, 2);
	arena_init(&a);
	check_emoji(p[0]);
	check_emoji(p[1]);
	check_search(p[0], &sr);
	check_snippet(&a, p[1], &sr);
	check_truncate(&a, p[1], size % 7);
	check_cursor(p[0]);

	arena_release(&a);
	free(p[0]);
	free(p[1]);
	free(whole);
	return 0;
}
