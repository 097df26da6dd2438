#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "b64url.h"
#include "ids.h"
#include "timefmt.h"
#include "banned.h"

void
ids_random(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1) {
		fprintf(stderr, "parley: CSPRNG failure\n");
		abort();
	}
}

void
ids_uuid7(char out[IDS_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t ms = (uint64_t)timefmt_now_ms();
	int j = 0;

	ids_random(b + 6, 10);
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 0xf];
	}
	out[j] = '\0';
}

int
ids_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return s[36] == '\0';
}

void
ids_token(char *out, size_t n)
{
	unsigned char buf[64];

	if (n > sizeof(buf))
		abort();
	ids_random(buf, n);
	b64url_encode(buf, n, out);
}
