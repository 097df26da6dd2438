/*
 * lws_broadcast - baseline W of the benchmark suite: the minimal
 * libwebsockets broadcast server (the shape of libwebsockets'
 * minimal-ws-server-ring example).
 *
 *   lws_broadcast [--port N] [--libuv | --libev | --glib]
 *
 * Listens on 127.0.0.1:PORT (default 0 = any free port; the port is printed
 * on stdout as "port N" once listening). Every text frame any client sends
 * is appended to one shared ring and written to every connected client,
 * including the sender: each writeable callback writes the frames pending
 * for that client until the socket is choked (lws_send_pipe_choked), as
 * parley-bridge does, rather than the example's one frame. The event
 * loop is libwebsockets' default poll() loop unless an option picks the
 * one the bridge uses ([bridge] event_loop). SIGINT/SIGTERM stop it.
 *
 * The only addition to the example: a new connection is first sent one
 * {"type":"auth_response","success":true} frame, the signal the bench's
 * WebSocket client (ws_load.c) waits for before it counts a connection as
 * up, as it does against parley-bridge. It is written before any
 * broadcast and is not part of what is measured.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#define RING_DEPTH 4096

struct bmsg {
	void *payload; /* LWS_PRE bytes of headroom, then the frame */
	size_t len;
};

struct bconn {
	struct bconn *next;
	struct lws *wsi;
	uint32_t tail;
	int greeted;
};

static const char greeting[] = "{\"type\":\"auth_response\",\"success\":true}";

struct bvhost {
	struct bconn *conns;
	struct lws_ring *ring;
};

static volatile sig_atomic_t interrupted;
static struct lws_context *context;

static void
on_signal(int sig)
{
	interrupted = 1;
	if (context)
		lws_cancel_service(context);
}

static void
bmsg_destroy(void *m)
{
	struct bmsg *msg = m;

	free(msg->payload);
	msg->payload = NULL;
	msg->len = 0;
}

static int
callback_broadcast(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
	struct bconn *pc = user;
	struct bvhost *vh =
	    lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
	const struct bmsg *pm;
	struct bmsg m;
	int n;

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		vh = lws_protocol_vh_priv_zalloc(
		    lws_get_vhost(wsi), lws_get_protocol(wsi), sizeof(*vh));
		vh->ring = lws_ring_create(sizeof(struct bmsg), RING_DEPTH,
		                           bmsg_destroy);
		return vh->ring ? 0 : 1;
	case LWS_CALLBACK_PROTOCOL_DESTROY:
		if (vh)
			lws_ring_destroy(vh->ring);
		break;
	case LWS_CALLBACK_ESTABLISHED:
		lws_ll_fwd_insert(pc, next, vh->conns);
		pc->tail = lws_ring_get_oldest_tail(vh->ring);
		pc->wsi = wsi;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLOSED:
		lws_ll_fwd_remove(struct bconn, next, pc, vh->conns);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!pc->greeted) {
			unsigned char g[LWS_PRE + sizeof(greeting)];

			memcpy(g + LWS_PRE, greeting, sizeof(greeting) - 1);
			if (lws_write(wsi, g + LWS_PRE, sizeof(greeting) - 1,
			              LWS_WRITE_TEXT) <
			    (int)sizeof(greeting) - 1)
				return -1;
			pc->greeted = 1;
			if (lws_ring_get_element(vh->ring, &pc->tail))
				lws_callback_on_writable(wsi);
			break;
		}
		/* Everything pending while the socket takes it (the bridge's
		 * way too): the example's one write per callback costs a
		 * poll/epoll round per frame and would be the weaker yardstick.
		 */
		while ((pm = lws_ring_get_element(vh->ring, &pc->tail))) {
			n = lws_write(wsi,
			              (unsigned char *)pm->payload + LWS_PRE,
			              pm->len, LWS_WRITE_TEXT);
			if (n < (int)pm->len)
				return -1;
			lws_ring_consume_and_update_oldest_tail(
			    vh->ring, struct bconn, &pc->tail, 1, vh->conns,
			    tail, next);
			if (lws_send_pipe_choked(wsi))
				break;
		}
		if (lws_ring_get_element(vh->ring, &pc->tail))
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (!lws_ring_get_count_free_elements(vh->ring)) {
			lwsl_user("ring full: dropping a frame\n");
			break;
		}
		m.len = len;
		m.payload = malloc(LWS_PRE + len);
		if (!m.payload)
			return -1;
		memcpy((char *)m.payload + LWS_PRE, in, len);
		if (!lws_ring_insert(vh->ring, &m, 1)) {
			bmsg_destroy(&m);
			break;
		}
		lws_start_foreach_llp(struct bconn **, ppc, vh->conns)
		{
			lws_callback_on_writable((*ppc)->wsi);
		}
		lws_end_foreach_llp(ppc, next);
		break;
	default:
		break;
	}
	return 0;
}

/* The broadcast protocol comes first so that clients which name no
 * subprotocol are bound to it. */
static const struct lws_protocols protocols[] = {
    {"broadcast", callback_broadcast, sizeof(struct bconn), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	int port = 0;

	memset(&info, 0, sizeof(info));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--libuv") == 0)
			info.options |= LWS_SERVER_OPTION_LIBUV;
		else if (strcmp(argv[i], "--libev") == 0)
			info.options |= LWS_SERVER_OPTION_LIBEV;
		else if (strcmp(argv[i], "--glib") == 0)
			info.options |= LWS_SERVER_OPTION_GLIB;
		else {
			fprintf(stderr, "usage: lws_broadcast [--port N] "
			                "[--libuv | --libev | --glib]\n");
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lws_set_log_level(LLL_ERR | LLL_WARN | LLL_USER, NULL);
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	context = lws_create_context(&info);
	if (!context) {
		fprintf(stderr, "lws_broadcast: lws_create_context failed\n");
		return 1;
	}
	vh = lws_create_vhost(context, &info);
	if (!vh) {
		fprintf(stderr, "lws_broadcast: cannot listen on port %d\n",
		        port);
		lws_context_destroy(context);
		return 1;
	}
	printf("port %d\n", lws_get_vhost_listen_port(vh));
	fflush(stdout);
	while (!interrupted && lws_service(context, 0) >= 0)
		;
	lws_context_destroy(context);
	return 0;
}
