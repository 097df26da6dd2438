/*
 * session.h - logging in and staying logged in: the session service.
 *
 * A session is one login. It owns a family of refresh tokens: 256 random
 * bits sent to the client in base64url and stored only as SHA-256, each
 * used once and replaced on refresh (rotation). Presenting a token that was
 * already rotated means it was copied, so the whole session is revoked and
 * the newer token stops working too (reuse detection). Access tokens are
 * JWTs (jwt.h) naming the session, so revoking a session ends its access
 * tokens at once (auth.h).
 *
 * Login failures are counted per account in MariaDB, in a sliding hour:
 * every attempt first reserves a row and counts; beyond [ratelimit]
 * failed_logins_per_hour the attempt is refused with ST_RATE_LIMITED
 * before any password is checked, and a successful attempt releases its
 * reservation. Concurrent attempts can only make the count err high, so
 * at most that many passwords are ever tried per account per hour, with or
 * without memcached. Unknown login names are counted under a digest of
 * the name and pay a dummy hash, so they look the same as wrong passwords.
 */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H

#include <jansson.h>

#include "auth.h"
#include "ids.h"
#include "request.h"
#include "status.h"

struct svc_ctx;
struct user_new;

#define SESSION_ACCESS_MAX 1024 /* an access token, including the NUL */
#define SESSION_REFRESH_LEN 43  /* base64url of 32 bytes */

struct session_tokens {
	char access[SESSION_ACCESS_MAX];
	char refresh[SESSION_REFRESH_LEN + 1];
	long expires_in; /* seconds until the access token expires */
	char session_id[IDS_UUID_LEN];
	char user_id[IDS_UUID_LEN];
};

/*
 * {accessToken, refreshToken, expiresIn, tokenType: "Bearer", user}.
 * Steals user.
 */
json_t *session_tokens_json(const struct session_tokens *t, json_t *user);

/*
 * Creates the account (user_create) and its first session. ST_CREATED or
 * user_create's failures; ST_UNAVAILABLE if no signing key is loaded.
 */
enum status session_register(const struct svc_ctx *ctx,
	const struct user_new *in, const char *user_agent,
	struct session_tokens *out, struct svc_error *e);

/*
 * Checks credentials (login is a username or an email) and starts a
 * session. ST_OK, ST_INVALID (a field missing), ST_UNAUTHORIZED with
 * "AUTH_INVALID_CREDENTIALS" (unknown user, wrong password, and a login
 * no account can have, see session_login_key(), alike),
 * ST_RATE_LIMITED (too many failures for the account), ST_UNAVAILABLE.
 * Failures count per account: a found user's id, else the name's key.
 */
enum status session_login(const struct svc_ctx *ctx, const char *login,
	const char *password, const char *user_agent,
	struct session_tokens *out, struct svc_error *e);

/*
 * Rotates a refresh token: a new pair for the same session. ST_OK,
 * ST_INVALID (missing), ST_UNAUTHORIZED with "AUTH_TOKEN_INVALID" (unknown,
 * revoked, or reused: the session is then revoked) or "AUTH_TOKEN_EXPIRED",
 * ST_UNAVAILABLE.
 */
enum status session_refresh(const struct svc_ctx *ctx, const char *refresh,
	const char *user_agent, struct session_tokens *out,
	struct svc_error *e);

/*
 * Ends me's current session, and the session of refresh (may be NULL) if
 * it is another of me's own. ST_OK or ST_UNAVAILABLE: MariaDB failed, or
 * the revocation is committed but memcached could not be told
 * (session_cache_stale()); a retry completes it.
 */
enum status session_logout(const struct svc_ctx *ctx,
	const struct identity *me, const char *refresh, struct svc_error *e);

/*
 * Ends every session of user_id. ST_OK or ST_UNAVAILABLE: MariaDB failed,
 * or session_revoke_all() returned 1 (session_cache_stale()).
 */
enum status session_logout_all(const struct svc_ctx *ctx, const char *user_id,
	struct svc_error *e);

/*
 * Revokes every session of user_id in MariaDB (one transaction), then
 * marks them in memcached, with those revoked in the last
 * SESSION_FORGET_RECENT_S seconds (so that repeating a call that returned
 * 1 completes it). reason is stored ("logout-all", "deleted" ...).
 * 0 done; 1 revoked in MariaDB but at least one session could not be
 * marked in memcached, so its access tokens may still be accepted for up
 * to AUTH_SESSION_ALIVE_TTL seconds (auth_session_forget) unless the call
 * is repeated; -1 nothing was revoked.
 */
#define SESSION_FORGET_RECENT_S (AUTH_SESSION_ALIVE_TTL + 60)
int session_revoke_all(const struct svc_ctx *ctx, const char *user_id,
	const char *reason);

/*
 * Fills *e for a revocation committed to MariaDB that memcached did not
 * hear of: ST_UNAVAILABLE (503 + Retry-After), never a silent success.
 */
enum status session_cache_stale(struct svc_error *e);

/*
 * The login name of a login body: "login", else "username", else "email"
 * (borrowed from body; NULL if none is a string). Also used to key the
 * per-account rate limit.
 */
const char *session_login_name(const json_t *body);

#define SESSION_LOGIN_KEY_LEN 66 /* "?", 64 hex digits, NUL */

/*
 * The key of a login name, one for all the spellings the database takes
 * for the same name: "?" and the hex SHA-256 of the name with trailing
 * spaces dropped (the collation pads) and ASCII case folded, cut at
 * USER_EMAIL_MAX bytes. Returns 0 if the name can belong to an account,
 * -1 if it cannot: empty, or anything but printable ASCII without spaces
 * (registration allows nothing else, and the collation would match
 * "alice ", "alicé" or "ali\0ce" to "alice"); such a login is refused
 * without a lookup. out is written either way.
 */
int session_login_key(const char *login, char out[SESSION_LOGIN_KEY_LEN]);

#endif
