/*
 * retention.h - deleting messages older than their conversation keeps them.
 *
 * How long a conversation keeps its messages: a group's
 * settings.messageRetentionDays (1-36500) when set, else the install's
 * [retention] message_days (0: for ever), which is also what every direct
 * conversation gets. retention_run() applies it; `parleyctl retention`
 * runs it, from cron or the parley-retention.timer unit.
 *
 * Per conversation, the messages created before now - days go for good,
 * oldest first, RETENTION_BATCH to a transaction: each with its reactions
 * and its edit history, tombstones (deleted messages) included. Then the
 * conversation's history version is bumped (histcache.h), so no cached
 * page shows them. Members' read pointers are positions, not references,
 * and stay valid; a reply whose thread root went keeps its parentId.
 *
 * The outbox holds message payloads too, for resumes. So after the
 * messages, events older than the shortest retention in force are deleted
 * (at least [bridge] event_retention_days already goes), the newest event
 * always kept so that stream positions never restart. A client resuming
 * from before that gets resync_required and reloads over REST. One
 * group's short retention so shortens the resume window for everyone:
 * per-conversation deletes in the outbox would need an index on every
 * event written, on the send path.
 *
 * A bridge's in-memory ring may still hold them: it refuses resumes from
 * before the oldest stored event (its figure is refreshed every 5 s).
 * Not covered: what clients already received (no event announces a
 * purge).
 *
 * A group deleted more than [retention] deleted_group_days ago (default
 * 30; 0 keeps them for ever) is purged whole: its messages as above, then
 * its members, invitations and join requests and the conversation row, in
 * one transaction. Nobody can read a deleted group, and no endpoint
 * brings one back; until the purge, clearing conversations.deleted_at by
 * hand does. A run that purged a group also deletes events older than
 * deleted_group_days, where the event retention is longer, since they
 * hold its messages' payloads.
 *
 * One run at a time per database: a run holds GET_LOCK('parley.retention').
 */
#ifndef PARLEY_RETENTION_H
#define PARLEY_RETENTION_H

struct svc_ctx;

/* Messages deleted per transaction. */
#define RETENTION_BATCH 1000

struct retention_report {
	long conversations; /* conversations with messages past retention */
	long messages;      /* messages deleted (dry run: would be) */
	long groups;        /* deleted groups purged (dry run: would be) */
	long events;        /* outbox events deleted (dry run: 0) */
	long horizon_days;  /* shortest retention in force; 0: none */
};

/*
 * Called for each conversation with messages past its retention, after
 * they are gone (dry run: counted): its id, its retention in days and the
 * number of messages; gone: a deleted group purged whole (days is then
 * deleted_group_days), called even when it held no message.
 */
typedef void retention_note_fn(void *arg, const char *cid, long days, long n,
	int gone);

/*
 * One pass over the install (see above). dry_run counts and changes
 * nothing. Returns 0 done, 1 another run holds the lock (nothing done),
 * -1 database error (what was committed stays; running again resumes).
 */
int retention_run(const struct svc_ctx *ctx, int dry_run,
	retention_note_fn *note, void *arg, struct retention_report *rep);

#endif
