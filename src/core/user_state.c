/*
 * user_state.c - an account's state beyond its profile: deactivation.
 *
 * Deleting an account (user.c) anonymises it; deactivating only switches
 * it off. Either way the account stops holding anything others wait on:
 * its pending join requests go in the same transaction, since the list
 * admins decide from shows active accounts only, and a request nobody can
 * see would keep its invitation use forever.
 */
#include "conv.h"
#include "db.h"
#include "group_db.h"
#include "ids.h"
#include "msgfmt.h"
#include "session.h"
#include "svc.h"
#include "user.h"
#include "user_db.h"
#include "banned.h"

static enum status
deactivate_tx(const struct svc_ctx *ctx, const char *nid, struct svc_error *e)
{
	int rc;

	if (db_begin(ctx->db) == -1)
		goto fail;
	rc = user_db_lock_undeleted(ctx->db, ctx->arena, nid);
	if (rc == -1)
		goto fail;
	if (rc == 0) {
		db_rollback(ctx->db);
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	}
	if (user_db_deactivate(ctx->db, nid) == -1 ||
	    group_db_drop_user_requests(ctx->db, nid) == -1 ||
	    db_commit(ctx->db) == -1)
		goto fail;
	return ST_OK;
fail:
	db_rollback(ctx->db);
	return svc_fail(e, ST_UNAVAILABLE, NULL, "Database unavailable");
}

enum status
user_deactivate(const struct svc_ctx *ctx, const char *id, int *cache_stale,
	struct svc_error *e)
{
	char nid[IDS_UUID_LEN];
	enum status st;

	*cache_stale = 0;
	if (msgfmt_uuid_norm(id, nid) == -1)
		return svc_fail(e, ST_NOT_FOUND, NULL, "User not found");
	for (int attempt = 0;; attempt++) {
		st = deactivate_tx(ctx, nid, e);
		if (!conv_retry(ctx->db, st, attempt))
			break;
	}
	if (st != ST_OK)
		return st;
	user_cache_forget(ctx->cache, nid);
	/* Inactive already fails the sessions in MariaDB; this tells memcached. */
	*cache_stale = session_revoke_all(ctx, nid, "deactivated") != 0;
	return ST_OK;
}
