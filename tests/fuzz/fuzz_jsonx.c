/*
 * fuzz_jsonx.c - request body parsing and JSON helpers (src/core/jsonx.c).
 *
 * jsonx_parse() on the raw bytes, with the depth caps the API (32) and the
 * bridge (16) use and with their error buffer sizes. Checks: a parsed body
 * holds no NUL byte and nests no deeper than the cap, and jsonx_depth()
 * never under-counts it; a refusal leaves a NUL-terminated reason that is
 * valid UTF-8, because it is sent to the client inside JSON (reply.c) and
 * WebSocket text frames (bridge_protocol.c). Also: jsonx_uuid_array()
 * against a reference, jsonx_set_str() round-trips any valid UTF-8 text,
 * and jsonx_set_time() gives null or a 24-character timestamp.
 */
#include <string.h>

#include "core/ids.h"
#include "core/jsonx.h"
#include "fuzz_util.h"

static int
tree_depth(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	int max = 0, d;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
			if ((d = tree_depth(x)) > max)
				max = d;
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if ((d = tree_depth(x)) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

static int
ref_uuid_array(const json_t *v, size_t max)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v) || json_array_size(v) > max)
		return -1;
	json_array_foreach(v, i, x)
		if (!json_is_string(x) || strlen(json_string_value(x)) != 36 ||
		    !ids_is_uuid(json_string_value(x)))
			return -2;
	return 0;
}

static void
parse_one(const char *buf, size_t len, int cap, size_t errlen)
{
	char err[256];
	json_t *v = NULL;
	int d;

	memset(err, 'X', sizeof(err));
	if (jsonx_parse(buf, len, cap, &v, err, errlen) == 0) {
		FUZZ_CHECK(v && !memchr(buf, '\0', len));
		FUZZ_CHECK(tree_depth(v) <= cap);
		d = jsonx_depth(buf, len, 1000);
		FUZZ_CHECK(d >= tree_depth(v));
		FUZZ_CHECK(jsonx_uuid_array(v, 4) == ref_uuid_array(v, 4));
		json_decref(v);
		return;
	}
	FUZZ_CHECK(v == NULL);
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(fuzz_utf8_ok(err, strlen(err), 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1), *s, *dump;
	json_t *obj, *back;

	memcpy(buf, data, size);
	parse_one(buf, size, JSONX_MAX_DEPTH, 200);
	parse_one(buf, size, 16, 128);

	s = fuzz_strndup(data, size);
	obj = json_object();
	jsonx_set_str(obj, "k", s);
	if (fuzz_utf8_ok(s, strlen(s), 0)) {
		dump = json_dumps(obj, JSON_COMPACT);
		FUZZ_CHECK(dump);
		back = json_loads(dump, 0, NULL);
		FUZZ_CHECK(back && strcmp(jsonx_str(back, "k"), s) == 0);
		json_decref(back);
		free(dump);
	}
	jsonx_set_time(obj, "t", s);
	FUZZ_CHECK(json_is_null(json_object_get(obj, "t")) ||
	    strlen(jsonx_str(obj, "t")) == 24);
	json_decref(obj);
	free(s);
	free(buf);
	return 0;
}
