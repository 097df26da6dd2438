#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "banned.h"

void
reply_init(struct response *res, struct arena *a)
{
	memset(res, 0, sizeof(*res));
	res->arena = a;
	res->status = 200;
}

void
reply_release(struct response *res)
{
	if (res->body_owned)
		free(res->body);
	res->body = NULL;
	res->body_owned = 0;
}

void
reply_header(struct response *res, const char *name, const char *value)
{
	for (int i = 0; i < res->nheaders; i++)
		if (strcmp(res->hname[i], name) == 0) {
			res->hvalue[i] = arena_strdup(res->arena, value);
			return;
		}
	if (res->nheaders == REPLY_MAX_HEADERS)
		return;
	res->hname[res->nheaders] = arena_strdup(res->arena, name);
	res->hvalue[res->nheaders++] = arena_strdup(res->arena, value);
}

/* Serialises and steals root. */
static void
set_json(struct response *res, int http, json_t *root)
{
	reply_release(res);
	res->status = http;
	res->content_type = "application/json; charset=utf-8";
	res->body = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(root);
	if (!res->body) {
		/* Only reachable on out-of-memory inside jansson. */
		res->status = 500;
		res->body = (char *)"{\"success\":false,\"message\":\"Internal server error\","
		    "\"code\":\"INTERNAL_ERROR\",\"error\":{\"code\":\"INTERNAL_ERROR\","
		    "\"message\":\"Internal server error\"}}";
		res->body_len = strlen(res->body);
		return;
	}
	res->body_owned = 1;
	res->body_len = strlen(res->body);
}

void
reply_data(struct response *res, int http, const char *message, json_t *data)
{
	json_t *root = json_object();

	json_object_set_new(root, "success", json_true());
	json_object_set_new(root, "message", json_string(message ? message : "OK"));
	json_object_set_new(root, "data", data ? data : json_null());
	res->error_code = NULL;
	set_json(res, http, root);
}

void
reply_data_text(struct response *res, int http, const char *message,
	const char *data, size_t data_len)
{
	char *msg = NULL, *body;
	size_t mlen, n;
	json_t *m;

	message = message ? message : "OK";
	m = json_string(message);
	msg = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
	json_decref(m);
	if (!msg) {
		reply_error(res, 500, "INTERNAL_ERROR", "Internal server error", NULL);
		return;
	}
	mlen = strlen(msg);
	n = sizeof("{\"success\":true,\"message\":,\"data\":}") + mlen + data_len;
	body = arena_alloc(res->arena, n);
	n = (size_t)snprintf(body, n, "{\"success\":true,\"message\":%s,\"data\":%.*s}",
	    msg, (int)data_len, data);
	free(msg);
	reply_release(res);
	res->status = http;
	res->content_type = "application/json; charset=utf-8";
	res->error_code = NULL;
	res->body = body;
	res->body_len = n;
}

static json_t *
error_root(const char *code, const char *message, json_t *details)
{
	json_t *root = json_object(), *err = json_object();

	json_object_set_new(err, "code", json_string(code));
	json_object_set_new(err, "message", json_string(message));
	if (details)
		json_object_set_new(err, "details", details);
	json_object_set_new(root, "success", json_false());
	json_object_set_new(root, "message", json_string(message));
	json_object_set_new(root, "code", json_string(code));
	json_object_set_new(root, "error", err);
	return root;
}

void
reply_error(struct response *res, int http, const char *code,
	const char *message, json_t *details)
{
	res->error_code = code;
	set_json(res, http, error_root(code, message, details));
}

void
reply_invalid(struct response *res, const char *field, const char *message)
{
	json_t *details = NULL;

	if (field)
		details = json_pack("{s:{s:s}}", "fields", field, message);
	reply_error(res, 400, "VALIDATION_ERROR", message, details);
}

void
reply_status(struct response *res, enum status st, const struct svc_error *e)
{
	const char *code = e && e->code ? e->code : status_code(st);
	const char *msg = e && e->message ? e->message : status_message(st);
	json_t *details = NULL, *root;
	char buf[32];

	if (e && e->field)
		details = json_pack("{s:{s:s}}", "fields", e->field, msg);
	root = error_root(code, msg, details);
	if ((st == ST_RATE_LIMITED || st == ST_UNAVAILABLE) && e &&
	    e->retry_after > 0) {
		snprintf(buf, sizeof(buf), "%d", e->retry_after);
		reply_header(res, "Retry-After", buf);
		json_object_set_new(root, "retryAfter",
		    json_integer(e->retry_after));
	}
	res->error_code = code;
	set_json(res, status_http(st), root);
}

void
reply_raw(struct response *res, int http, const char *content_type,
	const char *body, size_t len)
{
	reply_release(res);
	res->status = http;
	res->content_type = content_type;
	res->body = (char *)body;
	res->body_len = len;
}

void
reply_page(struct response *res, const char *message, json_t *items,
	const struct page *pg, long total, const char *next_cursor)
{
	reply_page_capped(res, message, items, pg, total, 0, next_cursor);
}

void
reply_page_capped(struct response *res, const char *message, json_t *items,
	const struct page *pg, long total, int capped, const char *next_cursor)
{
	json_t *root = json_object(), *p;
	long pages = pg->limit ? (total + pg->limit - 1) / pg->limit : 0;
	char buf[32];

	p = json_pack("{s:I,s:I,s:I,s:I,s:b}", "page", (json_int_t)pg->page,
	    "limit", (json_int_t)pg->limit, "total", (json_int_t)total,
	    "totalPages", (json_int_t)pages, "hasMore",
	    next_cursor != NULL || pg->page < pages);
	if (next_cursor)
		json_object_set_new(p, "nextCursor", json_string(next_cursor));
	if (capped)
		json_object_set_new(p, "totalCapped", json_true());
	json_object_set_new(root, "success", json_true());
	json_object_set_new(root, "message", json_string(message ? message : "OK"));
	json_object_set_new(root, "data", items);
	json_object_set_new(root, "pagination", p);
	snprintf(buf, sizeof(buf), "%ld", total);
	reply_header(res, "X-Pagination-Total", buf);
	snprintf(buf, sizeof(buf), "%ld", pages);
	reply_header(res, "X-Pagination-Pages", buf);
	snprintf(buf, sizeof(buf), "%ld", pg->page);
	reply_header(res, "X-Pagination-Current-Page", buf);
	snprintf(buf, sizeof(buf), "%ld", pg->limit);
	reply_header(res, "X-Pagination-Per-Page", buf);
	set_json(res, 200, root);
}
