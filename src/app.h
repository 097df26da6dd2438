/*
 * app.h - the request pipeline shared by every HTTP transport.
 *
 * app_handle() takes a request whose method, raw URI and transport are
 * filled in and produces the response: base-path stripping, routing (404 /
 * 405 with Allow), CORS, body checks (413 / 415 / 400), authentication,
 * rate limiting, then the route's handler, then the headers every response
 * carries. It never writes to the network; the transport does that.
 */
#ifndef PARLEY_APP_H
#define PARLEY_APP_H

#include <stddef.h>

#include "core/reply.h"
#include "core/request.h"
#include "core/router.h"

/* The route table (src/routes.c). */
extern const struct route app_routes[];
extern const size_t app_routes_count;

/* Method labels for metrics; app_method_index() maps a method to one. */
extern const char *const app_methods[];
extern const int app_methods_count;
int app_method_index(const char *method);

/* Route template labels for metrics, parallel to app_routes. */
const char *const *app_route_names(void);

/* Identifies the route table for the metrics scoreboard layout. */
unsigned long long app_layout_key(void);

/* What the transport made of the request body. */
enum app_body {
	APP_BODY_OK,        /* read whole, or there was none */
	APP_BODY_TOO_LARGE, /* declared past the cap and not read: 413 */
	APP_BODY_BAD,       /* malformed length, or the body ended short: 400 */
};

/*
 * Handles one request. raw_uri is REQUEST_URI (path + optional query).
 * body must already be read (NULL/0 if none, or unless body says why
 * not); a body that is not APP_BODY_OK is answered once the route is
 * known, before authentication.
 */
void app_handle(struct request *req, struct response *res, const char *raw_uri,
	enum app_body body);

/* Process start time (seconds since the epoch), for /health uptime. */
extern double app_started_at;

#endif
