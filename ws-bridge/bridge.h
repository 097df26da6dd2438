/*
 * bridge.h - parley-bridge's internal manual (DESIGN §1, §2, §6).
 *
 * Threads and who owns what:
 *
 *   loop     the one libwebsockets event loop (bridge_ws.c). Owns every
 *            connection, user, room, the replay ring and the typing table.
 *            Nothing here ever blocks on MariaDB or memcached.
 *   pool     [bridge] pool_threads workers (bridge_pool.c), each with its
 *            own db and cache handle. They run jobs (auth, client actions,
 *            replay pages, presence) and hand them back to the loop.
 *   stream   one thread (bridge_stream.c) with its own db handle: the
 *            sequencer while it holds GET_LOCK('parley.sequencer'), the
 *            tail of the events table always, and the UDP socket for
 *            nudges and for ephemeral events between bridges.
 *
 * Every other thread talks to the loop through one inbox: a locked list of
 * struct bjob whose done() the loop calls after lws_cancel_service() woke
 * it. A job's run() executes on a pool thread; jobs that come from the
 * stream thread have no run() and carry their result already.
 *
 * Order: the stream thread hands the loop events in pos order and the loop
 * keeps live_pos, the highest pos it has fanned out. A connection receives
 * an event only if its pos is above the connection's last_seq, so nothing
 * is sent twice and nothing out of order, whether it came live, from the
 * in-memory replay ring or from the database.
 */
#ifndef PARLEY_BRIDGE_H
#define PARLEY_BRIDGE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "core/netaddr.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/status.h"

struct config;
struct db;
struct cache;
struct arena;
struct strbuf;

/* ---- ids (bridge_util.c) ------------------------------------------------ */

/* A UUID as 16 bytes: the key of every map. */
struct bid {
	unsigned char b[16];
};

/* Parses a canonical 36-char UUID. 0 or -1. */
int bid_parse(const char *s, struct bid *out);
/* Writes the lowercase canonical form. */
void bid_format(const struct bid *id, char out[IDS_UUID_LEN]);
int bid_eq(const struct bid *a, const struct bid *b);
int bid_is_zero(const struct bid *a);

/*
 * The id an action acts on (a message to edit, a group to join, a
 * conversation to type in), read as the REST API reads the same id in a
 * path or a query string. fields (BID_FIELDS(...)) are alternatives,
 * each the spellings of one field (JSONX_NAMES(...)): the first field
 * that data holds as a string is parsed into *out and its index returned
 * (a field of another type counts as absent). Otherwise -1,
 * with why->code and why->message for the client's error frame:
 * VALIDATION_ERROR and why->missing when there is none (the id is
 * required); NOT_FOUND and why->unknown when it is not an id, as GET
 * /api/v1/groups/not-an-id is a 404; VALIDATION_ERROR naming the later
 * spelling when two spellings of a field disagree, as REST answers such a
 * body (jsonx_field()). The ids inside what message:send creates are not
 * read here: the message service answers those VALIDATION_ERROR, as it
 * does for a POST body.
 */
struct bid_why {
	const char *missing;        /* set by the caller */
	const char *unknown;        /* set by the caller */
	const char *code;
	const char *message;        /* missing, unknown or buf */
	char buf[JSONX_DISAGREE_MAX];
};
#define BID_FIELDS(...) ((const char *const *const[]){ __VA_ARGS__, NULL })
int bid_target(const json_t *data, const char *const *const *fields,
	struct bid *out, struct bid_why *why);
/* The spellings of a group (or conversation) id in client frames. */
extern const char *const bid_group_names[];
/* The spellings of the message id of message:edit and the others. */
extern const char *const bid_message_names[];

/*
 * An open-addressing map from struct bid to a pointer (NULL values are not
 * stored). Owned by one thread. Keys are hashed with a secret drawn by
 * bid_hash_seed(), which main() calls before any map is used.
 */
void bid_hash_seed(void);
struct bmap_slot {
	struct bid key;
	void *val;
};
struct bmap {
	struct bmap_slot *slots;
	size_t cap, n;
};

void bmap_init(struct bmap *m);
void bmap_release(struct bmap *m);
void *bmap_get(const struct bmap *m, const struct bid *key);
/* Inserts or replaces. */
void bmap_put(struct bmap *m, const struct bid *key, void *val);
/* Removes; returns the old value or NULL. */
void *bmap_del(struct bmap *m, const struct bid *key);

/* ---- frames (bridge_util.c) --------------------------------------------- */

/*
 * One serialised server->client frame, shared by every connection that
 * sends it (reference counted, loop thread only once handed over). The text
 * sits after LWS_PRE bytes of headroom so lws_write() can frame it in place.
 * seq is the stream position for replayable events, 0 otherwise; created_ms
 * is the event's commit time (for the lag histogram), 0 if none.
 */
struct frame {
	uint32_t refs;
	uint8_t ephemeral; /* dropped first under back-pressure */
	uint32_t len;
	int64_t seq;
	int64_t created_ms;
	unsigned char buf[];
};

/* A new frame holding a copy of text (refs = 1). */
struct frame *frame_new(const char *text, size_t len, int ephemeral);
static inline unsigned char *
frame_text(struct frame *f)
{
	return f->buf + LWS_PRE;
}
static inline struct frame *
frame_ref(struct frame *f)
{
	f->refs++;
	return f;
}
void frame_unref(struct frame *f);

/*
 * Builds {"type":T,"seq":S,"data":DATA} around already-serialised data
 * (seq omitted when 0) into a new frame.
 */
struct frame *frame_event(const char *type, int64_t seq, const char *data,
	size_t data_len, int ephemeral);
/* Appends s as a JSON string literal (quotes included). */
void json_quote(struct strbuf *sb, const char *s);

/* ---- events (bridge_stream.c, bridge_rooms.c) --------------------------- */

enum target_kind { TARGET_USER = 0, TARGET_CONVERSATION = 1 };

/* What an event does to room membership, found by its type. */
enum member_effect {
	ME_NONE = 0,
	ME_JOIN,     /* member (user) now belongs to room (conv) */
	ME_LEAVE,    /* member left or was removed */
	ME_DROP,     /* the conversation is gone for everyone */
};

struct bevent {
	int64_t pos;
	uint8_t kind;   /* enum target_kind */
	uint8_t effect; /* enum member_effect */
	uint8_t direct; /* ME_JOIN into a direct conversation */
	struct bid target;
	struct bid member; /* ME_JOIN / ME_LEAVE: the user */
	struct bid conv;   /* ME_*: the conversation */
	struct bid peer;   /* ME_JOIN of a direct conversation: the other user */
	struct frame *frame;
};

/*
 * Fills ev from one events row. payload is the stored JSON text; the frame
 * is built here. Thread-safe (no loop state). 0 or -1 (row skipped).
 */
int bevent_from_row(struct bevent *ev, int64_t pos, const char *kind,
	const char *target, const char *type, const char *payload,
	size_t payload_len, int64_t created_ms);
void bevent_release(struct bevent *ev);

/* ---- jobs and the loop's inbox (bridge_pool.c) -------------------------- */

/* A pool thread's handles. */
struct bworker {
	struct db *db;
	struct cache *cache;
	struct arena *arena;
	int index;
};

/*
 * A unit of work. run() executes on a pool thread (NULL: none); done()
 * executes on the loop and must free the job.
 */
struct bjob {
	struct bjob *next;
	void (*run)(struct bjob *j, struct bworker *w);
	void (*done)(struct bjob *j);
};

int pool_start(int nthreads);
/* Stops and joins the threads; pending jobs are dropped (done() not run). */
void pool_stop(void);
/* Queues j for a pool thread. Never blocks. */
void pool_submit(struct bjob *j);
/* Jobs waiting for a thread (for metrics). */
size_t pool_depth(void);
/* Hands j to the loop (any thread): the loop calls j->done(j). */
void inbox_push(struct bjob *j);
/* Loop: runs done() of everything pushed so far. */
void inbox_drain(void);

/* ---- connections (bridge_conn.c) ---------------------------------------- */

enum conn_state {
	CS_NEW,       /* waiting for a token */
	CS_AUTHING,   /* auth job in flight */
	CS_WAITING,   /* authenticated; the user's rooms are loading */
	CS_REPLAYING, /* catching up from since; live events skip it */
	CS_LIVE,
	CS_CLOSED,    /* the socket is gone; the struct lives while refs > 0 */
};

struct buser;

struct held_event {
	int64_t pos;
	struct frame *frame;
};

/*
 * A queued frame. live: an event fanned out as it was committed
 * (conn_send()); only those are timed by the lag histogram, a replay
 * from the ring or the database being as old as the client asked for.
 */
struct qslot {
	struct frame *frame;
	uint8_t live;
};

struct conn {
	struct lws *wsi;     /* NULL once closed */
	struct buser *user;  /* set once authenticated */
	struct conn *unext, *uprev; /* in user->conns */
	struct conn *anext, *aprev; /* in the list of all connections */
	uint32_t refs;
	uint8_t state;       /* enum conn_state */
	uint8_t busy;        /* a job for this connection is in flight */
	uint8_t counted;     /* counted in memcached presence */
	uint8_t ping_due;    /* send a WebSocket ping when writable */
	uint8_t closing;     /* close once the queue is written */
	uint8_t db_replay;   /* a replay page job is in flight */
	uint8_t catch_up;    /* replaying what came while the rooms loaded:
	                      * no "resumed" frame at the end */
	uint16_t close_code;
	uint16_t replay_gen;  /* bumped by each resume; stale pages are dropped */
	/* send queue: ring of frames */
	struct qslot *q;
	uint32_t qhead, qlen, qcap;
	int64_t last_seq;    /* highest seq queued; lower ones are never sent */
	/*
	 * While a replay reads the database up to hold_to (the loop's
	 * position when the page was asked for), the live events after it
	 * that fan-out would give this connection are held here, in order,
	 * so the replay goes live as soon as the database has given it
	 * everything up to hold_to (replay_hold()).
	 */
	struct held_event *held;
	uint32_t nheld;
	uint8_t holding;
	int64_t hold_to;
	int64_t last_rx_ms;
	int64_t ping_ms;     /* when a ping went out (0 = none outstanding) */
	int64_t since;       /* ?since= given on connect, -1 if none; while
	                      * the rooms load, the auth_response seq */
	/* events-per-minute token bucket */
	int64_t tokens;
	int64_t tokens_ms;
	/* a text message being reassembled from fragments */
	char *rx;
	uint32_t rxlen;
	/* rooms this connection unsubscribed from with group:leave */
	struct bid *muted;
	uint16_t nmuted;
	struct bid session;
	char ip[NETADDR_MAX];
	char *token; /* from the handshake, until the auth job takes it */
};

extern struct conn *conns_all; /* every open connection */

struct conn *conn_new(struct lws *wsi);
static inline struct conn *
conn_ref(struct conn *c)
{
	c->refs++;
	return c;
}
void conn_unref(struct conn *c);
/* The socket is gone: drop the queue and detach (bridge_ws.c calls it). */
void conn_closed(struct conn *c);

/*
 * Queues f (borrowed; a reference is taken) for c, a live delivery. A full
 * queue drops f if it is ephemeral, else drops a queued ephemeral frame,
 * else disconnects c as a slow consumer (it can resume losslessly). 0, or
 * -1 if not queued.
 */
int conn_send(struct conn *c, struct frame *f);
/* Replay frames bypass the queue bound (the pages are bounded instead). */
int conn_send_replay(struct conn *c, struct frame *f);
/* Builds and sends a non-event frame from text. */
void conn_send_text(struct conn *c, const char *text, size_t len);
/* Sends {"type":"error","ackId":..,"data":{code,message,retryAfter?}}. */
void conn_send_error(struct conn *c, const char *ack_json, const char *code,
	const char *message, int retry_after);
/* Writes queued frames (from the writable callback). 0, or -1 to close. */
int conn_write(struct conn *c);
/*
 * Frames queued between these two calls (from one loop callback) are
 * written at conn_defer_end() directly, without a writable callback per
 * connection; a connection that cannot take them all is left to one.
 */
void conn_defer_begin(void);
void conn_defer_end(void);
/* Closes after the queued frames are written (code: WebSocket close code). */
void conn_close(struct conn *c, int code, const char *reason);
/* Closes now without flushing (slow consumers, dead peers). */
void conn_kill(struct conn *c);
/* 1 if c stopped listening to conv with group:leave. */
int conn_muted(const struct conn *c, const struct bid *conv);
/*
 * Stops (on) or resumes c's listening to conv: 0, or -1 when c has
 * stopped listening to CONN_MUTED_MAX conversations already (nothing
 * changes). Resuming never fails.
 */
#define CONN_MUTED_MAX 1024
int conn_mute(struct conn *c, const struct bid *conv, int on);

/* ---- users and rooms (bridge_rooms.c) ----------------------------------- */

struct broom;

struct user_room {
	struct broom *room;
	struct bid peer; /* direct conversations: the other member */
	uint8_t direct;
};

/*
 * One user's typing in one room. An entry outlives its typing:stop until
 * COALESCE_MS after the last start went out, so stopping and starting
 * again cannot send more than one start per 3 s (bridge_typing.c).
 */
enum typing_state {
	TY_IDLE,  /* stopped; kept only to remember last_emit_ms */
	TY_SHOWN, /* a start went out; a stop is owed */
	TY_OWED,  /* typing, its start waits for the coalescing window */
};

struct typing_entry {
	struct bid room;
	int64_t last_emit_ms;
	int64_t expires_ms;
	uint8_t direct;
	uint8_t state; /* enum typing_state */
	struct bid peer;
};

enum user_state { US_LOADING, US_READY };

/*
 * A user with at least one authenticated connection on this bridge, or
 * whose last one closed less than USER_RETAIN_MS ago: kept (rooms current
 * through membership events) so a reconnect does not read its rooms again.
 */
struct buser {
	struct bid id;
	uint8_t state;        /* enum user_state */
	uint8_t rooms_job;    /* a rooms load is in flight */
	uint8_t online_pending; /* announce user:online once READY */
	uint16_t nconns;
	struct conn *conns;
	struct user_room *rooms;
	uint32_t nrooms, caprooms;
	struct typing_entry *typing;
	uint8_t ntyping;
	struct buser *tnext, *tprev; /* in the list of users typing */
	uint8_t in_typing_list;
	uint8_t idle;         /* no connections: in the retained list */
	int64_t idle_ms;      /* since when */
	struct buser *inext, *iprev;
};

/*
 * A conversation with at least one local member, connected or retained
 * (USER_RETAIN_MS). nlive counts the users[] that have a connection here:
 * the connected members of presence_room_limit.
 */
struct broom {
	struct bid id;
	struct buser **users;
	uint32_t n, cap;
	uint32_t nlive;
};

struct room_row {
	struct bid conv;
	struct bid peer;
	uint8_t direct;
};

/*
 * Marks x direct (with the peer of uid) if kind, the conversations.kind
 * of x->conv, is DIRECT; direct_key is that row's direct_key.
 */
void room_row_kind(struct room_row *x, const char *kind,
	const char *direct_key, const char *uid);

#define USER_RETAIN_MS 60000

struct buser *users_get(const struct bid *id);
struct buser *users_add(const struct bid *id);
/* Frees u (no connections left): leaves every room. */
void users_remove(struct buser *u);
/* u's last connection closed: kept USER_RETAIN_MS if its rooms are
 * current, else removed now. */
void user_idle(struct buser *u, int64_t now_ms);
/* u has a connection again. */
void user_busy(struct buser *u);
/*
 * u->nconns just went from 0 to 1 (connected) or from 1 to 0: its rooms
 * count it among their connected members (nlive) or stop counting it.
 */
void user_connected(struct buser *u, int connected);
/* Removes users idle for USER_RETAIN_MS (the tick). */
void users_sweep(int64_t now_ms);
/* Users with a connection here (retained ones not counted). */
size_t users_count(void);
size_t rooms_count(void);
/* Replaces u's rooms with rows; u becomes US_READY. */
void user_set_rooms(struct buser *u, const struct room_row *rows, size_t n);
void user_join(struct buser *u, const struct bid *conv, int direct,
	const struct bid *peer);
void user_leave(struct buser *u, const struct bid *conv);
struct user_room *user_room(struct buser *u, const struct bid *conv);
/* The direct conversation u shares with peer, or NULL. */
struct user_room *user_direct_with(struct buser *u, const struct bid *peer);
/* Copies the ids of u's rooms into a new array (caller frees). */
struct bid *user_room_ids(const struct buser *u, size_t *n);
struct broom *rooms_get(const struct bid *id);
/*
 * Applies an event's membership effect (before delivery for joins). A
 * leave or a drop also ends the group:leave of the user's connections.
 */
void rooms_apply(const struct bevent *ev);
/* 1 if a connection of u should get ev (room membership and mutes). */
int rooms_wants(const struct conn *c, const struct bevent *ev);
/* Live fan-out of one sequenced event. */
void rooms_deliver(const struct bevent *ev);
/*
 * Sends an ephemeral frame to every local connection in a room (kind +
 * id), except those of user `except` (may be NULL).
 */
void rooms_send_ephemeral(int kind, const struct bid *room,
	const struct bid *except, struct frame *f);
void rooms_init(void);
void rooms_release(void);

/* ---- replay (bridge_replay.c) ------------------------------------------- */

/* Events read from the database per replay page (and queued at once). */
#define REPLAY_PAGE_ROWS 500

/*
 * Keeps the last [bridge] replay_buffer events for resumes, and the last
 * MEMBER_LOG_EVENTS membership events for the look-back below.
 */
void ring_init(size_t cap, int64_t base_pos);
void ring_release(void);
/* Appends ev (takes its frame reference). */
void ring_push(struct bevent *ev);
/* All events with pos > base are in the ring. */
int64_t ring_base(void);
/* Index of the first event with pos > after, or ring_count() if none. */
size_t ring_find(int64_t after);
size_t ring_count(void);
const struct bevent *ring_at(size_t i);

/*
 * The membership look-back. A user's rooms and the group:join check are
 * read from the database as of a stream position; by the time the loop
 * applies the answer, membership events after that position may have gone
 * by, and must be applied on top. They are kept apart from the replay
 * ring, in order, whatever replay_buffer is (0 included): one per join or
 * leave, not per message, so they reach back much further.
 */
#define MEMBER_LOG_EVENTS 4096

struct mevent {
	int64_t pos;
	uint8_t effect; /* enum member_effect, never ME_NONE */
	uint8_t direct;
	struct bid member, conv, peer; /* as in struct bevent */
};

/*
 * Index of the first membership event after pos (mlog_count() if none),
 * or SIZE_MAX if the log no longer holds every one after pos.
 */
size_t mlog_since(int64_t pos);
size_t mlog_count(void);
const struct mevent *mlog_at(size_t i);
/*
 * Whether user is a member of conv after the membership events past pos,
 * if it was one (member = 1) or not (0) at pos: 1 or 0, or -1 if the log
 * no longer holds every event past pos.
 */
int mlog_membership(const struct bid *user, const struct bid *conv,
	int64_t pos, int member);

/*
 * Starts a resume of c from since (after auth): checks retention in the
 * database, then replays from the database and the ring, then goes live.
 */
void replay_start(struct conn *c, int64_t since);
/* Refills c's queue while it is replaying (after writes). */
void replay_continue(struct conn *c);
/* c goes live at the current position (no replay). */
void replay_go_live(struct conn *c);
/*
 * Fan-out (loop): ev, which c wants, went live while c reads its replay
 * from the database. Kept for the switch to live, up to [bridge]
 * send_queue events; beyond that the hold is given up and the replay
 * reads the rest from the database too.
 */
void replay_hold(struct conn *c, const struct bevent *ev);
/* Drops what c holds (its replay ended, or it closed). */
void replay_hold_release(struct conn *c);

/* ---- the stream thread (bridge_stream.c) -------------------------------- */

int stream_start(void);
void stream_stop(void);
/* 1 while this bridge holds the sequencer lock. */
int stream_is_sequencer(void);

/* ---- UDP: nudges and peers (bridge_nudge.c) ----------------------------- */

enum { NUDGE_WRITE = 1, NUDGE_RELAYED = 2, NUDGE_SEQUENCED = 4 };

/* Binds [bridge] nudge_host:nudge_port (no-op when nudge_port = 0). */
int nudge_open(void);
void nudge_close(void);
int nudge_fd(void);
/*
 * Reads every pending datagram: returns a mask of NUDGE_* seen; ephemeral
 * events from peers go to the loop's inbox.
 */
int nudge_drain(void);
/* Peers (other bridges) as registered in bridge_peers; stream thread. */
void nudge_set_peers(struct db *db, struct arena *a);
/* Tells every peer that new positions were assigned. */
void nudge_peers_sequenced(void);
/* Passes a writer's nudge on to the sequencer if it is another bridge. */
void nudge_relay_to_sequencer(void);
/* Forwards an ephemeral frame for a room to every peer (loop). */
void nudge_forward_ephemeral(int kind, const struct bid *room,
	const struct bid *except, const struct frame *f);
/*
 * Forwards a presence frame about user for a conversation to every peer
 * (loop); each delivers it with presence_deliver().
 */
void nudge_forward_presence(const struct bid *room, const struct bid *user,
	const struct frame *f);
/* This bridge's peer token (for bridge_peers). */
const unsigned char *nudge_token(void);

/* ---- protocol (bridge_protocol.c) --------------------------------------- */

/*
 * Handles one complete text message from c. Every frame but auth and
 * ping, malformed ones included, spends one of c's [bridge]
 * events_per_minute; past them the answer is RATE_LIMIT_EXCEEDED.
 */
void protocol_handle(struct conn *c, const char *text, size_t len);
/*
 * Refuses a message from c that is not read at all (a binary one) with
 * the error code and message, counted as protocol_handle() counts frames.
 */
void protocol_refuse(struct conn *c, const char *code, const char *message);
/* Sends {"type":"ack","ackId":..,"data":DATA} (data_json may be NULL). */
void protocol_ack(struct conn *c, const char *ack_json, const char *type,
	const char *data_json);

/* ---- auth (bridge_auth.c) ----------------------------------------------- */

/* Counts a connection attempt from ip: 0, or seconds until allowed. */
int auth_attempt(const char *ip);
/* Starts authentication of c with token (c->token is taken if NULL). */
void auth_start(struct conn *c, const char *token, const char *ack_json);
/*
 * The periodic check found these sessions revoked. It reports a session
 * for REVOKE_LOOKBACK_S seconds after its revocation (plus the time since
 * the previous check), so a connection that goes live later must have
 * had its session checked within that time (see auth_run()).
 */
#define REVOKE_LOOKBACK_S 15
void auth_revoked(const struct bid *sessions, size_t n);
/* Rooms of u loaded (or reloaded); wakes its waiting connections. */
void auth_user_ready(struct buser *u);
/* Once a second: reads again the rooms that failed to load. */
void auth_retry_rooms(void);

/* ---- client actions through the services (bridge_actions.c) ------------- */

enum action_id {
	ACT_MESSAGE_SEND,
	ACT_MESSAGE_EDIT,
	ACT_MESSAGE_DELETE,
	ACT_MESSAGE_DELIVERED,
	ACT_MESSAGE_SEEN,
	ACT_MESSAGE_REACT,
	ACT_GROUP_JOIN,
};

/*
 * Runs a service action for c on the pool (message:send & co., and the
 * membership check of group:join). data is stolen. ack_json is copied.
 * c does not read further frames until the action is answered, so one
 * connection's actions apply in the order it sent them.
 */
void actions_submit(struct conn *c, int action, json_t *data,
	const char *ack_json);

/* ---- presence (bridge_presence.c) --------------------------------------- */

/* c's user just went from 0 to >= 1 connections everywhere (or here). */
void presence_online(struct buser *u);
/* The last local connection of u closed (c was counted in memcached). */
void presence_disconnect(struct buser *u, int counted);
/* Once a second: writes the collected users.last_seen updates. */
void presence_flush(void);
/*
 * Sends a presence frame about user (user:online, user:offline) to the
 * local connections in a conversation: 0, or -1 (nothing sent) when more
 * than [bridge] presence_room_limit of its members are connected here (a
 * local user who has just left counted with them, so a room that got its
 * user:online gets its user:offline).
 */
int presence_deliver(const struct bid *room, const struct bid *user,
	struct frame *f);
/* Periodic: refresh the memcached TTL of every local user. */
void presence_refresh(void);
/* Shutdown: uncount every local connection (blocking, main thread). */
void presence_shutdown(struct db *db, struct cache *cache);

/* ---- typing (bridge_typing.c) ------------------------------------------- */

/*
 * typing:start / typing:stop from c; returns an enum status for the ack,
 * with why->code and why->message (bid_target()) when it is not ST_OK.
 */
enum status typing_update(struct conn *c, const json_t *data, int start,
	struct bid_why *why);
/* Once a second: automatic typing:stop for silent typists. */
void typing_tick(int64_t now_ms);
/* u's last connection closed: stop everything it was typing. */
void typing_user_gone(struct buser *u);

/* ---- the libwebsockets callback (bridge_ws.c) --------------------------- */

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	void *in, size_t len);
/* Starts the once-a-second tick: heartbeats, typing timeouts, presence. */
void ws_start_tick(void);

/* ---- the listening socket (bridge_listen.c) ---------------------------- */

#define LISTEN_PROTOCOL "parley-listen"

/* Listens on host:port and accepts onto ctx's default vhost, in bites. */
int listen_start(struct lws_context *ctx, const char *host, long port);
/* The protocol callback of LISTEN_PROTOCOL. */
int listen_callback(struct lws *wsi, enum lws_callback_reasons reason,
	void *user, void *in, size_t len);
/* wsi finished its handshake or is going away (bridge_ws.c calls it). */
void listen_handshake_done(struct lws *wsi);
/* Accepted connections still in their handshake (metrics). */
size_t listen_handshaking(void);

/* ---- metrics (bridge_metrics.c) ----------------------------------------- */

enum bmetric {
	BM_CONNECTIONS_TOTAL,
	BM_CONNECTIONS_REJECTED,
	BM_AUTH_FAILURES,
	BM_FRAMES_IN,
	BM_FRAMES_OUT,
	BM_BYTES_OUT,
	BM_DROPS_EPHEMERAL,
	BM_SLOW_CONSUMERS,
	BM_DEAD_PEERS,
	BM_EVENTS_SEQUENCED,
	BM_EVENTS_TAILED,
	BM_EVENTS_FANNED,
	BM_REPLAY_FRAMES,
	BM_REPLAY_PAGES,
	BM_RESYNCS,
	BM_RATE_LIMITED,
	BM_NUDGES_IN,
	BM_PEER_DATAGRAMS_IN,
	BM_PEER_DATAGRAMS_OUT,
	BM_SEQUENCER_TAKEOVERS,
	BM_DB_ERRORS,
	BM_SEQ_BATCHES,
	BM_SEQ_MICROS,
	BM__COUNT
};

void bmetrics_count(enum bmetric m, uint64_t n);
/* One live frame carrying an event committed at created_ms was written
 * (replays are not timed). */
void bmetrics_lag(int64_t created_ms, int64_t now_ms);
void bmetrics_render(struct strbuf *sb);

/* ---- the process (bridge_main.c) ---------------------------------------- */

struct bridge {
	const struct config *cfg;
	struct lws_context *ctx;
	struct bid id;                 /* this bridge instance */
	char id_text[IDS_UUID_LEN];
	int64_t started_ms;
	const char *loop_name;         /* "poll", "libuv", "libev" */

	/* loop thread */
	int64_t live_pos;              /* highest pos fanned out */
	size_t nconns, nauthed;
	char **origins;                /* allowed Origin values */
	size_t norigins;

	/* shared */
	_Atomic int64_t published_pos; /* live_pos for other threads */
	_Atomic int64_t start_pos;     /* MAX(pos) when the stream started */
	_Atomic int stream_ready;      /* the stream thread has read start_pos */
	_Atomic int sequencer;         /* holds the lock */
	_Atomic int64_t min_pos;       /* oldest pos stored (stream refreshes) */
	volatile sig_atomic_t stopping;
};

extern struct bridge bridge;

int64_t bridge_now_ms(void);
/*
 * Loop thread, after SIGTERM: uncounts presence, closes every connection
 * with 1001, and a second later stops the threads and exits.
 */
void bridge_shutdown(void);

#endif
