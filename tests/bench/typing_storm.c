/*
 * typing_storm - the typing-storm load of the benchmark suite: many
 * authenticated WebSocket clients, a share of them typing in their room.
 *
 *   typing_storm --port PORT --clients FILE [--procs N] [--src IP,IP...]
 *                [--seconds S] [--every MS] [--timeout S]
 *
 * FILE has one line per client: "USER_ID TOKEN ROOM_ID TYPIST" (TYPIST is
 * 1 or 0). Every client connects to ws://127.0.0.1:PORT/ws?token=TOKEN
 * (raw sockets and epoll, clients split over N processes because one
 * process cannot hold 20,000 sockets here; --src spreads them over
 * 127.0.0.x source addresses) and waits for its auth_response. When all
 * are up it prints "connected=N seconds=T" and "ready", then waits for a
 * line on stdin, so the caller can measure the server over exactly the
 * storm. Then for S seconds (default 10) every typist sends
 * {"type":"typing:start","data":{"groupId":ROOM}} every MS milliseconds
 * (default 1000, random phase), then one typing:stop, and everyone keeps
 * reading for the server's auto-stop timeout plus a margin.
 *
 * Every client checks each typing frame it receives: one about another
 * room, or about its own typing, is "bad" (delivered beyond the room's
 * online members). Prints "sent=N received=N bad=N presence=N closed=N".
 * Answers pings. Exits 1 if clients could not connect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UUID_LEN 36

enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct client {
	int fd;
	enum cstate state;
	int authed;
	int typist;
	char uid[UUID_LEN + 1];
	char room[UUID_LEN + 1];
	const char *token;
	int64_t next_ns;
	size_t rlen;
	unsigned char rbuf[8192];
};

struct stats {
	long authed, closed, sent, received, bad, presence;
};

static int port, nsrc, every_ms = 1000, seconds = 10, timeout_s = 60;
static char *src[64];
static struct client *clients;
static long nclients;
static volatile sig_atomic_t go;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "typing_storm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
load_clients(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096], uid[64], room[64], tok[3072];
	long cap = 1024;
	int typist;

	if (!f)
		die(path);
	clients = calloc((size_t)cap, sizeof(*clients));
	while (fgets(line, sizeof(line), f)) {
		struct client *c;

		if (sscanf(line, "%63s %3071s %63s %d", uid, tok, room,
		           &typist) != 4 ||
		    strlen(uid) != UUID_LEN || strlen(room) != UUID_LEN)
			continue;
		if (nclients == cap) {
			clients = realloc(clients, sizeof(*clients) *
			                               (size_t)(cap *= 2));
			if (!clients)
				die("realloc");
		}
		c = &clients[nclients++];
		memset(c, 0, sizeof(*c));
		memcpy(c->uid, uid, UUID_LEN + 1);
		memcpy(c->room, room, UUID_LEN + 1);
		c->token = strdup(tok);
		c->typist = typist != 0;
		c->fd = -1;
	}
	fclose(f);
}

static void
client_close(struct client *c, int ep, struct stats *st)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->state != C_CLOSED)
		st->closed++;
	c->state = C_CLOSED;
}

static void
client_connect(struct client *c, long idx, int ep)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nsrc) {
		struct sockaddr_in from = {.sin_family = AF_INET};

		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		           sizeof(one));
		inet_pton(AF_INET, src[idx % nsrc], &from.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&from, sizeof(from)) != 0)
			die("bind");
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    errno != EINPROGRESS)
		die("connect");
	c->state = C_CONNECTING;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("epoll_ctl");
}

static void
client_handshake(struct client *c, int ep, struct stats *st)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	char req[4096];
	int n;

	n = snprintf(req, sizeof(req),
	             "GET /ws?token=%s HTTP/1.1\r\n"
	             "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: "
	             "Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	             "Sec-WebSocket-Version: 13\r\n\r\n",
	             c->token, port);
	if (n >= (int)sizeof(req) || write(c->fd, req, (size_t)n) != n) {
		client_close(c, ep, st);
		return;
	}
	c->state = C_HANDSHAKE;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A masked client frame; payloads here are short (< 126 bytes). */
static void
send_frame(struct client *c, int opcode, const void *p, size_t n)
{
	static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
	unsigned char buf[6 + 125];
	const unsigned char *in = p;

	if (n > 125)
		n = 125;
	buf[0] = (unsigned char)(0x80 | opcode);
	buf[1] = (unsigned char)(0x80 | n);
	memcpy(buf + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		buf[6 + i] = in[i] ^ mask[i & 3];
	if (write(c->fd, buf, 6 + n) != (ssize_t)(6 + n))
		c->state = C_CLOSED;
}

static void
send_typing(struct client *c, int start, struct stats *st)
{
	char f[128];
	int n =
	    snprintf(f, sizeof(f),
	             "{\"type\":\"typing:%s\",\"data\":{\"groupId\":\"%s\"}}",
	             start ? "start" : "stop", c->room);

	send_frame(c, 0x1, f, (size_t)n);
	st->sent++;
}

static int
field_is(const char *p, size_t n, const char *name, const char *want)
{
	char key[64];
	const char *v;
	int kl = snprintf(key, sizeof(key), "\"%s\":\"", name);

	v = memmem(p, n, key, (size_t)kl);
	if (!v || (size_t)(v + kl + UUID_LEN - p) > n)
		return -1;
	return memcmp(v + kl, want, UUID_LEN) == 0;
}

static void
on_text(struct client *c, const char *p, size_t n, struct stats *st)
{
	if (!c->authed && n > 23 &&
	    memcmp(p, "{\"type\":\"auth_response\"", 23) == 0) {
		if (memmem(p, n, "\"success\"", 9)) {
			c->authed = 1;
			st->authed++;
		}
		return;
	}
	if (n > 20 && memcmp(p, "{\"type\":\"typing:", 16) == 0) {
		st->received++;
		if (field_is(p, n, "conversationId", c->room) != 1 ||
		    field_is(p, n, "userId", c->uid) != 0)
			st->bad++;
		return;
	}
	if (memmem(p, n, "\"type\":\"user:o", 14))
		st->presence++;
}

static void
client_read(struct client *c, int ep, struct stats *st)
{
	for (;;) {
		ssize_t n =
		    read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		size_t off = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c, ep, st);
			return;
		}
		if (n < 0)
			return;
		c->rlen += (size_t)n;
		if (c->state == C_HANDSHAKE) {
			unsigned char *e =
			    memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);

			if (!e)
				continue;
			if (memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
				client_close(c, ep, st);
				return;
			}
			off = (size_t)(e + 4 - c->rbuf);
			c->state = C_OPEN;
		}
		while (c->rlen - off >= 2) {
			unsigned char *f = c->rbuf + off;
			size_t hl = 2, len = f[1] & 0x7f;
			int op = f[0] & 0x0f;

			if (len == 126) {
				if (c->rlen - off < 4)
					break;
				len = (size_t)f[2] << 8 | f[3];
				hl = 4;
			} else if (len == 127) {
				if (c->rlen - off < 10)
					break;
				len = 0;
				for (int i = 0; i < 8; i++)
					len = len << 8 | f[2 + i];
				hl = 10;
			}
			if (hl + len > sizeof(c->rbuf)) {
				client_close(c, ep, st);
				return;
			}
			if (c->rlen - off < hl + len)
				break;
			if (op == 0x1)
				on_text(c, (const char *)f + hl, len, st);
			else if (op == 0x9)
				send_frame(c, 0xA, f + hl, len);
			else if (op == 0x8) {
				client_close(c, ep, st);
				return;
			}
			off += hl + len;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void
on_go(int sig)
{
	go = 1;
}

/* Runs clients [lo, hi); reports on out. */
static void
child(long lo, long hi, FILE *out)
{
	struct epoll_event evs[512];
	struct stats st = {0};
	int64_t t0 = now_ns(), deadline, storm_end = 0, read_end = 0;
	long n = hi - lo;
	int phase = 0; /* 0 connecting, 1 waiting for go, 2 storm, 3 draining */
	int ep = epoll_create1(0);

	signal(SIGUSR1, on_go);
	srand((unsigned)getpid());
	for (long i = lo; i < hi; i++)
		client_connect(&clients[i], i, ep);
	deadline = t0 + (int64_t)timeout_s * 1000000000;
	for (;;) {
		int k = epoll_wait(ep, evs, 512, phase == 2 ? 5 : 100);
		int64_t t = now_ns();

		for (int i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->state == C_CONNECTING) {
				if (evs[i].events & (EPOLLERR | EPOLLHUP))
					client_close(c, ep, &st);
				else
					client_handshake(c, ep, &st);
				continue;
			}
			if (c->state != C_CLOSED)
				client_read(c, ep, &st);
		}
		if (phase == 0 && st.authed + st.closed >= n) {
			fprintf(out,
			        "phase=connected n=%ld closed=%ld t=%.3f\n",
			        st.authed, st.closed, (double)(t - t0) / 1e9);
			fflush(out);
			phase = 1;
		}
		if (phase == 0 && t > deadline) {
			fprintf(
			    out, "phase=connected n=%ld closed=%ld t=%.3f\n",
			    st.authed, st.closed + n - st.authed - st.closed,
			    (double)(t - t0) / 1e9);
			fflush(out);
			phase = 1;
		}
		if (phase == 1 && go) {
			phase = 2;
			st.received = st.bad = st.presence = 0;
			storm_end = t + (int64_t)seconds * 1000000000;
			for (long i = lo; i < hi; i++)
				clients[i].next_ns =
				    t + (int64_t)(rand() % every_ms) * 1000000;
		}
		if (phase == 2) {
			int stop = t >= storm_end;

			for (long i = lo; i < hi; i++) {
				struct client *c = &clients[i];

				if (!c->typist || c->state != C_OPEN ||
				    !c->authed)
					continue;
				if (stop)
					send_typing(c, 0, &st);
				else if (t >= c->next_ns) {
					send_typing(c, 1, &st);
					c->next_ns +=
					    (int64_t)every_ms * 1000000;
				}
			}
			if (stop) {
				phase = 3;
				read_end = t + 7000000000LL;
			}
		}
		if (phase == 3 && t >= read_end)
			break;
	}
	fprintf(out,
	        "phase=done sent=%ld received=%ld bad=%ld presence=%ld "
	        "closed=%ld\n",
	        st.sent, st.received, st.bad, st.presence, st.closed);
	fflush(out);
	exit(0);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"port", 1, NULL, 'P'},    {"clients", 1, NULL, 'f'},
	    {"procs", 1, NULL, 'p'},   {"src", 1, NULL, 's'},
	    {"seconds", 1, NULL, 'S'}, {"every", 1, NULL, 'e'},
	    {"timeout", 1, NULL, 'T'}, {NULL, 0, NULL, 0},
	};
	long connected = 0, closed = 0, sent = 0, received = 0, bad = 0,
	     presence = 0, nconn = 0, dropped = 0;
	double tconn = 0;
	int procs = 2, opt, fds[2];
	pid_t *pids;
	struct rlimit rl;
	char line[512];
	FILE *in;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'P':
			port = (int)strtol(optarg, NULL, 10);
			break;
		case 'f':
			load_clients(optarg);
			break;
		case 'p':
			procs = (int)strtol(optarg, NULL, 10);
			break;
		case 's':
			for (char *p = strtok(optarg, ","); p && nsrc < 64;
			     p = strtok(NULL, ","))
				src[nsrc++] = p;
			break;
		case 'S':
			seconds = (int)strtol(optarg, NULL, 10);
			break;
		case 'e':
			every_ms = (int)strtol(optarg, NULL, 10);
			break;
		case 'T':
			timeout_s = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!port || !nclients || procs < 1 || every_ms < 1 || seconds < 1) {
		fprintf(stderr,
		        "usage: typing_storm --port PORT --clients FILE "
		        "[--procs N] [--src IP,...] [--seconds S] [--every MS] "
		        "[--timeout S]\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(fds) != 0)
		die("pipe");
	pids = calloc((size_t)procs, sizeof(*pids));
	for (int i = 0; i < procs; i++) {
		long a = nclients * i / procs, b = nclients * (i + 1) / procs;

		if ((pids[i] = fork()) == 0) {
			close(fds[0]);
			child(a, b, fdopen(fds[1], "w"));
		}
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (fgets(line, sizeof(line), in)) {
		long n, c, s, r, b, p;
		double t;

		if (sscanf(line, "phase=connected n=%ld closed=%ld t=%lf", &n,
		           &c, &t) == 3) {
			connected += n;
			closed += c;
			if (t > tconn)
				tconn = t;
			if (++nconn < procs)
				continue;
			printf("connected=%ld closed=%ld seconds=%.3f\nready\n",
			       connected, closed, tconn);
			fflush(stdout);
			if (connected < nclients) {
				for (int i = 0; i < procs; i++)
					kill(pids[i], SIGKILL);
				break;
			}
			if (!fgets(line, sizeof(line), stdin))
				break;
			for (int i = 0; i < procs; i++)
				kill(pids[i], SIGUSR1);
		} else if (sscanf(line,
		                  "phase=done sent=%ld received=%ld bad=%ld "
		                  "presence=%ld closed=%ld",
		                  &s, &r, &b, &p, &c) == 5) {
			sent += s;
			received += r;
			bad += b;
			presence += p;
			dropped += c;
		}
	}
	for (int i = 0; i < procs; i++)
		waitpid(pids[i], NULL, 0);
	printf("sent=%ld received=%ld bad=%ld presence=%ld closed=%ld\n", sent,
	       received, bad, presence, dropped);
	return connected < nclients;
}
