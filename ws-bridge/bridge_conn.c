/*
 * bridge_conn.c - one client connection and its bounded send queue.
 *
 * A struct conn outlives its socket while jobs still point at it (refs):
 * lws holds one reference until LWS_CALLBACK_CLOSED, each job in flight
 * another. The send queue is a ring of shared frames, allocated only while
 * something is queued so idle connections cost no queue memory. It is
 * bounded by [bridge] send_queue: a full queue drops ephemeral frames
 * (typing, presence) first, then disconnects the slow consumer, which can
 * come back with ?since= and lose nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/config.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "core/banned.h"

/* lws 4.1's private LWS_WRITE_CLOSE (the public enum leaves 4 for it). */
#define WRITE_CLOSE ((enum lws_write_protocol)4)

struct conn *conns_all;

struct conn *
conn_new(struct lws *wsi)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->wsi = wsi;
	c->refs = 1;
	c->state = CS_NEW;
	c->since = -1;
	c->last_rx_ms = bridge_now_ms();
	c->tokens = bridge.cfg->bridge_events_per_minute * 1000;
	c->tokens_ms = c->last_rx_ms;
	c->anext = conns_all;
	if (conns_all)
		conns_all->aprev = c;
	conns_all = c;
	bridge.nconns++;
	return c;
}

static void
queue_clear(struct conn *c)
{
	while (c->qlen) {
		frame_unref(c->q[c->qhead].frame);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
	}
	free(c->q);
	c->q = NULL;
	c->qcap = c->qhead = 0;
}

void
conn_closed(struct conn *c)
{
	struct buser *u = c->user;

	c->wsi = NULL;
	c->state = CS_CLOSED;
	queue_clear(c);
	replay_hold_release(c);
	free(c->rx);
	c->rx = NULL;
	free(c->token);
	c->token = NULL;
	if (c->aprev)
		c->aprev->anext = c->anext;
	else if (conns_all == c)
		conns_all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->anext = c->aprev = NULL;
	bridge.nconns--;
	if (!u)
		return;
	if (c->uprev)
		c->uprev->unext = c->unext;
	else
		u->conns = c->unext;
	if (c->unext)
		c->unext->uprev = c->uprev;
	c->user = NULL;
	u->nconns--;
	bridge.nauthed--;
	if (u->nconns == 0) {
		user_connected(u, 0);
		typing_user_gone(u);
	}
	presence_disconnect(u, c->counted);
	c->counted = 0;
	if (u->nconns == 0)
		user_idle(u, bridge_now_ms());
}

void
conn_unref(struct conn *c)
{
	if (--c->refs)
		return;
	free(c->muted);
	free(c);
}

/*
 * Between conn_defer_begin() and conn_defer_end() the connections that get
 * something to send are collected and then written directly, instead of
 * each asking lws for a writable callback: with the libuv loop every such
 * request costs epoll_ctl() calls to turn POLLOUT on and off again, more
 * than the send itself.
 */
static struct conn **deferred;
static size_t ndeferred, capdeferred;
static int deferring;

static void
want_write(struct conn *c)
{
	if (!deferring) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (ndeferred == capdeferred) {
		capdeferred = capdeferred ? capdeferred * 2 : 64;
		deferred = xrealloc(deferred, capdeferred * sizeof(*deferred));
	}
	deferred[ndeferred++] = conn_ref(c);
}

void
conn_defer_begin(void)
{
	deferring = 1;
}

void
conn_defer_end(void)
{
	deferring = 0;
	for (size_t i = 0; i < ndeferred; i++) {
		struct conn *c = deferred[i];

		if (c->wsi && c->qlen) {
			if (lws_send_pipe_choked(c->wsi))
				lws_callback_on_writable(c->wsi);
			else if (conn_write(c) == -1)
				conn_kill(c);
		}
		conn_unref(c);
	}
	ndeferred = 0;
}

static void
queue_push(struct conn *c, struct frame *f, int live)
{
	struct qslot *slot;

	if (c->qlen == c->qcap) {
		uint32_t cap = c->qcap ? c->qcap * 2 : 8;
		struct qslot *q = xmalloc(cap * sizeof(*q));

		for (uint32_t i = 0; i < c->qlen; i++)
			q[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = q;
		c->qcap = cap;
		c->qhead = 0;
	}
	slot = &c->q[(c->qhead + c->qlen) % c->qcap];
	slot->frame = frame_ref(f);
	slot->live = (uint8_t)(live != 0);
	if (c->qlen++ == 0)
		want_write(c);
}

/* Drops the oldest queued ephemeral frame; 0 if there was none. */
static int
drop_ephemeral(struct conn *c)
{
	for (uint32_t i = 0; i < c->qlen; i++) {
		uint32_t at = (c->qhead + i) % c->qcap;

		if (!c->q[at].frame->ephemeral)
			continue;
		frame_unref(c->q[at].frame);
		for (; i + 1 < c->qlen; i++) {
			uint32_t to = (c->qhead + i) % c->qcap;

			c->q[to] = c->q[(to + 1) % c->qcap];
		}
		c->qlen--;
		return 1;
	}
	return 0;
}

int
conn_send(struct conn *c, struct frame *f)
{
	if (!c->wsi || c->closing)
		return -1;
	/* A full queue may only mean that a batch of events came at once
	 * (a bridge catching up delivers hundreds in one go): give the
	 * socket what it takes now before calling the peer slow. */
	if (c->qlen >= bridge.cfg->bridge_send_queue &&
	    !lws_send_pipe_choked(c->wsi) && conn_write(c) == -1) {
		conn_kill(c);
		return -1;
	}
	if (c->qlen >= bridge.cfg->bridge_send_queue) {
		if (f->ephemeral || !drop_ephemeral(c)) {
			if (f->ephemeral) {
				bmetrics_count(BM_DROPS_EPHEMERAL, 1);
				return -1;
			}
			bmetrics_count(BM_SLOW_CONSUMERS, 1);
			conn_kill(c);
			return -1;
		}
		bmetrics_count(BM_DROPS_EPHEMERAL, 1);
	}
	queue_push(c, f, 1);
	return 0;
}

/*
 * The most frames a connection may have queued whatever their kind. A
 * replay adds only to a queue under half full, a database page or half a
 * queue from the ring at a time, and at the end what went live meanwhile
 * (held: less than one queue), so it stays below; replies to requests
 * share the bound.
 */
static uint32_t
queue_hard_max(void)
{
	return 2 * (uint32_t)bridge.cfg->bridge_send_queue + REPLAY_PAGE_ROWS;
}

int
conn_send_replay(struct conn *c, struct frame *f)
{
	if (!c->wsi || c->closing)
		return -1;
	/* The replay moves past what it queues: a frame dropped here would
	 * be lost, so a peer this far behind goes, and resumes. */
	if (c->qlen >= queue_hard_max()) {
		bmetrics_count(BM_SLOW_CONSUMERS, 1);
		conn_kill(c);
		return -1;
	}
	queue_push(c, f, 0);
	bmetrics_count(BM_REPLAY_FRAMES, 1);
	return 0;
}

void
conn_send_text(struct conn *c, const char *text, size_t len)
{
	struct frame *f;

	if (!c->wsi)
		return;
	/* Replies answer requests one at a time, but a client that floods
	 * us with bad frames and never reads must not grow the queue. The
	 * bound leaves room for a whole replay page on top (a client that
	 * acks what it is being replayed is not a slow consumer). */
	if (c->qlen >= queue_hard_max()) {
		bmetrics_count(BM_SLOW_CONSUMERS, 1);
		conn_kill(c);
		return;
	}
	f = frame_new(text, len, 0);
	if (!c->closing)
		queue_push(c, f, 0);
	frame_unref(f);
}

void
conn_send_error(struct conn *c, const char *ack_json, const char *code,
	const char *message, int retry_after)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "{\"type\":\"error\"");
	if (ack_json)
		strbuf_addf(&sb, ",\"ackId\":%s", ack_json);
	strbuf_adds(&sb, ",\"code\":");
	json_quote(&sb, code);
	strbuf_adds(&sb, ",\"message\":");
	json_quote(&sb, message ? message : code);
	if (retry_after > 0)
		strbuf_addf(&sb, ",\"retryAfter\":%d", retry_after);
	strbuf_adds(&sb, ",\"data\":{\"code\":");
	json_quote(&sb, code);
	strbuf_adds(&sb, ",\"message\":");
	json_quote(&sb, message ? message : code);
	if (retry_after > 0)
		strbuf_addf(&sb, ",\"retryAfter\":%d", retry_after);
	strbuf_adds(&sb, "}}");
	conn_send_text(c, sb.buf, sb.len);
	strbuf_release(&sb);
}

/*
 * One writable callback sends what is queued in one send(): the frames are
 * framed here (server frames are unmasked, and no extension is negotiated)
 * and written raw. The batch stays within the protocol's tx_packet_size
 * (bridge_main.c) so lws writes it in one piece.
 */
#define BATCH_MAX 65536

static unsigned char batch[LWS_PRE + BATCH_MAX];

/* Writes a final text frame header for len bytes at h; returns its size. */
static size_t
ws_header(unsigned char *h, size_t len)
{
	h[0] = 0x81;
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	return 10;
}

/* How many queued frames fit one batch (at least one). */
static uint32_t
batch_count(const struct conn *c)
{
	size_t total = 0;
	uint32_t n;

	for (n = 0; n < c->qlen; n++) {
		const struct frame *f = c->q[(c->qhead + n) % c->qcap].frame;

		total += 10 + f->len;
		if (total > BATCH_MAX)
			break;
	}
	return n ? n : 1;
}

/* Writes the first n queued frames; 0 or -1. */
static int
write_batch(struct conn *c, uint32_t n)
{
	struct frame *f = c->q[c->qhead].frame;
	unsigned char *p = batch + LWS_PRE;
	size_t len;

	if (n == 1)
		return lws_write(c->wsi, frame_text(f), f->len,
		    LWS_WRITE_TEXT) < (int)f->len ? -1 : 0;
	for (uint32_t i = 0; i < n; i++) {
		f = c->q[(c->qhead + i) % c->qcap].frame;
		p += ws_header(p, f->len);
		memcpy(p, frame_text(f), f->len);
		p += f->len;
	}
	len = (size_t)(p - (batch + LWS_PRE));
	return lws_write(c->wsi, batch + LWS_PRE, len, LWS_WRITE_RAW) <
	    (int)len ? -1 : 0;
}

int
conn_write(struct conn *c)
{
	int64_t now = 0;

	if (c->ping_due) {
		/* lws reports no LWS_CALLBACK_RECEIVE_PONG for an empty pong,
		 * so the ping carries a payload for the peer to echo. */
		unsigned char ping[LWS_PRE + 8];

		c->ping_due = 0;
		c->ping_ms = bridge_now_ms();
		memcpy(ping + LWS_PRE, &c->ping_ms, 8);
		if (lws_write(c->wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
			return -1;
		if (lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	while (c->qlen) {
		uint32_t n = batch_count(c);

		if (write_batch(c, n) == -1)
			return -1;
		for (; n; n--) {
			struct frame *f = c->q[c->qhead].frame;

			bmetrics_count(BM_FRAMES_OUT, 1);
			bmetrics_count(BM_BYTES_OUT, f->len);
			if (c->q[c->qhead].live && f->created_ms) {
				if (!now)
					now = bridge_now_ms();
				bmetrics_lag(f->created_ms, now);
			}
			frame_unref(f);
			c->qhead = (c->qhead + 1) % c->qcap;
			c->qlen--;
		}
		if (lws_send_pipe_choked(c->wsi))
			break;
	}
	if (c->qlen) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	/* Idle connections hold no queue memory. */
	free(c->q);
	c->q = NULL;
	c->qcap = c->qhead = 0;
	if (c->state == CS_REPLAYING)
		replay_continue(c);
	if (c->closing && c->qlen == 0) {
		/* The close frame is written here rather than left to
		 * lws_close_reason(): with the libuv loop lws 4.1 drops it. */
		unsigned char frame[LWS_PRE + 2];

		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
		lws_write(c->wsi, frame + LWS_PRE, 2, WRITE_CLOSE);
		return -1;
	}
	return 0;
}

void
conn_close(struct conn *c, int code, const char *reason)
{
	if (!c->wsi || c->closing)
		return;
	c->closing = 1;
	c->close_code = (uint16_t)code;
	lws_callback_on_writable(c->wsi);
	/* A peer that never reads must not keep us waiting. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

void
conn_kill(struct conn *c)
{
	if (!c->wsi)
		return;
	c->closing = 1;
	/* Should a writable callback come first, its close frame needs a
	 * valid code: a slow or flooding peer broke the policy. */
	if (!c->close_code)
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int
conn_muted(const struct conn *c, const struct bid *conv)
{
	for (uint16_t i = 0; i < c->nmuted; i++)
		if (bid_eq(&c->muted[i], conv))
			return 1;
	return 0;
}

int
conn_mute(struct conn *c, const struct bid *conv, int on)
{
	for (uint16_t i = 0; i < c->nmuted; i++)
		if (bid_eq(&c->muted[i], conv)) {
			if (!on)
				c->muted[i] = c->muted[--c->nmuted];
			return 0;
		}
	if (!on)
		return 0;
	/* Every event for the connection scans the list. */
	if (c->nmuted >= CONN_MUTED_MAX)
		return -1;
	c->muted = xrealloc(c->muted, (c->nmuted + 1u) * sizeof(*c->muted));
	c->muted[c->nmuted++] = *conv;
	return 0;
}
