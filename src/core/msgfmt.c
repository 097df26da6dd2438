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

/*
 * Non-ASCII code points InnoDB's full-text parser splits words at, as
 * measured on MariaDB 10.11 (utf8mb4): the punctuation and symbol blocks
 * text commonly holds -- typographic quotes, dashes, ellipses, spaces,
 * currency, arrows, box drawing, dingbats, CJK and full-width punctuation.
 * Its character tables also leave out everything above U+FFFF (emoji
 * included). Letters of scripts newer than those tables still count as
 * word characters here: a rare mismatch that costs only a snippet.
 */
static const struct {
	unsigned lo, hi;
} delimiters[] = {
	{ 0x0080, 0x00a9 }, { 0x00ab, 0x00b1 }, { 0x00b4, 0x00b4 },
	{ 0x00b6, 0x00b8 }, { 0x00bb, 0x00bb }, { 0x00bf, 0x00bf },
	{ 0x00d7, 0x00d7 }, { 0x00f7, 0x00f7 }, { 0x02c2, 0x02c5 },
	{ 0x02d2, 0x02df }, { 0x02e5, 0x02ed }, { 0x02ef, 0x02ff },
	{ 0x037e, 0x037e }, { 0x0387, 0x0387 }, { 0x055a, 0x055f },
	{ 0x0589, 0x058a }, { 0x05be, 0x05be }, { 0x05c0, 0x05c0 },
	{ 0x05c3, 0x05c3 }, { 0x05c6, 0x05c6 }, { 0x05f3, 0x060f },
	{ 0x061b, 0x061f }, { 0x066a, 0x066d }, { 0x06d4, 0x06d4 },
	{ 0x0964, 0x0965 }, { 0x0970, 0x0970 }, { 0x0e3f, 0x0e3f },
	{ 0x0e4f, 0x0e4f }, { 0x0e5a, 0x0e5b }, { 0x1ffd, 0x206f },
	{ 0x207a, 0x207e }, { 0x208a, 0x208e }, { 0x20a0, 0x20cf },
	{ 0x2100, 0x2101 }, { 0x2103, 0x2106 }, { 0x2108, 0x2109 },
	{ 0x2114, 0x2114 }, { 0x2116, 0x2118 }, { 0x211e, 0x2123 },
	{ 0x2125, 0x2125 }, { 0x2127, 0x2127 }, { 0x2129, 0x2129 },
	{ 0x212e, 0x212e }, { 0x213a, 0x213b }, { 0x2140, 0x2144 },
	{ 0x214a, 0x214d }, { 0x214f, 0x214f }, { 0x2190, 0x245f },
	{ 0x249c, 0x24e9 }, { 0x2500, 0x2775 }, { 0x2794, 0x2bff },
	{ 0x2e00, 0x3004 }, { 0x3008, 0x3020 }, { 0x3030, 0x3030 },
	{ 0x3036, 0x3037 }, { 0x303d, 0x303f }, { 0x309b, 0x309c },
	{ 0x30a0, 0x30a0 }, { 0x30fb, 0x30fb }, { 0xe000, 0xf8ff },
	{ 0xfd3e, 0xfd3f }, { 0xfe10, 0xfe1f }, { 0xfe30, 0xfe6f },
	{ 0xfeff, 0xff0f }, { 0xff1a, 0xff20 }, { 0xff3b, 0xff40 },
	{ 0xff5b, 0xff65 }, { 0xffdd, 0xffff },
};

/*
 * Whether the character at p (n > 0 bytes left) belongs to a word for
 * InnoDB's parser: ASCII letters, digits and '_', and non-ASCII outside
 * the delimiters above. *len receives its length (1 for a byte that
 * starts no valid UTF-8 sequence; such a byte is no word character).
 */
static int
word_char(const unsigned char *p, size_t n, size_t *len)
{
	unsigned cp;
	int k;

	*len = 1;
	if (*p < 0x80)
		return isalnum(*p) || *p == '_';
	if ((k = utf8_decode(p, n, &cp)) < 0)
		return 0;
	*len = (size_t)k;
	if (cp > 0xffff)
		return 0;
	for (size_t i = 0; i < sizeof(delimiters) / sizeof(delimiters[0]); i++)
		if (cp >= delimiters[i].lo && cp <= delimiters[i].hi)
			return 0;
	return 1;
}

/*
 * The next word of [*p, end) as InnoDB's parser splits text: its start,
 * *p moved past it, its length in characters in *chars. The start equals
 * *p (and *chars is 0) when no word is left.
 */
static const unsigned char *
next_word(const unsigned char **p, const unsigned char *end, size_t *chars)
{
	const unsigned char *start;
	size_t k;

	while (*p < end && !word_char(*p, (size_t)(end - *p), &k))
		*p += k;
	start = *p;
	*chars = 0;
	while (*p < end && word_char(*p, (size_t)(end - *p), &k)) {
		*p += k;
		(*chars)++;
	}
	return start;
}

int
msgfmt_search_parse(const char *query, struct msgfmt_search *out)
{
	const unsigned char *p = (const unsigned char *)query, *end;
	size_t blen = 0;

	memset(out, 0, sizeof(*out));
	if (!query)
		return -1;
	end = p + strlen(query);
	while (p < end && out->nterms < MSGFMT_MAX_TERMS) {
		const unsigned char *start;
		size_t len, chars;
		char *t = out->terms[out->nterms];
		int dup = 0;

		start = next_word(&p, end, &chars);
		len = (size_t)(p - start);
		/* Non-ASCII word characters are at most 3 bytes (BMP). */
		if (chars < 3 || chars > MSGFMT_TERM_CHARS ||
		    len > MSGFMT_TERM_MAX)
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

/*
 * The first word of hay[0..n) that InnoDB indexes (at most
 * MSGFMT_TERM_CHARS characters) and that starts with term, compared ASCII
 * case-insensitively; *wend receives its end. NULL if there is none.
 */
static const char *
find_word(const char *hay, size_t n, const char *term, const char **wend)
{
	const unsigned char *p = (const unsigned char *)hay, *end = p + n, *w;
	size_t tlen = strlen(term), chars;

	while (p < end) {
		w = next_word(&p, end, &chars);
		if (chars > 0 && chars <= MSGFMT_TERM_CHARS &&
		    (size_t)(p - w) >= tlen &&
		    strncasecmp((const char *)w, term, tlen) == 0) {
			*wend = (const char *)p;
			return (const char *)w;
		}
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

/* Moves p forward to the first byte of a UTF-8 sequence (not past hi). */
static const char *
utf8_next(const char *p, const char *hi)
{
	while (p < hi && ((unsigned char)*p & 0xc0) == 0x80)
		p++;
	return p;
}

size_t
msgfmt_snippet(struct arena *a, const char *content,
	const struct msgfmt_search *s, int matched[MSGFMT_MAX_TERMS],
	const char **before, const char **match, const char **after)
{
	const char *first = NULL, *end = NULL, *b, *e;
	size_t found = 0, clen = strlen(content);

	for (size_t i = 0; i < s->nterms; i++) {
		const char *wend, *at = find_word(content, clen, s->terms[i],
		    &wend);

		matched[i] = at != NULL;
		if (!at)
			continue;
		found++;
		if (!first || at < first) {
			first = at;
			end = wend;
		}
	}
	if (!first) {
		*before = "";
		*match = "";
		*after = arena_strndup(a, content, (size_t)(utf8_start(content,
		    content + (clen < 2 * MSGFMT_CONTEXT_BYTES ? clen :
		    2 * MSGFMT_CONTEXT_BYTES)) - content));
		return 0;
	}
	/* Both cuts move inwards: neither side ever exceeds its bytes. */
	b = first - content > MSGFMT_CONTEXT_BYTES ?
	    utf8_next(first - MSGFMT_CONTEXT_BYTES, first) : content;
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
