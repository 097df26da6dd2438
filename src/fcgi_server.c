#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "app.h"
#include "fcgi_server.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/netaddr.h"
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

/*
 * Reads the body of CONTENT_LENGTH bytes, up to the configured cap. The
 * web servers check the header, but the FastCGI socket is a trust
 * boundary too: CONTENT_LENGTH must be HTTP's 1*DIGIT (strtol would take
 * a sign, spaces and a suffix) and the body must be all there; absent or
 * empty means no body.
 */
static enum app_body
read_body(FCGX_Request *fr, struct request *req, long max)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	long want = 0, got = 0;
	char *buf;

	req->body = NULL;
	req->body_len = 0;
	if (cl && *cl) {
		for (const char *p = cl; *p; p++)
			if (*p < '0' || *p > '9')
				return APP_BODY_BAD;
		errno = 0;
		want = strtol(cl, NULL, 10);
		if (errno == ERANGE || want > max)
			return APP_BODY_TOO_LARGE;
	}
	if (want == 0)
		return APP_BODY_OK;
	buf = arena_alloc(req->arena, (size_t)want + 1);
	while (got < want) {
		int n = FCGX_GetStr(buf + got, (int)(want - got), fr->in);

		if (n <= 0)
			break;
		got += n;
	}
	if (got < want)
		return APP_BODY_BAD;
	buf[got] = '\0';
	req->body = buf;
	req->body_len = (size_t)got;
	return APP_BODY_OK;
}

/* The client address (see netaddr.h for the trusted-proxy rules). */
static const char *
client_ip(FCGX_Request *fr, const struct config *cfg, struct arena *a)
{
	char *out = arena_alloc(a, NETADDR_MAX);

	netaddr_client(cfg->trusted_proxies,
	    FCGX_GetParam("REMOTE_ADDR", fr->envp),
	    FCGX_GetParam("HTTP_X_FORWARDED_FOR", fr->envp), out);
	return out;
}

#define STDOUT_RECORD_MAX 65528 /* content bytes per record, 8-aligned */
#define STDOUT_BATCH 64          /* records per writev */

/* Writes iov[0..n) whole, resuming after short writes. 0 or -1. */
static int
writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static FCGI_Header
record_header(const FCGX_Request *fr, int type, size_t len)
{
	FCGI_Header h;

	memset(&h, 0, sizeof(h));
	h.version = FCGI_VERSION_1;
	h.type = (unsigned char)type;
	h.requestIdB1 = (unsigned char)(fr->requestId >> 8);
	h.requestIdB0 = (unsigned char)fr->requestId;
	h.contentLengthB1 = (unsigned char)(len >> 8);
	h.contentLengthB0 = (unsigned char)len;
	return h;
}

/*
 * Sends the whole answer, a[0..alen) then b[0..blen), to the web server
 * and ends the request: stdout records of up to STDOUT_RECORD_MAX bytes,
 * the empty record closing stdout and FCGI_END_REQUEST, STDOUT_BATCH
 * records per writev and the data not copied. libfcgi's stream would
 * send 8 KB records, one write each, and its closing records in one more
 * write, which the web server may no longer read once it has the whole
 * Content-Length (EPIPE). So the stream is marked closed here, the state
 * FCGX_FClose leaves it in, and FCGX_Finish_r writes nothing more (the
 * error stream is never written to). 0 or -1.
 */
static int
send_answer(FCGX_Request *fr, const char *a, size_t alen, const char *b,
	size_t blen)
{
	FCGI_Header hdr[STDOUT_BATCH + 1];
	FCGI_EndRequestRecord end;
	struct iovec iov[STDOUT_BATCH * 3 + 2];
	int nrec = 0, niov = 0, rc = 0;

	if (FCGX_FFlush(fr->out) == -1)
		return -1;
	memset(&end, 0, sizeof(end));
	end.header = record_header(fr, FCGI_END_REQUEST, sizeof(end.body));
	end.body.protocolStatus = FCGI_REQUEST_COMPLETE;
	for (;;) {
		size_t len = alen + blen < STDOUT_RECORD_MAX ? alen + blen :
		    STDOUT_RECORD_MAX;
		size_t fa = alen < len ? alen : len;

		hdr[nrec] = record_header(fr, FCGI_STDOUT, len);
		iov[niov++] = (struct iovec){ &hdr[nrec++], sizeof(FCGI_Header) };
		if (len == 0) {
			iov[niov++] = (struct iovec){ &end, sizeof(end) };
			rc = writev_all(fr->ipcFd, iov, niov);
			break;
		}
		if (fa)
			iov[niov++] = (struct iovec){ (char *)a, fa };
		if (len > fa)
			iov[niov++] = (struct iovec){ (char *)b, len - fa };
		a += fa;
		alen -= fa;
		b += len - fa;
		blen -= len - fa;
		if (nrec == STDOUT_BATCH) {
			if ((rc = writev_all(fr->ipcFd, iov, niov)) == -1)
				break;
			nrec = niov = 0;
		}
	}
	fr->out->wasFCloseCalled = fr->out->isClosed = 1;
	if (rc == -1)
		fr->out->FCGI_errno = errno; /* so the connection is not kept */
	return rc;
}

static void
write_response(FCGX_Request *fr, const struct request *req,
	const struct response *res)
{
	struct strbuf head = STRBUF_INIT;
	int body = res->body_len && strcmp(req->method, "HEAD") != 0;

	/* libfcgi's FCGX_FPrintF knows no %zu: format with snprintf. */
	strbuf_addf(&head, "Status: %d %s\r\n", res->status,
	    reason_phrase(res->status));
	if (res->content_type)
		strbuf_addf(&head, "Content-Type: %s\r\n", res->content_type);
	strbuf_addf(&head, "Content-Length: %zu\r\n", res->body_len);
	for (int i = 0; i < res->nheaders; i++)
		strbuf_addf(&head, "%s: %s\r\n", res->hname[i], res->hvalue[i]);
	strbuf_add(&head, "\r\n", 2);
	if (send_answer(fr, head.buf, head.len, body ? res->body : NULL,
	    body ? res->body_len : 0) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("fcgi: could not send a response: %s", strerror(errno));
	strbuf_release(&head);
}

static void
serve_one(FCGX_Request *fr, const struct config *cfg, struct db *db,
	struct cache *cache, struct arena *arena)
{
	struct request req;
	struct response res;
	const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	enum app_body body;
	int route;
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
	body = read_body(fr, &req, cfg->max_body_bytes);
	app_handle(&req, &res, uri, body);
	write_response(fr, &req, &res);
	FCGX_Finish_r(fr);

	dur = timefmt_mono_us() - req.start_us;
	route = req.route ? (int)(req.route - app_routes) : -1;
	metrics_observe(route, app_method_index(req.method), res.status, dur);
	if (cfg->access_log)
		log_access(req.method, req.path ? req.path : "-", res.status,
		    dur, res.error_code);
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
	log_access_thread_end();
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
	/* Waits for the stop signal, flushing idle threads' access logs. */
	while (sig != SIGTERM && sig != SIGINT) {
		struct timespec tick = { 1, 0 };

		sig = sigtimedwait(&stop, NULL, &tick);
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			break;
		log_access_flush_stale();
	}
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
	/*
	 * No chmod: the umask says who may connect (the unit's UMask=0007),
	 * and whoever can connect can claim any REMOTE_ADDR.
	 */
	fd = FCGX_OpenSocket(spec, 1024);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", spec, strerror(errno));
		return -1;
	}
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
