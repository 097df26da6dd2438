/*
 * ws_latency - end to end: REST POST /api/v1/messages start -> the
 * message:received frame on each of N members' WebSockets.
 *
 *   ws_latency --http http://HOST:PORT --ws ws://HOST:PORT/ws
 *              --tokens FILE --members N [--rate R] [--count M]
 *              [--http-conns C] [--warmup W]
 *
 * FILE is ws_mktokens --group output: the "GROUP <id>" line names the
 * group, the first user sends (over REST, C keep-alive connections), the
 * next N users listen (one WebSocket each). --rate R posts R messages per
 * second (0 = as fast as the C connections allow: the send throughput);
 * --count M messages are measured after W warm-up messages.
 *
 * Prints the POST throughput and latency, and the latency to each
 * member's socket: p50, p90, p99, max (milliseconds).
 *
 * Build: make -f tests/bench/ws_Makefile
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 256

struct conn {
	int fd;
	int busy;       /* HTTP: a request is outstanding */
	long msg;       /* HTTP: which message */
	size_t len;
	char buf[65536];
};

static char http_host[64], ws_host[64], ws_path[128], group[2048];
static int http_port, ws_port;
static char **tokens;
static long ntokens;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
tcp(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
load_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	long cap = 64;

	if (!f) {
		perror(path);
		exit(1);
	}
	tokens = malloc(cap * sizeof(char *));
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "GROUP ", 6) == 0) {
			snprintf(group, sizeof(group), "%s", line + 6);
			continue;
		}
		if (!sp)
			continue;
		if (ntokens == cap)
			tokens = realloc(tokens, (cap *= 2) * sizeof(char *));
		tokens[ntokens++] = strdup(sp + 1);
	}
	fclose(f);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, double *v, long n)
{
	if (n == 0) {
		printf("%s: no samples\n", what);
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s: n=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f ms\n", what, n,
	    v[(long)(n * 0.50)], v[(long)(n * 0.90)],
	    v[n * 99 / 100 < n ? n * 99 / 100 : n - 1], v[n - 1]);
}

/* Reads one WS frame's worth of text messages from c; calls back per text. */
static void
ws_read(struct conn *c, void (*on_text)(const char *, size_t, int64_t))
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	int64_t t = now_ns();
	size_t off = 0;

	if (n <= 0) {
		fprintf(stderr, "websocket closed\n");
		exit(1);
	}
	c->len += (size_t)n;
	while (c->len - off >= 2) {
		unsigned char *f = (unsigned char *)c->buf + off;
		size_t hl = 2, len = f[1] & 0x7f;

		if (len == 126) {
			if (c->len - off < 4)
				break;
			len = (size_t)f[2] << 8 | f[3];
			hl = 4;
		} else if (len == 127) {
			if (c->len - off < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | f[2 + i];
			hl = 10;
		}
		if (c->len - off < hl + len)
			break;
		if ((f[0] & 0x0f) == 1)
			on_text((char *)f + hl, len, t);
		else if ((f[0] & 0x0f) == 9 && len <= 125) {
			/* echo the ping's payload (mask 0: xor leaves it as is) */
			unsigned char pong[6 + 125] = { 0x8a, 0, 0, 0, 0, 0 };

			pong[1] = (unsigned char)(0x80 | len);
			memcpy(pong + 6, f + hl, len);
			if (write(c->fd, pong, 6 + len) != (ssize_t)(6 + len))
				exit(1);
		}
		off += hl + len;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

static int64_t *t_post;
static double *lat;
static long nlat, warmup, count, total;

static void
on_member_text(const char *p, size_t n, int64_t t)
{
	const char *s = memmem(p, n, "\"content\":\"lat ", 15);
	long i;

	if (!s || !memmem(p, n, "\"type\":\"message:received\"", 25))
		return;
	i = strtol(s + 15, NULL, 10);
	if (i >= warmup && i < total && t_post[i])
		lat[nlat++] = (double)(t - t_post[i]) / 1e6;
}

static void
ws_open(struct conn *c, const char *token)
{
	char req[4096];
	int n;

	c->fd = tcp(ws_host, ws_port);
	n = snprintf(req, sizeof(req), "GET %s?token=%s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nX-Forwarded-For: 198.18.9.%d\r\n\r\n",
	    ws_path, token, ws_host, (int)(random() % 250) + 1);
	if (write(c->fd, req, (size_t)n) != n)
		exit(1);
	/* the 101 response, then the auth_response frame */
	for (;;) {
		char *e;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (r <= 0) {
			fprintf(stderr, "handshake failed\n");
			exit(1);
		}
		c->len += (size_t)r;
		if ((e = memmem(c->buf, c->len, "auth_response", 13))) {
			if (!memmem(c->buf, c->len, "\"success\"", 9)) {
				fprintf(stderr, "auth failed: %.*s\n", (int)c->len, c->buf);
				exit(1);
			}
			c->len = 0;
			return;
		}
	}
}

static void
http_send(struct conn *c, long i, const char *token)
{
	char body[256], req[4096];
	int bn, n;

	bn = snprintf(body, sizeof(body), "{\"groupId\":\"%s\",\"content\":\"lat %ld\"}",
	    group, i);
	n = snprintf(req, sizeof(req), "POST /api/v1/messages HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s", http_host, token, bn, body);
	t_post[i] = now_ns();
	if (write(c->fd, req, (size_t)n) != n)
		exit(1);
	c->busy = 1;
	c->msg = i;
	c->len = 0;
}

/* 1 when a whole response is in; its status in *status. */
static int
http_done(struct conn *c, int *status)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
	char *e, *cl;

	if (n <= 0) {
		/* closed by the server (keep-alive limit): count, reconnect */
		close(c->fd);
		c->fd = tcp(http_host, http_port);
		*status = 0;
		return 1;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (!(e = strstr(c->buf, "\r\n\r\n")))
		return 0;
	cl = strcasestr(c->buf, "Content-Length:");
	if (!cl || (size_t)(e + 4 - c->buf) + (size_t)strtol(cl + 15, NULL, 10) > c->len)
		return 0;
	*status = (int)strtol(c->buf + 9, NULL, 10);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "http", 1, NULL, 'h' }, { "ws", 1, NULL, 'w' },
		{ "tokens", 1, NULL, 't' }, { "members", 1, NULL, 'm' },
		{ "rate", 1, NULL, 'r' }, { "count", 1, NULL, 'c' },
		{ "http-conns", 1, NULL, 'C' }, { "warmup", 1, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	long members = 10, hc = 4, sent = 0, done = 0, errors = 0, npost = 0;
	double rate = 100;
	struct conn *ws, *http;
	struct pollfd *pf;
	double *post_lat;
	int64_t t0, t_end = 0;
	int c;

	count = 2000;
	warmup = 100;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			sscanf(optarg, "http://%63[^:]:%d", http_host, &http_port);
			break;
		case 'w':
			sscanf(optarg, "ws://%63[^:]:%d%127s", ws_host, &ws_port, ws_path);
			break;
		case 't': load_tokens(optarg); break;
		case 'm': members = strtol(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'c': count = strtol(optarg, NULL, 10); break;
		case 'C': hc = strtol(optarg, NULL, 10); break;
		case 'W': warmup = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!http_port || !ws_port || !group[0] || ntokens < members + 1 ||
	    hc < 1 || hc > MAXC) {
		fprintf(stderr, "usage: ws_latency --http http://H:P --ws ws://H:P/ws "
		    "--tokens FILE(--group) --members N [--rate R] [--count M] "
		    "[--http-conns C] [--warmup W]\n");
		return 2;
	}
	total = warmup + count;
	t_post = calloc((size_t)total, sizeof(*t_post));
	lat = calloc((size_t)(total * members), sizeof(*lat));
	post_lat = calloc((size_t)total, sizeof(*post_lat));
	ws = calloc((size_t)members, sizeof(*ws));
	http = calloc((size_t)hc, sizeof(*http));
	pf = calloc((size_t)(members + hc), sizeof(*pf));
	for (long i = 0; i < members; i++)
		ws_open(&ws[i], tokens[1 + i]);
	for (long i = 0; i < hc; i++)
		http[i].fd = tcp(http_host, http_port);
	t0 = now_ns();
	while (done < total) {
		int64_t now = now_ns();
		int timeout = 1000;

		/* start every message that is due on a free connection */
		while (sent < total) {
			int64_t due = rate > 0 ? t0 + (int64_t)((double)sent * 1e9 / rate) : now;
			long k;

			if (due > now) {
				timeout = (int)((due - now) / 1000000);
				break;
			}
			for (k = 0; k < hc && http[k].busy; k++)
				;
			if (k == hc)
				break;
			http_send(&http[k], sent++, tokens[0]);
		}
		for (long i = 0; i < members; i++) {
			pf[i].fd = ws[i].fd;
			pf[i].events = POLLIN;
		}
		for (long i = 0; i < hc; i++) {
			pf[members + i].fd = http[i].fd;
			pf[members + i].events = POLLIN;
		}
		if (poll(pf, (nfds_t)(members + hc), timeout) < 0 && errno != EINTR)
			return 1;
		for (long i = 0; i < members; i++)
			if (pf[i].revents & POLLIN)
				ws_read(&ws[i], on_member_text);
		for (long i = 0; i < hc; i++) {
			int status;

			if (!(pf[members + i].revents & POLLIN) ||
			    !http_done(&http[i], &status))
				continue;
			if (status != 201) {
				errors++;
				if (errors < 5)
					fprintf(stderr, "POST %ld: status %d\n",
					    http[i].msg, status);
			}
			if (http[i].msg >= warmup)
				post_lat[npost++] = (double)(now_ns() - t_post[http[i].msg]) / 1e6;
			http[i].busy = 0;
			done++;
			t_end = now_ns();
		}
	}
	/* frames still in flight */
	for (int64_t until = now_ns() + 2000000000LL; now_ns() < until &&
	    nlat < count * members;) {
		for (long i = 0; i < members; i++) {
			pf[i].fd = ws[i].fd;
			pf[i].events = POLLIN;
		}
		if (poll(pf, (nfds_t)members, 100) > 0)
			for (long i = 0; i < members; i++)
				if (pf[i].revents & POLLIN)
					ws_read(&ws[i], on_member_text);
	}
	printf("posts=%ld errors=%ld seconds=%.3f throughput=%.0f/s target_rate=%.0f "
	    "http_conns=%ld\n", total, errors, (double)(t_end - t0) / 1e9,
	    (double)total / ((double)(t_end - t0) / 1e9), rate, hc);
	report("post", post_lat, npost);
	report("frame", lat, nlat);
	printf("frames=%ld expected=%ld\n", nlat, count * members);
	return errors || nlat < count * members;
}
