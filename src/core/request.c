#include <stdlib.h>
#include <string.h>

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

static long
query_long(const struct request *req, const char *name, long def)
{
	const char *v = request_query(req, name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end == '\0' ? n : def;
}

void
request_page(const struct request *req, struct page *pg)
{
	pg->page = query_long(req, "page", 1);
	pg->limit = query_long(req, "limit", 20);
	if (pg->page < 1)
		pg->page = 1;
	if (pg->page > 1000000)
		pg->page = 1000000;
	if (pg->limit < 1)
		pg->limit = 1;
	if (pg->limit > 100)
		pg->limit = 100;
	pg->offset = (pg->page - 1) * pg->limit;
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
