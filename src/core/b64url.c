#include <stdint.h>

#include "b64url.h"
#include "banned.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64url_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, j = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
		out[j++] = alphabet[(v >> 6) & 63];
		out[j++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
		out[j++] = alphabet[(v >> 6) & 63];
	}
	out[j] = '\0';
	return j;
}

static int
value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
b64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long j = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = value_of(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[j++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, else the encoding is not canonical. */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return j;
}
