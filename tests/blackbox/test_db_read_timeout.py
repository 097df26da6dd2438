"""`[database] read_timeout_ms` and the row lock wait (src/core/db.c).

Both are whole seconds: the client library's read timeout (the setting
rounded up) and the session's innodb_lock_wait_timeout, which db.c sets a
second lower so that a statement waiting for a row lock is ended by the
server, which rolls it back and answers 1205, before the client gives up
on it. Were they equal, the two would race: a client that gives up first
drops its connection and retries the statement, while the server may yet
get the lock and carry out the first one. The lock wait cannot go under
1 s (0 means not waiting at all), so a read timeout under 2 s is refused
by every program, with the reason, instead of racing. (That the lock
wait then ends first, at the smallest read timeout, is checked in
test_db_waits.py.)
"""

import os
import subprocess

import pytest


def config_with(tmp_path, extra):
    path = tmp_path / "parley.conf"
    path.write_text(open(os.environ["PARLEY_CONFIG"]).read() + "\n" + extra + "\n")
    return str(path)


def binary(name):
    return os.path.join(os.environ.get("PARLEY_BUILD_DIR", "."), name)


@pytest.mark.parametrize("ms", [100, 1000, 1999])
def test_a_read_timeout_under_two_seconds_is_refused_with_the_reason(tmp_path, ms):
    conf = config_with(tmp_path, "[database]\nread_timeout_ms = %d" % ms)
    for cmd in ([binary("parleyctl"), "--config", conf, "check-config"],
                [binary("parley-bridge"), "--config", conf],
                [binary("parley-fcgi"), "--config", conf, "--listen", str(tmp_path / "s")]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, "%s accepted read_timeout_ms = %d" % (cmd[0], ms)
        assert "'read_timeout_ms'" in p.stderr and "%d is under 2000" % ms in p.stderr and \
            "row lock wait" in p.stderr, p.stderr


def test_two_seconds_is_accepted(tmp_path):
    conf = config_with(tmp_path, "[database]\nread_timeout_ms = 2000")
    p = subprocess.run([binary("parleyctl"), "--config", conf, "check-config"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
