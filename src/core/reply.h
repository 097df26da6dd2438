/*
 * reply.h - building the response: envelopes, errors, pagination, headers.
 *
 * Every JSON response goes through here so that the envelope is the same
 * everywhere (DESIGN §3):
 *   success: {"success":true,"message":...,"data":...[,"pagination":...]}
 *   error:   {"success":false,"message":...,"code":C,
 *             "error":{"code":C,"message":...,"details":{...}}[,"retryAfter":N]}
 * A handler calls exactly one reply_* body function; later calls replace
 * the earlier body (the last word wins), so an error path can override.
 */
#ifndef PARLEY_REPLY_H
#define PARLEY_REPLY_H

#include <stddef.h>

#include <jansson.h>

#include "arena.h"
#include "request.h"
#include "status.h"

#define REPLY_MAX_HEADERS 16

struct response {
	int status;
	const char *content_type;
	char *body;          /* malloc'd when body_owned, else borrowed */
	size_t body_len;
	int body_owned;
	const char *error_code; /* for the access log */
	int nheaders;
	const char *hname[REPLY_MAX_HEADERS];
	const char *hvalue[REPLY_MAX_HEADERS];
	struct arena *arena;
};

void reply_init(struct response *res, struct arena *a);
/* Frees an owned body. */
void reply_release(struct response *res);

/* Adds a header (name and value copied to the arena). Extra ones are dropped. */
void reply_header(struct response *res, const char *name, const char *value);

/* Success envelope; steals data (may be NULL for "data": null). */
void reply_data(struct response *res, int http, const char *message, json_t *data);

/*
 * Success envelope around data that is already serialised JSON (data_len
 * bytes, borrowed; arena memory is fine: the body is built in res->arena).
 * For hot paths that splice cached JSON instead of building a tree.
 */
void reply_data_text(struct response *res, int http, const char *message,
	const char *data, size_t data_len);

/* Error envelope; steals details (may be NULL). */
void reply_error(struct response *res, int http, const char *code,
	const char *message, json_t *details);

/* Validation error naming one field: details = {"fields": {field: message}}. */
void reply_invalid(struct response *res, const char *field, const char *message);

/* Maps a service status (plus optional details from e) to an error reply. */
void reply_status(struct response *res, enum status st, const struct svc_error *e);

/* A non-JSON body (borrowed; must outlive the response). */
void reply_raw(struct response *res, int http, const char *content_type,
	const char *body, size_t len);

/* List reply: data = items (stolen), pagination object and X-Pagination-* headers. */
void reply_page(struct response *res, const char *message, json_t *items,
	const struct page *pg, long total, const char *next_cursor);
/*
 * reply_page() for a total that stopped counting: with capped set, total
 * is a lower bound and the pagination object says "totalCapped": true.
 */
void reply_page_capped(struct response *res, const char *message,
	json_t *items, const struct page *pg, long total, int capped,
	const char *next_cursor);

#endif
