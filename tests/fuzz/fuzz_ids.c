/*
 * fuzz_ids.c - UUID validation (src/core/ids.c: ids_is_uuid) and the UUID
 * helpers built on it (src/core/msgfmt.c: msgfmt_uuid_norm, msgfmt_uuid7_ms).
 *
 * ids_is_uuid() is compared with a reference written from RFC 9562's
 * grammar; msgfmt_uuid_norm() must agree with it and give the lowercase
 * form; msgfmt_uuid7_ms() must be -1 unless the version nibble is 7, else
 * the 48-bit big-endian timestamp of the first 12 hex digits.
 */
#include <ctype.h>
#include <string.h>

#include "core/ids.h"
#include "core/msgfmt.h"
#include "fuzz_util.h"

static int
ref_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]) ||
		    !s[i])
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char norm[IDS_UUID_LEN];
	int ok = ref_uuid(s);
	int64_t ms;

	FUZZ_CHECK(ids_is_uuid(s) == ok);
	FUZZ_CHECK((msgfmt_uuid_norm(s, norm) == 0) == ok);
	if (ok) {
		for (int i = 0; i < 36; i++)
			FUZZ_CHECK(norm[i] == tolower((unsigned char)s[i]));
		FUZZ_CHECK(norm[36] == '\0' && ids_is_uuid(norm));
	}
	ms = msgfmt_uuid7_ms(s);
	if (!ok || s[14] != '7') {
		FUZZ_CHECK(ms == -1);
	} else {
		char hex[13];

		memcpy(hex, norm, 8);
		memcpy(hex + 8, norm + 9, 4);
		hex[12] = '\0';
		FUZZ_CHECK(ms == (int64_t)strtoll(hex, NULL, 16));
	}
	free(s);
	return 0;
}
