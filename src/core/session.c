#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "b64url.h"
#include "config.h"
#include "db.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "password.h"
#include "session.h"
#include "session_db.h"
#include "svc.h"
#include "user.h"
#include "banned.h"

json_t *
session_tokens_json(const struct session_tokens *t, json_t *user)
{
	json_t *o = json_object();

	json_object_set_new(o, "accessToken", json_string(t->access));
	json_object_set_new(o, "refreshToken", json_string(t->refresh));
	json_object_set_new(o, "expiresIn", json_integer(t->expires_in));
	json_object_set_new(o, "tokenType", json_string("Bearer"));
	json_object_set_new(o, "user", user ? user : json_null());
	return o;
}

const char *
session_login_name(const json_t *body)
{
	const char *v = jsonx_str(body, "login");

	if (!v)
		v = jsonx_str(body, "username");
	if (!v)
		v = jsonx_str(body, "email");
	return v;
}

/* A printable-ASCII copy of a User-Agent, at most 255 bytes, or NULL. */
static const char *
clean_agent(const struct svc_ctx *ctx, const char *ua)
{
	char *out;
	size_t n = 0;

	if (!ua || !*ua)
		return NULL;
	out = arena_alloc(ctx->arena, 256);
	for (; *ua && n < 255; ua++)
		out[n++] = *ua >= 0x20 && *ua < 0x7f ? *ua : '?';
	out[n] = '\0';
	return out;
}

/* Signs an access token for the session into t. */
static enum status
issue_access(const struct svc_ctx *ctx, const char *user_id, const char *sid,
	const char *role, struct session_tokens *t, struct svc_error *e)
{
	const struct jwt_keyset *ks = jwt_keys(ctx->cfg, 0);
	struct jwt_claims c;
	unsigned char jti[16];

	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", user_id);
	snprintf(c.sid, sizeof(c.sid), "%s", sid);
	snprintf(c.role, sizeof(c.role), "%s", role);
	ids_random(jti, sizeof(jti));
	b64url_encode(jti, sizeof(jti), c.jti);
	c.iat = (int64_t)time(NULL);
	c.exp = c.iat + ctx->cfg->access_ttl_s;
	if (!ks || jwt_sign(ks, ctx->cfg, &c, t->access, sizeof(t->access)) < 0) {
		log_error("session: cannot sign access tokens (keys file %s)",
		    ctx->cfg->keys_file);
		return svc_fail(e, ST_UNAVAILABLE, NULL,
		    "Authentication is not available right now");
	}
	t->expires_in = ctx->cfg->access_ttl_s;
	snprintf(t->session_id, sizeof(t->session_id), "%s", sid);
	snprintf(t->user_id, sizeof(t->user_id), "%s", user_id);
	return ST_OK;
}

/* A new refresh token into t->refresh and its hash into hash. */
static void
new_refresh(struct session_tokens *t, unsigned char hash[32])
{
	unsigned char raw[32];

	ids_random(raw, sizeof(raw));
	b64url_encode(raw, sizeof(raw), t->refresh);
	SHA256((const unsigned char *)t->refresh, SESSION_REFRESH_LEN, hash);
	OPENSSL_cleanse(raw, sizeof(raw));
}

/* Starts a session for an authenticated user. */
static enum status
session_start(const struct svc_ctx *ctx, const char *user_id,
	const char *role, const char *user_agent, struct session_tokens *out,
	struct svc_error *e)
{
	char sid[IDS_UUID_LEN];
	unsigned char hash[32];
	const char *ip = ctx->client_ip && strlen(ctx->client_ip) <= 45 ?
	    ctx->client_ip : NULL;

	ids_uuid7(sid);
	new_refresh(out, hash);
	if (db_begin(ctx->db) == -1 ||
	    session_db_create(ctx->db, sid, user_id,
	    clean_agent(ctx, user_agent), ip, ctx->cfg->refresh_ttl_s) == -1 ||
	    session_db_add_refresh(ctx->db, hash, sid,
	    ctx->cfg->refresh_ttl_s) == -1 ||
	    db_commit(ctx->db) == -1) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	}
	auth_session_remember(ctx->cache, sid, user_id, role);
	return issue_access(ctx, user_id, sid, role, out, e);
}

enum status
session_register(const struct svc_ctx *ctx, const struct user_new *in,
	const char *user_agent, struct session_tokens *out,
	struct svc_error *e)
{
	char id[IDS_UUID_LEN];
	enum status st;

	if (!jwt_keys(ctx->cfg, 0))
		return svc_fail(e, ST_UNAVAILABLE, NULL,
		    "Registration is not available right now");
	st = user_create(ctx, in, id, e);
	if (st != ST_CREATED)
		return st;
	st = session_start(ctx, id, in->role ? in->role : "USER", user_agent,
	    out, e);
	return st == ST_OK ? ST_CREATED : st;
}

int
session_login_key(const char *login, char out[SESSION_LOGIN_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	char folded[USER_EMAIL_MAX];
	size_t len = strlen(login), n;
	int ok;

	while (len > 0 && login[len - 1] == ' ')
		len--;
	ok = len > 0 && login[len] == '\0';
	for (n = 0; n < len && n < sizeof(folded); n++) {
		unsigned char c = (unsigned char)login[n];

		if (c <= ' ' || c >= 0x7f)
			ok = 0;
		folded[n] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	SHA256((const unsigned char *)folded, n, md);
	out[0] = '?';
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[1 + 2 * i] = hex[md[i] >> 4];
		out[2 + 2 * i] = hex[md[i] & 0xf];
	}
	out[1 + 2 * SHA256_DIGEST_LENGTH] = '\0';
	return ok ? 0 : -1;
}

static enum status
bad_credentials(struct svc_error *e)
{
	return svc_fail(e, ST_UNAUTHORIZED, "AUTH_INVALID_CREDENTIALS",
	    "Invalid credentials");
}

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	if (e) {
		e->code = NULL;
		e->field = field;
		e->message = message;
	}
	return ST_INVALID;
}

enum status
session_login(const struct svc_ctx *ctx, const char *login,
	const char *password, const char *user_agent,
	struct session_tokens *out, struct svc_error *e)
{
	const char *uid = NULL, *role = NULL, *hash = NULL;
	char account[SESSION_LOGIN_KEY_LEN];
	long failures = 0, retry = 0;
	int found;
	enum status st;

	if (!login || !*login)
		return invalid(e, "login", "login (a username or an email) is required");
	if (!password || !*password)
		return invalid(e, "password", "password is required");
	if (strlen(login) > USER_EMAIL_MAX || strlen(password) > PASSWORD_MAX_BYTES)
		return bad_credentials(e);
	if (session_login_key(login, account) == -1) {
		/*
		 * The collation would take "alice " or "alicé" for "alice"
		 * under another key. No account has such a name: refuse it,
		 * count it toward none, after an unknown name's work.
		 */
		st = password_check(ctx->cfg, NULL, password, e);
		return st == ST_UNAVAILABLE ? st : bad_credentials(e);
	}
	found = user_find_login(ctx, login, &uid, &role, &hash);
	if (found == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (found)
		snprintf(account, sizeof(account), "%s", uid);

	/* Reserve, then count: concurrent attempts can only over-count. */
	if (session_db_failure_add(ctx->db, account) == -1 ||
	    session_db_failure_count(ctx->db, ctx->arena, account, &failures,
	    &retry) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (failures > ctx->cfg->rl_failed_logins_per_hour) {
		session_db_failure_release(ctx->db, account);
		if (e) {
			e->code = NULL;
			e->message = "Too many failed logins for this account; try again later";
			e->retry_after = retry > 0 ? (int)retry : 1;
		}
		return ST_RATE_LIMITED;
	}
	st = password_check(ctx->cfg, found ? hash : NULL, password, e);
	if (st == ST_UNAVAILABLE) {
		session_db_failure_release(ctx->db, account);
		return st;
	}
	if (st != ST_OK) {
		unsigned char dice;

		ids_random(&dice, 1);
		if (dice < 4)
			session_db_failure_prune(ctx->db);
		return bad_credentials(e);
	}
	/* A success is not a failure: give the reservation back. */
	session_db_failure_release(ctx->db, account);
	return session_start(ctx, uid, role, user_agent, out, e);
}

/* Revokes sid after a reuse was detected. */
static enum status
reuse_detected(const struct svc_ctx *ctx, const char *sid, struct svc_error *e)
{
	if (session_db_revoke(ctx->db, sid, "reuse", NULL) == 0)
		auth_session_forget(ctx->cfg, ctx->cache, sid);
	log_warn("session: a rotated refresh token was presented again; "
	    "its session is revoked");
	return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
	    "Refresh token was already used; the session has been revoked");
}

static int
refresh_hash(const char *token, unsigned char hash[32])
{
	unsigned char raw[40];

	if (!token || strlen(token) != SESSION_REFRESH_LEN ||
	    b64url_decode(token, SESSION_REFRESH_LEN, raw) != 32)
		return -1;
	SHA256((const unsigned char *)token, SESSION_REFRESH_LEN, hash);
	return 0;
}

enum status
session_refresh(const struct svc_ctx *ctx, const char *refresh,
	const char *user_agent, struct session_tokens *out,
	struct svc_error *e)
{
	unsigned char hash[32], next[32];
	struct db_rows rows;
	uint64_t used = 0;
	const char *sid, *uid, *role;

	(void)user_agent;
	if (!refresh)
		return invalid(e, "refreshToken", "refreshToken is required");
	if (refresh_hash(refresh, hash) == -1)
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid refresh token");
	if (session_db_refresh_get(ctx->db, ctx->arena, hash, &rows) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (rows.nrows == 0)
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid refresh token");
	sid = db_get(&rows, 0, "session_id");
	uid = db_get(&rows, 0, "user_id");
	role = db_get(&rows, 0, "role");
	if (!db_get_int(&rows, 0, "session_open") ||
	    !db_get_int(&rows, 0, "user_active"))
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid refresh token: the session has ended");
	if (db_get_int(&rows, 0, "used"))
		return reuse_detected(ctx, sid, e);
	if (!db_get_int(&rows, 0, "token_live") ||
	    !db_get_int(&rows, 0, "session_live"))
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_EXPIRED",
		    "Refresh token has expired");

	new_refresh(out, next);
	if (db_begin(ctx->db) == -1 ||
	    session_db_refresh_use(ctx->db, hash, &used) == -1) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	}
	if (used != 1) {
		/* Another request rotated it first: a copy is in use. */
		db_rollback(ctx->db);
		return reuse_detected(ctx, sid, e);
	}
	if (session_db_add_refresh(ctx->db, next, sid,
	    ctx->cfg->refresh_ttl_s) == -1 ||
	    session_db_touch(ctx->db, sid, ctx->cfg->refresh_ttl_s) == -1 ||
	    db_commit(ctx->db) == -1) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	}
	return issue_access(ctx, uid, sid, role, out, e);
}

enum status
session_logout(const struct svc_ctx *ctx, const struct identity *me,
	const char *refresh, struct svc_error *e)
{
	unsigned char hash[32];
	struct db_rows rows;

	int stale = 0;

	if (session_db_revoke(ctx->db, me->session_id, "logout", NULL) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	stale |= auth_session_forget(ctx->cfg, ctx->cache, me->session_id);
	/* The refresh token's session too, if it is another of the caller's. */
	if (refresh_hash(refresh, hash) == 0 &&
	    session_db_refresh_get(ctx->db, ctx->arena, hash, &rows) == 0 &&
	    rows.nrows == 1 &&
	    strcmp(db_get(&rows, 0, "user_id"), me->user_id) == 0 &&
	    strcmp(db_get(&rows, 0, "session_id"), me->session_id) != 0) {
		const char *sid = db_get(&rows, 0, "session_id");

		if (session_db_revoke(ctx->db, sid, "logout", NULL) == 0)
			stale |= auth_session_forget(ctx->cfg, ctx->cache, sid);
	}
	return stale ? session_cache_stale(e) : ST_OK;
}

int
session_revoke_all(const struct svc_ctx *ctx, const char *user_id,
	const char *reason)
{
	struct db_rows rows;
	int rc = 0;

	/*
	 * Sessions revoked a moment ago are marked again: an earlier call
	 * that could not reach memcached left their cached "alive" answers
	 * standing, and this call (the client's retry) completes it.
	 */
	if (db_begin(ctx->db) == -1 ||
	    session_db_live_of_user(ctx->db, ctx->arena, user_id,
	    SESSION_FORGET_RECENT_S, &rows) == -1 ||
	    session_db_revoke_user(ctx->db, user_id, reason) == -1 ||
	    db_commit(ctx->db) == -1) {
		db_rollback(ctx->db);
		return -1;
	}
	for (size_t i = 0; i < rows.nrows; i++)
		if (auth_session_forget(ctx->cfg, ctx->cache,
		    db_cell(&rows, i, 0)) == -1)
			rc = 1;
	return rc;
}

enum status
session_logout_all(const struct svc_ctx *ctx, const char *user_id,
	struct svc_error *e)
{
	switch (session_revoke_all(ctx, user_id, "logout-all")) {
	case -1:
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	case 1:
		return session_cache_stale(e);
	default:
		return ST_OK;
	}
}

enum status
session_cache_stale(struct svc_error *e)
{
	e->retry_after = 1;
	return svc_fail(e, ST_UNAVAILABLE, NULL, "The sessions are revoked,"
	    " but the session cache could not be told, so their access tokens"
	    " may still work for up to a minute: retry");
}
