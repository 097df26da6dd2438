#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cache.h"
#include "db.h"
#include "presence.h"
#include "svc.h"
#include "banned.h"

void
presence_key(char out[PRESENCE_KEY_LEN], const char *user_id)
{
	snprintf(out, PRESENCE_KEY_LEN, "presence:%s", user_id);
}

int
presence_value_online(const char *v)
{
	char *end;
	long long n;

	if (!v)
		return 0;
	n = strtoll(v, &end, 10);
	return end != v && n > 0;
}

int
presence_is_online(struct cache *cache, const char *user_id)
{
	char key[PRESENCE_KEY_LEN], val[32];
	int hit;

	presence_key(key, user_id);
	hit = cache_get(cache, key, val, sizeof(val), NULL);
	if (hit == -1)
		return -1;
	return hit == 1 && presence_value_online(val);
}

int
presence_many(struct cache *cache, struct arena *a,
	const char *const *user_ids, size_t n, int *online)
{
	const char **keys;
	char **vals;

	for (size_t i = 0; i < n; i++)
		online[i] = 0;
	if (n == 0)
		return 0;
	keys = arena_alloc(a, n * sizeof(*keys));
	vals = arena_alloc(a, n * sizeof(*vals));
	for (size_t i = 0; i < n; i++) {
		char *k = arena_alloc(a, PRESENCE_KEY_LEN);

		presence_key(k, user_ids[i]);
		keys[i] = k;
	}
	if (cache_get_multi(cache, a, keys, n, vals, NULL) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		online[i] = presence_value_online(vals[i]);
	return 0;
}

static const char sql_last_seen[] =
	"SELECT last_seen FROM users WHERE id = ? AND is_active = 1"
	" AND deleted_at IS NULL";

enum status
presence_get(const struct svc_ctx *ctx, const char *user_id,
	struct presence *out, struct svc_error *e)
{
	char id[IDS_UUID_LEN];
	struct db_rows rows;
	const char *seen;

	memset(out, 0, sizeof(*out));
	if (!user_id || !ids_is_uuid(user_id))
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	for (int i = 0; i < IDS_UUID_LEN; i++)
		id[i] = (char)tolower((unsigned char)user_id[i]);
	user_id = id;
	if (db_query(ctx->db, ctx->arena, &rows, sql_last_seen, "s", user_id) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (rows.nrows == 0)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	out->online = presence_is_online(ctx->cache, user_id) == 1;
	seen = db_cell(&rows, 0, 0);
	if (out->online) {
		timefmt_iso(timefmt_now_ms(), out->last_seen);
		out->has_last_seen = 1;
	} else if (seen && timefmt_from_db(seen, out->last_seen) == 0) {
		out->has_last_seen = 1;
	}
	return ST_OK;
}
