/*
 * outbox.h - writing realtime events in the same transaction as the change.
 *
 * DESIGN §2: every state change clients must hear about is announced by a
 * row in `events`, inserted inside the transaction that makes the change,
 * so either both happen or neither does. Rows are addressed to a user's
 * personal room (OUTBOX_USER, target = user id) or to a conversation's room
 * (OUTBOX_CONVERSATION, target = conversation id). The payload is the
 * frame's "data" object exactly as clients will receive it; the bridge adds
 * "type" and "seq" (the row's stream position, pos).
 *
 * Positions are taken at COMMIT (schema/007-writer-positions.sql says why):
 * outbox_add only queues the event, and db_commit then numbers and inserts
 * the transaction's events as its last statements, under event_seq's row
 * lock, so positions follow the order in which transactions become visible
 * and have no holes.
 *
 * After COMMIT the writer calls outbox_nudge(): one best-effort UDP
 * datagram that wakes the bridges and tells them the highest position this
 * thread has committed, which is durable (a bridge never delivers a
 * position before it knows it durable). Losing it costs latency (they poll
 * every [bridge] poll_ms), never data.
 */
#ifndef PARLEY_OUTBOX_H
#define PARLEY_OUTBOX_H

#include <stdint.h>

#include <jansson.h>

struct config;
struct db;

enum outbox_target { OUTBOX_USER, OUTBOX_CONVERSATION };

/*
 * Adds one event to the open transaction (db_begin), written when it
 * commits. payload is borrowed. 0 or -1 (the caller rolls back).
 */
int outbox_add(struct db *db, enum outbox_target kind, const char *target_id,
	const char *type, const json_t *payload);

/*
 * For transactions that number their events themselves (the send
 * procedures): pos, the highest position a just-committed transaction of
 * this thread used, goes with the next outbox_nudge.
 */
void outbox_committed(int64_t pos);

/*
 * Sends the wake-up datagram to [bridge] nudge_host:nudge_port (0 = off)
 * and to every host:port in [bridge] nudge_targets (other bridges).
 */
void outbox_nudge(const struct config *cfg);

#endif
