/*
 * outbox.h - writing realtime events in the same transaction as the change.
 *
 * DESIGN §2: every state change clients must hear about is announced by a
 * row in `events`, inserted inside the transaction that makes the change,
 * so either both happen or neither does. Rows are addressed to a user's
 * personal room (OUTBOX_USER, target = user id) or to a conversation's room
 * (OUTBOX_CONVERSATION, target = conversation id). The payload is the
 * frame's "data" object exactly as clients will receive it; the bridge adds
 * "type" and "seq" (the stream position assigned by the sequencer).
 *
 * After COMMIT the writer calls outbox_nudge(): one best-effort UDP
 * datagram that wakes the sequencer and bridges. Losing it costs latency
 * (they poll every [bridge] poll_ms), never data.
 */
#ifndef PARLEY_OUTBOX_H
#define PARLEY_OUTBOX_H

#include <jansson.h>

struct config;
struct db;

enum outbox_target { OUTBOX_USER, OUTBOX_CONVERSATION };

/*
 * Inserts one event; the caller holds an open transaction (db_begin).
 * payload is borrowed. 0 or -1 (the caller rolls back).
 */
int outbox_add(struct db *db, enum outbox_target kind, const char *target_id,
	const char *type, const json_t *payload);

/*
 * Sends the wake-up datagram to [bridge] nudge_host:nudge_port (0 = off)
 * and to every host:port in [bridge] nudge_targets (other bridges).
 */
void outbox_nudge(const struct config *cfg);

#endif
