#include <string.h>

#include "api.h"
#include "app.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/db.h"
#include "core/embedded.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/banned.h"

void
api_health(struct request *req, struct response *res)
{
	char now[TIMEFMT_LEN];
	int64_t ms = timefmt_now_ms();

	timefmt_iso(ms, now);
	reply_data(res, 200, "Service is healthy",
	    json_pack("{s:s,s:s,s:f,s:s}", "status", "ok", "timestamp", now,
	    "uptime", (double)ms / 1000.0 - app_started_at, "version",
	    PACKAGE_VERSION));
}

/*
 * What cache_ping() found: each server's state in list order, and the
 * positions of those down. The probe is public, so servers are named by
 * their place in [memcached] servers, never by address or socket path
 * (parleyctl check-config --connect names them).
 */
struct mc_state {
	json_t *servers;          /* ["ok" | "down", ...] */
	struct strbuf down;       /* "2, 3" */
	int n, ndown;
};

static void
note_server(void *arg, const char *server, int ok)
{
	struct mc_state *mc = arg;

	(void)server;
	mc->n++;
	json_array_append_new(mc->servers, json_string(ok ? "ok" : "down"));
	if (!ok) {
		strbuf_addf(&mc->down, "%s%d", mc->down.len ? ", " : "", mc->n);
		mc->ndown++;
	}
}

void
api_ready(struct request *req, struct response *res)
{
	struct mc_state mc = { json_array(), STRBUF_INIT, 0, 0 };
	int db_ok = db_ping(req->db) == 0;
	int mc_ok = cache_ping(req->cache, note_server, &mc) == 0;
	json_t *checks = json_pack("{s:s,s:s}", "database", db_ok ? "ok" : "down",
	    "memcached", mc_ok ? "ok" : "down");
	const char *msg;

	if (db_ok && mc_ok) {
		json_decref(mc.servers);
		strbuf_release(&mc.down);
		reply_data(res, 200, "Service is ready",
		    json_pack("{s:s,s:o}", "status", "ready", "checks", checks));
		return;
	}
	msg = mc_ok ? "database unavailable" : arena_printf(req->arena,
	    "%smemcached unavailable: server%s %s of %d", db_ok ? "" :
	    "database and ", mc.ndown > 1 ? "s" : "", mc.down.buf, mc.n);
	strbuf_release(&mc.down);
	reply_header(res, "Retry-After", "1");
	reply_error(res, 503, "SERVICE_UNAVAILABLE", msg,
	    json_pack("{s:o,s:o}", "checks", checks, "memcachedServers",
	    mc.servers));
}

void
api_metrics(struct request *req, struct response *res)
{
	struct strbuf sb = STRBUF_INIT;

	metrics_render(&sb, app_route_names(), (int)app_routes_count,
	    app_methods, app_methods_count);
	reply_raw(res, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, 0);
	res->body = strbuf_detach(&sb, &res->body_len);
	res->body_owned = 1;
}

void
api_openapi(struct request *req, struct response *res)
{
	for (size_t i = 0; i < doc_files_count; i++)
		if (strcmp(doc_files[i].name, "openapi.yaml") == 0) {
			reply_raw(res, 200, "application/yaml; charset=utf-8",
			    doc_files[i].data, doc_files[i].len);
			return;
		}
	reply_error(res, 404, "NOT_FOUND", "No API document was built in", NULL);
}
