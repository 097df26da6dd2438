/*
 * bridge_nudge.c - the bridge's UDP socket: wake-ups and peer traffic.
 *
 * Each bridge binds [bridge] nudge_host:nudge_port. Datagrams (first byte):
 *
 *   'n'  a writer committed events (outbox_nudge). A bridge that is not
 *        the sequencer passes it on to the one that is, as 'r'.
 *   'r'  a relayed writer nudge (never relayed again).
 *   's'  the sequencer assigned positions: tail the stream now.
 *   'e'  an ephemeral event (typing, presence) for a room, from a peer:
 *        'e' sender[16] token[16] kind[1] room[16] except[16] frame-text;
 *        kind is 'U' (a user's room), 'C' (a conversation) or 'P' (a
 *        conversation, presence: the receiver applies its own
 *        presence_room_limit, as it alone knows its members there).
 *
 * Peers find each other in the bridge_peers table (host, port, a random
 * token per process, which bridge is the sequencer), refreshed every few
 * seconds by the stream thread. 'e' datagrams are accepted only with the
 * sender's registered token, so another local process cannot inject
 * typing or presence frames. Nudges carry no data: a forged one costs a
 * query, never correctness.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define PEER_MAX 64
#define DGRAM_HDR (1 + 16 + 16 + 1 + 16 + 16)

struct peer {
	struct bid id;
	unsigned char token[16];
	struct sockaddr_storage addr;
	socklen_t len;
	int sequencer;
};

static int fd = -1;
static unsigned char token[16];
static pthread_mutex_t peers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct peer peers[PEER_MAX];
static int npeers;

const unsigned char *
nudge_token(void)
{
	return token;
}

int
nudge_fd(void)
{
	return fd;
}

static int
resolve(const char *host, long port, struct sockaddr_storage *ss,
	socklen_t *len, int passive)
{
	struct addrinfo hints, *ai = NULL;
	char p[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	snprintf(p, sizeof(p), "%ld", port);
	if (getaddrinfo(host, p, &hints, &ai) != 0 || !ai)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int
nudge_open(void)
{
	const struct config *cfg = bridge.cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	int rcvbuf = 1 << 20;

	ids_random(token, sizeof(token));
	if (cfg->nudge_port == 0)
		return 0;
	if (resolve(cfg->nudge_host, cfg->nudge_port, &ss, &len, 1) == -1) {
		log_error("cannot resolve [bridge] nudge_host %s", cfg->nudge_host);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		log_error("cannot bind UDP %s:%ld: %s", cfg->nudge_host,
		    cfg->nudge_port, strerror(errno));
		close(fd);
		fd = -1;
		return -1;
	}
	return 0;
}

void
nudge_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

struct eph_job {
	struct bjob job;
	unsigned char kind; /* 'U', 'C' or 'P' */
	struct bid room, except;
	struct frame *f;
};

static void
eph_done(struct bjob *j)
{
	struct eph_job *e = (struct eph_job *)j;
	const struct bid *except = bid_is_zero(&e->except) ? NULL : &e->except;

	if (e->kind == 'P')
		presence_deliver(&e->room, except, e->f);
	else
		rooms_send_ephemeral(e->kind == 'U' ? TARGET_USER :
		    TARGET_CONVERSATION, &e->room, except, e->f);
	frame_unref(e->f);
	free(e);
}

static void
peer_datagram(const unsigned char *buf, size_t n)
{
	struct eph_job *e;
	struct bid sender;
	int known = 0;

	if (n <= DGRAM_HDR)
		return;
	memcpy(sender.b, buf + 1, 16);
	pthread_mutex_lock(&peers_mu);
	for (int i = 0; i < npeers; i++)
		if (bid_eq(&peers[i].id, &sender) &&
		    memcmp(peers[i].token, buf + 17, 16) == 0)
			known = 1;
	pthread_mutex_unlock(&peers_mu);
	if (!known)
		return;
	bmetrics_count(BM_PEER_DATAGRAMS_IN, 1);
	e = xcalloc(1, sizeof(*e));
	e->job.done = eph_done;
	e->kind = buf[33] == 'U' || buf[33] == 'P' ? buf[33] : 'C';
	memcpy(e->room.b, buf + 34, 16);
	memcpy(e->except.b, buf + 50, 16);
	e->f = frame_new((const char *)buf + DGRAM_HDR, n - DGRAM_HDR, 1);
	inbox_push(&e->job);
}

int
nudge_drain(void)
{
	unsigned char buf[65536];
	int mask = 0;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			continue;
		switch (buf[0]) {
		case 'n':
			mask |= NUDGE_WRITE;
			bmetrics_count(BM_NUDGES_IN, 1);
			break;
		case 'r':
			mask |= NUDGE_RELAYED;
			bmetrics_count(BM_NUDGES_IN, 1);
			break;
		case 's':
			mask |= NUDGE_SEQUENCED;
			break;
		case 'e':
			peer_datagram(buf, (size_t)n);
			break;
		}
	}
	return mask;
}

static void
send_to(const struct peer *p, const void *buf, size_t len)
{
	if (fd >= 0 && sendto(fd, buf, len, MSG_DONTWAIT,
	    (const struct sockaddr *)&p->addr, p->len) == (ssize_t)len)
		bmetrics_count(BM_PEER_DATAGRAMS_OUT, 1);
}

void
nudge_peers_sequenced(void)
{
	pthread_mutex_lock(&peers_mu);
	for (int i = 0; i < npeers; i++)
		send_to(&peers[i], "s", 1);
	pthread_mutex_unlock(&peers_mu);
}

void
nudge_relay_to_sequencer(void)
{
	pthread_mutex_lock(&peers_mu);
	for (int i = 0; i < npeers; i++)
		if (peers[i].sequencer)
			send_to(&peers[i], "r", 1);
	pthread_mutex_unlock(&peers_mu);
}

static void
forward(unsigned char kind, const struct bid *room, const struct bid *except,
	const struct frame *f)
{
	unsigned char buf[DGRAM_HDR + 8192];

	if (fd < 0 || f->len > sizeof(buf) - DGRAM_HDR)
		return;
	buf[0] = 'e';
	memcpy(buf + 1, bridge.id.b, 16);
	memcpy(buf + 17, token, 16);
	buf[33] = kind;
	memcpy(buf + 34, room->b, 16);
	if (except)
		memcpy(buf + 50, except->b, 16);
	else
		memset(buf + 50, 0, 16);
	memcpy(buf + DGRAM_HDR, f->buf + LWS_PRE, f->len);
	pthread_mutex_lock(&peers_mu);
	for (int i = 0; i < npeers; i++)
		send_to(&peers[i], buf, DGRAM_HDR + f->len);
	pthread_mutex_unlock(&peers_mu);
}

void
nudge_forward_ephemeral(int kind, const struct bid *room,
	const struct bid *except, const struct frame *f)
{
	forward(kind == TARGET_USER ? 'U' : 'C', room, except, f);
}

void
nudge_forward_presence(const struct bid *room, const struct bid *user,
	const struct frame *f)
{
	forward('P', room, user, f);
}

static int
unhex16(const char *s, unsigned char out[16])
{
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (!s[2 * i] || !s[2 * i + 1] ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

void
nudge_set_peers(struct db *db, struct arena *a)
{
	struct peer fresh[PEER_MAX];
	struct db_rows rows;
	int n = 0;

	if (db_query(db, a, &rows,
	    "SELECT id, udp_host, udp_port, HEX(token) AS token, is_sequencer"
	    " FROM bridge_peers WHERE id <> ? AND udp_port > 0"
	    " AND heartbeat_at > NOW(3) - INTERVAL 10 SECOND", "s",
	    bridge.id_text) == -1) {
		bmetrics_count(BM_DB_ERRORS, 1);
		return;
	}
	for (size_t r = 0; r < rows.nrows && n < PEER_MAX; r++) {
		struct peer *p = &fresh[n];

		if (bid_parse(db_get(&rows, r, "id"), &p->id) == -1 ||
		    unhex16(db_get(&rows, r, "token"), p->token) == -1 ||
		    resolve(db_get(&rows, r, "udp_host"),
		    (long)db_get_int(&rows, r, "udp_port"), &p->addr, &p->len,
		    0) == -1)
			continue;
		p->sequencer = db_get_int(&rows, r, "is_sequencer") != 0;
		n++;
	}
	pthread_mutex_lock(&peers_mu);
	memcpy(peers, fresh, (size_t)n * sizeof(*peers));
	npeers = n;
	pthread_mutex_unlock(&peers_mu);
}
