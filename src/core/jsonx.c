#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "ids.h"
#include "jsonx.h"
#include "timefmt.h"
#include "banned.h"

int
jsonx_depth(const char *buf, size_t len, int cap)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > cap)
				return -1;
			if (depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

/*
 * jansson quotes the bytes near a syntax error, cut anywhere: replaced
 * here, the reason stays valid UTF-8 for the JSON and WebSocket text
 * frames that carry it back to the client, at any errlen.
 */
static void
ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

int
jsonx_parse(const char *buf, size_t len, int max_depth, json_t **out,
	char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "request body is empty");
		return -1;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "request body contains a NUL byte");
		return -1;
	}
	if (jsonx_depth(buf, len, max_depth) < 0) {
		snprintf(err, errlen, "JSON nesting deeper than %d", max_depth);
		return -1;
	}
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		ascii_only(je.text);
		if (strstr(je.text, "duplicate"))
			snprintf(err, errlen, "malformed JSON: %s", je.text);
		else
			snprintf(err, errlen,
			    "malformed JSON at line %d column %d: %s", je.line,
			    je.column, je.text);
		return -1;
	}
	*out = v;
	return 0;
}

int
jsonx_field(const json_t *obj, const char *const *names, json_t **out,
	const char **bad)
{
	*out = NULL;
	for (; json_is_object(obj) && *names; names++) {
		json_t *v = json_object_get(obj, *names);

		if (!v)
			continue;
		if (*out && !json_equal(*out, v)) {
			*out = NULL;
			*bad = *names;
			return -1;
		}
		if (!*out)
			*out = v;
	}
	return 0;
}

char *
jsonx_disagree_buf(char buf[JSONX_DISAGREE_MAX], const json_t *obj,
	const char *const *names, const char *bad)
{
	const char *first = names[0];

	for (; *names; names++)
		if (json_object_get(obj, *names)) {
			first = *names;
			break;
		}
	snprintf(buf, JSONX_DISAGREE_MAX, "%s and %s disagree: send one of them",
	    first, bad);
	return buf;
}

const char *
jsonx_disagree(struct arena *a, const json_t *obj, const char *const *names,
	const char *bad)
{
	char buf[JSONX_DISAGREE_MAX];

	return arena_strdup(a, jsonx_disagree_buf(buf, obj, names, bad));
}

const char *
jsonx_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

const char *
jsonx_str_of(const json_t *obj, const char *const *names)
{
	const char *bad;
	json_t *v;

	return jsonx_field(obj, names, &v, &bad) == 0 ?
	    json_string_value(v) : NULL;
}

void
jsonx_set_str(json_t *obj, const char *key, const char *s)
{
	json_object_set_new(obj, key, s ? json_string(s) : json_null());
}

void
jsonx_set_time(json_t *obj, const char *key, const char *db_time)
{
	char iso[TIMEFMT_LEN];

	if (db_time && timefmt_from_db(db_time, iso) == 0)
		json_object_set_new(obj, key, json_string(iso));
	else
		json_object_set_new(obj, key, json_null());
}

int
jsonx_uuid_array(const json_t *v, size_t max)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v) || json_array_size(v) > max)
		return -1;
	json_array_foreach(v, i, x)
		if (!json_is_string(x) || !ids_is_uuid(json_string_value(x)))
			return -2;
	return 0;
}
