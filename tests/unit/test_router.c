#include <string.h>

#include "core/arena.h"
#include "core/reply.h"
#include "core/request.h"
#include "core/router.h"
#include "unit.h"

static void h_a(struct request *q, struct response *r) { }
static void h_b(struct request *q, struct response *r) { }

static const struct route routes[] = {
	{ "GET", "/api/v1/users/{id}", h_a, 0, NULL },
	{ "PATCH", "/api/v1/users/{id}", h_b, 0, NULL },
	{ "GET", "/api/v1/users/me", h_b, 0, NULL },
	{ "POST", "/api/v1/groups/{id}/members/{userId}", h_a, 0, NULL },
	{ "GET", "/health", h_a, 0, NULL },
};
#define N (sizeof(routes) / sizeof(routes[0]))

static void
test_normalize(void)
{
	struct arena a;

	arena_init(&a);
	CHECK_STR(router_normalize(&a, "/api/users"), "/api/v1/users");
	CHECK_STR(router_normalize(&a, "/api/v1/users/"), "/api/v1/users");
	CHECK_STR(router_normalize(&a, "/api"), "/api/v1");
	CHECK_STR(router_normalize(&a, "/api/v1"), "/api/v1");
	CHECK_STR(router_normalize(&a, "/apiary"), "/apiary");
	CHECK_STR(router_normalize(&a, "/api/v10/x"), "/api/v1/v10/x");
	CHECK_STR(router_normalize(&a, "/"), "/");
	arena_release(&a);
}

static void
test_match(void)
{
	struct arena a;
	const struct route *r = NULL;
	struct route_params p;
	const char *allow = NULL;

	arena_init(&a);
	CHECK(router_match(routes, N, "GET", "/api/v1/users/abc", &a, &r, &p,
	    &allow) == ROUTER_FOUND);
	CHECK(r == &routes[0]);
	CHECK_STR(router_param(&p, "id"), "abc");
	CHECK(router_param(&p, "nope") == NULL);

	CHECK(router_match(routes, N, "HEAD", "/health", &a, &r, &p,
	    &allow) == ROUTER_FOUND);
	CHECK(router_match(routes, N, "POST", "/api/v1/groups/g1/members/u%2D2",
	    &a, &r, &p, &allow) == ROUTER_FOUND);
	CHECK_STR(router_param(&p, "id"), "g1");
	CHECK_STR(router_param(&p, "userId"), "u-2");

	CHECK(router_match(routes, N, "DELETE", "/api/v1/users/abc", &a, &r,
	    &p, &allow) == ROUTER_BAD_METHOD);
	CHECK_STR(allow, "GET, PATCH, HEAD");
	/* The first route of the path labels the 405's metrics. */
	CHECK(r == &routes[0] && p.n == 0);
	CHECK(router_match(routes, N, "GET", "/api/v1/users", &a, &r, &p,
	    &allow) == ROUTER_NOT_FOUND);
	CHECK(router_match(routes, N, "GET", "/api/v1/users/a/b", &a, &r, &p,
	    &allow) == ROUTER_NOT_FOUND);
	/* An encoded slash or NUL must not reach a parameter. */
	CHECK(router_match(routes, N, "GET", "/api/v1/users/a%2Fb", &a, &r,
	    &p, &allow) == ROUTER_NOT_FOUND);
	CHECK(router_match(routes, N, "GET", "/api/v1/users/a%00", &a, &r,
	    &p, &allow) == ROUTER_NOT_FOUND);
	CHECK(router_match(routes, N, "GET", "/api/v1/users/%zz", &a, &r,
	    &p, &allow) == ROUTER_NOT_FOUND);
	arena_release(&a);
}

static void
test_unescape(void)
{
	struct arena a;

	arena_init(&a);
	CHECK_STR(router_unescape(&a, "a+b%20c", 7, 1), "a b c");
	CHECK_STR(router_unescape(&a, "a+b", 3, 0), "a+b");
	CHECK(router_unescape(&a, "%4", 2, 0) == NULL);
	CHECK(router_unescape(&a, "%", 1, 0) == NULL);
	arena_release(&a);
}

static const char *
fake_env(void *t, const char *name)
{
	return NULL;
}

static void
test_query_and_page(void)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
		{ "page=abc", "page" },
		{ "page=1.5", "page" },
		{ "page=%202", "page" },
		{ "page=-", "page" },
		{ "page=99999999999999999999999", "page" },
		{ "page=x&limit=y", "page" },
		{ "limit=1e3", "limit" },
		{ "limit=10x", "limit" },
		{ "limit=0x10", "limit" },
		{ "page=2&limit=-99999999999999999999999", "limit" },
	};
	struct arena a;
	struct request req;
	struct page pg;
	const char *field;

	arena_init(&a);
	memset(&req, 0, sizeof(req));
	req.arena = &a;
	req.getenv = fake_env;
	req.query = "query=hello+world&page=3&limit=500&empty=&flag";
	CHECK_STR(request_query(&req, "query"), "hello world");
	CHECK_STR(request_query(&req, "empty"), "");
	CHECK_STR(request_query(&req, "flag"), "");
	CHECK(request_query(&req, "missing") == NULL);
	CHECK(request_page_parse(&req, &pg, &field) == 0 && field == NULL);
	CHECK(pg.page == 3 && pg.limit == 100 && pg.offset == 200);
	req.query = "page=-4&limit=";
	CHECK(request_page_parse(&req, &pg, &field) == 0);
	CHECK(pg.page == 1 && pg.limit == 20 && pg.offset == 0);
	req.query = "page=%2B2&limit=0";
	CHECK(request_page_parse(&req, &pg, &field) == 0);
	CHECK(pg.page == 2 && pg.limit == 1 && pg.offset == 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.query = bad[i].query;
		CHECK(request_page_parse(&req, &pg, &field) == -1);
		CHECK_STR(field, bad[i].field);
		CHECK(pg.page == 1 && pg.limit == 20 && pg.offset == 0);
	}
	arena_release(&a);
}

int
main(void)
{
	RUN(test_normalize);
	RUN(test_match);
	RUN(test_unescape);
	RUN(test_query_and_page);
	return unit_done();
}
