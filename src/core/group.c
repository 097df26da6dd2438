#include <string.h>
#include <strings.h>

#include "conv.h"
#include "db.h"
#include "group.h"
#include "group_db.h"
#include "group_input.h"
#include "histcache.h"
#include "jsonx.h"
#include "msgfmt.h"
#include "presence.h"
#include "svc.h"
#include "banned.h"

static const char *const role_names[] = {
	[GROUP_ROLE_NONE] = NULL,
	[GROUP_ROLE_MEMBER] = "MEMBER",
	[GROUP_ROLE_MODERATOR] = "MODERATOR",
	[GROUP_ROLE_ADMIN] = "ADMIN",
	[GROUP_ROLE_OWNER] = "OWNER",
};

const char *
group_role_name(enum group_role r)
{
	return r > GROUP_ROLE_NONE && r <= GROUP_ROLE_OWNER ? role_names[r] : NULL;
}

enum group_role
group_role_parse(const char *s)
{
	if (!s)
		return GROUP_ROLE_NONE;
	for (int r = GROUP_ROLE_MEMBER; r <= GROUP_ROLE_OWNER; r++)
		if (strcasecmp(s, role_names[r]) == 0)
			return (enum group_role)r;
	return GROUP_ROLE_NONE;
}

static enum status
not_found(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Group not found");
}

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

/* The payload of group events: the group without the viewer's fields. */
static json_t *
group_payload(const struct db_rows *r)
{
	json_t *g = group_db_json(r, 0);

	json_object_del(g, "role");
	json_object_del(g, "joinedAt");
	json_object_del(g, "unreadCount");
	json_object_del(g, "unreadCountCapped");
	return g;
}

static int
emit_role(struct db *db, const char *gid, const char *uid, const char *role,
	const char *previous, const char *by)
{
	json_t *p = json_object();

	jsonx_set_str(p, "groupId", gid);
	jsonx_set_str(p, "conversationId", gid);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "role", role);
	jsonx_set_str(p, "previousRole", previous);
	jsonx_set_str(p, "changedBy", by);
	return conv_event(db, OUTBOX_CONVERSATION, gid, "group:member:update", p);
}

/* group:delete to every member's personal room. */
static int
emit_delete(const struct svc_ctx *ctx, const char *gid, const char *by)
{
	struct db_rows r;
	json_t *p;
	int rc = 0;

	if (group_db_member_ids(ctx->db, ctx->arena, gid, &r) == -1)
		return -1;
	p = json_pack("{s:s,s:s,s:s}", "groupId", gid, "conversationId", gid,
	    "deletedBy", by);
	for (size_t i = 0; i < r.nrows && rc == 0; i++)
		rc = outbox_add(ctx->db, OUTBOX_USER, db_cell(&r, i, 0),
		    "group:delete", p);
	json_decref(p);
	return rc;
}

/* COMMIT, nudge, and bump the history version of bump (may be NULL). */
static enum status
commit(const struct svc_ctx *ctx, const char *bump, struct svc_error *e)
{
	if (db_commit(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	outbox_nudge(ctx->cfg);
	histcache_bump(ctx, bump);
	return ST_OK;
}

/* *dup is set when the insert hit the creator's earlier Idempotency-Key. */
static enum status
create_tx(const struct svc_ctx *ctx, const char *uid, struct group_input *gi,
	const char *settings, const char *gid, const char *idem, int *dup,
	struct svc_error *e)
{
	struct db *db = ctx->db;
	struct conv_now now;
	json_t *user = NULL, *head = NULL;
	size_t i, count = 1;
	json_t *m;
	int rc;

	conv_now(&now);
	if (db_begin(db) == -1)
		return conv_db_error(db, e);
	if (group_db_insert(db, gid, gi->p.title, gi->p.description,
	    gi->p.cover, gi->p.visibility, gi->p.max_members, settings,
	    uid, idem) == -1) {
		*dup = idem && db_errno(db) == DB_ERR_DUP;
		return conv_db_error(db, e);
	}
	rc = group_db_add_member(db, ctx->arena, gid, uid, "OWNER", NULL, NULL,
	    &user);
	if (rc != 0) {
		if (rc == -1)
			return conv_db_error(db, e);
		db_rollback(db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	head = json_pack("{s:s,s:s,s:s}", "id", gid, "title", gi->p.title,
	    "type", gi->p.visibility);
	rc = 0;
	json_array_foreach(gi->members, i, m) {
		char id[IDS_UUID_LEN];
		json_t *mu = NULL;

		conv_id(json_string_value(m), id);
		if (strcmp(id, uid) == 0)
			continue;
		rc = group_db_add_member(db, ctx->arena, gid, id, "MEMBER", NULL,
		    NULL, &mu);
		if (rc == -1 && db_errno(db) == DB_ERR_DUP) {
			rc = 0; /* listed twice */
			continue;
		}
		if (rc != 0)
			break;
		if (++count > (size_t)gi->p.max_members) {
			json_decref(mu);
			rc = 2;
			break;
		}
		json_t *p = conv_join_payload(gid, id, "MEMBER", mu, uid, "create",
		    now.iso);
		json_object_set(p, "group", head);
		rc = conv_event(db, OUTBOX_USER, id, "group:member:join", p);
		json_decref(mu);
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		json_t *p = conv_join_payload(gid, uid, "OWNER", user, uid, "create",
		    now.iso);

		json_object_set(p, "group", head);
		rc = conv_event(db, OUTBOX_USER, uid, "group:member:join", p);
	}
	json_decref(user);
	json_decref(head);
	if (rc == -1)
		return conv_db_error(db, e);
	if (rc == 1) {
		db_rollback(db);
		e->field = "members";
		return svc_fail(e, ST_NOT_FOUND, NULL,
		    "A listed member does not exist");
	}
	if (rc == 2) {
		db_rollback(db);
		return invalid(e, "members", "more members than maxMembers");
	}
	return commit(ctx, NULL, e);
}

enum status
group_create(const struct svc_ctx *ctx, const char *user_id,
	const json_t *input, const char *idem, json_t **out,
	struct svc_error *e)
{
	struct group_input gi;
	char gid[IDS_UUID_LEN];
	const char *settings;
	enum status st;
	int dup = 0;

	*out = NULL;
	st = conv_check_idempotency_key(idem, e);
	if (st != ST_OK)
		return st;
	st = group_input_parse(ctx->arena, input, 1, &gi, e);
	if (st != ST_OK) {
		json_decref(gi.settings);
		return st;
	}
	settings = group_input_settings(ctx->arena, NULL, gi.settings);
	json_decref(gi.settings);
	ids_uuid7(gid);
	for (int attempt = 0;; attempt++) {
		st = create_tx(ctx, user_id, &gi, settings, gid, idem, &dup, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (dup) {
		/* A retry: answer with the group the first request made. */
		switch (group_db_find_idempotent(ctx->db, ctx->arena, user_id,
		    idem, gid)) {
		case -1:
			return conv_db_error(ctx->db, e);
		case 0:
			return svc_fail(e, ST_CONFLICT, NULL,
			    "A concurrent request with this key failed; retry");
		}
		st = ST_OK;
	}
	if (st != ST_OK)
		return st;
	st = group_get(ctx, user_id, gid, out, e);
	return st == ST_OK ? ST_CREATED : st;
}

enum status
group_list(const struct svc_ctx *ctx, const char *user_id, const char *search,
	const struct page *pg, json_t **items, long *total, struct svc_error *e)
{
	struct conv_filter f = { "GROUP", search, 0 };
	struct db_rows r;

	*items = NULL;
	if (search && (msgfmt_utf8_chars(search, strlen(search)) < 0 ||
	    msgfmt_utf8_chars(search, strlen(search)) > 100))
		return invalid(e, "search",
		    "search must be at most 100 characters of UTF-8 text");
	if (group_db_list(ctx->db, ctx->arena, user_id, &f, pg->limit,
	    pg->offset, &r, total) == -1)
		return conv_db_error(ctx->db, e);
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*items, group_db_json(&r, i));
	return ST_OK;
}

/* Member objects with presence (one memcached round trip for all). */
static json_t *
members_json(const struct svc_ctx *ctx, const struct db_rows *m)
{
	json_t *arr = json_array();
	const char **ids = arena_alloc(ctx->arena, (m->nrows + 1) * sizeof(*ids));
	int *online = arena_zalloc(ctx->arena, (m->nrows + 1) * sizeof(*online));

	for (size_t i = 0; i < m->nrows; i++)
		ids[i] = db_get(m, i, "user_id");
	if (m->nrows && ctx->cache)
		presence_many(ctx->cache, ctx->arena, ids, m->nrows, online);
	for (size_t i = 0; i < m->nrows; i++) {
		json_t *o = group_db_member_json(m, i);

		json_object_set_new(o, "isOnline", json_boolean(online[i]));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The caller's list row for group gid, or not found. */
static enum status
load_row(const struct svc_ctx *ctx, const char *uid, const char *gid,
	struct db_rows *r, struct svc_error *e)
{
	const char *kind;

	if (group_db_row(ctx->db, ctx->arena, uid, gid, r) == -1)
		return conv_db_error(ctx->db, e);
	kind = r->nrows ? db_get(r, 0, "kind") : NULL;
	if (!kind || strcmp(kind, "GROUP") != 0)
		return not_found(e);
	return ST_OK;
}

enum status
group_get(const struct svc_ctx *ctx, const char *user_id, const char *group_id,
	json_t **out, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	struct db_rows r, m;
	enum status st;
	json_t *g;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	st = load_row(ctx, user_id, gid, &r, e);
	if (st != ST_OK)
		return st;
	if (group_db_members(ctx->db, ctx->arena, gid, GROUP_DETAIL_MEMBERS, 0,
	    &m, NULL) == -1)
		return conv_db_error(ctx->db, e);
	g = group_db_json(&r, 0);
	jsonx_set_str(g, "userRole", db_get(&r, 0, "role"));
	json_object_set_new(g, "members", members_json(ctx, &m));
	*out = g;
	return ST_OK;
}

enum status
group_members(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const struct page *pg, json_t **items,
	long *total, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	struct group_access acc;
	struct db_rows m;
	int rc;

	*items = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	rc = group_db_access(ctx->db, ctx->arena, gid, user_id, 0, &acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1 || acc.role == GROUP_ROLE_NONE)
		return not_found(e);
	if (group_db_members(ctx->db, ctx->arena, gid, pg->limit, pg->offset,
	    &m, total) == -1)
		return conv_db_error(ctx->db, e);
	*items = members_json(ctx, &m);
	return ST_OK;
}

/*
 * Starts a change of group gid by uid: BEGIN, lock the group, check that
 * uid is a member with at least role min. On failure the transaction is
 * rolled back and the status says why.
 */
static enum status
begin_change(const struct svc_ctx *ctx, const char *gid, const char *uid,
	enum group_role min, const char *denied_code, struct group_access *acc,
	struct svc_error *e)
{
	int rc;

	if (db_begin(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	rc = group_db_access(ctx->db, ctx->arena, gid, uid, 1, acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1 || acc->role == GROUP_ROLE_NONE) {
		db_rollback(ctx->db);
		return not_found(e);
	}
	if (acc->role < min) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, denied_code,
		    min == GROUP_ROLE_OWNER ? "Only the group owner may do this" :
		    "Your role in this group does not allow this");
	}
	return ST_OK;
}

static enum status
update_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	struct group_input *gi, json_t **payload, struct svc_error *e)
{
	struct group_access acc;
	struct db_rows r;
	enum status st;

	st = begin_change(ctx, gid, uid, GROUP_ROLE_MODERATOR, NULL, &acc, e);
	if (st != ST_OK)
		return st;
	if (gi->p.max_set && gi->p.max_members < acc.member_count) {
		db_rollback(ctx->db);
		return invalid(e, "maxMembers",
		    "maxMembers is below the current number of members");
	}
	if (json_object_size(gi->settings)) {
		gi->p.settings_set = 1;
		gi->p.settings = group_input_settings(ctx->arena, acc.settings, gi->settings);
	}
	if (group_db_update(ctx->db, gid, &gi->p) == -1 ||
	    group_db_row(ctx->db, ctx->arena, uid, gid, &r) == -1)
		return conv_db_error(ctx->db, e);
	if (r.nrows == 0) {
		db_rollback(ctx->db);
		return not_found(e);
	}
	*payload = group_db_json(&r, 0);
	if (conv_event(ctx->db, OUTBOX_CONVERSATION, gid, "group:update",
	    group_payload(&r)) == -1) {
		json_decref(*payload);
		*payload = NULL;
		return conv_db_error(ctx->db, e);
	}
	st = commit(ctx, NULL, e);
	if (st != ST_OK) {
		json_decref(*payload);
		*payload = NULL;
	}
	return st;
}

enum status
group_update(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const json_t *input, json_t **out,
	struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	struct group_input gi;
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	st = group_input_parse(ctx->arena, input, 0, &gi, e);
	for (int attempt = 0; st == ST_OK; attempt++) {
		st = update_tx(ctx, user_id, gid, &gi, out, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
		st = ST_OK;
	}
	json_decref(gi.settings);
	return st;
}

static enum status
delete_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	struct svc_error *e)
{
	struct group_access acc;
	enum status st;

	st = begin_change(ctx, gid, uid, GROUP_ROLE_OWNER,
	    "CHATROOM_OWNER_REQUIRED", &acc, e);
	if (st != ST_OK)
		return st;
	if (emit_delete(ctx, gid, uid) == -1 || group_db_delete(ctx->db, gid) == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
group_delete(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	enum status st;

	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	for (int attempt = 0;; attempt++) {
		st = delete_tx(ctx, user_id, gid, e);
		if (!conv_retry(ctx->db, st, attempt))
			return st;
	}
}

/* The member object of uid in gid (after a change), or NULL. */
static json_t *
member_json(const struct svc_ctx *ctx, const char *gid, const char *uid)
{
	struct db_rows m;
	json_t *o;

	if (group_db_member(ctx->db, ctx->arena, gid, uid, &m) == -1 ||
	    m.nrows == 0)
		return NULL;
	o = group_db_member_json(&m, 0);
	if (ctx->cache)
		json_object_set_new(o, "isOnline",
		    json_boolean(presence_is_online(ctx->cache, uid) == 1));
	return o;
}

static enum status
add_tx(const struct svc_ctx *ctx, const char *actor, const char *gid,
	const char *target, enum group_role role, struct svc_error *e)
{
	struct group_access acc;
	struct conv_now now;
	json_t *user = NULL;
	enum status st;
	int rc;

	st = begin_change(ctx, gid, actor, GROUP_ROLE_ADMIN, NULL, &acc, e);
	if (st != ST_OK)
		return st;
	if (role == GROUP_ROLE_ADMIN && acc.role != GROUP_ROLE_OWNER) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Only the group owner may add admins");
	}
	if (acc.member_count >= acc.max_members) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_CONFLICT, "CHATROOM_FULL",
		    "The group is full");
	}
	rc = group_db_add_member(ctx->db, ctx->arena, gid, target,
	    group_role_name(role), acc.last_message_id, acc.last_message_at,
	    &user);
	if (rc == -1 && db_errno(ctx->db) == DB_ERR_DUP) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_CONFLICT, NULL,
		    "The user is already a member");
	}
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	conv_now(&now);
	rc = conv_emit_join(ctx->db, gid, target, group_role_name(role), user, actor,
	    "add", now.iso);
	json_decref(user);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
group_member_add(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *target_id, const char *role,
	json_t **out, struct svc_error *e)
{
	char gid[IDS_UUID_LEN], target[IDS_UUID_LEN];
	enum group_role r = role ? group_role_parse(role) : GROUP_ROLE_MEMBER;
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	if (conv_id(target_id, target) == -1)
		return invalid(e, "userId", "userId must be a user id");
	if (r == GROUP_ROLE_NONE || r == GROUP_ROLE_OWNER)
		return invalid(e, "role", "role must be MEMBER, MODERATOR or ADMIN");
	for (int attempt = 0;; attempt++) {
		st = add_tx(ctx, actor_id, gid, target, r, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	*out = member_json(ctx, gid, target);
	return *out ? ST_OK : conv_db_error(ctx->db, e);
}

/*
 * Member uid leaves locked group gid (acc): an owner hands the group over,
 * the last member deletes it. 0, or -1 on a database error.
 */
static int
leave_locked(const struct svc_ctx *ctx, const char *uid, const char *gid,
	const struct group_access *acc, char new_owner[IDS_UUID_LEN])
{
	const char *was = NULL;
	int rc;

	new_owner[0] = '\0';
	if (acc->member_count <= 1)
		/* The last member leaving deletes the group. */
		return emit_delete(ctx, gid, uid) == -1 ||
		    conv_emit_leave(ctx->db, gid, uid, "left", NULL, NULL) == -1 ||
		    group_db_remove_member(ctx->db, gid, uid, NULL) == -1 ||
		    group_db_delete(ctx->db, gid) == -1 ? -1 : 0;
	if (acc->role == GROUP_ROLE_OWNER) {
		rc = group_db_successor(ctx->db, ctx->arena, gid, uid, new_owner,
		    &was);
		if (rc == -1 || (rc == 0 && (group_db_set_role(ctx->db, gid,
		    new_owner, "OWNER", NULL) == -1 || emit_role(ctx->db, gid,
		    new_owner, "OWNER", was, uid) == -1)))
			return -1;
	}
	return group_db_remove_member(ctx->db, gid, uid, NULL) == -1 ||
	    conv_emit_leave(ctx->db, gid, uid, "left", NULL, new_owner) == -1 ?
	    -1 : 0;
}

static enum status
leave_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	char new_owner[IDS_UUID_LEN], struct svc_error *e)
{
	struct group_access acc;
	enum status st;

	new_owner[0] = '\0';
	st = begin_change(ctx, gid, uid, GROUP_ROLE_MEMBER, NULL, &acc, e);
	if (st != ST_OK)
		return st;
	if (leave_locked(ctx, uid, gid, &acc, new_owner) == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
group_leave(const struct svc_ctx *ctx, const char *user_id,
	const char *group_id, const char **new_owner, struct svc_error *e)
{
	char gid[IDS_UUID_LEN], owner[IDS_UUID_LEN];
	enum status st;

	if (new_owner)
		*new_owner = "";
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	for (int attempt = 0;; attempt++) {
		st = leave_tx(ctx, user_id, gid, owner, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st == ST_OK && new_owner)
		*new_owner = arena_strdup(ctx->arena, owner);
	return st;
}

int
group_leave_all(const struct svc_ctx *ctx, const char *user_id,
	struct db_rows *convs)
{
	char new_owner[IDS_UUID_LEN];
	struct group_access acc;
	int rc;

	if (group_db_conversation_ids(ctx->db, ctx->arena, user_id, convs) == -1)
		return -1;
	for (size_t i = 0; i < convs->nrows; i++) {
		const char *gid = db_cell(convs, i, 0);

		rc = group_db_access(ctx->db, ctx->arena, gid, user_id, 1, &acc);
		if (rc == -1)
			return -1;
		if (rc == 1 || acc.role == GROUP_ROLE_NONE)
			continue; /* a direct conversation, or left meanwhile */
		if (leave_locked(ctx, user_id, gid, &acc, new_owner) == -1)
			return -1;
	}
	/* Last, after the group locks, in the order joining takes them. */
	return group_db_drop_user_requests(ctx->db, user_id);
}

static enum status
remove_tx(const struct svc_ctx *ctx, const char *actor, const char *gid,
	const char *target, struct svc_error *e)
{
	struct group_access acc;
	enum group_role trole;
	enum status st;
	int rc;

	st = begin_change(ctx, gid, actor, GROUP_ROLE_ADMIN, NULL, &acc, e);
	if (st != ST_OK)
		return st;
	rc = group_db_is_member(ctx->db, ctx->arena, gid, target, &trole);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Member not found");
	}
	if (trole >= acc.role) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "You may only remove members with a lower role");
	}
	if (group_db_remove_member(ctx->db, gid, target, NULL) == -1 ||
	    conv_emit_leave(ctx->db, gid, target, "removed", actor, NULL) == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
group_member_remove(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *target_id, struct svc_error *e)
{
	char gid[IDS_UUID_LEN], target[IDS_UUID_LEN];
	enum status st;

	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	if (conv_id(target_id, target) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "Member not found");
	if (strcmp(target, actor_id) == 0)
		return group_leave(ctx, actor_id, gid, NULL, e);
	for (int attempt = 0;; attempt++) {
		st = remove_tx(ctx, actor_id, gid, target, e);
		if (!conv_retry(ctx->db, st, attempt))
			return st;
	}
}

static enum status
role_tx(const struct svc_ctx *ctx, const char *actor, const char *gid,
	const char *target, enum group_role role, struct svc_error *e)
{
	struct group_access acc;
	enum group_role trole;
	enum status st;
	int rc;

	st = begin_change(ctx, gid, actor, GROUP_ROLE_ADMIN, NULL, &acc, e);
	if (st != ST_OK)
		return st;
	rc = group_db_is_member(ctx->db, ctx->arena, gid, target, &trole);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Member not found");
	}
	if (trole >= acc.role || (role >= GROUP_ROLE_ADMIN &&
	    acc.role != GROUP_ROLE_OWNER)) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Your role in this group does not allow this change");
	}
	/* As for adding: a deleted or deactivated account gets no role. */
	st = conv_user_active(ctx, target, e);
	if (st != ST_OK)
		return st;
	if (trole == role) {
		db_rollback(ctx->db);
		return ST_OK;
	}
	if (group_db_set_role(ctx->db, gid, target, group_role_name(role),
	    NULL) == -1 || emit_role(ctx->db, gid, target,
	    group_role_name(role), group_role_name(trole), actor) == -1)
		return conv_db_error(ctx->db, e);
	/* Handing over ownership: the old owner stays as an admin. */
	if (role == GROUP_ROLE_OWNER && (group_db_set_role(ctx->db, gid, actor,
	    "ADMIN", NULL) == -1 || emit_role(ctx->db, gid, actor, "ADMIN",
	    "OWNER", actor) == -1))
		return conv_db_error(ctx->db, e);
	return commit(ctx, NULL, e);
}

enum status
group_member_set_role(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *target_id, const char *role,
	json_t **out, struct svc_error *e)
{
	char gid[IDS_UUID_LEN], target[IDS_UUID_LEN];
	enum group_role r = group_role_parse(role);
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	if (conv_id(target_id, target) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "Member not found");
	if (r == GROUP_ROLE_NONE)
		return invalid(e, "role",
		    "role must be MEMBER, MODERATOR, ADMIN or OWNER");
	if (strcmp(target, actor_id) == 0)
		return invalid(e, "userId", "You cannot change your own role");
	for (int attempt = 0;; attempt++) {
		st = role_tx(ctx, actor_id, gid, target, r, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	*out = member_json(ctx, gid, target);
	return *out ? ST_OK : conv_db_error(ctx->db, e);
}

static enum status
join_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	struct svc_error *e)
{
	struct group_access acc;
	struct conv_now now;
	json_t *user = NULL;
	int rc;

	if (db_begin(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	rc = group_db_access(ctx->db, ctx->arena, gid, uid, 1, &acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 0 && acc.role != GROUP_ROLE_NONE) {
		db_rollback(ctx->db);
		return ST_OK; /* already a member */
	}
	if (rc == 1 || strcmp(acc.visibility, "PUBLIC") != 0) {
		db_rollback(ctx->db);
		return not_found(e);
	}
	if (acc.member_count >= acc.max_members) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_CONFLICT, "CHATROOM_FULL", "The group is full");
	}
	rc = group_db_add_member(ctx->db, ctx->arena, gid, uid, "MEMBER",
	    acc.last_message_id, acc.last_message_at, &user);
	if (rc != 0) {
		if (rc == -1)
			return conv_db_error(ctx->db, e);
		db_rollback(ctx->db);
		return not_found(e);
	}
	conv_now(&now);
	rc = conv_emit_join(ctx->db, gid, uid, "MEMBER", user, NULL, "join", now.iso);
	json_decref(user);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
group_join(const struct svc_ctx *ctx, const char *user_id, const char *group_id,
	json_t **out, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	for (int attempt = 0;; attempt++) {
		st = join_tx(ctx, user_id, gid, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	return group_get(ctx, user_id, gid, out, e);
}

int
group_is_member(const struct svc_ctx *ctx, const char *conv_id_in,
	const char *user_id)
{
	char cid[IDS_UUID_LEN], uid[IDS_UUID_LEN];

	if (conv_id(conv_id_in, cid) == -1 || conv_id(user_id, uid) == -1)
		return 0;
	return group_db_is_member(ctx->db, ctx->arena, cid, uid, NULL);
}
