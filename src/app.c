#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "app.h"
#include "core/auth.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/jsonx.h"
#include "core/metrics.h"
#include "core/ratelimit.h"
#include "core/banned.h"

double app_started_at;

const char *const app_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
};
const int app_methods_count = sizeof(app_methods) / sizeof(app_methods[0]);

int
app_method_index(const char *method)
{
	for (int i = 0; i < app_methods_count - 1; i++)
		if (strcmp(app_methods[i], method) == 0)
			return i;
	return app_methods_count - 1;
}

const char *const *
app_route_names(void)
{
	static const char **names;

	/* Built once, before threads start (metrics setup calls it first). */
	if (!names) {
		names = calloc(app_routes_count + 1, sizeof(*names));
		if (!names)
			abort();
		for (size_t i = 0; i < app_routes_count; i++)
			names[i] = app_routes[i].pattern;
	}
	return names;
}

unsigned long long
app_layout_key(void)
{
	uint64_t h = 0;

	for (size_t i = 0; i < app_routes_count; i++) {
		h = metrics_layout_key(h, app_routes[i].method);
		h = metrics_layout_key(h, app_routes[i].pattern);
	}
	return h;
}

/* 1 if needle appears in the space/comma separated list. */
static int
list_contains(const char *list, const char *needle)
{
	size_t n = strlen(needle);
	const char *p = list;

	while (p && *p) {
		size_t len;

		p += strspn(p, " ,\t");
		len = strcspn(p, " ,\t");
		if (len == n && strncmp(p, needle, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

static void
apply_cors(struct request *req, struct response *res, const char *allow)
{
	const char *origin = request_env(req, "HTTP_ORIGIN");

	if (!origin || !list_contains(req->cfg->cors_origins, origin))
		return;
	reply_header(res, "Access-Control-Allow-Origin", origin);
	reply_header(res, "Vary", "Origin");
	reply_header(res, "Access-Control-Allow-Credentials", "true");
	if (allow) {
		reply_header(res, "Access-Control-Allow-Methods", allow);
		reply_header(res, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, Idempotency-Key, X-Requested-With");
		reply_header(res, "Access-Control-Max-Age", "600");
	} else {
		reply_header(res, "Access-Control-Expose-Headers",
		    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
		    "Retry-After, X-Pagination-Total, X-Pagination-Pages, "
		    "X-Pagination-Current-Page, X-Pagination-Per-Page");
	}
}

/* Splits raw_uri into path and query and removes the configured base path. */
static int
split_uri(struct request *req, const char *raw_uri)
{
	const char *base = req->cfg->base_path;
	size_t blen = strlen(base);
	const char *q = strchr(raw_uri, '?');
	size_t plen = q ? (size_t)(q - raw_uri) : strlen(raw_uri);
	char *path;

	while (blen && base[blen - 1] == '/')
		blen--;
	req->query = q ? arena_strdup(req->arena, q + 1) : "";
	if (blen) {
		if (plen < blen || strncmp(raw_uri, base, blen) != 0 ||
		    (plen > blen && raw_uri[blen] != '/'))
			return -1;
		raw_uri += blen;
		plen -= blen;
	}
	path = arena_strndup(req->arena, raw_uri, plen);
	if (path[0] != '/')
		return -1;
	req->path = router_normalize(req->arena, path);
	return 0;
}

static int
content_type_is_json(const char *ct)
{
	size_t n = strlen("application/json");

	return ct && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ROUTE_JSON / ROUTE_JSON_OPT body checks. 0, or -1 with the reply written. */
static int
parse_body_or_reply(struct request *req, struct response *res)
{
	unsigned flags = req->route->flags;
	char err[200];

	if (!(flags & (ROUTE_JSON | ROUTE_JSON_OPT)))
		return 0;
	if (req->body_len == 0 && (flags & ROUTE_JSON_OPT))
		return 0;
	if (req->body_len == 0) {
		reply_error(res, 400, "VALIDATION_ERROR",
		    "A JSON object body is required", NULL);
		return -1;
	}
	if (!content_type_is_json(request_env(req, "CONTENT_TYPE"))) {
		reply_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
		    "Content-Type must be application/json", NULL);
		return -1;
	}
	if (jsonx_parse(req->body, req->body_len, JSONX_MAX_DEPTH, &req->json,
	    err, sizeof(err)) == -1) {
		reply_error(res, 400, "VALIDATION_ERROR", err, NULL);
		return -1;
	}
	if (!json_is_object(req->json)) {
		reply_error(res, 400, "VALIDATION_ERROR",
		    "The JSON body must be an object", NULL);
		return -1;
	}
	return 0;
}

/* Bearer token from Authorization. NULL if absent or not Bearer. */
static const char *
bearer_token(const struct request *req)
{
	const char *h = request_env(req, "HTTP_AUTHORIZATION");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static int
authenticate_or_reply(struct request *req, struct response *res)
{
	const char *token;
	struct svc_error e = { 0 };
	enum status st;

	if (!(req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN)))
		return 0;
	token = bearer_token(req);
	if (!token) {
		reply_error(res, 401, "UNAUTHORIZED",
		    "Authentication required: send Authorization: Bearer <token>",
		    NULL);
		return -1;
	}
	/* History's cache keys ride on auth's memcached round trip. */
	auth_prefetch_hook(api_messages_prefetch, req);
	st = auth_verify_access(req->cfg, req->db, req->cache, token, &req->me, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return -1;
	}
	if ((req->route->flags & ROUTE_ADMIN) && !req->me.is_admin) {
		reply_error(res, 403, "FORBIDDEN", "Administrator role required", NULL);
		return -1;
	}
	return 0;
}

void
app_handle(struct request *req, struct response *res, const char *raw_uri,
	enum app_body body)
{
	const char *allow = NULL;
	enum router_result rr = ROUTER_NOT_FOUND;

	/* One memcached round trip per request where possible (cache.h). */
	cache_memo_begin(req->cache);
	reply_header(res, "X-Content-Type-Options", "nosniff");
	if (split_uri(req, raw_uri) == 0)
		rr = router_match(app_routes, app_routes_count, req->method,
		    req->path, req->arena, &req->route, &req->params, &allow);
	if (rr == ROUTER_NOT_FOUND) {
		req->route = NULL;
		reply_error(res, 404, "NOT_FOUND", "No such endpoint", NULL);
		apply_cors(req, res, NULL);
		return;
	}
	if (rr == ROUTER_BAD_METHOD) {
		/* req->route is the path's first route: it labels the metrics
		 * of this 405 (or OPTIONS); no handler runs. */
		if (strcmp(req->method, "OPTIONS") == 0) {
			char *methods = arena_printf(req->arena, "%s, OPTIONS", allow);

			reply_raw(res, 204, NULL, NULL, 0);
			reply_header(res, "Allow", methods);
			apply_cors(req, res, methods);
			return;
		}
		reply_header(res, "Allow", allow);
		reply_error(res, 405, "METHOD_NOT_ALLOWED",
		    "Method not allowed for this endpoint", NULL);
		apply_cors(req, res, NULL);
		return;
	}
	apply_cors(req, res, NULL);
	if (req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN))
		reply_header(res, "Cache-Control", "no-store");
	if (body == APP_BODY_TOO_LARGE) {
		reply_error(res, 413, "PAYLOAD_TOO_LARGE",
		    "Request body exceeds the configured limit", NULL);
		return;
	}
	if (body == APP_BODY_BAD) {
		reply_error(res, 400, "BAD_REQUEST",
		    "Malformed Content-Length, or a body shorter than it", NULL);
		return;
	}
	if (authenticate_or_reply(req, res) == -1 ||
	    parse_body_or_reply(req, res) == -1 ||
	    ratelimit_request_or_reply(req, res) == -1)
		return;
	req->route->handler(req, res);
}
