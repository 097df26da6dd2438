/*
 * api_groups.c - /groups (and the /chatrooms aliases): groups, members,
 * roles, invitations and join requests.
 */
#include <string.h>

#include "api.h"
#include "core/group.h"
#include "core/invite.h"
#include "core/jsonx.h"
#include "core/svc.h"
#include "core/banned.h"

/* One reply for a service result: data with http, or the error. */
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

static const char *
me(const struct request *req)
{
	return req->me.user_id;
}

void
api_groups_create(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *g;
	enum status st;

	request_svc(req, &ctx);
	st = group_create(&ctx, me(req), req->json,
	    request_env(req, "HTTP_IDEMPOTENCY_KEY"), &g, &e);
	answer(res, st, &e, 201, "Group created successfully", g);
}

void
api_groups_list(struct request *req, struct response *res)
{
	const char *search;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct page pg;
	json_t *items;
	long total = 0;
	enum status st;

	if (request_filter_or_reply(req, res, REQUEST_NAMES("search"),
	    &search) == -1 || request_page_or_reply(req, res, &pg) == -1)
		return;
	request_svc(req, &ctx);
	st = group_list(&ctx, me(req), search, &pg,
	    &items, &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_page(res, "Groups retrieved", items, &pg, total, NULL);
}

void
api_groups_get(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *g;
	enum status st;

	request_svc(req, &ctx);
	st = group_get(&ctx, me(req), request_param(req, "id"), &g, &e);
	answer(res, st, &e, 200, "OK", g);
}

void
api_groups_update(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *g;
	enum status st;

	request_svc(req, &ctx);
	st = group_update(&ctx, me(req), request_param(req, "id"), req->json,
	    &g, &e);
	answer(res, st, &e, 200, "Group updated successfully", g);
}

void
api_groups_delete(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	request_svc(req, &ctx);
	st = group_delete(&ctx, me(req), request_param(req, "id"), &e);
	answer(res, st, &e, 200, "Group deleted successfully", NULL);
}

void
api_groups_members(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct page pg;
	json_t *items;
	long total = 0;
	enum status st;

	if (request_page_or_reply(req, res, &pg) == -1)
		return;
	request_svc(req, &ctx);
	st = group_members(&ctx, me(req), request_param(req, "id"), &pg, &items,
	    &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_page(res, "Members retrieved", items, &pg, total, NULL);
}

void
api_groups_member_add(struct request *req, struct response *res)
{
	json_t *role = json_object_get(req->json, "role");
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	const char *uid;
	json_t *v, *m;
	enum status st;

	if (request_field_or_reply(req, res, JSONX_NAMES("userId", "user_id"),
	    &v) == -1)
		return;
	uid = json_string_value(v);
	if (!uid) {
		reply_invalid(res, "userId", "userId is required");
		return;
	}
	if (role && !json_is_string(role)) {
		reply_invalid(res, "role", "role must be MEMBER, MODERATOR or ADMIN");
		return;
	}
	request_svc(req, &ctx);
	st = group_member_add(&ctx, me(req), request_param(req, "id"), uid,
	    json_string_value(role), &m, &e);
	answer(res, st, &e, 200, "Member added successfully", m);
}

void
api_groups_member_update(struct request *req, struct response *res)
{
	const char *role = jsonx_str(req->json, "role");
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	if (!role) {
		reply_invalid(res, "role", "role is required");
		return;
	}
	request_svc(req, &ctx);
	st = group_member_set_role(&ctx, me(req), request_param(req, "id"),
	    request_param(req, "userId"), role, &m, &e);
	answer(res, st, &e, 200, "Member updated successfully", m);
}

void
api_groups_member_remove(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	request_svc(req, &ctx);
	st = group_member_remove(&ctx, me(req), request_param(req, "id"),
	    request_param(req, "userId"), &e);
	answer(res, st, &e, 200, "Member removed successfully", NULL);
}

void
api_groups_leave(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	const char *owner = "";
	enum status st;

	request_svc(req, &ctx);
	st = group_leave(&ctx, me(req), request_param(req, "id"), &owner, &e);
	answer(res, st, &e, 200, "Left group successfully", st != ST_OK ? NULL :
	    json_pack("{s:s?}", "newOwnerId", *owner ? owner : NULL));
}

void
api_groups_join(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *g;
	enum status st;

	request_svc(req, &ctx);
	st = group_join(&ctx, me(req), request_param(req, "id"), &g, &e);
	answer(res, st, &e, 200, "Joined group successfully", g);
}

void
api_groups_invite_create(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *inv;
	enum status st;

	request_svc(req, &ctx);
	st = invite_create(&ctx, me(req), request_param(req, "id"), req->json,
	    request_env(req, "HTTP_IDEMPOTENCY_KEY"), &inv, &e);
	answer(res, st, &e, 201, "Invitation created", inv);
}

void
api_groups_invite_list(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *items;
	enum status st;

	request_svc(req, &ctx);
	st = invite_list(&ctx, me(req), request_param(req, "id"), &items, &e);
	answer(res, st, &e, 200, "OK", items);
}

void
api_groups_invite_revoke(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *inv;
	enum status st;

	request_svc(req, &ctx);
	st = invite_revoke(&ctx, me(req), request_param(req, "id"),
	    request_param(req, "inviteId"), &inv, &e);
	answer(res, st, &e, 200, "Invitation revoked", inv);
}

void
api_groups_join_code(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *out;
	int pending = 0;
	enum status st;

	request_svc(req, &ctx);
	st = invite_join(&ctx, me(req), request_param(req, "code"), &out,
	    &pending, &e);
	if (st == ST_OK && pending) {
		reply_data(res, 202, "Join request sent for approval", out);
		return;
	}
	answer(res, st, &e, 200, "Joined group successfully", out);
}

void
api_groups_requests(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *items;
	enum status st;

	request_svc(req, &ctx);
	st = invite_requests(&ctx, me(req), request_param(req, "id"), &items, &e);
	answer(res, st, &e, 200, "OK", items);
}

void
api_groups_request_approve(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = invite_decide(&ctx, me(req), request_param(req, "id"),
	    request_param(req, "userId"), 1, &m, &e);
	answer(res, st, &e, 200, "Join request approved", m);
}

void
api_groups_request_reject(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *m;
	enum status st;

	request_svc(req, &ctx);
	st = invite_decide(&ctx, me(req), request_param(req, "id"),
	    request_param(req, "userId"), 0, &m, &e);
	answer(res, st, &e, 200, "Join request rejected", m);
}
