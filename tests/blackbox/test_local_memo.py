"""The local memo of memcached answers ([memcached] local_memo_ms, cache.h).

The test stack talks to memcached over a unix socket, so every worker
keeps what a request's prefetch read and answers the same session's next
requests from it. These tests check that it is really used (memcached
sees fewer reads) and that it never hides a write: a profile change, a
logout-all and a password reset by parleyctl (another process) show on
the very next request in every worker, however many of them hold the
session.
"""

import concurrent.futures

from parley_api import assert_error, assert_ok, memcached_stats, metric_value, \
    parse_metrics

ME = "/api/v1/auth/me"
# Enough concurrent requests to reach every thread of both workers (2 x 8).
SPREAD = 48


def memcached_gets():
    return int(memcached_stats()["cmd_get"])


def local_hits(api):
    return metric_value(parse_metrics(api.get("/metrics").text), "parley_cache_local_hits_total")


def everywhere(make_api, url, token, n=SPREAD):
    """n concurrent GET /auth/me with token, each on its own connection."""
    def one(_):
        c = make_api(url, "memo")
        try:
            return c.get(ME, token=token)
        finally:
            c.close()
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        return list(ex.map(one, range(n)))


def test_repeated_requests_skip_memcached(api, make_user):
    u = make_user()
    assert_ok(api.get(ME, token=u.token))
    hits, gets = local_hits(api), memcached_gets()
    for _ in range(40):
        assert assert_ok(api.get(ME, token=u.token))["id"] == u.id
    # Without the memo each request reads its 4 keys (one multi-get).
    assert memcached_gets() - gets < 40 * 4 / 2
    assert local_hits(api) - hits >= 20


def test_profile_change_shows_at_once_in_every_worker(api, make_api, _stack_ready, make_user):
    u = make_user()
    for r in everywhere(make_api, _stack_ready, u.token):
        assert assert_ok(r)["displayName"] != "Renamed"
    assert_ok(api.patch("/api/v1/users/me", token=u.token, json={"displayName": "Renamed"}))
    for r in everywhere(make_api, _stack_ready, u.token):
        assert assert_ok(r)["displayName"] == "Renamed"


def test_logout_all_shows_at_once_in_every_worker(api, make_api, _stack_ready, make_user):
    u = make_user()
    for r in everywhere(make_api, _stack_ready, u.token):
        assert_ok(r)
    assert_ok(api.post("/api/v1/auth/logout-all", token=u.token))
    for r in everywhere(make_api, _stack_ready, u.token):
        assert_error(r, 401, "AUTH_TOKEN_INVALID")


def test_password_reset_by_parleyctl_shows_at_once(api, make_api, _stack_ready, make_user,
                                                    parleyctl):
    u = make_user()
    for r in everywhere(make_api, _stack_ready, u.token):
        assert_ok(r)
    p = parleyctl("user", "reset-password", "--username", u.username, "--password-stdin",
                  input_text="N3w-pass-" + u.id[:8] + "\n")
    assert p.returncode == 0, p.stderr
    for r in everywhere(make_api, _stack_ready, u.token):
        assert_error(r, 401, "AUTH_TOKEN_INVALID")
