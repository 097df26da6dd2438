#include <stdio.h>
#include <string.h>

#include "unread_db.h"
#include "banned.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* Conversations counted per statement (parameters: 1 + 4 each). */
#define UNREAD_BATCH 8
#define UNREAD_SCAN 1001 /* UNREAD_COUNT_MAX + 1: one more says "capped" */

/* The newest UNREAD_SCAN messages past one pointer, as an index range. */
#define PART \
	"(SELECT x.conversation_id AS id, x.sender_id, x.deleted_at" \
	" FROM messages x WHERE x.conversation_id = ?" \
	" AND (x.created_at > ? OR (x.created_at = ? AND x.id > ?))" \
	" ORDER BY x.created_at DESC, x.id DESC LIMIT " STR(UNREAD_SCAN) ")"
#define PART2 PART " UNION ALL " PART
#define PART8 PART2 " UNION ALL " PART2 " UNION ALL " PART2 " UNION ALL " PART2
static const char sql_count[] =
	"SELECT t.id, COUNT(*) AS seen,"
	" SUM(t.deleted_at IS NULL AND NOT (t.sender_id <=> ?)) AS n"
	" FROM (" PART8 ") t GROUP BY t.id";

/* A pointer before every message (members.last_read_* NULL). */
static const char no_time[] = "1000-01-01 00:00:00.000";
static const char no_id[] = "00000000-0000-0000-0000-000000000000";

static void
set_cell(struct db_rows *r, size_t row, int col, struct arena *a,
	const char *v)
{
	if (col >= 0)
		r->cells[row * r->ncols + (unsigned)col] = arena_strdup(a, v);
}

/* Copies the counts of statement result c into the rows it names. */
static void
apply(struct db_rows *r, const struct db_rows *c, struct arena *a)
{
	int count = db_col(r, "unread_count"), capped = db_col(r, "unread_capped");

	for (size_t k = 0; k < c->nrows; k++) {
		const char *id = db_get(c, k, "id");
		long long n = (long long)db_get_int(c, k, "n");
		int more = db_get_int(c, k, "seen") > UNREAD_COUNT_MAX &&
		    n >= UNREAD_COUNT_MAX;
		char buf[24];

		if (n > UNREAD_COUNT_MAX)
			n = UNREAD_COUNT_MAX;
		snprintf(buf, sizeof(buf), "%lld", n);
		for (size_t i = 0; id && i < r->nrows; i++) {
			const char *rid = db_get(r, i, "id");

			if (!rid || strcmp(rid, id) != 0)
				continue;
			set_cell(r, i, count, a, buf);
			set_cell(r, i, capped, a, more ? "1" : "0");
		}
	}
}

int
unread_db_fill(struct db *db, struct arena *a, const char *uid,
	struct db_rows *r)
{
	const char *p[1 + 4 * UNREAD_BATCH];
	size_t used = 0;
	struct db_rows c;

	p[0] = uid;
	for (size_t i = 0; i <= r->nrows; i++) {
		if (i < r->nrows && db_get_int(r, i, "lm_after_read") == 1) {
			const char *at = db_get(r, i, "read_at");
			const char *id = db_get(r, i, "read_id");

			p[1 + 4 * used] = db_get(r, i, "id");
			p[2 + 4 * used] = at ? at : no_time;
			p[3 + 4 * used] = at ? at : no_time;
			p[4 + 4 * used] = at && id ? id : no_id;
			used++;
		}
		if (used == UNREAD_BATCH || (i == r->nrows && used > 0)) {
			/* Unused parts match nothing (conversation_id = NULL). */
			for (size_t k = 1 + 4 * used; k < 1 + 4 * UNREAD_BATCH; k++)
				p[k] = NULL;
			if (db_query_strv(db, a, &c, sql_count, p,
			    1 + 4 * UNREAD_BATCH) == -1)
				return -1;
			apply(r, &c, a);
			used = 0;
		}
	}
	return 0;
}
