"""Foundation: probes, errors for unknown routes and bad bodies, metrics,
the served OpenAPI document, parleyctl, the Apache fronts, and readiness
while MariaDB / memcached go down and come back.

The destructive tests (marked `destructive`) are last in this module and
restore what they stop in a finally block, waiting until the stack is ready
again, so the modules after this one see a healthy stack.
"""

import datetime
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest
import yaml

from parley_api import assert_error, assert_ok, memcached_stats, metric_value, parse_metrics

OPENAPI = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
LOGIN = "/api/v1/auth/login"
HEALTH_PATHS = ["/health", "/livez", "/api/v1/health", "/api/health"]
READY_PATHS = ["/health/ready", "/readyz", "/api/v1/health/ready", "/api/health/ready"]


def parse_ts(s):
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


# ------------------------------------------------------------------ health

@pytest.mark.parametrize("path", HEALTH_PATHS)
def test_health(api, path):
    r = api.get(path)
    data = assert_ok(r)
    assert r.headers["Content-Type"].replace(" ", "").lower() == "application/json;charset=utf-8"
    assert data["status"] == "ok"
    skew = abs((parse_ts(data["timestamp"]) - datetime.datetime.now(datetime.timezone.utc))
               .total_seconds())
    assert skew < 120, "timestamp %s is %.0fs off" % (data["timestamp"], skew)
    assert data["uptime"] >= 0
    assert data["version"]


def test_health_trailing_slash_is_the_same_route(api):
    assert_ok(api.get("/api/v1/health/"))


def test_uptime_is_seconds(api):
    # uptime is per serving process: only check it is a sane number of
    # seconds (not milliseconds, not an epoch).
    data = assert_ok(api.get("/health"))
    assert 0 <= data["uptime"] < 10 * 365 * 86400


@pytest.mark.parametrize("path", READY_PATHS)
def test_ready(api, path):
    data = assert_ok(api.get(path))
    assert data["status"] == "ready"
    assert data["checks"]["database"] == "ok"
    assert data["checks"]["memcached"] == "ok"


# ------------------------------------------------------- unknown routes, 405

@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PUT", "PATCH"])
@pytest.mark.parametrize("path", [
    "/nope",
    "/api/v1/nope",
    "/api/v1/nope/deeper/still",
    "/api/nope",
    "/api/v2/health",
    "/healthz-not",
    "/api/v1/health/extra",
])
def test_unknown_route_404(api, method, path):
    kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    body = assert_error(api.request(method, path, **kw), 404, "NOT_FOUND")
    assert "error" in body


def test_unknown_route_with_query_string(api):
    assert_error(api.get("/api/v1/no-such-thing?x=%ff&y=1"), 404, "NOT_FOUND")
    assert_error(api.get("/nope?health"), 404, "NOT_FOUND")


def test_unknown_route_does_not_echo_internals(api):
    r = api.get("/api/v1/<script>alert(1)</script>")
    body = assert_error(r, 404, "NOT_FOUND")
    assert "<script>" not in r.text
    assert "/usr/" not in r.text and ".c:" not in r.text, body


def raw_http(api, request_text):
    """Sends request_text as it is (plus Connection: close) to api's front;
    returns (status, headers, body bytes)."""
    host, port = urllib.parse.urlsplit(api.base_url).netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((request_text + "Connection: close\r\n\r\n").encode())
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for k, v in (l.split(": ", 1) for l in lines[1:]):
        # A repeated header reads as its values joined, as HTTP defines.
        headers[k.lower()] = headers[k.lower()] + ", " + v if k.lower() in headers else v
    if headers.get("transfer-encoding") == "chunked":
        out = b""
        while True:
            size, _, body = body.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, body = out + body[:n], body[n + 2:]
        body = out
    else:
        assert int(headers["content-length"]) == len(body), headers
    return int(lines[0].split(" ")[1]), headers, body


def assert_raw_error(status, headers, body, want_status, code, nosniff=True):
    assert status == want_status, (status, headers, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    # Whoever answers - Parley or Apache - says it once. lighttpd's own
    # refusals (nosniff=False) cannot: README, "lighttpd".
    if nosniff:
        assert headers.get("x-content-type-options") == "nosniff", headers
    doc = json.loads(body)
    assert doc["success"] is False and doc["code"] == code, doc
    assert doc["error"] == {"code": code, "message": doc["message"]}, doc


# Requests the web server refuses before Parley sees them still get the JSON
# error envelope (httpd-conf/errors/: lighttpd's server.errorfile-prefix,
# Apache's ErrorDocument).
BIG_HEADER = "X-Big: %s\r\n" % ("a" * 70000)


@pytest.mark.parametrize("request_text,status,code", [
    ("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n", 411, "LENGTH_REQUIRED"),
    ("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n", 400, "BAD_REQUEST"),
    ("GET /health HTTP/1.1\r\n", 400, "BAD_REQUEST"),  # HTTP/1.1 without Host
    ("GET /health HTTP/1.1\r\nHost: x\r\n" + BIG_HEADER, 431, "HEADERS_TOO_LARGE"),
])
def test_lighttpd_refusals_are_json(api, request_text, status, code):
    assert_raw_error(*raw_http(api, request_text), status, code, nosniff=False)


@pytest.mark.parametrize("front", ["apache_proxy_api", "apache_fcgid_api"])
@pytest.mark.parametrize("request_text", [
    "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n",
    "GET /health HTTP/1.1\r\n",
    "GET /health HTTP/1.1\r\nHost: x\r\n" + BIG_HEADER,
])
def test_apache_refusals_are_json(request, front, request_text):
    api = request.getfixturevalue(front)
    assert_raw_error(*raw_http(api, request_text), 400, "BAD_REQUEST")


@pytest.mark.parametrize("front", ["api", "apache_proxy_api", "apache_fcgid_api"])
@pytest.mark.parametrize("path", ["/.parley-errors/parley-error-400.html",
                                  "/.parley-errors/", "/.parley-errors/nope.html"])
def test_error_documents_are_not_served_directly(request, front, path):
    # Apache serves them from an internal path for its ErrorDocuments only.
    status, headers, body = raw_http(request.getfixturevalue(front),
                                     "GET %s HTTP/1.1\r\nHost: x\r\n" % path)
    assert_raw_error(status, headers, body, 404, "NOT_FOUND")


def test_lighttpd_wants_a_length_on_a_bodyless_post(api, make_user):
    """lighttpd 1.4 answers a POST without Content-Length 411 itself, and no
    option changes that (README, "lighttpd"): a client posting no body sends
    Content-Length: 0, which reaches Parley."""
    u = make_user()
    path = "/api/v1/messages/%s/seen" % uuid.uuid4()
    auth = "Authorization: Bearer %s\r\n" % u.token
    status, headers, body = raw_http(api, "POST %s HTTP/1.1\r\nHost: x\r\n%s" % (path, auth))
    assert_raw_error(status, headers, body, 411, "LENGTH_REQUIRED", nosniff=False)
    status, headers, body = raw_http(
        api, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\n" % (path, auth))
    assert_raw_error(status, headers, body, 404, "NOT_FOUND")


@pytest.mark.parametrize("front", ["api", "apache_proxy_api", "apache_fcgid_api"])
def test_parleys_own_answers_say_nosniff_once(request, front):
    status, headers, body = raw_http(request.getfixturevalue(front),
                                     "GET /api/v1/no-such-route HTTP/1.1\r\nHost: x\r\n")
    assert_raw_error(status, headers, body, 404, "NOT_FOUND")
    status, headers, _ = raw_http(request.getfixturevalue(front),
                                  "GET /health HTTP/1.1\r\nHost: x\r\n")
    assert status == 200 and headers["x-content-type-options"] == "nosniff", headers


def test_apache_passes_bodyless_post_to_parley(apache_proxy_api):
    # Apache, unlike lighttpd, lets a POST without Content-Length through.
    status, headers, body = raw_http(apache_proxy_api,
                                     "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n")
    assert_raw_error(status, headers, body, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/v1/health"),
    ("DELETE", "/health"),
    ("PUT", "/api/v1/health/ready"),
    ("PATCH", "/livez"),
    ("POST", "/metrics"),
    ("POST", "/api/health"),
    ("GET", LOGIN),
])
def test_wrong_method_405(api, method, path):
    r = api.request(method, path)
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    allow = {m.strip().upper() for m in r.headers["Allow"].split(",")}
    expected = "POST" if path == LOGIN else "GET"
    assert expected in allow, r.headers["Allow"]


@pytest.mark.parametrize("path,method", [("/api/v1/health", "GET"), ("/health", "GET"),
                                         (LOGIN, "POST")])
def test_options_lists_methods(api, path, method):
    r = api.options(path)
    assert r.status_code == 204, r.text
    assert method in {m.strip().upper() for m in r.headers["Allow"].split(",")}


def test_head_is_get_without_body(api):
    r = api.head("/health")
    assert r.status_code == 200 and r.content == b""
    assert api.head("/nope").status_code == 404


# ------------------------------------------------------------ JSON bodies

def post_raw(api, body, content_type="application/json"):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return api.post(LOGIN, data=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize("body", [
    '{"login": "alice", "password": ',
    '{"login": "alice" "password": "x"}',
    "{'login': 'alice'}",
    '{"login": "alice", "password": "x",}',
    '{"login": "alice", "password": "x"} trailing',
    '{"login": "alice", "password": NaN}',
    "",
    "   ",
])
def test_malformed_json_400(api, body):
    assert_error(post_raw(api, body), 400, "VALIDATION_ERROR")


def test_invalid_utf8_400(api):
    assert_error(post_raw(api, b'{"login": "\xff\xfe", "password": "x"}'), 400, "VALIDATION_ERROR")


def test_duplicate_keys_400(api):
    assert_error(post_raw(api, '{"login": "a", "password": "x", "login": "b"}'),
                 400, "VALIDATION_ERROR")


def test_duplicate_keys_nested_400(api):
    assert_error(post_raw(api, '{"login": "a", "password": "x", "meta": {"k": 1, "k": 2}}'),
                 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("depth", [40, 100000])
def test_nesting_too_deep_400(api, depth):
    body = '{"login": "a", "password": "x", "deep": ' + "[" * depth + "]" * depth + "}"
    assert_error(post_raw(api, body), 400, "VALIDATION_ERROR")
    # and the worker that parsed it is still fine
    assert_ok(api.get("/health"))


@pytest.mark.parametrize("body", ["[]", '["login", "password"]', '"text"', "42", "null", "true"])
def test_top_level_not_object_400(api, body):
    assert_error(post_raw(api, body), 400, "VALIDATION_ERROR")


def login_body(size):
    """A valid login JSON object of exactly `size` bytes, for unknown credentials."""
    head = b'{"login": "nobody_' + uuid.uuid4().hex[:12].encode() + \
        b'", "password": "Wrong-pass1", "pad": "'
    tail = b'"}'
    body = head + b"a" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024])
def test_body_too_large_413(api, size):
    assert_error(post_raw(api, login_body(size)), 413, "PAYLOAD_TOO_LARGE")


def test_body_at_limit_is_parsed(api):
    # max_body_bytes (1 MiB in the test stack) itself is allowed: the request
    # gets past the body checks to the credentials check.
    assert_error(post_raw(api, login_body(1024 * 1024)), 401, "AUTH_INVALID_CREDENTIALS")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "application/jsonx"])
def test_wrong_content_type_415(api, ctype):
    assert_error(post_raw(api, '{"login": "a", "password": "x"}', ctype),
                 415, "UNSUPPORTED_MEDIA_TYPE")


def test_json_with_charset_is_accepted(api):
    # A well-formed request with unknown credentials: past every body check.
    r = post_raw(api, '{"login": "nobody_%s", "password": "Wrong-pass1"}' % uuid.uuid4().hex[:12],
                 "application/json; charset=utf-8")
    assert_error(r, 401, "AUTH_INVALID_CREDENTIALS")


# ---------------------------------------------------------------- openapi

@pytest.mark.parametrize("path", ["/api/v1/openapi.yaml", "/api/openapi.yaml"])
def test_openapi_served(api, path):
    r = api.get(path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/yaml"
    served = r.content
    assert served == OPENAPI.read_bytes(), \
        "served document differs from docs/openapi.yaml (stale install?)"
    doc = yaml.safe_load(served)
    assert doc["openapi"].startswith("3.1")


# ---------------------------------------------------------------- metrics

def scrape(api):
    r = api.get("/metrics")
    assert r.status_code == 200
    ctype = r.headers["Content-Type"]
    assert ctype.split(";")[0].strip() == "text/plain", ctype
    assert "version=0.0.4" in ctype.replace(" ", ""), ctype
    return r.text


def test_metrics_pass_promtool(api):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    api.get("/health")
    api.get("/api/v1/definitely-unknown")
    text = scrape(api)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, "promtool check metrics failed:\n%s%s" % (p.stdout, p.stderr)


def test_metrics_count_requests_across_workers(api):
    labels = {"route": "/health", "method": "GET", "status": "200"}
    before = parse_metrics(scrape(api))
    n = 20
    for _ in range(n):
        # a fresh connection each time, so requests spread over workers
        r = api.get("/health", headers={"Connection": "close"})
        assert r.status_code == 200
    c0 = metric_value(before, "parley_http_requests_total", **labels)
    h0 = metric_value(before, "parley_http_request_duration_seconds_count", **labels)
    # A worker records a request after it has sent the response, so a scrape
    # can overtake the last few: poll briefly instead of scraping once.
    deadline = time.monotonic() + 2.0
    while True:
        after = parse_metrics(scrape(api))
        c1 = metric_value(after, "parley_http_requests_total", **labels)
        h1 = metric_value(after, "parley_http_request_duration_seconds_count", **labels)
        if (c1 - c0 >= n and h1 - h0 >= n) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert c1 - c0 >= n, "parley_http_requests_total%s rose by %s, expected >= %d" % (
        labels, c1 - c0, n)
    assert h1 - h0 >= n, "parley_http_request_duration_seconds_count rose by %s" % (h1 - h0)


def test_metrics_histogram_shape(api):
    api.get("/health")
    samples = parse_metrics(scrape(api))
    labels = {"route": "/health", "method": "GET", "status": "200"}
    buckets = [(l["le"], v) for n, l, v in samples
               if n == "parley_http_request_duration_seconds_bucket"
               and all(l.get(k) == w for k, w in labels.items())]
    assert buckets, "no parley_http_request_duration_seconds_bucket for %s" % labels
    les = [float("inf") if le == "+Inf" else float(le) for le, _ in buckets]
    assert les == sorted(les) and les[-1] == float("inf"), les
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "bucket counts must be cumulative: %s" % counts
    count = metric_value(samples, "parley_http_request_duration_seconds_count", **labels)
    assert counts[-1] == count
    assert metric_value(samples, "parley_http_request_duration_seconds_sum", **labels) >= 0


def test_metrics_unmatched_route_label(api):
    marker = uuid.uuid4().hex
    assert_error(api.get("/api/v1/nothing-here-%s" % marker), 404, "NOT_FOUND")
    # A known path with the wrong method is labelled with its template.
    assert_error(api.request("PUT", "/api/v1/users/%s" % marker), 405, "METHOD_NOT_ALLOWED")
    wanted = [{"route": "unmatched", "status": "404"},
              {"route": "/api/v1/users/{id}", "method": "PUT", "status": "405"}]
    # Workers record a request after answering it: poll briefly.
    deadline = time.monotonic() + 2.0
    while True:
        text = scrape(api)
        samples = parse_metrics(text)
        seen = [metric_value(samples, "parley_http_requests_total", **w) for w in wanted]
        if all(v >= 1 for v in seen) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert marker not in text, "raw request paths must not become label values"
    assert all(v >= 1 for v in seen), list(zip(wanted, seen))
    for n, l, _ in samples:
        if n == "parley_http_requests_total":
            route = l.get("route", "")
            assert route == "unmatched" or route.startswith("/"), l
            assert route != "unmatched" or l.get("status") != "405", l


# ------------------------------------------------------------- parleyctl

def migrations(db):
    with db.cursor() as c:
        c.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        return c.fetchall()


def test_migrate_twice_is_a_no_op(db, parleyctl):
    rows0 = migrations(db)
    assert rows0, "schema_migrations is empty: the stack should have migrated"
    first = parleyctl("migrate", check=True)
    rows1 = migrations(db)
    second = parleyctl("migrate", check=True)
    rows2 = migrations(db)
    assert rows1 == rows0, "migrate on an up-to-date database changed schema_migrations"
    assert rows2 == rows1, "second migrate changed schema_migrations"
    for p in (first, second):
        out = p.stdout + p.stderr
        applied = re.findall(r"(?im)^\s*applied\s+(?!0\b|no\b|nothing\b)(\S+)", out)
        assert not applied, "migrate reported applying %s on an up-to-date database:\n%s" % (
            applied, out)


SCHEMA_DIR = pathlib.Path(__file__).resolve().parents[2] / "schema"


def checksums(db):
    with db.cursor() as c:
        c.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        return {r["version"]: r for r in c.fetchall()}


def test_migrations_record_the_sha256_of_their_file(db, parleyctl):
    parleyctl("migrate", check=True)
    rows = checksums(db)
    files = sorted(SCHEMA_DIR.glob("[0-9][0-9][0-9]-*.sql"))
    assert files and len(rows) == len(files), (sorted(rows), [f.name for f in files])
    for f in files:
        row = rows[int(f.name[:3])]
        assert row["name"] == f.name
        assert row["checksum"] == hashlib.sha256(f.read_bytes()).hexdigest(), f.name


def test_migrate_refuses_a_changed_migration_and_backfills_missing_checksums(db, parleyctl):
    before = checksums(db)
    version = sorted(before)[1]
    name, good = before[version]["name"], before[version]["checksum"]
    try:
        with db.cursor() as c:
            c.execute("UPDATE schema_migrations SET checksum = %s WHERE version = %s",
                      ("0" * 64, version))
        p = parleyctl("migrate")
        out = p.stdout + p.stderr
        assert p.returncode != 0, out
        assert name in out and "other contents" in out, out
        assert "applied" not in p.stdout, out
        assert checksums(db)[version]["checksum"] == "0" * 64, "a refused migrate rewrote the row"

        # A row from a build that recorded no checksum gets this build's.
        with db.cursor() as c:
            c.execute("UPDATE schema_migrations SET checksum = NULL WHERE version = %s",
                      (version,))
        p = parleyctl("migrate", check=True)
        assert "up to date" in p.stdout, p.stdout
        assert checksums(db)[version]["checksum"] == good

        # So does a database from before the column existed.
        with db.cursor() as c:
            c.execute("ALTER TABLE schema_migrations DROP COLUMN checksum")
        parleyctl("migrate", check=True)
        assert checksums(db) == before
    finally:
        with db.cursor() as c:
            c.execute("UPDATE schema_migrations SET checksum = %s WHERE version = %s",
                      (good, version))
    assert checksums(db) == before


def test_check_config_valid(parley_env, parleyctl, tmp_path):
    cfg = parley_env.get("PARLEY_CONFIG") or pytest.skip("PARLEY_CONFIG not set")
    p = parleyctl("check-config", config=cfg)
    assert p.returncode == 0, p.stdout + p.stderr
    copy = tmp_path / "parley.conf"
    shutil.copyfile(cfg, copy)
    p = parleyctl("check-config", config=copy)
    assert p.returncode == 0, "an unmodified copy of the config must pass:\n" + p.stdout + p.stderr


def test_check_config_misspelt_key(parley_env, parleyctl, tmp_path):
    cfg = parley_env.get("PARLEY_CONFIG") or pytest.skip("PARLEY_CONFIG not set")
    copy = tmp_path / "parley.conf"
    text = open(cfg, encoding="utf-8").read()
    copy.write_text(text.rstrip("\n") + "\n\n[server]\nbase_pth = x\n", encoding="utf-8")
    p = parleyctl("check-config", config=copy)
    assert p.returncode != 0, "check-config accepted a misspelt key:\n" + p.stdout + p.stderr
    assert "base_pth" in p.stderr, "stderr should name the key:\n" + p.stderr


@pytest.mark.parametrize("auth, words", [
    ("scrypt_n = 30000", "power of two"),              # every register would be a 500
    ("scrypt_n = 1048576\nscrypt_r = 16", "1024 MiB"),  # 2 GiB: hashing refuses it
])
def test_check_config_refuses_an_scrypt_cost_hashing_cannot_use(parley_env, parleyctl, tmp_path,
                                                                 auth, words):
    cfg = parley_env.get("PARLEY_CONFIG") or pytest.skip("PARLEY_CONFIG not set")
    copy = tmp_path / "parley.conf"
    text = open(cfg, encoding="utf-8").read()
    copy.write_text(text.rstrip("\n") + "\n\n[auth]\n" + auth + "\n", encoding="utf-8")
    p = parleyctl("check-config", config=copy)
    assert p.returncode != 0, "check-config accepted [auth] %s:\n%s%s" % (auth, p.stdout, p.stderr)
    assert "scrypt_n" in p.stderr and words in p.stderr, p.stderr
    assert str(copy) in p.stderr, p.stderr


# ----------------------------------------------------------- Apache fronts

def _front_smoke(client):
    data = assert_ok(client.get("/health"))
    assert data["status"] == "ok"
    assert_ok(client.get("/api/v1/health"))
    assert_error(client.get("/api/v1/no-such-route"), 404, "NOT_FOUND")
    assert_error(client.get("/no-such-route-outside-api"), 404, "NOT_FOUND")
    # No token: UNAUTHORIZED. A bogus token must reach the app (Apache drops
    # Authorization unless configured) and be judged invalid.
    assert_error(client.get("/api/v1/auth/me"), 401, "UNAUTHORIZED")
    assert_error(client.get("/api/v1/auth/me", token="x"), 401, "AUTH_TOKEN_INVALID")
    # JSON body errors come from the app, not from the web server.
    assert_error(client.post(LOGIN, data=b'{"login": ', headers={"Content-Type": "application/json"}),
                 400, "VALIDATION_ERROR")
    # Bodies up to max_body_bytes reach the app (mod_fcgid's default limit is
    # 128 KiB); larger ones get the app's 413 envelope, not a server page.
    r = client.post(LOGIN, data=login_body(900 * 1024), headers={"Content-Type": "application/json"})
    assert_error(r, 401, "AUTH_INVALID_CREDENTIALS")
    r = client.post(LOGIN, data=login_body(1024 * 1024 + 1),
                    headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")


def test_lighttpd_front(api):
    _front_smoke(api)


def test_apache_proxy_fcgi_front(apache_proxy_api):
    _front_smoke(apache_proxy_api)


def test_apache_fcgid_front(apache_fcgid_api):
    _front_smoke(apache_fcgid_api)


def test_fcgi_socket_admits_only_its_web_server(apache_proxy_api, parley_env):
    """parley-fcgi --listen unix:... leaves its socket as the umask makes it:
    Apache (the same user here) speaks FastCGI through it, other local users
    cannot connect and claim any REMOTE_ADDR they like."""
    sock = parley_env.get("PARLEY_FCGI_SOCKET") or pytest.skip("PARLEY_FCGI_SOCKET not set")
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode)
    # Connecting takes write permission.
    assert st.st_mode & 0o002 == 0, "others may connect: %s" % oct(st.st_mode & 0o777)
    assert_ok(apache_proxy_api.get("/api/v1/health"))
    if os.geteuid() != 0:
        return
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n")
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        sys.executable, "-c", probe, sock], capture_output=True, text=True)
    assert p.returncode == 3, "user nobody could connect to %s: %s" % (sock, p.stderr)


def _fcgi_record(rtype, content=b""):
    # version 1, request id 1, no padding (FastCGI 1.0, section 3.3)
    return bytes([1, rtype, 0, 1, len(content) >> 8, len(content) & 0xFF, 0, 0]) + content


def _fcgi_pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else (n | 0x80000000).to_bytes(4, "big")
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def fcgi_request(sock_path, params, stdin=b""):
    """One FastCGI request straight to parley-fcgi's socket, as a web server
    would send it: BEGIN_REQUEST (responder), the PARAMS stream, the STDIN
    stream. Returns (status, headers, body) of the CGI answer."""
    begin = (1).to_bytes(2, "big") + bytes(6)  # role RESPONDER, flags 0
    out = _fcgi_record(1, begin)
    out += _fcgi_record(4, b"".join(_fcgi_pair(k, v) for k, v in params.items()))
    out += _fcgi_record(4)
    for i in range(0, len(stdin), 32768):
        out += _fcgi_record(5, stdin[i:i + 32768])
    out += _fcgi_record(5)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(out)
        raw, answer = b"", b""
        while True:
            while len(raw) < 8 or len(raw) < 8 + int.from_bytes(raw[4:6], "big") + raw[6]:
                chunk = s.recv(65536)
                assert chunk, "FastCGI connection closed before END_REQUEST"
                raw += chunk
            rtype, n, pad = raw[1], int.from_bytes(raw[4:6], "big"), raw[6]
            content, raw = raw[8:8 + n], raw[8 + n + pad:]
            if rtype == 6:  # STDOUT
                answer += content
            elif rtype == 3:  # END_REQUEST
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    headers = {k.lower(): v for k, v in (l.split(": ", 1)
                                         for l in head.decode("latin-1").split("\r\n"))}
    return int(headers.pop("status", "200").split(" ")[0]), headers, body


def _fcgi_login(sock, content_length, body=b""):
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": LOGIN, "SERVER_PROTOCOL": "HTTP/1.1",
              "REMOTE_ADDR": "192.0.2.%d" % (uuid.uuid4().int % 250 + 1),
              "CONTENT_TYPE": "application/json"}
    if content_length is not None:
        params["CONTENT_LENGTH"] = content_length
    return fcgi_request(sock, params, body)


@pytest.mark.parametrize("content_length,body,status,code", [
    ("abc", b"", 400, "BAD_REQUEST"),
    ("-5", b"", 400, "BAD_REQUEST"),
    ("+20", b'{"login":"a","pass', 400, "BAD_REQUEST"),
    (" 20", b'{"login":"a","pass', 400, "BAD_REQUEST"),
    ("10abc", b'{"login":"', 400, "BAD_REQUEST"),
    ("0x10", b"", 400, "BAD_REQUEST"),
    ("99999999999999999999999", b"", 413, "PAYLOAD_TOO_LARGE"),
    ("2000000", b"", 413, "PAYLOAD_TOO_LARGE"),
    # The body ends before its length: never parsed as if it were whole.
    ("100", b'{"login": "a", "password": "b"}', 400, "BAD_REQUEST"),
])
def test_fcgi_content_length_is_checked(parley_env, content_length, body, status, code):
    """The FastCGI socket is a trust boundary of its own: whatever the web
    server passes as CONTENT_LENGTH, a malformed or absurd one gets a clear
    4xx, never a read of the wrong length."""
    sock = parley_env.get("PARLEY_FCGI_SOCKET") or pytest.skip("PARLEY_FCGI_SOCKET not set")
    assert_raw_error(*_fcgi_login(sock, content_length, body), status, code)


def test_fcgi_well_formed_lengths_reach_the_app(parley_env):
    sock = parley_env.get("PARLEY_FCGI_SOCKET") or pytest.skip("PARLEY_FCGI_SOCKET not set")
    body = b'{"login": "nobody-%s", "password": "wrong password"}' % uuid.uuid4().hex.encode()
    for length in (str(len(body)), "00" + str(len(body))):
        status, headers, answer = _fcgi_login(sock, length, body)
        assert_raw_error(status, headers, answer, 401, "AUTH_INVALID_CREDENTIALS")
    # No body: absent or empty CONTENT_LENGTH, or 0, reaches the handler's own check.
    for length in (None, "", "0"):
        assert_raw_error(*_fcgi_login(sock, length), 400, "VALIDATION_ERROR")


# ------------------------------------------- readiness (destructive, last)

def _ready_status(api):
    try:
        r = api.get("/health/ready", timeout=1.0)
    except Exception:  # noqa: BLE001 - a timeout counts as "no answer yet"
        return None, None
    return r.status_code, r


def _wait_down(api, words, dep, budget=1.0):
    """Polls until /health/ready answers 503 naming the dependency, within budget seconds."""
    start = time.monotonic()
    seen = []
    while True:
        status, r = _ready_status(api)
        elapsed = time.monotonic() - start
        seen.append((round(elapsed, 3), status))
        if status == 503:
            assert elapsed <= budget + 0.05, "503 came after %.2fs (budget %.1fs)" % (elapsed, budget)
            body = assert_error(r, 503, "SERVICE_UNAVAILABLE", message_contains=words)
            assert body["error"]["details"]["checks"][dep] == "down", body
            return
        if elapsed >= budget:
            raise AssertionError("/health/ready did not answer 503 within %.1fs: %s" % (budget, seen))
        time.sleep(0.05)


def _wait_ready(api, timeout=30.0, consecutive=10):
    """Polls until /health/ready answers 200 `consecutive` times in a row."""
    deadline = time.monotonic() + timeout
    streak, last = 0, None
    while time.monotonic() < deadline:
        status, r = _ready_status(api)
        last = (status, r.text[:300] if r is not None else None)
        streak = streak + 1 if status == 200 else 0
        if streak >= consecutive:
            return
        time.sleep(0.1 if streak else 0.25)
    raise AssertionError("/health/ready not 200 %d times in a row within %.0fs; last %s"
                         % (consecutive, timeout, last))


@pytest.mark.destructive
def test_ready_tracks_mariadb(api, stack):
    _wait_ready(api, consecutive=1)
    try:
        stack("mariadb-kill")
        _wait_down(api, ("database", "mariadb"), "database")
        # every worker sees it, not only the one that answered first
        for _ in range(6):
            status, r = _ready_status(api)
            assert status == 503, "a worker still reports ready with MariaDB down: %s" % (
                r.text if r is not None else "no answer")
        # liveness does not depend on the database
        assert_ok(api.get("/health"))
    finally:
        stack("mariadb-start")
    _wait_ready(api, timeout=30.0)


@pytest.mark.destructive
def test_ready_tracks_memcached(api, stack):
    _wait_ready(api, consecutive=1)
    try:
        stack("memcached-stop")
        _wait_down(api, ("memcached", "cache"), "memcached")
        for _ in range(6):
            status, r = _ready_status(api)
            assert status == 503, "a worker still reports ready with memcached down: %s" % (
                r.text if r is not None else "no answer")
        assert_ok(api.get("/health"))
    finally:
        stack("memcached-start")
    _wait_ready(api, timeout=30.0)


@pytest.mark.destructive
def test_ready_right_after_a_memcached_restart(api, stack):
    """Each worker thread keeps a connection per memcached server for the
    probe; a restart of the server breaks them all. The first probe after
    it must not say "down" (it did, in one thread after another, until
    libmemcached's one-second retry time had passed for each)."""
    _wait_ready(api, consecutive=3)
    for _ in range(60):  # most threads now hold a probe connection
        assert_ok(api.get("/health/ready"))
    stack("memcached-stop")
    stack("memcached-start")
    for _ in range(60):
        assert_ok(api.get("/health/ready"))


class ExtraMemcached:
    """A memcached of the test's own on a unix socket beside the stack's."""

    def __init__(self, path):
        self.path, self.proc = path, None

    def start(self):
        cmd = ["memcached", "-s", self.path, "-a", "0666", "-m", "8", "-t", "1"]
        if os.getuid() == 0:
            cmd += ["-u", "root"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("memcached on %s did not start" % self.path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def stats(self):
        return memcached_stats(self.path)


def _ready_503(api, down, n):
    """/health/ready answers 503 naming exactly the servers in down (their
    1-based places in [memcached] servers: the probe is public, so no
    address or socket path), from every worker (polled a few times), with
    each server's state in list order."""
    _wait_down(api, ("memcached",), "memcached", budget=2.0)
    for _ in range(6):
        r = api.get("/health/ready")
        body = assert_error(r, 503, "SERVICE_UNAVAILABLE", message_contains="memcached")
        assert r.headers.get("Retry-After") == "1", r.headers
        details = body["error"]["details"]
        assert details["checks"] == {"database": "ok", "memcached": "down"}, body
        assert details["memcachedServers"] == [
            "down" if i in down else "ok" for i in range(1, n + 1)], body
        assert body["message"] == "memcached unavailable: server%s %s of %d" % (
            "s" if len(down) > 1 else "", ", ".join(map(str, down)), n), body
        assert "/" not in r.text and ".sock" not in r.text, body


@pytest.mark.destructive
def test_ready_asks_every_memcached_server(api, stack, parley_env):
    """With several [memcached] servers, readiness fails when any one is
    down - a key reaches only the server it hashes to, so one round trip
    through the pool says nothing about the others - and names it. It
    stays cheap: polling opens no connection per request."""
    main = parley_env["PARLEY_MEMCACHED"]
    state = pathlib.Path(parley_env["PARLEY_STATE"])
    extra = ExtraMemcached(str(state / "run" / ("extra-%s.sock" % uuid.uuid4().hex[:8])))
    conf = state / "etc" / "conf.d" / "zz-ready-test.conf"
    _wait_ready(api, consecutive=1)
    extra.start()
    try:
        conf.write_text("# written by test_foundation.py; removed afterwards\n"
                        "[memcached]\nservers = %s, %s\n" % (main, extra.path))
        conf.chmod(0o644)
        stack("lighttpd-restart")
        _wait_ready(api, consecutive=3)
        data = assert_ok(api.get("/health/ready"))
        assert data == {"status": "ready", "checks": {"database": "ok", "memcached": "ok"}}
        # Cheap: each worker thread keeps its connection, so polls open at
        # most one per thread that had not answered one yet (which threads
        # answer is the kernel's choice), never one per poll.
        for _ in range(40):
            assert_ok(api.get("/health/ready"))
        opened = int(extra.stats()["total_connections"])
        for _ in range(100):
            assert_ok(api.get("/health/ready"))
        assert int(extra.stats()["total_connections"]) - opened <= 16

        extra.stop()
        _ready_503(api, [2], 2)
        extra.start()
        _wait_ready(api, consecutive=3)
        stack("memcached-stop")
        try:
            _ready_503(api, [1], 2)
        finally:
            stack("memcached-start")
        _wait_ready(api, consecutive=3)
    finally:
        conf.unlink(missing_ok=True)
        stack("lighttpd-restart")
        extra.stop()
        pathlib.Path(extra.path).unlink(missing_ok=True)
    _wait_ready(api, timeout=30.0)
