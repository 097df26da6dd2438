"""Windows in which the bridge waits for the database: a user's rooms still
loading, an auth job still running, a group:join still being checked, and
the bookkeeping of connection attempts. Each test holds the bridge inside
its window on purpose (a table lock, a stopped thread, many addresses) and
checks the client contract of docs/websocket.md across it."""

import contextlib
import os

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
