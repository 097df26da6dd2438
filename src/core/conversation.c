#include <string.h>
#include <strings.h>

#include "conv.h"
#include "conversation.h"
#include "group_db.h"
#include "msgfmt.h"
#include "svc.h"
#include "banned.h"

enum status
conversation_list(const struct svc_ctx *ctx, const char *user_id,
	const char *kind, int unread_only, const char *search,
	const struct page *pg, json_t **items, long *total,
	struct svc_error *e)
{
	struct conv_filter f = { NULL, search, unread_only };
	struct db_rows r;

	*items = NULL;
	*total = 0;
	if (kind) {
		if (strcasecmp(kind, "DIRECT") == 0)
			f.kind = "DIRECT";
		else if (strcasecmp(kind, "GROUP") == 0)
			f.kind = "GROUP";
		else {
			e->field = "kind";
			return svc_fail(e, ST_INVALID, NULL,
			    "kind must be DIRECT or GROUP");
		}
	}
	if (search && (msgfmt_utf8_chars(search, strlen(search)) < 0 ||
	    msgfmt_utf8_chars(search, strlen(search)) > 100)) {
		e->field = "search";
		return svc_fail(e, ST_INVALID, NULL,
		    "search must be at most 100 characters of UTF-8 text");
	}
	if (group_db_list(ctx->db, ctx->arena, user_id, &f, pg->limit,
	    pg->offset, &r, total) == -1)
		return conv_db_error(ctx->db, e);
	*items = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*items, group_db_conversation_json(&r, i));
	return ST_OK;
}

enum status
conversation_ids(const struct svc_ctx *ctx, const char *user_id,
	const char ***ids, size_t *n, struct svc_error *e)
{
	struct db_rows r;

	*ids = NULL;
	*n = 0;
	if (group_db_conversation_ids(ctx->db, ctx->arena, user_id, &r) == -1)
		return conv_db_error(ctx->db, e);
	*ids = arena_alloc(ctx->arena, (r.nrows + 1) * sizeof(**ids));
	for (size_t i = 0; i < r.nrows; i++)
		(*ids)[i] = db_cell(&r, i, 0);
	(*ids)[r.nrows] = NULL;
	*n = r.nrows;
	return ST_OK;
}
