"""Windows in which the bridge waits for the database: a user's rooms still
loading, an auth job still running, a group:join still being checked, and
the bookkeeping of connection attempts. Each test holds the bridge inside
its window on purpose (a table lock, a stopped thread, many addresses) and
checks the client contract of docs/websocket.md across it."""

import contextlib
import os
import random
import selectors
import socket

import pymysql
import pymysql.cursors

from parley_api import wait_until
from test_bridge import WS, insert_user_events, private_bridge  # noqa: F401


@contextlib.contextmanager
def table_locked(table):
    """LOCK TABLES table WRITE on a connection of its own: every other
    statement that reads the table waits (or times out) until the block
    ends."""
    conn = pymysql.connect(
        unix_socket=os.environ["PARLEY_MYSQL_SOCKET"], user=os.environ["PARLEY_DB_USER"],
        password=os.environ.get("PARLEY_DB_PASSWORD", ""),
        database=os.environ["PARLEY_DB_NAME"], autocommit=True,
        cursorclass=pymysql.cursors.DictCursor)
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
    b = private_bridge(database={"read_timeout_ms": 1000})
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
    todo = iter(ips)
    upgraded = live = 0

    def start():
        nonlocal live
        ip = next(todo, None)
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
        ws = WS(url=b.url, token=u.token, ip=ip)
        f = ws.wait(lambda f: f.get("type") in ("auth_response", "error"), 5)
        ws.close()
        return f.get("code") or f["type"]

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
