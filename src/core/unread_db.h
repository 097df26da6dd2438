/*
 * unread_db.h - unread counts of conversation list rows, with a bound.
 *
 * A member's unread messages in a conversation are the others' live (not
 * deleted) messages past the member's read pointer (created_at, id).
 * Counted inside the list query, the pointer cannot bound an index range:
 * MariaDB ranges only over constants and has no LATERAL, so the count
 * read every message of the conversation, read or not (about 50 ms per
 * list for each member of a 300,000-message group). So the list query
 * only says which rows have a last message past the pointer, and
 * unread_db_fill() counts those, each as an index range that starts at
 * the pointer and stops after UNREAD_COUNT_MAX + 1 messages, several
 * conversations per statement.
 */
#ifndef PARLEY_UNREAD_DB_H
#define PARLEY_UNREAD_DB_H

#include "arena.h"
#include "db.h"

/* The most messages past a read pointer that a count looks at. */
#define UNREAD_COUNT_MAX 1000

/*
 * Fills the "unread_count" and "unread_capped" cells of the list rows r
 * of member uid. r needs the columns id, read_at and read_id (the
 * member's pointer; NULL: nothing read) and lm_after_read (1 when the
 * conversation's last message is past the pointer; other rows count 0).
 * unread_count is the number of others' live messages among the newest
 * UNREAD_COUNT_MAX past the pointer. unread_capped is 1 when all of
 * those are unread and more messages lie past the pointer: the true
 * count is UNREAD_COUNT_MAX or more. (A member who wrote or deleted many
 * of the newest messages past an old pointer gets the count among them,
 * a lower bound that is not flagged.)
 */
int unread_db_fill(struct db *db, struct arena *a, const char *uid,
	struct db_rows *r);

#endif
