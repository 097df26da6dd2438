#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "config.h"
#include "conv.h"
#include "db.h"
#include "group.h"
#include "histcache.h"
#include "log.h"
#include "outbox.h"
#include "password.h"
#include "presence.h"
#include "session.h"
#include "svc.h"
#include "timefmt.h"
#include "user.h"
#include "user_db.h"
#include "banned.h"

#define USER_KEY_LEN (5 + IDS_UUID_LEN)

/* ------------------------------------------------------------ validation */

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	if (e) {
		e->code = NULL;
		e->field = field;
		e->message = message;
	}
	return ST_INVALID;
}

/* Code points in s (valid UTF-8: jansson checked it). */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* 1 if s is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t cp;
		int n;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			n = 1, cp = *p & 0x1f;
		else if ((*p & 0xf0) == 0xe0)
			n = 2, cp = *p & 0x0f;
		else if ((*p & 0xf8) == 0xf0)
			n = 3, cp = *p & 0x07;
		else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* No C0/C1 controls or DEL; newlines and tabs only when multiline. */
static int
text_clean(const char *s, int multiline)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (multiline && (*p == '\n' || *p == '\t' || *p == '\r'))
			continue;
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		/* U+0080..U+009F are C2 80..C2 9F in UTF-8. */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 0;
	}
	return 1;
}

int
user_username_valid(const char *s, struct svc_error *e)
{
	size_t len = strlen(s);

	if (len < USER_NAME_MIN || len > USER_NAME_MAX) {
		invalid(e, "username", "username must be 3-50 characters");
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_')) {
			invalid(e, "username",
			    "username may contain only letters, digits and underscores");
			return 0;
		}
	}
	/*
	 * In any case: usernames are unique ignoring case, so "Deleted_<hex>"
	 * taken first would make the deletion of the account with that id
	 * fail (user_delete() renames it deleted_<hex>).
	 */
	if (strncasecmp(s, "deleted_", 8) == 0) {
		invalid(e, "username", "usernames starting with deleted_ are reserved");
		return 0;
	}
	return 1;
}

/*
 * A practical address check: local@domain, ASCII, the local part of
 * atext and single dots, the domain of letter/digit/hyphen labels with a
 * top-level label of at least two letters.
 */
static int
email_valid(const char *s)
{
	const char *at = strchr(s, '@'), *label, *p;
	size_t len = strlen(s), local = at ? (size_t)(at - s) : 0;
	int tld_alpha = 0;

	if (!at || len > USER_EMAIL_MAX || local == 0 || local > 64 ||
	    strchr(at + 1, '@'))
		return 0;
	for (p = s; p < at; p++) {
		if (*p == '.') {
			if (p == s || p + 1 == at || p[1] == '.')
				return 0;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+/=?^_`{|}~-", *p)))
			return 0;
	}
	label = at + 1;
	if (!strchr(label, '.'))
		return 0;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t llen = (size_t)(p - label);

			if (llen == 0 || llen > 63 || *label == '-' || p[-1] == '-')
				return 0;
			tld_alpha = llen >= 2;
			for (const char *q = label; q < p; q++)
				if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')))
					tld_alpha = 0;
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	}
	return tld_alpha;
}

static int
url_valid(const char *s)
{
	size_t len = strlen(s);

	if (len > USER_AVATAR_MAX)
		return 0;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return 0;
	if (len <= (s[4] == 's' ? 8u : 7u))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' ||
		    *p == '>' || *p == '\\' || *p >= 0x80)
			return 0;
	return 1;
}

/* A free-text profile field: NULL clears; empty clears too. */
static int
text_valid(const char *s, size_t max_chars, int multiline)
{
	return !s || (utf8_chars(s) <= max_chars && text_clean(s, multiline));
}

static int
public_key_valid(const char *s)
{
	return !s || (strlen(s) <= USER_PUBLIC_KEY_MAX && text_clean(s, 1));
}

enum status
user_validate_new(const struct user_new *in, struct svc_error *e)
{
	const char *why;

	if (!in->username)
		return invalid(e, "username", "username is required");
	if (!user_username_valid(in->username, e))
		return ST_INVALID;
	if (!in->email)
		return invalid(e, "email", "email is required");
	if (!email_valid(in->email))
		return invalid(e, "email", "email must be a valid email address");
	if (!in->password)
		return invalid(e, "password", "password is required");
	if (password_policy(in->password, &why) == -1)
		return invalid(e, "password", why);
	if (in->display_name && (utf8_chars(in->display_name) > USER_DISPLAY_NAME_MAX ||
	    !text_clean(in->display_name, 0)))
		return invalid(e, "displayName",
		    "displayName must be at most 100 characters without control characters");
	if (!public_key_valid(in->public_key))
		return invalid(e, "publicKey", "publicKey must be at most 16384 bytes of text");
	return ST_OK;
}

/* "" means "clear" for optional profile strings. */
static const char *
empty_null(const char *s)
{
	return s && *s ? s : NULL;
}

static enum status
conflict(struct svc_error *e, const char *field, const char *message)
{
	if (e) {
		e->code = NULL;
		e->field = field;
		e->message = message;
	}
	return ST_CONFLICT;
}

enum status
user_create(const struct svc_ctx *ctx, const struct user_new *in,
	char id[IDS_UUID_LEN], struct svc_error *e)
{
	char hash[PASSWORD_HASH_MAX];
	int utaken = 0, etaken = 0;
	enum status st;

	st = user_validate_new(in, e);
	if (st != ST_OK)
		return st;
	/* Checked before the (expensive) hash; the unique keys decide races. */
	if (user_db_taken(ctx->db, ctx->arena, in->username, in->email, &utaken,
	    &etaken) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (utaken)
		return conflict(e, "username", "username is already taken");
	if (etaken)
		return conflict(e, "email", "email is already registered");
	st = password_hash(ctx->cfg, in->password, hash, e);
	if (st != ST_OK)
		return st;
	ids_uuid7(id);
	if (user_db_insert(ctx->db, id, in->username, in->email, hash,
	    empty_null(in->display_name), empty_null(in->public_key),
	    in->role) == -1) {
		if (db_errno(ctx->db) != DB_ERR_DUP)
			return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
		if (user_db_taken(ctx->db, ctx->arena, in->username, in->email,
		    &utaken, &etaken) == 0 && etaken && !utaken)
			return conflict(e, "email", "email is already registered");
		return conflict(e, "username", "username is already taken");
	}
	return ST_CREATED;
}

/* ------------------------------------------------------------- reading */

/* Lowercase copy of a canonical UUID; 0, or -1 if id is not one. */
static int
norm_id(const char *id, char out[IDS_UUID_LEN])
{
	if (!id || !ids_is_uuid(id))
		return -1;
	for (int i = 0; i < IDS_UUID_LEN; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	return 0;
}

void
user_cache_key(char out[USER_CACHE_KEY_LEN], const char *id)
{
	char nid[IDS_UUID_LEN];

	if (norm_id(id, nid) == -1)
		snprintf(nid, sizeof(nid), "invalid");
	snprintf(out, USER_CACHE_KEY_LEN, "user:%s", nid);
}

void
user_cache_forget(struct cache *cache, const char *id)
{
	char key[USER_KEY_LEN], nid[IDS_UUID_LEN];

	if (norm_id(id, nid) == -1)
		return;
	snprintf(key, sizeof(key), "user:%s", nid);
	if (cache_delete(cache, key) == -1)
		log_warn("user: could not drop a cached profile");
}

/* Own view + presence -> the requested view. Steals u. */
static json_t *
finish_view(json_t *u, int own, int online)
{
	if (!own) {
		json_object_del(u, "email");
		json_object_del(u, "role");
		json_object_del(u, "updatedAt");
	}
	json_object_set_new(u, "isOnline", json_boolean(online));
	if (online) {
		char now[TIMEFMT_LEN];

		timefmt_iso(timefmt_now_ms(), now);
		json_object_set_new(u, "lastSeen", json_string(now));
	}
	return u;
}

/*
 * The cached own view is "<lastSeen as JSON>\n<the object without isOnline
 * and lastSeen>": user_get_own_text() answers GET /auth/me by splicing
 * text, without a JSON parse; user_get() parses the object part.
 */
struct cached_view {
	const char *last_seen, *obj;
	size_t ls_len, obj_len;
};

static int
view_split(const char *text, size_t len, struct cached_view *v)
{
	const char *nl = memchr(text, '\n', len);

	if (!nl)
		return -1;
	v->last_seen = text;
	v->ls_len = (size_t)(nl - text);
	v->obj = nl + 1;
	v->obj_len = len - v->ls_len - 1;
	if (!(v->ls_len == 4 && memcmp(text, "null", 4) == 0) &&
	    !(v->ls_len == TIMEFMT_LEN + 1 && text[0] == '"' &&
	    text[v->ls_len - 1] == '"'))
		return -1;
	if (v->obj_len < 8 || v->obj[0] != '{' || v->obj[v->obj_len - 1] != '}')
		return -1;
	return 0;
}

/* Renders a users row into the cached form (arena memory). */
static char *
view_render(const struct svc_ctx *ctx, const struct db_rows *rows, size_t *len)
{
	json_t *u = user_db_json(rows, 0, 1);
	const char *ls = json_string_value(json_object_get(u, "lastSeen"));
	char *obj, *text;

	json_object_del(u, "isOnline");
	json_object_del(u, "lastSeen");
	obj = json_dumps(u, JSON_COMPACT);
	json_decref(u);
	if (!obj)
		return NULL;
	text = ls ? arena_printf(ctx->arena, "\"%s\"\n%s", ls, obj) :
	    arena_printf(ctx->arena, "null\n%s", obj);
	free(obj);
	*len = strlen(text);
	return text;
}

/* The cached view of user nid (memcached, else MariaDB) and its presence. */
static enum status
view_load(const struct svc_ctx *ctx, const char *nid, struct cached_view *v,
	int *online, struct svc_error *e)
{
	char ukey[USER_KEY_LEN], pkey[PRESENCE_KEY_LEN];
	const char *keys[2] = { ukey, pkey };
	char *vals[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 }, len;
	struct db_rows rows;
	char *text;
	int reachable;

	snprintf(ukey, sizeof(ukey), "user:%s", nid);
	presence_key(pkey, nid);
	/* One round trip for both, or none when auth prefetched them. */
	reachable = cache_get_multi(ctx->cache, ctx->arena, keys, 2, vals, lens) == 0;
	*online = presence_value_online(vals[1]);
	if (vals[0] && view_split(vals[0], lens[0], v) == 0)
		return ST_OK;
	if (user_db_get(ctx->db, ctx->arena, nid, &rows) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (rows.nrows == 0)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	text = view_render(ctx, &rows, &len);
	if (!text || view_split(text, len, v) == -1)
		return svc_fail(e, ST_INTERNAL, NULL, NULL);
	/* add, not set: never overwrite what a concurrent update dropped. */
	if (reachable && !vals[0])
		cache_add(ctx->cache, ukey, text, len, USER_CACHE_TTL);
	else if (reachable)
		cache_set(ctx->cache, ukey, text, len, USER_CACHE_TTL);
	return ST_OK;
}

enum status
user_get(const struct svc_ctx *ctx, const char *id, int own, json_t **out,
	struct svc_error *e)
{
	char nid[IDS_UUID_LEN];
	struct cached_view v;
	json_t *u;
	int online;
	enum status st;

	*out = NULL;
	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	st = view_load(ctx, nid, &v, &online, e);
	if (st != ST_OK)
		return st;
	u = json_loadb(v.obj, v.obj_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(u)) {
		json_decref(u);
		return svc_fail(e, ST_INTERNAL, NULL, NULL);
	}
	json_object_set_new(u, "lastSeen", v.ls_len == 4 ? json_null() :
	    json_stringn(v.last_seen + 1, v.ls_len - 2));
	*out = finish_view(u, own, online);
	return ST_OK;
}

enum status
user_get_own_text(const struct svc_ctx *ctx, const char *id, const char **json,
	size_t *len, struct svc_error *e)
{
	char nid[IDS_UUID_LEN], now[TIMEFMT_LEN];
	struct cached_view v;
	char *out;
	int online, n;
	enum status st;

	*json = NULL;
	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	st = view_load(ctx, nid, &v, &online, e);
	if (st != ST_OK)
		return st;
	if (online)
		timefmt_iso(timefmt_now_ms(), now);
	out = arena_alloc(ctx->arena, v.obj_len + v.ls_len + TIMEFMT_LEN + 48);
	n = snprintf(out, v.obj_len + v.ls_len + TIMEFMT_LEN + 48,
	    "%.*s,\"isOnline\":%s,\"lastSeen\":%s%.*s%s}", (int)(v.obj_len - 1), v.obj,
	    online ? "true" : "false", online ? "\"" : "",
	    online ? (int)strlen(now) : (int)v.ls_len, online ? now : v.last_seen,
	    online ? "\"" : "");
	*json = out;
	*len = (size_t)n;
	return ST_OK;
}

enum status
user_search(const struct svc_ctx *ctx, const char *query, const struct page *pg,
	json_t **items, long *total, struct svc_error *e)
{
	struct db_rows rows;
	const char **ids;
	int *online;
	json_t *arr;

	*items = NULL;
	if (!query)
		query = "";
	if (!utf8_valid(query) || utf8_chars(query) > 100)
		return invalid(e, "query",
		    "query must be at most 100 characters of UTF-8 text");
	/*
	 * Seed 002 searches "by username or email": an email finds its
	 * account only as the exact full address - a syntactically valid one,
	 * so padding or look-alike characters, which the column's collation
	 * would fold onto it, match nothing - and the result never shows it.
	 */
	if (user_db_search(ctx->db, ctx->arena, query,
	    email_valid(query) ? query : NULL, pg->limit, pg->offset, &rows,
	    total) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	ids = arena_alloc(ctx->arena, (rows.nrows + 1) * sizeof(*ids));
	online = arena_alloc(ctx->arena, (rows.nrows + 1) * sizeof(*online));
	for (size_t i = 0; i < rows.nrows; i++)
		ids[i] = db_get(&rows, i, "id");
	presence_many(ctx->cache, ctx->arena, ids, rows.nrows, online);
	arr = json_array();
	for (size_t i = 0; i < rows.nrows; i++)
		json_array_append_new(arr,
		    finish_view(user_db_json(&rows, i, 1), 0, online[i]));
	*items = arr;
	return ST_OK;
}

int
user_find_login(const struct svc_ctx *ctx, const char *login, const char **id,
	const char **role, const char **hash)
{
	struct db_rows rows;

	if (user_db_find_login(ctx->db, ctx->arena, login,
	    strchr(login, '@') != NULL, &rows) == -1)
		return -1;
	if (rows.nrows == 0)
		return 0;
	*id = db_get(&rows, 0, "id");
	*role = db_get(&rows, 0, "role");
	*hash = db_get(&rows, 0, "password_hash");
	return 1;
}

/* ------------------------------------------------------------- writing */

/* Loads active user id and checks that me may change it. */
static enum status
may_modify(const struct svc_ctx *ctx, const struct identity *me,
	const char *nid, struct svc_error *e)
{
	struct db_rows rows;

	if (user_db_get(ctx->db, ctx->arena, nid, &rows) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (rows.nrows == 0)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	if (strcmp(me->user_id, nid) != 0 && !me->is_admin)
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "You can only change your own account");
	return ST_OK;
}

static enum status
validate_patch(struct user_patch *p, struct svc_error *e)
{
	if (p->username.set && (!p->username.value ||
	    !user_username_valid(p->username.value, e)))
		return p->username.value ? ST_INVALID :
		    invalid(e, "username", "username cannot be removed");
	if (p->display_name.set && !text_valid(p->display_name.value,
	    USER_DISPLAY_NAME_MAX, 0))
		return invalid(e, "displayName",
		    "displayName must be at most 100 characters without control characters");
	if (p->avatar.set && p->avatar.value && *p->avatar.value &&
	    !url_valid(p->avatar.value))
		return invalid(e, "avatar",
		    "avatar must be an http(s) URL of at most 2048 characters");
	if (p->status_message.set && !text_valid(p->status_message.value,
	    USER_STATUS_MAX, 0))
		return invalid(e, "statusMessage",
		    "statusMessage must be at most 200 characters");
	if (p->bio.set && !text_valid(p->bio.value, USER_BIO_MAX, 1))
		return invalid(e, "bio", "bio must be at most 1000 characters");
	if (p->location.set && !text_valid(p->location.value,
	    USER_LOCATION_MAX, 0))
		return invalid(e, "location",
		    "location must be at most 100 characters");
	if (p->public_key.set && !public_key_valid(p->public_key.value))
		return invalid(e, "publicKey",
		    "publicKey must be at most 16384 bytes of text");
	p->display_name.value = empty_null(p->display_name.value);
	p->avatar.value = empty_null(p->avatar.value);
	p->status_message.value = empty_null(p->status_message.value);
	p->bio.value = empty_null(p->bio.value);
	p->location.value = empty_null(p->location.value);
	p->public_key.value = empty_null(p->public_key.value);
	return ST_OK;
}

enum status
user_update(const struct svc_ctx *ctx, const struct identity *me,
	const char *id, const struct user_patch *patch, json_t **out,
	struct svc_error *e)
{
	char nid[IDS_UUID_LEN];
	struct user_patch p = *patch;
	enum status st;

	*out = NULL;
	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	st = may_modify(ctx, me, nid, e);
	if (st != ST_OK)
		return st;
	st = validate_patch(&p, e);
	if (st != ST_OK)
		return st;
	if (user_db_update(ctx->db, nid, &p) == -1) {
		if (db_errno(ctx->db) == DB_ERR_DUP)
			return conflict(e, "username", "username is already taken");
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	}
	user_cache_forget(ctx->cache, nid);
	return user_get(ctx, nid, 1, out, e);
}

/*
 * Takes nid out of its groups in one transaction, so no group is left with
 * a deleted owner. With name, the account is anonymised (renamed to name)
 * in the same transaction; without, it must have been deleted before
 * (parleyctl repair). *convs: as group_leave_all.
 */
static enum status
leave_all_tx(const struct svc_ctx *ctx, const char *nid, const char *name,
	struct db_rows *convs, struct svc_error *e)
{
	uint64_t affected = 0;
	int rc;

	if (db_begin(ctx->db) == -1)
		goto fail;
	if (name) {
		rc = user_db_anonymise(ctx->db, nid, name, &affected);
		if (rc == 0)
			rc = affected != 0;
	} else {
		rc = user_db_lock_deleted(ctx->db, ctx->arena, nid);
	}
	if (rc == -1)
		goto fail;
	if (rc == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, name ? "User not found" :
		    "No such deleted account");
	}
	if (group_leave_all(ctx, nid, convs) == -1 || db_commit(ctx->db) == -1)
		goto fail;
	return ST_OK;
fail:
	db_rollback(ctx->db);
	return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
}

/* leave_all_tx, retried, then announced. */
static enum status
leave_all(const struct svc_ctx *ctx, const char *nid, const char *name,
	struct svc_error *e)
{
	struct db_rows convs;
	enum status st;

	for (int attempt = 0;; attempt++) {
		st = leave_all_tx(ctx, nid, name, &convs, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	outbox_nudge(ctx->cfg);
	for (size_t i = 0; i < convs.nrows; i++)
		histcache_bump(ctx, db_cell(&convs, i, 0));
	return ST_OK;
}

/*
 * Revokes the sessions of deleted account nid (MariaDB, then memcached).
 * The account is inactive already, which fails them in MariaDB; what must
 * not fail silently is memcached, whose "alive" answers would outlive it.
 */
static enum status
revoke_deleted(const struct svc_ctx *ctx, const char *nid,
	struct svc_error *e)
{
	int rc = session_revoke_all(ctx, nid, "deleted");

	if (rc == -1) /* then memcached was not told either */
		log_warn("user: sessions of a deleted account were not all revoked");
	return rc == 0 ? ST_OK : session_cache_stale(e);
}

enum status
user_delete(const struct svc_ctx *ctx, const struct identity *me,
	const char *id, struct svc_error *e)
{
	char nid[IDS_UUID_LEN], name[USER_NAME_MAX + 1];
	size_t j = 0;
	enum status st;

	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	st = may_modify(ctx, me, nid, e);
	/*
	 * Only a cached "alive" answer lets a deleted account's token this
	 * far: its deletion could not tell memcached. A retry completes that.
	 */
	if (st == ST_NOT_FOUND && strcmp(me->user_id, nid) == 0 &&
	    revoke_deleted(ctx, nid, e) != ST_OK)
		return ST_UNAVAILABLE;
	if (st != ST_OK)
		return st;
	/* deleted_ + the id's 32 hex digits: unique, and valid as a username. */
	j = (size_t)snprintf(name, sizeof(name), "deleted_");
	for (const char *p = nid; *p && j < sizeof(name) - 1; p++)
		if (*p != '-')
			name[j++] = *p;
	name[j] = '\0';
	st = leave_all(ctx, nid, name, e);
	if (st != ST_OK)
		return st;
	/*
	 * The account is inactive from here on, which already fails its
	 * sessions' MariaDB check; revoking them also updates memcached.
	 */
	user_cache_forget(ctx->cache, nid);
	return revoke_deleted(ctx, nid, e);
}

int
user_deleted_in_groups(const struct svc_ctx *ctx, struct db_rows *ids)
{
	return user_db_deleted_in_groups(ctx->db, ctx->arena, ids);
}

enum status
user_repair_deleted(const struct svc_ctx *ctx, const char *id,
	struct svc_error *e)
{
	char nid[IDS_UUID_LEN];

	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL,
		    "No such deleted account");
	return leave_all(ctx, nid, NULL, e);
}

enum status
user_set_password(const struct svc_ctx *ctx, const char *id,
	const char *password, int *cache_stale, struct svc_error *e)
{
	char nid[IDS_UUID_LEN], hash[PASSWORD_HASH_MAX];
	const char *why;
	uint64_t affected = 0;
	enum status st;
	int rc;

	if (cache_stale)
		*cache_stale = 0;
	if (norm_id(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	if (password_policy(password, &why) == -1)
		return invalid(e, "password", why);
	st = password_hash(ctx->cfg, password, hash, e);
	if (st != ST_OK)
		return st;
	if (user_db_set_password(ctx->db, nid, hash, &affected) == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
	if (affected == 0)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	rc = session_revoke_all(ctx, nid, "password");
	if (rc == -1)
		return svc_fail(e, ST_UNAVAILABLE, NULL,
		    "Password changed, but sessions could not be revoked");
	if (cache_stale)
		*cache_stale = rc == 1;
	return ST_OK;
}
