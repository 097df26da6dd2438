/* api_users.c - /users: search, profiles, updates, deletion, presence. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/jsonx.h"
#include "core/presence.h"
#include "core/svc.h"
#include "core/user.h"
#include "core/banned.h"

/* The fields a profile update may carry; anything else is ignored. */
static const struct {
	const char *const *names;
	size_t offset;
} patch_fields[] = {
	{ JSONX_NAMES("username"), offsetof(struct user_patch, username) },
	{ JSONX_NAMES("displayName", "display_name"),
	  offsetof(struct user_patch, display_name) },
	{ JSONX_NAMES("avatar", "avatar_url"),
	  offsetof(struct user_patch, avatar) },
	{ JSONX_NAMES("statusMessage", "status_message"),
	  offsetof(struct user_patch, status_message) },
	{ JSONX_NAMES("bio"), offsetof(struct user_patch, bio) },
	{ JSONX_NAMES("location"), offsetof(struct user_patch, location) },
	{ JSONX_NAMES("publicKey", "public_key"),
	  offsetof(struct user_patch, public_key) },
};

static int
patch_or_reply(struct request *req, struct response *res, struct user_patch *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < sizeof(patch_fields) / sizeof(patch_fields[0]); i++) {
		struct user_field *f =
		    (struct user_field *)((char *)p + patch_fields[i].offset);
		json_t *v;

		if (request_field_or_reply(req, res, patch_fields[i].names,
		    &v) == -1)
			return -1;
		if (!v)
			continue;
		if (!json_is_null(v) && !json_is_string(v)) {
			reply_invalid(res, patch_fields[i].names[0],
			    "must be a string or null");
			return -1;
		}
		f->set = 1;
		f->value = json_string_value(v);
	}
	return 0;
}

/* The {id} parameter; "me" (and the /users/me routes) name the caller. */
static const char *
target_id(const struct request *req)
{
	const char *id = request_param(req, "id");

	return !id || strcmp(id, "me") == 0 ? req->me.user_id : id;
}

static int
is_me(const struct request *req, const char *id)
{
	return strcasecmp(id, req->me.user_id) == 0;
}

void
api_users_search(struct request *req, struct response *res)
{
	const char *q;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct page pg;
	json_t *items;
	long total = 0;
	enum status st;

	if (request_filter_or_reply(req, res, REQUEST_NAMES("query", "q"),
	    &q) == -1 || request_page_or_reply(req, res, &pg) == -1)
		return;
	request_svc(req, &ctx);
	st = user_search(&ctx, q, &pg, &items, &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_page(res, "OK", items, &pg, total, NULL);
}

void
api_users_get(struct request *req, struct response *res)
{
	const char *id = target_id(req);
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *user;
	enum status st;

	request_svc(req, &ctx);
	st = user_get(&ctx, id, is_me(req, id), &user, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "OK", user);
}

void
api_users_update(struct request *req, struct response *res)
{
	struct user_patch p;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	json_t *user;
	enum status st;

	if (patch_or_reply(req, res, &p) == -1)
		return;
	request_svc(req, &ctx);
	st = user_update(&ctx, &req->me, target_id(req), &p, &user, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "User updated successfully", user);
}

void
api_users_delete(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	enum status st;

	request_svc(req, &ctx);
	st = user_delete(&ctx, &req->me, target_id(req), &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_data(res, 200, "User deleted successfully", NULL);
}

void
api_users_presence(struct request *req, struct response *res)
{
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct presence p;
	json_t *data;
	enum status st;

	request_svc(req, &ctx);
	st = presence_get(&ctx, target_id(req), &p, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	data = json_pack("{s:b}", "isOnline", p.online);
	json_object_set_new(data, "lastSeen",
	    p.has_last_seen ? json_string(p.last_seen) : json_null());
	reply_data(res, 200, "OK", data);
}
