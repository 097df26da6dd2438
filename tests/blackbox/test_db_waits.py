"""A statement that waits for a row lock ends on the server when its client
gives up.

db.c gives a statement `[database] read_timeout_ms` (then one retry on a
new connection when the connection was lost). MariaDB notices a client that
went away while a statement waits for a metadata or table lock (it checks
the connection about once a second), but not while it waits for an InnoDB
row lock: such a statement would go on waiting, holding a server thread
and its connection, for innodb_lock_wait_timeout (50 s by default), and a
long lock would pile them up. Both the bridge's connections and
parley-fcgi's are checked while a row is locked.
"""

import contextlib
import os
import subprocess
import tempfile
import time

import pytest

from parley_api import assert_ok, mysql_connect
from test_bridge import WS, connect, create_group, free_port, private_bridge  # noqa: F401


@contextlib.contextmanager
def row_locked(table, where, *args):
    """SELECT ... FOR UPDATE of the rows of table matching where, in a
    transaction of its own connection held open for the block."""
    conn = mysql_connect(autocommit=False)
    try:
        with conn.cursor() as c:
            c.execute("START TRANSACTION")
            c.execute("SELECT * FROM %s WHERE %s FOR UPDATE" % (table, where), args)
            assert c.fetchall(), "nothing to lock in %s" % table
        yield conn
    finally:
        conn.rollback()
        conn.close()


def oldest_wait_ms(db, like):
    """The longest time (ms) any statement whose text matches `like` has
    been running, 0 if none runs."""
    with db.cursor() as c:
        c.execute("SELECT COALESCE(MAX(time_ms), 0) AS ms FROM information_schema.processlist"
                  " WHERE info LIKE %s AND id <> CONNECTION_ID()", (like,))
        return float(c.fetchone()["ms"])


def assert_waits_end(db, like, patience_s, watch_s=6):
    """Watches the process list for watch_s seconds: some statement like
    `like` must wait for the lock, and none may outlive patience_s (the
    client's read timeout) by more than a second."""
    seen, worst = 0.0, 0.0
    deadline = time.monotonic() + watch_s
    while time.monotonic() < deadline:
        ms = oldest_wait_ms(db, like)
        seen = max(seen, ms)
        worst = max(worst, ms)
        time.sleep(0.1)
    assert seen > 0, "no statement waited for the lock (%s)" % like
    assert worst < (patience_s + 1) * 1000, \
        "an abandoned statement still waits in the server after %.1f s" \
        " (client read timeout %.1f s)" % (worst / 1000, patience_s)


def test_bridge_statements_stop_waiting_when_the_bridge_gives_up(api, make_user, db,
                                                                private_bridge):
    """message:edit while the message's row is locked, at the smallest read
    timeout (2 s): the server ends the wait (1205) a second before the
    client would give up, and the bridge keeps its connection: nothing is
    retried behind the server's back."""
    b = private_bridge(database={"read_timeout_ms": 2000})
    u = make_user()
    gid = create_group(api, u)
    r = api.post("/api/v1/messages", token=u.token, json={"groupId": gid, "content": "v1"})
    mid = assert_ok(r, 201)["id"]
    ws = connect(u, url=b.url)
    with row_locked("messages", "id = %s", mid):
        ws.send({"type": "message:edit", "data": {"messageId": mid, "content": "v2"},
                 "ackId": "e"})
        # edit_tx waits at message_db_lock()'s read of the message row.
        assert_waits_end(db, "SELECT sender_id, deleted_at, deleted_by FROM messages%", 2.0)
        answer = ws.wait(lambda f: f.get("ackId") == "e", 15)
    assert answer["type"] == "error", answer
    ws.close()
    logs = b.logs()
    assert "(1205)" in logs and "connection lost" not in logs, logs


class PrivateFcgi:
    """parley-fcgi on a TCP port of its own with extra config sections."""

    def __init__(self, **sections):
        self.dir = tempfile.mkdtemp(prefix="parley-fcgi-test-")
        self.port = free_port()
        with open(os.environ["PARLEY_CONFIG"]) as f:
            conf = f.read()
        for section, values in sections.items():
            conf += "\n[%s]\n" % section + "".join("%s = %s\n" % kv for kv in values.items())
        self.config = os.path.join(self.dir, "parley.conf")
        with open(self.config, "w") as f:
            f.write(conf)
        binary = os.path.join(os.environ.get("PARLEY_BUILD_DIR", "."), "parley-fcgi")
        self.log = open(os.path.join(self.dir, "fcgi.log"), "w")
        self.proc = subprocess.Popen([binary, "--config", self.config, "--listen",
                                      "127.0.0.1:%d" % self.port],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def request(self, method, uri, body=b"", token=None):
        """Starts one FastCGI request through cgi-fcgi (in the background)."""
        env = dict(os.environ, REQUEST_METHOD=method, REQUEST_URI=uri, SCRIPT_NAME="",
                   PATH_INFO=uri, QUERY_STRING="", CONTENT_TYPE="application/json",
                   CONTENT_LENGTH=str(len(body)), REMOTE_ADDR="127.0.0.1",
                   SERVER_PROTOCOL="HTTP/1.1", SERVER_NAME="localhost")
        if token:
            env["HTTP_AUTHORIZATION"] = "Bearer " + token
        out = tempfile.TemporaryFile()
        p = subprocess.Popen(["cgi-fcgi", "-bind", "-connect", "127.0.0.1:%d" % self.port],
                             env=env, stdin=subprocess.PIPE, stdout=out,
                             stderr=subprocess.STDOUT)
        p.stdin.write(body)
        p.stdin.close()
        p.out = out
        return p

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def test_fcgi_statements_stop_waiting_when_the_worker_gives_up(make_user, db):
    """PATCH /users/me while the user's row is locked, at the smallest read
    timeout: the server ends the worker's UPDATE (1205) before the client
    would give up, and the worker keeps its connection."""
    if not subprocess.run(["sh", "-c", "command -v cgi-fcgi"], capture_output=True).stdout:
        pytest.skip("needs cgi-fcgi (libfcgi-bin)")
    u = make_user()
    w = PrivateFcgi(database={"read_timeout_ms": 2000})
    try:
        time.sleep(0.5)
        assert w.proc.poll() is None, "parley-fcgi exited"
        with row_locked("users", "id = %s", u.id):
            p = w.request("PATCH", "/api/v1/users/me", b'{"displayName":"locked"}',
                          token=u.token)
            assert_waits_end(db, "UPDATE users SET%", 2.0)
            p.wait(timeout=15)
        p.out.seek(0)
        out = p.out.read()
        assert b"Status: 5" in out, out[:400]
    finally:
        w.stop()
    with open(os.path.join(w.dir, "fcgi.log")) as f:
        logs = f.read()
    assert "(1205)" in logs and "connection lost" not in logs, logs[-3000:]
