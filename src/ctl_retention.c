/*
 * ctl_retention.c - parleyctl retention [--dry-run]
 *
 * Deletes the messages older than their conversation keeps them, the
 * groups deleted long enough ago, and the outbox events older than the
 * shortest retention in force
 * (core/retention.h says which, and what stays). Prints one line per
 * conversation that had any, then a summary. Meant for cron or the
 * parley-retention.timer unit; a run that finds another one running
 * says so and exits 0. --dry-run counts and changes nothing.
 *
 * Exit status: 0 done (or another run is busy), 1 database error (what
 * was committed stays; the next run resumes), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_retention.h"
#include "core/arena.h"
#include "core/retention.h"
#include "core/svc.h"
#include "core/banned.h"

struct ctl_note {
	int dry_run;
};

static void
print_conversation(void *arg, const char *cid, long days, long n, int gone)
{
	const struct ctl_note *note = arg;

	if (gone)
		printf("group %s (deleted over %ld day(s) ago): %ld message(s)"
		    " %s\n", cid, days, n, note->dry_run ?
		    "and the group to purge" : "deleted, group purged");
	else
		printf("conversation %s (%ld day(s)): %ld message(s) %s\n",
		    cid, days, n, note->dry_run ? "past retention" : "deleted");
}

int
ctl_retention(struct config *cfg, int argc, char **argv)
{
	struct ctl_note note = { 0 };
	struct retention_report rep;
	struct svc_ctx ctx;
	struct arena arena;
	int rc;

	note.dry_run = argc == 2 && strcmp(argv[1], "--dry-run") == 0;
	if (argc > 2 || (argc == 2 && !note.dry_run))
		return ctl_usage("retention");
	if (ctl_svc_open(cfg, &ctx, &arena) == -1)
		return 1;
	rc = retention_run(&ctx, note.dry_run, print_conversation, &note,
	    &rep);
	ctl_svc_close(&ctx, &arena);
	if (rc == 1) {
		printf("another retention run is in progress; nothing done\n");
		return 0;
	}
	if (rc == -1) {
		fprintf(stderr, "parleyctl: retention: database error after"
		    " %ld message(s); run it again to go on\n", rep.messages);
		return 1;
	}
	printf("%ld message(s) in %ld conversation(s) %s; %ld deleted"
	    " group(s) %s; %ld event(s) deleted", rep.messages,
	    rep.conversations, note.dry_run ? "past retention" : "deleted",
	    rep.groups, note.dry_run ? "to purge" : "purged", rep.events);
	if (rep.horizon_days)
		printf("; shortest retention %ld day(s)", rep.horizon_days);
	printf("\n");
	return 0;
}
