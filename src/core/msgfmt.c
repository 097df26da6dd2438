#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "hexdigit.h"
#include "msgfmt.h"
#include "timefmt.h"
#include "banned.h"

/* Decodes one code point at s (n bytes left). Length, or -1 if invalid. */
static int
utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0];
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && *cp < 0x800) || (len == 4 && *cp < 0x10000) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
		return -1;
	return len;
}

long
msgfmt_utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	size_t i = 0;
	unsigned cp;

	while (i < len) {
		int n = utf8_decode(p + i, len - i, &cp);

		if (n < 0 || cp == 0)
			return -1;
		i += (size_t)n;
		count++;
	}
	return count;
}

/* Code points that are emoji on their own (flags and keycaps aside). */
static int
pictograph(unsigned cp)
{
	static const struct {
		unsigned lo, hi;
	} ranges[] = {
		{ 0x00a9, 0x00a9 }, { 0x00ae, 0x00ae }, { 0x203c, 0x203c },
		{ 0x2049, 0x2049 }, { 0x2122, 0x2122 }, { 0x2139, 0x2139 },
		{ 0x2194, 0x21aa }, { 0x231a, 0x23ff }, { 0x24c2, 0x24c2 },
		{ 0x25aa, 0x27bf }, { 0x2934, 0x2935 }, { 0x2b05, 0x2b55 },
		{ 0x3030, 0x3030 }, { 0x303d, 0x303d }, { 0x3297, 0x3297 },
		{ 0x3299, 0x3299 }, { 0x1f000, 0x1f1e5 }, { 0x1f200, 0x1f3fa },
		{ 0x1f400, 0x1faff },
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i].lo && cp <= ranges[i].hi)
			return 1;
	return 0;
}

static int
regional_indicator(unsigned cp)
{
	return cp >= 0x1f1e6 && cp <= 0x1f1ff;
}

/* Variation selectors, skin tones and tags: they modify what precedes. */
static int
emoji_modifier(unsigned cp)
{
	return cp == 0xfe0e || cp == 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
	    (cp >= 0xe0020 && cp <= 0xe007f);
}

/*
 * Length of the emoji base at p (n bytes): a pictograph or, when first, a
 * keycap ("1", "#" or "*", U+FE0F?, U+20E3) or a flag (two regional
 * indicators). 0 if there is none.
 */
static size_t
emoji_base(const unsigned char *p, size_t n, int first)
{
	unsigned cp, cp2;
	size_t j;
	int k;

	if (n == 0 || (k = utf8_decode(p, n, &cp)) < 0)
		return 0;
	if (pictograph(cp))
		return (size_t)k;
	if (!first)
		return 0;
	if (cp == '#' || cp == '*' || (cp >= '0' && cp <= '9')) {
		j = 1;
		if (j + 3 <= n && memcmp(p + j, "\xef\xb8\x8f", 3) == 0)
			j += 3;
		if (j + 3 > n || memcmp(p + j, "\xe2\x83\xa3", 3) != 0)
			return 0;
		return j + 3;
	}
	if (regional_indicator(cp) && (size_t)k < n &&
	    utf8_decode(p + k, n - (size_t)k, &cp2) == 4 &&
	    regional_indicator(cp2))
		return (size_t)k + 4;
	return 0;
}

int
msgfmt_emoji_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	unsigned cp;
	int k;

	if (len == 0 || len > MSGFMT_EMOJI_MAX)
		return 0;
	/* One grapheme cluster: base modifier* (ZWJ pictograph modifier*)* */
	for (;;) {
		n = emoji_base(p + i, len - i, i == 0);
		if (n == 0)
			return 0;
		i += n;
		while (i < len && (k = utf8_decode(p + i, len - i, &cp)) > 0 &&
		    emoji_modifier(cp))
			i += (size_t)k;
		if (i == len)
			return 1;
		if (utf8_decode(p + i, len - i, &cp) < 0 || cp != 0x200d)
			return 0;
		i += 3;
	}
}

int
msgfmt_uuid_norm(const char *in, char out[IDS_UUID_LEN])
{
	if (!in || !ids_is_uuid(in))
		return -1;
	for (int i = 0; i < 36; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[36] = '\0';
	return 0;
}

int64_t
msgfmt_uuid7_ms(const char *id)
{
	int64_t ms = 0;
	int digits = 0;

	if (!id || !ids_is_uuid(id) || id[14] != '7')
		return -1;
	for (int i = 0; digits < 12; i++) {
		if (id[i] == '-')
			continue;
		ms = (ms << 4) | hexdigit_value((unsigned char)id[i]);
		digits++;
	}
	return ms;
}

void
msgfmt_db_time(int64_t ms, char out[MSGFMT_DBTIME_LEN])
{
	char iso[TIMEFMT_LEN];

	timefmt_iso(ms, iso);
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> "YYYY-MM-DD HH:MM:SS.mmm" */
	memcpy(out, iso, 23);
	out[10] = ' ';
	out[23] = '\0';
}

int
msgfmt_cursor_parse(const char *s, struct msgfmt_cursor *c)
{
	int64_t ms;

	memset(c, 0, sizeof(*c));
	if (!s || !*s)
		return -1;
	if (ids_is_uuid(s)) {
		ms = msgfmt_uuid7_ms(s);
		if (ms < 0)
			return -1;
		msgfmt_uuid_norm(s, c->id);
		c->has_id = 1;
	} else if (strlen(s) > 40 || timefmt_parse(s, &ms) == -1) {
		return -1;
	}
	/* Years past 9999 do not fit DATETIME. */
	if (ms < 0 || ms > 253402300799999LL)
		return -1;
	msgfmt_db_time(ms, c->time);
	return 0;
}

/* InnoDB's default full-text stopwords (INNODB_FT_DEFAULT_STOPWORD). */
static const char *const stopwords[] = {
	"a", "about", "an", "are", "as", "at", "be", "by", "com", "de", "en",
	"for", "from", "how", "i", "in", "is", "it", "la", "of", "on", "or",
	"that", "the", "this", "to", "was", "what", "when", "where", "who",
	"will", "with", "und", "www",
};

static int
is_stopword(const char *w)
{
	for (size_t i = 0; i < sizeof(stopwords) / sizeof(stopwords[0]); i++)
		if (strcmp(stopwords[i], w) == 0)
			return 1;
	return 0;
}

/* A byte that belongs to a word for InnoDB's parser (non-ASCII counts). */
static int
word_byte(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || c == '_';
}

int
msgfmt_search_parse(const char *query, struct msgfmt_search *out)
{
	const unsigned char *p = (const unsigned char *)query;
	size_t blen = 0;

	memset(out, 0, sizeof(*out));
	if (!query)
		return -1;
	while (*p && out->nterms < MSGFMT_MAX_TERMS) {
		const unsigned char *start;
		size_t len;
		char *t = out->terms[out->nterms];
		int dup = 0;
		long chars;

		while (*p && !word_byte(*p))
			p++;
		start = p;
		while (*p && word_byte(*p))
			p++;
		len = (size_t)(p - start);
		if (len == 0 || len > MSGFMT_TERM_MAX)
			continue;
		chars = msgfmt_utf8_chars((const char *)start, len);
		if (chars < 3)
			continue;
		for (size_t i = 0; i < len; i++)
			t[i] = (char)tolower(start[i]);
		t[len] = '\0';
		if (is_stopword(t))
			continue;
		for (size_t i = 0; i < out->nterms; i++)
			dup |= strcmp(out->terms[i], t) == 0;
		if (dup)
			continue;
		blen += (size_t)snprintf(out->boolean + blen,
		    sizeof(out->boolean) - blen, "%s+%s*", out->nterms ? " " : "",
		    t);
		out->nterms++;
	}
	return out->nterms ? 0 : -1;
}

/* ASCII case-insensitive search for term at a word start; NULL if absent. */
static const char *
find_word(const char *hay, const char *term)
{
	size_t n = strlen(term);

	for (const char *h = hay; *h; h++) {
		if (h > hay && word_byte((unsigned char)h[-1]))
			continue;
		if (strncasecmp(h, term, n) == 0)
			return h;
	}
	return NULL;
}

/* Moves p back to the first byte of its UTF-8 sequence (not before lo). */
static const char *
utf8_start(const char *lo, const char *p)
{
	while (p > lo && ((unsigned char)*p & 0xc0) == 0x80)
		p--;
	return p;
}

size_t
msgfmt_snippet(struct arena *a, const char *content,
	const struct msgfmt_search *s, int matched[MSGFMT_MAX_TERMS],
	const char **before, const char **match, const char **after)
{
	const char *first = NULL, *end, *b, *e;
	size_t found = 0, clen = strlen(content);

	for (size_t i = 0; i < s->nterms; i++) {
		const char *at = find_word(content, s->terms[i]);

		matched[i] = at != NULL;
		if (!at)
			continue;
		found++;
		if (!first || at < first)
			first = at;
	}
	if (!first) {
		*before = "";
		*match = "";
		*after = arena_strndup(a, content, (size_t)(utf8_start(content,
		    content + (clen < 2 * MSGFMT_CONTEXT_BYTES ? clen :
		    2 * MSGFMT_CONTEXT_BYTES)) - content));
		return 0;
	}
	end = first;
	while (*end && word_byte((unsigned char)*end))
		end++;
	b = first - content > MSGFMT_CONTEXT_BYTES ?
	    utf8_start(content, first - MSGFMT_CONTEXT_BYTES) : content;
	e = (size_t)(content + clen - end) > MSGFMT_CONTEXT_BYTES ?
	    utf8_start(end, end + MSGFMT_CONTEXT_BYTES) : content + clen;
	*before = arena_strndup(a, b, (size_t)(first - b));
	*match = arena_strndup(a, first, (size_t)(end - first));
	*after = arena_strndup(a, end, (size_t)(e - end));
	return found;
}

char *
msgfmt_truncate(struct arena *a, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, chars = 0;

	while (p[i] && chars < max_chars) {
		i++;
		while (p[i] && (p[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	return arena_strndup(a, s, i);
}
