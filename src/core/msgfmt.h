/*
 * msgfmt.h - the pure text rules of conversations: no I/O, no database.
 *
 * UTF-8 length checks, reaction emoji validation, UUID and time helpers for
 * message ordering, history cursors, full-text search term sanitising and
 * search context snippets. Everything here is deterministic and covered by
 * tests/unit/test_msgfmt.c; the services (group.c, message.c) call it.
 *
 * Message order. A message's created_at is the millisecond embedded in its
 * UUIDv7 id, so (created_at, id) is one total order that needs no lookup:
 * a cursor naming a message id is turned into its position directly.
 */
#ifndef PARLEY_MSGFMT_H
#define PARLEY_MSGFMT_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"

struct arena;

/* "YYYY-MM-DD HH:MM:SS.mmm" plus NUL: MariaDB's DATETIME(3) text. */
#define MSGFMT_DBTIME_LEN 24

/* Code points in s[0..len), or -1 if s is not valid UTF-8 (or holds NUL). */
long msgfmt_utf8_chars(const char *s, size_t len);

/*
 * 1 if s is a reaction: 1..MSGFMT_EMOJI_MAX bytes of valid UTF-8 that make
 * exactly one emoji. That is a base -- a pictograph or symbol, a keycap
 * sequence ("1", "#" or "*" followed by U+FE0F? U+20E3) or a flag (two
 * regional indicators) -- followed by any variation selectors, skin tones
 * and tag characters, and further pictographs (with their own modifiers)
 * only each after a U+200D ZWJ. Runs of emoji, letters, digits, spaces,
 * controls and bidi overrides are refused. Else 0.
 */
#define MSGFMT_EMOJI_MAX 32
int msgfmt_emoji_ok(const char *s);

/* Copies canonical UUID in (any case) to out in lowercase; -1 if not a UUID. */
int msgfmt_uuid_norm(const char *in, char out[IDS_UUID_LEN]);

/* The millisecond timestamp of a version-7 UUID, or -1 for anything else. */
int64_t msgfmt_uuid7_ms(const char *id);

/* Writes ms as MariaDB DATETIME(3) text (UTC). */
void msgfmt_db_time(int64_t ms, char out[MSGFMT_DBTIME_LEN]);

/*
 * A history cursor: a message id (its position is (time, id)) or an ISO
 * 8601 timestamp (position time, no id). has_id tells which.
 */
struct msgfmt_cursor {
	char time[MSGFMT_DBTIME_LEN];
	char id[IDS_UUID_LEN];
	int has_id;
};

/* Parses a before/after value. 0, or -1 if it is neither form. */
int msgfmt_cursor_parse(const char *s, struct msgfmt_cursor *c);

/*
 * Full-text search. The query is split into words the way InnoDB's
 * full-text parser splits text: runs of letters, digits and '_', where
 * non-ASCII punctuation, symbols and spaces (typographic quotes, dashes,
 * ellipses, NBSP, CJK punctuation ...) and everything above U+FFFF (emoji)
 * separate words. Words shorter than 3 or longer than 84 characters
 * (InnoDB indexes neither) and InnoDB's default stopwords are dropped
 * (InnoDB ignores them, and a required stopword would match nothing);
 * ASCII is lowercased; duplicates are dropped; at most MSGFMT_MAX_TERMS
 * words are kept. boolean is the sanitised MariaDB boolean-mode
 * expression ("+word* +other*"): every word required, each a prefix, no
 * operator from the user survives.
 */
#define MSGFMT_MAX_TERMS 8
#define MSGFMT_TERM_CHARS 84 /* InnoDB's innodb_ft_max_token_size */
#define MSGFMT_TERM_MAX (3 * MSGFMT_TERM_CHARS) /* bytes: word chars are BMP */
#define MSGFMT_QUERY_MAX 200 /* characters accepted from the caller */

struct msgfmt_search {
	size_t nterms;
	char terms[MSGFMT_MAX_TERMS][MSGFMT_TERM_MAX + 1];
	char boolean[MSGFMT_MAX_TERMS * (MSGFMT_TERM_MAX + 3) + 1];
};

/* 0 with at least one term, -1 when nothing searchable is left. */
int msgfmt_search_parse(const char *query, struct msgfmt_search *out);

/*
 * Context around the first term found in content (ASCII case-insensitive,
 * at the start of a word InnoDB indexes, split as above): *match is that
 * whole word (at most 84 characters), *before and *after at most
 * MSGFMT_CONTEXT_BYTES of text on each side, cut inwards at UTF-8
 * boundaries (arena strings; valid UTF-8 in, valid UTF-8 out). matched[i]
 * is set to 1 for every term that occurs. When no term occurs literally
 * (MariaDB also folds accents), *match is "" and *after holds up to twice
 * MSGFMT_CONTEXT_BYTES of the start of the content. Returns the number of
 * terms found.
 */
#define MSGFMT_CONTEXT_BYTES 60
size_t msgfmt_snippet(struct arena *a, const char *content,
	const struct msgfmt_search *s, int matched[MSGFMT_MAX_TERMS],
	const char **before, const char **match, const char **after);

/* The first max_chars code points of s (whole string if shorter); arena. */
char *msgfmt_truncate(struct arena *a, const char *s, size_t max_chars);

#endif
