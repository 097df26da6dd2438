/*
 * router.h - method + path pattern matching over one static route table.
 *
 * Patterns are literal segments and {name} placeholders, always spelt with
 * the canonical /api/v1 prefix: "/api/v1/users/{id}". router_normalize()
 * maps the /api/... alias onto /api/v1/... and drops a trailing slash, so
 * the table lists each route once. A HEAD request matches GET routes.
 */
#ifndef PARLEY_ROUTER_H
#define PARLEY_ROUTER_H

#include <stddef.h>

#include "arena.h"

#define ROUTER_MAX_PARAMS 6

struct request;
struct response;

typedef void route_handler(struct request *req, struct response *res);

enum route_flags {
	ROUTE_PUBLIC = 0,
	ROUTE_AUTH = 1 << 0,      /* caller must present a valid access token */
	ROUTE_JSON = 1 << 1,      /* body must be a JSON object */
	ROUTE_JSON_OPT = 1 << 2,  /* body may be empty or a JSON object */
	ROUTE_ADMIN = 1 << 3,     /* caller must be a platform ADMIN */
	ROUTE_RAW_BODY = 1 << 4,  /* body read but not parsed (uploads) */
};

struct route {
	const char *method;
	const char *pattern;
	route_handler *handler;
	unsigned flags;
	const char *limit_class; /* rate-limit class name or NULL for default */
};

struct route_params {
	int n;
	const char *name[ROUTER_MAX_PARAMS];
	const char *value[ROUTER_MAX_PARAMS];
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/*
 * Rewrites path (no query string) in place: "/api/x" -> "/api/v1/x"
 * (returned in arena memory), trailing '/' removed. Returns the new path.
 */
const char *router_normalize(struct arena *a, const char *path);

/*
 * Finds the route for method + normalized path in routes[0..n). On
 * ROUTER_FOUND *out is set and params point into arena copies (values
 * percent-decoded). On ROUTER_BAD_METHOD, allow receives the permitted
 * methods ("GET, POST") in arena memory and *out the first route whose
 * path matched (for labels: the request is not that route's), with no
 * params.
 */
enum router_result router_match(const struct route *routes, size_t n,
	const char *method, const char *path, struct arena *a,
	const struct route **out, struct route_params *params,
	const char **allow);

/* The value of {name} or NULL. */
const char *router_param(const struct route_params *p, const char *name);

/* Percent-decodes s[0..len) into arena memory; NULL if malformed or has NUL. */
char *router_unescape(struct arena *a, const char *s, size_t len, int plus_space);

#endif
