#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "message_view.h"
#include "msgfmt.h"
#include "banned.h"

#define REPLY_EXCERPT 200  /* characters of the quoted message */
#define REACTION_USERS 20  /* user ids listed per emoji */
#define REACTION_KINDS 64  /* distinct emoji rendered per message */

void
message_view_receipts(const struct db_rows *r, struct receipts *rc)
{
	int nr = 0, nd = 0;

	memset(rc, 0, sizeof(*rc));
	for (size_t i = 0; i < r->nrows; i++) {
		const char *k = db_get(r, i, "k");
		const char *user = db_get(r, i, "user_id");
		const char *at = db_get(r, i, "at"), *mid = db_get(r, i, "mid");

		if (!k)
			continue;
		if (k[0] == 'M') {
			rc->member = 1;
			rc->role = db_get(r, i, "role");
			rc->kind = db_get(r, i, "kind");
			rc->direct_key = db_get(r, i, "direct_key");
		} else if (k[0] == 'R' && nr++ == 0) {
			rc->r_ex_user = user;
			rc->r_at = at;
			rc->r_id = mid;
		} else if (k[0] == 'R') {
			rc->r_ex_at = at;
			rc->r_ex_id = mid;
		} else if (k[0] == 'D' && nd++ == 0) {
			rc->d_ex_user = user;
			rc->d_at = at;
			rc->d_id = mid;
		} else if (k[0] == 'D') {
			rc->d_ex_at = at;
			rc->d_ex_id = mid;
		}
	}
}

/* 1 if m's position (created_at, id) is at or before (at, id). */
static int
pos_le(const struct msg_row *m, const char *at, const char *id)
{
	int c;

	if (!at || !id || !m->created_at || !m->id)
		return 0;
	c = strcmp(m->created_at, at);
	return c != 0 ? c < 0 : strcmp(m->id, id) <= 0;
}

static int
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

const char *
message_view_status(const struct msg_row *m, const struct receipts *rc)
{
	int ex;

	if (!rc)
		return "SENT";
	ex = same(m->sender_id, rc->r_ex_user);
	if (pos_le(m, ex ? rc->r_ex_at : rc->r_at, ex ? rc->r_ex_id : rc->r_id))
		return "SEEN";
	ex = same(m->sender_id, rc->d_ex_user);
	if (pos_le(m, ex ? rc->d_ex_at : rc->d_at, ex ? rc->d_ex_id : rc->d_id))
		return "DELIVERED";
	return "SENT";
}

json_t *
message_view_reactions(const char *concat, size_t len, const char *viewer)
{
	json_t *arr = json_array();
	struct {
		const char *emoji;
		size_t elen;
		json_t *obj, *users;
		long count;
		int mine;
	} k[REACTION_KINDS];
	size_t nk = 0;
	const char *p = concat, *end = concat ? concat + len : NULL;

	while (p && p < end) {
		const char *rec = memchr(p, '\x1e', (size_t)(end - p));
		const char *stop = rec ? rec : end;
		const char *us = memchr(p, '\x1f', (size_t)(stop - p));
		size_t elen, i;

		if (!us)
			break;
		elen = (size_t)(us - p);
		for (i = 0; i < nk; i++)
			if (k[i].elen == elen && memcmp(k[i].emoji, p, elen) == 0)
				break;
		if (i == nk && nk < REACTION_KINDS) {
			k[nk].emoji = p;
			k[nk].elen = elen;
			k[nk].users = json_array();
			k[nk].count = 0;
			k[nk].mine = 0;
			nk++;
		}
		if (i < nk) {
			size_t ulen = (size_t)(stop - us - 1);

			k[i].count++;
			if (json_array_size(k[i].users) < REACTION_USERS)
				json_array_append_new(k[i].users,
				    json_stringn(us + 1, ulen));
			if (viewer && ulen == strlen(viewer) &&
			    memcmp(us + 1, viewer, ulen) == 0)
				k[i].mine = 1;
		}
		p = rec ? rec + 1 : end;
	}
	for (size_t i = 0; i < nk; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "emoji", json_stringn(k[i].emoji, k[i].elen));
		json_object_set_new(o, "count", json_integer(k[i].count));
		json_object_set_new(o, "reacted", json_boolean(k[i].mine));
		json_object_set_new(o, "userIds", k[i].users);
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The other user of a DM ("a:b") than sender, as a new JSON string or null. */
static json_t *
receiver_of(const char *direct_key, const char *sender)
{
	if (!direct_key || !sender || strlen(direct_key) != 73)
		return json_null();
	if (strncmp(direct_key, sender, 36) == 0)
		return json_string(direct_key + 37);
	return json_stringn(direct_key, 36);
}

static json_t *
reply_json(const struct msg_row *m)
{
	json_t *r = json_object();
	struct arena a;

	jsonx_set_str(r, "id", m->rp_id);
	jsonx_set_str(r, "senderId", m->rp_sender);
	jsonx_set_str(r, "type", m->rp_type);
	if (m->rp_content && !m->rp_deleted) {
		arena_init(&a);
		jsonx_set_str(r, "content", msgfmt_truncate(&a, m->rp_content,
		    REPLY_EXCERPT));
		arena_release(&a);
	} else {
		json_object_set_new(r, "content", json_null());
	}
	json_object_set_new(r, "isEncrypted",
	    json_boolean(m->rp_encrypted && !m->rp_deleted));
	json_object_set_new(r, "deleted", json_boolean(m->rp_deleted != NULL));
	return r;
}

json_t *
message_view_json(const struct msg_row *m, const char *viewer,
	const struct receipts *rc)
{
	json_t *o = json_object(), *meta = NULL, *att, *sender;
	int direct = same(m->kind, "DIRECT");
	int deleted = m->deleted_at != NULL;

	jsonx_set_str(o, "id", m->id);
	jsonx_set_str(o, "conversationId", m->conversation_id);
	json_object_set_new(o, "groupId", direct ? json_null() :
	    json_string(m->conversation_id));
	json_object_set_new(o, "receiverId", direct ?
	    receiver_of(m->direct_key, m->sender_id) : json_null());
	jsonx_set_str(o, "senderId", m->sender_id);
	sender = json_null();
	if (m->sender_id) {
		sender = json_object();
		jsonx_set_str(sender, "id", m->sender_id);
		jsonx_set_str(sender, "username", m->sender_username);
		jsonx_set_str(sender, "displayName", m->sender_display);
		jsonx_set_str(sender, "avatar", m->sender_avatar);
	}
	json_object_set_new(o, "sender", sender);
	jsonx_set_str(o, "type", m->type);
	if (deleted) {
		json_object_set_new(o, "content", json_null());
	} else if (m->encrypted) {
		json_t *env = json_loads(m->encrypted, 0, NULL);

		json_object_set_new(o, "content", env ? env : json_null());
	} else {
		jsonx_set_str(o, "content", m->content);
	}
	json_object_set_new(o, "isEncrypted",
	    json_boolean(m->encrypted != NULL && !deleted));
	jsonx_set_str(o, "status", message_view_status(m, rc));
	jsonx_set_str(o, "parentId", m->parent_id);
	json_object_set_new(o, "replyTo", m->rp_id ? reply_json(m) : json_null());
	json_object_set_new(o, "replyCount", json_integer(m->reply_count));
	if (m->metadata && !deleted)
		meta = json_loads(m->metadata, 0, NULL);
	if (!json_is_object(meta)) {
		json_decref(meta);
		meta = json_object();
	}
	att = json_object_get(meta, "attachments");
	json_object_set_new(o, "attachments", json_is_array(att) ?
	    json_incref(att) : json_array());
	json_object_set_new(o, "metadata", meta);
	json_object_set_new(o, "reactions", deleted ? json_array() :
	    message_view_reactions(m->reactions, m->reactions_len, viewer));
	jsonx_set_str(o, "clientId", m->client_id);
	jsonx_set_time(o, "editedAt", m->edited_at);
	json_object_set_new(o, "deleted", json_boolean(deleted));
	jsonx_set_time(o, "deletedAt", m->deleted_at);
	jsonx_set_time(o, "createdAt", m->created_at);
	jsonx_set_time(o, "updatedAt", deleted ? m->deleted_at :
	    m->edited_at ? m->edited_at : m->created_at);
	return o;
}
