/*
 * sendq.h - group commit of message sends within one process.
 *
 * Under load many threads of a FastCGI process send at once, and MariaDB's
 * cost of a send is mostly per statement and per transaction, not per row.
 * sendq_send() has message_db_send()'s contract, but a send that arrives
 * while SENDQ_LEADERS sends of this process are already in flight waits
 * in a queue; the next thread to finish takes everything queued (up to
 * SENDQ_BATCH_MAX messages) and commits it in one transaction
 * (parley_message_send_batch, schema/005) on its own connection. A send
 * that finds a free slot goes straight to MariaDB as before, so an idle
 * server adds no latency.
 *
 * A batch is all or nothing. If it fails (a sender is not a member, a
 * clientId or Idempotency-Key repeats, a deadlock, a lost connection),
 * every message of it is sent again alone by its own thread, so each
 * caller gets exactly the answer a lone send would have given it. Thread
 * replies (parent_id set) are always sent alone.
 */
#ifndef PARLEY_SENDQ_H
#define PARLEY_SENDQ_H

#include "message_db.h"
#include "svc.h"

#define SENDQ_LEADERS 2     /* sends of one process in flight at once */
#define SENDQ_BATCH_MAX 32  /* messages per batch */

/*
 * message_db_send() through the process's queue on ctx->db: 0 sent, 1 not
 * a member, -1. A sent message is also announced before this returns: the
 * conversation's history version is bumped (histcache_bump, once per
 * conversation of a batch) and the sequencer nudged (outbox_nudge, once
 * per batch).
 */
int sendq_send(const struct svc_ctx *ctx, const struct msg_new *m,
	const char *kind, const char *payload);

#endif
