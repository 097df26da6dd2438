/* message_query.c - reading many messages: history pages and search. */
#include <string.h>
#include <strings.h>

#include "conv.h"
#include "db.h"
#include "group_db.h"
#include "jsonx.h"
#include "message.h"
#include "message_db.h"
#include "message_view.h"
#include "msgfmt.h"
#include "svc.h"
#include "user.h"
#include "banned.h"

static enum status
no_conversation(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Conversation not found");
}

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

/* Any stored type (SYSTEM included) in canonical case, or NULL. */
static const char *
any_type(const char *s)
{
	static const char *const types[] = { "TEXT", "IMAGE", "FILE", "VOICE",
		"VIDEO", "SYSTEM" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(s, types[i]) == 0)
			return types[i];
	return NULL;
}

/* An ISO 8601 bound as DATETIME text (arena); -1 if malformed. */
static int
time_arg(const struct svc_ctx *ctx, const char *s, const char **out)
{
	int64_t ms;
	char *t;

	*out = NULL;
	if (!s)
		return 0;
	if (strlen(s) > 40 || timefmt_parse(s, &ms) == -1 || ms < 0 ||
	    ms > 253402300799999LL)
		return -1;
	t = arena_alloc(ctx->arena, MSGFMT_DBTIME_LEN);
	msgfmt_db_time(ms, t);
	*out = t;
	return 0;
}

/* Validates the filters of q into f; the conversation is set later. */
static enum status
parse_filters(const struct svc_ctx *ctx, const struct message_query *q,
	struct msg_filter *f, struct svc_error *e)
{
	static const char *const statuses[] = { "SENT", "DELIVERED", "SEEN" };
	struct msgfmt_cursor *c;
	char *p;

	memset(f, 0, sizeof(*f));
	if (q->type && !(f->type = any_type(q->type)))
		return invalid(e, "type",
		    "type must be TEXT, IMAGE, FILE, VOICE, VIDEO or SYSTEM");
	if (q->status) {
		for (size_t i = 0; i < 3; i++)
			if (strcasecmp(q->status, statuses[i]) == 0)
				f->status = statuses[i];
		if (!f->status)
			return invalid(e, "status",
			    "status must be SENT, DELIVERED or SEEN");
	}
	if (time_arg(ctx, q->from, &f->from) == -1)
		return invalid(e, "from", "from must be an ISO 8601 timestamp");
	if (time_arg(ctx, q->to, &f->to) == -1)
		return invalid(e, "to", "to must be an ISO 8601 timestamp");
	if (q->parent_id) {
		p = arena_alloc(ctx->arena, IDS_UUID_LEN);
		if (conv_id(q->parent_id, p) == -1)
			return invalid(e, "parentId", "parentId must be a message id");
		f->parent_id = p;
	}
	if (q->before) {
		c = arena_alloc(ctx->arena, sizeof(*c));
		if (msgfmt_cursor_parse(q->before, c) == -1)
			return invalid(e, "before",
			    "before must be a message id or an ISO 8601 timestamp");
		f->before_at = c->time;
		f->before_id = c->has_id ? c->id : NULL;
	}
	if (q->after) {
		c = arena_alloc(ctx->arena, sizeof(*c));
		if (msgfmt_cursor_parse(q->after, c) == -1)
			return invalid(e, "after",
			    "after must be a message id or an ISO 8601 timestamp");
		f->after_at = c->time;
		f->after_id = c->has_id ? c->id : NULL;
	}
	if (q->order && strcasecmp(q->order, "asc") != 0 &&
	    strcasecmp(q->order, "desc") != 0)
		return invalid(e, "order", "order must be asc or desc");
	f->desc = q->order ? strcasecmp(q->order, "desc") == 0 :
	    !(q->after && !q->before);
	return ST_OK;
}

enum status
message_history(const struct svc_ctx *ctx, const char *user_id,
	const struct message_query *q, json_t **items, struct message_page *pg,
	struct svc_error *e)
{
	char cid[IDS_UUID_LEN], peer[IDS_UUID_LEN];
	struct msg_filter f;
	struct receipts rc;
	struct db_rows r;
	struct msg_row *rows;
	size_t n;
	int rc_db;
	enum status st;

	*items = NULL;
	pg->total = 0;
	pg->next_cursor = NULL;
	st = parse_filters(ctx, q, &f, e);
	if (st != ST_OK)
		return st;
	if (q->peer_id) {
		char *key;

		if (conv_id(q->peer_id, peer) == -1 || strcmp(peer, user_id) == 0)
			return no_conversation(e);
		key = strcmp(user_id, peer) < 0 ?
		    arena_printf(ctx->arena, "%s:%s", user_id, peer) :
		    arena_printf(ctx->arena, "%s:%s", peer, user_id);
		rc_db = message_db_direct(ctx->db, ctx->arena, key, cid);
		if (rc_db == -1)
			return conv_db_error(ctx->db, e);
		if (rc_db == 1) {
			/*
			 * No message was ever exchanged: an empty history,
			 * if there is someone to exchange them with.
			 */
			json_t *u;

			st = user_get(ctx, peer, 0, &u, e);
			if (st != ST_OK)
				return st;
			json_decref(u);
			*items = json_array();
			return ST_OK;
		}
	} else if (conv_id(q->group_id ? q->group_id : q->conversation_id,
	    cid) == -1) {
		return no_conversation(e);
	}
	if (message_db_receipts(ctx->db, ctx->arena, cid, user_id, &r) == -1)
		return conv_db_error(ctx->db, e);
	message_view_receipts(&r, &rc);
	if (!rc.member || (q->group_id && (!rc.kind ||
	    strcmp(rc.kind, "GROUP") != 0)))
		return no_conversation(e);
	f.conversation_id = cid;
	if (f.status) {
		f.read_ex_user = rc.r_ex_user;
		f.read_ex_at = rc.r_ex_at;
		f.read_ex_id = rc.r_ex_id;
		f.read_at = rc.r_at;
		f.read_id = rc.r_id;
		f.del_ex_user = rc.d_ex_user;
		f.del_ex_at = rc.d_ex_at;
		f.del_ex_id = rc.d_ex_id;
		f.del_at = rc.d_at;
		f.del_id = rc.d_id;
	}
	/* One row more than asked tells whether another page follows. */
	if (message_db_history(ctx->db, ctx->arena, &f, q->limit + 1, q->offset,
	    &r) == -1)
		return conv_db_error(ctx->db, e);
	message_db_rows(&r, ctx->arena, &rows);
	n = r.nrows > (size_t)q->limit ? (size_t)q->limit : r.nrows;
	*items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*items,
		    message_view_json(&rows[i], user_id, &rc));
	if (r.nrows > n && n > 0)
		pg->next_cursor = rows[n - 1].id;
	if (message_db_history_count(ctx->db, ctx->arena, &f, &pg->total,
	    &pg->total_capped) == -1) {
		json_decref(*items);
		*items = NULL;
		return conv_db_error(ctx->db, e);
	}
	return ST_OK;
}

/* Receipts of conversation cid, cached across one search page. */
struct receipt_cache {
	size_t n;
	const char *cid[100];
	struct receipts rc[100];
};

static const struct receipts *
cached_receipts(const struct svc_ctx *ctx, struct receipt_cache *c,
	const char *cid, const char *uid)
{
	struct db_rows r;

	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->cid[i], cid) == 0)
			return &c->rc[i];
	if (c->n == 100 || message_db_receipts(ctx->db, ctx->arena, cid, uid,
	    &r) == -1)
		return NULL;
	message_view_receipts(&r, &c->rc[c->n]);
	c->cid[c->n] = cid;
	return &c->rc[c->n++];
}

static json_t *
search_item(const struct svc_ctx *ctx, const struct msg_row *m,
	const struct msgfmt_search *s, const char *uid, const struct receipts *rc)
{
	int matched[MSGFMT_MAX_TERMS];
	const char *before, *match, *after;
	json_t *item = json_object(), *terms = json_array();

	msgfmt_snippet(ctx->arena, m->content ? m->content : "", s, matched,
	    &before, &match, &after);
	for (size_t i = 0; i < s->nterms; i++)
		if (matched[i])
			json_array_append_new(terms, json_string(s->terms[i]));
	json_object_set_new(item, "message", message_view_json(m, uid, rc));
	json_object_set_new(item, "relevanceScore", json_real(m->score));
	json_object_set_new(item, "matchedTerms", terms);
	json_object_set_new(item, "context", json_pack("{s:s,s:s,s:s}",
	    "before", before, "match", match, "after", after));
	return item;
}

enum status
message_search(const struct svc_ctx *ctx, const char *user_id,
	const struct message_search_query *q, json_t **items, long *total,
	struct svc_error *e)
{
	struct msgfmt_search s;
	struct msg_search_filter f;
	struct receipt_cache *cache;
	char cid[IDS_UUID_LEN], sender[IDS_UUID_LEN];
	struct msg_row *rows;
	struct db_rows r;
	long chars;

	*items = NULL;
	*total = 0;
	chars = q->query ? msgfmt_utf8_chars(q->query, strlen(q->query)) : -1;
	if (chars < 1 || chars > MSGFMT_QUERY_MAX)
		return invalid(e, "query", "query must be 1-200 characters");
	if (msgfmt_search_parse(q->query, &s) == -1)
		return invalid(e, "query", "query needs a word of at least 3"
		    " characters that is not a common word");
	memset(&f, 0, sizeof(f));
	f.boolean = s.boolean;
	for (size_t i = 0; i < s.nterms; i++)
		f.terms[f.nterms++] = s.terms[i];
	if (q->type && !(f.type = any_type(q->type)))
		return invalid(e, "type",
		    "type must be TEXT, IMAGE, FILE, VOICE, VIDEO or SYSTEM");
	if (q->sender_id) {
		if (conv_id(q->sender_id, sender) == -1)
			return invalid(e, "userId", "userId must be a user id");
		f.sender_id = sender;
	}
	if (time_arg(ctx, q->from, &f.from) == -1)
		return invalid(e, "from", "from must be an ISO 8601 timestamp");
	if (time_arg(ctx, q->to, &f.to) == -1)
		return invalid(e, "to", "to must be an ISO 8601 timestamp");
	if (q->conversation_id) {
		int m;

		if (conv_id(q->conversation_id, cid) == -1)
			return no_conversation(e);
		m = group_db_is_member(ctx->db, ctx->arena, cid, user_id, NULL);
		if (m == -1)
			return conv_db_error(ctx->db, e);
		if (m == 0)
			return no_conversation(e);
		f.conversation_id = cid;
	}
	if (message_db_search(ctx->db, ctx->arena, user_id, &f, q->limit,
	    q->offset, &r, total) == -1)
		return conv_db_error(ctx->db, e);
	message_db_rows(&r, ctx->arena, &rows);
	cache = arena_zalloc(ctx->arena, sizeof(*cache));
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*items, search_item(ctx, &rows[i], &s,
		    user_id, cached_receipts(ctx, cache,
		    rows[i].conversation_id, user_id)));
	return ST_OK;
}
