#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "xalloc.h"
#include "banned.h"

/*
 * The calling thread's events of its open transaction, inserted at its
 * COMMIT (outbox_flush), and the highest position its last committed
 * transaction used, for the next nudge. A struct db belongs to one thread,
 * and a thread has one transaction open at a time.
 */
struct pending_event {
	const char *kind;
	char *target, *type, *payload;
};

static __thread struct {
	struct db *db;
	uint64_t tx;
	size_t n, cap;
	struct pending_event *ev;
	int64_t numbered;  /* positions taken by the committing transaction */
	int64_t committed; /* ... once its COMMIT succeeded; 0 = none */
} P;

static void
pending_clear(void)
{
	for (size_t i = 0; i < P.n; i++) {
		free(P.ev[i].target);
		free(P.ev[i].type);
		free(P.ev[i].payload);
	}
	free(P.ev);
	P.ev = NULL;
	P.n = P.cap = 0;
	P.db = NULL;
	P.tx = 0;
}

/*
 * At COMMIT: take positions from event_seq (its row lock, held until the
 * transaction is visible, orders the writers), insert the events with
 * them, and move the counter on. Last in the transaction, so a writer
 * never waits for another lock while it holds this one.
 */
static int
outbox_flush(struct db *db, void *arg, enum db_tx_phase phase)
{
	struct arena a;
	struct db_rows r;
	int64_t pos;
	int rc = -1;

	(void)arg;
	if (phase == DB_TX_COMMITTED) {
		if (P.numbered > P.committed)
			P.committed = P.numbered;
		pending_clear();
		return 0;
	}
	if (P.db != db || P.tx != db_transaction(db) || P.n == 0)
		return 0;
	arena_init(&a);
	if (db_query(db, &a, &r,
	    "SELECT pos FROM event_seq WHERE id = 1 FOR UPDATE", "") == -1 ||
	    r.nrows != 1)
		goto out;
	pos = db_get_int(&r, 0, "pos");
	for (size_t i = 0; i < P.n; i++)
		if (db_exec(db, NULL,
		    "INSERT INTO events (pos, target_kind, target_id, type,"
		    " payload) VALUES (?, ?, ?, ?, ?)", "issss", pos + 1 +
		    (int64_t)i, P.ev[i].kind, P.ev[i].target, P.ev[i].type,
		    P.ev[i].payload) == -1)
			goto out;
	pos += (int64_t)P.n;
	if (db_exec(db, NULL, "UPDATE event_seq SET pos = ? WHERE id = 1",
	    "i", pos) == -1)
		goto out;
	metrics_count(MC_EVENTS_WRITTEN, P.n);
	P.numbered = pos;
	rc = 0;
out:
	arena_release(&a);
	if (rc == -1)
		pending_clear();
	return rc;
}

int
outbox_add(struct db *db, enum outbox_target kind, const char *target_id,
	const char *type, const json_t *payload)
{
	uint64_t tx = db_transaction(db);
	struct pending_event *e;
	char *text;

	if (tx == 0) {
		log_error("outbox_add outside a transaction");
		return -1;
	}
	if (P.db != db || P.tx != tx) {
		pending_clear();
		P.db = db;
		P.tx = tx;
		P.numbered = 0;
	}
	text = json_dumps(payload, JSON_COMPACT);
	if (!text)
		return -1;
	if (P.n == P.cap) {
		P.cap = P.cap ? 2 * P.cap : 8;
		P.ev = xrealloc(P.ev, P.cap * sizeof(*P.ev));
	}
	e = &P.ev[P.n++];
	e->kind = kind == OUTBOX_USER ? "USER" : "CONVERSATION";
	e->target = xstrdup(target_id);
	e->type = xstrdup(type);
	e->payload = text;
	db_at_commit(db, outbox_flush, NULL);
	return 0;
}

void
outbox_committed(int64_t pos)
{
	if (pos > P.committed)
		P.committed = pos;
}

/*
 * Per thread, made on first use: a socket and address for nudge_host:
 * nudge_port and for each host:port of [bridge] nudge_targets.
 */
#define NUDGE_MAX 8
static __thread int nudge_n = -1;
static __thread struct {
	int fd;
	struct sockaddr_storage addr;
	socklen_t len;
} nudge_to[NUDGE_MAX];

static void
nudge_add(const char *host, const char *port)
{
	struct addrinfo hints, *ai = NULL;
	int fd;

	if (nudge_n >= NUDGE_MAX)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		nudge_to[nudge_n].fd = fd;
		memcpy(&nudge_to[nudge_n].addr, ai->ai_addr, ai->ai_addrlen);
		nudge_to[nudge_n].len = ai->ai_addrlen;
		nudge_n++;
	}
	freeaddrinfo(ai);
}

static void
nudge_setup(const struct config *cfg)
{
	const char *p = cfg->nudge_targets ? cfg->nudge_targets : "";
	char port[16], item[300];

	nudge_n = 0;
	if (cfg->nudge_port != 0) {
		snprintf(port, sizeof(port), "%ld", cfg->nudge_port);
		nudge_add(cfg->nudge_host, port);
	}
	/* "host:port host:port" (commas also separate; [v6]:port). */
	while (*p) {
		size_t n = strcspn(p, " \t,");
		char *colon, *host = item;

		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			colon = strrchr(item, ':');
			if (colon) {
				*colon = '\0';
				if (*host == '[' && colon > item + 1 &&
				    colon[-1] == ']') {
					host++;
					colon[-1] = '\0';
				}
				nudge_add(host, colon + 1);
			}
		}
		p += n;
		p += strspn(p, " \t,");
	}
}

void
outbox_nudge(const struct config *cfg)
{
	char msg[32];
	int len;

	if (nudge_n < 0)
		nudge_setup(cfg);
	/* "n" alone: wake up and find out; "n<pos>": durable up to pos. */
	len = P.committed > 0 ?
	    snprintf(msg, sizeof(msg), "n%lld", (long long)P.committed) :
	    snprintf(msg, sizeof(msg), "n");
	P.committed = 0;
	for (int i = 0; i < nudge_n; i++)
		if (sendto(nudge_to[i].fd, msg, (size_t)len, 0,
		    (struct sockaddr *)&nudge_to[i].addr, nudge_to[i].len) ==
		    len)
			metrics_count(MC_NUDGES_SENT, 1);
}
