"""Rate limits: login per IP + account, the MariaDB failed-login cap per
account, trusted-proxy handling of X-Forwarded-For, the registration /
refresh / general API classes (with lowered limits in conf.d), and
memcached being down (general limits fail open, logins stay limited).

The test stack lifts the per-IP and per-user limits (every test talks from
127.0.0.1) but keeps logins at 5 per minute per IP + account. lighttpd's
peer address is 127.0.0.1, a trusted proxy, so X-Forwarded-For picks the
client address here: each test uses addresses of its own.
"""

import hashlib
import os
import random
import time
import uuid

import pytest
from requests.adapters import HTTPAdapter

from parley_api import assert_error, assert_ok, metric_value, parse_metrics, wait_until

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def ip():
    return "100.%d.%d.%d" % (random.randrange(64, 128), random.randrange(256),
                            random.randrange(1, 255))


def from_ip(addr):
    return {"X-Forwarded-For": addr}


def assert_limit_headers(r, limit, remaining=None):
    assert int(r.headers["X-RateLimit-Limit"]) == limit, dict(r.headers)
    if remaining is not None:
        assert int(r.headers["X-RateLimit-Remaining"]) == remaining, dict(r.headers)
    reset = int(r.headers["X-RateLimit-Reset"])
    assert time.time() - 5 <= reset <= time.time() + 15 * 60 + 5, reset


def assert_429(r, limit, max_retry):
    body = assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= body["retryAfter"] <= max_retry, body
    assert int(r.headers["Retry-After"]) == body["retryAfter"]
    assert_limit_headers(r, limit, 0)
    return body


def wrong_login(api, user, addr):
    return api.post(LOGIN, json={"login": user.username, "password": "Wrong-" + uuid.uuid4().hex},
                    headers=from_ip(addr))


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address (127.0.0.2 is not a trusted proxy)."""

    def __init__(self, source, **kw):
        self.source = source
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)


# ---------------------------------------------------------------- login

def test_sixth_login_in_a_minute_is_429(api, make_user):
    u = make_user()
    addr = ip()
    for i in range(5):
        r = wrong_login(api, u, addr)
        assert_error(r, 401, "AUTH_INVALID_CREDENTIALS")
        assert_limit_headers(r, 5, 4 - i)
    # The right password does not help within the window.
    r = api.post(LOGIN, json={"login": u.username, "password": u.password}, headers=from_ip(addr))
    assert_429(r, 5, 60)
    # Limited per IP + account: the same account elsewhere, and another
    # account from here, still get in.
    assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                       headers=from_ip(ip())))
    v = make_user()
    assert_ok(api.post(LOGIN, json={"login": v.email, "password": v.password},
                       headers=from_ip(addr)))


def test_login_limit_ignores_case_and_spelling_of_the_name(api, make_user):
    u = make_user()
    addr = ip()
    for name in [u.username, u.username.upper(), u.username, u.username.upper(), u.username]:
        assert_error(api.post(LOGIN, json={"login": name, "password": "Wrong-pass-1"},
                              headers=from_ip(addr)), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(api.post(LOGIN, json={"username": u.username.swapcase(), "password": "x"},
                        headers=from_ip(addr)), 5, 60)


def test_login_limit_counts_spellings_the_database_matches_as_the_name(api, make_user, db):
    """MariaDB's collation finds "alice" for "alice " too: such spellings
    share the name's bucket, and are refused (401 like a wrong password)
    without counting toward the account's failures."""
    u = make_user()
    addr = ip()
    for name in [u.username + " ", u.username, u.username.upper() + "  ", u.username + " ",
                 u.username.swapcase()]:
        assert_error(api.post(LOGIN, json={"login": name, "password": "Wrong-pass-1"},
                              headers=from_ip(addr)), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(api.post(LOGIN, json={"login": u.username + " ", "password": u.password},
                        headers=from_ip(addr)), 5, 60)
    # Elsewhere the right password under such a spelling is still refused,
    # and counts as nothing against the account.
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM login_failures WHERE account = %s", (u.id,))
        before = c.fetchone()["n"]
    for name in [u.username + " ", u.email + " ", u.username + "\u0301", " " + u.username]:
        assert_error(api.post(LOGIN, json={"login": name, "password": u.password},
                              headers=from_ip(ip())), 401, "AUTH_INVALID_CREDENTIALS")
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM login_failures WHERE account = %s", (u.id,))
        assert c.fetchone()["n"] == before
    assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                       headers=from_ip(ip())))


def test_ipv6_clients_share_their_slash_64(api, make_user):
    u = make_user()
    prefix = "2001:db8:%x:%x::" % (random.randrange(65536), random.randrange(65536))
    for i in range(5):
        assert_error(wrong_login(api, u, prefix + "%x" % (i + 1)), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(wrong_login(api, u, prefix + "beef"), 5, 60)
    other = "2001:db8:ffff:%x::1" % random.randrange(65536)
    assert_error(wrong_login(api, u, other), 401, "AUTH_INVALID_CREDENTIALS")


def test_ipv4_mapped_clients_are_ipv4_clients(api, make_user, db):
    """A proxy or dual-stack server may write IPv4 clients as ::ffff:a.b.c.d:
    each is still its own client (not one ::/64 for all of them), the same
    as its plain IPv4 form, and its session records the plain form."""
    u = make_user()
    a, b = ip(), ip()
    for i in range(5):
        assert_error(wrong_login(api, u, "::ffff:" + a), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(wrong_login(api, u, a), 5, 60)
    r = api.post(LOGIN, json={"login": u.username, "password": u.password},
                 headers=from_ip("::ffff:" + b))
    assert_limit_headers(r, 5, 4)
    assert_ok(r)
    with db.cursor() as c:
        c.execute("SELECT ip FROM sessions WHERE user_id = %s ORDER BY created_at DESC LIMIT 1",
                  (u.id,))
        assert c.fetchone()["ip"] == b


def test_forwarded_for_only_from_trusted_proxies(api, make_api, make_user, parley_env):
    """From 127.0.0.2 (not in trusted_proxies) X-Forwarded-For is ignored, so
    a client cannot dodge the limit by inventing addresses."""
    u = make_user()
    direct = make_api(parley_env["PARLEY_URL"], "untrusted-peer")
    direct.session.mount("http://", SourceAddressAdapter("127.0.0.2"))
    for i in range(5):
        assert_error(wrong_login(direct, u, ip()), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(wrong_login(direct, u, ip()), 5, 60)
    # Through the trusted peer each forwarded address is its own client.
    v = make_user()
    for i in range(7):
        assert_error(wrong_login(api, v, ip()), 401, "AUTH_INVALID_CREDENTIALS")


def test_forwarded_for_garbage_falls_back_to_the_peer(api, make_user):
    u = make_user()
    # Junk in the header counts as the peer itself (one bucket), never as a
    # fresh client each time, and never breaks the request.
    junk = ["not-an-ip", "1.2.3.4 5.6.7.8", "999.1.1.1", "", "<script>", "a" * 300]
    addr_limited = False
    for j in junk:
        r = api.post(LOGIN, json={"login": u.username, "password": "Wrong-pass-1"},
                     headers={"X-Forwarded-For": j} if j else {})
        assert r.status_code in (401, 429), r.text
        addr_limited |= r.status_code == 429
    assert addr_limited, "six attempts from the same (peer) address were not limited"


def test_failed_logins_per_account_cap(api, make_user, db):
    """At most [ratelimit] failed_logins_per_hour (100) failures per account
    in any hour, from any number of addresses (counted in MariaDB)."""
    u = make_user()
    with db.cursor() as c:
        c.executemany("INSERT INTO login_failures (account, at) VALUES (%s, NOW(3))",
                      [(u.id,)] * 99)
    # The 100th failure is still checked ...
    assert_error(wrong_login(api, u, ip()), 401, "AUTH_INVALID_CREDENTIALS")
    # ... then the account is closed to password guessing for the hour,
    # even for the right password, from a fresh address.
    r = api.post(LOGIN, json={"login": u.email, "password": u.password}, headers=from_ip(ip()))
    body = assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert 3000 <= body["retryAfter"] <= 3600
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM login_failures WHERE account = %s", (u.id,))
        assert c.fetchone()["n"] == 100
        # Failures older than an hour no longer count.
        c.execute("UPDATE login_failures SET at = NOW(3) - INTERVAL 61 MINUTE WHERE account = %s",
                  (u.id,))
    assert_ok(api.post(LOGIN, json={"login": u.email, "password": u.password},
                       headers=from_ip(ip())))


def test_unknown_accounts_are_capped_too(api, db):
    """Unknown names are counted under a digest of the name, like real ones."""
    name = "ghost_%s" % uuid.uuid4().hex[:10]
    assert_error(api.post(LOGIN, json={"login": name, "password": "Wrong-1a"},
                          headers=from_ip(ip())), 401, "AUTH_INVALID_CREDENTIALS")
    with db.cursor() as c:
        c.execute("SELECT account FROM login_failures ORDER BY id DESC LIMIT 1")
        acct = c.fetchone()["account"]
        assert acct.startswith("?") and name not in acct
        c.executemany("INSERT INTO login_failures (account) VALUES (%s)", [(acct,)] * 99)
    assert_error(api.post(LOGIN, json={"login": name.upper(), "password": "Wrong-1a"},
                          headers=from_ip(ip())), 429, "RATE_LIMIT_EXCEEDED")


def test_failure_lock_is_the_same_for_known_and_unknown_names(api, make_user, db):
    """Spellings the collation matches to one name ("alice ", "alice" plus a
    combining accent) must not tell a real account from a made-up name by
    when the failure lock closes: both lock on the 101st counted failure."""
    u = make_user()
    ghost = "ghost_%s" % uuid.uuid4().hex[:10]
    outcomes = {}
    for name, account in [(u.username, u.id),
                          (ghost, "?" + hashlib.sha256(ghost.encode()).hexdigest())]:
        with db.cursor() as c:
            c.executemany("INSERT INTO login_failures (account) VALUES (%s)", [(account,)] * 99)
        statuses = []
        for spelling in [name + " ", name + "\u0301", name, name.upper(), name + " "]:
            r = api.post(LOGIN, json={"login": spelling, "password": "Wrong-pass-1"},
                         headers=from_ip(ip()))
            assert r.status_code in (401, 429), r.text
            statuses.append(r.status_code)
        with db.cursor() as c:
            c.execute("SELECT COUNT(*) AS n FROM login_failures WHERE account = %s", (account,))
            statuses.append(c.fetchone()["n"])
        outcomes[name] = statuses
    assert outcomes[u.username] == outcomes[ghost] == [401, 401, 401, 429, 401, 100], outcomes


def test_general_api_headers(api, make_user):
    u = make_user()
    r1 = api.get(ME, token=u.token)
    r2 = api.get(ME, token=u.token)
    assert_ok(r1), assert_ok(r2)
    limit = int(r1.headers["X-RateLimit-Limit"])
    # Far from a high limit the count is sampled (ratelimit.c), so the
    # remaining figure is an estimate that never goes up within a window.
    assert int(r2.headers["X-RateLimit-Remaining"]) <= int(r1.headers["X-RateLimit-Remaining"])
    assert int(r2.headers["X-RateLimit-Remaining"]) < limit
    # Public probes are not limited.
    assert "X-RateLimit-Limit" not in api.get("/health").headers


# ------------------------------------------------- lowered limits (conf.d)

LOW = {"register_per_15min": 3, "refresh_per_minute": 4, "api_per_minute": 15,
       "auth_ip_per_minute": 8}


@pytest.fixture(scope="module")
def low_limits():
    """Lowers the limits in conf.d for the tests that need to reach them."""
    import subprocess
    state, script = os.environ.get("PARLEY_STATE"), os.environ.get("PARLEY_STACK")
    if not state or not script:
        pytest.skip("needs the stack (PARLEY_STATE, PARLEY_STACK)")
    path = os.path.join(state, "etc", "conf.d", "zz-ratelimit-test.conf")

    def restart():
        p = subprocess.run([script, "lighttpd-restart", state], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr

    with open(path, "w") as f:
        f.write("# written by tests/blackbox/test_ratelimit.py; removed afterwards\n[ratelimit]\n")
        for k, v in LOW.items():
            f.write("%s = %d\n" % (k, v))
    os.chmod(path, 0o644)
    try:
        restart()
        yield LOW
    finally:
        os.unlink(path)
        restart()


def ready(api):
    wait_until(lambda: api.get("/health/ready", validate=False).status_code == 200, 30,
               0.2, "stack ready")


@pytest.mark.destructive
def test_register_limit(api, low_limits):
    ready(api)
    addr = ip()
    for i in range(3):
        r = api.post(REGISTER, headers=from_ip(addr), json={
            "username": "rl_%s" % uuid.uuid4().hex[:10], "password": "Passw0rd-rl",
            "email": "rl_%s@example.com" % uuid.uuid4().hex[:10]})
        assert_ok(r, 201)
        assert_limit_headers(r, 3, 2 - i)
    r = api.post(REGISTER, headers=from_ip(addr), json={
        "username": "rl_%s" % uuid.uuid4().hex[:10], "password": "Passw0rd-rl",
        "email": "rl_%s@example.com" % uuid.uuid4().hex[:10]})
    assert_429(r, 3, 15 * 60)


@pytest.mark.destructive
def test_refresh_limit(api, make_user, low_limits):
    ready(api)
    u = make_user()
    addr = ip()
    token = u.refreshToken
    for i in range(4):
        r = api.post(REFRESH, json={"refreshToken": token}, headers=from_ip(addr))
        token = assert_ok(r)["refreshToken"]
        assert_limit_headers(r, 4, 3 - i)
    assert_429(api.post(REFRESH, json={"refreshToken": token}, headers=from_ip(addr)), 4, 60)
    # The token was not used up by the refused attempt.
    assert_ok(api.post(REFRESH, json={"refreshToken": token}, headers=from_ip(ip())))


@pytest.mark.destructive
def test_general_api_limit_per_user(api, make_user, low_limits):
    ready(api)
    u, other = make_user(), make_user()
    for i in range(15):
        r = api.get(ME, token=u.token, headers=from_ip(ip()))
        assert_ok(r)
        assert_limit_headers(r, 15, 14 - i)
    assert_429(api.get(ME, token=u.token), 15, 60)
    assert_429(api.get("/api/v1/users/%s" % other.id, token=u.token, headers=from_ip(ip())),
               15, 60)
    assert_ok(api.get(ME, token=other.token))


@pytest.mark.destructive
def test_login_limit_per_ip(api, make_user, low_limits):
    ready(api)
    addr = ip()
    users = [make_user() for _ in range(9)]
    for u in users[:8]:
        assert_error(wrong_login(api, u, addr), 401, "AUTH_INVALID_CREDENTIALS")
    assert_429(wrong_login(api, users[8], addr), 8, 60)


# ------------------------------------------------------- memcached down

@pytest.mark.destructive
def test_memcached_down_general_open_logins_limited(api, make_user, stack):
    u, v = make_user(), make_user()
    before = parse_metrics(api.get("/metrics").text)
    stack("memcached-stop")
    try:
        # General endpoints still answer (sessions checked in MariaDB,
        # the general limit fails open).
        for _ in range(3):
            assert_ok(api.get(ME, token=u.token))
        assert_ok(api.get("/api/v1/users/%s" % v.id, token=u.token))
        # Logins stay limited, by MariaDB counters now.
        addr = ip()
        for i in range(5):
            r = wrong_login(api, v, addr)
            assert_error(r, 401, "AUTH_INVALID_CREDENTIALS")
            assert_limit_headers(r, 5, 4 - i)
        assert_429(wrong_login(api, v, addr), 5, 60)
        assert_ok(api.post(LOGIN, json={"login": v.username, "password": v.password},
                           headers=from_ip(ip())))
        # Revocation still works without memcached; the logout says that
        # memcached did not hear of it (503), never a silent success.
        d = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=from_ip(ip())))
        assert_error(api.post("/api/v1/auth/logout", token=d["accessToken"]), 503,
                     "SERVICE_UNAVAILABLE")
        assert_error(api.get(ME, token=d["accessToken"]), 401, "AUTH_TOKEN_INVALID")
        after = parse_metrics(api.get("/metrics").text)
        assert metric_value(after, "parley_ratelimit_fail_open_total") > \
            metric_value(before, "parley_ratelimit_fail_open_total")
        assert metric_value(after, "parley_ratelimit_db_fallback_total") > \
            metric_value(before, "parley_ratelimit_db_fallback_total")
    finally:
        stack("memcached-start")
        ready(api)
    # Back to normal, and the logout made while memcached was down holds.
    assert_ok(api.get(ME, token=u.token))
    assert_error(api.get(ME, token=d["accessToken"]), 401, "AUTH_TOKEN_INVALID")
