/*
 * request.h - one HTTP request as the handlers see it.
 *
 * Transport-neutral: the FastCGI server (src/fcgi_server.c) fills it in;
 * unit tests can build one by hand. Everything hanging off a request lives
 * in req->arena or is released by request_release() after the response is
 * written. Handlers get per-thread db and cache handles through it and must
 * not keep any pointer past the request.
 */
#ifndef PARLEY_REQUEST_H
#define PARLEY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "arena.h"
#include "ids.h"
#include "router.h"

struct config;
struct db;
struct cache;
struct response;

/* Who is calling; filled by auth for ROUTE_AUTH routes. */
struct identity {
	int authenticated;
	char user_id[IDS_UUID_LEN];
	char session_id[IDS_UUID_LEN];
	int is_admin;
};

struct request {
	struct arena *arena;
	const char *method;
	const char *path;      /* normalized (see router_normalize) */
	const char *query;     /* raw query string without '?', never NULL */
	const char *client_ip; /* after trusted-proxy handling */
	const char *body;      /* raw body, NUL-terminated, or NULL */
	size_t body_len;
	json_t *json;          /* parsed body for ROUTE_JSON routes; owned */
	const struct route *route;
	struct route_params params;
	struct identity me;
	int64_t start_us;      /* monotonic start, for latency */

	const struct config *cfg;
	struct db *db;
	struct cache *cache;

	/* Transport: CGI-style variable lookup ("HTTP_AUTHORIZATION"). */
	const char *(*getenv)(void *transport, const char *name);
	void *transport;
};

/* A CGI variable ("CONTENT_TYPE", "HTTP_ORIGIN", ...) or NULL. Borrowed. */
const char *request_env(const struct request *req, const char *name);

/*
 * The percent-decoded value of query parameter name, or NULL if absent.
 * Arena memory. A malformed escape reads as absent.
 */
const char *request_query(const struct request *req, const char *name);

/* A NULL-terminated list of the spellings of one query parameter. */
#define REQUEST_NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/*
 * The value of the first of names (spellings of one filter, e.g.
 * REQUEST_NAMES("type", "message_type")) present in the query, into *out;
 * NULL when none is. A spelling given empty ("?type=") is a client's unset
 * variable, not "no filter" - reading it as absent would silently widen
 * the answer - so it returns -1 with *field naming that spelling (*out
 * NULL). 0 otherwise.
 */
int request_filter(const struct request *req, const char *const *names,
	const char **out, const char **field);

/*
 * request_filter() for handlers: on -1 it has answered 400
 * VALIDATION_ERROR naming the empty parameter, and the caller returns.
 */
int request_filter_or_reply(const struct request *req, struct response *res,
	const char *const *names, const char **out);

/* The {name} path parameter (already decoded) or NULL. */
const char *request_param(const struct request *req, const char *name);

/* Every paged route's bounds (query or JSON body alike). */
#define PAGE_MAX 1000000
#define PAGE_LIMIT_MAX 100
#define PAGE_LIMIT_DEFAULT 20

struct page {
	long page;   /* 1..PAGE_MAX */
	long limit;  /* 1..PAGE_LIMIT_MAX, default PAGE_LIMIT_DEFAULT */
	long offset; /* (page - 1) * limit */
};

/*
 * Clamps pg->page and pg->limit into their bounds and sets pg->offset:
 * the one place a page request's numbers are bounded.
 */
void request_page_clamp(struct page *pg);

/*
 * Reads ?page= and ?limit= into pg. Absent or empty means the default
 * (page 1, limit 20); a decimal integer out of range is clamped
 * (request_page_clamp). Anything else - junk, "1e3", "10x", a number
 * past long's range - returns -1 with *field naming the first bad
 * parameter ("page" or "limit", static) and pg holding the defaults.
 */
int request_page_parse(const struct request *req, struct page *pg,
	const char **field);

/*
 * request_page_parse() for handlers: on -1 it has answered 400
 * VALIDATION_ERROR naming the field (details.fields), and the caller
 * returns.
 */
int request_page_or_reply(const struct request *req, struct response *res,
	struct page *pg);

/*
 * The body field spelled names (JSONX_NAMES(...), jsonx.h) into *v
 * (borrowed, NULL if absent). When two spellings disagree it has answered
 * 400 VALIDATION_ERROR naming the later one, and returns -1.
 */
int request_field_or_reply(const struct request *req, struct response *res,
	const char *const *names, json_t **v);

struct svc_ctx;
/* The service context for this request (handles borrowed from req). */
void request_svc(const struct request *req, struct svc_ctx *ctx);

/* Releases the parsed JSON body. */
void request_release(struct request *req);

#endif
