#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "auth.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "jwt.h"
#include "log.h"
#include "presence.h"
#include "ratelimit.h"
#include "svc.h"
#include "user.h"
#include "banned.h"

#define SESS_KEY_LEN (5 + IDS_UUID_LEN)

static void
sess_key(char out[SESS_KEY_LEN], const char *sid)
{
	size_t n = strnlen(sid, IDS_UUID_LEN - 1);

	memcpy(out, "sess:", 5);
	memcpy(out + 5, sid, n);
	out[5 + n] = '\0';
}

/* Parses "A <uuid> <role>". 0 or -1. */
static int
parse_alive(const char *v, char *user_id, int *is_admin)
{
	if (strncmp(v, "A ", 2) != 0 || strlen(v) < 2 + 36 + 1 + 4 ||
	    v[38] != ' ')
		return -1;
	if (user_id) {
		memcpy(user_id, v + 2, 36);
		user_id[36] = '\0';
	}
	if (is_admin)
		*is_admin = strcmp(v + 39, "ADMIN") == 0;
	return 0;
}

static const char sql_session_alive[] =
	"SELECT s.user_id, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
	" WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > NOW(3)"
	" AND u.is_active = 1 AND u.deleted_at IS NULL";

/* The state of sid from memcached, else MariaDB. 1 alive, 0 dead, -1 unknown. */
static int
session_state(const struct config *cfg, struct db *db, struct cache *cache,
	const char *sid, char *user_id, int *is_admin)
{
	char key[SESS_KEY_LEN], val[64], uid[IDS_UUID_LEN];
	struct arena a;
	struct db_rows rows;
	int hit, admin = 0, rc;

	sess_key(key, sid);
	hit = cache_get(cache, key, val, sizeof(val), NULL);
	if (hit == 1) {
		if (strcmp(val, "R") == 0)
			return 0;
		if (parse_alive(val, user_id, is_admin) == 0)
			return 1;
	}
	arena_init(&a);
	if (db_query(db, &a, &rows, sql_session_alive, "s", sid) == -1) {
		arena_release(&a);
		return -1;
	}
	rc = rows.nrows == 1;
	if (rc) {
		snprintf(uid, sizeof(uid), "%s", db_cell(&rows, 0, 0));
		admin = strcmp(db_cell(&rows, 0, 1), "ADMIN") == 0;
		if (user_id)
			memcpy(user_id, uid, IDS_UUID_LEN);
		if (is_admin)
			*is_admin = admin;
	}
	arena_release(&a);
	if (hit == -1)
		return rc; /* memcached is down: do not bother it again */
	if (rc) {
		auth_session_remember(cache, sid, uid, admin ? "ADMIN" : "USER");
	} else {
		/* Unknown or dead: remember that too, with add (see auth.h). */
		cache_add(cache, key, "R", 1, cfg->access_ttl_s + 120);
	}
	return rc;
}

void
auth_session_remember(struct cache *cache, const char *sid,
	const char *user_id, const char *role)
{
	char key[SESS_KEY_LEN], val[64];
	int n;

	sess_key(key, sid);
	n = snprintf(val, sizeof(val), "A %s %s", user_id, role);
	cache_add(cache, key, val, (size_t)n, AUTH_SESSION_ALIVE_TTL);
}

int
auth_session_forget(const struct config *cfg, struct cache *cache,
	const char *sid)
{
	char key[SESS_KEY_LEN];

	sess_key(key, sid);
	/* Until every access token of the session has expired, plus leeway. */
	if (cache_set(cache, key, "R", 1, cfg->access_ttl_s + 120) == -1 &&
	    cache_delete(cache, key) == -1) {
		log_warn("auth: could not mark a revoked session in memcached");
		return -1;
	}
	return 0;
}

int
auth_session_alive(const struct svc_ctx *ctx, const char *sid, char *user_id,
	int *is_admin)
{
	if (!sid || !ids_is_uuid(sid))
		return 0;
	return session_state(ctx->cfg, ctx->db, ctx->cache, sid, user_id,
	    is_admin);
}

static _Thread_local auth_prefetch_fn *hook_fn;
static _Thread_local void *hook_arg;

void
auth_prefetch_hook(auth_prefetch_fn *fn, void *arg)
{
	hook_fn = fn;
	hook_arg = arg;
}

/*
 * Inside the HTTP pipeline's per-request memo (cache.h), fetches with the
 * session everything the request is about to read for this user: its
 * cached profile, its presence, its API rate counter and the keys of the
 * prefetch hook. One round trip instead of several; outside a memo this
 * does nothing.
 */
static void
prefetch(struct cache *cache, const char *sid, const char *user_id,
	auth_prefetch_fn *fn, void *arg)
{
	char k_sess[SESS_KEY_LEN], k_user[USER_CACHE_KEY_LEN];
	char k_presence[PRESENCE_KEY_LEN], k_rate[128];
	char extra[AUTH_PREFETCH_EXTRA][AUTH_PREFETCH_KEY_LEN];
	const char *keys[4 + AUTH_PREFETCH_EXTRA] = { k_sess, k_user,
		k_presence, k_rate };
	size_t n = 4, nx = 0;

	sess_key(k_sess, sid);
	user_cache_key(k_user, user_id);
	presence_key(k_presence, user_id);
	ratelimit_user_key(k_rate, sizeof(k_rate), user_id);
	if (fn)
		nx = fn(arg, user_id, extra, AUTH_PREFETCH_EXTRA);
	for (size_t i = 0; i < nx && i < AUTH_PREFETCH_EXTRA; i++)
		keys[n++] = extra[i];
	cache_prefetch(cache, keys, n);
}

enum status
auth_verify_access(const struct config *cfg, struct db *db, struct cache *cache,
	const char *token, struct identity *me, struct svc_error *e)
{
	const struct jwt_keyset *ks = jwt_keys(cfg, 0);
	struct jwt_claims c;
	enum jwt_result r;
	char uid[IDS_UUID_LEN];
	int admin = 0, alive;
	auth_prefetch_fn *fn;
	void *arg;

	memset(me, 0, sizeof(*me));
	fn = hook_fn;
	arg = hook_arg;
	auth_prefetch_hook(NULL, NULL);
	if (!ks) {
		log_error("auth: no JWT keys loaded from %s", cfg->keys_file);
		return svc_fail(e, ST_UNAVAILABLE, NULL,
		    "Authentication is not available right now");
	}
	r = jwt_verify(ks, cfg->jwt_issuer, cfg->jwt_audience, token,
	    (int64_t)time(NULL), &c);
	if (r == JWT_UNKNOWN_KID) {
		/* Perhaps another process rotated the keys: look again. */
		ks = jwt_keys(cfg, 1);
		r = jwt_verify(ks, cfg->jwt_issuer, cfg->jwt_audience, token,
		    (int64_t)time(NULL), &c);
	}
	if (r == JWT_EXPIRED)
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_EXPIRED",
		    "Access token has expired");
	if (r != JWT_OK)
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid access token");
	prefetch(cache, c.sid, c.sub, fn, arg);
	alive = session_state(cfg, db, cache, c.sid, uid, &admin);
	if (alive == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL,
		    "Cannot verify the session right now");
	if (alive == 0 || strcmp(uid, c.sub) != 0)
		return svc_fail(e, ST_UNAUTHORIZED, "AUTH_TOKEN_INVALID",
		    "Invalid access token: the session has ended");
	me->authenticated = 1;
	memcpy(me->user_id, c.sub, IDS_UUID_LEN);
	memcpy(me->session_id, c.sid, IDS_UUID_LEN);
	me->is_admin = admin;
	return ST_OK;
}
