/*
 * fuzz_request.c - the query string (src/core/request.c: request_query,
 * request_page_parse) and percent-decoding (router_unescape).
 *
 * Input: "NAME\nQUERY". Looks NAME, "page" and "limit" up in QUERY and
 * checks: a value found is NUL-free text no longer than QUERY, equal to
 * what a straightforward decoder makes of the raw value; page and limit
 * always land in their documented ranges. router_unescape() of the whole
 * query is also checked against that decoder, with and without '+' as
 * space. Arena memory is one malloc per allocation (src/core/arena.c under ASan).
 */
#include <string.h>

#include "core/request.h"
#include "core/router.h"
#include "fuzz_util.h"

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The reference decoder: 0 and out filled, or -1 (bad escape or %00). */
static int
ref_unescape(const char *s, size_t len, int plus, char *out)
{
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
				return -1;
			out[j] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
			if (out[j++] == '\0')
				return -1;
			i += 2;
		} else {
			out[j++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[j] = '\0';
	return 0;
}

/* The raw value of name in q the way a reader of the spec would find it. */
static const char *
ref_find(const char *q, const char *name, size_t *vlen, int *has_eq)
{
	size_t nlen = strlen(name);

	while (*q) {
		size_t len = strcspn(q, "&");

		if (strncmp(q, name, nlen) == 0 && (len == nlen || q[nlen] == '=')) {
			*has_eq = len > nlen;
			*vlen = len > nlen ? len - nlen - 1 : 0;
			return q + nlen + (len > nlen);
		}
		q += len + (q[len] == '&');
	}
	return NULL;
}

static void
check_lookup(struct request *req, const char *name, char *scratch)
{
	const char *v = request_query(req, name), *raw;
	size_t vlen = 0;
	int has_eq = 0;

	if (!*name || strchr(name, '&') || strchr(name, '='))
		return; /* such names are never asked for */
	raw = ref_find(req->query, name, &vlen, &has_eq);
	if (!raw) {
		FUZZ_CHECK(v == NULL);
		return;
	}
	if (!has_eq) {
		FUZZ_CHECK(v && *v == '\0');
		return;
	}
	if (ref_unescape(raw, vlen, 1, scratch) == -1) {
		FUZZ_CHECK(v == NULL);
		return;
	}
	FUZZ_CHECK(v && strcmp(v, scratch) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct request req;
	struct page pg;
	char *parts[2], *scratch;
	char *u;
	const char *field;
	size_t qlen;
	int rc;

	fuzz_split(data, size, parts, 2);
	qlen = strlen(parts[1]);
	scratch = malloc(qlen + 1);
	arena_init(&a);
	memset(&req, 0, sizeof(req));
	req.arena = &a;
	req.query = parts[1];

	check_lookup(&req, parts[0], scratch);
	check_lookup(&req, "page", scratch);
	check_lookup(&req, "limit", scratch);
	field = NULL;
	rc = request_page_parse(&req, &pg, &field);
	FUZZ_CHECK(rc == 0 ? field == NULL : rc == -1 && field &&
	    (strcmp(field, "page") == 0 || strcmp(field, "limit") == 0));
	FUZZ_CHECK(pg.page >= 1 && pg.page <= 1000000);
	FUZZ_CHECK(pg.limit >= 1 && pg.limit <= 100);
	FUZZ_CHECK(pg.offset == (pg.page - 1) * pg.limit);

	for (int plus = 0; plus < 2; plus++) {
		u = router_unescape(&a, parts[1], qlen, plus);
		if (ref_unescape(parts[1], qlen, plus, scratch) == -1)
			FUZZ_CHECK(u == NULL);
		else
			FUZZ_CHECK(u && strcmp(u, scratch) == 0);
	}

	arena_release(&a);
	free(scratch);
	free(parts[0]);
	free(parts[1]);
	return 0;
}
