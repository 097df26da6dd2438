/*
 * parley-bridge - the WebSocket daemon (DESIGN §1, §2, §6).
 *
 *   parley-bridge [--config FILE]
 *
 * One libwebsockets event loop serving /ws, GET /health and GET /metrics
 * on [bridge] listen_host:listen_port (a socket the bridge accepts on itself,
 * bridge_listen.c); a pool of database threads; one stream
 * thread (sequencer, tail, UDP). bridge.h describes how they fit together;
 * docs/websocket.md is the protocol clients see.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct bridge bridge;

static const struct lws_protocols protocols[] = {
	/* rx chunks of 1 KiB keep idle connections small; larger client
	 * frames arrive in pieces and are reassembled (bridge_ws.c). */
	{ "parley", ws_callback, sizeof(void *), 1024, 0, NULL, 65536 },
	{ LISTEN_PROTOCOL, listen_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/*
 * No lws idle timers: lws keeps one per connection in a sorted list whose
 * insertion walks the list, which made 20,000 connections quadratic. Our
 * heartbeat is one tick for everyone (bridge_ws.c).
 */
static const lws_retry_bo_t no_idle_policy = { NULL, 0, 0, 0, 0, 0 };

static const struct {
	const char *name;
	uint64_t option;
} loops[] = {
	{ "poll", 0 },
	{ "libuv", LWS_SERVER_OPTION_LIBUV },
	{ "libev", LWS_SERVER_OPTION_LIBEV },
	{ "glib", LWS_SERVER_OPTION_GLIB },
};

int64_t
bridge_now_ms(void)
{
	return timefmt_now_ms();
}

/* SIGINT/SIGTERM: the loop notices in LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
static void
on_signal(int sig)
{
	bridge.stopping = 1;
	if (bridge.ctx)
		lws_cancel_service(bridge.ctx);
}

/* The same, when the event library catches the signal itself. */
static void
on_loop_signal(void *handle, int sig)
{
	on_signal(sig);
}

/* Splits a space- or comma-separated list into new strings. */
static char **
split_list(const char *s, size_t *n, size_t extra)
{
	char **out = xcalloc(strlen(s) / 2 + 2 + extra, sizeof(*out));

	*n = 0;
	while (*s) {
		size_t len = strcspn(s, " \t,");

		if (len)
			out[(*n)++] = xstrndup(s, len);
		s += len;
		s += strspn(s, " \t,");
	}
	return out;
}

/* The web client served from public_url has public_url's origin. */
static char *
origin_of(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (!p)
		return NULL;
	n = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
	return xstrndup(url, n);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open-files limit");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("open-files limit %llu", (unsigned long long)rl.rlim_cur);
}

static int
create_context(const struct config *cfg)
{
	struct lws_context_creation_info info;
	size_t i;

	memset(&info, 0, sizeof(info));
	for (i = 0; i < sizeof(loops) / sizeof(loops[0]); i++)
		if (strcmp(cfg->bridge_event_loop, loops[i].name) == 0)
			break;
	if (i == sizeof(loops) / sizeof(loops[0])) {
		log_error("[bridge] event_loop: unknown loop '%s' (poll, libuv, "
		    "libev, glib)", cfg->bridge_event_loop);
		return -1;
	}
	bridge.loop_name = loops[i].name;
	/* libuv: leave SIGSEGV & co. alone; SIGINT/SIGTERM reach signal_cb. */
	info.options = loops[i].option |
	    (loops[i].option == LWS_SERVER_OPTION_LIBUV ?
	    LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN : 0);
	info.signal_cb = on_loop_signal;
	/* The bridge listens itself, so it can accept in bites (bridge_listen.c). */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.timeout_secs = 10;
	/* ?token= can be long; headers are freed after the upgrade. */
	info.max_http_header_data = 8192;
	info.user = &bridge;
	info.retry_and_idle_policy = &no_idle_policy;
	bridge.ctx = lws_create_context(&info);
	if (!bridge.ctx || listen_start(bridge.ctx, cfg->bridge_listen_host,
	    cfg->bridge_listen_port) == -1) {
		log_error("cannot listen on %s:%ld (event loop %s)",
		    cfg->bridge_listen_host, cfg->bridge_listen_port,
		    bridge.loop_name);
		return -1;
	}
	return 0;
}

/* Uncounts our connections in memcached before going away. */
static void
shutdown_presence(const struct config *cfg)
{
	struct db *db = db_new(cfg);
	struct cache *cache = cache_new(cfg);

	presence_shutdown(db, cache);
	cache_free(cache);
	db_free(db);
}

static lws_sorted_usec_list_t bye_sul;

/* The last step: let go of the lock and the threads, then leave. */
static void
finish(lws_sorted_usec_list_t *sul)
{
	stream_stop();
	pool_stop();
	nudge_close();
	log_info("stopped");
	exit(0);
}

void
bridge_shutdown(void)
{
	static int started;
	struct conn *c;

	if (started)
		return;
	started = 1;
	bridge.stopping = 1;
	log_info("shutting down: %zu connections", bridge.nconns);
	shutdown_presence(bridge.cfg);
	/* 1001 (going away): clients reconnect, to another bridge if any. */
	for (c = conns_all; c; c = c->anext)
		conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, NULL);
	lws_sul_schedule(bridge.ctx, 0, &bye_sul, finish,
	    bridge.nconns ? LWS_US_PER_SEC : 1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_arg = NULL;
	struct config cfg;
	char err[512], *origin;
	int c, level;

	while ((c = getopt_long(argc, argv, "c:V", opts, NULL)) != -1) {
		if (c == 'c')
			config_arg = optarg;
		else if (c == 'V')
			return printf("parley-bridge %s\n", PACKAGE_VERSION), 0;
		else
			return 2;
	}
	config_init(&cfg);
	if (config_load(&cfg, config_default_path(config_arg), err, sizeof(err)) == -1) {
		fprintf(stderr, "parley-bridge: %s\n", err);
		return 1;
	}
	level = log_level_parse(cfg.log_level);
	log_setup("parley-bridge", level < 0 ? LOG_LVL_INFO : (enum log_level)level,
	    cfg.syslog);
	lws_set_log_level(LLL_ERR, NULL);
	raise_nofile();
	if (db_global_init() == -1) {
		log_error("cannot initialise the MariaDB client library");
		return 1;
	}
	bridge.cfg = &cfg;
	bridge.started_ms = bridge_now_ms();
	ids_uuid7(bridge.id_text);
	bid_parse(bridge.id_text, &bridge.id);
	bridge.origins = split_list(cfg.cors_origins, &bridge.norigins, 1);
	if ((origin = origin_of(cfg.public_url)))
		bridge.origins[bridge.norigins++] = origin;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	bid_hash_seed();
	rooms_init();
	if (nudge_open() == -1 || create_context(&cfg) == -1)
		return 1;
	if (pool_start((int)cfg.bridge_pool_threads) == -1 ||
	    stream_start() == -1) {
		log_error("cannot start threads");
		return 1;
	}
	while (!atomic_load(&bridge.stream_ready) && !bridge.stopping)
		usleep(10000);
	bridge.live_pos = atomic_load(&bridge.start_pos);
	atomic_store(&bridge.published_pos, bridge.live_pos);
	ring_init((size_t)cfg.bridge_replay_buffer, bridge.live_pos);
	ws_start_tick();
	log_info("bridge %s listening on %s:%ld (event loop %s, stream "
	    "position %lld)", bridge.id_text, cfg.bridge_listen_host,
	    cfg.bridge_listen_port, bridge.loop_name,
	    (long long)bridge.live_pos);
	/* Returns only on failure: SIGTERM ends in bridge_shutdown(). With an
	 * event library lws_service() runs that library's loop. */
	while (lws_service(bridge.ctx, 0) >= 0)
		;
	log_error("the event loop failed");
	return 1;
}
