"""The bridge under failure and load: crashes, several bridges, limits.

These stop and start the stack's bridge (marked destructive; the stack is
restored before each test returns) or run private bridges beside it.
"""

import json
import os
import random
import signal
import socket
import threading
import time
import uuid

import pytest
import requests
import websocket

from parley_api import assert_ok, metric_value, wait_until
from test_bridge import (WS, PrivateBridge, connect, create_group, fake_ip,  # noqa: F401
                         first_answer, private_bridge, received, send_message)


def _bridge_url():
    return os.environ["PARLEY_BRIDGE_URL"]


def _stack_bridge_up():
    try:
        return requests.get(_bridge_url() + "/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def restore_bridge(stack):
    yield stack
    if not _stack_bridge_up():
        stack("bridge-start")


class Sender(threading.Thread):
    """Posts messages to a group from several users until stopped."""

    def __init__(self, api, senders, gid, interval=0.05, limit=60):
        super().__init__(daemon=True)
        self.api, self.senders, self.gid = api, senders, gid
        self.interval, self.limit = interval, limit
        self.stop = threading.Event()
        self.sent = []
        self.errors = []

    def run(self):
        i = 0
        while not self.stop.is_set() and i < self.limit:
            s = self.senders[i % len(self.senders)]
            try:
                self.sent.append(send_message(self.api, s, gid=self.gid,
                                              content="seq-test %d" % i)["id"])
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
            i += 1
            time.sleep(self.interval)


def _committed(db, gid):
    with db.cursor() as c:
        c.execute("SELECT id FROM messages WHERE conversation_id = %s", (gid,))
        return {r["id"] for r in c.fetchall()}


def _check_stream(frames_lists, committed):
    """Union of received message ids == committed; no duplicate after dedup
    by seq; seqs strictly increasing per connection."""
    by_seq = {}
    for frames in frames_lists:
        seqs = [f["seq"] for f in frames]
        dedup = []
        for s in seqs:
            if not dedup or s > dedup[-1]:
                dedup.append(s)
            else:
                assert s in dedup, "a seq went backwards without being a duplicate: %s" % seqs
        for f in frames:
            if f["type"] == "message:received":
                prev = by_seq.setdefault(f["seq"], f["data"]["id"])
                assert prev == f["data"]["id"], "one seq, two messages"
    ids = list(by_seq.values())
    assert len(ids) == len(set(ids)), "a message arrived under two seqs"
    assert set(ids) == committed, "missing %s, unexpected %s" % (
        committed - set(ids), set(ids) - committed)


@pytest.mark.destructive
def test_kill9_bridge_resume_is_lossless(api, make_user, db, restore_bridge):
    stack = restore_bridge
    s1, s2, r1, r2 = make_user(), make_user(), make_user(), make_user()
    gid = create_group(api, s1, [s2, r1, r2])
    socks = {u.id: connect(u) for u in (r1, r2)}
    frames = {u.id: [] for u in (r1, r2)}
    sender = Sender(api, [s1, s2], gid, interval=0.05, limit=50)
    sender.start()
    wait_until(lambda: len(sender.sent) >= 10, 20, what="first messages")
    stack("bridge-kill")
    for u in (r1, r2):
        socks[u.id].wait_closed(timeout=5)
        frames[u.id].extend(socks[u.id].events())
    time.sleep(0.5)  # messages keep being committed while no bridge runs
    stack("bridge-start")
    for u in (r1, r2):
        since = max([f["seq"] for f in frames[u.id]] or [0])
        ws = WS(token=u.token, since=since)
        ws.authed()
        ws.wait(lambda f: f.get("type") in ("resumed", "resync_required"), 10)
        assert not ws.of_type("resync_required")
        socks[u.id] = ws
    sender.join(timeout=30)
    assert not sender.errors, sender.errors
    committed = _committed(db, gid)
    assert len(committed) == len(sender.sent)
    for u in (r1, r2):
        wait_until(lambda u=u: {f["data"]["id"] for f in socks[u.id].of_type("message:received")}
                   | {f["data"]["id"] for f in frames[u.id] if f["type"] == "message:received"}
                   >= committed, 15, what="every committed message")
        frames[u.id].extend(socks[u.id].events())
        _check_stream([frames[u.id]], committed)
        # order: each sender's messages arrive in the order they were sent
        order = [f["data"]["id"] for f in sorted(
            {f["seq"]: f for f in frames[u.id] if f["type"] == "message:received"}.values(),
            key=lambda f: f["seq"])]
        assert [m for m in order if m in sender.sent[0::2]] == sender.sent[0::2]
        socks[u.id].close()


def test_two_bridges_everyone_gets_everything(api, make_user, private_bridge):
    b2 = private_bridge()
    users = [make_user() for _ in range(4)]
    gid = create_group(api, users[0], users[1:])
    # two clients through the stack's bridge, two on the private one
    socks = [connect(users[0]), connect(users[1]),
             connect(users[2], url=b2.url), connect(users[3], url=b2.url)]
    time.sleep(2.5)  # the new bridge announces itself in bridge_peers
    sent = [send_message(api, users[i % 4], gid=gid)["id"] for i in range(8)]
    for ws in socks:
        for mid in sent:
            ws.wait(lambda f, m=mid: f.get("type") == "message:received" and
                    f["data"]["id"] == m, 5)
    seqs = [[f["seq"] for f in ws.of_type("message:received")] for ws in socks]
    assert all(s == seqs[0] for s in seqs), "same seqs on both bridges"
    # typing crosses bridges without the database
    socks[0].request("typing:start", {"groupId": gid})
    socks[3].wait_type("typing:start", userId=users[0].id)
    for ws in socks:
        ws.close()


@pytest.mark.destructive
def test_killing_the_sequencer_keeps_delivery_going(api, make_user, private_bridge,
                                                    restore_bridge, db):
    stack = restore_bridge
    b2 = private_bridge()
    wait_until(_stack_bridge_up, 10, what="stack bridge")

    def holder():
        s = requests.get(_bridge_url() + "/health", timeout=2).json()["data"]["sequencer"]
        p = b2.health()["sequencer"]
        return "stack" if s and not p else "private" if p and not s else None
    first_holder = wait_until(holder, 10, what="exactly one sequencer")
    users = [make_user() for _ in range(5)]
    gid = create_group(api, users[0], users[1:])
    on_stack = [connect(users[1]), connect(users[2])]
    on_b2 = [connect(users[3], url=b2.url), connect(users[4], url=b2.url)]
    first = send_message(api, users[0], gid=gid)
    for ws in on_stack + on_b2:
        ws.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == first["id"])
    # kill -9 whoever numbers the events; the survivor takes the lock over
    if first_holder == "stack":
        stack("bridge-kill")
        survivors = on_b2
        wait_until(lambda: b2.health()["sequencer"], 10, what="the private bridge takes over")
    else:
        b2.kill(9)
        survivors = on_stack
        wait_until(lambda: requests.get(_bridge_url() + "/health", timeout=2)
                   .json()["data"]["sequencer"], 10, what="the stack bridge takes over")
    after = [send_message(api, users[0], gid=gid)["id"] for _ in range(5)]
    for ws in survivors:
        for mid in after:
            ws.wait(lambda f, m=mid: f.get("type") == "message:received" and
                    f["data"]["id"] == m, 5)
    committed = _committed(db, gid)
    for ws in survivors:
        _check_stream([ws.events()], committed)
    for ws in on_stack + on_b2:
        ws.close()
    if first_holder == "stack":
        stack("bridge-start")
        wait_until(_stack_bridge_up, 20, what="stack bridge back")
        # both deliver again, whoever holds the lock now
        w0 = connect(users[0])
        w4 = connect(users[4], url=b2.url)
        last = send_message(api, users[1], gid=gid)
        for ws in (w0, w4):
            ws.wait(lambda f: f.get("type") == "message:received" and
                    f["data"]["id"] == last["id"])
            ws.close()


# ------------------------------------------------------------------ limits
def test_sixth_connection_is_refused(make_user):
    u = make_user()
    socks = [connect(u) for _ in range(5)]
    sixth = WS(token=u.token)
    f = sixth.wait_type("auth_response")
    assert f["status"] == "error" and f["data"]["code"] == "MAX_CONNECTIONS_EXCEEDED"
    assert sixth.wait_closed() == 1008
    socks.pop().close()

    def room_again():
        ws = WS(token=u.token)
        f = ws.wait_type("auth_response")
        if f["status"] == "success":
            socks.append(ws)
            return True
        ws.close()
        return False
    wait_until(room_again, 5, interval=0.3, what="a free slot after a close")
    for ws in socks:
        ws.close()


def test_oversized_frame_closes_1009(make_user):
    ws = connect(make_user())
    ws.send(json.dumps({"type": "ping", "pad": "x" * 3900}))
    assert ws.wait_type("pong")
    ws.send(json.dumps({"type": "ping", "pad": "x" * 5 * 1024}))
    assert ws.wait_closed() == 1009


def inside_one_clock_minute(seconds=10):
    """The per-minute message windows are clock minutes: wait until one has
    at least `seconds` left, so a burst is counted in one window."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.2)


def test_message_flood_is_limited_and_others_keep_latency(api, make_user):
    inside_one_clock_minute()
    a, b, c = make_user(), make_user(), make_user()
    gid = create_group(api, a, [b, c])
    wa, wc = connect(a), connect(c)
    answers = [wa.request("message:send", {"groupId": gid, "content": "flood %d" % i})
               for i in range(36)]
    acks = [x for x in answers if x["type"] == "ack"]
    limited = [x for x in answers if x["type"] == "error"]
    assert len(acks) == 30, [x.get("data") for x in limited][:3]
    assert all(x["data"]["code"] == "RATE_LIMIT_EXCEEDED" and x["data"]["retryAfter"] > 0
               for x in limited)
    t0 = time.monotonic()
    assert wc.request("ping")["type"] == "pong"
    assert time.monotonic() - t0 < 0.5
    # the per-connection frame budget (events_per_minute, 100)
    over = None
    for i in range(110):
        f = wc.request("typing:stop", {"groupId": gid})
        if f["type"] == "error":
            over = f
            break
    assert over and over["data"]["code"] == "RATE_LIMIT_EXCEEDED" and over["data"]["retryAfter"] > 0
    assert wc.request("ping")["type"] == "pong", "ping is not counted"
    wa.close()
    wc.close()


def test_per_chat_limit_counts_a_chat_however_it_is_named(api, make_user):
    """30 a minute per chat, whether the id is respelled (letter case) or a
    direct conversation is named by receiverId one time and by its
    conversationId the next."""
    a, b, c = make_user(), make_user(), make_user()
    gid = create_group(api, a, [b])
    dm = send_message(api, a, to=c)["conversationId"]
    wa = connect(a)
    spellings = {
        "group": [{"groupId": gid}, {"groupId": gid.upper()},
                  {"conversationId": gid}, {"chatroomId": gid.upper()}],
        "direct": [{"receiverId": c.id}, {"conversationId": dm},
                   {"receiverId": c.id.upper()}, {"conversationId": dm.upper()}],
    }
    for chat, names in spellings.items():
        inside_one_clock_minute()
        answers = [wa.request("message:send", {**names[i % len(names)],
                                               "content": "%s %d" % (chat, i)})
                   for i in range(36)]
        acks = [x for x in answers if x["type"] == "ack"]
        limited = [x for x in answers if x["type"] == "error"]
        assert len(acks) == 30, (chat, [x.get("data") for x in limited][:3])
        assert all(x["data"]["code"] == "RATE_LIMIT_EXCEEDED" for x in limited), chat
    wa.close()


def test_a_client_acking_a_long_replay_is_not_a_slow_consumer(make_user, private_bridge, db):
    """A replay page from the database fills the send queue at once; the
    replies to what the client sends meanwhile must not count it as slow."""
    from test_bridge import insert_user_events

    b2 = private_bridge(send_queue=16, replay_buffer=0)
    u = make_user()
    seqs = insert_user_events(db, u.id, 450, json.dumps({"blob": "z" * 4000}))
    wait_until(lambda: b2.health()["seq"] >= seqs[-1], 10, what="the bridge to read them")
    before = metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total")
    # a client that does not read while it sends 40 pings
    ws = websocket.create_connection(
        "%s?token=%s&since=%d" % (b2.url, u.token, seqs[0] - 1), suppress_origin=True,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),), timeout=10)
    time.sleep(0.5)
    ping = websocket.ABNF.create_frame(json.dumps({"type": "ping"}),
                                       websocket.ABNF.OPCODE_TEXT)
    ws.sock.sendall(b"".join(ping.format() for _ in range(40)))
    time.sleep(1.0)
    got, pongs = [], 0
    while pongs < 40 or len(got) < len(seqs):
        f = json.loads(ws.recv())
        if f.get("type") == "pong":
            pongs += 1
        elif f.get("type") == "test:event":
            got.append(f["seq"])
    assert got == seqs, "every replayed event, in order"
    assert metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total") == before
    ws.close()


def test_connection_attempts_per_hour_count_an_ipv6_client_by_its_slash_64(make_user,
                                                                         private_bridge):
    b2 = private_bridge(connect_attempts_per_hour=3)
    u = make_user()

    def attempt(ip):
        return first_answer(b2.url, u.token, ip)

    n = random.randrange(1, 65535)
    same64 = ["2001:db8:%x:1::%x" % (n, i + 1) for i in range(4)]
    assert [attempt(ip) for ip in same64] == ["auth_response"] * 3 + ["RATE_LIMIT_EXCEEDED"]
    assert attempt("2001:db8:%x:2::1" % n) == "auth_response", "another /64 is another client"
    # IPv4 and IPv4-mapped addresses count one by one, not as one /64
    four = "198.51.100.%d" % random.randrange(1, 255)
    mapped = ["::ffff:203.0.113.%d" % i for i in range(1, 5)]
    assert [attempt(four) for _ in range(4)] == ["auth_response"] * 3 + ["RATE_LIMIT_EXCEEDED"]
    assert [attempt(ip) for ip in mapped] == ["auth_response"] * 4


@pytest.mark.parametrize("length", [511, 512, 4000])
def test_a_long_x_forwarded_for_still_names_the_client(make_user, private_bridge, length):
    """Connection attempts count the client the trusted proxy names at the
    right of X-Forwarded-For, however much the client put before it: a
    header too long for a buffer must not count every such client as the
    proxy itself (spending the limit of everyone behind it)."""
    b2 = private_bridge(connect_attempts_per_hour=2)
    u = make_user()
    one = "198.51.100.%d" % random.randrange(1, 127)
    two = "198.51.100.%d" % random.randrange(128, 255)

    def header(client):  # what the client sent, then what the proxy appended
        tail = ", " + client
        return ("203.0.113.7, " * length)[:length - len(tail)] + tail
    assert [first_answer(b2.url, u.token, header(one)) for _ in range(3)] == \
        ["auth_response"] * 2 + ["RATE_LIMIT_EXCEEDED"]
    assert first_answer(b2.url, u.token, header(two)) == "auth_response", \
        "another client behind the same proxy was refused"
    assert first_answer(b2.url, u.token, two) == "auth_response"
    assert first_answer(b2.url, u.token, two) == "RATE_LIMIT_EXCEEDED", "the same client"


def test_resume_frames_are_counted_against_the_event_budget(make_user, private_bridge):
    b2 = private_bridge(events_per_minute=5)
    ws = connect(make_user(), url=b2.url)
    answers = [ws.request("resume", {"since": 0}) for _ in range(6)]
    assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"]
    assert answers[-1]["data"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert answers[-1]["data"]["retryAfter"] > 0
    ws.close()


def _answers(ws, send):
    """What ws hears in answer to send(ws) (frames up to the pong of a
    ping sent right after; ping is free)."""
    start = len(ws.frames)
    marker = "m-" + uuid.uuid4().hex[:8]
    send(ws)
    ws.send({"type": "ping", "ackId": marker})
    pong = ws.wait(lambda f: f.get("ackId") == marker, 10, "the pong after the frame")
    with ws.cv:
        return [f for f in ws.frames[start:ws.frames.index(pong)] if f.get("type") == "error"]


def test_malformed_frames_are_counted_against_the_event_budget(api, make_user, db,
                                                               private_bridge):
    """Only auth and ping are free: frames refused before authentication,
    malformed, binary, empty or of an unknown type spend the budget too,
    and past it every frame, valid or not, gets RATE_LIMIT_EXCEEDED (the
    connection stays open, as for valid frames)."""
    b2 = private_bridge(events_per_minute=6)
    u = make_user()
    gid = create_group(api, u)
    limited0 = metric_value(b2.metrics(), "parley_bridge_rate_limited_total")
    ws = WS(url=b2.url)
    garbage = [
        lambda w: w.send({"type": "message:send", "data": {"groupId": gid, "content": "x"}}),
        lambda w: w.request("auth", token=u.token),  # free, like the pings
        lambda w: w.send("not json"),
        lambda w: w.ws.send(b'{"type":"ping"}', opcode=websocket.ABNF.OPCODE_BINARY),
        lambda w: w.send({"type": "no:such", "ackId": "u1"}),
        lambda w: w.send('{"type":"ping","ackId":{"x":1}}'),
        lambda w: w.send(""),
    ]
    codes = [[e["data"]["code"] for e in _answers(ws, g)] for g in garbage]
    assert codes == [["UNAUTHORIZED"], []] + [["INVALID_MESSAGE_FORMAT"]] * 3 + \
        [["VALIDATION_ERROR"], ["INVALID_MESSAGE_FORMAT"]], codes
    # six spent: the seventh frame is refused, garbage or not
    over = _answers(ws, lambda w: w.send("still not json"))
    assert [e["data"]["code"] for e in over] == ["RATE_LIMIT_EXCEEDED"], over
    assert over[0]["data"]["retryAfter"] > 0
    sent = ws.request("message:send", {"groupId": gid, "content": "after the garbage"})
    assert sent["type"] == "error" and sent["data"]["code"] == "RATE_LIMIT_EXCEEDED", sent
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM messages WHERE conversation_id = %s", (gid,))
        assert c.fetchone()["n"] == 0, "a refused message:send was stored"
    assert metric_value(b2.metrics(), "parley_bridge_rate_limited_total") == limited0 + 2
    assert ws.request("ping")["type"] == "pong" and not ws.closed
    ws.close()


@pytest.mark.parametrize("replay_buffer", [0, 1000])
def test_event_lag_times_live_deliveries_only(make_user, db, private_bridge, replay_buffer):
    """parley_bridge_event_lag_seconds is commit -> write of what goes out
    live: a resume of old events, from the ring or the database, is not
    timed (it would fill the top bucket)."""
    from test_bridge import insert_user_events

    b2 = private_bridge(replay_buffer=replay_buffer)
    u = make_user()

    def lag():
        m = b2.metrics()
        return (metric_value(m, "parley_bridge_event_lag_seconds_count"),
                metric_value(m, "parley_bridge_event_lag_seconds_bucket", le="10"))
    ws = connect(u, url=b2.url)
    count0, _ = lag()
    seqs = insert_user_events(db, u.id, 5)
    ws.wait(lambda f: [e["seq"] for e in ws.of_type("test:event")] == seqs, 10, "the events")
    wait_until(lambda: lag()[0] == count0 + 5, 5, what="the live frames to be timed")
    ws.close()
    with db.cursor() as c:  # old news by the time of the resume
        c.execute("UPDATE events SET created_at = NOW(3) - INTERVAL 1 HOUR"
                  " WHERE pos BETWEEN %s AND %s", (seqs[0], seqs[-1]))
    before = lag()
    again = WS(url=b2.url, token=u.token, since=seqs[0] - 1)
    again.authed()
    again.wait_type("resumed", 10)
    assert [e["seq"] for e in again.of_type("test:event")] == seqs
    assert lag() == before, "replayed frames were timed as lag"
    again.close()


def test_a_client_that_never_reads_is_cut_off_others_unaffected(make_user, private_bridge, db):
    b2 = private_bridge(send_queue=16)
    slow, fast = make_user(), make_user()
    # the slow client: a raw socket with a tiny receive buffer, never read
    s = socket.create_connection(("127.0.0.1", b2.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % slow.token).encode())
    wf = connect(fast, url=b2.url)
    time.sleep(0.5)
    before = metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total")
    payload = json.dumps({"blob": "y" * 3000})
    nudge = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # events for both users' personal rooms, straight into the outbox
    with db.cursor() as c:
        for i in range(60):
            c.executemany("INSERT INTO events (target_kind, target_id, type, payload)"
                          " VALUES ('USER', %s, 'test:load', %s)",
                          [(slow.id, payload)] * 20 + [(fast.id, payload)])
            nudge.sendto(b"n", ("127.0.0.1", b2.nudge_port))
            t0 = time.monotonic()
            assert wf.request("ping", timeout=2)["type"] == "pong"
            assert time.monotonic() - t0 < 1.0, "the fast client kept its latency"
    wait_until(lambda: metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total")
               > before, 10, what="the slow consumer to be disconnected")
    wait_until(lambda: len(wf.of_type("test:load")) == 60, 10, what="fast client got all")
    wf.close()
    s.close()


def test_a_batch_larger_than_the_send_queue_does_not_cut_off_a_fast_reader(
        make_user, private_bridge, db):
    """A bridge that falls behind (here: stopped for a moment) catches up in
    one batch; a client that reads promptly gets all of it."""
    from test_bridge import insert_user_events

    b2 = private_bridge(send_queue=16)
    u = make_user()
    ws = connect(u, url=b2.url)
    before = metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total")
    b2.proc.send_signal(signal.SIGSTOP)
    try:
        seqs = insert_user_events(db, u.id, 60)
    finally:
        b2.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: [f["seq"] for f in ws.of_type("test:event")] == seqs or ws.closed, 10,
               what="the batch")
    assert not ws.closed, "cut off as a slow consumer (close code %s)" % ws.close_code
    assert metric_value(b2.metrics(), "parley_bridge_slow_consumer_disconnects_total") == before
    ws.close()


def test_dead_connections_are_closed_by_heartbeat(make_user, private_bridge):
    b = private_bridge(heartbeat_seconds=1)
    alive, dead = make_user(), make_user()
    wa = connect(alive, url=b.url)  # websocket-client answers pings
    # a client that stops answering: raw socket, never reads again
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % dead.token).encode())
    wait_until(lambda: b.health()["authenticated"] == 2, 5, what="both connected")
    wait_until(lambda: metric_value(b.metrics(), "parley_bridge_heartbeat_timeouts_total") >= 1,
               8, what="the silent connection closed")
    assert b.health()["authenticated"] == 1
    assert wa.request("ping")["type"] == "pong"
    wa.close()
    s.close()


def test_a_crashed_bridges_users_go_offline(api, make_user, private_bridge):
    b = private_bridge(heartbeat_seconds=1)
    watcher, u = make_user(), make_user()
    ws = connect(u, url=b.url)

    def presence():
        return assert_ok(api.get("/api/v1/users/%s/presence" % u.id, token=watcher.token))
    assert presence()["isOnline"] is True
    time.sleep(2.5)  # refreshed by the heartbeat: still online after its TTL
    assert presence()["isOnline"] is True
    b.kill(9)  # no chance to say goodbye
    wait_until(lambda: presence()["isOnline"] is False, 8,
               what="the presence key expiring (TTL 3 heartbeats)")
    ws.close()


def test_presence_from_another_bridge_respects_this_bridges_room_limit(
        api, make_user, private_bridge):
    """A room with more than presence_room_limit connected members gets
    no presence frames, also when they come from a bridge that sees only
    a few of those members: the bridge holding the crowd decides."""
    quiet = private_bridge(presence_room_limit=1)
    other = private_bridge()
    owner, y, z, x = make_user(), make_user(), make_user(), make_user()
    gid = create_group(api, owner, [y, z, x])
    wy, wz = connect(y, url=quiet.url), connect(z, url=quiet.url)
    time.sleep(2.5)  # the bridges find each other in bridge_peers
    # the control: typing is not presence, and crosses over
    wx = connect(x, url=other.url)
    assert wx.request("typing:start", {"groupId": gid})["type"] == "ack"
    wy.wait_type("typing:start", userId=x.id)
    wx.close()
    # x went online on a bridge where the room has one member; on the
    # quiet bridge it has two, over its limit of one
    time.sleep(1.5)
    assert wy.of_type("user:online", userId=x.id) == []
    assert wy.of_type("user:offline", userId=x.id) == []
    assert wz.of_type("user:online", userId=x.id) == []
    wy.close()
    wz.close()


def test_presence_room_limit_counts_only_connected_members(api, make_user, private_bridge):
    """A member whose last connection closed is kept by the bridge for a
    minute, but is not connected: it does not count against
    presence_room_limit."""
    b2 = private_bridge(presence_room_limit=2)
    owner, y, z, x = make_user(), make_user(), make_user(), make_user()
    create_group(api, owner, [y, z, x])
    wy = connect(y, url=b2.url)
    wz = connect(z, url=b2.url)
    wy.wait_type("user:online", userId=z.id)
    wz.close()
    wy.wait_type("user:offline", userId=z.id)  # z is retained, not connected
    # y and x are the connected members: two, within the limit
    wx = connect(x, url=b2.url)
    wy.wait_type("user:online", userId=x.id)
    wx.close()
    wy.wait_type("user:offline", userId=x.id)
    wy.close()
