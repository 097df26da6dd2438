/*
 * fuzz_stubs.c - the database calls that linked-in service helpers name
 * (conv.c, group_input.c) but the input validators never make. Reaching one is a bug in
 * the harness's assumptions, so each aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/db.h"
#include "core/group_db.h"
#include "core/outbox.h"

static void
unreachable(const char *fn)
{
	fprintf(stderr, "fuzz: %s called by code under test\n", fn);
	abort();
}

void
db_rollback(struct db *db)
{
	unreachable("db_rollback");
}

unsigned
db_errno(const struct db *db)
{
	unreachable("db_errno");
	return 0;
}

int
outbox_add(struct db *db, enum outbox_target kind, const char *target_id,
	const char *type, const json_t *payload)
{
	unreachable("outbox_add");
	return -1;
}

json_t *
group_db_settings(const char *text)
{
	unreachable("group_db_settings");
	return NULL;
}

int
group_db_user_active(struct db *db, struct arena *a, const char *uid)
{
	unreachable("group_db_user_active");
	return -1;
}
