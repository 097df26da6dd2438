/*
 * api_messages.c - /messages: send, read, edit, delete, receipts,
 * reactions, history (also /groups/{id}/messages) and search (also
 * POST /chatrooms/{id}/search).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/histcache.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/message.h"
#include "core/msgfmt.h"
#include "core/strbuf.h"
#include "core/svc.h"
#include "core/timefmt.h"
#include "core/banned.h"

static void
answer(struct response *res, enum status st, const struct svc_error *e,
	int http, const char *message, json_t *data)
{
	if (st != ST_OK && st != ST_CREATED) {
		json_decref(data);
		reply_status(res, st, e);
		return;
	}
	reply_data(res, http, message, data);
}

void
api_messages_send(struct request *req, struct response *res)
{
	const char *key = request_env(req, "HTTP_IDEMPOTENCY_KEY");
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	int created = 0;
	enum status st;

	request_svc(req, &ctx);
	st = message_send(&ctx, req->me.user_id, req->json, key, &m, &created,
	    &e);
	if (st == ST_OK && !created)
		reply_header(res, "Idempotent-Replayed", "true");
	/* A replay answers what the original did: 201 with the message. */
	answer(res, st, &e, 201, "Message sent successfully", m);
}

void
api_messages_get(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = message_get(&ctx, req->me.user_id, request_param(req, "id"), &m, &e);
	answer(res, st, &e, 200, "OK", m);
}

void
api_messages_edit(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = message_edit(&ctx, req->me.user_id, request_param(req, "id"),
	    req->json, &m, &e);
	answer(res, st, &e, 200, "Message edited successfully", m);
}

void
api_messages_versions(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *items;
	enum status st;

	request_svc(req, &ctx);
	st = message_versions(&ctx, req->me.user_id, request_param(req, "id"),
	    &items, &e);
	answer(res, st, &e, 200, "OK", items);
}

void
api_messages_delete(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = message_delete(&ctx, req->me.user_id, request_param(req, "id"), &m,
	    &e);
	answer(res, st, &e, 200, "Message deleted successfully", m);
}

static void
mark(struct request *req, struct response *res, enum message_mark how)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = message_mark(&ctx, req->me.user_id, request_param(req, "id"), how,
	    &m, &e);
	answer(res, st, &e, 200, how == MESSAGE_MARK_SEEN ?
	    "Message marked as seen" : "Message marked as delivered", m);
}

void
api_messages_delivered(struct request *req, struct response *res)
{
	mark(req, res, MESSAGE_MARK_DELIVERED);
}

void
api_messages_seen(struct request *req, struct response *res)
{
	mark(req, res, MESSAGE_MARK_SEEN);
}

static void
react(struct request *req, struct response *res, int add)
{
	const char *emoji;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *v, *out;
	enum status st;

	if (request_field_or_reply(req, res, JSONX_NAMES("emoji", "reaction"),
	    &v) == -1)
		return;
	emoji = json_string_value(v);
	if (!v && !add)
		emoji = request_query(req, "emoji");
	if (!emoji) {
		reply_invalid(res, "emoji", "emoji is required");
		return;
	}
	request_svc(req, &ctx);
	st = message_react(&ctx, req->me.user_id, request_param(req, "id"),
	    emoji, add, &out, &e);
	answer(res, st, &e, 200, add ? "Reaction added" : "Reaction removed",
	    out);
}

void
api_messages_react(struct request *req, struct response *res)
{
	react(req, res, 1);
}

void
api_messages_unreact(struct request *req, struct response *res)
{
	react(req, res, 0);
}

/*
 * The cache signature of a history request: its route kind and every
 * parameter that shapes the page (histcache.h).
 */
static char *
history_sig(const struct request *req, const struct message_query *q,
	const struct page *pg)
{
	const char *v[] = { q->type, q->status, q->from, q->to, q->parent_id,
		q->before, q->after, q->order };
	struct strbuf sb = STRBUF_INIT;
	char head[64], *sig;
	int n = snprintf(head, sizeof(head), "%c|%ld|%ld", q->group_id ? 'g' :
	    'c', pg->page, pg->limit);

	strbuf_add(&sb, head, (size_t)n);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		strbuf_add(&sb, "|", 1);
		if (v[i])
			strbuf_adds(&sb, v[i]);
		else
			strbuf_add(&sb, "\x01", 1);
	}
	sig = arena_strndup(req->arena, sb.buf, sb.len);
	strbuf_release(&sb);
	return sig;
}

static void
page_headers(struct response *res, const struct histcache_page *p)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", p->total);
	reply_header(res, "X-Pagination-Total", buf);
	snprintf(buf, sizeof(buf), "%ld", p->pages);
	reply_header(res, "X-Pagination-Pages", buf);
	snprintf(buf, sizeof(buf), "%ld", p->page);
	reply_header(res, "X-Pagination-Current-Page", buf);
	snprintf(buf, sizeof(buf), "%ld", p->limit);
	reply_header(res, "X-Pagination-Per-Page", buf);
}

/*
 * History's cursors, each one spelling. Like the filters, a cursor given
 * empty is an error: it is a client's unset variable, and reading it as
 * absent would silently restart the walk at the newest (or oldest)
 * message.
 */
static const struct {
	const char *name;
	int after;
	const char *empty; /* the 400's message */
} cursors[] = {
	{ .name = "before", .after = 0,
	  .empty = "before must be a message id or an ISO 8601 timestamp" },
	{ .name = "cursor", .after = 0,
	  .empty = "cursor must be a message id or an ISO 8601 timestamp" },
	{ .name = "after", .after = 1,
	  .empty = "after must be a message id or an ISO 8601 timestamp" },
};

/* History's filters: where each lands in the query, and its spellings. */
static const struct {
	size_t offset;
	const char *const *names;
} filters[] = {
	{ offsetof(struct message_query, type),
	  REQUEST_NAMES("type", "message_type", "messageType") },
	{ offsetof(struct message_query, status), REQUEST_NAMES("status") },
	{ offsetof(struct message_query, from),
	  REQUEST_NAMES("from", "date_from", "dateFrom") },
	{ offsetof(struct message_query, to),
	  REQUEST_NAMES("to", "date_to", "dateTo") },
	{ offsetof(struct message_query, parent_id),
	  REQUEST_NAMES("parentId", "parent_id") },
	{ offsetof(struct message_query, order), REQUEST_NAMES("order") },
};

/*
 * Reads history's filters, cursors and page into q (its conversation
 * already set); -1 with *field naming a malformed page or limit, or an
 * empty filter or cursor (see empty_message()).
 */
static int
history_params(const struct request *req, struct message_query *q,
	struct page *pg, const char **field)
{
	int rc = request_page_parse(req, pg, field);

	for (size_t i = 0; rc == 0 && i < sizeof(filters) / sizeof(*filters);
	    i++)
		rc = request_filter(req, filters[i].names,
		    (const char **)((char *)q + filters[i].offset), field);
	q->before = q->after = NULL;
	for (size_t i = 0; rc == 0 && i < sizeof(cursors) / sizeof(*cursors);
	    i++) {
		const char *v = request_query(req, cursors[i].name);
		const char **to = cursors[i].after ? &q->after : &q->before;

		if (v && !*v) {
			*field = cursors[i].name;
			rc = -1;
		} else if (v && !*to) {
			*to = v;
		}
	}
	q->limit = pg->limit;
	q->offset = pg->offset;
	return rc;
}

/* The 400's message when history_params() failed on field. */
static const char *
empty_message(struct arena *a, const char *field)
{
	for (size_t i = 0; i < sizeof(cursors) / sizeof(*cursors); i++)
		if (strcmp(field, cursors[i].name) == 0)
			return cursors[i].empty;
	return arena_printf(a, "%s must not be empty (leave it out for no"
	    " filter)", field);
}

/* Whether q's pages can be cached: then cid receives the conversation. */
static int
history_cacheable(const struct message_query *q, char cid[IDS_UUID_LEN])
{
	return !q->peer_id && msgfmt_uuid_norm(q->group_id ? q->group_id :
	    q->conversation_id, cid) == 0;
}

/*
 * History with the query's filters; the conversation is already in q.
 * Pages of conversations named by id are served from histcache when the
 * conversation has not changed since they were rendered.
 */
static void
history(struct request *req, struct response *res, struct message_query *q)
{
	struct svc_error e = { 0 };
	struct message_page mp;
	struct histcache_page hp;
	struct svc_ctx ctx;
	struct page pg;
	char cid[IDS_UUID_LEN];
	const char *sig = NULL, *field;
	uint64_t version = 0;
	json_t *items;
	enum status st;

	if (history_params(req, q, &pg, &field) == -1) {
		if (strcmp(field, "page") != 0 && strcmp(field, "limit") != 0)
			reply_invalid(res, field, empty_message(req->arena, field));
		else /* as the other paged routes answer it */
			(void)request_page_or_reply(req, res, &pg);
		return;
	}
	request_svc(req, &ctx);
	if (history_cacheable(q, cid)) {
		sig = history_sig(req, q, &pg);
		if (histcache_get(&ctx, cid, req->me.user_id, sig, &hp,
		    &version)) {
			reply_raw(res, 200, "application/json; charset=utf-8",
			    hp.body, hp.len);
			page_headers(res, &hp);
			return;
		}
	}
	st = message_history(&ctx, req->me.user_id, q, &items, &mp, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_page_capped(res, "Messages retrieved", items, &pg, mp.total,
	    mp.total_capped, mp.next_cursor);
	if (sig && version) {
		hp.total = mp.total;
		hp.pages = pg.limit ? (mp.total + pg.limit - 1) / pg.limit : 0;
		hp.page = pg.page;
		hp.limit = pg.limit;
		hp.body = res->body;
		hp.len = res->body_len;
		histcache_put(&ctx, cid, req->me.user_id, sig, version, &hp);
	}
}

/*
 * The conversation a /messages list request names (peer_id for a DM);
 * -1 with *field naming a spelling given empty.
 */
static int
list_target(const struct request *req, struct message_query *q,
	const char **field)
{
	const char *peer;

	if (request_filter(req, REQUEST_NAMES("conversationId",
	    "conversation_id", "chatroomId", "chatroom_id"),
	    &q->conversation_id, field) == -1 ||
	    request_filter(req, REQUEST_NAMES("groupId", "group_id"),
	    &q->group_id, field) == -1 ||
	    request_filter(req, REQUEST_NAMES("receiverId", "receiver_id",
	    "userId", "user_id"), &peer, field) == -1)
		return -1;
	if (q->conversation_id)
		q->group_id = NULL;
	q->peer_id = q->conversation_id || q->group_id ? NULL : peer;
	return 0;
}

/* The conversation of /messages/group/{groupId} and .../{id}/messages. */
static const char *
group_target(const struct request *req)
{
	const char *id = request_param(req, "groupId");

	return id ? id : request_param(req, "id");
}

void
api_messages_list(struct request *req, struct response *res)
{
	struct message_query q = { 0 };
	const char *field;

	if (list_target(req, &q, &field) == -1) {
		reply_invalid(res, field, empty_message(req->arena, field));
		return;
	}
	if (!q.conversation_id && !q.group_id && !q.peer_id) {
		reply_invalid(res, "conversationId",
		    "conversationId (or groupId, or receiverId) is required");
		return;
	}
	history(req, res, &q);
}

_Static_assert(AUTH_PREFETCH_KEY_LEN == HISTCACHE_KEY_LEN,
    "history keys fit auth's prefetch");

size_t
api_messages_prefetch(void *arg, const char *user_id,
	char keys[][AUTH_PREFETCH_KEY_LEN], size_t max)
{
	struct request *req = arg;
	char cid[IDS_UUID_LEN];
	struct message_query q = { 0 };
	struct page pg;
	const char *field;

	if (max < HISTCACHE_NKEYS)
		return 0;
	if (req->route->handler == api_messages_group)
		q.group_id = group_target(req);
	else if (req->route->handler == api_messages_list) {
		if (list_target(req, &q, &field) == -1)
			return 0;
	} else
		return 0;
	if (history_params(req, &q, &pg, &field) == -1 ||
	    !history_cacheable(&q, cid))
		return 0;
	return histcache_keys(cid, user_id, history_sig(req, &q, &pg), keys);
}

void
api_messages_direct(struct request *req, struct response *res)
{
	struct message_query q = { 0 };

	q.peer_id = request_param(req, "otherUserId");
	history(req, res, &q);
}

void
api_messages_group(struct request *req, struct response *res)
{
	struct message_query q = { 0 };

	q.group_id = group_target(req);
	history(req, res, &q);
}

void
api_messages_search(struct request *req, struct response *res)
{
	struct message_search_query q = { 0 };
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct page pg;
	json_t *items, *flat, *it;
	long total = 0;
	size_t i;
	enum status st;

	if (request_page_or_reply(req, res, &pg) == -1)
		return;
	if (request_filter_or_reply(req, res, REQUEST_NAMES("query", "q"),
	    &q.query) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("groupId",
	    "group_id", "conversationId", "conversation_id"),
	    &q.conversation_id) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("userId", "user_id",
	    "senderId"), &q.sender_id) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("type",
	    "message_type"), &q.type) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("from",
	    "date_from"), &q.from) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("to", "date_to"),
	    &q.to) == -1)
		return;
	q.limit = pg.limit;
	q.offset = pg.offset;
	if (!q.query) {
		reply_invalid(res, "query", "query is required");
		return;
	}
	request_svc(req, &ctx);
	st = message_search(&ctx, req->me.user_id, &q, &items, &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	/* Seed 002: the items are messages; the search fields ride along. */
	flat = json_array();
	json_array_foreach(items, i, it) {
		json_t *m = json_incref(json_object_get(it, "message"));

		json_object_set(m, "relevanceScore",
		    json_object_get(it, "relevanceScore"));
		json_object_set(m, "matchedTerms",
		    json_object_get(it, "matchedTerms"));
		json_object_set(m, "context", json_object_get(it, "context"));
		json_array_append_new(flat, m);
	}
	json_decref(items);
	reply_page(res, "Search results", flat, &pg, total, NULL);
}

/*
 * The string field spelled names of the body into *out; absent and null
 * leave it NULL. A value of another type, or spellings that disagree, are
 * a 400 (a filter silently dropped would widen the results): -1 after
 * the reply.
 */
static int
body_str_or_reply(const struct request *req, struct response *res,
	const char *const *names, const char **out)
{
	json_t *v;

	if (request_field_or_reply(req, res, names, &v) == -1)
		return -1;
	if (v && !json_is_null(v) && !json_is_string(v)) {
		reply_invalid(res, names[0], arena_printf(req->arena,
		    "%s must be a string", names[0]));
		return -1;
	}
	if (v && json_is_string(v))
		*out = json_string_value(v);
	return 0;
}

/* Seed 003: POST /chatrooms/{id}/search {query, message_type, user_id, ...}. */
void
api_messages_room_search(struct request *req, struct response *res)
{
	struct message_search_query q = { 0 };
	const json_t *b = req->json;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *items, *lim, *page;
	struct page pg = { .page = 1, .limit = PAGE_LIMIT_DEFAULT };
	long total = 0;
	int64_t t0 = timefmt_mono_us();
	enum status st;

	q.conversation_id = request_param(req, "id");
	if (body_str_or_reply(req, res, JSONX_NAMES("query", "q"),
	    &q.query) == -1 ||
	    body_str_or_reply(req, res, JSONX_NAMES("userId", "user_id"),
	    &q.sender_id) == -1 ||
	    body_str_or_reply(req, res, JSONX_NAMES("messageType",
	    "message_type", "type"), &q.type) == -1 ||
	    body_str_or_reply(req, res, JSONX_NAMES("dateFrom", "date_from"),
	    &q.from) == -1 ||
	    body_str_or_reply(req, res, JSONX_NAMES("dateTo", "date_to"),
	    &q.to) == -1)
		return;
	lim = json_object_get(b, "limit");
	page = json_object_get(b, "page");
	if ((lim && !json_is_integer(lim)) || (page && !json_is_integer(page))) {
		reply_invalid(res, lim && !json_is_integer(lim) ? "limit" : "page",
		    "must be an integer");
		return;
	}
	/* Past long's range is past the bounds: clamped like the rest. */
	if (lim)
		pg.limit = json_integer_value(lim) > PAGE_LIMIT_MAX ?
		    PAGE_LIMIT_MAX : (long)json_integer_value(lim);
	if (page)
		pg.page = json_integer_value(page) > PAGE_MAX ? PAGE_MAX :
		    (long)json_integer_value(page);
	request_page_clamp(&pg);
	q.limit = pg.limit;
	q.offset = pg.offset;
	if (!q.query) {
		reply_invalid(res, "query", "query is required");
		return;
	}
	request_svc(req, &ctx);
	st = message_search(&ctx, req->me.user_id, &q, &items, &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "Search results", json_pack("{s:o,s:I,s:I}",
	    "results", items, "totalResults", (json_int_t)total, "searchTimeMs",
	    (json_int_t)((timefmt_mono_us() - t0) / 1000)));
}
