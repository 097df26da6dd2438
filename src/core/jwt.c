#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "config.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "xalloc.h"
#include "banned.h"

#define SIG_LEN 32
#define SIG_B64_LEN 43
/* Longest header or payload JSON we decode (the whole token is capped anyway). */
#define SEG_MAX 3072

/* ------------------------------------------------------------ keys file */

static int
kid_valid(const char *s, size_t len)
{
	if (len == 0 || len > JWT_KID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
jwt_keyset_load(const char *path, struct jwt_keyset *ks, char *err,
	size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int lineno = 0;

	memset(ks, 0, sizeof(*ks));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		size_t klen, slen;
		char *sec;
		unsigned char buf[64];

		lineno++;
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		klen = strcspn(p, " \t");
		sec = p + klen + strspn(p + klen, " \t");
		slen = strcspn(sec, " \t");
		if (!kid_valid(p, klen) || slen != SIG_B64_LEN ||
		    sec[slen + strspn(sec + slen, " \t")] != '\0' ||
		    b64url_decode(sec, slen, buf) != JWT_SECRET_LEN) {
			/* The message names the line, never its content. */
			snprintf(err, errlen,
			    "%s:%d: expected \"KID SECRET\" (KID 1-%d of "
			    "[A-Za-z0-9_-], SECRET 32 bytes base64url)", path,
			    lineno, JWT_KID_MAX);
			fclose(f);
			return -1;
		}
		if (ks->n == JWT_MAX_KEYS)
			continue; /* older keys beyond the cap are ignored */
		for (int i = 0; i < ks->n; i++)
			if (strlen(ks->keys[i].kid) == klen &&
			    memcmp(ks->keys[i].kid, p, klen) == 0) {
				snprintf(err, errlen, "%s:%d: duplicate kid", path,
				    lineno);
				fclose(f);
				return -1;
			}
		memcpy(ks->keys[ks->n].kid, p, klen);
		ks->keys[ks->n].kid[klen] = '\0';
		memcpy(ks->keys[ks->n].secret, buf, JWT_SECRET_LEN);
		ks->n++;
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (ks->n == 0) {
		snprintf(err, errlen, "%s: no keys (run parleyctl keys init)", path);
		return -1;
	}
	return 0;
}

/*
 * The owner, group and mode a keys file written to path gets. A run as
 * root must leave it readable by the workers (etc/parley.tmpfiles: root,
 * group parley, 0640): a replaced file keeps its owner, group and mode; a
 * new one gets the group of its directory and 0640. Never any bits for
 * others.
 */
static void
keys_file_owner(const char *path, uid_t *uid, gid_t *gid, mode_t *mode)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct stat st;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	*mode = 0600;
	if (stat(path, &st) == 0) {
		*uid = st.st_uid;
		*gid = st.st_gid;
		*mode = st.st_mode & 0640;
		return;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s",
		    slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) == 0) {
		*gid = st.st_gid;
		*mode = 0640;
	}
}

int
jwt_keyset_save(const char *path, const struct jwt_keyset *ks, char *err,
	size_t errlen)
{
	char tmp[4096];
	FILE *f;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	keys_file_owner(path, &uid, &gid, &mode);
	/*
	 * Without the right to give the file that owner or group, the group
	 * we are left with is not one we chose: it gets nothing.
	 */
	if (fchown(fd, uid, gid) != 0) {
		if (errno != EPERM)
			goto fail;
		mode &= 0600;
	}
	if (fchmod(fd, mode) != 0)
		goto fail;
	fprintf(f, "# Parley JWT signing keys (parleyctl keys init / rotate).\n"
	    "# One \"KID SECRET\" per line; the first signs, all verify.\n");
	for (int i = 0; i < ks->n; i++) {
		char b64[B64URL_ENCLEN(JWT_SECRET_LEN)];

		b64url_encode(ks->keys[i].secret, JWT_SECRET_LEN, b64);
		fprintf(f, "%s %s\n", ks->keys[i].kid, b64);
		OPENSSL_cleanse(b64, sizeof(b64));
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;

fail:
	snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	fclose(f);
	unlink(tmp);
	return -1;
}

void
jwt_key_generate(struct jwt_key *k)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[3];
	struct tm tm;
	time_t now = time(NULL);
	size_t n;

	ids_random(k->secret, JWT_SECRET_LEN);
	ids_random(r, sizeof(r));
	gmtime_r(&now, &tm);
	n = strftime(k->kid, sizeof(k->kid), "%Y%m%d-", &tm);
	for (size_t i = 0; i < sizeof(r) && n + 2 < sizeof(k->kid); i++) {
		k->kid[n++] = hex[r[i] >> 4];
		k->kid[n++] = hex[r[i] & 0xf];
	}
	k->kid[n] = '\0';
}

/* ------------------------------------------------- process-wide keyset */

/*
 * Readers take the current pointer without a lock. A reload publishes a
 * new keyset and leaves the old one allocated, because a reader may still
 * hold it; rotations are rare, so this costs a few hundred bytes each.
 */
static struct jwt_keyset *keys_current;
static struct retired_keyset {   /* the old ones, still reachable */
	struct jwt_keyset *ks;
	struct retired_keyset *next;
} *keys_retired;
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t keys_checked_at;   /* monotonic seconds, atomic */
static int64_t keys_forced_at;
static struct timespec keys_mtime;
static ino_t keys_ino;
static off_t keys_size;

static int64_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Called with keys_lock held. */
static void
keys_refresh(const struct config *cfg)
{
	struct stat st;
	struct jwt_keyset *ks;
	char err[512];

	if (stat(cfg->keys_file, &st) != 0) {
		if (!keys_current)
			log_error("jwt: %s: %s", cfg->keys_file, strerror(errno));
		return;
	}
	if (keys_current && st.st_ino == keys_ino && st.st_size == keys_size &&
	    st.st_mtim.tv_sec == keys_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == keys_mtime.tv_nsec)
		return;
	ks = xmalloc(sizeof(*ks));
	if (jwt_keyset_load(cfg->keys_file, ks, err, sizeof(err)) == -1) {
		log_error("jwt: %s", err);
		OPENSSL_cleanse(ks, sizeof(*ks));
		free(ks);
		return;
	}
	keys_ino = st.st_ino;
	keys_size = st.st_size;
	keys_mtime = st.st_mtim;
	if (keys_current) {
		struct retired_keyset *r = xmalloc(sizeof(*r));

		r->ks = keys_current;
		r->next = keys_retired;
		keys_retired = r;
		log_info("jwt: reloaded %s (%d keys, signing with %s)",
		    cfg->keys_file, ks->n, ks->keys[0].kid);
	}
	__atomic_store_n(&keys_current, ks, __ATOMIC_RELEASE);
}

const struct jwt_keyset *
jwt_keys(const struct config *cfg, int force)
{
	int64_t now = mono_s();
	struct jwt_keyset *ks = __atomic_load_n(&keys_current, __ATOMIC_ACQUIRE);
	int64_t checked = __atomic_load_n(&keys_checked_at, __ATOMIC_RELAXED);

	if (ks && !force && now - checked < JWT_RELOAD_S)
		return ks;
	pthread_mutex_lock(&keys_lock);
	if (force) {
		if (keys_forced_at != now || !keys_current) {
			keys_forced_at = now;
			keys_refresh(cfg);
		}
	} else if (!keys_current || now - keys_checked_at >= JWT_RELOAD_S) {
		keys_refresh(cfg);
	}
	__atomic_store_n(&keys_checked_at, now, __ATOMIC_RELAXED);
	ks = keys_current;
	pthread_mutex_unlock(&keys_lock);
	return ks;
}

/* ------------------------------------------------------------- signing */

/*
 * HMAC-SHA256 (RFC 2104) from SHA-256 states precomputed per key and
 * thread: OpenSSL 3's one-shot HMAC() fetches the algorithm under a lock
 * on every call, which costs more than the hash itself on this hot path.
 * Each thread keeps the keyed inner and outer states of its last few keys.
 */
#define HMAC_SLOTS 4
#define SHA_BLOCK 64

struct hmac_slot {
	int used;
	unsigned char secret[JWT_SECRET_LEN];
	EVP_MD_CTX *inner, *outer;
};

static __thread struct hmac_slot hmac_slots[HMAC_SLOTS];
static __thread EVP_MD_CTX *hmac_work;
static __thread unsigned hmac_next;
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t hmac_key; /* its destructor frees a thread's states */

/* At the exit of a thread that signed or verified: its OpenSSL states. */
static void
hmac_thread_exit(void *unused)
{
	(void)unused;
	for (int i = 0; i < HMAC_SLOTS; i++) {
		EVP_MD_CTX_free(hmac_slots[i].inner);
		EVP_MD_CTX_free(hmac_slots[i].outer);
		OPENSSL_cleanse(hmac_slots[i].secret, JWT_SECRET_LEN);
		memset(&hmac_slots[i], 0, sizeof(hmac_slots[i]));
	}
	EVP_MD_CTX_free(hmac_work);
	hmac_work = NULL;
}

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&hmac_key, hmac_thread_exit) != 0)
		log_warn("jwt: no thread-exit hook; HMAC states outlive threads");
}

static int
keyed_state(EVP_MD_CTX *ctx, const unsigned char *secret, unsigned char padbyte)
{
	unsigned char pad[SHA_BLOCK];
	int ok;

	memset(pad, padbyte, sizeof(pad));
	for (int i = 0; i < JWT_SECRET_LEN; i++)
		pad[i] ^= secret[i];
	ok = EVP_DigestInit_ex(ctx, sha256_md, NULL) &&
	    EVP_DigestUpdate(ctx, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok ? 0 : -1;
}

static struct hmac_slot *
hmac_slot(const unsigned char secret[JWT_SECRET_LEN])
{
	struct hmac_slot *s;

	for (int i = 0; i < HMAC_SLOTS; i++)
		if (hmac_slots[i].used &&
		    CRYPTO_memcmp(hmac_slots[i].secret, secret, JWT_SECRET_LEN) == 0)
			return &hmac_slots[i];
	s = &hmac_slots[hmac_next++ % HMAC_SLOTS];
	s->used = 0;
	if (!s->inner)
		s->inner = EVP_MD_CTX_new();
	if (!s->outer)
		s->outer = EVP_MD_CTX_new();
	if (!s->inner || !s->outer || keyed_state(s->inner, secret, 0x36) == -1 ||
	    keyed_state(s->outer, secret, 0x5c) == -1)
		return NULL;
	memcpy(s->secret, secret, JWT_SECRET_LEN);
	s->used = 1;
	return s;
}

static int
hmac256(const unsigned char key[JWT_SECRET_LEN], const char *data, size_t len,
	unsigned char out[SIG_LEN])
{
	unsigned char inner[SIG_LEN];
	struct hmac_slot *s;
	unsigned int n = 0, m = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !(s = hmac_slot(key)))
		return -1;
	if (!hmac_work) {
		if (!(hmac_work = EVP_MD_CTX_new()))
			return -1;
		/* Any non-NULL value: the destructor runs at thread exit. */
		pthread_setspecific(hmac_key, hmac_work);
	}
	if (!EVP_MD_CTX_copy_ex(hmac_work, s->inner) ||
	    !EVP_DigestUpdate(hmac_work, data, len) ||
	    !EVP_DigestFinal_ex(hmac_work, inner, &n) ||
	    !EVP_MD_CTX_copy_ex(hmac_work, s->outer) ||
	    !EVP_DigestUpdate(hmac_work, inner, sizeof(inner)) ||
	    !EVP_DigestFinal_ex(hmac_work, out, &m) || n != SIG_LEN || m != SIG_LEN)
		return -1;
	return 0;
}

int
jwt_sign(const struct jwt_keyset *ks, const struct config *cfg,
	const struct jwt_claims *c, char *out, size_t cap)
{
	char header[128], *payload = NULL;
	json_t *claims;
	unsigned char sig[SIG_LEN];
	size_t hlen, plen, n;
	int len;

	if (!ks || ks->n == 0)
		return -1;
	len = snprintf(header, sizeof(header),
	    "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", ks->keys[0].kid);
	if (len < 0 || (size_t)len >= sizeof(header))
		return -1;
	hlen = (size_t)len;
	claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s}",
	    "sub", c->sub, "sid", c->sid, "role", c->role,
	    "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp,
	    "iss", cfg->jwt_issuer, "aud", cfg->jwt_audience, "jti", c->jti,
	    "typ", "access");
	if (claims)
		payload = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	if (!payload)
		return -1;
	plen = strlen(payload);
	if (B64URL_ENCLEN(hlen) + B64URL_ENCLEN(plen) + SIG_B64_LEN + 1 > cap) {
		free(payload);
		return -1;
	}
	n = b64url_encode(header, hlen, out);
	out[n++] = '.';
	n += b64url_encode(payload, plen, out + n);
	free(payload);
	if (hmac256(ks->keys[0].secret, out, n, sig) == -1)
		return -1;
	out[n++] = '.';
	n += b64url_encode(sig, SIG_LEN, out + n);
	return (int)n;
}

/* ---------------------------------------------------------- verifying */

/* Decodes one base64url segment and parses it as a JSON object. */
static json_t *
segment_json(const char *s, size_t len)
{
	unsigned char buf[SEG_MAX + 4];
	long n;
	json_t *v;

	if (len == 0 || len > SEG_MAX * 4 / 3)
		return NULL;
	n = b64url_decode(s, len, buf);
	if (n <= 0 || memchr(buf, '\0', (size_t)n))
		return NULL;
	v = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (v && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static int
str_is(const json_t *obj, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v && strcmp(v, want) == 0;
}

/* An integer claim (reals, strings and out-of-range values rejected). */
static int
int_claim(const json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return -1;
	*out = (int64_t)json_integer_value(v);
	return *out >= 0 && *out < ((int64_t)1 << 40) ? 0 : -1;
}

static int
copy_claim(const json_t *obj, const char *key, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(obj, key));
	size_t len;

	if (!v)
		return -1;
	len = strlen(v);
	if (len == 0 || len >= cap)
		return -1;
	memcpy(out, v, len + 1);
	return 0;
}

static int
aud_ok(const json_t *payload, const char *audience)
{
	json_t *aud = json_object_get(payload, "aud");
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), audience) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), audience) == 0)
			return 1;
	return 0;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The checks both payload paths share, on claims copied into out. */
static enum jwt_result
final_checks(struct jwt_claims *out, int64_t now)
{
	if (out->iat < 0 || out->exp >= ((int64_t)1 << 40) ||
	    out->iat > now + JWT_LEEWAY_S || out->exp < out->iat ||
	    !ids_is_uuid(out->sub) || !ids_is_uuid(out->sid) || !out->jti[0] ||
	    (strcmp(out->role, "USER") != 0 && strcmp(out->role, "ADMIN") != 0))
		return JWT_INVALID;
	lower(out->sub);
	lower(out->sid);
	if (now > out->exp + JWT_LEEWAY_S)
		return JWT_EXPIRED;
	return JWT_OK;
}

static enum jwt_result
check_claims(const json_t *p, const char *issuer, const char *audience,
	int64_t now, struct jwt_claims *out)
{
	int64_t nbf;

	if (!str_is(p, "typ", "access") || !str_is(p, "iss", issuer) ||
	    !aud_ok(p, audience))
		return JWT_INVALID;
	if (int_claim(p, "exp", &out->exp) == -1 ||
	    int_claim(p, "iat", &out->iat) == -1)
		return JWT_INVALID;
	if (json_object_get(p, "nbf") &&
	    (int_claim(p, "nbf", &nbf) == -1 || nbf > now + JWT_LEEWAY_S))
		return JWT_INVALID;
	if (copy_claim(p, "sub", out->sub, sizeof(out->sub)) == -1 ||
	    copy_claim(p, "sid", out->sid, sizeof(out->sid)) == -1 ||
	    copy_claim(p, "jti", out->jti, sizeof(out->jti)) == -1 ||
	    copy_claim(p, "role", out->role, sizeof(out->role)) == -1)
		return JWT_INVALID;
	return final_checks(out, now);
}

/*
 * A strict reader for payloads laid out exactly as jwt_sign() writes them
 * (members in that order, no whitespace, no escapes). It only ever sees
 * payloads whose signature has already been verified, and anything it
 * does not recognise goes to the jansson path, so it saves a parse in the
 * common case without being a second JSON parser to trust.
 */
struct cursor {
	const char *p, *end;
};

static int
cur_lit(struct cursor *c, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return 0;
	c->p += n;
	return 1;
}

/* Characters up to the closing quote: no escapes, no controls. */
static int
cur_str(struct cursor *c, char *out, size_t cap)
{
	size_t n = 0;

	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p++;

		if (ch == '\\' || ch < 0x20 || n + 1 >= cap)
			return 0;
		out[n++] = (char)ch;
	}
	if (c->p == c->end)
		return 0;
	c->p++;
	out[n] = '\0';
	return 1;
}

static int
cur_int(struct cursor *c, int64_t *v)
{
	int digits = 0;

	*v = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 13) {
		*v = *v * 10 + (*c->p++ - '0');
		digits++;
	}
	return digits > 0 && (c->p == c->end || *c->p < '0' || *c->p > '9');
}

/* 1 if the payload had the canonical layout (then *r is the verdict), else 0. */
static int
canonical_payload(const char *b64, size_t len, const char *issuer,
	const char *audience, int64_t now, struct jwt_claims *out,
	enum jwt_result *r)
{
	unsigned char buf[SEG_MAX + 4];
	char iss[256], aud[256];
	struct cursor c;
	long n;

	if (len > SEG_MAX * 4 / 3 || (n = b64url_decode(b64, len, buf)) <= 0)
		return 0;
	c.p = (const char *)buf;
	c.end = c.p + n;
	if (!cur_lit(&c, "{\"sub\":\"") || !cur_str(&c, out->sub, sizeof(out->sub)) ||
	    !cur_lit(&c, ",\"sid\":\"") || !cur_str(&c, out->sid, sizeof(out->sid)) ||
	    !cur_lit(&c, ",\"role\":\"") || !cur_str(&c, out->role, sizeof(out->role)) ||
	    !cur_lit(&c, ",\"iat\":") || !cur_int(&c, &out->iat) ||
	    !cur_lit(&c, ",\"exp\":") || !cur_int(&c, &out->exp) ||
	    !cur_lit(&c, ",\"iss\":\"") || !cur_str(&c, iss, sizeof(iss)) ||
	    !cur_lit(&c, ",\"aud\":\"") || !cur_str(&c, aud, sizeof(aud)) ||
	    !cur_lit(&c, ",\"jti\":\"") || !cur_str(&c, out->jti, sizeof(out->jti)) ||
	    !cur_lit(&c, ",\"typ\":\"access\"}") || c.p != c.end)
		return 0;
	if (strcmp(iss, issuer) != 0 || strcmp(aud, audience) != 0)
		*r = JWT_INVALID;
	else
		*r = final_checks(out, now);
	return 1;
}

/*
 * The key of a header byte-identical to the ones jwt_sign() writes, or
 * NULL (then the header is parsed and checked the long way). Exact bytes
 * mean alg HS256, typ JWT, a known kid and nothing else, so the common
 * case skips a JSON parse.
 */
static const struct jwt_key *
canonical_header(const struct jwt_keyset *ks, const char *b64, size_t len)
{
	static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"";
	unsigned char buf[128];
	size_t hl = sizeof(head) - 1;
	long n;

	if (len > 160 || (n = b64url_decode(b64, len, buf)) < (long)hl + 3 ||
	    memcmp(buf, head, hl) != 0 || buf[n - 2] != '"' || buf[n - 1] != '}')
		return NULL;
	for (int i = 0; i < ks->n; i++) {
		size_t kl = strlen(ks->keys[i].kid);

		if ((size_t)n == hl + kl + 2 && memcmp(buf + hl, ks->keys[i].kid, kl) == 0)
			return &ks->keys[i];
	}
	return NULL;
}

enum jwt_result
jwt_verify(const struct jwt_keyset *ks, const char *issuer,
	const char *audience, const char *token, int64_t now,
	struct jwt_claims *out)
{
	const char *dot1, *dot2, *kid;
	size_t len, hlen, plen, slen;
	unsigned char sig[SIG_LEN + 3], want[SIG_LEN];
	const struct jwt_key *key = NULL;
	json_t *header = NULL, *payload = NULL;
	enum jwt_result r = JWT_INVALID;

	if (!ks || !token)
		return JWT_INVALID;
	len = strnlen(token, JWT_MAX_LEN + 1);
	if (len > JWT_MAX_LEN)
		return JWT_INVALID;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return JWT_INVALID;
	hlen = (size_t)(dot1 - token);
	plen = (size_t)(dot2 - dot1 - 1);
	slen = len - (size_t)(dot2 + 1 - token);
	if (slen != SIG_B64_LEN || b64url_decode(dot2 + 1, slen, sig) != SIG_LEN)
		return JWT_INVALID;

	key = canonical_header(ks, token, hlen);
	if (!key) {
		header = segment_json(token, hlen);
		if (!header || !str_is(header, "alg", "HS256") ||
		    !str_is(header, "typ", "JWT") || json_object_get(header, "crit"))
			goto out;
		kid = json_string_value(json_object_get(header, "kid"));
		if (!kid || !kid_valid(kid, strlen(kid)))
			goto out;
		for (int i = 0; i < ks->n && !key; i++)
			if (strcmp(ks->keys[i].kid, kid) == 0)
				key = &ks->keys[i];
		if (!key) {
			r = JWT_UNKNOWN_KID;
			goto out;
		}
	}
	/* The signature is checked before the payload is even decoded. */
	if (hmac256(key->secret, token, (size_t)(dot2 - token), want) == -1 ||
	    CRYPTO_memcmp(want, sig, SIG_LEN) != 0)
		goto out;
	if (canonical_payload(dot1 + 1, plen, issuer, audience, now, out, &r))
		goto out;
	payload = segment_json(dot1 + 1, plen);
	if (!payload)
		goto out;
	r = check_claims(payload, issuer, audience, now, out);
out:
	json_decref(payload);
	json_decref(header);
	return r;
}

int
jwt_peek_subject(const char *token, char out[IDS_UUID_LEN])
{
	static const char lead[] = "{\"sub\":\"";
	/* base64url of the lead and the UUID: 44 bytes, 60 characters. */
	unsigned char buf[48];
	const char *p = token ? strchr(token, '.') : NULL;

	if (!p || strnlen(p + 1, 60) < 60 ||
	    b64url_decode(p + 1, 60, buf) != 45 ||
	    memcmp(buf, lead, sizeof(lead) - 1) != 0)
		return -1;
	memcpy(out, buf + sizeof(lead) - 1, IDS_UUID_LEN - 1);
	out[IDS_UUID_LEN - 1] = '\0';
	return ids_is_uuid(out) ? 0 : -1;
}
