/*
 * auth.h - who is calling: access-token verification for every transport.
 *
 * The HTTP pipeline (src/app.c) and the bridge both call auth_verify_access()
 * so a token means the same thing everywhere: HS256 only, exp/iss/aud/typ
 * checked (jwt.h), and the session (sid) must not be revoked.
 *
 * Session liveness is cheap on the hot path: memcached holds
 * "sess:<sid>" = "A <user id> <role>" (alive, short TTL) or "R" (revoked,
 * kept until every access token of the session has expired). MariaDB is
 * the truth: a miss or a memcached error reads the sessions row, and the
 * answer is cached with add (never set), so a fill racing a revocation can
 * never overwrite the "R" the revocation writes with set after its UPDATE.
 * Revoking (logout, logout-all, account deletion, password reset) updates
 * MariaDB first and then calls auth_session_forget(), which is why a
 * revoked session's access tokens fail on the very next request.
 */
#ifndef PARLEY_AUTH_H
#define PARLEY_AUTH_H

#include "request.h"
#include "status.h"

struct config;
struct db;
struct cache;
struct svc_ctx;

#define AUTH_SESSION_ALIVE_TTL 60 /* seconds an "alive" answer is cached */

/*
 * Verifies a bearer access token and fills *me (user id, session id, and
 * is_admin from the current role of the account, not the token's). Returns
 * ST_OK, or ST_UNAUTHORIZED with e->code "AUTH_TOKEN_INVALID" /
 * "AUTH_TOKEN_EXPIRED" (never anything else for a bad token), or
 * ST_UNAVAILABLE when no signing keys are loaded or neither memcached nor
 * MariaDB can answer for the session.
 */
enum status auth_verify_access(const struct config *cfg, struct db *db,
	struct cache *cache, const char *token, struct identity *me,
	struct svc_error *e);

/*
 * More keys for the prefetch of the next auth_verify_access() in this
 * thread, so that what the request reads after authentication rides on
 * the same memcached round trip: fn(arg, user_id, keys, max) writes up to
 * max keys into keys[] and returns how many. The HTTP pipeline sets it
 * just before authenticating; auth_verify_access() uses it once and
 * clears it (NULL fn: none).
 */
#define AUTH_PREFETCH_EXTRA 2
#define AUTH_PREFETCH_KEY_LEN 128
typedef size_t auth_prefetch_fn(void *arg, const char *user_id,
	char keys[][AUTH_PREFETCH_KEY_LEN], size_t max);
void auth_prefetch_hook(auth_prefetch_fn *fn, void *arg);

/*
 * Whether session sid is still alive: 1 alive, 0 revoked / expired /
 * unknown / account disabled, -1 neither store answered. For the bridge to
 * poll for connections it holds (e.g. every few seconds), so logout-all
 * closes live sockets too. user_id (IDS_UUID_LEN bytes) and is_admin may
 * be NULL; when given they are filled for an alive session.
 */
int auth_session_alive(const struct svc_ctx *ctx, const char *sid,
	char *user_id, int *is_admin);

/*
 * Marks sid revoked in memcached ("R" until no access token of it can be
 * valid any more). Call after the revocation is committed to MariaDB.
 * 0, or -1 when memcached could neither store "R" nor delete the key
 * (logged). After -1 an "alive" entry a worker cached before the
 * revocation outlives it by up to AUTH_SESSION_ALIVE_TTL seconds: the
 * session's access tokens are still accepted until then, so the HTTP
 * revocations answer 503 instead of success (session_cache_stale()), a
 * retry marks the session again, and so does every bridge while the
 * session is in its revocation look-back (bridge_stream.c).
 */
int auth_session_forget(const struct config *cfg, struct cache *cache,
	const char *sid);

/*
 * Caches a just-created session as alive (saves the first request a
 * MariaDB read). role is "USER" or "ADMIN".
 */
void auth_session_remember(struct cache *cache, const char *sid,
	const char *user_id, const char *role);

#endif
