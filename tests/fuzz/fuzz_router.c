/*
 * fuzz_router.c - path normalisation and matching (src/core/router.c).
 *
 * Input: "METHOD\nPATH". Normalises PATH and matches it against a table
 * shaped like src/routes.c (literal segments, {params}, several methods per
 * path). Checks: the normalised path has no trailing '/' (except "/") and
 * maps /api/x to /api/v1/x; a match has one value per placeholder, each
 * non-empty, without '/' and named as in the pattern; a 405 lists only
 * methods of routes whose pattern matches, HEAD only beside GET.
 */
#include <string.h>

#include "core/router.h"
#include "fuzz_util.h"

static void handler(struct request *req, struct response *res) {}

static const struct route routes[] = {
	{ "GET", "/api/v1/health", handler, 0, NULL },
	{ "POST", "/api/v1/auth/login", handler, 0, NULL },
	{ "GET", "/api/v1/users/{id}", handler, 0, NULL },
	{ "PATCH", "/api/v1/users/{id}", handler, 0, NULL },
	{ "DELETE", "/api/v1/users/{id}", handler, 0, NULL },
	{ "GET", "/api/v1/groups/{id}/members/{userId}", handler, 0, NULL },
	{ "PUT", "/api/v1/groups/{id}/members/{userId}/role", handler, 0, NULL },
	{ "POST", "/api/v1/messages/{id}/reactions/{emoji}", handler, 0, NULL },
	{ "DELETE", "/api/v1/messages/{id}/reactions/{emoji}", handler, 0, NULL },
	{ "GET", "/api/v1/a/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}", handler, 0, NULL },
	{ "OPTIONS", "/api/v1/a/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}", handler, 0, NULL },
	{ "GET", "/", handler, 0, NULL },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static int
count_params(const char *pat)
{
	int n = 0;

	for (; *pat; pat++)
		n += *pat == '{';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct route_params params;
	const struct route *r = NULL;
	const char *norm, *allow = NULL;
	char *parts[2];
	size_t plen, nlen;
	enum router_result res;

	fuzz_split(data, size, parts, 2);
	arena_init(&a);
	plen = strlen(parts[1]);

	norm = router_normalize(&a, parts[1]);
	nlen = strlen(norm);
	FUZZ_CHECK(nlen <= plen + 3);
	if (nlen > 1)
		FUZZ_CHECK(norm[nlen - 1] != '/');
	if (strncmp(parts[1], "/api/", 5) == 0 &&
	    strncmp(parts[1], "/api/v1/", 8) != 0 && strcmp(parts[1], "/api/v1") != 0)
		FUZZ_CHECK(strncmp(norm, "/api/v1/", 8) == 0 ||
		    strcmp(norm, "/api/v1") == 0);

	memset(&params, 0, sizeof(params));
	res = router_match(routes, NROUTES, parts[0], norm, &a, &r, &params, &allow);
	if (res == ROUTER_FOUND) {
		FUZZ_CHECK(r && params.n == count_params(r->pattern));
		FUZZ_CHECK(strcmp(r->method, parts[0]) == 0 ||
		    (strcmp(parts[0], "HEAD") == 0 && strcmp(r->method, "GET") == 0));
		for (int i = 0; i < params.n; i++) {
			const char *at = strstr(r->pattern, params.name[i]);

			FUZZ_CHECK(params.value[i][0] != '\0');
			FUZZ_CHECK(!strchr(params.value[i], '/'));
			FUZZ_CHECK(at && at[-1] == '{' &&
			    at[strlen(params.name[i])] == '}');
			FUZZ_CHECK(router_param(&params, params.name[i]) != NULL);
		}
	} else if (res == ROUTER_BAD_METHOD) {
		const char *p = allow;

		FUZZ_CHECK(allow && *allow && params.n == 0);
		while (*p) {
			size_t n = strcspn(p, ",");
			int listed = 0;

			for (size_t i = 0; i < NROUTES; i++)
				listed |= strlen(routes[i].method) == n &&
				    strncmp(routes[i].method, p, n) == 0;
			FUZZ_CHECK(listed || (n == 4 && strncmp(p, "HEAD", 4) == 0 &&
			    strstr(allow, "GET")));
			p += n;
			if (*p)
				p += 2; /* ", " */
		}
	} else {
		FUZZ_CHECK(res == ROUTER_NOT_FOUND && params.n == 0);
	}

	arena_release(&a);
	free(parts[0]);
	free(parts[1]);
	return 0;
}
