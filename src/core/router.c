#include <string.h>

#include "router.h"
#include "hexdigit.h"
#include "banned.h"

const char *
router_normalize(struct arena *a, const char *path)
{
	size_t len = strlen(path);
	char *p;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= 4 && strncmp(path, "/api", 4) == 0 &&
	    (len == 4 || path[4] == '/') &&
	    !(len >= 7 && strncmp(path + 4, "/v1", 3) == 0 &&
	    (len == 7 || path[7] == '/'))) {
		p = arena_alloc(a, len + 4);
		memcpy(p, "/api/v1", 7);
		memcpy(p + 7, path + 4, len - 4);
		p[len + 3] = '\0';
		return p;
	}
	return arena_strndup(a, path, len);
}

char *
router_unescape(struct arena *a, const char *s, size_t len, int plus_space)
{
	char *out = arena_alloc(a, len + 1);
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return NULL;
			hi = hexdigit_value(s[i + 1]);
			lo = hexdigit_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_space) {
			out[j++] = ' ';
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* Matches one pattern against path; fills params on success. */
static int
match_pattern(const char *pat, const char *path, struct arena *a,
	struct route_params *params)
{
	const char *p = pat, *s = path;

	params->n = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			const char *end = strchr(s, '/');
			size_t vlen = end ? (size_t)(end - s) : strlen(s);
			char *v;

			if (!close || vlen == 0 || params->n == ROUTER_MAX_PARAMS)
				return 0;
			v = router_unescape(a, s, vlen, 0);
			if (!v || strchr(v, '/'))
				return 0;
			params->name[params->n] =
			    arena_strndup(a, p + 1, (size_t)(close - p - 1));
			params->value[params->n++] = v;
			p = close + 1;
			s += vlen;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static int
method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	    (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

enum router_result
router_match(const struct route *routes, size_t n, const char *method,
	const char *path, struct arena *a, const struct route **out,
	struct route_params *params, const char **allow)
{
	char allowbuf[128];
	size_t alen = 0;
	const struct route *path_seen = NULL;

	allowbuf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!match_pattern(routes[i].pattern, path, a, params))
			continue;
		if (method_matches(routes[i].method, method)) {
			*out = &routes[i];
			return ROUTER_FOUND;
		}
		if (!path_seen)
			path_seen = &routes[i];
		if (!strstr(allowbuf, routes[i].method) &&
		    alen + strlen(routes[i].method) + 3 < sizeof(allowbuf)) {
			if (alen) {
				memcpy(allowbuf + alen, ", ", 2);
				alen += 2;
			}
			memcpy(allowbuf + alen, routes[i].method,
			    strlen(routes[i].method) + 1);
			alen += strlen(routes[i].method);
		}
	}
	params->n = 0;
	if (!path_seen)
		return ROUTER_NOT_FOUND;
	if (strstr(allowbuf, "GET") && !strstr(allowbuf, "HEAD") &&
	    alen + 7 < sizeof(allowbuf)) {
		memcpy(allowbuf + alen, ", HEAD", 7);
		alen += 6;
	}
	*allow = arena_strndup(a, allowbuf, alen);
	*out = path_seen;
	return ROUTER_BAD_METHOD;
}

const char *
router_param(const struct route_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}
