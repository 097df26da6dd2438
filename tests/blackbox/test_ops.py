"""What an operator sees: logs, parleyctl's answers, the files it guards.

The web-server configurations under test are the shipped httpd-conf/
templates the stack renders; parleyctl is the build's binary, run with
copies of the stack's configuration.
"""

import os
import pathlib
import random
import socket
import threading
import time
import uuid

import pytest
import websocket

from parley_api import wait_until

FRONTS = {
    "lighttpd": ("PARLEY_URL", "lighttpd-access.log"),
    "apache-proxy-fcgi": ("PARLEY_APACHE_PROXY_URL", "apache-proxy-fcgi-access.log"),
    "apache-fcgid": ("PARLEY_APACHE_FCGID_URL", "apache-fcgid-access.log"),
}


def log_dir():
    d = os.environ.get("PARLEY_LOG_DIR") or os.path.join(
        os.environ.get("PARLEY_STATE") or pytest.skip("PARLEY_STATE not set"), "log")
    return pathlib.Path(d)


def logs_text():
    out = {}
    for p in log_dir().iterdir():
        if p.is_file():
            out[p.name] = p.read_text(encoding="utf-8", errors="replace")
    return out


# ------------------------------------------------------------ secrets in logs

@pytest.mark.parametrize("front", sorted(FRONTS))
def test_access_logs_never_hold_the_websocket_token(front, api, make_user):
    """Browsers cannot set headers on a WebSocket, so clients authenticate
    with /ws?token=ACCESS_TOKEN. The web server's access log must not keep
    it: the path is logged, the query string is not."""
    var, access_log = FRONTS[front]
    base = os.environ.get(var) or pytest.skip("%s is not set" % var)
    u = make_user()
    agent = "parley-ops-test-" + uuid.uuid4().hex
    url = base.replace("http://", "ws://", 1) + "/ws?token=" + u.token
    ws = websocket.create_connection(url, timeout=10, suppress_origin=True, header=[
        "User-Agent: " + agent,
        "X-Forwarded-For: 198.18.%d.%d" % (random.randrange(256), random.randrange(1, 255)),
    ])
    try:
        assert '"auth_response"' in ws.recv()
    finally:
        ws.close()
    # The request is logged when the tunnel closes.
    line = wait_until(lambda: next((ln for ln in logs_text().get(access_log, "").splitlines()
                                    if agent in ln), None),
                      15, 0.2, "the /ws request in %s" % access_log)
    assert "/ws" in line, line
    leaks = sorted(name for name, text in logs_text().items() if u.token in text)
    assert not leaks, "access token written to %s" % ", ".join(leaks)


@pytest.mark.parametrize("front", sorted(FRONTS))
def test_rejected_websocket_requests_never_log_the_token(front):
    """A /ws?token= request the web server rejects while reading it (a bad
    header line, a control character or an over-long request line) or
    cannot route (a bridge that answers garbage is covered by the error
    log's own format: mod_proxy names r->uri, without the query) must not
    put the token into any log either."""
    var, access_log = FRONTS[front]
    base = os.environ.get(var) or pytest.skip("%s is not set" % var)
    host, port = base[len("http://"):].split(":")
    secret = "tok" + uuid.uuid4().hex
    requests = [
        "GET /ws?token=%s HTTP/1.1\r\nHost: h\r\nBad Header Line\r\n\r\n" % secret,
        "GET /ws?token=%s\x01 HTTP/1.1\r\nHost: h\r\n\r\n" % secret,
        "GET /ws?token=%s x HTTP/1.1\r\nHost: h\r\n\r\n" % secret,
        "GET /ws?token=%s%s HTTP/1.1\r\nHost: h\r\n\r\n" % (secret, "a" * 9000),
        "GET /ws%%2f..%%2f?token=%s HTTP/1.1\r\nHost: h\r\n\r\n" % secret,
    ]
    for raw in requests:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(raw.encode("latin-1"))
            try:
                s.recv(4096)
            except OSError:
                pass
    marker = "/ops-log-marker-" + uuid.uuid4().hex
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                   % marker).encode())
        s.recv(4096)
    wait_until(lambda: marker in logs_text().get(access_log, ""), 15, 0.2,
               "the marker request in %s" % access_log)
    leaks = sorted(name for name, text in logs_text().items() if secret in text)
    assert not leaks, "a /ws token written to %s" % ", ".join(leaks)


def test_logs_hold_no_passwords_tokens_or_keys(api, make_user, parley_env):
    """Register, log in (also with a wrong password), refresh and open a
    WebSocket; afterwards no log file of the stack (workers, bridge,
    parleyctl, web servers, MariaDB) holds the passwords, the tokens, the
    database password or a JWT signing key."""
    u = make_user()
    bad = "Wrong-" + uuid.uuid4().hex
    api.post("/api/v1/auth/login", json={"login": u.username, "password": bad},
             validate=False)
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": u.refreshToken}, validate=False)
    fresh = r.json().get("data") or {}
    ws = websocket.create_connection(os.environ["PARLEY_WS_URL"], timeout=10,
                                     suppress_origin=True,
                                     header=["Authorization: Bearer " + u.token])
    ws.close()
    # The workers' access lines are buffered briefly: wait for a marker.
    marker = "/api/v1/ops-log-marker-" + uuid.uuid4().hex
    api.get(marker, validate=False)
    wait_until(lambda: any(marker in t for t in logs_text().values()), 15, 0.2,
               "the workers' access log to show %s" % marker)
    secrets = {
        "password": u.password,
        "wrong password": bad,
        "access token": u.token,
        "refresh token": u.refreshToken,
        "new access token": fresh.get("accessToken"),
        "new refresh token": fresh.get("refreshToken"),
        "database password": parley_env.get("PARLEY_DB_PASSWORD"),
    }
    keys = pathlib.Path(parley_env["PARLEY_CONFIG"]).parent / "jwt.keys"
    if keys.exists():
        for line in keys.read_text().splitlines():
            if line and not line.startswith("#"):
                secrets["JWT key " + line.split()[0]] = line.split()[1]
    texts = logs_text()
    leaks = ["%s in %s" % (what, name) for what, s in secrets.items() if s
             for name, text in texts.items() if s in text]
    assert not leaks, "secrets in the logs: " + "; ".join(leaks)


# ------------------------------------------------------------------ parleyctl

def config_copy(parley_env, tmp_path, extra="", mode=0o600, name="parley.conf"):
    """The stack's configuration in tmp_path (mode), extra appended."""
    cfg = parley_env.get("PARLEY_CONFIG") or pytest.skip("PARLEY_CONFIG not set")
    path = tmp_path / name
    path.write_text(open(cfg, encoding="utf-8").read().rstrip("\n") + "\n\n" + extra + "\n",
                    encoding="utf-8")
    path.chmod(mode)
    return path


def output(p):
    return p.stdout + p.stderr


def test_parleyctl_names_a_missing_config_and_needs_none_for_version(parleyctl):
    p = parleyctl("check-config", config="/nonexistent/parley.conf")
    assert p.returncode == 1, output(p)
    assert "/nonexistent/parley.conf" in p.stderr and "No such file" in p.stderr, p.stderr
    p = parleyctl("version", config="/nonexistent/parley.conf")
    assert p.returncode == 0 and "schema version" in p.stdout, output(p)


@pytest.mark.parametrize("command, stdin", [
    (("migrate",), None),
    (("user", "create", "--username", "nobody_db", "--email", "nobody_db@example.com"),
     "Passw0rd-not-used\n"),
])
def test_parleyctl_wrong_database_password_says_where_and_never_prints_it(
        parleyctl, parley_env, tmp_path, command, stdin):
    wrong = "Wrong-" + uuid.uuid4().hex
    conf = config_copy(parley_env, tmp_path, "[database]\npassword = %s" % wrong)
    p = parleyctl(*command, config=conf, input_text=stdin)
    out = output(p)
    assert p.returncode == 1, out
    assert "Access denied" in out, out
    assert "cannot connect to MariaDB as 'parley'" in p.stderr, out
    assert "check [database] in %s" % conf in p.stderr, out
    assert wrong not in out
    real = parley_env.get("PARLEY_DB_PASSWORD")
    assert not real or real not in out


def test_parleyctl_unreachable_database(parleyctl, parley_env, tmp_path):
    conf = config_copy(parley_env, tmp_path,
                       "[database]\nsocket = %s/no-such.sock" % tmp_path)
    p = parleyctl("migrate", config=conf, timeout=20)
    assert p.returncode == 1, output(p)
    assert "cannot connect to MariaDB" in p.stderr and "no-such.sock" in p.stderr, output(p)


def test_migrate_outwaits_another_migration_past_the_read_timeout(parleyctl, parley_env,
                                                                  tmp_path, db):
    """Two `parleyctl migrate` runs (two hosts, or a retry) queue on
    GET_LOCK('parley.migrate', 60); a migration may also rebuild a large
    table. Neither may be cut short by the workers' read timeout."""
    conf = config_copy(parley_env, tmp_path, "[database]\nread_timeout_ms = 2000")
    with db.cursor() as cur:
        cur.execute("SELECT GET_LOCK('parley.migrate', 0) AS got")
        assert cur.fetchone()["got"] == 1
    result = {}
    t = threading.Thread(target=lambda: result.update(p=parleyctl("migrate", config=conf,
                                                                  timeout=60)))
    t.start()
    try:
        # Still waiting well past its 2 s read timeout.
        time.sleep(4)
        assert t.is_alive(), output(result["p"])
    finally:
        with db.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK('parley.migrate')")
        t.join(60)
    p = result["p"]
    assert p.returncode == 0, output(p)
    assert "schema is up to date" in p.stdout, output(p)


@pytest.mark.parametrize("extra, key", [
    ("[server]\nlog_level = verbose", "log_level"),
    ("[server]\nbase_path = chat", "base_path"),
    ("[server]\ncors_origins = https://chat.example.com/", "cors_origins"),
    ("[server]\ntrusted_proxies = proxy.example.com", "trusted_proxies"),
    ("[bridge]\nevent_loop = epoll", "event_loop"),
    ("[memcached]\nservers =", "servers"),
])
def test_check_config_refuses_values_the_programs_cannot_use(parleyctl, parley_env, tmp_path,
                                                             extra, key):
    conf = config_copy(parley_env, tmp_path, extra)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 1, "check-config accepted %r:\n%s" % (extra, output(p))
    assert "'%s'" % key in p.stderr and str(conf) in p.stderr, p.stderr


def test_check_config_warns_about_a_password_file_others_can_read(parleyctl, parley_env,
                                                                  tmp_path):
    secret = "Pw-" + uuid.uuid4().hex
    conf = config_copy(parley_env, tmp_path, "[database]\npassword = %s" % secret, mode=0o644)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0, output(p)
    assert "warning" in p.stderr and str(conf) in p.stderr and "chmod" in p.stderr, p.stderr
    assert secret not in output(p)
    conf.chmod(0o640)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and str(conf) not in p.stderr, output(p)
    # A conf.d file without the password may be readable by all.
    (tmp_path / "conf.d").mkdir()
    tuning = tmp_path / "conf.d" / "10-tuning.conf"
    tuning.write_text("[server]\nthreads = 4\n")
    tuning.chmod(0o644)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and "warning" not in p.stderr, output(p)


def test_check_config_checks_the_keys_file(parleyctl, parley_env, tmp_path):
    keys = tmp_path / "keys" / "jwt.keys"
    conf = config_copy(parley_env, tmp_path, "[auth]\nkeys_file = %s" % keys)
    # Missing directory: check-config warns, keys init says what to create.
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and "keys init" in p.stderr, output(p)
    p = parleyctl("keys", "init", config=conf)
    assert p.returncode == 1, output(p)
    assert str(keys.parent) in p.stderr and ".tmp." not in p.stderr, p.stderr
    keys.parent.mkdir()
    parleyctl("keys", "init", config=conf, check=True)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and "warning" not in p.stderr, output(p)
    keys.chmod(0o644)
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and "warning" in p.stderr and str(keys) in p.stderr, output(p)
    secret = keys.read_text().splitlines()[-1].split()[1]
    assert secret not in output(p)
    keys.write_text("not a keys file\n")
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 1 and str(keys) in p.stderr, output(p)


# ------------------------------------------------- check-config --connect

def test_check_config_connect_reaches_database_and_memcached(parleyctl, parley_env, tmp_path):
    conf = config_copy(parley_env, tmp_path)
    p = parleyctl("check-config", "--connect", config=conf, timeout=30)
    assert p.returncode == 0, output(p)
    assert "MariaDB OK" in p.stdout and "schema version" in p.stdout, output(p)
    assert "memcached OK" in p.stdout and "configuration OK" in p.stdout, output(p)
    real = parley_env.get("PARLEY_DB_PASSWORD")
    assert not real or real not in output(p)
    # Without --connect nothing is contacted: a dead memcached goes unseen.
    conf = config_copy(parley_env, tmp_path, "[memcached]\nservers = 127.0.0.1:1")
    p = parleyctl("check-config", config=conf)
    assert p.returncode == 0 and "memcached" not in output(p), output(p)
    p = parleyctl("check-config", "--connnect", config=conf)
    assert p.returncode == 2 and "--connect" in p.stderr, output(p)


def test_check_config_connect_names_the_database_host_never_the_password(
        parleyctl, parley_env, tmp_path):
    port = os.environ.get("PARLEY_MYSQL_PORT") or pytest.skip("PARLEY_MYSQL_PORT not set")
    wrong = "Wrong-" + uuid.uuid4().hex
    conf = config_copy(parley_env, tmp_path, "[database]\nsocket =\nhost = 127.0.0.1\n"
                       "port = %s\npassword = %s" % (port, wrong))
    p = parleyctl("check-config", "--connect", config=conf, timeout=30)
    out = output(p)
    assert p.returncode == 1, out
    assert "Access denied" in out and "127.0.0.1:%s" % port in p.stderr, out
    assert "check [database] in %s" % conf in p.stderr, out
    # memcached is still checked, and answers.
    assert "memcached OK" in p.stdout and "configuration OK" not in p.stdout, out
    assert wrong not in out
    real = parley_env.get("PARLEY_DB_PASSWORD")
    assert not real or real not in out


@pytest.mark.parametrize("servers", ["127.0.0.1:1", "unix:/nonexistent/memcached.sock"])
def test_check_config_connect_reports_memcached_down(parleyctl, parley_env, tmp_path, servers):
    conf = config_copy(parley_env, tmp_path, "[memcached]\nservers = %s" % servers)
    p = parleyctl("check-config", "--connect", config=conf, timeout=30)
    out = output(p)
    assert p.returncode == 1, out
    assert "memcached does not answer at %s" % servers in p.stderr, out
    assert "check [memcached] servers in %s" % conf in p.stderr, out
    assert "MariaDB OK" in p.stdout, out


def test_check_config_connect_pings_every_memcached_server(parleyctl, parley_env, tmp_path):
    """Each server of [memcached] servers is asked on its own (a key only
    reaches the server it hashes to), and each one that fails is named -
    wherever it stands in the list."""
    import configparser
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.read(parley_env["PARLEY_CONFIG"])
    good = cp.get("memcached", "servers").split(",")[0].strip()
    bad = ["127.0.0.1:1", "unix:/nonexistent/memcached.sock"]
    for servers in ([good] + bad, bad[:1] + [good] + bad[1:], bad + [good]):
        conf = config_copy(parley_env, tmp_path, "[memcached]\nservers = %s" % ", ".join(servers))
        p = parleyctl("check-config", "--connect", config=conf, timeout=30)
        out = output(p)
        assert p.returncode == 1, out
        assert "memcached OK: %s\n" % good in p.stdout, out
        for b in bad:
            assert "memcached does not answer at %s within" % b in p.stderr, out
        assert p.stderr.count("memcached does not answer") == 2, out
        assert "configuration OK" not in p.stdout, out
    # All good: each named OK, and the whole check passes.
    conf = config_copy(parley_env, tmp_path, "[memcached]\nservers = %s %s" % (good, good))
    p = parleyctl("check-config", "--connect", config=conf, timeout=30)
    assert p.returncode == 0 and p.stdout.count("memcached OK: %s\n" % good) == 2, output(p)
    # memcached takes no credentials (servers are host[:port] or sockets,
    # check_servers() in config.c); the database password never shows.
    real = parley_env.get("PARLEY_DB_PASSWORD")
    assert not real or real not in output(p)


def test_check_config_connect_wants_the_current_schema(parleyctl, parley_env, tmp_path, db):
    """A database a newer Parley migrated is not one this build may run on."""
    conf = config_copy(parley_env, tmp_path)
    with db.cursor() as cur:
        cur.execute("SELECT MAX(version) AS v FROM schema_migrations")
        newer = cur.fetchone()["v"] + 1000
        cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (newer, "%d-from-the-future.sql" % newer))
    try:
        p = parleyctl("check-config", "--connect", config=conf, timeout=30)
    finally:
        with db.cursor() as cur:
            cur.execute("DELETE FROM schema_migrations WHERE version = %s", (newer,))
    assert p.returncode == 1, output(p)
    assert "schema version %d, newer than this build" % newer in p.stderr, output(p)
