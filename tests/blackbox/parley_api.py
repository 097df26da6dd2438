"""HTTP client and assertion helpers for Parley's black-box tests.

    r = api.get("/api/v1/auth/me", token=tok)      # validated against the doc
    me = assert_ok(r)                               # -> data
    assert_error(api.get("/nope"), 404, "NOT_FOUND")

Every response an ApiClient receives is checked against docs/openapi.yaml
(openapi_check.Contract) and against the conventions every response shares
(JSON with charset, nosniff, flat and nested error codes agree, no 5xx other
than a documented 503). Pass validate=False only for a request whose answer
cannot be documented (say so in a comment).
"""

import json as _json
import os
import re
import socket
import time

import requests

from openapi_check import ContractViolation, content_type_params, is_json_media, media_type

_UNSET = object()


def mysql_connect(autocommit=True):
    """A pymysql connection (DictCursor, utf8mb4) to the stack's database."""
    import pymysql
    import pymysql.cursors

    return pymysql.connect(
        unix_socket=os.environ["PARLEY_MYSQL_SOCKET"], user=os.environ["PARLEY_DB_USER"],
        password=os.environ.get("PARLEY_DB_PASSWORD", ""),
        database=os.environ["PARLEY_DB_NAME"], charset="utf8mb4",
        autocommit=autocommit, cursorclass=pymysql.cursors.DictCursor)


def memcached_connect(timeout=2.0, addr=None):
    """A socket to the stack's memcached (or to addr): PARLEY_MEMCACHED is
    a unix socket path or host:port."""
    addr = addr or os.environ["PARLEY_MEMCACHED"]
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(addr)
        except OSError:
            s.close()
            raise
        return s
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def memcached_stats(addr=None):
    """memcached's "stats" ({name: value as text}) of the stack's memcached
    or of addr (as memcached_connect())."""
    s = memcached_connect(addr=addr)
    try:
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            assert chunk, "memcached closed the connection"
            buf += chunk
    finally:
        s.close()
    return {k.decode(): v.decode() for k, v in re.findall(rb"STAT (\S+) (\S+)", buf)}


class ApiClient:
    """requests.Session against one base URL, checking every response.

    get/post/put/patch/delete/head/options(path, json=..., data=...,
    headers=..., token=..., params=..., validate=True, timeout=...)
    return the requests.Response. json= serialises the object and sets
    Content-Type: application/json unless headers give another one; data=
    sends raw bytes/str as they are (set Content-Type yourself).
    """

    def __init__(self, base_url, contract, name="api", timeout=15.0):
        self.base_url = base_url.rstrip("/")
        self.contract = contract
        self.name = name
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "parley-blackbox/1"

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, *, json=_UNSET, data=None, headers=None, token=None,
                params=None, validate=True, timeout=None, allow_5xx=False, **kwargs):
        method = method.upper()
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer %s" % token
        if json is not _UNSET:
            if data is not None:
                raise ValueError("pass json= or data=, not both")
            data = _json.dumps(json).encode("utf-8")
            if not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = "application/json"
        resp = self.session.request(method, self.url(path), data=data, headers=h, params=params,
                                    timeout=timeout or self.timeout, allow_redirects=False,
                                    **kwargs)
        resp.parley_json = None
        if validate:
            try:
                resp.parley_json = check_response(self.contract, method, resp.request.path_url,
                                                  resp, allow_5xx=allow_5xx)
            except ContractViolation as e:
                raise ContractViolation("[%s] %s\n  response headers: %s\n  body: %s" % (
                    self.name, e, dict(resp.headers), resp.content[:800])) from None
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def close(self):
        self.session.close()


def check_response(contract, method, path, resp, allow_5xx=False):
    """Contract + conventions check of one response; returns parsed JSON or None."""
    status = resp.status_code
    if status >= 500 and status != 503 and not allow_5xx:
        raise ContractViolation("%s %s: server error %d (a request must never cause one)"
                                % (method, path, status))
    if resp.headers.get("X-Content-Type-Options", "").lower() != "nosniff":
        raise ContractViolation("%s %s [%d]: X-Content-Type-Options: nosniff missing (got %r)"
                                % (method, path, status, resp.headers.get("X-Content-Type-Options")))
    ctype = resp.headers.get("Content-Type")
    if method != "HEAD" and resp.content and is_json_media(media_type(ctype)):
        if content_type_params(ctype).get("charset") != "utf-8":
            raise ContractViolation("%s %s [%d]: JSON Content-Type without charset=utf-8: %r"
                                    % (method, path, status, ctype))
    parsed = contract.check(method, path, status, resp.headers, resp.content)
    if isinstance(parsed, dict) and parsed.get("success") is False:
        nested = parsed.get("error") if isinstance(parsed.get("error"), dict) else {}
        if parsed.get("code") != nested.get("code"):
            raise ContractViolation("%s %s [%d]: code %r != error.code %r"
                                    % (method, path, status, parsed.get("code"), nested.get("code")))
        if status < 400:
            raise ContractViolation("%s %s: error envelope with status %d" % (method, path, status))
    if isinstance(parsed, dict) and parsed.get("success") is True and status >= 400:
        raise ContractViolation("%s %s: success envelope with status %d" % (method, path, status))
    return parsed


def body_of(resp):
    """The JSON body (already parsed and validated when the client did it)."""
    if getattr(resp, "parley_json", None) is not None:
        return resp.parley_json
    return resp.json()


def _describe(resp):
    return "%s %s -> %d %s\n%s" % (resp.request.method, resp.request.path_url, resp.status_code,
                                   resp.headers.get("Content-Type"), resp.content[:800])


def assert_error(resp, status, code=None, message_contains=None):
    """Asserts an error envelope with this status (and code); returns the body."""
    assert resp.status_code == status, "expected %d %s, got:\n%s" % (status, code or "", _describe(resp))
    assert is_json_media(media_type(resp.headers.get("Content-Type"))), _describe(resp)
    body = body_of(resp)
    assert isinstance(body, dict), _describe(resp)
    assert body.get("success") is False, _describe(resp)
    assert isinstance(body.get("message"), str) and body["message"], _describe(resp)
    err = body.get("error")
    assert isinstance(err, dict), _describe(resp)
    assert isinstance(err.get("message"), str) and err["message"], _describe(resp)
    assert body.get("code") == err.get("code"), _describe(resp)
    if "details" in err:
        assert isinstance(err["details"], dict), _describe(resp)
    if code is not None:
        codes = (code,) if isinstance(code, str) else tuple(code)
        assert body.get("code") in codes, "expected code %s, got:\n%s" % (code, _describe(resp))
    if message_contains is not None:
        words = (message_contains,) if isinstance(message_contains, str) else tuple(message_contains)
        msg = (body["message"] + " " + err["message"]).lower()
        assert any(w.lower() in msg for w in words), \
            "message should name one of %s:\n%s" % (words, _describe(resp))
    if status == 429:
        assert isinstance(body.get("retryAfter"), int), _describe(resp)
        assert resp.headers.get("Retry-After"), _describe(resp)
    return body


def assert_ok(resp, status=200):
    """Asserts a success envelope with this status; returns its data."""
    assert resp.status_code == status, "expected %d, got:\n%s" % (status, _describe(resp))
    body = body_of(resp)
    assert isinstance(body, dict) and body.get("success") is True, _describe(resp)
    assert "data" in body, _describe(resp)
    return body["data"]


# ------------------------------------------------------------ Prometheus
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text):
    """Prometheus text -> list of (name, {label: value}, float)."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if not m:
            raise AssertionError("unparsable metrics line: %r" % line)
        name, labels_s, value = m.groups()
        labels = {}
        if labels_s:
            pos = 0
            while pos < len(labels_s):
                lm = _LABEL.match(labels_s, pos)
                if not lm:
                    raise AssertionError("unparsable labels in %r" % line)
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n") \
                    .replace("\\\\", "\\")
                pos = lm.end()
        out.append((name, labels, float(value)))
    return out


def metric_value(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == str(w) for k, w in labels.items()))


def wait_until(fn, timeout, interval=0.1, what="condition"):
    """Polls fn() until it returns a truthy value; returns it or raises AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)
