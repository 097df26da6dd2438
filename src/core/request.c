#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "reply.h"
#include "request.h"
#include "svc.h"
#include "banned.h"

const char *
request_env(const struct request *req, const char *name)
{
	return req->getenv ? req->getenv(req->transport, name) : NULL;
}

const char *
request_query(const struct request *req, const char *name)
{
	size_t nlen = strlen(name);
	const char *q = req->query;

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;

		if (klen == nlen && memcmp(q, name, nlen) == 0) {
			if (!eq)
				return "";
			return router_unescape(req->arena, eq + 1,
			    len - klen - 1, 1);
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

int
request_filter(const struct request *req, const char *const *names,
	const char **out, const char **field)
{
	*out = NULL;
	for (; *names; names++) {
		const char *v = request_query(req, *names);

		if (v && !*v) {
			*out = NULL;
			*field = *names;
			return -1;
		}
		if (v && !*out)
			*out = v;
	}
	return 0;
}

int
request_filter_or_reply(const struct request *req, struct response *res,
	const char *const *names, const char **out)
{
	const char *field;

	if (request_filter(req, names, out, &field) == 0)
		return 0;
	reply_invalid(res, field, arena_printf(req->arena,
	    "%s must not be empty (leave it out for no filter)", field));
	return -1;
}

const char *
request_param(const struct request *req, const char *name)
{
	return router_param(&req->params, name);
}

void
request_release(struct request *req)
{
	if (req->json) {
		json_decref(req->json);
		req->json = NULL;
	}
}

/*
 * ?name= as a long into *out: 0 with def when absent or empty, 0 with the
 * value for an optionally signed decimal integer, -1 for anything else
 * (junk, "1e3", "10x", " 5", a value past long's range).
 */
static int
query_long(const struct request *req, const char *name, long def, long *out)
{
	const char *v = request_query(req, name);
	const char *d;
	char *end;
	long n;

	*out = def;
	if (!v || !*v)
		return 0;
	d = *v == '-' || *v == '+' ? v + 1 : v;
	if (*d < '0' || *d > '9')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

void
request_page_clamp(struct page *pg)
{
	if (pg->page < 1)
		pg->page = 1;
	if (pg->page > PAGE_MAX)
		pg->page = PAGE_MAX;
	if (pg->limit < 1)
		pg->limit = 1;
	if (pg->limit > PAGE_LIMIT_MAX)
		pg->limit = PAGE_LIMIT_MAX;
	pg->offset = (pg->page - 1) * pg->limit;
}

int
request_page_parse(const struct request *req, struct page *pg,
	const char **field)
{
	int rc = 0;

	*field = NULL;
	if (query_long(req, "page", 1, &pg->page) == -1) {
		*field = "page";
		rc = -1;
	}
	if (query_long(req, "limit", PAGE_LIMIT_DEFAULT, &pg->limit) == -1 &&
	    rc == 0) {
		*field = "limit";
		rc = -1;
	}
	if (rc == -1) {
		pg->page = 1;
		pg->limit = PAGE_LIMIT_DEFAULT;
	}
	request_page_clamp(pg);
	return rc;
}

int
request_page_or_reply(const struct request *req, struct response *res,
	struct page *pg)
{
	const char *field;

	if (request_page_parse(req, pg, &field) == 0)
		return 0;
	reply_invalid(res, field, strcmp(field, "page") == 0 ?
	    "page must be an integer (1 or more)" :
	    "limit must be an integer (1-100)");
	return -1;
}

int
request_field_or_reply(const struct request *req, struct response *res,
	const char *const *names, json_t **v)
{
	const char *bad;

	if (jsonx_field(req->json, names, v, &bad) == 0)
		return 0;
	reply_invalid(res, bad, jsonx_disagree(req->arena, req->json, names,
	    bad));
	return -1;
}

void
request_svc(const struct request *req, struct svc_ctx *ctx)
{
	ctx->cfg = req->cfg;
	ctx->db = req->db;
	ctx->cache = req->cache;
	ctx->arena = req->arena;
	ctx->client_ip = req->client_ip;
}
