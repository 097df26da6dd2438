"""Fixtures for the black-box tests.

The suite runs against a real stack started by `./quickstart test`, which
exports (see scripts/stack.sh env):

  PARLEY_URL                lighttpd front, http://127.0.0.1:PORT
  PARLEY_WS_URL             WebSocket URL of /ws
  PARLEY_APACHE_PROXY_URL   Apache + mod_proxy_fcgi front (optional)
  PARLEY_APACHE_FCGID_URL   Apache + mod_fcgid front (optional)
  PARLEY_CONFIG, PARLEY_STATE, PARLEY_STACK, PARLEY_BUILD_DIR
  PARLEY_MYSQL_SOCKET, PARLEY_DB_USER, PARLEY_DB_PASSWORD, PARLEY_DB_NAME
  PARLEY_MEMCACHED          unix socket path or host:port

Without PARLEY_URL the tests that need the stack are skipped (they fail
instead when CI is set, so a broken CI setup cannot pass by skipping).

Fixtures:
  contract           openapi_check.Contract of docs/openapi.yaml
  api                ApiClient on PARLEY_URL (every response validated)
  apache_proxy_api   ApiClient on PARLEY_APACHE_PROXY_URL (skips if unset)
  apache_fcgid_api   ApiClient on PARLEY_APACHE_FCGID_URL (skips if unset)
  make_api(url, name)  ApiClient factory for other fronts
  parley_env         dict of the PARLEY_* variables
  db                 pymysql connection (autocommit, DictCursor) on the test DB
  lock_race(statements, call, then=(), wait=True)
                     plays a concurrent transaction on a second connection:
                     runs statements [(sql, args)], makes call() meanwhile,
                     checks that it waits, runs then, commits, returns its
                     answer (wait=False: call() must answer meanwhile)
  stack(cmd)         runs "$PARLEY_STACK" cmd "$PARLEY_STATE"; fails on non-zero
  parleyctl(*args, config=None, check=False, timeout=120, input_text=None)
                     runs $PARLEY_BUILD_DIR/parleyctl; returns CompletedProcess
                     (text); config= sets PARLEY_CONFIG for that run
  make_user(**overrides)
                     registers a fresh unique user through the API and returns
                     a RegisteredUser (a dict whose keys also read as
                     attributes): id, username, email, password, displayName,
                     accessToken (also .token), refreshToken, user (the
                     user object), headers ({"Authorization": "Bearer ..."}).
                     overrides: username, email, password, displayName,
                     publicKey, admin=True (created with parleyctl
                     user create --admin, then logged in).
Helpers to import from parley_api: assert_ok, assert_error, parse_metrics,
metric_value, wait_until.
"""

import concurrent.futures
import os
import pathlib
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
OPENAPI = REPO / "docs" / "openapi.yaml"

sys.path.insert(0, str(HERE))

from openapi_check import Contract  # noqa: E402
from parley_api import ApiClient  # noqa: E402

ENV_VARS = (
    "PARLEY_URL", "PARLEY_WS_URL", "PARLEY_APACHE_PROXY_URL", "PARLEY_APACHE_FCGID_URL",
    "PARLEY_CONFIG", "PARLEY_STATE", "PARLEY_STACK", "PARLEY_MYSQL_SOCKET", "PARLEY_DB_USER",
    "PARLEY_DB_PASSWORD", "PARLEY_DB_NAME", "PARLEY_MEMCACHED", "PARLEY_BUILD_DIR",
    "PARLEY_FCGI_SOCKET",
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "destructive: stops and restarts stack services (restores them before returning)")


def _need(var):
    value = os.environ.get(var)
    if not value:
        msg = "%s is not set: start the stack with ./quickstart test" % var
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return value


@pytest.fixture(scope="session")
def contract():
    return Contract(OPENAPI)


@pytest.fixture(scope="session")
def parley_env():
    return {k: os.environ[k] for k in ENV_VARS if os.environ.get(k)}


@pytest.fixture(scope="session")
def make_api(contract):
    clients = []

    def make(base_url, name="api"):
        c = ApiClient(base_url, contract, name=name)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture(scope="session")
def _stack_ready(contract):
    """Waits (once) until the lighttpd front answers /health/ready with 200."""
    url = _need("PARLEY_URL")
    client = ApiClient(url, contract, name="lighttpd")
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        try:
            last = client.get("/health/ready", validate=False, timeout=2)
            if last.status_code == 200:
                break
        except Exception as e:  # noqa: BLE001 - report whatever went wrong
            last = e
        time.sleep(0.5)
    else:
        pytest.fail("stack at %s not ready after 60s: %r" % (url, getattr(last, "text", last)))
    client.close()
    return url


@pytest.fixture
def api(_stack_ready, make_api):
    return make_api(_stack_ready, "lighttpd")


@pytest.fixture
def apache_proxy_api(_stack_ready, make_api):
    url = os.environ.get("PARLEY_APACHE_PROXY_URL")
    if not url:
        pytest.skip("PARLEY_APACHE_PROXY_URL is not set (Apache mod_proxy_fcgi front not running)")
    return make_api(url, "apache-proxy-fcgi")


@pytest.fixture
def apache_fcgid_api(_stack_ready, make_api):
    url = os.environ.get("PARLEY_APACHE_FCGID_URL")
    if not url:
        pytest.skip("PARLEY_APACHE_FCGID_URL is not set (Apache mod_fcgid front not running)")
    return make_api(url, "apache-fcgid")


# How long a call must keep waiting for another transaction's locks
# (lock_race): the stack's lock wait ends after [database]
# read_timeout_ms - 1 s (9 s).
LOCK_HELD = 1.0


@pytest.fixture
def lock_race():
    """A race is not reproducible on demand: the tests of what a request
    does against a concurrent transaction play that transaction by hand.
    race(statements, call, then=(), wait=True) runs statements ((sql,
    args) pairs) in a transaction of a second connection, makes call()
    meanwhile and checks that it is still waiting LOCK_HELD seconds later,
    then runs then, commits and returns call()'s answer. wait=False:
    call() must answer while the locks are held (then rolled back)."""
    from parley_api import mysql_connect

    pool = concurrent.futures.ThreadPoolExecutor(1)
    conns = []

    def run(conn, statements):
        with conn.cursor() as c:
            for sql, args in statements:
                c.execute(sql, args)

    def race(statements, call, then=(), wait=True):
        conn = mysql_connect(autocommit=False)
        conns.append(conn)
        run(conn, statements)
        answer = pool.submit(call)
        if not wait:
            r = answer.result(timeout=LOCK_HELD * 5)
            conn.rollback()
            return r
        time.sleep(LOCK_HELD)
        assert not answer.done(), \
            "answered without waiting for the other transaction: %s" % answer.result().text
        run(conn, then)
        conn.commit()
        return answer.result(timeout=15)

    yield race
    for conn in conns:
        conn.close()
    pool.shutdown()


@pytest.fixture
def db():
    from parley_api import mysql_connect

    for name in ("PARLEY_MYSQL_SOCKET", "PARLEY_DB_USER", "PARLEY_DB_NAME"):
        _need(name)
    conn = mysql_connect()
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def stack():
    script = _need("PARLEY_STACK")
    state = _need("PARLEY_STATE")

    def run(cmd, timeout=120):
        p = subprocess.run([script, cmd, state], capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, "%s %s failed (%d):\nstdout: %s\nstderr: %s" % (
            script, cmd, p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        return p

    return run


@pytest.fixture
def parleyctl():
    binary = os.path.join(_need("PARLEY_BUILD_DIR"), "parleyctl")
    if not os.access(binary, os.X_OK):
        pytest.fail("%s is missing or not executable" % binary)

    def run(*args, config=None, check=False, timeout=120, input_text=None):
        env = dict(os.environ)
        if config is not None:
            env["PARLEY_CONFIG"] = str(config)
        p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True,
                           env=env, timeout=timeout, input=input_text)
        if check:
            assert p.returncode == 0, "parleyctl %s failed (%d):\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, args)), p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        return p

    return run


class RegisteredUser(dict):
    """A user made by make_user: u["id"] and u.id are the same."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture
def make_user(api, parleyctl):
    """Factory: make_user(**overrides) -> RegisteredUser (see the module doc)."""
    import random
    import uuid

    def make(admin=False, **overrides):
        tag = uuid.uuid4().hex[:12]
        body = {
            "username": "u_" + tag,
            "email": "u_%s@example.com" % tag,
            "password": "Passw0rd-" + tag,
            "displayName": "User " + tag,
        }
        body.update(overrides)
        # A distinct client address per registration (127.0.0.1, the web
        # server's peer, is a trusted proxy), so the per-IP registration
        # limit never gets in the way of tests, whatever the config says.
        fake_ip = "198.18.%d.%d" % (random.randrange(256), random.randrange(1, 255))
        headers = {"X-Forwarded-For": fake_ip}
        if admin:
            p = parleyctl("user", "create", "--admin", "--username", body["username"],
                          "--email", body["email"], "--display-name", body["displayName"],
                          "--password-stdin", input_text=body["password"] + "\n")
            assert p.returncode == 0, "parleyctl user create failed: %s" % p.stderr
            r = api.post("/api/v1/auth/login", headers=headers,
                         json={"login": body["username"], "password": body["password"]})
            status = 200
        else:
            r = api.post("/api/v1/auth/register", json=body, headers=headers)
            status = 201
        assert r.status_code == status, "make_user failed: %d %s" % (r.status_code, r.text[:500])
        data = r.json()["data"]
        return RegisteredUser(
            id=data["user"]["id"],
            username=body["username"],
            email=body["email"],
            password=body["password"],
            displayName=body.get("displayName"),
            accessToken=data["accessToken"],
            token=data["accessToken"],
            refreshToken=data["refreshToken"],
            user=data["user"],
            headers={"Authorization": "Bearer " + data["accessToken"]},
        )

    return make
