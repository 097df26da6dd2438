/*
 * ids.h - identifiers: UUIDv7 and random tokens.
 *
 * UUIDv7 (RFC 9562) puts a 48-bit millisecond timestamp first, so ids sort
 * by creation time and MariaDB's UUID column indexes them well. Randomness
 * comes from OpenSSL's CSPRNG.
 */
#ifndef PARLEY_IDS_H
#define PARLEY_IDS_H

#include <stddef.h>

#define IDS_UUID_LEN 37 /* 36 chars + NUL */

/* Writes a new lowercase UUIDv7 into out. */
void ids_uuid7(char out[IDS_UUID_LEN]);
/* 1 if s is a canonical 36-char UUID (any version, either case). */
int ids_is_uuid(const char *s);
/* Fills buf with n cryptographically random bytes; aborts if the CSPRNG fails. */
void ids_random(void *buf, size_t n);
/*
 * Writes n random bytes as base64url (no padding) into out, which must hold
 * 4 * ((n + 2) / 3) + 1 bytes. Used for refresh tokens and invite codes.
 */
void ids_token(char *out, size_t n);

#endif
