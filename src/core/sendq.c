/*
 * sendq.c - group commit of message sends within one process (sendq.h).
 *
 * Leader/follower over one mutex: a thread queues its job, and while the
 * job is still queued either leads (if fewer than SENDQ_LEADERS batches
 * are running) or sleeps on the condition variable. A leader takes the
 * whole queue (up to SENDQ_BATCH_MAX), runs it, publishes each job's
 * outcome and wakes everyone. One job alone is handed back to its own
 * thread, which runs the ordinary single send on its own connection.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "sendq.h"
#include "banned.h"

enum job_state { JOB_QUEUED, JOB_TAKEN, JOB_SENT, JOB_ALONE };

struct job {
	const struct msg_new *m;
	const char *kind, *payload;
	enum job_state state;
	struct job *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t done;
	struct job *head, **tail;
	int leaders;
} Q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &Q.head, 0 };

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
lead(struct db *db)
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
		pthread_cond_broadcast(&Q.done);
		return;
	}
	Q.leaders++;
	pthread_mutex_unlock(&Q.mu);
	outcome = run_batch(db, jobs, n) == 0 ? JOB_SENT : JOB_ALONE;
	pthread_mutex_lock(&Q.mu);
	Q.leaders--;
	for (size_t i = 0; i < n; i++)
		jobs[i]->state = outcome;
	pthread_cond_broadcast(&Q.done);
}

int
sendq_send(struct db *db, const struct msg_new *m, const char *kind,
	const char *payload)
{
	struct job j = { m, kind, payload, JOB_QUEUED, NULL };

	if (m->parent_id)
		return message_db_send(db, m, kind, payload);
	pthread_mutex_lock(&Q.mu);
	if (Q.leaders < SENDQ_LEADERS && !Q.head) {
		/* A free slot and nobody waiting: straight through. */
		Q.leaders++;
		pthread_mutex_unlock(&Q.mu);
		int rc = message_db_send(db, m, kind, payload);
		pthread_mutex_lock(&Q.mu);
		Q.leaders--;
		if (Q.head)	/* a waiting thread may lead now */
			pthread_cond_broadcast(&Q.done);
		pthread_mutex_unlock(&Q.mu);
		return rc;
	}
	*Q.tail = &j;
	Q.tail = &j.next;
	while (j.state == JOB_QUEUED || j.state == JOB_TAKEN) {
		if (j.state == JOB_QUEUED && Q.leaders < SENDQ_LEADERS)
			lead(db);
		else
			pthread_cond_wait(&Q.done, &Q.mu);
	}
	pthread_mutex_unlock(&Q.mu);
	if (j.state == JOB_SENT)
		return 0;
	return message_db_send(db, m, kind, payload);
}
