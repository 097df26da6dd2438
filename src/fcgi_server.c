#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "fcgi_server.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

static volatile sig_atomic_t stopping;

struct worker_thread {
	pthread_t tid;
	const struct config *cfg;
	int listen_fd;
};

static const char *
fcgx_env(void *transport, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)transport)->envp);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Status";
	}
}

/* Reads the body up to the configured cap. Returns 1 if it was larger. */
static int
read_body(FCGX_Request *fr, struct request *req, long max)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	long want = cl ? strtol(cl, NULL, 10) : 0;
	char *buf;
	long got = 0;

	req->body = NULL;
	req->body_len = 0;
	if (want <= 0)
		return 0;
	if (want > max)
		return 1;
	buf = arena_alloc(req->arena, (size_t)want + 1);
	while (got < want) {
		int n = FCGX_GetStr(buf + got, (int)(want - got), fr->in);

		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	req->body = buf;
	req->body_len = (size_t)got;
	return 0;
}

/*
 * Parses an address (IPv4 or IPv6, no port) into 16 bytes (IPv4 as
 * ::ffff:a.b.c.d). 0 or -1.
 */
static int
parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char v4[4];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

/*
 * 1 if the address s[0..len) matches an entry of the space/comma separated
 * list: an exact address or a CIDR block ("10.0.0.0/8", "fd00::/8").
 */
static int
ip_trusted(const char *list, const char *s, size_t len)
{
	unsigned char ip[16], net[16];
	const char *p = list;

	if (parse_ip(s, len, ip) == -1)
		return 0;
	while (p && *p) {
		size_t n, alen;
		const char *slash;
		long bits = -1;

		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (!n)
			break;
		slash = memchr(p, '/', n);
		alen = slash ? (size_t)(slash - p) : n;
		if (parse_ip(p, alen, net) == 0) {
			if (slash) {
				char *end;

				bits = strtol(slash + 1, &end, 10);
				if (end != p + n || bits < 0 || bits > 128)
					bits = -2;
				else if (memchr(p, '.', alen))
					bits += 96; /* IPv4 prefix inside ::ffff:0:0/96 */
			} else {
				bits = 128;
			}
			if (bits >= 0 && bits <= 128) {
				long full = bits / 8, rest = bits % 8;

				if (memcmp(ip, net, (size_t)full) == 0 && (rest == 0 ||
				    ((ip[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0))
					return 1;
			}
		}
		p += n;
	}
	return 0;
}

/*
 * The client address. X-Forwarded-For counts only when the peer is a
 * trusted proxy; it is then read from the right, skipping further trusted
 * proxies, so a client cannot choose its own address by sending the
 * header itself. Entries that are not addresses end the walk.
 */
static const char *
client_ip(FCGX_Request *fr, const struct config *cfg, struct arena *a)
{
	const char *remote = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	const char *xff = FCGX_GetParam("HTTP_X_FORWARDED_FOR", fr->envp);
	const char *end, *start;
	unsigned char tmp[16];

	if (!remote)
		return "unknown";
	if (!xff || !*xff || !ip_trusted(cfg->trusted_proxies, remote,
	    strlen(remote)))
		return remote;
	end = xff + strlen(xff); /* one past the entry being read */
	for (;;) {
		const char *s;
		size_t len;

		start = end;
		while (start > xff && start[-1] != ',')
			start--;
		s = start;
		len = (size_t)(end - start);
		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (parse_ip(s, len, tmp) == -1)
			return remote;
		if (!ip_trusted(cfg->trusted_proxies, s, len) || start == xff)
			return arena_strndup(a, s, len);
		end = start - 1; /* the comma before this entry */
	}
}

static void
write_response(FCGX_Request *fr, const struct request *req,
	const struct response *res)
{
	struct strbuf head = STRBUF_INIT;

	/* libfcgi's FCGX_FPrintF knows no %zu: format with snprintf. */
	strbuf_addf(&head, "Status: %d %s\r\n", res->status,
	    reason_phrase(res->status));
	if (res->content_type)
		strbuf_addf(&head, "Content-Type: %s\r\n", res->content_type);
	strbuf_addf(&head, "Content-Length: %zu\r\n", res->body_len);
	for (int i = 0; i < res->nheaders; i++)
		strbuf_addf(&head, "%s: %s\r\n", res->hname[i], res->hvalue[i]);
	strbuf_add(&head, "\r\n", 2);
	FCGX_PutStr(head.buf, (int)head.len, fr->out);
	strbuf_release(&head);
	if (res->body_len && strcmp(req->method, "HEAD") != 0)
		FCGX_PutStr(res->body, (int)res->body_len, fr->out);
}

static void
serve_one(FCGX_Request *fr, const struct config *cfg, struct db *db,
	struct cache *cache, struct arena *arena)
{
	struct request req;
	struct response res;
	const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	int too_large, route;
	int64_t dur;

	memset(&req, 0, sizeof(req));
	req.arena = arena;
	req.start_us = timefmt_mono_us();
	req.cfg = cfg;
	req.db = db;
	req.cache = cache;
	req.getenv = fcgx_env;
	req.transport = fr;
	/* Copied: the FastCGI environment is gone after FCGX_Finish_r. */
	req.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	req.method = arena_strdup(arena, req.method ? req.method : "GET");
	if (!uri) {
		const char *sn = FCGX_GetParam("SCRIPT_NAME", fr->envp);
		const char *pi = FCGX_GetParam("PATH_INFO", fr->envp);
		const char *qs = FCGX_GetParam("QUERY_STRING", fr->envp);

		uri = arena_printf(arena, "%s%s%s%s", sn ? sn : "", pi ? pi : "",
		    qs && *qs ? "?" : "", qs && *qs ? qs : "");
	}
	req.client_ip = client_ip(fr, cfg, arena);
	reply_init(&res, arena);
	too_large = read_body(fr, &req, cfg->max_body_bytes);
	app_handle(&req, &res, uri, too_large);
	write_response(fr, &req, &res);
	FCGX_Finish_r(fr);

	dur = timefmt_mono_us() - req.start_us;
	route = req.route ? (int)(req.route - app_routes) : -1;
	metrics_observe(route, app_method_index(req.method), res.status, dur);
	if (cfg->access_log)
		log_info("%s %s %d %.3fms%s%s", req.method,
		    req.path ? req.path : "-", res.status, (double)dur / 1000.0,
		    res.error_code ? " " : "", res.error_code ? res.error_code : "");
	request_release(&req);
	reply_release(&res);
}

static void *
thread_main(void *arg)
{
	struct worker_thread *w = arg;
	FCGX_Request fr;
	struct db *db;
	struct cache *cache;
	struct arena arena;

	db_thread_init();
	db = db_new(w->cfg);
	cache = cache_new(w->cfg);
	arena_init(&arena);
	FCGX_InitRequest(&fr, w->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	while (!stopping) {
		if (FCGX_Accept_r(&fr) < 0)
			break;
		serve_one(&fr, w->cfg, db, cache, &arena);
		arena_reset(&arena);
	}
	FCGX_Free(&fr, 1);
	arena_release(&arena);
	cache_free(cache);
	db_free(db);
	db_thread_release();
	return NULL;
}

static void
on_wake(int sig)
{
	(void)sig; /* only interrupts accept() */
}

/* Runs the threads of one process until SIGTERM/SIGINT. */
static int
run_threads(const struct config *cfg, int listen_fd)
{
	long n = cfg->threads;
	struct worker_thread *w = xcalloc((size_t)n, sizeof(*w));
	struct sigaction sa;
	sigset_t stop, old;
	int sig = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: accept gets EINTR */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		w[i].cfg = cfg;
		w[i].listen_fd = listen_fd;
		if (pthread_create(&w[i].tid, NULL, thread_main, &w[i]) != 0) {
			log_error("pthread_create: %s", strerror(errno));
			abort();
		}
	}
	while (sig != SIGTERM && sig != SIGINT)
		if (sigwait(&stop, &sig) != 0)
			break;
	stopping = 1;
	log_info("stopping: finishing requests in flight");
	/*
	 * A thread may be blocked in accept() or about to enter it: keep
	 * interrupting until each one has noticed `stopping` and exited.
	 */
	for (long i = 0; i < n; i++) {
		struct timespec ts;

		for (;;) {
			pthread_kill(w[i].tid, SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(w[i].tid, NULL, &ts) == 0)
				break;
		}
	}
	free(w);
	return 0;
}

int
fcgi_server_listen(const char *spec)
{
	int fd, accepting = 0;
	socklen_t len = sizeof(accepting);

	if (!spec || !*spec) {
		if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
		    !accepting) {
			log_error("no --listen given and fd 0 is not a listening "
			    "socket (start me from a web server, systemd socket "
			    "activation, or with --listen unix:/path)");
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		spec += 5;
	if (spec[0] == '/')
		unlink(spec);
	fd = FCGX_OpenSocket(spec, 1024);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", spec, strerror(errno));
		return -1;
	}
	if (spec[0] == '/')
		chmod(spec, 0666);
	return fd;
}

static pid_t
spawn_worker(const struct config *cfg, int listen_fd)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(run_threads(cfg, listen_fd));
	if (pid < 0)
		log_error("fork: %s", strerror(errno));
	return pid;
}

/* Prefork parent: keeps cfg->workers children alive until told to stop. */
static int
run_workers(const struct config *cfg, int listen_fd)
{
	long n = cfg->workers;
	pid_t *kids = xcalloc((size_t)n, sizeof(*kids));
	sigset_t stop;
	int sig;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGCHLD);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	for (long i = 0; i < n; i++)
		kids[i] = spawn_worker(cfg, listen_fd);
	for (;;) {
		if (sigwait(&stop, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig != SIGCHLD)
			continue;
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			for (long i = 0; i < n; i++)
				if (kids[i] == pid) {
					log_warn("worker %d exited (status %d); "
					    "restarting", (int)pid, status);
					sleep(1);
					kids[i] = spawn_worker(cfg, listen_fd);
				}
		}
	}
	for (long i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	for (long i = 0; i < n; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	free(kids);
	return 0;
}

int
fcgi_server_run(const struct config *cfg, int listen_fd)
{
	if (cfg->workers > 0)
		return run_workers(cfg, listen_fd);
	return run_threads(cfg, listen_fd);
}
