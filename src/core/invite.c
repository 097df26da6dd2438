#include <stdio.h>
#include <string.h>

#include "config.h"
#include "conv.h"
#include "db.h"
#include "group.h"
#include "group_db.h"
#include "histcache.h"
#include "invite.h"
#include "invite_db.h"
#include "jsonx.h"
#include "svc.h"
#include "banned.h"

static enum status
not_found(struct svc_error *e)
{
	return svc_fail(e, ST_NOT_FOUND, NULL, "Group not found");
}

static enum status
invalid_code(struct svc_error *e)
{
	return svc_fail(e, ST_INVALID, "CHATROOM_INVITE_INVALID",
	    "Invalid or expired invitation");
}

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

struct invite_input {
	int64_t max_uses; /* -1: unlimited */
	const char *expires_at; /* DATETIME text or NULL (never) */
	const char *title;
	int require_approval;
};

static enum status
parse_input(const struct svc_ctx *ctx, const json_t *in,
	struct invite_input *ii, struct svc_error *e)
{
	json_t *v, *h, *d;
	int64_t now = timefmt_now_ms(), at = now +
	    (int64_t)INVITE_DEFAULT_HOURS * 3600000;
	char *t;

	memset(ii, 0, sizeof(*ii));
	ii->max_uses = 1;
	if (svc_field(ctx->arena, in, JSONX_NAMES("maxUses", "max_uses"), &v,
	    e) != ST_OK)
		return ST_INVALID;
	if (v && json_is_null(v)) {
		ii->max_uses = -1;
	} else if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > INVITE_MAX_USES)
			return invalid(e, "maxUses",
			    "maxUses must be an integer from 1 to 100000, or null");
		ii->max_uses = (int64_t)json_integer_value(v);
	}
	if (svc_field(ctx->arena, in, JSONX_NAMES("expiresInHours",
	    "expires_in_hours"), &h, e) != ST_OK ||
	    svc_field(ctx->arena, in, JSONX_NAMES("expireDate", "expire_date",
	    "expiresAt", "expires_at"), &d, e) != ST_OK)
		return ST_INVALID;
	if (h && d)
		return invalid(e, "expiresInHours",
		    "give expiresInHours or expireDate, not both");
	if ((h && json_is_null(h)) || (d && json_is_null(d))) {
		at = -1;
	} else if (h) {
		if (!json_is_integer(h) || json_integer_value(h) < 1 ||
		    json_integer_value(h) > INVITE_MAX_HOURS)
			return invalid(e, "expiresInHours",
			    "expiresInHours must be an integer from 1 to 8760");
		at = now + (int64_t)json_integer_value(h) * 3600000;
	} else if (d) {
		if (!json_is_string(d) || timefmt_parse(json_string_value(d),
		    &at) == -1)
			return invalid(e, "expireDate",
			    "expireDate must be an ISO 8601 timestamp");
		if (at <= now || at > now + (int64_t)INVITE_MAX_HOURS * 3600000)
			return invalid(e, "expireDate",
			    "expireDate must be in the next 365 days");
	}
	if (at >= 0) {
		t = arena_alloc(ctx->arena, MSGFMT_DBTIME_LEN);
		msgfmt_db_time(at, t);
		ii->expires_at = t;
	}
	v = json_object_get(in, "title");
	if (v && !json_is_null(v)) {
		const char *s = json_string_value(v);

		if (!s || msgfmt_utf8_chars(s, strlen(s)) < 0 ||
		    msgfmt_utf8_chars(s, strlen(s)) > 100)
			return invalid(e, "title",
			    "title must be at most 100 characters");
		ii->title = s;
	}
	if (svc_field(ctx->arena, in, JSONX_NAMES("requireApproval",
	    "require_approval"), &v, e) != ST_OK)
		return ST_INVALID;
	if (v) {
		if (!json_is_boolean(v))
			return invalid(e, "requireApproval",
			    "requireApproval must be a boolean");
		ii->require_approval = json_is_true(v);
	}
	return ST_OK;
}

static int
may_invite(const struct group_access *acc)
{
	json_t *s;
	int allowed;

	if (acc->role >= GROUP_ROLE_MODERATOR)
		return 1;
	s = group_db_settings(acc->settings);
	allowed = json_is_true(json_object_get(s, "allowInvites"));
	json_decref(s);
	return allowed;
}

/* BEGIN and lock group gid for uid (a member). */
static enum status
begin_locked(const struct svc_ctx *ctx, const char *gid, const char *uid,
	struct group_access *acc, struct svc_error *e)
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
	return ST_OK;
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
create_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	const struct invite_input *ii, const char *id, const char *code,
	const char *idem, int *dup, struct svc_error *e)
{
	struct group_access acc;
	long day, active, retry;
	enum status st;

	st = begin_locked(ctx, gid, uid, &acc, e);
	if (st != ST_OK)
		return st;
	if (!may_invite(&acc)) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Only moderators and above may invite to this group");
	}
	if (invite_db_counts(ctx->db, ctx->arena, gid, &day, &active,
	    &retry) == -1)
		return conv_db_error(ctx->db, e);
	if (day >= ctx->cfg->groups_invites_per_day) {
		db_rollback(ctx->db);
		e->retry_after = retry > 0 ? (int)retry : 1;
		return svc_fail(e, ST_RATE_LIMITED, NULL,
		    "This group has created its invitations for today");
	}
	if (active >= ctx->cfg->groups_max_active_invites) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, "MAX_INVITES_REACHED",
		    "Maximum active invitations reached");
	}
	if (invite_db_insert(ctx->db, id, gid, code, ii->title, uid,
	    ii->max_uses, ii->require_approval, ii->expires_at, idem) == -1) {
		*dup = idem && db_errno(ctx->db) == DB_ERR_DUP;
		return conv_db_error(ctx->db, e);
	}
	return commit(ctx, NULL, e);
}

/* One invitation of gid as JSON, or ST_NOT_FOUND. */
static enum status
load(const struct svc_ctx *ctx, const char *gid, const char *id, json_t **out,
	struct svc_error *e)
{
	struct db_rows r;

	if (invite_db_get(ctx->db, ctx->arena, gid, id, &r) == -1)
		return conv_db_error(ctx->db, e);
	if (r.nrows == 0)
		return svc_fail(e, ST_NOT_FOUND, NULL, "Invitation not found");
	*out = invite_db_json(&r, 0, ctx->cfg->public_url);
	return ST_OK;
}

/*
 * The invitation actor made earlier with Idempotency-Key idem, into id:
 * ST_OK, ST_NOT_FOUND (none), ST_CONFLICT (made for another group than
 * gid), ST_UNAVAILABLE.
 */
static enum status
find_retried(const struct svc_ctx *ctx, const char *actor_id,
	const char *idem, const char *gid, char id[IDS_UUID_LEN],
	struct svc_error *e)
{
	char first_gid[IDS_UUID_LEN];

	switch (invite_db_find_idempotent(ctx->db, ctx->arena, actor_id, idem,
	    id, first_gid)) {
	case -1:
		return conv_db_error(ctx->db, e);
	case 0:
		return ST_NOT_FOUND;
	}
	if (strcmp(first_gid, gid) != 0)
		return svc_fail(e, ST_CONFLICT, NULL,
		    "This Idempotency-Key was used for another group");
	return ST_OK;
}

/* The 201 answer: invitation id of gid as it is now. */
static enum status
created(const struct svc_ctx *ctx, const char *gid, const char *id,
	json_t **out, struct svc_error *e)
{
	enum status st = load(ctx, gid, id, out, e);

	return st == ST_OK ? ST_CREATED : st;
}

enum status
invite_create(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const json_t *input, const char *idem,
	json_t **out, struct svc_error *e)
{
	char gid[IDS_UUID_LEN], id[IDS_UUID_LEN], code[24];
	struct invite_input ii;
	enum status st;
	int dup = 0;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	st = conv_check_idempotency_key(idem, e);
	if (st != ST_OK)
		return st;
	st = parse_input(ctx, input, &ii, e);
	if (st != ST_OK)
		return st;
	/*
	 * A retry after the first request committed is answered before the
	 * daily and active limits, which now count the first invitation
	 * (while the caller is still a member; else create_tx answers).
	 */
	if (idem) {
		enum group_role role;

		st = find_retried(ctx, actor_id, idem, gid, id, e);
		if (st != ST_OK && st != ST_NOT_FOUND)
			return st;
		if (st == ST_OK)
			switch (group_db_is_member(ctx->db, ctx->arena, gid,
			    actor_id, &role)) {
			case -1:
				return conv_db_error(ctx->db, e);
			case 1:
				return created(ctx, gid, id, out, e);
			}
	}
	ids_uuid7(id);
	ids_token(code, INVITE_CODE_BYTES);
	for (int attempt = 0;; attempt++) {
		st = create_tx(ctx, actor_id, gid, &ii, id, code, idem, &dup, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (dup) {
		st = find_retried(ctx, actor_id, idem, gid, id, e);
		if (st == ST_NOT_FOUND)
			return svc_fail(e, ST_CONFLICT, NULL,
			    "A concurrent request with this key failed; retry");
	}
	if (st != ST_OK)
		return st;
	return created(ctx, gid, id, out, e);
}

enum status
invite_list(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, json_t **items, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	struct group_access acc;
	struct db_rows r;
	int rc;

	*items = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	rc = group_db_access(ctx->db, ctx->arena, gid, actor_id, 0, &acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1 || acc.role == GROUP_ROLE_NONE)
		return not_found(e);
	if (invite_db_list(ctx->db, ctx->arena, gid,
	    acc.role >= GROUP_ROLE_MODERATOR ? NULL : actor_id, &r) == -1)
		return conv_db_error(ctx->db, e);
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*items,
		    invite_db_json(&r, i, ctx->cfg->public_url));
	return ST_OK;
}

static enum status
revoke_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	const char *iid, struct svc_error *e)
{
	struct group_access acc;
	struct db_rows r;
	const char *by;
	enum status st;

	st = begin_locked(ctx, gid, uid, &acc, e);
	if (st != ST_OK)
		return st;
	if (invite_db_get(ctx->db, ctx->arena, gid, iid, &r) == -1)
		return conv_db_error(ctx->db, e);
	by = r.nrows ? db_get(&r, 0, "created_by") : NULL;
	if (!by) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Invitation not found");
	}
	if (acc.role < GROUP_ROLE_MODERATOR && strcmp(by, uid) != 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Only moderators and above may revoke others' invitations");
	}
	if (invite_db_revoke(ctx->db, gid, iid) == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, NULL, e);
}

enum status
invite_revoke(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *invite_id, json_t **out,
	struct svc_error *e)
{
	char gid[IDS_UUID_LEN], iid[IDS_UUID_LEN];
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	if (conv_id(invite_id, iid) == -1) {
		/* Non-members must not learn the group exists. */
		if (group_is_member(ctx, gid, actor_id) != 1)
			return not_found(e);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Invitation not found");
	}
	for (int attempt = 0;; attempt++) {
		st = revoke_tx(ctx, actor_id, gid, iid, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	return load(ctx, gid, iid, out, e);
}

/* base64url, 1..32 characters. */
static int
code_ok(const char *c)
{
	size_t n = c ? strlen(c) : 0;

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z') ||
		    (c[i] >= '0' && c[i] <= '9') || c[i] == '-' || c[i] == '_'))
			return 0;
	return 1;
}

enum join_result { JOINED, ALREADY, PENDING };

/*
 * group:join_request to the personal room of each OWNER and ADMIN of gid
 * (its row is locked: they are who may decide it): the request, row 0 of
 * req, as they list it, with the group's id.
 */
static int
emit_request(const struct svc_ctx *ctx, const char *gid,
	const struct db_rows *req)
{
	struct db_rows r;
	json_t *p;
	int rc = 0;

	if (invite_db_deciders(ctx->db, ctx->arena, gid, &r) == -1)
		return -1;
	p = invite_db_request_json(req, 0);
	jsonx_set_str(p, "groupId", gid);
	jsonx_set_str(p, "conversationId", gid);
	for (size_t i = 0; i < r.nrows && rc == 0; i++)
		rc = outbox_add(ctx->db, OUTBOX_USER, db_cell(&r, i, 0),
		    "group:join_request", p);
	json_decref(p);
	return rc;
}

/*
 * group:join_request:rejected to the requester's personal room: they are
 * in no room of the group. iid is "" when the invitation is gone.
 */
static int
emit_rejected(struct db *db, const char *gid, const char *uid,
	const char *iid)
{
	struct conv_now now;
	json_t *p = json_object();

	conv_now(&now);
	jsonx_set_str(p, "groupId", gid);
	jsonx_set_str(p, "conversationId", gid);
	jsonx_set_str(p, "userId", uid);
	jsonx_set_str(p, "invitationId", *iid ? iid : NULL);
	jsonx_set_str(p, "status", "REJECTED");
	jsonx_set_str(p, "rejectedAt", now.iso);
	return conv_event(db, OUTBOX_USER, uid, "group:join_request:rejected",
	    p);
}

/* The pending request a join ended with, as stored. */
struct join_request {
	char invitation_id[IDS_UUID_LEN];
	const char *created_at; /* DATETIME text, arena */
};

static enum status
join_tx(const struct svc_ctx *ctx, const char *uid, const char *gid,
	const char *code, enum join_result *res, struct join_request *jr,
	struct svc_error *e)
{
	char iid[IDS_UUID_LEN];
	struct group_access acc;
	struct conv_now now;
	struct db_rows r;
	json_t *user = NULL;
	uint64_t added = 0;
	const char *conv;
	enum status st;
	int rc, active;

	if (db_begin(ctx->db) == -1)
		return conv_db_error(ctx->db, e);
	rc = group_db_access(ctx->db, ctx->arena, gid, uid, 1, &acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1) {
		db_rollback(ctx->db);
		return invalid_code(e);
	}
	if (acc.role != GROUP_ROLE_NONE) {
		db_rollback(ctx->db);
		*res = ALREADY;
		return ST_OK;
	}
	/*
	 * Before the request a deactivation would drop (user_state.c): one
	 * under way is waited for, and neither a request nor a membership
	 * is left to an account switched off.
	 */
	st = conv_user_active(ctx, uid, e);
	if (st != ST_OK)
		return st;
	if (invite_db_lock_code(ctx->db, ctx->arena, code, &r) == -1)
		return conv_db_error(ctx->db, e);
	conv = r.nrows ? db_get(&r, 0, "conversation_id") : NULL;
	if (!conv || strcmp(conv, gid) != 0) {
		db_rollback(ctx->db);
		return invalid_code(e);
	}
	active = db_get_int(&r, 0, "active") != 0;
	memcpy(iid, db_get(&r, 0, "id"), IDS_UUID_LEN);
	if (db_get_int(&r, 0, "require_approval")) {
		/*
		 * Only a new request needs a usable invitation: a pending one
		 * is answered again, even once the invitation is used up or
		 * has expired. One whose invitation was revoked is dead and
		 * makes way for this one. The request holds a use until it is
		 * decided; only approval spends it (decide_tx).
		 */
		if (invite_db_request_drop_dead(ctx->db, gid, uid) == -1 ||
		    invite_db_request_add(ctx->db, gid, uid, iid, &added) == -1)
			return conv_db_error(ctx->db, e);
		if (added && !active) {
			db_rollback(ctx->db);
			return invalid_code(e);
		}
		/*
		 * The answer is the request that is pending: asked again, maybe
		 * with another code, that is still the first one, and it was
		 * announced then.
		 */
		if (invite_db_request_get(ctx->db, ctx->arena, gid, uid,
		    &r) == -1 || (added && r.nrows &&
		    emit_request(ctx, gid, &r) == -1))
			return conv_db_error(ctx->db, e);
		if (r.nrows && db_get(&r, 0, "invitation_id"))
			snprintf(jr->invitation_id, IDS_UUID_LEN, "%s",
			    db_get(&r, 0, "invitation_id"));
		jr->created_at = r.nrows ? db_get(&r, 0, "created_at") : NULL;
		*res = PENDING;
		return commit(ctx, NULL, e);
	}
	if (!active) {
		db_rollback(ctx->db);
		return invalid_code(e);
	}
	if (acc.member_count >= acc.max_members) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_CONFLICT, "CHATROOM_FULL", "The group is full");
	}
	if (invite_db_use(ctx->db, iid) == -1)
		return conv_db_error(ctx->db, e);
	rc = group_db_add_member(ctx->db, ctx->arena, gid, uid, "MEMBER",
	    acc.last_message_id, acc.last_message_at, &user);
	if (rc != 0) {
		if (rc == -1)
			return conv_db_error(ctx->db, e);
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	conv_now(&now);
	rc = conv_emit_join(ctx->db, gid, uid, "MEMBER", user, NULL, "invite",
	    now.iso);
	json_decref(user);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	*res = JOINED;
	return commit(ctx, gid, e);
}

enum status
invite_join(const struct svc_ctx *ctx, const char *user_id, const char *code,
	json_t **out, int *pending, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	enum join_result res = JOINED;
	struct join_request jr = { "", NULL };
	enum status st;
	int rc;

	*out = NULL;
	*pending = 0;
	if (!code_ok(code))
		return invalid_code(e);
	rc = invite_db_group_of(ctx->db, ctx->arena, code, gid);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1)
		return invalid_code(e);
	for (int attempt = 0;; attempt++) {
		st = join_tx(ctx, user_id, gid, code, &res, &jr, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	if (res != PENDING)
		return group_get(ctx, user_id, gid, out, e);
	*pending = 1;
	*out = json_pack("{s:s,s:s,s:s,s:s}", "status", "PENDING",
	    "groupId", gid, "userId", user_id, "invitationId", jr.invitation_id);
	jsonx_set_time(*out, "createdAt", jr.created_at);
	return ST_OK;
}

enum status
invite_requests(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, json_t **items, struct svc_error *e)
{
	char gid[IDS_UUID_LEN];
	struct group_access acc;
	struct db_rows r;
	int rc;

	*items = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	rc = group_db_access(ctx->db, ctx->arena, gid, actor_id, 0, &acc);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1 || acc.role == GROUP_ROLE_NONE)
		return not_found(e);
	if (acc.role < GROUP_ROLE_ADMIN)
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Only owners and admins see join requests");
	if (invite_db_requests(ctx->db, ctx->arena, gid, &r) == -1)
		return conv_db_error(ctx->db, e);
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*items, invite_db_request_json(&r, i));
	return ST_OK;
}

static enum status
decide_tx(const struct svc_ctx *ctx, const char *actor, const char *gid,
	const char *uid, int approve, struct svc_error *e)
{
	char iid[IDS_UUID_LEN];
	struct group_access acc;
	struct conv_now now;
	json_t *user = NULL;
	enum status st;
	int rc, live;

	st = begin_locked(ctx, gid, actor, &acc, e);
	if (st != ST_OK)
		return st;
	if (acc.role < GROUP_ROLE_ADMIN) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_FORBIDDEN, NULL,
		    "Only owners and admins decide join requests");
	}
	/*
	 * Approving reads the requester's row (group_db_add_member()): lock
	 * it before the request's, in deactivation's order, or the two
	 * deadlock. A deactivation under way is waited for; it drops the
	 * request, which is then not found.
	 */
	if (approve && group_db_user_active(ctx->db, ctx->arena, uid) == -1)
		return conv_db_error(ctx->db, e);
	rc = invite_db_request_lock(ctx->db, ctx->arena, gid, uid, &live, iid);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	if (rc == 1) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Join request not found");
	}
	if (invite_db_request_del(ctx->db, gid, uid, NULL) == -1)
		return conv_db_error(ctx->db, e);
	if (!approve) {
		if (emit_rejected(ctx->db, gid, uid, iid) == -1)
			return conv_db_error(ctx->db, e);
		return commit(ctx, NULL, e);
	}
	if (!live) {
		/* Its invitation no longer admits anyone: the request goes. */
		st = commit(ctx, NULL, e);
		if (st != ST_OK)
			return st;
		return svc_fail(e, ST_INVALID, "CHATROOM_INVITE_INVALID",
		    "The invitation of this join request was revoked");
	}
	if (acc.member_count >= acc.max_members) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_CONFLICT, "CHATROOM_FULL", "The group is full");
	}
	rc = group_db_add_member(ctx->db, ctx->arena, gid, uid, "MEMBER",
	    acc.last_message_id, acc.last_message_at, &user);
	if (rc == -1 && db_errno(ctx->db) == DB_ERR_DUP)
		return commit(ctx, gid, e); /* joined meanwhile */
	if (rc != 0) {
		if (rc == -1)
			return conv_db_error(ctx->db, e);
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	/* The use the request held becomes the new member's. */
	if (invite_db_use(ctx->db, iid) == -1)
		return conv_db_error(ctx->db, e);
	conv_now(&now);
	rc = conv_emit_join(ctx->db, gid, uid, "MEMBER", user, actor, "approval",
	    now.iso);
	json_decref(user);
	if (rc == -1)
		return conv_db_error(ctx->db, e);
	return commit(ctx, gid, e);
}

enum status
invite_decide(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *user_id, int approve, json_t **out,
	struct svc_error *e)
{
	char gid[IDS_UUID_LEN], uid[IDS_UUID_LEN];
	struct db_rows m;
	enum status st;

	*out = NULL;
	if (conv_id(group_id, gid) == -1)
		return not_found(e);
	if (conv_id(user_id, uid) == -1) {
		if (group_is_member(ctx, gid, actor_id) != 1)
			return not_found(e);
		return svc_fail(e, ST_NOT_FOUND, NULL, "Join request not found");
	}
	for (int attempt = 0;; attempt++) {
		st = decide_tx(ctx, actor_id, gid, uid, approve, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK || !approve)
		return st;
	if (group_db_member(ctx->db, ctx->arena, gid, uid, &m) == -1)
		return conv_db_error(ctx->db, e);
	*out = m.nrows ? group_db_member_json(&m, 0) : json_null();
	return ST_OK;
}
