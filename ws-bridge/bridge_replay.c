/*
 * bridge_replay.c - resuming with ?since=SEQ or {"type":"resume"}.
 *
 * The loop keeps the last [bridge] replay_buffer events in a ring, so a
 * client that reconnects after a blip (or a whole reconnect storm) is
 * caught up from memory. Older gaps are read from the database a page at a
 * time by the pool, filtered by the user's current memberships there.
 *
 * While a connection replays, live fan-out skips it; live events land in
 * the ring, which the replay reaches last, and the switch to live happens
 * in the loop between two events, so there is no gap and no duplicate.
 * A page read up to the loop's position holds what goes live meanwhile
 * (replay_hold()): with a small ring, or none (replay_buffer = 0), each
 * page of a busy stream would otherwise end behind the stream and the
 * resume chase it page after page, maybe for ever.
 * The queue is refilled only as the client reads, so a slow reader costs a
 * bounded amount of memory. A since older than what is stored (purged
 * after [bridge] event_retention_days, or by message retention), even if
 * the ring still holds it, or newer than anything committed gets
 * {"type":"resync_required"}: the client reloads over REST.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/xalloc.h"
#include "core/banned.h"

static struct {
	struct bevent *ev;
	size_t cap, head, n;
	int64_t base; /* every event with pos > base is in the ring */
} R;

/*
 * The membership look-back: the last MEMBER_LOG_EVENTS membership events
 * (ME_JOIN, ME_LEAVE, ME_DROP), kept whatever replay_buffer is. They are
 * one per join or leave, not one per message, and small, so the log
 * reaches back much further than the replay ring (and still does with
 * replay_buffer = 0, when the ring keeps nothing).
 */
static struct {
	struct mevent *ev;
	size_t head, n;
	int64_t base; /* every membership event with pos > base is here */
} M;

static void
mlog_push(const struct bevent *ev)
{
	struct mevent *m;

	if (M.n == MEMBER_LOG_EVENTS) {
		M.base = M.ev[M.head].pos;
		M.head = (M.head + 1) % MEMBER_LOG_EVENTS;
		M.n--;
	}
	m = &M.ev[(M.head + M.n++) % MEMBER_LOG_EVENTS];
	m->pos = ev->pos;
	m->effect = ev->effect;
	m->direct = ev->direct;
	m->member = ev->member;
	m->conv = ev->conv;
	m->peer = ev->peer;
}

void
ring_init(size_t cap, int64_t base_pos)
{
	R.ev = cap ? xcalloc(cap, sizeof(*R.ev)) : NULL;
	R.cap = cap;
	R.head = R.n = 0;
	R.base = base_pos;
	M.ev = xcalloc(MEMBER_LOG_EVENTS, sizeof(*M.ev));
	M.head = M.n = 0;
	M.base = base_pos;
}

void
ring_release(void)
{
	for (size_t i = 0; i < R.n; i++)
		bevent_release(&R.ev[(R.head + i) % R.cap]);
	free(R.ev);
	memset(&R, 0, sizeof(R));
	free(M.ev);
	memset(&M, 0, sizeof(M));
}

void
ring_push(struct bevent *ev)
{
	if (ev->effect != ME_NONE)
		mlog_push(ev);
	if (!R.cap) {
		R.base = ev->pos;
		bevent_release(ev);
		return;
	}
	if (R.n == R.cap) {
		struct bevent *old = &R.ev[R.head];

		R.base = old->pos;
		bevent_release(old);
		R.head = (R.head + 1) % R.cap;
		R.n--;
	}
	R.ev[(R.head + R.n) % R.cap] = *ev;
	ev->frame = NULL;
	R.n++;
}

int64_t
ring_base(void)
{
	return R.base;
}

size_t
ring_count(void)
{
	return R.n;
}

const struct bevent *
ring_at(size_t i)
{
	return &R.ev[(R.head + i) % R.cap];
}

/* The first of n positions (ascending, pos_at(i)) above after, or n. */
static size_t
first_after(size_t n, int64_t (*pos_at)(size_t), int64_t after)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pos_at(mid) <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int64_t
ring_pos(size_t i)
{
	return ring_at(i)->pos;
}

size_t
ring_find(int64_t after)
{
	return first_after(R.n, ring_pos, after);
}

const struct mevent *
mlog_at(size_t i)
{
	return &M.ev[(M.head + i) % MEMBER_LOG_EVENTS];
}

static int64_t
mlog_pos(size_t i)
{
	return mlog_at(i)->pos;
}

size_t
mlog_since(int64_t pos)
{
	return pos < M.base ? SIZE_MAX : first_after(M.n, mlog_pos, pos);
}

size_t
mlog_count(void)
{
	return M.n;
}

int
mlog_membership(const struct bid *user, const struct bid *conv, int64_t pos,
	int member)
{
	size_t i = mlog_since(pos);

	if (i == SIZE_MAX)
		return -1;
	for (; i < mlog_count(); i++) {
		const struct mevent *ev = mlog_at(i);

		if (!bid_eq(&ev->conv, conv))
			continue;
		if (ev->effect == ME_JOIN && (bid_eq(&ev->member, user) ||
		    (ev->direct && bid_eq(&ev->peer, user))))
			member = 1;
		else if (ev->effect == ME_DROP ||
		    (ev->effect == ME_LEAVE && bid_eq(&ev->member, user)))
			member = 0;
	}
	return member;
}

static void
send_resync(struct conn *c, int64_t since)
{
	char buf[160];
	int n;

	n = snprintf(buf, sizeof(buf), "{\"type\":\"resync_required\",\"data\":"
	    "{\"since\":%lld,\"seq\":%lld}}", (long long)since,
	    (long long)bridge.live_pos);
	conn_send_text(c, buf, (size_t)n);
	bmetrics_count(BM_RESYNCS, 1);
	replay_hold_release(c); /* live from the current position */
	/* That is the seq just announced, also when since was ahead of it
	 * (unknown to the database): kept as last_seq, it would silence
	 * every event up to since. */
	c->last_seq = bridge.live_pos;
	c->state = CS_LIVE;
	replay_go_live(c);
}

void
replay_hold(struct conn *c, const struct bevent *ev)
{
	uint32_t cap = (uint32_t)bridge.cfg->bridge_send_queue;

	if (ev->kind == TARGET_CONVERSATION && c->nmuted &&
	    conn_muted(c, &ev->target))
		return;
	if (c->nheld == cap) {
		/* More than the client could have queued: the database has
		 * these too, and the replay reads them from there. */
		replay_hold_release(c);
		return;
	}
	if (!c->held)
		c->held = xmalloc(cap * sizeof(*c->held));
	c->held[c->nheld].pos = ev->pos;
	c->held[c->nheld++].frame = frame_ref(ev->frame);
}

void
replay_hold_release(struct conn *c)
{
	for (uint32_t i = 0; i < c->nheld; i++)
		frame_unref(c->held[i].frame);
	free(c->held);
	c->held = NULL;
	c->nheld = 0;
	c->holding = 0;
}

void
replay_go_live(struct conn *c)
{
	char buf[96];
	int n;

	/* What went live while the last page was read, then live. */
	for (uint32_t i = 0; i < c->nheld; i++) {
		if (c->held[i].pos <= c->last_seq)
			continue;
		conn_send_replay(c, c->held[i].frame);
		c->last_seq = c->held[i].pos;
	}
	replay_hold_release(c);
	if (c->last_seq < bridge.live_pos)
		c->last_seq = bridge.live_pos;
	if (c->state == CS_REPLAYING && !c->catch_up) {
		/* Tells the client the replay is complete; live from here. */
		n = snprintf(buf, sizeof(buf), "{\"type\":\"resumed\",\"data\":"
		    "{\"seq\":%lld}}", (long long)c->last_seq);
		conn_send_text(c, buf, (size_t)n);
	}
	c->catch_up = 0;
	c->state = CS_LIVE;
}

/* ---- a page from the database ---- */

struct page_job {
	struct bjob job;
	struct conn *c;
	uint16_t gen;
	char user[IDS_UUID_LEN];
	int64_t from, to, next;
	int resync;   /* from is older than the oldest stored event */
	int ahead;    /* from is newer than anything committed */
	int failed;
	size_t n;
	struct bevent *ev;
};

static void
page_run(struct bjob *j, struct bworker *w)
{
	struct page_job *p = (struct page_job *)j;
	struct db_rows rows, lo;

	if (p->from >= p->to) {
		/* Beyond this bridge's position: does that seq exist at all? */
		if (db_query(w->db, w->arena, &rows,
		    "SELECT COALESCE(MAX(pos), 0) AS hi FROM events", "") == -1 ||
		    rows.nrows != 1) {
			p->failed = 1;
			return;
		}
		p->ahead = p->from > db_get_int(&rows, 0, "hi");
		p->next = p->from;
		return;
	}
	/* The oldest stored position as the stream thread last saw it (every
	 * few seconds): a purge since then has only made it newer, so this
	 * answers early for a since that was already too old then... */
	if (p->from + 1 < atomic_load(&bridge.min_pos)) {
		p->resync = 1;
		return;
	}
	/* The user's rooms as load_rooms() reads them: a deleted group
	 * keeps its members rows, but is no one's room any more. */
	if (db_query(w->db, w->arena, &rows,
	    "SELECT pos, target_kind, target_id, type, payload,"
	    " FLOOR(UNIX_TIMESTAMP(created_at) * 1000) AS ms FROM events"
	    " WHERE pos > ? AND pos <= ? AND ((target_kind = 'USER' AND"
	    " target_id = ?) OR (target_kind = 'CONVERSATION' AND target_id IN"
	    " (SELECT m.conversation_id FROM members m JOIN conversations c"
	    " ON c.id = m.conversation_id WHERE m.user_id = ?"
	    " AND c.deleted_at IS NULL)))"
	    " ORDER BY pos LIMIT ?", "iissi", p->from, p->to, p->user,
	    p->user, (int64_t)REPLAY_PAGE_ROWS) == -1) {
		p->failed = 1;
		return;
	}
	/* ...and this, after the page was read, catches a purge of the rows
	 * just after from that the stale figure missed: the page would start
	 * at the first survivor and the client would miss the rest. */
	if (db_query(w->db, w->arena, &lo, "SELECT COALESCE(MIN(pos), 0) AS lo"
	    " FROM events", "") == -1 || lo.nrows != 1) {
		p->failed = 1;
		return;
	}
	if (p->from + 1 < db_get_int(&lo, 0, "lo")) {
		p->resync = 1;
		return;
	}
	p->ev = xcalloc(rows.nrows + 1, sizeof(*p->ev));
	for (size_t r = 0; r < rows.nrows; r++)
		if (bevent_from_row(&p->ev[p->n], db_get_int(&rows, r, "pos"),
		    db_get(&rows, r, "target_kind"),
		    db_get(&rows, r, "target_id"), db_get(&rows, r, "type"),
		    db_get(&rows, r, "payload"), rows.lens[r * rows.ncols + 4],
		    db_get_int(&rows, r, "ms")) == 0)
			p->n++;
	p->next = rows.nrows == REPLAY_PAGE_ROWS ?
	    db_get_int(&rows, rows.nrows - 1, "pos") : p->to;
}

static void
page_free(struct page_job *p)
{
	for (size_t i = 0; i < p->n; i++)
		bevent_release(&p->ev[i]);
	free(p->ev);
	conn_unref(p->c);
	free(p);
}

static void
page_done(struct bjob *j)
{
	struct page_job *p = (struct page_job *)j;
	struct conn *c = p->c;

	c->db_replay--;
	if (!c->wsi || c->state != CS_REPLAYING) {
		page_free(p);
		return;
	}
	if (p->gen != c->replay_gen) {
		/* A newer resume started meanwhile: this page is not its. */
		page_free(p);
		replay_continue(c);
		return;
	}
	if (p->failed) {
		conn_send_error(c, NULL, "SERVICE_UNAVAILABLE",
		    "Cannot replay missed events now; reconnect with since",
		    1);
		conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL);
	} else if (p->resync || p->ahead) {
		/* Older than anything stored, or newer than anything
		 * committed: either way the gap cannot be filled. */
		send_resync(c, p->from);
	} else {
		for (size_t i = 0; i < p->n; i++) {
			struct bevent *ev = &p->ev[i];

			if (ev->pos <= c->last_seq)
				continue;
			if (ev->kind == TARGET_CONVERSATION && c->nmuted &&
			    conn_muted(c, &ev->target))
				continue;
			conn_send_replay(c, ev->frame);
			c->last_seq = ev->pos;
		}
		if (c->last_seq < p->next)
			c->last_seq = p->next;
		replay_continue(c);
	}
	page_free(p);
}

static void
page_submit(struct conn *c, int64_t from, int64_t to)
{
	struct page_job *p = xcalloc(1, sizeof(*p));

	p->job.run = page_run;
	p->job.done = page_done;
	p->c = conn_ref(c);
	p->gen = c->replay_gen;
	bid_format(&c->user->id, p->user);
	p->from = from;
	p->to = to;
	if (from < to) {
		bmetrics_count(BM_REPLAY_PAGES, 1);
		/* Up to where the loop is: hold what goes live meanwhile,
		 * else each page of a busy stream would find more after it. */
		if (!c->holding && to == bridge.live_pos) {
			c->holding = 1;
			c->hold_to = to;
		}
	}
	c->db_replay++;
	pool_submit(&p->job);
}

void
replay_continue(struct conn *c)
{
	uint32_t budget = (uint32_t)bridge.cfg->bridge_send_queue / 2 + 1;
	size_t i;

	if (c->state != CS_REPLAYING || c->db_replay || !c->wsi ||
	    c->qlen >= budget)
		return;
	if (c->holding && c->last_seq >= c->hold_to) {
		/* The database gave everything up to hold_to; the rest is
		 * held, in order: live from here. */
		replay_go_live(c);
		return;
	}
	if (c->last_seq < ring_base()) {
		page_submit(c, c->last_seq, c->holding ? c->hold_to :
		    ring_base());
		return;
	}
	/* The ring may still hold events the database no longer has (purged
	 * by age or by message retention, core/retention.h): it replays
	 * nothing the database would not. */
	if (c->last_seq + 1 < atomic_load(&bridge.min_pos)) {
		send_resync(c, c->last_seq);
		return;
	}
	for (i = ring_find(c->last_seq); i < ring_count() && budget; i++) {
		const struct bevent *ev = ring_at(i);

		if (rooms_wants(c, ev)) {
			conn_send_replay(c, ev->frame);
			budget--;
		}
		c->last_seq = ev->pos;
	}
	if (i == ring_count())
		replay_go_live(c);
}

void
replay_start(struct conn *c, int64_t since)
{
	replay_hold_release(c); /* an earlier resume's: the database has it */
	c->state = CS_REPLAYING;
	c->last_seq = since;
	c->replay_gen++;
	if (since > bridge.live_pos) {
		/* Ahead of this bridge: is it merely behind the others, or is
		 * that seq unknown to the database too? */
		page_submit(c, since, bridge.live_pos);
		return;
	}
	replay_continue(c);
}
