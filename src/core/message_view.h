/*
 * message_view.h - how a message looks to a reader: the message object of
 * message.h built from a struct msg_row, its delivery status and its
 * reaction summary. No I/O; shared by message.c and message_query.c.
 */
#ifndef PARLEY_MESSAGE_VIEW_H
#define PARLEY_MESSAGE_VIEW_H

#include <stddef.h>

#include <jansson.h>

#include "db.h"
#include "message_db.h"

/*
 * A conversation's receipt state (message_db_receipts): the reader's
 * membership and the thresholds that decide a message's status. A
 * message by ex_user (the member holding the lowest pointer) is judged
 * against the second-lowest pointer, any other message against the
 * lowest: that is the lowest pointer among the members other than the
 * sender, in one comparison.
 */
struct receipts {
	int member;
	const char *role, *kind, *direct_key;
	const char *r_ex_user, *r_ex_at, *r_ex_id, *r_at, *r_id;
	const char *d_ex_user, *d_ex_at, *d_ex_id, *d_at, *d_id;
};

void message_view_receipts(const struct db_rows *r, struct receipts *rc);

/* SEEN, DELIVERED or SENT; SENT when rc is NULL (a new message). */
const char *message_view_status(const struct msg_row *m,
	const struct receipts *rc);

/*
 * [{emoji, count, reacted, userIds}] from msg_row.reactions text; reacted
 * tells whether viewer (may be NULL: false) is among them. New array.
 */
json_t *message_view_reactions(const char *concat, size_t len,
	const char *viewer);

/* The message object (new). viewer may be NULL (event payloads). */
json_t *message_view_json(const struct msg_row *m, const char *viewer,
	const struct receipts *rc);

#endif
