/*
 * jwt.h - access tokens: JWT HS256 signing and verification, and the keys.
 *
 * Tokens are "header.payload.signature" (RFC 7519) with the header
 * {"alg":"HS256","typ":"JWT","kid":K} and the claims sub (user id), sid
 * (session id), role, iat, exp, iss, aud, jti and typ "access". Only HS256
 * is accepted, whatever a header says; the signature is HMAC-SHA256 under
 * the key named by kid, compared in constant time (CRYPTO_memcmp).
 * Verification rejects, as JWT_INVALID: more or fewer than three segments,
 * non-base64url text, JSON that is not an object or repeats a key, any alg
 * but "HS256", a typ other than "JWT", a "crit" header, an unknown kid, a
 * bad signature, wrong iss / aud / typ claims, missing or non-integer
 * exp / iat, iat or nbf in the future, malformed sub / sid / role / jti, and
 * tokens longer than JWT_MAX_LEN. A well-signed token past exp (plus
 * JWT_LEEWAY_S) is JWT_EXPIRED. Nothing here allocates on the heap except
 * jansson's parse of the two small JSON segments.
 *
 * The keys file ([auth] keys_file) holds one key per line, "KID SECRET",
 * SECRET being 32 random bytes in base64url; '#' starts a comment. The first
 * key signs; the others (previous keys after `parleyctl keys rotate`) still
 * verify, so tokens signed before a rotation stay valid until they expire.
 * jwt_keys() loads the file once per process and looks at its mtime again
 * at most every JWT_RELOAD_S seconds (or at once, at most once a second,
 * when a token names an unknown kid), so a rotation reaches running
 * workers without a restart.
 */
#ifndef PARLEY_JWT_H
#define PARLEY_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"

struct config;

#define JWT_MAX_LEN 4096     /* longest token accepted */
#define JWT_LEEWAY_S 30      /* clock skew tolerated on exp, iat, nbf */
#define JWT_MAX_KEYS 8       /* keys kept in a keys file */
#define JWT_KID_MAX 32       /* kid: 1..32 of [A-Za-z0-9_-] */
#define JWT_SECRET_LEN 32    /* 256-bit HMAC keys */
#define JWT_RELOAD_S 2

struct jwt_key {
	char kid[JWT_KID_MAX + 1];
	unsigned char secret[JWT_SECRET_LEN];
};

/* Keys in file order: keys[0] signs, all verify. */
struct jwt_keyset {
	int n;
	struct jwt_key keys[JWT_MAX_KEYS];
};

struct jwt_claims {
	char sub[IDS_UUID_LEN];  /* user id */
	char sid[IDS_UUID_LEN];  /* session id */
	char role[8];            /* "USER" or "ADMIN" */
	char jti[48];
	int64_t iat, exp;        /* seconds since the epoch */
};

enum jwt_result {
	JWT_OK,
	JWT_INVALID,     /* malformed, forged, wrong issuer/audience/type ... */
	JWT_EXPIRED,     /* well signed but past exp */
	JWT_UNKNOWN_KID, /* well formed, names a key this keyset lacks */
};

/*
 * Parses a keys file into *ks. 0, or -1 with a message in err (missing
 * file, bad line, no key). Never logs secrets.
 */
int jwt_keyset_load(const char *path, struct jwt_keyset *ks, char *err,
	size_t errlen);

/*
 * Writes ks to path atomically (temporary file + rename). A replaced file
 * keeps its owner, group and mode (less any bits for others); a new one is
 * 0640 with the group of its directory. Where the caller may not set that
 * owner or group, the file is 0600. 0, or -1 with a message in err.
 */
int jwt_keyset_save(const char *path, const struct jwt_keyset *ks, char *err,
	size_t errlen);

/* Fills k with a fresh random secret and a kid made of the date and random hex. */
void jwt_key_generate(struct jwt_key *k);

/*
 * The process-wide keyset for cfg->keys_file (borrowed; stays valid for the
 * life of the process), or NULL if the file cannot be loaded (logged once
 * per reload attempt). force asks for an mtime check now (rate-limited to
 * once a second): callers pass 1 after JWT_UNKNOWN_KID.
 */
const struct jwt_keyset *jwt_keys(const struct config *cfg, int force);

/*
 * Signs claims c (iss/aud from cfg) with ks->keys[0] into out. Returns the
 * token length, or -1 if out (cap bytes) is too small or ks is empty.
 */
int jwt_sign(const struct jwt_keyset *ks, const struct config *cfg,
	const struct jwt_claims *c, char *out, size_t cap);

/*
 * The subject of a token Parley issued (its payload starts {"sub":"UUID"),
 * WITHOUT verifying anything: a hint for caches, never an identity. 0, or
 * -1 if token does not start that way.
 */
int jwt_peek_subject(const char *token, char out[IDS_UUID_LEN]);

/*
 * Verifies token at time now (seconds) against ks, issuer and audience.
 * On JWT_OK *out holds the claims; otherwise *out is unspecified.
 */
enum jwt_result jwt_verify(const struct jwt_keyset *ks, const char *issuer,
	const char *audience, const char *token, int64_t now,
	struct jwt_claims *out);

#endif
