/*
 * fuzz_jwt.c - access token verification (src/core/jwt.c) with a fixed
 * keyset (kids "k1", "k2"), issuer and audience, at a fixed "now".
 *
 * The first input byte picks a mode:
 *   0  the rest is a token: jwt_verify() and jwt_peek_subject().
 *   1  the rest is "HEADER\nPAYLOAD": the harness base64url-encodes both and
 *      signs them with k1 (OpenSSL's HMAC, not Parley's), so the header and
 *      claim checks behind the signature run on fuzzed JSON.
 *   2  the rest is "SUB\nSID\nROLE\nJTI\nIAT\nEXP": jwt_sign() then
 *      jwt_verify() must round-trip whenever the claims are valid.
 * Whatever the mode, a token accepted as JWT_OK carries lowercase UUIDs in
 * sub and sid, role USER or ADMIN, a jti, and a live iat..exp window; and a
 * subject that jwt_peek_subject() reports is a UUID spelt in the payload.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/b64url.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/jwt.h"
#include "fuzz_util.h"

#define NOW 1700000000LL
#define ISSUER "parley"
#define AUDIENCE "parley-api"

static struct jwt_keyset ks;
static struct config cfg;

static void
setup(void)
{
	if (ks.n)
		return;
	ks.n = 2;
	memcpy(ks.keys[0].kid, "k1", 3);
	memcpy(ks.keys[1].kid, "k2", 3);
	for (int i = 0; i < JWT_SECRET_LEN; i++) {
		ks.keys[0].secret[i] = (unsigned char)(i + 1);
		ks.keys[1].secret[i] = (unsigned char)(0xa0 ^ i);
	}
	cfg.jwt_issuer = (char *)ISSUER;
	cfg.jwt_audience = (char *)AUDIENCE;
}

static void
check_ok(enum jwt_result r, const struct jwt_claims *c)
{
	if (r != JWT_OK)
		return;
	FUZZ_CHECK(fuzz_lower_uuid(c->sub) && fuzz_lower_uuid(c->sid));
	FUZZ_CHECK(strcmp(c->role, "USER") == 0 || strcmp(c->role, "ADMIN") == 0);
	FUZZ_CHECK(c->jti[0] && strlen(c->jti) < sizeof(c->jti));
	FUZZ_CHECK(c->iat >= 0 && c->iat <= NOW + JWT_LEEWAY_S);
	FUZZ_CHECK(c->exp >= c->iat && NOW <= c->exp + JWT_LEEWAY_S);
}

static void
check_peek(const char *token)
{
	char sub[IDS_UUID_LEN], *dec;
	const char *dot = strchr(token, '.');
	long n;

	if (jwt_peek_subject(token, sub) == -1)
		return;
	FUZZ_CHECK(dot && ids_is_uuid(sub));
	dec = malloc(strlen(dot) + 1);
	n = b64url_decode(dot + 1, 60, (unsigned char *)dec);
	FUZZ_CHECK(n == 45 && memcmp(dec, "{\"sub\":\"", 8) == 0 &&
	    memcmp(dec + 8, sub, 36) == 0);
	free(dec);
}

static void
verify(const char *token)
{
	struct jwt_claims c;
	enum jwt_result r;

	r = jwt_verify(&ks, ISSUER, AUDIENCE, token, NOW, &c);
	check_ok(r, &c);
	check_peek(token);
}

/* "b64(header).b64(payload).b64(HMAC-SHA256 under k1)" in a new string. */
static char *
sign_raw(const char *h, size_t hlen, const char *p, size_t plen)
{
	char *t = malloc(B64URL_ENCLEN(hlen) + B64URL_ENCLEN(plen) + 48);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;
	size_t n;

	n = b64url_encode(h, hlen, t);
	t[n++] = '.';
	n += b64url_encode(p, plen, t + n);
	if (!HMAC(EVP_sha256(), ks.keys[0].secret, JWT_SECRET_LEN,
	    (unsigned char *)t, n, mac, &mlen))
		abort();
	t[n++] = '.';
	b64url_encode(mac, mlen, t + n);
	return t;
}

static void
mode_signed(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	char *t;

	t = sign_raw((const char *)data, hlen, nl ? (const char *)nl + 1 : "",
	    nl ? size - hlen - 1 : 0);
	verify(t);
	free(t);
}

static void
mode_roundtrip(const uint8_t *data, size_t size)
{
	char *p[6], token[JWT_MAX_LEN + 1], sub[IDS_UUID_LEN];
	struct jwt_claims in, out;
	enum jwt_result r;
	int len, valid;

	fuzz_split(data, size, p, 6);
	memset(&in, 0, sizeof(in));
	snprintf(in.sub, sizeof(in.sub), "%s", p[0]);
	snprintf(in.sid, sizeof(in.sid), "%s", p[1]);
	snprintf(in.role, sizeof(in.role), "%s", p[2]);
	snprintf(in.jti, sizeof(in.jti), "%s", p[3]);
	in.iat = strtoll(p[4], NULL, 10);
	in.exp = strtoll(p[5], NULL, 10);
	len = jwt_sign(&ks, &cfg, &in, token, sizeof(token));
	if (len > 0) {
		FUZZ_CHECK((size_t)len == strlen(token));
		r = jwt_verify(&ks, ISSUER, AUDIENCE, token, NOW, &out);
		check_ok(r, &out);
		check_peek(token);
		valid = fuzz_lower_uuid(in.sub) && fuzz_lower_uuid(in.sid) && in.jti[0] &&
		    (strcmp(in.role, "USER") == 0 || strcmp(in.role, "ADMIN") == 0) &&
		    in.iat >= 0 && in.iat <= NOW && in.exp >= NOW + JWT_LEEWAY_S &&
		    in.exp < (1LL << 40) && fuzz_utf8_ok(in.jti, strlen(in.jti), 0);
		if (valid) {
			FUZZ_CHECK(r == JWT_OK);
			FUZZ_CHECK(strcmp(in.sub, out.sub) == 0 &&
			    strcmp(in.sid, out.sid) == 0 &&
			    strcmp(in.role, out.role) == 0 &&
			    strcmp(in.jti, out.jti) == 0 && in.iat == out.iat &&
			    in.exp == out.exp);
			FUZZ_CHECK(jwt_peek_subject(token, sub) == 0 &&
			    strcmp(sub, in.sub) == 0);
		}
	}
	for (int i = 0; i < 6; i++)
		free(p[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	setup();
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		s = fuzz_strndup(data + 1, size - 1);
		verify(s);
		free(s);
		break;
	case 1:
		mode_signed(data + 1, size - 1);
		break;
	case 2:
		mode_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
