/*
 * sendq.c - group commit of message sends within one process (sendq.h).
 *
 * Leader/follower over one mutex: a thread queues its job, and while the
 * job is still queued either leads (if fewer than SENDQ_LEADERS batches
 * are running) or sleeps on the job's own condition variable. A leader
 * takes the whole queue (up to SENDQ_BATCH_MAX), runs it, announces it,
 * publishes each job's outcome and wakes exactly those senders, then the
 * next queued thread if one may lead. One job alone is handed back to its
 * own thread, which runs the ordinary single send on its own connection.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db.h"
#include "histcache.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "sendq.h"
#include "banned.h"

enum job_state { JOB_QUEUED, JOB_TAKEN, JOB_SENT, JOB_ALONE };

/* A waiting send. Its thread sleeps on its own condition variable, so a
 * finished batch wakes exactly its senders, and a freed leader slot exactly
 * one queued thread (a broadcast woke every waiter of the process). */
struct job {
	const struct msg_new *m;
	const char *kind, *payload;
	enum job_state state;
	pthread_cond_t wake;
	struct job *next;
};

static struct {
	pthread_mutex_t mu;
	struct job *head, **tail;
	int leaders;
} Q = { PTHREAD_MUTEX_INITIALIZER, NULL, &Q.head, 0 };

/* With Q.mu held: lets the first queued thread lead if a slot is free. */
static void
wake_next_leader(void)
{
	if (Q.head && Q.leaders < SENDQ_LEADERS)
		pthread_cond_signal(&Q.head->wake);
}

/*
 * After a commit, before any of its senders is answered: the history
 * pages of each conversation written to are stale (once per conversation,
 * however many of its messages the batch held) and the sequencer has
 * work (one nudge).
 */
static void
announce(const struct svc_ctx *ctx, struct job *const *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *cid = jobs[i]->m->conversation_id;
		size_t k = 0;

		while (k < i && strcmp(jobs[k]->m->conversation_id, cid) != 0)
			k++;
		if (k == i)
			histcache_bump(ctx, cid);
	}
	outbox_nudge(ctx->cfg);
}

static void
put(json_t *o, const char *key, const char *val)
{
	if (val)
		json_object_set_new(o, key, json_string(val));
}

/* The JSON array parley_message_send_batch reads, or NULL. */
static char *
batch_json(struct job *const *jobs, size_t n)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < n; i++) {
		const struct msg_new *m = jobs[i]->m;
		json_t *o = json_object();

		put(o, "id", m->id);
		put(o, "conv", m->conversation_id);
		put(o, "sender", m->sender_id);
		put(o, "kind", jobs[i]->kind);
		put(o, "type", m->type);
		put(o, "content", m->content);
		put(o, "enc", m->encrypted);
		put(o, "reply", m->reply_to_id);
		put(o, "meta", m->metadata);
		put(o, "client", m->client_id);
		put(o, "idem", m->idempotency_key);
		put(o, "at", m->created_at);
		put(o, "payload", jobs[i]->payload);
		json_array_append_new(a, o);
	}
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

/* Commits jobs[0..n) together: 0, or -1 (nothing written). */
static int
run_batch(struct db *db, struct job *const *jobs, size_t n)
{
	char *items = batch_json(jobs, n);
	int rc;

	if (!items)
		return -1;
	rc = db_exec(db, NULL, "CALL parley_message_send_batch(?, ?)", "si",
	    items, (int64_t)n);
	free(items);
	if (rc == 0) {
		metrics_count(MC_SEND_BATCHES, 1);
		metrics_count(MC_SEND_BATCHED, n);
	} else
		metrics_count(MC_SEND_BATCH_FAILURES, 1);
	return rc;
}

/*
 * Takes the queue and sends it: called with Q.mu held by a thread whose own
 * job is still queued; returns with Q.mu held.
 */
static void
lead(const struct svc_ctx *ctx)
{
	struct job *jobs[SENDQ_BATCH_MAX];
	enum job_state outcome;
	size_t n = 0;

	while (Q.head && n < SENDQ_BATCH_MAX) {
		jobs[n] = Q.head;
		jobs[n++]->state = JOB_TAKEN;
		Q.head = Q.head->next;
	}
	if (!Q.head)
		Q.tail = &Q.head;
	if (n == 1) {
		/* Nothing to share: its own thread sends it as usual. */
		jobs[0]->state = JOB_ALONE;
		pthread_cond_signal(&jobs[0]->wake);
		return;
	}
	Q.leaders++;
	wake_next_leader(); /* more than a batch queued */
	pthread_mutex_unlock(&Q.mu);
	outcome = run_batch(ctx->db, jobs, n) == 0 ? JOB_SENT : JOB_ALONE;
	if (outcome == JOB_SENT)
		announce(ctx, jobs, n);
	pthread_mutex_lock(&Q.mu);
	Q.leaders--;
	for (size_t i = 0; i < n; i++) {
		jobs[i]->state = outcome;
		pthread_cond_signal(&jobs[i]->wake);
	}
	wake_next_leader();
}

/* One message in a transaction of its own, announced. */
static int
send_alone(const struct svc_ctx *ctx, struct job *j)
{
	int rc = message_db_send(ctx->db, j->m, j->kind, j->payload);

	if (rc == 0)
		announce(ctx, &j, 1);
	return rc;
}

int
sendq_send(const struct svc_ctx *ctx, const struct msg_new *m,
	const char *kind, const char *payload)
{
	struct job j = { m, kind, payload, JOB_QUEUED, PTHREAD_COND_INITIALIZER,
	    NULL };
	int rc;

	if (m->parent_id)
		return send_alone(ctx, &j);
	pthread_mutex_lock(&Q.mu);
	if (Q.leaders < SENDQ_LEADERS && !Q.head) {
		/* A free slot and nobody waiting: straight through. */
		Q.leaders++;
		pthread_mutex_unlock(&Q.mu);
		rc = send_alone(ctx, &j);
		pthread_mutex_lock(&Q.mu);
		Q.leaders--;
		wake_next_leader();
		pthread_mutex_unlock(&Q.mu);
		return rc;
	}
	*Q.tail = &j;
	Q.tail = &j.next;
	while (j.state == JOB_QUEUED || j.state == JOB_TAKEN) {
		if (j.state == JOB_QUEUED && Q.leaders < SENDQ_LEADERS)
			lead(ctx);
		else
			pthread_cond_wait(&j.wake, &Q.mu);
	}
	pthread_mutex_unlock(&Q.mu);
	pthread_cond_destroy(&j.wake);
	if (j.state == JOB_SENT)
		return 0;
	return send_alone(ctx, &j);
}
