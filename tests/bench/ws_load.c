/*
 * ws_load - WebSocket load generator for parley-bridge (raw sockets, epoll,
 * several processes so no process meets the per-process open-files limit).
 *
 *   ws_load --url ws://HOST:PORT/ws --tokens FILE --conns N [--procs P]
 *           [--src 127.0.0.2,127.0.0.3,...] [--mode idle|fanout]
 *           [--hold SECONDS] [--storm] [--reconnect] [--expect K]
 *           [--timeout S]
 *
 * FILE holds "USER_ID TOKEN" lines (ws_mktokens output; a "GROUP" line is
 * skipped); connection i uses token i. Each connection authenticates with
 * ?token= and answers server pings.
 *
 * --mode idle (default): connect all, print how long it took until every
 * connection had its auth_response, hold them --hold seconds; with
 * --storm, then close every socket at once and reconnect all with
 * ?since=<last seq seen>, printing the time until each one got
 * {"type":"resumed"} (or resync_required), then hold again. With
 * --reconnect, clients whose connection the server closes (a bridge
 * restart) reconnect the same way, and the time from the first close until
 * every one resumed is printed. Failed attempts retry with backoff and
 * jitter (100 ms doubling to 2 s), as real clients do.
 *
 * --mode fanout: connect all, print "ready", then count event frames (those
 * with a "seq") until every connection has --expect of them; print the
 * total and the first and last arrival times: frames/s = total /
 * (last - first).
 *
 * Output lines are "key=value ..." for scripts (tests/bench/ws_bench.sh).
 * Source addresses (--src) spread the clients over 127.0.0.x when one
 * address would run out of ephemeral ports.
 *
 * Build: make -f tests/bench/ws_Makefile
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

enum { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct client {
	int fd;
	int state;
	int idx;
	int authed;
	int resumed;
	long long last_seq;
	long events;
	int64_t retry_at;  /* reconnect at (0: not scheduled) */
	int backoff_ms;
	size_t rlen;
	unsigned char rbuf[8192];
};

static struct {
	char host[64];
	int port;
	char path[128];
	char **tokens;
	long ntokens;
	long conns;
	int procs;
	char **src;
	int nsrc;
	const char *mode;
	int hold;
	int storm;
	long expect;
	int timeout;
	int reconnect;
} opt = { "127.0.0.1", 0, "/ws", NULL, 0, 0, 1, NULL, 0, "idle", 5, 0, 1,
	60, 0 };

/* While set, a closed client reconnects (with backoff) instead of counting
 * as lost: storms and server restarts. */
static int retrying;

static volatile sig_atomic_t storm_now;

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
	perror(what);
	exit(1);
}

static void
load_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	long cap = 1024;

	if (!f)
		die(path);
	opt.tokens = malloc(cap * sizeof(char *));
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		if (!sp || strncmp(line, "GROUP ", 6) == 0)
			continue;
		sp++;
		sp[strcspn(sp, "\r\n")] = '\0';
		if (opt.ntokens == cap)
			opt.tokens = realloc(opt.tokens, (cap *= 2) * sizeof(char *));
		opt.tokens[opt.ntokens++] = strdup(sp);
	}
	fclose(f);
}

static int
start_connect(struct client *c, int ep, long long since)
{
	struct sockaddr_in sa, src;
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.nsrc) {
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		inet_pton(AF_INET, opt.src[c->idx % opt.nsrc], &src.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0)
			return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt.port);
	inet_pton(AF_INET, opt.host, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    errno != EINPROGRESS)
		return -1;
	c->state = C_CONNECTING;
	c->rlen = 0;
	c->authed = c->resumed = 0;
	c->last_seq = since;
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
send_handshake(struct client *c, int ep)
{
	char req[4096];
	char since[48] = "";
	struct epoll_event ev;
	int n;

	if (c->last_seq >= 0)
		snprintf(since, sizeof(since), "&since=%lld", c->last_seq);
	n = snprintf(req, sizeof(req), "GET %s?token=%s%s HTTP/1.1\r\n"
	    "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", opt.path,
	    opt.tokens[c->idx % opt.ntokens], since, opt.host, opt.port);
	if (write(c->fd, req, (size_t)n) != n) {
		c->state = C_CLOSED;
		return;
	}
	c->state = C_HANDSHAKE;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A masked client frame (pong or close). */
static void
send_frame(struct client *c, int opcode, const unsigned char *p, size_t n)
{
	unsigned char buf[256];
	static const unsigned char mask[4] = { 1, 2, 3, 4 };

	if (n > 125)
		n = 125;
	buf[0] = (unsigned char)(0x80 | opcode);
	buf[1] = (unsigned char)(0x80 | n);
	memcpy(buf + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		buf[6 + i] = p[i] ^ mask[i & 3];
	if (write(c->fd, buf, 6 + n) < 0)
		c->state = C_CLOSED;
}

struct stats {
	long authed, resumed, events, closed;
	int64_t first, last;
};

static void
on_text(struct client *c, const char *p, size_t n, struct stats *st)
{
	const char *s;

	if (n > 30 && memcmp(p, "{\"type\":\"auth_response\"", 23) == 0) {
		if (memmem(p, n, "\"success\"", 9) && !c->authed) {
			c->authed = 1;
			st->authed++;
			/* the stream position at connect: resume from there */
			if ((s = memmem(p, n, "\"seq\":", 6)) &&
			    strtoll(s + 6, NULL, 10) > c->last_seq)
				c->last_seq = strtoll(s + 6, NULL, 10);
		}
		return;
	}
	if (memmem(p, n, "\"type\":\"resumed\"", 16) ||
	    memmem(p, n, "\"type\":\"resync_required\"", 24)) {
		if (!c->resumed) {
			c->resumed = 1;
			st->resumed++;
		}
		return;
	}
	if ((s = memmem(p, n, "\"seq\":", 6))) {
		long long seq = strtoll(s + 6, NULL, 10);
		int64_t t = now_ns();

		if (seq > c->last_seq)
			c->last_seq = seq;
		c->events++;
		st->events++;
		if (!st->first)
			st->first = t;
		st->last = t;
	}
}

static void
close_client(struct client *c, int ep, struct stats *st)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	if (c->state != C_CLOSED) {
		if (retrying) {
			/* like a real client: back off with jitter */
			c->retry_at = now_ns() + (int64_t)(c->backoff_ms +
			    random() % (c->backoff_ms + 100)) * 1000000;
			c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
			if (c->backoff_ms > 2000)
				c->backoff_ms = 2000;
		} else {
			st->closed++;
		}
	}
	c->state = C_CLOSED;
}

static void
on_readable(struct client *c, int ep, struct stats *st)
{
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		size_t off = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			close_client(c, ep, st);
			return;
		}
		if (n < 0)
			return;
		c->rlen += (size_t)n;
		if (c->state == C_HANDSHAKE) {
			unsigned char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);

			if (!e)
				continue;
			if (memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
				close_client(c, ep, st);
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
				close_client(c, ep, st);
				return;
			}
			if (c->rlen - off < hl + len)
				break;
			if (op == 0x1)
				on_text(c, (char *)f + hl, len, st);
			else if (op == 0x9)
				send_frame(c, 0xA, f + hl, len);
			else if (op == 0x8) {
				close_client(c, ep, st);
				return;
			}
			off += hl + len;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void
on_storm(int sig)
{
	storm_now = 1;
}

/* Runs clients [lo, hi) and reports on out. */
static void
child(long lo, long hi, FILE *out)
{
	long n = hi - lo;
	struct client *cl = calloc((size_t)n, sizeof(*cl));
	struct epoll_event evs[512];
	struct stats st = { 0 };
	int ep = epoll_create1(0);
	int64_t t0 = now_ns(), deadline, storm_t0 = 0, next_scan = 0;
	int phase = 0; /* 0 connecting, 1 holding/fanout, 2 reconnecting */

	signal(SIGUSR1, on_storm);
	srandom((unsigned)getpid());
	for (long i = 0; i < n; i++) {
		cl[i].idx = (int)(lo + i);
		cl[i].fd = -1;
		if (start_connect(&cl[i], ep, -1) == -1)
			cl[i].state = C_CLOSED;
	}
	deadline = t0 + (int64_t)opt.timeout * 1000000000;
	for (;;) {
		int k = epoll_wait(ep, evs, 512, 10);
		int64_t t = now_ns();

		for (int i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->state == C_CONNECTING) {
				if (evs[i].events & (EPOLLERR | EPOLLHUP))
					close_client(c, ep, &st);
				else
					send_handshake(c, ep);
				continue;
			}
			on_readable(c, ep, &st);
		}
		if (phase == 0 && st.authed + st.closed >= n) {
			fprintf(out, "phase=connected n=%ld closed=%ld t=%.3f\n",
			    st.authed, st.closed, (double)(t - t0) / 1e9);
			fflush(out);
			phase = 1;
			retrying = opt.reconnect;
			deadline = t + (int64_t)(strcmp(opt.mode, "fanout") == 0 ?
			    opt.timeout : opt.storm || opt.reconnect ?
			    opt.hold + opt.timeout : opt.hold) * 1000000000;
		}
		if (phase == 1 && strcmp(opt.mode, "fanout") == 0 &&
		    st.events >= opt.expect * st.authed)
			break;
		if (phase == 1 && storm_now) {
			/* the client side drops everything at once */
			storm_now = 0;
			retrying = 1;
			for (long i = 0; i < n; i++)
				close_client(&cl[i], ep, &st);
			for (long i = 0; i < n; i++) {
				cl[i].retry_at = t;
				cl[i].backoff_ms = 0;
			}
		}
		if (phase == 1 && retrying && !storm_t0) {
			/* a storm began (ours, or the server went away) */
			for (long i = 0; i < n && !storm_t0; i++)
				if (cl[i].state == C_CLOSED)
					storm_t0 = t;
			if (storm_t0) {
				phase = 2;
				st.resumed = 0;
				for (long i = 0; i < n; i++)
					cl[i].resumed = 0;
				deadline = t + (int64_t)opt.timeout * 1000000000;
			}
		}
		if (retrying && t >= next_scan) {
			next_scan = t + 5000000;
			for (long i = 0; i < n; i++) {
				struct client *c = &cl[i];

				if (c->state != C_CLOSED || !c->retry_at ||
				    t < c->retry_at)
					continue;
				c->retry_at = 0;
				if (start_connect(c, ep, c->last_seq) == -1)
					close_client(c, ep, &st);
			}
		}
		if (phase == 2 && st.resumed >= n) {
			fprintf(out, "phase=resumed n=%ld closed=%ld t=%.3f\n",
			    st.resumed, st.closed, (double)(t - storm_t0) / 1e9);
			fflush(out);
			phase = 1;
			retrying = 0;
			opt.storm = opt.reconnect = 0;
			deadline = t + 2 * (int64_t)1000000000;
		}
		if (t > deadline) {
			if (phase == 0 || phase == 2)
				fprintf(out, "phase=timeout authed=%ld resumed=%ld "
				    "closed=%ld\n", st.authed, st.resumed, st.closed);
			break;
		}
	}
	fprintf(out, "phase=done events=%ld first=%lld last=%lld authed=%ld "
	    "closed=%ld\n", st.events, (long long)st.first, (long long)st.last,
	    st.authed, st.closed);
	fflush(out);
	exit(0);
}

static void
split_src(char *s)
{
	opt.src = calloc(256, sizeof(char *));
	for (char *p = strtok(s, ","); p && opt.nsrc < 256; p = strtok(NULL, ","))
		opt.src[opt.nsrc++] = p;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, NULL, 'u' }, { "tokens", 1, NULL, 't' },
		{ "conns", 1, NULL, 'n' }, { "procs", 1, NULL, 'p' },
		{ "src", 1, NULL, 's' }, { "mode", 1, NULL, 'm' },
		{ "hold", 1, NULL, 'h' }, { "storm", 0, NULL, 'S' },
		{ "expect", 1, NULL, 'e' }, { "timeout", 1, NULL, 'T' },
		{ "reconnect", 0, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit rl;
	pid_t *pids;
	int c, fds[2];
	FILE *in;
	char line[512];
	int64_t first = 0, last = 0;
	long events = 0, done = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (sscanf(optarg, "ws://%63[^:]:%d%127s", opt.host,
			    &opt.port, opt.path) < 2)
				return fprintf(stderr, "bad --url\n"), 2;
			break;
		case 't': load_tokens(optarg); break;
		case 'n': opt.conns = strtol(optarg, NULL, 10); break;
		case 'p': opt.procs = (int)strtol(optarg, NULL, 10); break;
		case 's': split_src(optarg); break;
		case 'm': opt.mode = optarg; break;
		case 'h': opt.hold = (int)strtol(optarg, NULL, 10); break;
		case 'S': opt.storm = 1; break;
		case 'e': opt.expect = strtol(optarg, NULL, 10); break;
		case 'T': opt.timeout = (int)strtol(optarg, NULL, 10); break;
		case 'R': opt.reconnect = 1; break;
		default: return 2;
		}
	}
	if (!opt.port || !opt.ntokens || opt.conns <= 0 || opt.procs < 1) {
		fprintf(stderr, "usage: ws_load --url ws://HOST:PORT/ws --tokens "
		    "FILE --conns N [--procs P] [--src IP,IP] [--mode idle|"
		    "fanout] [--hold S] [--storm] [--reconnect] [--expect K] "
		    "[--timeout S]\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe(fds) != 0)
		die("pipe");
	pids = calloc((size_t)opt.procs, sizeof(*pids));
	for (int i = 0; i < opt.procs; i++) {
		long a = opt.conns * i / opt.procs, b = opt.conns * (i + 1) / opt.procs;

		if ((pids[i] = fork()) == 0) {
			close(fds[0]);
			child(a, b, fdopen(fds[1], "w"));
		}
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	{
		long connected = 0, resumed = 0, nconn = 0, nres = 0;
		double tconn = 0, tres = 0;

		while (fgets(line, sizeof(line), in)) {
			long n, ev;
			double t;
			long long f, l;

			if (sscanf(line, "phase=connected n=%ld closed=%*[0-9] t=%lf",
			    &n, &t) == 2) {
				connected += n;
				if (t > tconn)
					tconn = t;
				if (++nconn == opt.procs) {
					printf("connected=%ld seconds=%.3f\n",
					    connected, tconn);
					if (strcmp(opt.mode, "fanout") == 0)
						printf("ready\n");
					fflush(stdout);
					if (opt.storm) {
						sleep((unsigned)opt.hold);
						for (int i = 0; i < opt.procs; i++)
							kill(pids[i], SIGUSR1);
					}
				}
			} else if (sscanf(line, "phase=resumed n=%ld closed=%*[0-9] "
			    "t=%lf", &n, &t) == 2) {
				resumed += n;
				if (t > tres)
					tres = t;
				if (++nres == opt.procs) {
					printf("resumed=%ld storm_seconds=%.3f\n",
					    resumed, tres);
					fflush(stdout);
				}
			} else if (sscanf(line, "phase=done events=%ld first=%lld "
			    "last=%lld", &ev, &f, &l) == 3) {
				events += ev;
				if (f && (!first || f < first))
					first = f;
				if (l > last)
					last = l;
				done++;
			} else {
				fputs(line, stdout);
				fflush(stdout);
			}
		}
	}
	for (int i = 0; i < opt.procs; i++)
		waitpid(pids[i], NULL, 0);
	printf("events=%ld", events);
	if (events > 1 && last > first)
		printf(" spread_seconds=%.6f frames_per_second=%.0f",
		    (double)(last - first) / 1e9,
		    (double)events / ((double)(last - first) / 1e9));
	printf("\n");
	return 0;
}
