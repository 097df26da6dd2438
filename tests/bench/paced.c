/*
 * paced - open-loop HTTP/1.1 load generator of the benchmark suite (what
 * wrk2 does; wrk2 is not packaged in Debian).
 *
 *   paced -a HOST:PORT -r RATE -d SECONDS [-c CONNS] [-w WARMUP_SECONDS]
 *         [-X METHOD] [-p PATH] [-H 'Name: value']... [-b BODY]
 *         [-M MOD] [-T TOKEN_FILE] [-m MEMBER_TOKENS -W WS_PATH]
 *
 * Request i is due at start + i / RATE, whatever happened before: the
 * schedule is fixed. It goes out on the first idle keep-alive connection
 * (CONNS of them, default 64) at or after its due time, and its latency is
 * measured from the due time, not from when it was sent, so a stalled
 * server is charged for every request that queued behind the stall
 * (no coordinated omission). Requests due in the first WARMUP_SECONDS are
 * sent but not recorded.
 *
 * BODY may contain {n}: replaced by a token unique to the request (for
 * clientId fields), and {i}: replaced by the request number modulo MOD (to
 * rotate through seeded user names). TOKEN_FILE holds one bearer token per
 * line; request i carries "Authorization: Bearer" token i mod count.
 *
 * End to end (-m, -W): one WebSocket per token in MEMBER_TOKENS is opened
 * to WS_PATH?token=... on the same HOST:PORT and waits for its
 * auth_response before the clock starts. BODY's {seq} becomes the request
 * number; every text frame of type message:received whose content holds
 * "e2e#N#" is request N arriving at that member, and its latency is
 * counted from request N's due time. The run then waits (up to 3 s) for
 * the frames still in flight, and the output adds ws_members, frames,
 * frames_expected and frame_p50_ms ... frame_max_ms.
 *
 * Prints one line of JSON: scheduled, completed, ok (2xx), non2xx, errors
 * (connection failures and requests unanswered 5 s after the end),
 * ok_after_warmup (2xx among the requests due after the warm-up),
 * achieved_per_s (answers per second after the warm-up) and the latency
 * percentiles p50/p90/p99/p999/max in ms of the answers after the warm-up,
 * 2xx or not, and "status": answers per HTTP status.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 16
#define INBUF 65536

enum cstate { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
	int fd;
	enum cstate state;
	char *out;
	size_t outlen, outoff;
	char in[INBUF];
	size_t inlen;
	int64_t due_ns;
	long reqno;
};

static struct sockaddr_in addr;
static const char *method = "GET", *path = "/", *body;
static const char *headers[MAX_HEADERS];
static int nheaders;
static char **tokens;
static long ntokens;
static char hostport[64];

static struct conn *conns;
static long nconns;
static int ep;
static long *idle;
static long nidle;

static uint32_t *lat_us;
static long nlat;
static long warm_reqs;
static long completed, ok, non2xx, errors, reconnects;
static long modulo = 1, ok_rec;
static long by_status[600];
static int64_t t_last;

/* End-to-end mode: the members' WebSockets. */
#define WS_TAG (1ULL << 32)
struct wsc {
	int fd;
	size_t len;
	unsigned char buf[65536];
};
static struct wsc *wss;
static long nws;
static const char *ws_path;
static uint32_t *frame_us;
static long nframes, frames_cap, total_reqs;
static int64_t sched_t0, sched_interval;

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
	fprintf(stderr, "paced: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
arg_double(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "paced: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* The non-empty lines of file (malloc'd); exits if there are none. */
static char **
read_lines(const char *file, long *n)
{
	FILE *f = fopen(file, "r");
	char line[8192], **v = NULL;
	long cap = 0;

	if (!f)
		die(file);
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, sizeof(char *) * (size_t)cap);
			if (!v)
				die("realloc");
		}
		v[(*n)++] = strdup(line);
	}
	fclose(f);
	if (!*n) {
		fprintf(stderr, "paced: no lines in %s\n", file);
		exit(2);
	}
	return v;
}

/* The request bytes for request number n (malloc'd). */
static char *
build_request(long n, size_t *len)
{
	char bodybuf[65536], uniq[64], idx[32];
	size_t blen = 0, cap = 1024;
	char *req;
	int has_ct = 0, off;

	if (body) {
		const char *p = body, *q;

		snprintf(uniq, sizeof(uniq), "%ld-%ld-%ld", (long)getpid(),
		         (long)time(NULL), n);
		while ((q = strstr(p, "{")) != NULL) {
			const char *sub = NULL;
			int skip = 3;

			if (strncmp(q, "{n}", 3) == 0)
				sub = uniq;
			else if (strncmp(q, "{i}", 3) == 0) {
				snprintf(idx, sizeof(idx), "%ld", n % modulo);
				sub = idx;
			} else if (strncmp(q, "{seq}", 5) == 0) {
				snprintf(idx, sizeof(idx), "%ld", n);
				sub = idx;
				skip = 5;
			}
			if (!sub) {
				blen += (size_t)snprintf(
				    bodybuf + blen, sizeof(bodybuf) - blen,
				    "%.*s", (int)(q + 1 - p), p);
				p = q + 1;
				continue;
			}
			blen += (size_t)snprintf(
			    bodybuf + blen, sizeof(bodybuf) - blen, "%.*s%s",
			    (int)(q - p), p, sub);
			p = q + skip;
		}
		blen += (size_t)snprintf(bodybuf + blen, sizeof(bodybuf) - blen,
		                         "%s", p);
		if (blen >= sizeof(bodybuf)) {
			fprintf(stderr, "paced: body too long\n");
			exit(2);
		}
	}
	for (int i = 0; i < nheaders; i++) {
		cap += strlen(headers[i]) + 2;
		if (strncasecmp(headers[i], "content-type:", 13) == 0)
			has_ct = 1;
	}
	if (ntokens)
		cap += strlen(tokens[n % ntokens]) + 32;
	cap += blen + strlen(path) + 64;
	req = malloc(cap);
	if (!req)
		die("malloc");
	off = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path,
	               hostport);
	for (int i = 0; i < nheaders; i++)
		off += snprintf(req + off, cap - (size_t)off, "%s\r\n",
		                headers[i]);
	if (ntokens)
		off += snprintf(req + off, cap - (size_t)off,
		                "Authorization: Bearer %s\r\n",
		                tokens[n % ntokens]);
	if (body) {
		if (!has_ct)
			off += snprintf(req + off, cap - (size_t)off,
			                "Content-Type: application/json\r\n");
		off += snprintf(req + off, cap - (size_t)off,
		                "Content-Length: %zu\r\n", blen);
	}
	off += snprintf(req + off, cap - (size_t)off, "\r\n");
	memcpy(req + off, bodybuf, blen);
	*len = (size_t)off + blen;
	return req;
}

static void
conn_open(long i)
{
	struct conn *c = &conns[i];
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
	                         .data.u64 = (uint64_t)i};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
	    errno != EINPROGRESS)
		die("connect");
	c->state = C_CONNECTING;
	c->inlen = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
}

static void
conn_close(long i)
{
	struct conn *c = &conns[i];

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_DOWN;
}

static void
record(struct conn *c, int status)
{
	int64_t now = now_ns(), lat = now - c->due_ns;

	completed++;
	t_last = now;
	if (status >= 100 && status < 600)
		by_status[status]++;
	if (status >= 200 && status < 300)
		ok++;
	else
		non2xx++;
	if (c->reqno >= warm_reqs) {
		lat_us[nlat++] = (uint32_t)(lat / 1000);
		ok_rec += status >= 200 && status < 300;
	}
}

/* A request failed (connection error): counted, its latency not kept. */
static void
fail_request(long i)
{
	struct conn *c = &conns[i];

	if (c->state == C_BUSY) {
		errors++;
		free(c->out);
		c->out = NULL;
	} else if (c->state == C_IDLE) {
		/* closed while idle (keep-alive timeout): not idle any more */
		for (long k = 0; k < nidle; k++)
			if (idle[k] == i) {
				idle[k] = idle[--nidle];
				break;
			}
	}
	conn_close(i);
	reconnects++;
	conn_open(i);
}

static void
try_write(long i)
{
	struct conn *c = &conns[i];

	while (c->outoff < c->outlen) {
		ssize_t n =
		    write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

		if (n < 0) {
			if (errno == EAGAIN)
				return;
			fail_request(i);
			return;
		}
		c->outoff += (size_t)n;
	}
}

static void
send_request(long i, long reqno, int64_t due)
{
	struct conn *c = &conns[i];

	c->out = build_request(reqno, &c->outlen);
	c->outoff = 0;
	c->due_ns = due;
	c->reqno = reqno;
	c->state = C_BUSY;
	c->inlen = 0;
	try_write(i);
}

/* Length of a complete response at the start of c->in, 0 if incomplete,
 * -1 if unparseable. Sets *status and *close. */
static long
parse_response(struct conn *c, int *status, int *close_after)
{
	char *hend, *p, *line;
	long clen = -1, hlen;
	int chunked = 0;

	c->in[c->inlen] = '\0';
	hend = strstr(c->in, "\r\n\r\n");
	if (!hend)
		return c->inlen >= INBUF - 1 ? -1 : 0;
	hlen = hend + 4 - c->in;
	if (strncmp(c->in, "HTTP/1.", 7) != 0)
		return -1;
	*status = (int)strtol(c->in + 9, NULL, 10);
	*close_after = strncmp(c->in, "HTTP/1.0", 8) == 0;
	for (line = strstr(c->in, "\r\n") + 2; line < hend;
	     line = strstr(line, "\r\n") + 2) {
		if (strncasecmp(line, "content-length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "transfer-encoding:", 18) == 0 &&
		         strstr(line, "chunked") &&
		         strstr(line, "chunked") < strstr(line, "\r\n"))
			chunked = 1;
		else if (strncasecmp(line, "connection:", 11) == 0) {
			for (p = line + 11; *p == ' '; p++)
				;
			if (strncasecmp(p, "close", 5) == 0)
				*close_after = 1;
			else if (strncasecmp(p, "keep-alive", 10) == 0)
				*close_after = 0;
		}
	}
	if (chunked) {
		long pos = hlen;

		for (;;) {
			char *e;
			long sz;

			e = strstr(c->in + pos, "\r\n");
			if (!e)
				return 0;
			sz = strtol(c->in + pos, NULL, 16);
			pos = e + 2 - c->in;
			if (sz == 0) {
				e = strstr(c->in + pos, "\r\n");
				if (!e)
					return 0;
				/* no trailers expected */
				return e + 2 - c->in;
			}
			if (pos + sz + 2 > (long)c->inlen)
				return c->inlen >= INBUF - 1 ? -1 : 0;
			pos += sz + 2;
		}
	}
	if (clen < 0)
		clen = 0;
	if (hlen + clen > INBUF - 1)
		return -1;
	return hlen + clen <= (long)c->inlen ? hlen + clen : 0;
}

static void
on_readable(long i)
{
	struct conn *c = &conns[i];

	for (;;) {
		ssize_t n = read(c->fd, c->in + c->inlen, INBUF - 1 - c->inlen);
		int status = 0, close_after = 0;
		long used;

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			fail_request(i);
			return;
		}
		if (n < 0)
			return;
		c->inlen += (size_t)n;
		if (c->state != C_BUSY)
			continue;
		used = parse_response(c, &status, &close_after);
		if (used == 0)
			continue;
		if (used < 0) {
			fail_request(i);
			return;
		}
		record(c, status);
		free(c->out);
		c->out = NULL;
		memmove(c->in, c->in + used, c->inlen - (size_t)used);
		c->inlen -= (size_t)used;
		if (close_after) {
			conn_close(i);
			reconnects++;
			conn_open(i);
			return;
		}
		c->state = C_IDLE;
		idle[nidle++] = i;
		return;
	}
}

/* A masked client frame (pongs only; payloads < 126 bytes). */
static void
ws_send(struct wsc *w, int opcode, const unsigned char *p, size_t n)
{
	unsigned char buf[6 + 125];

	if (n > 125)
		n = 125;
	buf[0] = (unsigned char)(0x80 | opcode);
	buf[1] = (unsigned char)(0x80 | n);
	memset(buf + 2, 0, 4);
	memcpy(buf + 6, p, n);
	if (write(w->fd, buf, 6 + n) < 0)
		return;
}

/* Opens member i's WebSocket and waits for its auth_response (blocking). */
static void
ws_open(long i, const char *token)
{
	struct wsc *w = &wss[i];
	struct epoll_event ev = {.events = EPOLLIN,
	                         .data.u64 = WS_TAG | (uint64_t)i};
	char req[4096];
	int n, one = 1;

	w->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (w->fd < 0 ||
	    connect(w->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("websocket connect");
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	n = snprintf(req, sizeof(req),
	             "GET %s?token=%s HTTP/1.1\r\nHost: %s\r\n"
	             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	             "Sec-WebSocket-Version: 13\r\n\r\n",
	             ws_path, token, hostport);
	if (n >= (int)sizeof(req) || write(w->fd, req, (size_t)n) != n)
		die("websocket handshake");
	for (;;) {
		ssize_t r =
		    read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);

		if (r <= 0) {
			fprintf(stderr,
			        "paced: websocket %ld closed during the "
			        "handshake\n",
			        i);
			exit(1);
		}
		w->len += (size_t)r;
		w->buf[w->len] = '\0';
		if (memmem(w->buf, w->len, "auth_response", 13)) {
			if (!memmem(w->buf, w->len, "\"success\"", 9)) {
				fprintf(stderr,
				        "paced: websocket %ld: %.300s\n", i,
				        (char *)w->buf);
				exit(1);
			}
			break;
		}
	}
	w->len = 0;
	fcntl(w->fd, F_SETFL, O_NONBLOCK);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		die("epoll_ctl");
}

static void
ws_text(const char *p, size_t n, int64_t t)
{
	const char *s;
	long i;

	if (!memmem(p, n, "\"type\":\"message:received\"", 25) ||
	    !(s = memmem(p, n, "e2e#", 4)))
		return;
	i = strtol(s + 4, NULL, 10);
	if (i >= warm_reqs && i < total_reqs && nframes < frames_cap)
		frame_us[nframes++] =
		    (uint32_t)((t - (sched_t0 + i * sched_interval)) / 1000);
}

static void
ws_readable(long i)
{
	struct wsc *w = &wss[i];
	int64_t t = now_ns();

	for (;;) {
		ssize_t r =
		    read(w->fd, w->buf + w->len, sizeof(w->buf) - w->len);
		size_t off = 0;

		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "paced: websocket %ld closed\n", i);
			epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
			return;
		}
		if (r < 0)
			return;
		w->len += (size_t)r;
		while (w->len - off >= 2) {
			unsigned char *f = w->buf + off;
			size_t hl = 2, len = f[1] & 0x7f;
			int op = f[0] & 0x0f;

			if (len == 126) {
				if (w->len - off < 4)
					break;
				len = (size_t)f[2] << 8 | f[3];
				hl = 4;
			} else if (len == 127) {
				if (w->len - off < 10)
					break;
				len = 0;
				for (int k = 0; k < 8; k++)
					len = len << 8 | f[2 + k];
				hl = 10;
			}
			if (hl + len > sizeof(w->buf)) {
				fprintf(stderr, "paced: frame too large\n");
				exit(1);
			}
			if (w->len - off < hl + len)
				break;
			if (op == 0x1)
				ws_text((const char *)f + hl, len, t);
			else if (op == 0x9)
				ws_send(w, 0xA, f + hl, len);
			off += hl + len;
		}
		memmove(w->buf, w->buf + off, w->len - off);
		w->len -= off;
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of the sorted v[0..n) in ms. */
static double
pct_of(const uint32_t *v, long n, double q)
{
	long k;

	if (!n)
		return 0;
	k = (long)(q * (double)n);
	if (k >= n)
		k = n - 1;
	return v[k] / 1000.0;
}

static double
pct(double q)
{
	return pct_of(lat_us, nlat, q);
}

int
main(int argc, char **argv)
{
	double rate = 0, secs = 0, warm = 0;
	const char *hp = NULL, *members = NULL;
	struct epoll_event evs[256];
	int64_t t0, interval_ns, end_ns, deadline;
	long total, next = 0;
	int opt;

	nconns = 64;
	while ((opt = getopt(argc, argv, "a:r:d:c:w:X:p:H:b:M:T:m:W:")) != -1) {
		switch (opt) {
		case 'a':
			hp = optarg;
			break;
		case 'r':
			rate = arg_double(optarg, 0.001, 10e6);
			break;
		case 'd':
			secs = arg_double(optarg, 0.001, 86400);
			break;
		case 'c':
			nconns = (long)arg_double(optarg, 1, 10000);
			break;
		case 'w':
			warm = arg_double(optarg, 0, 86400);
			break;
		case 'X':
			method = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'H':
			if (nheaders == MAX_HEADERS) {
				fprintf(stderr, "paced: too many -H\n");
				return 2;
			}
			headers[nheaders++] = optarg;
			break;
		case 'b':
			body = optarg;
			break;
		case 'M':
			modulo = (long)arg_double(optarg, 1, 1e9);
			break;
		case 'T':
			tokens = read_lines(optarg, &ntokens);
			break;
		case 'm':
			members = optarg;
			break;
		case 'W':
			ws_path = optarg;
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top of "
			                "tests/bench/paced.c\n");
			return 2;
		}
	}
	if (!hp || rate <= 0 || secs <= 0) {
		fprintf(stderr, "paced: -a, -r and -d are required\n");
		return 2;
	}
	{
		char host[64];
		const char *colon = strrchr(hp, ':');

		if (!colon || (size_t)(colon - hp) >= sizeof(host)) {
			fprintf(stderr, "paced: -a HOST:PORT\n");
			return 2;
		}
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
		addr.sin_family = AF_INET;
		addr.sin_port =
		    htons((uint16_t)arg_double(colon + 1, 1, 65535));
		if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
			fprintf(stderr, "paced: bad address %s\n", host);
			return 2;
		}
		snprintf(hostport, sizeof(hostport), "%s", hp);
	}
	signal(SIGPIPE, SIG_IGN);
	total = (long)((secs + warm) * rate);
	warm_reqs = (long)(warm * rate);
	lat_us = calloc((size_t)total + 1, sizeof(uint32_t));
	conns = calloc((size_t)nconns, sizeof(*conns));
	idle = calloc((size_t)nconns, sizeof(long));
	if (!lat_us || !conns || !idle)
		die("calloc");
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	for (long i = 0; i < nconns; i++)
		conn_open(i);
	/* Let the connections establish before the clock starts. */
	deadline = now_ns() + 5000000000LL;
	while (now_ns() < deadline) {
		long up = 0;
		int n = epoll_wait(ep, evs, 256, 100);

		for (int k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u64];
			struct epoll_event ev = {.events = EPOLLIN,
			                         .data.u64 = evs[k].data.u64};

			if (c->state == C_CONNECTING &&
			    (evs[k].events & EPOLLOUT)) {
				c->state = C_IDLE;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				idle[nidle++] = (long)evs[k].data.u64;
			}
		}
		for (long i = 0; i < nconns; i++)
			up += conns[i].state == C_IDLE;
		if (up == nconns)
			break;
	}
	interval_ns = (int64_t)(1e9 / rate);
	total_reqs = total;
	if (members) {
		char **mt;

		if (!ws_path) {
			fprintf(stderr, "paced: -m needs -W WS_PATH\n");
			return 2;
		}
		mt = read_lines(members, &nws);
		wss = calloc((size_t)nws, sizeof(*wss));
		frames_cap = (total - warm_reqs) * nws;
		frame_us = calloc((size_t)frames_cap + 1, sizeof(uint32_t));
		if (!wss || !frame_us)
			die("calloc");
		for (long i = 0; i < nws; i++)
			ws_open(i, mt[i]);
	}
	t0 = now_ns();
	sched_t0 = t0;
	sched_interval = interval_ns;
	end_ns = t0 + (int64_t)((secs + warm) * 1e9);
	deadline = end_ns + 5000000000LL;
	while (completed + errors < total) {
		int64_t now = now_ns();
		struct timespec to;
		int n;

		if (now > deadline)
			break;
		while (next < total && nidle > 0 &&
		       t0 + next * interval_ns <= now) {
			long i = idle[--nidle];

			send_request(i, next, t0 + next * interval_ns);
			next++;
		}
		if (next < total && nidle > 0) {
			int64_t wait = t0 + next * interval_ns - now_ns();

			if (wait < 0)
				wait = 0;
			to.tv_sec = wait / 1000000000;
			to.tv_nsec = wait % 1000000000;
		} else {
			to.tv_sec = 0;
			to.tv_nsec = 100000000;
		}
		n = epoll_pwait2(ep, evs, 256, &to, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_pwait2");
		for (int k = 0; k < n; k++) {
			long i = (long)evs[k].data.u64;
			struct conn *c;

			if (evs[k].data.u64 & WS_TAG) {
				ws_readable((long)(evs[k].data.u64 & ~WS_TAG));
				continue;
			}
			c = &conns[i];
			if (c->state == C_CONNECTING) {
				struct epoll_event ev = {
				    .events = EPOLLIN, .data.u64 = (uint64_t)i};

				if (evs[k].events & (EPOLLERR | EPOLLHUP)) {
					errors++;
					conn_close(i);
					conn_open(i);
					continue;
				}
				if (evs[k].events & EPOLLOUT) {
					c->state = C_IDLE;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd,
					          &ev);
					idle[nidle++] = i;
				}
				continue;
			}
			if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(i);
			if (c->state == C_BUSY && c->outoff < c->outlen)
				try_write(i);
		}
	}
	errors += total - completed - errors;
	/* Frames still in flight. */
	for (int64_t until = now_ns() + 3000000000LL;
	     nws && nframes < frames_cap && now_ns() < until;) {
		int n = epoll_wait(ep, evs, 256, 50);

		for (int k = 0; k < n; k++)
			if (evs[k].data.u64 & WS_TAG)
				ws_readable((long)(evs[k].data.u64 & ~WS_TAG));
	}
	qsort(lat_us, (size_t)nlat, sizeof(uint32_t), cmp_u32);
	qsort(frame_us, (size_t)nframes, sizeof(uint32_t), cmp_u32);
	printf("{\"rate\":%.1f,\"conns\":%ld,\"seconds\":%.3f,\"warmup\":%.3f,"
	       "\"scheduled\":%ld,\"completed\":%ld,\"ok\":%ld,\"non2xx\":%ld,"
	       "\"errors\":%ld,\"reconnects\":%ld,\"ok_after_warmup\":%ld,"
	       "\"achieved_per_s\":%.1f,"
	       "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
	       "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"status\":{",
	       rate, nconns, secs, warm, total, completed, ok, non2xx, errors,
	       reconnects, ok_rec,
	       t_last > t0 + (int64_t)(warm * 1e9)
	           ? (double)nlat / ((double)(t_last - t0) / 1e9 - warm)
	           : 0.0,
	       pct(0.5), pct(0.9), pct(0.99), pct(0.999),
	       nlat ? lat_us[nlat - 1] / 1000.0 : 0.0);
	for (int st = 100, first = 1; st < 600; st++)
		if (by_status[st]) {
			printf("%s\"%d\":%ld", first ? "" : ",", st,
			       by_status[st]);
			first = 0;
		}
	printf("}");
	if (nws)
		printf(",\"ws_members\":%ld,\"frames\":%ld,\"frames_expected\":"
		       "%ld,"
		       "\"frame_p50_ms\":%.3f,\"frame_p90_ms\":%.3f,"
		       "\"frame_p99_ms\":%.3f,\"frame_p999_ms\":%.3f,"
		       "\"frame_max_ms\":%.3f",
		       nws, nframes, frames_cap, pct_of(frame_us, nframes, 0.5),
		       pct_of(frame_us, nframes, 0.9),
		       pct_of(frame_us, nframes, 0.99),
		       pct_of(frame_us, nframes, 0.999),
		       nframes ? frame_us[nframes - 1] / 1000.0 : 0.0);
	printf("}\n");
	return 0;
}
