/*
 * bridge_ws.c - the libwebsockets callback: the handshake, frames in,
 * frames out, GET /health and GET /metrics, and the once-a-second tick.
 *
 * One protocol serves both HTTP and WebSocket, so a client need not name a
 * subprotocol. Per-connection lws data is just a pointer to struct conn.
 *
 * Heartbeats are our own, driven by the tick rather than per-connection
 * lws timers: with the poll() loop every wake-up costs a scan of all file
 * descriptors, so twenty thousand timers firing at different moments would
 * cost more than the traffic. A connection silent for [bridge]
 * heartbeat_seconds gets a WebSocket ping; one that stays silent for
 * another heartbeat is closed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"
#include "core/config.h"
#include "core/netaddr.h"
#include "core/strbuf.h"
#include "core/timefmt.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct wsd {
	struct conn *c;
};

static lws_sorted_usec_list_t tick_sul;
static int64_t last_presence_ms;

static int
http_reply(struct lws *wsi, unsigned status, const char *ctype,
	const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
	    *end = hdr + sizeof(hdr);
	unsigned char *buf;
	int rc;

	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len,
	    &p, end) ||
	    lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"cache-control:",
	    (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"x-content-type-options:",
	    (const unsigned char *)"nosniff", 7, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	buf = xmalloc(LWS_PRE + len + 1);
	memcpy(buf + LWS_PRE, body, len);
	rc = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
	free(buf);
	if (rc != (int)len)
		return 1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
serve_http(struct lws *wsi, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char now[TIMEFMT_LEN];
	int64_t ms = bridge_now_ms();
	int rc;

	if (strcmp(path, "/health") == 0 || strcmp(path, "/livez") == 0) {
		timefmt_iso(ms, now);
		strbuf_addf(&sb, "{\"success\":true,\"message\":\"Bridge is healthy\","
		    "\"data\":{\"status\":\"ok\",\"timestamp\":\"%s\","
		    "\"uptime\":%.3f,\"version\":\"%s\",\"bridgeId\":\"%s\","
		    "\"eventLoop\":\"%s\",\"connections\":%zu,"
		    "\"authenticated\":%zu,\"sequencer\":%s,\"seq\":%lld}}",
		    now, (double)(ms - bridge.started_ms) / 1000.0,
		    PACKAGE_VERSION, bridge.id_text, bridge.loop_name,
		    bridge.nconns, bridge.nauthed,
		    stream_is_sequencer() ? "true" : "false",
		    (long long)bridge.live_pos);
		rc = http_reply(wsi, HTTP_STATUS_OK,
		    "application/json; charset=utf-8", sb.buf, sb.len);
	} else if (strcmp(path, "/metrics") == 0) {
		bmetrics_render(&sb);
		rc = http_reply(wsi, HTTP_STATUS_OK,
		    "text/plain; version=0.0.4; charset=utf-8", sb.buf, sb.len);
	} else {
		int ws = strcmp(path, "/ws") == 0 || strcmp(path, "/ws/") == 0;

		strbuf_addf(&sb, "{\"success\":false,\"message\":\"%s\","
		    "\"code\":\"%s\",\"error\":{\"code\":\"%s\",\"message\":"
		    "\"%s\",\"details\":{}}}", ws ? "WebSocket upgrade required" :
		    "Not found", ws ? "UPGRADE_REQUIRED" : "NOT_FOUND",
		    ws ? "UPGRADE_REQUIRED" : "NOT_FOUND", ws ?
		    "WebSocket upgrade required" : "Not found");
		rc = http_reply(wsi, ws ? 426 : HTTP_STATUS_NOT_FOUND,
		    "application/json; charset=utf-8", sb.buf, sb.len);
	}
	strbuf_release(&sb);
	return rc;
}

/*
 * Is origin one we serve? Browsers send it; other clients need not. The
 * whole header is read, however long: lws_hdr_copy() fails for one that
 * does not fit, and a failure must not pass for "no Origin".
 */
static int
origin_ok(struct lws *wsi)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN), ok = 0;
	char *origin;

	if (len <= 0)
		return 1;
	origin = xmalloc((size_t)len + 1);
	if (lws_hdr_copy(wsi, origin, len + 1, WSI_TOKEN_ORIGIN) == len)
		for (size_t i = 0; i < bridge.norigins && !ok; i++)
			ok = strcasecmp(bridge.origins[i], origin) == 0;
	free(origin);
	return ok;
}

static int
reject_upgrade(struct lws *wsi, unsigned status, const char *code,
	const char *message)
{
	char body[256];
	int n;

	bmetrics_count(BM_CONNECTIONS_REJECTED, 1);
	n = snprintf(body, sizeof(body), "{\"success\":false,\"message\":\"%s\","
	    "\"code\":\"%s\",\"error\":{\"code\":\"%s\",\"message\":\"%s\","
	    "\"details\":{}}}", message, code, code, message);
	return http_reply(wsi, status, "application/json; charset=utf-8", body,
	    (size_t)n) == 0 ? 1 : -1;
}

/* Before the upgrade: the path, and the Origin of browsers. */
static int
confirm_upgrade(struct lws *wsi)
{
	char uri[64];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    (strcmp(uri, "/ws") != 0 && strcmp(uri, "/ws/") != 0 &&
	    strcmp(uri, "/") != 0))
		return reject_upgrade(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND",
		    "Not found");
	if (!origin_ok(wsi))
		return reject_upgrade(wsi, HTTP_STATUS_FORBIDDEN, "FORBIDDEN",
		    "Origin not allowed");
	return 0;
}

/*
 * The client address, as the REST side finds it (core/netaddr.h). The
 * whole X-Forwarded-For is read (lws holds at most max_http_header_data
 * of headers): a client can make it as long as it likes before the proxy
 * appends its address, and one that did not fit a fixed buffer would
 * count as the proxy itself, spending the attempt limit of everyone
 * behind it.
 */
static void
client_ip(struct lws *wsi, struct conn *c)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
	char peer[NETADDR_MAX], *xff = NULL;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (len > 0) {
		xff = xmalloc((size_t)len + 1);
		if (lws_hdr_copy(wsi, xff, len + 1,
		    WSI_TOKEN_X_FORWARDED_FOR) != len) {
			free(xff);
			xff = NULL;
		}
	}
	netaddr_client(bridge.cfg->trusted_proxies, peer, xff, c->ip);
	free(xff);
}

static int
established(struct lws *wsi, struct wsd *d)
{
	struct conn *c = conn_new(wsi);
	char buf[4200];
	const char *v;
	int n;

	d->c = c;
	bmetrics_count(BM_CONNECTIONS_TOTAL, 1);
	client_ip(wsi, c);
	if ((n = auth_attempt(c->ip)) > 0) {
		bmetrics_count(BM_CONNECTIONS_REJECTED, 1);
		conn_send_error(c, NULL, "RATE_LIMIT_EXCEEDED",
		    "Too many connection attempts from this address", n);
		conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL);
		return 0;
	}
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0)
		c->token = xstrdup(buf + 7);
	else if ((v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf))))
		c->token = xstrdup(v);
	if ((v = lws_get_urlarg_by_name(wsi, "since=", buf, sizeof(buf)))) {
		char *end;
		long long s;

		/* Digits only, as a resume frame's since (a JSON integer):
		 * strtoll alone takes " +5" and clamps what overflows. */
		errno = 0;
		s = strtoll(v, &end, 10);
		if (end == v || *end || errno || !isdigit((unsigned char)*v)) {
			conn_send_error(c, NULL, "VALIDATION_ERROR",
			    "since must be the last seq received (0 or more)", 0);
			conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL);
			return 0;
		}
		c->since = s;
	}
	if (c->token && *c->token)
		auth_start(c, NULL, NULL);
	else
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_REASON_BASE + 1,
		    (int)bridge.cfg->bridge_auth_timeout_s);
	return 0;
}

/* One whole client message (text or binary). */
static void
handle_message(struct lws *wsi, struct conn *c, const char *in, size_t len)
{
	/* The protocol is JSON text (docs/websocket.md): a binary message is
	 * refused, not parsed, whatever it holds. */
	if (lws_frame_is_binary(wsi)) {
		bmetrics_count(BM_FRAMES_IN, 1);
		protocol_refuse(c, "INVALID_MESSAGE_FORMAT",
		    "Frames must be JSON text, not binary");
		return;
	}
	protocol_handle(c, in, len);
}

static int
receive(struct lws *wsi, struct conn *c, const char *in, size_t len)
{
	size_t max = (size_t)bridge.cfg->bridge_max_frame_bytes;
	size_t remaining = lws_remaining_packet_payload(wsi);
	int final = lws_is_final_fragment(wsi) && remaining == 0;

	c->last_rx_ms = bridge_now_ms();
	c->ping_ms = 0;
	if (c->closing)
		return 0;
	if (c->rxlen + len + remaining > max) {
		static const char why[] = "frame too large";

		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		    (unsigned char *)why, sizeof(why) - 1);
		return -1;
	}
	if (final && c->rxlen == 0) {
		handle_message(wsi, c, in, len);
		return 0;
	}
	if (!c->rx)
		c->rx = xmalloc(max + 1);
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += (uint32_t)len;
	if (final) {
		handle_message(wsi, c, c->rx, c->rxlen);
		free(c->rx);
		c->rx = NULL;
		c->rxlen = 0;
	}
	return 0;
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = bridge_now_ms(), hb = bridge.cfg->bridge_heartbeat_s * 1000;
	struct conn *c;

	typing_tick(now);
	presence_flush();
	auth_retry_rooms();
	users_sweep(now);
	for (c = conns_all; c; c = c->anext) {
		if (!c->wsi || c->closing)
			continue;
		if (c->ping_ms && now - c->ping_ms >= hb) {
			bmetrics_count(BM_DEAD_PEERS, 1);
			conn_kill(c);
		} else if (!c->ping_ms && !c->ping_due &&
		    now - c->last_rx_ms >= hb) {
			c->ping_due = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
	if (now - last_presence_ms >= hb) {
		last_presence_ms = now;
		presence_refresh();
	}
	lws_sul_schedule(bridge.ctx, 0, &tick_sul, tick, LWS_US_PER_SEC);
}

void
ws_start_tick(void)
{
	last_presence_ms = bridge_now_ms();
	lws_sul_schedule(bridge.ctx, 0, &tick_sul, tick, LWS_US_PER_SEC);
}

int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len)
{
	struct wsd *d = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		inbox_drain();
		if (bridge.stopping)
			bridge_shutdown();
		return 0;
	case LWS_CALLBACK_HTTP:
		return serve_http(wsi, (const char *)in);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		listen_handshake_done(wsi);
		return established(wsi, d);
	case LWS_CALLBACK_WSI_DESTROY:
		listen_handshake_done(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return d->c ? receive(wsi, d->c, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (d->c) {
			d->c->last_rx_ms = bridge_now_ms();
			d->c->ping_ms = 0;
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return d->c && d->c->wsi ? conn_write(d->c) : 0;
	case LWS_CALLBACK_CLOSED:
		if (d->c) {
			conn_closed(d->c);
			conn_unref(d->c);
			d->c = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
