/*
 * bridge_listen.c - the bridge's own listening socket, accepted in bites.
 *
 * libwebsockets 4.1 (Debian's) accepts its listen socket's whole backlog in
 * one go, and every socket it accepts costs a walk of lists that hold every
 * socket still in its HTTP handshake (the pending-timeout list, the header
 * table list). When 19,000 clients reconnect at once both lists hold
 * thousands of entries and accepting becomes quadratic: measured, those
 * walks were ~20 % of the loop thread's time in the reconnect storm.
 *
 * So the bridge listens itself. The listening socket is a raw descriptor on
 * the loop. Each time it is readable up to ACCEPT_BITE connections are
 * accepted at once into a waiting ring (the kernel's backlog is only
 * somaxconn long, and a connection it drops waits a second for its SYN to
 * be sent again), and waiting connections are handed to lws with
 * lws_adopt_descriptor_vhost_via_info(), exactly as lws would have adopted
 * them, while fewer than HANDSHAKE_MAX are in their handshake. A
 * connection leaves that count when it is upgraded (listen_handshake_done()
 * from LWS_CALLBACK_ESTABLISHED) or destroyed before (from
 * LWS_CALLBACK_WSI_DESTROY); adopted connections carry a mark in lws's
 * opaque user pointer so nothing else is counted. The listening socket is
 * not polled while the ring is full or the process is out of descriptors.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bridge.h"
#include "core/log.h"

/* Connections accepted per readable event: other sockets get their turn. */
#define ACCEPT_BITE 512
/* Accepted connections waiting for their turn before accepting pauses. */
#define WAITING_MAX 16384
/* Connections handed to lws and still in their handshake. */
#define HANDSHAKE_MAX 256
/*
 * Connections that never send their request hold their handshake slot
 * until lws's timeout: if no handshake finished for STALL_US while others
 * wait, STALL_BITE more are handed over anyway, so a few hundred silent
 * sockets cannot keep everyone else out.
 */
#define STALL_US (50 * LWS_US_PER_MS)
#define STALL_BITE 64
/* Out of descriptors: wait this long before accepting again. */
#define STARVED_PAUSE_US (100 * LWS_US_PER_MS)

static struct {
	struct lws_vhost *vh;
	struct lws *wsi;          /* the listening socket on the loop */
	int fd;
	int paused;               /* POLLIN off */
	int starved;              /* paused for lack of descriptors */
	size_t handshaking;       /* adopted, not yet upgraded */
	int waiting[WAITING_MAX]; /* accepted, not yet adopted (a ring) */
	size_t head, count;
	size_t finished;          /* handshakes finished since the stall check */
	int adopting;             /* inside lws_adopt_...(): not counted yet */
	lws_sorted_usec_list_t retry, adopt, stall;
} L = { .fd = -1 };

/* The mark on connections we adopted and still count. */
static char handshaking_mark;

static void
set_polling(int on)
{
	if (L.paused == !on || !L.wsi)
		return;
	L.paused = !on;
	lws_rx_flow_control(L.wsi, on);
}

static void
poll_if_room(void)
{
	if (L.paused && !L.starved && L.count <= WAITING_MAX / 2)
		set_polling(1);
}

static void stall_check(lws_sorted_usec_list_t *sul);

/* Hands up to n waiting connections to lws. */
static void
adopt(size_t n)
{
	while (L.count && n--) {
		lws_adopt_desc_t ad;

		memset(&ad, 0, sizeof(ad));
		ad.vh = L.vh;
		ad.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
		ad.fd.sockfd = L.waiting[L.head];
		ad.opaque = &handshaking_mark;
		L.head = (L.head + 1) % WAITING_MAX;
		L.count--;
		/* On failure lws has closed the socket already (and may have
		 * destroyed the wsi: listen_handshake_done() ignores that). */
		L.adopting = 1;
		if (lws_adopt_descriptor_vhost_via_info(&ad))
			L.handshaking++;
		L.adopting = 0;
	}
}

/* Hands waiting connections to lws while few are in their handshake. */
static void
adopt_waiting(void)
{
	if (L.handshaking < HANDSHAKE_MAX)
		adopt(HANDSHAKE_MAX - L.handshaking);
	if (L.count && lws_dll2_is_detached(&L.stall.list)) {
		L.finished = 0;
		lws_sul_schedule(bridge.ctx, 0, &L.stall, stall_check, STALL_US);
	}
	poll_if_room();
}

static void
stall_check(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (L.count && L.finished == 0)
		adopt(STALL_BITE);
	adopt_waiting();
}

static void
adopt_later(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	adopt_waiting();
}

static void
starved_over(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	L.starved = 0;
	poll_if_room();
}

/*
 * Empties the kernel's backlog quickly (a full backlog drops connection
 * attempts, and their clients wait a second to try again), then adopts
 * what lws can take now.
 */
static void
accept_some(void)
{
	for (int i = 0; i < ACCEPT_BITE && L.count < WAITING_MAX; i++) {
		int fd = accept4(L.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept: %s; pausing", strerror(errno));
				L.starved = 1;
				set_polling(0);
				lws_sul_schedule(bridge.ctx, 0, &L.retry,
				    starved_over, STARVED_PAUSE_US);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("accept: %s", strerror(errno));
			}
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		L.waiting[(L.head + L.count) % WAITING_MAX] = fd;
		L.count++;
	}
	if (L.count >= WAITING_MAX)
		set_polling(0);
	adopt_waiting();
}

void
listen_handshake_done(struct lws *wsi)
{
	if (lws_get_opaque_user_data(wsi) != &handshaking_mark)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	if (L.adopting)
		return;
	L.handshaking--;
	L.finished++;
	/* Not from inside this callback: the next turn of the loop. */
	if (L.count && lws_dll2_is_detached(&L.adopt.list))
		lws_sul_schedule(bridge.ctx, 0, &L.adopt, adopt_later, 1);
}

int
listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		accept_some();
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == L.wsi)
			L.wsi = NULL;
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* A bound, listening, non-blocking socket for host:port, or -1. */
static int
open_socket(const char *host, long port)
{
	struct addrinfo hints, *res, *ai;
	char service[16];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%ld", port);
	rc = getaddrinfo(host && *host ? host : NULL, service, &hints, &res);
	if (rc != 0) {
		log_error("listen %s:%ld: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		log_error("listen %s:%ld: %s", host, port, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int
listen_start(struct lws_context *ctx, const char *host, long port)
{
	lws_sock_file_fd_type u;

	L.vh = lws_get_vhost_by_name(ctx, "default");
	if (!L.vh || (L.fd = open_socket(host, port)) == -1)
		return -1;
	u.filefd = L.fd;
	L.wsi = lws_adopt_descriptor_vhost(L.vh, LWS_ADOPT_RAW_FILE_DESC, u,
	    LISTEN_PROTOCOL, NULL);
	if (!L.wsi) {
		log_error("cannot add the listening socket to the event loop");
		return -1;
	}
	return 0;
}

size_t
listen_handshaking(void)
{
	return L.handshaking + L.count;
}
