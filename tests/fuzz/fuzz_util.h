/*
 * fuzz_util.h - what the harnesses share: a reference UTF-8 check written
 * independently of msgfmt.c, input splitting, and a loud assertion.
 *
 * Client input is never assert()ed in Parley; here FUZZ_CHECK states a
 * property of the code under test, and a failure aborts so libFuzzer keeps
 * the input.
 */
#ifndef PARLEY_FUZZ_UTIL_H
#define PARLEY_FUZZ_UTIL_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* A NUL-terminated heap copy of data (ASan sees its exact end). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Cuts data at the first n - 1 '\n' bytes into n NUL-terminated heap
 * strings (missing parts are ""); each must be freed.
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, char **parts, int n)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *nl = i < n - 1 ? memchr(data, '\n', size) : NULL;
		size_t len = nl ? (size_t)(nl - data) : size;

		parts[i] = fuzz_strndup(data, len);
		data += nl ? len + 1 : len;
		size -= nl ? len + 1 : len;
	}
}

/* RFC 3629 well-formed UTF-8 (no NUL allowed when nul_ok is 0). */
static inline int
fuzz_utf8_ok(const char *str, size_t len, int nul_ok)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need, cp, min;

		if (c == 0 && !nul_ok)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (len - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* 1 if s is a UUID in lowercase (the form Parley stores and returns). */
static inline int
fuzz_lower_uuid(const char *s)
{
	if (!ids_is_uuid(s))
		return 0;
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return 0;
	return 1;
}

/* Code points in s, valid UTF-8 assumed (continuation bytes not counted). */
static inline long
fuzz_chars(const char *s)
{
	long n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* 1 if text[0..len) is one JSON value (any type) that jansson accepts. */
static inline int
fuzz_json_ok(const char *text, size_t len)
{
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);

	json_decref(v);
	return v != NULL;
}

#endif
