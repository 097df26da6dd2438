/* retention.c - see retention.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "histcache.h"
#include "log.h"
#include "retention.h"
#include "svc.h"
#include "banned.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* Conversations read per statement while walking the install. */
#define RETENTION_PAGE 500
/* Tries of one batch that keeps losing lock conflicts. */
#define RETENTION_ATTEMPTS 3

static const char sql_lock[] =
	"SELECT GET_LOCK('parley.retention', 0) AS got";
static const char sql_unlock[] = "DO RELEASE_LOCK('parley.retention')";
/* A group's own setting, else the install's default; 0 keeps for ever. */
#define DAYS \
	"COALESCE(CAST(JSON_VALUE(c.settings, '$.messageRetentionDays')" \
	" AS INTEGER), ?)"
/* A group deleted over [retention] deleted_group_days ago (0: never). */
#define GONE \
	"(c.kind = 'GROUP' AND ? > 0" \
	" AND c.deleted_at < NOW(3) - INTERVAL ? DAY)"
static const char sql_conversations[] =
	"SELECT c.id, " DAYS " AS days, " GONE " AS gone FROM conversations c"
	" WHERE c.id > ? AND (" DAYS " > 0 OR " GONE ") ORDER BY c.id"
	" LIMIT " STR(RETENTION_PAGE);
static const char sql_horizon[] =
	"SELECT MIN(" DAYS ") AS days FROM conversations c WHERE " DAYS " > 0";
#define EXPIRED \
	" FROM messages WHERE conversation_id = ?" \
	" AND created_at < NOW(3) - INTERVAL ? DAY"
/* Locked: an edit or reaction racing the purge waits, then finds none. */
static const char sql_expired[] =
	"SELECT id" EXPIRED " ORDER BY created_at, id"
	" LIMIT " STR(RETENTION_BATCH) " FOR UPDATE";
static const char sql_expired_count[] = "SELECT COUNT(*) AS n" EXPIRED;
/* The batch's ids as a table (multi-table DELETE: IN () would scan). */
#define IDS "JSON_TABLE(?, '$[*]' COLUMNS (id CHAR(36) PATH '$')) j"
static const char *const sql_delete[] = {
	"DELETE r FROM " IDS " JOIN reactions r ON r.message_id = j.id",
	"DELETE e FROM " IDS " JOIN message_edits e ON e.message_id = j.id",
	"DELETE m FROM " IDS " JOIN messages m ON m.id = j.id",
};
/*
 * What a purged group leaves once its messages are gone. The group row
 * goes first, and only if no message is left (one dated in the future
 * waits for a later run), so nothing is ever left without it.
 */
static const char sql_drop_group[] =
	"DELETE FROM conversations WHERE id = ? AND deleted_at IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?)";
static const char *const sql_drop_group_rows[] = {
	"DELETE FROM members WHERE conversation_id = ?",
	"DELETE FROM invitations WHERE conversation_id = ?",
	"DELETE FROM join_requests WHERE conversation_id = ?",
};
static const char sql_max_pos[] =
	"SELECT COALESCE(MAX(pos), 0) AS pos FROM events";
static const char sql_events[] =
	"DELETE FROM events WHERE created_at < NOW(3) - INTERVAL ? DAY"
	" AND pos IS NOT NULL AND pos < ? LIMIT " STR(RETENTION_BATCH);

/* The ids of r's first column as a JSON array of strings, in arena a. */
static char *
id_array(struct arena *a, const struct db_rows *r)
{
	size_t cap = 3 + r->nrows * 40, len = 0;
	char *out = arena_alloc(a, cap);

	out[len++] = '[';
	for (size_t i = 0; i < r->nrows; i++) {
		const char *id = db_cell(r, i, 0);

		/* UUID cells are canonical: nothing to escape. */
		len += (size_t)snprintf(out + len, cap - len, "%s\"%.36s\"",
		    i ? "," : "", id ? id : "");
	}
	out[len++] = ']';
	out[len] = '\0';
	return out;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Runs the n statements sql[] with the one argument arg in the open
 * transaction, then commits; on an error rolls back.
 */
static int
exec_commit(const struct svc_ctx *ctx, const char *const *sql, size_t n,
	const char *arg)
{
	for (size_t i = 0; i < n; i++)
		if (db_exec(ctx->db, NULL, sql[i], "s", arg) == -1)
			goto fail;
	if (db_commit(ctx->db) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(ctx->db);
	return -1;
}

/* Deletes one batch; *n receives its size (0: nothing left). */
static int
purge_batch(const struct svc_ctx *ctx, const char *cid, long days, long *n)
{
	struct db_rows r;

	*n = 0;
	if (db_begin(ctx->db) == -1)
		return -1;
	if (db_query(ctx->db, ctx->arena, &r, sql_expired, "si", cid,
	    (int64_t)days) == -1) {
		db_rollback(ctx->db);
		return -1;
	}
	if (r.nrows == 0) {
		db_rollback(ctx->db);
		return 0;
	}
	if (exec_commit(ctx, sql_delete, NELEM(sql_delete),
	    id_array(ctx->arena, &r)) == -1)
		return -1;
	*n = (long)r.nrows;
	return 0;
}

/* Applies retention to one conversation; *n: messages (to be) deleted. */
static int
purge_conversation(const struct svc_ctx *ctx, const char *cid, long days,
	int dry_run, long *n)
{
	struct svc_ctx bctx = *ctx;
	struct arena scratch;
	struct db_rows r;
	long batch;
	int rc = 0;

	*n = 0;
	if (dry_run) {
		if (db_query(ctx->db, ctx->arena, &r, sql_expired_count, "si",
		    cid, (int64_t)days) == -1)
			return -1;
		*n = (long)db_get_int(&r, 0, "n");
		return 0;
	}
	/* Each batch's rows in an arena of their own, emptied after it: a
	 * backlog of millions stays at one batch of memory. */
	arena_init(&scratch);
	bctx.arena = &scratch;
	do {
		int attempt = 0;

		/* A batch that lost a deadlock (to an edit or a reaction of
		 * an old message) is rolled back whole: try it again. */
		while ((rc = purge_batch(&bctx, cid, days, &batch)) == -1 &&
		    ++attempt < RETENTION_ATTEMPTS &&
		    (db_errno(ctx->db) == DB_ERR_DEADLOCK ||
		    db_errno(ctx->db) == DB_ERR_LOCK_WAIT))
			;
		arena_reset(&scratch);
		if (rc == -1)
			break;
		*n += batch;
	} while (batch == RETENTION_BATCH);
	if (*n)
		histcache_bump(&bctx, cid);
	arena_release(&scratch);
	return rc;
}

/* Removes what is left of deleted group cid; *gone: it went. */
static int
drop_group(const struct svc_ctx *ctx, const char *cid, int *gone)
{
	uint64_t affected = 0;
	int rc;

	*gone = 0;
	if (db_begin(ctx->db) == -1)
		return -1;
	rc = db_exec(ctx->db, &affected, sql_drop_group, "ss", cid, cid);
	if (rc == -1 || affected == 0) {
		db_rollback(ctx->db);
		return rc;
	}
	if (exec_commit(ctx, sql_drop_group_rows, NELEM(sql_drop_group_rows),
	    cid) == -1)
		return -1;
	*gone = 1;
	return 0;
}

/*
 * Applies retention to one conversation of the walk: messages past its
 * retention, or everything of a deleted group past deleted_group_days.
 */
static int
apply(const struct svc_ctx *ctx, const char *cid, long days, int gone,
	int dry_run, retention_note_fn *note, void *arg,
	struct retention_report *rep)
{
	long n;
	int dropped = gone;

	/* A deleted group takes no message: a cut-off of now is all of them. */
	if (purge_conversation(ctx, cid, gone ? 0 : days, dry_run, &n) == -1)
		return -1;
	if (gone && !dry_run && drop_group(ctx, cid, &dropped) == -1)
		return -1;
	if (n) {
		rep->conversations++;
		rep->messages += n;
	}
	if (dropped)
		rep->groups++;
	if (note && (n || dropped))
		note(arg, cid, gone ? ctx->cfg->deleted_group_days : days, n,
		    dropped);
	return 0;
}

/* Deletes events older than days, keeping the newest one. */
static int
purge_events(const struct svc_ctx *ctx, long days, long *n)
{
	struct db_rows r;
	uint64_t affected;

	if (db_query(ctx->db, ctx->arena, &r, sql_max_pos, "") == -1)
		return -1;
	do {
		if (db_exec(ctx->db, &affected, sql_events, "ii",
		    (int64_t)days, db_get_int(&r, 0, "pos")) == -1)
			return -1;
		*n += (long)affected;
	} while (affected == RETENTION_BATCH);
	return 0;
}

static int
walk(const struct svc_ctx *ctx, int dry_run, retention_note_fn *note,
	void *arg, struct retention_report *rep)
{
	int64_t def = ctx->cfg->message_retention_days;
	int64_t gone = ctx->cfg->deleted_group_days;
	char after[40] = "00000000-0000-0000-0000-000000000000";
	struct db_rows page;

	do {
		if (db_query(ctx->db, ctx->arena, &page, sql_conversations,
		    "iiisiii", def, gone, gone, after, def, gone, gone) == -1)
			return -1;
		for (size_t i = 0; i < page.nrows; i++)
			if (apply(ctx, db_get(&page, i, "id"),
			    (long)db_get_int(&page, i, "days"),
			    db_get_int(&page, i, "gone") == 1, dry_run, note,
			    arg, rep) == -1)
				return -1;
		if (page.nrows)
			snprintf(after, sizeof(after), "%s",
			    db_get(&page, page.nrows - 1, "id"));
		arena_reset(ctx->arena);
	} while (page.nrows == RETENTION_PAGE);
	return 0;
}

int
retention_run(const struct svc_ctx *ctx, int dry_run,
	retention_note_fn *note, void *arg, struct retention_report *rep)
{
	int64_t def = ctx->cfg->message_retention_days;
	struct db_rows r;
	long events_days;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (db_query(ctx->db, ctx->arena, &r, sql_lock, "") == -1)
		return -1;
	if (db_get_int(&r, 0, "got") != 1)
		return 1;
	if (walk(ctx, dry_run, note, arg, rep) == -1)
		goto out;
	if (db_query(ctx->db, ctx->arena, &r, sql_horizon, "ii", def,
	    def) == -1)
		goto out;
	rep->horizon_days = (long)db_get_int(&r, 0, "days");
	/* A purged group's messages are in its events' payloads too. */
	events_days = rep->horizon_days;
	if (rep->groups && (events_days == 0 ||
	    ctx->cfg->deleted_group_days < events_days))
		events_days = ctx->cfg->deleted_group_days;
	if (events_days > 0 && !dry_run &&
	    events_days < ctx->cfg->event_retention_days &&
	    purge_events(ctx, events_days, &rep->events) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		log_error("retention: database error; committed batches stay,"
		    " the next run resumes");
	db_exec(ctx->db, NULL, sql_unlock, "");
	return rc;
}
