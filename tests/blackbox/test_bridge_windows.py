"""Windows in which the bridge waits for the database: a user's rooms still
loading, an auth job still running, a group:join still being checked, and
the bookkeeping of connection attempts. Each test holds the bridge inside
its window on purpose (a table lock, a stopped thread, many addresses) and
checks the client contract of docs/websocket.md across it."""

import contextlib
import json
import os
import queue
import random
import re
import selectors
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

from parley_api import metric_value, mysql_connect, wait_until
from test_bridge import (WS, add_member, connect, create_group, first_answer,  # noqa: F401
                         insert_user_events, private_bridge, received, remove_member, send_message)


@contextlib.contextmanager
def table_locked(table):
    """LOCK TABLES table WRITE on a connection of its own: every other
    statement that reads the table waits (or times out) until the block
    ends."""
    conn = mysql_connect(autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute("LOCK TABLES %s WRITE" % table)
        yield conn
        with conn.cursor() as c:
            c.execute("UNLOCK TABLES")
    finally:
        conn.close()


def test_events_after_auth_response_arrive_though_the_rooms_load_slowly(make_user, db,
                                                                        private_bridge):
    """auth_response names a seq; every event after it reaches the
    connection, even when the user's rooms are still being read then (here
    the read waits for a lock, times out and is retried)."""
    b = private_bridge(database={"read_timeout_ms": 2000})
    u = make_user()
    with table_locked("members"):
        ws = WS(url=b.url, token=u.token)
        seq = ws.authed(timeout=15)["data"]["seq"]
        during = insert_user_events(db, u.id, 3)
        assert during[0] > seq
        wait_until(lambda: b.health()["seq"] >= during[-1], 10, what="the bridge to read them")
    after = insert_user_events(db, u.id, 2)
    want = during + after

    def got():
        return [f["seq"] for f in ws.events() if f["type"] == "test:event"]
    try:
        wait_until(lambda: len(got()) >= len(want), 15,
                   what="the events committed after auth_response (%s)" % want)
    except AssertionError as e:
        raise AssertionError("%s; received %s" % (e, got())) from None
    assert got() == want, "each event once, in order"
    assert not ws.of_type("resumed"), "the client asked for no resume"
    ws.close()


def wait_for_rooms_read_to_block(db, timeout=10):
    """Until some connection's read of a user's rooms waits for the lock on
    members (the bridge's auth job has verified the token by then)."""
    def blocked():
        with db.cursor() as c:
            c.execute("SELECT COUNT(*) AS n FROM information_schema.processlist"
                      " WHERE info LIKE '%FROM members m JOIN conversations%'"
                      " AND state LIKE '%metadata lock%'")
            return c.fetchone()["n"] > 0
    wait_until(blocked, timeout, what="the rooms read to wait for the lock")


def test_a_session_revoked_while_its_auth_job_runs_long_never_goes_live(api, make_user, db,
                                                                        private_bridge):
    """The token was good when the bridge checked it, then the user logged
    out everywhere while the bridge was still reading the user's rooms (two
    attempts of the default 10 s read timeout). The connection must end
    anyway, long after the revocation."""
    b = private_bridge(revocation_check_ms=500)
    u = make_user()
    with table_locked("members"):
        ws = WS(url=b.url, token=u.token)
        wait_for_rooms_read_to_block(db)
        r = api.post("/api/v1/auth/logout-all", token=u.token)
        assert r.status_code in (200, 204), r.text
        ws.wait_type("auth_response", 40)
    try:
        ws.wait_closed(timeout=8)
    except AssertionError:
        raise AssertionError("a revoked session is still connected: %s" % [
            {k: f.get(k) for k in ("type", "status", "data")} for f in ws.frames]) from None
    assert ws.close_code == 1008
    answer = ws.of_type("auth_response")[0]
    revoked = ws.of_type("error", code="SESSION_REVOKED")
    assert answer["status"] == "error" or revoked, ws.frames


HANDSHAKE = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "X-Forwarded-For: %s\r\n\r\n")


def handshakes(port, ips, inflight=32):
    """One WebSocket handshake (a counted connection attempt) from each
    address, `inflight` at a time, each closed once upgraded; returns how
    many were upgraded."""
    sel = selectors.DefaultSelector()
    remaining = iter(ips)
    upgraded = live = 0

    def start():
        nonlocal live
        ip = next(remaining, None)
        if ip is not None:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE, [(HANDSHAKE % ip).encode(), b""])
            live += 1
    for _ in range(inflight):
        start()
    while live:
        events = sel.select(10)
        assert events, "the bridge stopped answering handshakes"
        for key, ev in events:
            s, st = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                s.sendall(st[0])
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            try:
                got = s.recv(4096)
            except OSError:
                got = b""
            st[1] += got
            if got and b"\r\n\r\n" not in st[1]:
                continue
            upgraded += st[1].startswith(b"HTTP/1.1 101")
            sel.unregister(s)
            s.close()
            live -= 1
            start()
    sel.close()
    return upgraded


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_attempts_from_many_ipv6_prefixes_cost_bounded_time_and_memory(make_user,
                                                                        private_bridge):
    """Connection attempts are counted per address (an IPv6 client per /64)
    in the bridge's memory. An attacker has as many /64s as it likes: the
    count must cost each attempt the same however many came before, and
    forget the oldest addresses rather than grow for an hour."""
    b = private_bridge(connect_attempts_per_hour=2)
    u = make_user()

    def attempt(ip):
        return first_answer(b.url, u.token, ip)

    net = random.randrange(1, 0xff)
    first = "2001:db8:%x::1" % net
    assert [attempt(first) for _ in range(3)] == ["auth_response"] * 2 + ["RATE_LIMIT_EXCEEDED"]
    # 100,000 other /64s, one attempt each, in five slices.
    others = ["2001:db8:%x:%x::1" % (i >> 16 << 8 | net, i & 0xffff)
              for i in range(1, 100001)]
    costs = []
    for k in range(5):
        part = others[k * 20000:(k + 1) * 20000]
        before = cpu_seconds(b.proc.pid)
        assert handshakes(b.port, part) == len(part)
        costs.append(round(cpu_seconds(b.proc.pid) - before, 2))
    assert costs[-1] < 2 * costs[0], \
        "the bridge's CPU per slice grows with the addresses counted: %s s" % costs
    # More addresses than are counted at once came after it: forgotten.
    assert attempt(first) == "auth_response", "the first address is still counted"


class Threads:
    """gdb attached to a process in non-stop mode (its machine interface):
    one thread can be held at a point while the others run on, as a busy
    machine may deschedule it there."""

    def __init__(self, pid):
        self.proc = subprocess.Popen(["gdb", "-q", "-nx", "--interpreter=mi3"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.records = queue.Queue()
        self.stops = []
        self.token = 0
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self._attach(pid)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise

    def _attach(self, pid):
        for c in ("-gdb-set mi-async on", "-gdb-set non-stop on",
                  "-gdb-set pagination off", "-target-attach %d" % pid):
            self.cmd(c, timeout=60)
        # Attaching stops the threads one by one: resume them until every
        # one has been seen running a few times in a row.
        deadline, clean = time.monotonic() + 20, 0
        while clean < 3:
            assert time.monotonic() < deadline, "gdb could not resume the threads"
            time.sleep(0.2)
            if 'state="stopped"' in self.cmd("-thread-info"):
                self.cmd("-exec-continue --all")
                clean = 0
            else:
                clean += 1
        self.stops = []

    def _read(self):
        for line in self.proc.stdout:
            self.records.put(line.rstrip("\n"))
        self.records.put(None)

    def _next(self, deadline):
        try:
            line = self.records.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return ""
        assert line is not None, "gdb exited"
        return line

    def cmd(self, command, timeout=10):
        """Runs an MI command; returns its result record."""
        self.token += 1
        self.proc.stdin.write("%d%s\n" % (self.token, command))
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._next(deadline)
            if line.startswith("%d^" % self.token):
                assert not line.startswith("%d^error" % self.token), (command, line)
                return line
            if line.startswith("*stopped"):
                self.stops.append(line)
        raise AssertionError("gdb did not answer %r" % command)

    def wait_stop(self, reason, timeout=10):
        """The id of the next thread that stops for reason."""
        deadline = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.stops):
                if 'reason="%s"' % reason in line:
                    del self.stops[i]
                    return re.search(r'thread-id="(\d+)"', line).group(1)
            assert time.monotonic() < deadline, "no thread stopped (%s)" % reason
            line = self._next(deadline)
            if line.startswith("*stopped"):
                self.stops.append(line)

    def arm(self, function):
        """A breakpoint that will hold the next thread entering function."""
        return re.search(r'number="(\d+)"', self.cmd("-break-insert " + function)).group(1)

    def held(self, bp, timeout=10):
        """The id of the thread bp holds (bp is gone then)."""
        try:
            return self.wait_stop("breakpoint-hit", timeout)
        finally:
            self.cmd("-break-delete " + bp)

    def finish(self, thread, timeout=10):
        """Lets a held thread run until its current function returns."""
        self.cmd("-exec-finish --thread %s" % thread)
        self.wait_stop("function-finished", timeout)

    def release(self, thread):
        self.cmd("-exec-continue --thread %s" % thread)

    def close(self):
        try:
            self.cmd("-target-detach")
            self.cmd("-gdb-exit")
        except AssertionError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_group_join_checked_before_a_removal_does_not_resubscribe(api, make_user,
                                                                  private_bridge):
    """group:join for a group this bridge has not seen the user join yet is
    checked in the database. If the user is removed after that check but
    before its answer is applied, the removal wins: nothing more from the
    group reaches the removed member, live or on resume."""
    if not shutil.which("gdb"):
        pytest.skip("needs gdb to hold one thread of the bridge")
    b = private_bridge()
    owner, m = make_user(), make_user()
    gid = create_group(api, owner)
    wm, wo = connect(m, url=b.url), connect(owner, url=b.url)
    try:
        gdb = Threads(b.proc.pid)
    except AssertionError as e:
        if "not permitted" in str(e):  # no ptrace here (a container)
            pytest.skip("gdb cannot attach: %s" % e)
        raise
    try:
        # The bridge reads no events for now: it will not hear of the join.
        stream = gdb.held(gdb.arm("nudge_drain"))
        add_member(api, owner, gid, m)
        # The membership check runs (m is a member) and its answer is held.
        bp = gdb.arm("group_is_member")
        wm.send({"type": "group:join", "data": {"groupId": gid}, "ackId": "j"})
        pool = gdb.held(bp)
        gdb.finish(pool)
        remove_member(api, owner, gid, m)
        gdb.release(stream)
        wo.wait(lambda f: f.get("type") == "group:member:leave" and "seq" in f, 10)
        gdb.release(pool)
        answer = wm.wait(lambda f: f.get("ackId") == "j", 10)
    finally:
        gdb.close()
    leave_seq = wo.of_type("group:member:leave")[-1]["seq"]
    after = send_message(api, owner, gid=gid)
    wo.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == after["id"])
    time.sleep(0.5)
    assert received(wm, after["id"]) == [], \
        "a removed member hears the group again (group:join answered %s)" % answer
    wm.close()
    again = WS(url=b.url, token=m.token, since=leave_seq)
    again.authed()
    again.wait_type("resumed")
    assert received(again, after["id"]) == [], "and on resume"
    again.close()
    wo.close()
    assert answer["type"] == "error" and answer["data"]["code"] == "NOT_FOUND", answer


def test_group_join_of_a_direct_conversation_the_bridge_has_not_seen(make_user, db):
    """group:join may name a direct conversation the bridge has not heard
    of yet (here it never will: the rows come without an event). It joins
    the connection to it as the direct conversation it is: typing by
    receiverId then reaches the peer, shaped for a direct conversation."""
    a, p = make_user(), make_user()
    wa, wp = connect(a), connect(p)
    dm = str(uuid.uuid4())
    with db.cursor() as c:
        c.execute("INSERT INTO conversations (id, kind, direct_key) VALUES (%s, 'DIRECT', %s)",
                  (dm, ":".join(sorted((a.id, p.id)))))
        c.executemany("INSERT INTO members (conversation_id, user_id) VALUES (%s, %s)",
                      [(dm, a.id), (dm, p.id)])
    for ws, who in ((wa, "a"), (wp, "p")):
        ws.send({"type": "group:join", "data": {"groupId": dm}, "ackId": "j" + who})
        answer = ws.wait(lambda f, w=who: f.get("ackId") == "j" + w, 10)
        assert answer["type"] == "ack" and answer["data"] == {"groupId": dm, "subscribed": True}, \
            answer
    wa.send({"type": "typing:start", "data": {"receiverId": p.id}, "ackId": "t"})
    answer = wa.wait(lambda f: f.get("ackId") == "t", 10)
    assert answer["type"] == "ack", \
        "typing to the peer of a direct conversation joined by group:join: %s" % answer
    f = wp.wait(lambda f: f.get("type") == "typing:start", 10)
    assert f["data"]["conversationId"] == dm and f["data"]["groupId"] is None, f
    wa.close()
    wp.close()


def test_a_resume_sent_while_the_rooms_load_ends_with_resumed(make_user, db, private_bridge):
    """A client that asks to resume right after auth_response, while its
    rooms are still loading, gets what docs/websocket.md promises for every
    resume: the ack, the missed events, then `resumed`. The bridge's own
    catch-up replay from the auth_response seq (which ends without
    `resumed`) must not swallow the end of the client's resume."""
    b = private_bridge(send_queue=16, database={"read_timeout_ms": 2000})
    u = make_user()
    with table_locked("members"):
        ws = WS(url=b.url, token=u.token)
        seq = ws.authed(timeout=15)["data"]["seq"]
        # Read once the rooms are in: the catch-up replay runs by then.
        ws.send({"type": "resume", "since": seq, "ackId": "r1"})
        during = insert_user_events(db, u.id, 60)
        wait_until(lambda: b.health()["seq"] >= during[-1], 10, what="the bridge to read them")
    ack = ws.wait(lambda f: f.get("ackId") == "r1", 15, "the resume's answer")
    assert ack["type"] == "ack", ack
    ws.wait_type("resumed", 15)
    got = [f["seq"] for f in ws.events() if f["type"] == "test:event"]
    assert set(got) == set(during), got
    ws.close()


def waiting_on(db, table):
    """1 if a statement of another connection waits for a lock on table."""
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM information_schema.processlist"
                  " WHERE state LIKE 'Waiting for table%%' AND info LIKE %s"
                  " AND id <> CONNECTION_ID()", ("%" + table + "%",))
        return c.fetchone()["n"] > 0


def test_group_join_with_no_replay_buffer_looks_back_across_other_events(make_user, db,
                                                                        private_bridge):
    """With [bridge] replay_buffer = 0 the replay ring keeps no event. The
    answer of a group:join check still has to be brought up to date with
    the membership changes that passed while it ran, and with none of them
    it holds: events of other kinds going by meanwhile (here one for
    another user) must not turn it into "try again" (on a busy server
    something always goes by)."""
    b = private_bridge(replay_buffer=0)
    u, other = make_user(), make_user()
    ws = connect(u, url=b.url)
    gid = str(uuid.uuid4())
    with db.cursor() as c:  # a group the bridge never hears of
        c.execute("INSERT INTO conversations (id, kind, title) VALUES (%s, 'GROUP', 'quiet')",
                  (gid,))
        c.execute("INSERT INTO members (conversation_id, user_id, role) VALUES (%s, %s, 'OWNER')",
                  (gid, u.id))
    with table_locked("conversations"):
        ws.send({"type": "group:join", "data": {"groupId": gid}, "ackId": "j"})
        wait_until(lambda: waiting_on(db, "conversations"), 10,
                   what="the membership check to wait for the lock")
        seq = insert_user_events(db, other.id, 1)[-1]
        wait_until(lambda: b.health()["seq"] >= seq, 10, what="the bridge to read it")
    answer = ws.wait(lambda f: f.get("ackId") == "j", 10)
    assert answer["type"] == "ack" and answer["data"] == {"groupId": gid, "subscribed": True}, \
        answer
    ws.close()


def test_resume_with_no_replay_buffer_goes_live_under_steady_traffic(make_user, db,
                                                                     private_bridge):
    """With [bridge] replay_buffer = 0 every resume is read from the
    database, a page at a time. On a busy server events keep committing
    while each page is read; the resume must still reach live, with every
    event after since exactly once and in order. A writer thread commits
    events (mostly for other users, some for the resuming one) and nudges
    the bridge continuously before, during and after the resume."""
    # poll_ms = 10: the bridge reads new events every 10 ms at least,
    # whether or not a nudge reaches it first.
    b = private_bridge(replay_buffer=0, poll_ms=10)
    u, noise = make_user(), make_user()
    backlog = insert_user_events(db, u.id, 1200)  # a few pages to read
    wait_until(lambda: b.health()["seq"] >= backlog[-1], 10, what="the bridge to read them")
    pages0 = metric_value(b.metrics(), "parley_bridge_replay_pages_total")
    since = backlog[0] - 1
    stop = threading.Event()
    written = []

    def writer():
        conn = mysql_connect(autocommit=True)
        nudge = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        i = 0
        try:
            while not stop.is_set():
                rows = [(noise.id, "{}")] * 5
                if i % 10 == 0:
                    rows.append((u.id, json.dumps({"i": i})))
                with conn.cursor() as c:
                    c.executemany("INSERT INTO events (target_kind, target_id, type, payload)"
                                  " VALUES ('USER', %s, 'test:live', %s)", rows)
                nudge.sendto(b"n", ("127.0.0.1", b.nudge_port))
                written.append(i)
                i += 1
                time.sleep(0.001)
        finally:
            nudge.close()
            conn.close()

    def slow_reads():
        # A loaded database: reads of members (which every replay page
        # does) wait most of the time, so each page takes a while and
        # events always commit meanwhile. Writes to events go on.
        while not stop.is_set():
            with table_locked("members"):
                stop.wait(0.05)
            time.sleep(0.001)

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
    threads.append(threading.Thread(target=slow_reads, daemon=True))
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(written) > 50, 10, what="traffic to flow")
        ws = WS(url=b.url, token=u.token, since=since)
        ws.authed()
        # The patience bounds a hang; it is not what the test measures.
        resumed = ws.wait_type("resumed", 60)
        n = len(written)
        wait_until(lambda: len(written) > n + 50, 10, what="traffic after going live")
    finally:
        stop.set()
        for t in threads:
            t.join(10)

    with db.cursor() as c:  # everything for u after since, once numbered
        def mine():
            c.execute("SELECT pos FROM events WHERE target_kind = 'USER' AND target_id = %s"
                      " AND id >= (SELECT id FROM events WHERE pos = %s)"
                      " ORDER BY pos IS NULL, pos", (u.id, backlog[0]))
            pos = [r["pos"] for r in c.fetchall()]
            return pos if None not in pos else None
        want = wait_until(mine, 10, what="the sequencer to number every event")
    assert want[:len(backlog)] == backlog
    wait_until(lambda: ws.last_seq() >= want[-1] or ws.closed, 20, what="the last event")
    with ws.cv:
        frames = [f for f in ws.frames if "seq" in f or f.get("type") == "resumed"]
    ws.close()
    got = [f["seq"] for f in frames if "seq" in f]
    assert got == want, "missing %s, extra %s, in order: %s" % (
        sorted(set(want) - set(got))[:10], sorted(set(got) - set(want))[:10],
        got == sorted(got))
    # The backlog's pages and one more at most: a replay that chased the
    # stream would read a page for every batch that came meanwhile.
    pages = metric_value(b.metrics(), "parley_bridge_replay_pages_total") - pages0
    assert pages <= len(backlog) // 500 + 2, "%d pages to go live" % pages
    # resumed splits them: the replay up to its seq, live after it
    split = frames.index(resumed)
    assert all(f["seq"] <= resumed["data"]["seq"] for f in frames[:split])
    assert all(f["seq"] > resumed["data"]["seq"] for f in frames[split + 1:])
    assert len(frames) > split + 1, "some events came live"
