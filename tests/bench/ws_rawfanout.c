/*
 * ws_rawfanout - the yardstick for the bridge's fan-out: one process
 * writing the same message to N loopback TCP sockets as fast as it can
 * (a single thread, like the bridge's event loop), with client processes
 * reading them exactly as ws_load --mode fanout does.
 *
 *   ws_rawfanout --conns N [--procs P] [--messages K] [--size BYTES]
 *
 * Prints frames_per_second = N*K / (last arrival - first arrival), the
 * number to compare with ws_load --mode fanout in the same run.
 *
 * Build: make -f tests/bench/ws_Makefile
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
reader(int port, long n, long expect, size_t size, int out)
{
	int ep = epoll_create1(0);
	struct epoll_event evs[512];
	struct sockaddr_in sa;
	long got = 0;
	int64_t first = 0, last = 0;
	size_t *acc = calloc((size_t)n, sizeof(*acc));
	int *fds = calloc((size_t)n, sizeof(*fds));
	char buf[65536], line[160];
	int one = 1, len;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (long i = 0; i < n; i++) {
		struct epoll_event ev = { EPOLLIN, { .u64 = (uint64_t)i } };

		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("connect");
			exit(1);
		}
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	if (write(out, "c\n", 2) != 2)
		exit(1);
	while (got < n * expect) {
		int k = epoll_wait(ep, evs, 512, 10000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			long c = (long)evs[i].data.u64;
			ssize_t r = read(fds[c], buf, sizeof(buf));
			int64_t t = now_ns();

			if (r <= 0)
				continue;
			acc[c] += (size_t)r;
			while (acc[c] >= size) {
				acc[c] -= size;
				got++;
				if (!first)
					first = t;
				last = t;
			}
		}
	}
	len = snprintf(line, sizeof(line), "%ld %lld %lld\n", got,
	    (long long)first, (long long)last);
	if (write(out, line, (size_t)len) != len)
		exit(1);
	exit(0);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "conns", 1, NULL, 'n' }, { "procs", 1, NULL, 'p' },
		{ "messages", 1, NULL, 'k' }, { "size", 1, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	long n = 5000, k = 20;
	int procs = 2, c, lfd, one = 1, pipes[2];
	size_t size = 100;
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	struct rlimit rl;
	int *conns;
	char *msg;
	FILE *in;
	long got = 0;
	int64_t first = 0, last = 0, t0, t1;
	char line[160];

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'p': procs = (int)strtol(optarg, NULL, 10); break;
		case 'k': k = strtol(optarg, NULL, 10); break;
		case 's': size = (size_t)strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: ws_rawfanout --conns N [--procs P]"
			    " [--messages K] [--size BYTES]\n");
			return 2;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) != 0) {
		perror("listen");
		return 1;
	}
	if (pipe(pipes) != 0)
		return 1;
	for (int i = 0; i < procs; i++)
		if (fork() == 0) {
			close(pipes[0]);
			reader(ntohs(sa.sin_port), n * (i + 1) / procs - n * i / procs,
			    k, size, pipes[1]);
		}
	close(pipes[1]);
	conns = calloc((size_t)n, sizeof(*conns));
	for (long i = 0; i < n; i++) {
		conns[i] = accept(lfd, NULL, NULL);
		setsockopt(conns[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	in = fdopen(pipes[0], "r");
	for (int i = 0; i < procs; i++)
		if (!fgets(line, sizeof(line), in))
			return 1;
	msg = malloc(size);
	memset(msg, 'x', size);
	msg[size - 1] = '\n';
	usleep(200000);
	t0 = now_ns();
	for (long m = 0; m < k; m++)
		for (long i = 0; i < n; i++) {
			size_t off = 0;

			while (off < size) {
				ssize_t w = write(conns[i], msg + off, size - off);

				if (w < 0) {
					struct pollfd p = { conns[i], POLLOUT, 0 };

					if (errno != EAGAIN)
						return 1;
					poll(&p, 1, 1000);
					continue;
				}
				off += (size_t)w;
			}
		}
	t1 = now_ns();
	for (int i = 0; i < procs; i++) {
		long g;
		long long f, l;

		if (!fgets(line, sizeof(line), in) ||
		    sscanf(line, "%ld %lld %lld", &g, &f, &l) != 3)
			return 1;
		got += g;
		if (f && (!first || f < first))
			first = f;
		if (l > last)
			last = l;
	}
	while (wait(NULL) > 0)
		;
	printf("events=%ld spread_seconds=%.6f frames_per_second=%.0f "
	    "writer_seconds=%.6f\n", got, (double)(last - first) / 1e9,
	    (double)got / ((double)(last - first) / 1e9),
	    (double)(t1 - t0) / 1e9);
	return 0;
}
