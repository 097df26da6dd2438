/*
 * jsonx.h - JSON helpers over jansson.
 *
 * Request bodies are parsed by jsonx_parse(): duplicate keys are rejected,
 * nesting is capped before jansson sees the text, and NUL bytes inside the
 * document are refused. Accessors accept a camelCase name and an optional
 * snake_case alias, because the seeds spell fields both ways.
 */
#ifndef PARLEY_JSONX_H
#define PARLEY_JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

/* obj[name], else obj[alias] (alias may be NULL). Borrowed; NULL if absent. */
json_t *jsonx_field(const json_t *obj, const char *name, const char *alias);

/* The string value of a field or NULL if absent or not a string. Borrowed. */
const char *jsonx_str(const json_t *obj, const char *name, const char *alias);

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
