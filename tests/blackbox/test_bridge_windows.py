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
