/*
 * bridge_pool.c - the database thread pool and the loop's inbox.
 *
 * The loop never waits for MariaDB or memcached: it queues a job, a pool
 * thread runs it with its own handles, and the finished job comes back
 * through the inbox; pushing to an empty inbox wakes the loop with
 * lws_cancel_service(), whose LWS_CALLBACK_EVENT_WAIT_CANCELLED drains it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/db.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct jobq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bjob *head, *tail;
	size_t n;
};

static struct jobq pending = { PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, NULL, 0 };
static struct jobq inbox = { PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, NULL, 0 };
static pthread_t *threads;
static int nthreads;
static int stopping;

static void
q_append(struct jobq *q, struct bjob *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

void
inbox_push(struct bjob *j)
{
	int was_empty;

	pthread_mutex_lock(&inbox.mu);
	was_empty = inbox.head == NULL;
	q_append(&inbox, j);
	pthread_mutex_unlock(&inbox.mu);
	if (was_empty && bridge.ctx)
		lws_cancel_service(bridge.ctx);
}

void
inbox_drain(void)
{
	struct bjob *j, *next;

	pthread_mutex_lock(&inbox.mu);
	j = inbox.head;
	inbox.head = inbox.tail = NULL;
	inbox.n = 0;
	pthread_mutex_unlock(&inbox.mu);
	for (; j; j = next) {
		next = j->next;
		j->done(j);
	}
}

void
pool_submit(struct bjob *j)
{
	if (!j->run) {
		inbox_push(j);
		return;
	}
	pthread_mutex_lock(&pending.mu);
	q_append(&pending, j);
	pthread_cond_signal(&pending.cv);
	pthread_mutex_unlock(&pending.mu);
}

size_t
pool_depth(void)
{
	size_t n;

	pthread_mutex_lock(&pending.mu);
	n = pending.n;
	pthread_mutex_unlock(&pending.mu);
	return n;
}

static void *
worker_main(void *arg)
{
	struct bworker w;
	struct arena arena;

	db_thread_init();
	arena_init(&arena);
	w.index = (int)(intptr_t)arg;
	w.db = db_new(bridge.cfg);
	w.cache = cache_new(bridge.cfg);
	w.arena = &arena;
	for (;;) {
		struct bjob *j;

		pthread_mutex_lock(&pending.mu);
		while (!pending.head && !stopping)
			pthread_cond_wait(&pending.cv, &pending.mu);
		if (stopping) {
			pthread_mutex_unlock(&pending.mu);
			break;
		}
		j = pending.head;
		pending.head = j->next;
		if (!pending.head)
			pending.tail = NULL;
		pending.n--;
		pthread_mutex_unlock(&pending.mu);
		arena_reset(&arena);
		j->run(j, &w);
		inbox_push(j);
	}
	cache_free(w.cache);
	db_free(w.db);
	arena_release(&arena);
	db_thread_release();
	return NULL;
}

int
pool_start(int n)
{
	threads = xcalloc((size_t)n, sizeof(*threads));
	for (nthreads = 0; nthreads < n; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker_main,
		    (void *)(intptr_t)nthreads) != 0) {
			log_error("cannot start pool thread %d", nthreads);
			return -1;
		}
	return 0;
}

void
pool_stop(void)
{
	pthread_mutex_lock(&pending.mu);
	stopping = 1;
	pthread_cond_broadcast(&pending.cv);
	pthread_mutex_unlock(&pending.mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
}
