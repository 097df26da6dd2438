/*
 * ctl_repair.c - parleyctl commands that bring older data up to today's
 * rules, where doing it in a SQL migration would mean repeating the rules
 * (and the events they write) in SQL:
 *
 *   parleyctl repair deleted-accounts [--dry-run]
 *       Accounts deleted before deleting one took it out of its groups
 *       kept their memberships (an owner kept its group) and join
 *       requests. Each such account now leaves its groups the way
 *       deleting it does (user_repair_deleted): an owned group goes to
 *       its oldest active admin, moderator, then member; a group left
 *       with nobody is deleted; the group:member:leave,
 *       group:member:update and group:delete events are written; its
 *       pending join requests go. One transaction per account, oldest
 *       deletion first. Running it again finds nothing to do.
 *       --dry-run lists the accounts and changes nothing.
 *
 * Exit status: 0 done (or nothing to do), 1 an account failed, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_repair.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/svc.h"
#include "core/user.h"
#include "core/banned.h"

static int
repair_deleted_accounts(const struct svc_ctx *ctx, int dry_run)
{
	struct svc_error e = { 0 };
	struct db_rows ids;
	size_t done = 0, failed = 0;
	enum status st;

	if (user_deleted_in_groups(ctx, &ids) == -1) {
		fprintf(stderr, "parleyctl: database unavailable\n");
		return 1;
	}
	for (size_t i = 0; i < ids.nrows; i++) {
		const char *id = db_cell(&ids, i, 0);

		if (dry_run) {
			printf("would repair deleted account %s\n", id);
			continue;
		}
		st = user_repair_deleted(ctx, id, &e);
		if (st == ST_OK) {
			printf("repaired deleted account %s\n", id);
			done++;
		} else {
			fprintf(stderr, "parleyctl: deleted account %s: %s\n",
			    id, e.message ? e.message : status_message(st));
			failed++;
		}
	}
	if (dry_run)
		printf("%zu deleted account(s) to repair\n", ids.nrows);
	else
		printf("%zu deleted account(s) repaired, %zu failed\n", done,
		    failed);
	return failed ? 1 : 0;
}

int
ctl_repair(struct config *cfg, int argc, char **argv)
{
	struct svc_ctx ctx;
	struct arena arena;
	int rc, dry_run = argc == 3 && strcmp(argv[2], "--dry-run") == 0;

	if (argc < 2 || argc > 3 || strcmp(argv[1], "deleted-accounts") != 0 ||
	    (argc == 3 && !dry_run)) {
		return ctl_usage("repair");
	}
	if (ctl_svc_open(cfg, &ctx, &arena) == -1)
		return 1;
	rc = repair_deleted_accounts(&ctx, dry_run);
	ctl_svc_close(&ctx, &arena);
	return rc;
}
