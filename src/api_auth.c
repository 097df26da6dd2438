/* api_auth.c - /auth: register, login, refresh, logout, logout-all, me. */
#include <string.h>

#include "api.h"
#include "core/jsonx.h"
#include "core/session.h"
#include "core/svc.h"
#include "core/user.h"
#include "core/banned.h"

/*
 * Reads an optional string field (any of its spellings) into *out. A
 * present non-string, or spellings that disagree, write a 400 naming the
 * field and return -1.
 */
static int
str_or_reply(struct request *req, struct response *res,
	const char *const *names, const char **out)
{
	json_t *v;

	*out = NULL;
	if (request_field_or_reply(req, res, names, &v) == -1)
		return -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		reply_invalid(res, names[0], "must be a string");
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Replies with the token pair and the caller's own user object. */
static void
reply_tokens(struct request *req, struct response *res, int http,
	const char *message, const struct session_tokens *t)
{
	struct svc_ctx ctx;
	struct svc_error e = { 0 };
	json_t *user = NULL;

	request_svc(req, &ctx);
	if (user_get(&ctx, t->user_id, 1, &user, &e) != ST_OK)
		user = NULL; /* the tokens matter more; the client can GET /auth/me */
	reply_data(res, http, message, session_tokens_json(t, user));
}

void
api_auth_register(struct request *req, struct response *res)
{
	struct user_new in = { 0 };
	struct session_tokens t;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	if (str_or_reply(req, res, JSONX_NAMES("username"), &in.username) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("email"), &in.email) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("password"), &in.password) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("displayName", "display_name"),
	    &in.display_name) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("publicKey", "public_key"),
	    &in.public_key) == -1)
		return;
	request_svc(req, &ctx);
	st = session_register(&ctx, &in, request_env(req, "HTTP_USER_AGENT"), &t,
	    &e);
	if (st != ST_CREATED) {
		reply_status(res, st, &e);
		return;
	}
	reply_tokens(req, res, 201, "User registered successfully", &t);
}

void
api_auth_login(struct request *req, struct response *res)
{
	const char *password, *ignored;
	struct session_tokens t;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	if (str_or_reply(req, res, JSONX_NAMES("login"), &ignored) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("username"), &ignored) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("email"), &ignored) == -1 ||
	    str_or_reply(req, res, JSONX_NAMES("password"), &password) == -1)
		return;
	request_svc(req, &ctx);
	st = session_login(&ctx, session_login_name(req->json), password,
	    request_env(req, "HTTP_USER_AGENT"), &t, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_tokens(req, res, 200, "Login successful", &t);
}

void
api_auth_refresh(struct request *req, struct response *res)
{
	const char *refresh;
	struct session_tokens t;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	if (str_or_reply(req, res, JSONX_NAMES("refreshToken", "refresh_token"),
	    &refresh) == -1)
		return;
	request_svc(req, &ctx);
	st = session_refresh(&ctx, refresh, request_env(req, "HTTP_USER_AGENT"),
	    &t, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_tokens(req, res, 200, "Token refreshed successfully", &t);
}

void
api_auth_logout(struct request *req, struct response *res)
{
	const char *refresh = NULL;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	if (str_or_reply(req, res, JSONX_NAMES("refreshToken", "refresh_token"),
	    &refresh) == -1)
		return;
	request_svc(req, &ctx);
	st = session_logout(&ctx, &req->me, refresh, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "Logout successful", NULL);
}

void
api_auth_logout_all(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	request_svc(req, &ctx);
	st = session_logout_all(&ctx, req->me.user_id, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "Logged out from all devices", NULL);
}

void
api_auth_me(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	const char *user;
	size_t len;
	enum status st;

	request_svc(req, &ctx);
	/* The hottest read: cached JSON spliced, no tree built (user.h). */
	st = user_get_own_text(&ctx, req->me.user_id, &user, &len, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data_text(res, 200, "OK", user, len);
}
