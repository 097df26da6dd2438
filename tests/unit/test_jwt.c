#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/b64url.h"
#include "core/config.h"
#include "core/jwt.h"
#include "core/timefmt.h"
#include "unit.h"

static struct config cfg;
static struct jwt_keyset ks;
static const int64_t NOW = 1750000000;

static void
claims_init(struct jwt_claims *c, int64_t iat, int64_t exp)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70");
	snprintf(c->sid, sizeof(c->sid), "0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71");
	snprintf(c->role, sizeof(c->role), "USER");
	snprintf(c->jti, sizeof(c->jti), "jti-1");
	c->iat = iat;
	c->exp = exp;
}

/* base64url(header).base64url(payload).HMAC under key (or a given signature). */
static char *
forge(const struct jwt_key *key, const char *header, const char *payload)
{
	static char out[16384];
	unsigned char sig[32];
	unsigned int n;
	size_t len;

	len = b64url_encode(header, strlen(header), out);
	out[len++] = '.';
	len += b64url_encode(payload, strlen(payload), out + len);
	HMAC(EVP_sha256(), key->secret, JWT_SECRET_LEN, (unsigned char *)out, len,
	    sig, &n);
	out[len++] = '.';
	b64url_encode(sig, 32, out + len);
	return out;
}

static const char *good_header = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";

static char *
payload(const char *extra_or_null)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":%lld,\"exp\":%lld,\"iss\":\"parley\",\"aud\":\"parley\","
	    "\"jti\":\"x\",\"typ\":\"access\"%s}", (long long)NOW,
	    (long long)NOW + 900, extra_or_null ? extra_or_null : "");
	return buf;
}

static enum jwt_result
verify(const char *tok)
{
	struct jwt_claims c;

	return jwt_verify(&ks, "parley", "parley", tok, NOW, &c);
}

static void
test_roundtrip(void)
{
	struct jwt_claims c, out;
	char tok[1024];
	int n;

	claims_init(&c, NOW, NOW + 900);
	n = jwt_sign(&ks, &cfg, &c, tok, sizeof(tok));
	CHECK(n > 0 && (size_t)n == strlen(tok));
	CHECK(jwt_verify(&ks, "parley", "parley", tok, NOW, &out) == JWT_OK);
	CHECK_STR(out.sub, c.sub);
	CHECK_STR(out.sid, c.sid);
	CHECK_STR(out.role, "USER");
	CHECK(out.exp == NOW + 900);
	/* Too small a buffer fails cleanly. */
	CHECK(jwt_sign(&ks, &cfg, &c, tok, 20) == -1);
	/* Forged by hand the same way: the test's forge() is faithful. */
	CHECK(verify(forge(&ks.keys[0], good_header, payload(NULL))) == JWT_OK);
}

/* The unverified subject hint of bridge_auth.c. */
static void
test_peek_subject(void)
{
	struct jwt_claims c;
	char tok[1024], sub[IDS_UUID_LEN];

	claims_init(&c, NOW, NOW + 900);
	CHECK(jwt_sign(&ks, &cfg, &c, tok, sizeof(tok)) > 0);
	CHECK(jwt_peek_subject(tok, sub) == 0);
	CHECK_STR(sub, c.sub);
	/* A bad signature does not matter to a hint... */
	tok[strlen(tok) - 2] ^= 1;
	CHECK(jwt_peek_subject(tok, sub) == 0);
	/* ...but anything that does not start like our payload is refused. */
	CHECK(jwt_peek_subject(NULL, sub) == -1);
	CHECK(jwt_peek_subject("", sub) == -1);
	CHECK(jwt_peek_subject("abc", sub) == -1);
	CHECK(jwt_peek_subject("abc.def.ghi", sub) == -1);
	CHECK(jwt_peek_subject("x.eyJzdWIiOiJub3QtYS11dWlkLWF0LWFsbC1qdXN0LXRleHQtaGVyZSJ9.s",
	    sub) == -1);
}

static void
test_expiry(void)
{
	struct jwt_claims c, out;
	char tok[1024];

	claims_init(&c, NOW - 1000, NOW - 10);
	jwt_sign(&ks, &cfg, &c, tok, sizeof(tok));
	CHECK(jwt_verify(&ks, "parley", "parley", tok, NOW, &out) == JWT_OK);
	CHECK(jwt_verify(&ks, "parley", "parley", tok, NOW + JWT_LEEWAY_S + 11,
	    &out) == JWT_EXPIRED);
	/* iat in the future beyond the leeway. */
	claims_init(&c, NOW + 120, NOW + 900);
	jwt_sign(&ks, &cfg, &c, tok, sizeof(tok));
	CHECK(jwt_verify(&ks, "parley", "parley", tok, NOW, &out) == JWT_INVALID);
}

static void
test_rotation(void)
{
	struct jwt_keyset rotated;
	struct jwt_claims c, out;
	char tok[1024];

	claims_init(&c, NOW, NOW + 900);
	jwt_sign(&ks, &cfg, &c, tok, sizeof(tok));
	memset(&rotated, 0, sizeof(rotated));
	jwt_key_generate(&rotated.keys[0]);
	rotated.keys[1] = ks.keys[0];
	rotated.n = 2;
	CHECK(jwt_verify(&rotated, "parley", "parley", tok, NOW, &out) == JWT_OK);
	rotated.n = 1;
	CHECK(jwt_verify(&rotated, "parley", "parley", tok, NOW, &out) ==
	    JWT_UNKNOWN_KID);
	/* Signing uses the first key. */
	jwt_sign(&rotated, &cfg, &c, tok, sizeof(tok));
	CHECK(jwt_verify(&ks, "parley", "parley", tok, NOW, &out) ==
	    JWT_UNKNOWN_KID);
}

static void
test_negative(void)
{
	const struct jwt_key *k = &ks.keys[0];
	char *t, buf[8192];
	size_t len;

	CHECK(verify("") == JWT_INVALID);
	CHECK(verify("a.b") == JWT_INVALID);
	CHECK(verify("a.b.c.d") == JWT_INVALID);
	CHECK(verify("...") == JWT_INVALID);
	CHECK(verify(NULL) == JWT_INVALID);
	/* alg none / other algs, whatever the signature. */
	CHECK(verify(forge(k, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
	    payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
	    payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, "{\"alg\":\"hs256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
	    payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, "{\"typ\":\"JWT\",\"kid\":\"k1\"}", payload(NULL))) ==
	    JWT_INVALID);
	/* Duplicate keys in header or payload. */
	CHECK(verify(forge(k, "{\"alg\":\"HS256\",\"alg\":\"none\",\"typ\":\"JWT\","
	    "\"kid\":\"k1\"}", payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, good_header, payload(",\"sub\":\"x\""))) == JWT_INVALID);
	/* crit, wrong typ, missing kid, unknown kid. */
	CHECK(verify(forge(k, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\","
	    "\"crit\":[\"b64\"]}", payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, "{\"alg\":\"HS256\",\"typ\":\"JOSE+X\",\"kid\":\"k1\"}",
	    payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload(NULL))) ==
	    JWT_INVALID);
	CHECK(verify(forge(k, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"zz\"}",
	    payload(NULL))) == JWT_UNKNOWN_KID);
	/* Not JSON objects. */
	CHECK(verify(forge(k, "[1]", payload(NULL))) == JWT_INVALID);
	CHECK(verify(forge(k, good_header, "\"s\"")) == JWT_INVALID);
	CHECK(verify(forge(k, good_header, "{")) == JWT_INVALID);
	/* Claim checks (validly signed). */
	CHECK(verify(forge(k, good_header,
	    "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":1750000000,\"iss\":\"parley\",\"aud\":\"parley\","
	    "\"jti\":\"x\",\"typ\":\"access\"}")) == JWT_INVALID); /* no exp */
	t = payload(NULL);
	{
		char p[2048];

		snprintf(p, sizeof(p), "%s", t);
		memcpy(strstr(p, "\"iss\":\"parley\"") + 7, "evil!!", 6);
		CHECK(verify(forge(k, good_header, p)) == JWT_INVALID);
		snprintf(p, sizeof(p), "%s", t);
		memcpy(strstr(p, "\"aud\":\"parley\"") + 7, "other!", 6);
		CHECK(verify(forge(k, good_header, p)) == JWT_INVALID);
		snprintf(p, sizeof(p), "%s", t);
		memcpy(strstr(p, "\"typ\":\"access\"") + 7, "refres", 6);
		CHECK(verify(forge(k, good_header, p)) == JWT_INVALID);
		snprintf(p, sizeof(p), "%s", t);
		memcpy(strstr(p, "\"role\":\"USER\"") + 8, "ROOT", 4);
		CHECK(verify(forge(k, good_header, p)) == JWT_INVALID);
		snprintf(p, sizeof(p), "%s", t);
		memcpy(strstr(p, "\"sub\":\"") + 7, "not-a-uuid", 10);
		CHECK(verify(forge(k, good_header, p)) == JWT_INVALID);
	}
	/* exp as a string or a real. */
	CHECK(verify(forge(k, good_header, "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":1750000000,\"exp\":\"1750000900\",\"iss\":\"parley\","
	    "\"aud\":\"parley\",\"jti\":\"x\",\"typ\":\"access\"}")) == JWT_INVALID);
	CHECK(verify(forge(k, good_header, "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":1750000000,\"exp\":1750000900.5,\"iss\":\"parley\","
	    "\"aud\":\"parley\",\"jti\":\"x\",\"typ\":\"access\"}")) == JWT_INVALID);
	/* nbf in the future. */
	CHECK(verify(forge(k, good_header, payload(",\"nbf\":1750009999"))) == JWT_INVALID);
	/* aud as an array containing ours is fine; without ours it is not. */
	CHECK(verify(forge(k, good_header, "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":1750000000,\"exp\":1750000900,\"iss\":\"parley\","
	    "\"aud\":[\"x\",\"parley\"],\"jti\":\"x\",\"typ\":\"access\"}")) == JWT_OK);
	CHECK(verify(forge(k, good_header, "{\"sub\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70\","
	    "\"sid\":\"0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f71\",\"role\":\"USER\","
	    "\"iat\":1750000000,\"exp\":1750000900,\"iss\":\"parley\","
	    "\"aud\":[\"x\"],\"jti\":\"x\",\"typ\":\"access\"}")) == JWT_INVALID);
	/* Tampering: a payload byte, the signature, padding, bad characters. */
	t = forge(k, good_header, payload(NULL));
	snprintf(buf, sizeof(buf), "%s", t);
	buf[strchr(buf, '.') - buf + 5] ^= 1;
	CHECK(verify(buf) == JWT_INVALID);
	snprintf(buf, sizeof(buf), "%s", t);
	buf[strlen(buf) - 2] = buf[strlen(buf) - 2] == 'A' ? 'B' : 'A';
	CHECK(verify(buf) == JWT_INVALID);
	snprintf(buf, sizeof(buf), "%s=", t);
	CHECK(verify(buf) == JWT_INVALID);
	snprintf(buf, sizeof(buf), "%s", t);
	buf[3] = '+';
	CHECK(verify(buf) == JWT_INVALID);
	snprintf(buf, sizeof(buf), "%s", t);
	*strrchr(buf, '.') = '\0';
	CHECK(verify(buf) == JWT_INVALID);
	snprintf(buf, sizeof(buf), "%s.", t);
	CHECK(verify(buf) == JWT_INVALID);
	/* Signed with another key under the same kid. */
	{
		struct jwt_key other = *k;

		other.secret[0] ^= 0xff;
		CHECK(verify(forge(&other, good_header, payload(NULL))) == JWT_INVALID);
	}
	/* Oversized: a valid signature over a 5 KB payload. */
	{
		char big[6000];

		memset(big, 'a', 5000);
		big[5000] = '\0';
		snprintf(buf, sizeof(buf), ",\"pad\":\"%s\"", big);
		CHECK(verify(forge(k, good_header, payload(buf))) == JWT_INVALID);
	}
	len = strlen(t);
	CHECK(len < JWT_MAX_LEN);
}

static void
test_keys_file(void)
{
	char dir[] = "/tmp/parley-test-keys-XXXXXX", path[64], err[512];
	struct jwt_keyset a, b;
	struct stat st, dst;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/jwt.keys", dir);
	/* As root, a group other than ours shows whose group the file takes. */
	if (geteuid() == 0)
		CHECK(chown(dir, (uid_t)-1, 1) == 0);
	memset(&a, 0, sizeof(a));
	jwt_key_generate(&a.keys[0]);
	jwt_key_generate(&a.keys[1]);
	a.n = 2;
	CHECK(jwt_keyset_save(path, &a, err, sizeof(err)) == 0);
	/* New: 0640 in the directory's group; replaced: its mode, less others'. */
	CHECK(stat(dir, &dst) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640 &&
	    st.st_gid == dst.st_gid);
	chmod(path, 0604);
	CHECK(jwt_keyset_save(path, &a, err, sizeof(err)) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	chmod(path, 0444);
	CHECK(jwt_keyset_save(path, &a, err, sizeof(err)) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0440 &&
	    st.st_gid == dst.st_gid);
	chmod(path, 0600);
	CHECK(jwt_keyset_load(path, &b, err, sizeof(err)) == 0);
	CHECK(b.n == 2);
	CHECK_STR(b.keys[0].kid, a.keys[0].kid);
	CHECK(memcmp(b.keys[1].secret, a.keys[1].secret, JWT_SECRET_LEN) == 0);
	/* A bad line is rejected without echoing it. */
	f = fopen(path, "a");
	fprintf(f, "bad line with secret-ish-text\n");
	fclose(f);
	CHECK(jwt_keyset_load(path, &b, err, sizeof(err)) == -1);
	CHECK(strstr(err, "secret-ish") == NULL);
	f = fopen(path, "w");
	fprintf(f, "# only a comment\n");
	fclose(f);
	CHECK(jwt_keyset_load(path, &b, err, sizeof(err)) == -1);
	unlink(path);
	CHECK(jwt_keyset_load(path, &b, err, sizeof(err)) == -1);
	rmdir(dir);
}

static void
bench_verify(void)
{
	struct jwt_claims c, out;
	char tok[1024];
	int64_t t0;
	int n = 100000, ok = 0;

	claims_init(&c, NOW, NOW + 900);
	jwt_sign(&ks, &cfg, &c, tok, sizeof(tok));
	t0 = timefmt_mono_us();
	for (int i = 0; i < n; i++)
		ok += jwt_verify(&ks, "parley", "parley", tok, NOW, &out) == JWT_OK;
	CHECK(ok == n);
	fprintf(stderr, "# jwt_verify: %.2f us per token\n",
	    (double)(timefmt_mono_us() - t0) / n);
}

int
main(void)
{
	config_init(&cfg);
	memset(&ks, 0, sizeof(ks));
	jwt_key_generate(&ks.keys[0]);
	snprintf(ks.keys[0].kid, sizeof(ks.keys[0].kid), "k1");
	ks.n = 1;
	RUN(test_roundtrip);
	RUN(test_peek_subject);
	RUN(test_expiry);
	RUN(test_rotation);
	RUN(test_negative);
	RUN(test_keys_file);
	RUN(bench_verify);
	config_release(&cfg);
	return unit_done();
}
