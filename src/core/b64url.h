/*
 * b64url.h - base64url (RFC 4648 §5) without padding, as JWTs use it.
 */
#ifndef PARLEY_B64URL_H
#define PARLEY_B64URL_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the NUL. */
#define B64URL_ENCLEN(n) (4 * (((n) + 2) / 3) + 1)

/* Encodes n bytes of in into out (B64URL_ENCLEN(n) bytes); returns the length. */
size_t b64url_encode(const void *in, size_t n, char *out);
/*
 * Decodes len chars of in into out (at least len * 3 / 4 + 1 bytes).
 * Rejects padding, characters outside the alphabet and impossible lengths.
 * Returns the decoded length, or -1.
 */
long b64url_decode(const char *in, size_t len, unsigned char *out);

#endif
