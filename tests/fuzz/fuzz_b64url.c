/*
 * fuzz_b64url.c - b64url_decode() and b64url_encode() (src/core/b64url.c).
 *
 * Decodes the input as text into a buffer of exactly the documented size
 * (len * 3 / 4 + 1, heap, so ASan sees its end) and checks that anything
 * accepted encodes back to the very same text (the decoder claims to
 * accept only canonical, unpadded base64url). Then encodes the input as
 * bytes and checks the text decodes back to them.
 */
#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "fuzz_util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *bin = malloc(size * 3 / 4 + 1);
	char *text = malloc(B64URL_ENCLEN(size));
	unsigned char *back = malloc(size + 1);
	long n;
	size_t len;

	if (!bin || !text || !back)
		abort();
	n = b64url_decode((const char *)data, size, bin);
	if (n >= 0) {
		char *again = malloc(B64URL_ENCLEN((size_t)n));

		FUZZ_CHECK((size_t)n <= size * 3 / 4);
		len = b64url_encode(bin, (size_t)n, again);
		FUZZ_CHECK(len == size && memcmp(again, data, size) == 0);
		free(again);
	}

	len = b64url_encode(data, size, text);
	FUZZ_CHECK(len + 1 <= B64URL_ENCLEN(size) && strlen(text) == len);
	n = b64url_decode(text, len, back);
	FUZZ_CHECK(n == (long)size && memcmp(back, data, size) == 0);

	free(back);
	free(text);
	free(bin);
	return 0;
}
