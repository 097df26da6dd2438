/*
 * jsonx.h - JSON helpers over jansson.
 *
 * Request bodies are parsed by jsonx_parse(): duplicate keys are rejected,
 * nesting is capped before jansson sees the text, and NUL bytes inside the
 * document are refused. jsonx_field() reads a field under each of its
 * spellings (camelCase, the seeds' snake_case and others), refusing a body
 * whose spellings disagree.
 */
#ifndef PARLEY_JSONX_H
#define PARLEY_JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct arena;

#define JSONX_MAX_DEPTH 32

/*
 * Parses len bytes into *out (new reference). Returns 0, or -1 with a short
 * client-safe reason in err (e.g. "duplicate key 'a'", "nesting deeper
 * than 32").
 */
int jsonx_parse(const char *buf, size_t len, int max_depth, json_t **out,
	char *err, size_t errlen);

/* Deepest nesting of [ and { in buf (strings skipped); -1 if it exceeds cap. */
int jsonx_depth(const char *buf, size_t len, int cap);

/* A NULL-terminated list of one field's spellings, camelCase first. */
#define JSONX_NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/*
 * The field the seeds spell several ways (names, e.g.
 * JSONX_NAMES("title", "name")): *out is the value of the first spelling
 * present in obj (borrowed), NULL if none is or obj is not an object.
 * Every other spelling present must carry an equal value (json_equal):
 * a body saying two things at once - a wrong type under one spelling
 * included - returns -1 with *out NULL and *bad naming the later
 * spelling (borrowed from names); the caller answers 400 naming *bad,
 * with jsonx_disagree()'s text. 0 otherwise.
 */
int jsonx_field(const json_t *obj, const char *const *names, json_t **out,
	const char **bad);

/*
 * The 400's message for jsonx_field()'s -1 on obj: "name and title
 * disagree: send one of them". Arena memory.
 */
const char *jsonx_disagree(struct arena *a, const json_t *obj,
	const char *const *names, const char *bad);
/*
 * The same text into buf, for callers without an arena (the bridge's
 * loop); spellings are short names, so it is never cut. Returns buf.
 */
#define JSONX_DISAGREE_MAX 160
char *jsonx_disagree_buf(char buf[JSONX_DISAGREE_MAX], const json_t *obj,
	const char *const *names, const char *bad);

/* obj[name]'s string value; NULL if absent or not a string. Borrowed. */
const char *jsonx_str(const json_t *obj, const char *name);

/*
 * The string field spelled names (jsonx_field()), or NULL if absent, not
 * a string, or spelled twice with different values: for callers that
 * answer all three alike. Borrowed.
 */
const char *jsonx_str_of(const json_t *obj, const char *const *names);

/*
 * Checks that v is an array of at most max canonical UUID strings.
 * 0 if so, -1 if v is not an array or is too long, -2 if an element is
 * not a UUID string.
 */
int jsonx_uuid_array(const json_t *v, size_t max);

/* Sets obj[key] to a string, or to null when s is NULL. */
void jsonx_set_str(json_t *obj, const char *key, const char *s);
/* Sets obj[key] to an ISO timestamp from a DB DATETIME(3) string or null. */
void jsonx_set_time(json_t *obj, const char *key, const char *db_time);

#endif
