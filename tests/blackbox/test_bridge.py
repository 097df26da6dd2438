"""The real-time bridge over its real protocol (issue 5, docs/websocket.md).

Clients connect through lighttpd (PARLEY_WS_URL) like real ones; a smoke
test goes through Apache. Tests that need a bridge with other settings
start their own parley-bridge against the same database (PrivateBridge).

Helpers here are imported by test_bridge_cluster.py.
"""

import json
import os
import queue
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
import websocket

from parley_api import assert_error, assert_ok, parse_metrics, metric_value, wait_until

WAIT = 5.0


def fake_ip():
    """A client address of its own: the bridge limits attempts per address."""
    return "198.18.%d.%d" % (random.randrange(256), random.randrange(1, 255))


class WS:
    """One WebSocket client; a reader thread collects every frame."""

    def __init__(self, url=None, token=None, since=None, how="query", origin=None,
                 ip=None, headers=(), timeout=WAIT, sockopt=None):
        url = url or os.environ["PARLEY_WS_URL"]
        params = []
        if token and how == "query":
            params.append("token=" + token)
        if since is not None:
            params.append("since=%d" % since)
        if params:
            url += ("&" if "?" in url else "?") + "&".join(params)
        header = ["X-Forwarded-For: " + (ip or fake_ip())] + list(headers)
        if token and how == "header":
            header.append("Authorization: Bearer " + token)
        kw = {"origin": origin} if origin else {"suppress_origin": True}
        if sockopt:
            kw["sockopt"] = sockopt
        self.ws = websocket.create_connection(url, timeout=timeout, header=header, **kw)
        self.ws.settimeout(None)
        self.frames = []
        self.cv = threading.Condition()
        self.close_code = None
        self.closed = False
        self._ack = 0
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        if token and how == "frame":
            self.send({"type": "auth", "token": token})

    def _reader(self):
        while True:
            try:
                op, data = self.ws.recv_data(control_frame=True)
            except Exception:  # noqa: BLE001 - the socket is gone either way
                break
            if op == websocket.ABNF.OPCODE_TEXT:
                frame = json.loads(data.decode("utf-8"))
                frame["_t"] = time.monotonic()
                with self.cv:
                    self.frames.append(frame)
                    self.cv.notify_all()
            elif op == websocket.ABNF.OPCODE_CLOSE:
                if len(data) >= 2:
                    self.close_code = int.from_bytes(data[:2], "big")
                break
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    # -- sending
    def send(self, obj):
        self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    def request(self, type_, data=None, timeout=WAIT, **top):
        """Sends a frame with a fresh ackId; returns the answer (ack/error/...)."""
        self._ack += 1
        ack = "a%d-%s" % (self._ack, uuid.uuid4().hex[:6])
        frame = {"type": type_, "ackId": ack, **top}
        if data is not None:
            frame["data"] = data
        self.send(frame)
        return self.wait(lambda f: f.get("ackId") == ack, timeout, "answer to %s" % type_)

    # -- receiving
    def wait(self, pred, timeout=WAIT, what="frame"):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for f in self.frames:
                    if pred(f):
                        return f
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("no %s within %.1fs; got %s (closed=%s code=%s)" % (
                        what, timeout, [_short(f) for f in self.frames[-12:]], self.closed,
                        self.close_code))
                self.cv.wait(left)

    def wait_type(self, type_, timeout=WAIT, **data):
        def pred(f):
            return f.get("type") == type_ and all(
                (f.get("data") or {}).get(k) == v for k, v in data.items())
        return self.wait(pred, timeout, "%s %s" % (type_, data))

    def of_type(self, type_, **data):
        with self.cv:
            return [f for f in self.frames if f.get("type") == type_ and all(
                (f.get("data") or {}).get(k) == v for k, v in data.items())]

    def events(self):
        with self.cv:
            return [f for f in self.frames if "seq" in f]

    def last_seq(self):
        seqs = [f["seq"] for f in self.events()]
        return max(seqs) if seqs else 0

    def authed(self, timeout=WAIT):
        f = self.wait_type("auth_response", timeout)
        assert f["status"] == "success", f
        return f

    def wait_closed(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("socket still open after %.1fs" % timeout)
                self.cv.wait(left)
        return self.close_code

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


def _short(f):
    s = json.dumps({k: v for k, v in f.items() if k != "_t"})
    return s if len(s) < 160 else s[:157] + "..."


def connect(user, **kw):
    """An authenticated connection for user (a make_user result)."""
    ws = WS(token=user.token, **kw)
    ws.authed()
    return ws


# ---------------------------------------------------------------- REST side
def create_group(api, owner, members=(), **extra):
    body = {"title": "g " + uuid.uuid4().hex[:6], **extra}
    r = api.post("/api/v1/groups", token=owner.token, json=body)
    gid = assert_ok(r, 201)["id"]
    for m in members:
        add_member(api, owner, gid, m)
    return gid


def add_member(api, actor, gid, user):
    r = api.post("/api/v1/groups/%s/members" % gid, token=actor.token, json={"userId": user.id})
    assert r.status_code in (200, 201), r.text


def remove_member(api, actor, gid, user):
    r = api.delete("/api/v1/groups/%s/members/%s" % (gid, user.id), token=actor.token)
    assert r.status_code in (200, 204), r.text


def send_message(api, sender, gid=None, to=None, content=None):
    body = {"content": content or "m " + uuid.uuid4().hex[:8]}
    if gid:
        body["groupId"] = gid
    if to:
        body["receiverId"] = to.id
    r = api.post("/api/v1/messages", token=sender.token, json=body)
    return assert_ok(r, 201)



def first_answer(url, token, ip):
    """What a connection from ip with token hears first: "auth_response",
    or the code of the error that refused it."""
    ws = WS(url=url, token=token, ip=ip)
    f = ws.wait(lambda f: f.get("type") in ("auth_response", "error"), 5)
    ws.close()
    return f.get("code") or f["type"]


def received(ws, mid, type_="message:received"):
    return [f for f in ws.of_type(type_) if (f.get("data") or {}).get("id") == mid or
            (f.get("data") or {}).get("messageId") == mid]


# ----------------------------------------------------- a bridge of our own
def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PrivateBridge:
    """Another parley-bridge on the stack's database with its own ports and
    [bridge] settings; clients connect to it directly. A dict value is a
    section of its own: database={"read_timeout_ms": 2000}."""

    def __init__(self, **settings):
        self.dir = tempfile.mkdtemp(prefix="parley-bridge-test-")
        self.port = free_port()
        self.nudge_port = free_port(socket.SOCK_DGRAM)
        with open(os.environ["PARLEY_CONFIG"]) as f:
            conf = f.read()
        conf += "\n[bridge]\nlisten_port = %d\nnudge_port = %d\n" % (self.port, self.nudge_port)
        conf += "connect_attempts_per_hour = 1000000\n"
        for k, v in settings.items():
            if not isinstance(v, dict):
                conf += "%s = %s\n" % (k, v)
        for section, values in settings.items():
            if isinstance(values, dict):
                conf += "[%s]\n" % section
                conf += "".join("%s = %s\n" % kv for kv in values.items())
        self.config = os.path.join(self.dir, "parley.conf")
        with open(self.config, "w") as f:
            f.write(conf)
        binary = os.path.join(os.environ.get("PARLEY_BUILD_DIR", "."), "parley-bridge")
        self.log = open(os.path.join(self.dir, "bridge.log"), "w")
        self.proc = subprocess.Popen([binary, "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.http = "http://127.0.0.1:%d" % self.port
        self.url = "ws://127.0.0.1:%d/ws" % self.port
        wait_until(self._up, 15, what="private bridge /health")

    def _up(self):
        assert self.proc.poll() is None, "private bridge exited: %s" % self.logs()
        try:
            return requests.get(self.http + "/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def health(self):
        return requests.get(self.http + "/health", timeout=10).json()["data"]

    def metrics(self):
        return parse_metrics(requests.get(self.http + "/metrics", timeout=10).text)

    def logs(self):
        self.log.flush()
        with open(os.path.join(self.dir, "bridge.log")) as f:
            return f.read()[-3000:]

    def kill(self, sig=9):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
                raise AssertionError("the bridge ignored signal %d for 15 s" % sig)

    def stop(self):
        try:
            self.kill(15)
        finally:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_bridge():
    made = []

    def make(**settings):
        b = PrivateBridge(**settings)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def bridge_http():
    url = os.environ.get("PARLEY_BRIDGE_URL")
    if not url:
        pytest.skip("PARLEY_BRIDGE_URL is not set")
    return url


# =================================================================== tests
def test_health_and_metrics_on_bridge_port():
    base = bridge_http()
    h = requests.get(base + "/health", timeout=3)
    assert h.status_code == 200
    data = h.json()["data"]
    assert data["status"] == "ok" and isinstance(data["seq"], int)
    assert data["eventLoop"] in ("poll", "libuv", "libev", "glib")
    m = requests.get(base + "/metrics", timeout=3)
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(m.text)
    names = {s[0] for s in samples}
    for name in ("parley_bridge_connections", "parley_bridge_connections_total",
                 "parley_bridge_frames_received_total", "parley_bridge_frames_sent_total",
                 "parley_bridge_queue_drops_total", "parley_bridge_event_lag_seconds_bucket",
                 "parley_bridge_event_lag_seconds_count", "parley_bridge_sequencer"):
        assert name in names, name
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=m.text, text=True,
                           capture_output=True)
        assert p.returncode == 0, p.stdout + p.stderr
    r = requests.get(base + "/nope", timeout=3)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("how", ["query", "header", "frame"])
def test_auth_ways(make_user, how):
    u = make_user()
    ws = WS(token=u.token, how=how)
    f = ws.authed()
    assert f["data"]["userId"] == u.id and isinstance(f["data"]["seq"], int)
    pong = ws.request("ping", {"timestamp": 42})
    assert pong["type"] == "pong" and pong["data"]["timestamp"] == 42
    ws.close()


def test_bad_token_is_refused_and_closed():
    ws = WS(token="not-a-token")
    f = ws.wait_type("auth_response")
    assert f["status"] == "error" and f["data"]["code"] == "AUTH_TOKEN_INVALID"
    assert ws.wait_closed() == 1008


def test_frames_before_auth(make_user):
    u = make_user()
    ws = WS()
    err = ws.request("message:send", {"groupId": str(uuid.uuid4()), "content": "x"})
    assert err["type"] == "error" and err["data"]["code"] == "UNAUTHORIZED"
    pong = ws.request("ping")
    assert pong["type"] == "pong"
    ans = ws.request("auth", token=u.token)
    assert ans["type"] == "auth_response" and ans["status"] == "success"
    again = ws.request("auth", token=u.token)
    assert again["type"] == "error" and again["data"]["code"] == "CONFLICT"
    ws.close()


def test_unauthenticated_connection_is_closed_after_grace(private_bridge):
    b = private_bridge(auth_timeout_seconds=1)
    ws = WS(url=b.url)
    t0 = time.monotonic()
    ws.wait_closed(timeout=5)
    assert time.monotonic() - t0 < 4


def test_origin_is_checked(make_user):
    u = make_user()
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WS(token=u.token, origin="http://evil.example")
    assert e.value.status_code == 403
    # The stack's own origin (cors_origins / public_url) is welcome.
    ws = WS(token=u.token, origin=os.environ["PARLEY_URL"])
    ws.authed()
    ws.close()


@pytest.mark.parametrize("length", [255, 256, 300, 1000])
def test_a_long_origin_is_checked_too(make_user, length):
    """An Origin too long for the bridge's buffer is still an Origin: a
    page on a long host name is refused like any other."""
    u = make_user()
    host = ".".join(["a" * 60] * 20)
    origin = ("http://" + host)[:length - len(".evil.example")] + ".evil.example"
    assert len(origin) == length
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WS(token=u.token, origin=origin)
    assert e.value.status_code == 403


def test_malformed_frames_get_errors_and_keep_the_connection(make_user):
    ws = connect(make_user())
    ws.send("not json")
    e = ws.wait_type("error")
    assert e["data"]["code"] == "INVALID_MESSAGE_FORMAT"
    ws.send(json.dumps([1, 2]))
    ws.send(json.dumps({"type": "no:such", "ackId": "u1"}))
    e = ws.wait(lambda f: f.get("ackId") == "u1")
    assert e["data"]["code"] == "INVALID_MESSAGE_FORMAT"
    ws.send(json.dumps({"type": "ping", "ackId": {"x": 1}}))
    e = ws.wait(lambda f: f.get("type") == "error" and "ackId" in f["data"]["message"])
    ws.send('{"type":"ping","type":"ping"}')
    e = ws.wait(lambda f: f.get("type") == "error" and "duplicate" in f["data"]["message"])
    assert ws.request("ping")["type"] == "pong"
    ws.close()


@pytest.mark.parametrize("text, words", [("", ("frame", "empty")),
                                         ('{"type":"ping"}\x00', ("frame", "NUL"))])
def test_an_empty_frame_is_refused_in_words_about_frames(make_user, text, words):
    """An empty frame, or one with a NUL byte, is INVALID_MESSAGE_FORMAT
    in words about a frame, not REST's "request body"."""
    ws = connect(make_user())
    ws.send(text)
    e = ws.wait_type("error")
    assert e["data"]["code"] == "INVALID_MESSAGE_FORMAT" and e["code"] == e["data"]["code"]
    assert "request body" not in e["data"]["message"], e
    assert all(w in e["data"]["message"] for w in words), e
    assert e["message"] == e["data"]["message"]
    assert ws.request("ping")["type"] == "pong" and not ws.closed
    ws.close()


@pytest.mark.parametrize("char", ["a", "\u00e9", "\U0001f600", '"', "\x01"])
def test_an_ack_id_of_up_to_128_characters_is_echoed(make_user, char):
    """docs/websocket.md: an ackId is a string of up to 128 characters,
    whatever the characters and however JSON escapes them; 129 is too
    many. The answers that echo it (auth_response, pong, ack) carry it
    whole."""
    u = make_user()
    ack = char * 128
    ws = WS()
    ws.send({"type": "auth", "token": u.token, "ackId": ack})
    f = ws.wait(lambda f: f.get("type") == "auth_response", 10)
    assert f["status"] == "success" and f["ackId"] == ack, f
    ws.send({"type": "ping", "ackId": ack})
    assert ws.wait_type("pong")["ackId"] == ack
    ws.send({"type": "group:leave", "data": {"groupId": str(uuid.uuid4())}, "ackId": ack})
    e = ws.wait_type("error")
    assert e["ackId"] == ack and e["data"]["code"] == "NOT_FOUND", e
    ws.send({"type": "ping", "ackId": ack + char})
    e = ws.wait(lambda f: f.get("type") == "error" and "ackId" not in f)
    assert e["data"]["code"] == "VALIDATION_ERROR" and "too long" in e["data"]["message"]
    assert ws.request("ping")["type"] == "pong"
    ws.close()


def test_rest_message_reaches_every_online_member_once(api, make_user):
    owner, m1, m2, outsider = make_user(), make_user(), make_user(), make_user()
    gid = create_group(api, owner, [m1, m2])
    socks = {u.id: connect(u) for u in (owner, m1, m2, outsider)}
    m1b = connect(m1)  # a second connection of the same member
    msg = send_message(api, owner, gid=gid)
    for u in (owner, m1, m2):
        f = socks[u.id].wait(lambda f, m=msg: f.get("type") == "message:received" and
                             f["data"]["id"] == m["id"])
        assert isinstance(f["seq"], int) and f["seq"] > 0
    m1b.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == msg["id"])
    time.sleep(0.5)
    for u in (owner, m1, m2):
        assert len(received(socks[u.id], msg["id"])) == 1
    seqs = {received(socks[u.id], msg["id"])[0]["seq"] for u in (owner, m1, m2)}
    assert len(seqs) == 1, "one event, one seq everywhere"
    assert received(socks[outsider.id], msg["id"]) == []
    for ws in list(socks.values()) + [m1b]:
        ws.close()


def test_edits_deletes_reactions_receipts_reach_members(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wa, wb = connect(a), connect(b)
    msg = send_message(api, a, gid=gid)
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == msg["id"])
    mid = msg["id"]
    r = api.patch("/api/v1/messages/%s" % mid, token=a.token, json={"content": "edited"})
    assert_ok(r)
    for ws in (wa, wb):
        f = ws.wait(lambda f: f.get("type") == "message:edit" and "seq" in f)
        assert json.dumps(f["data"]).find(mid) >= 0
    r = api.post("/api/v1/messages/%s/react" % mid, token=b.token, json={"emoji": "👍"})
    assert r.status_code in (200, 201), r.text
    for ws in (wa, wb):
        ws.wait(lambda f: f.get("type") == "message:react" and "seq" in f and
                mid in json.dumps(f["data"]))
    r = api.post("/api/v1/messages/%s/seen" % mid, token=b.token)
    assert r.status_code in (200, 201), r.text
    wa.wait(lambda f: f.get("type") == "message:status" and "seq" in f and
            mid in json.dumps(f["data"]))
    r = api.delete("/api/v1/messages/%s" % mid, token=a.token)
    assert r.status_code in (200, 204), r.text
    for ws in (wa, wb):
        ws.wait(lambda f: f.get("type") == "message:delete" and "seq" in f and
                mid in json.dumps(f["data"]))
    for ws in (wa, wb):
        seqs = [f["seq"] for f in ws.events()]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), seqs
        ws.close()


def test_direct_message_reaches_both(api, make_user):
    a, b = make_user(), make_user()
    wa, wb = connect(a), connect(b)
    msg = send_message(api, a, to=b)
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == msg["id"])
    time.sleep(0.3)
    assert len(received(wb, msg["id"])) == 1
    wa.close()
    wb.close()


def test_ws_actions_go_through_the_services(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wa, wa2, wb = connect(a), connect(a), connect(b)
    ack = wa.request("message:send", {"groupId": gid, "content": "over ws"})
    assert ack["type"] == "ack", ack
    mid = ack["data"]["id"]
    assert ack["data"]["content"] == "over ws"
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == mid)
    wa2.wait(lambda f: "seq" in f and mid in json.dumps(f["data"]))
    # the REST view agrees
    r = api.get("/api/v1/messages/%s" % mid, token=b.token)
    assert assert_ok(r)["content"] == "over ws"
    # the services' rules and codes, not the bridge's
    err = wa.request("message:send", {"groupId": gid, "content": ""})
    assert err["type"] == "error" and err["data"]["code"] == "VALIDATION_ERROR", err
    err = wa.request("message:send", {"groupId": str(uuid.uuid4()), "content": "x"})
    assert err["type"] == "error" and err["data"]["code"] == "NOT_FOUND", err
    err = wb.request("message:edit", {"messageId": mid, "content": "not mine"})
    assert err["type"] == "error" and err["data"]["code"] in ("FORBIDDEN", "NOT_FOUND",
                                                              "MESSAGE_EDIT_DENIED"), err
    ack = wa.request("message:edit", {"messageId": mid, "content": "changed"})
    assert ack["type"] == "ack", ack
    wb.wait(lambda f: f.get("type") == "message:edit" and mid in json.dumps(f["data"]))
    for t in ("message:delivered", "message:seen"):
        ack = wb.request(t, {"messageId": mid})
        assert ack["type"] == "ack", ack
    ack = wb.request("message:react", {"messageId": mid, "emoji": "🎉"})
    assert ack["type"] == "ack", ack
    wa.wait(lambda f: f.get("type") == "message:react" and mid in json.dumps(f["data"]))
    ack = wa.request("message:delete", {"messageId": mid})
    assert ack["type"] == "ack", ack
    wb.wait(lambda f: f.get("type") == "message:delete" and mid in json.dumps(f["data"]))
    for ws in (wa, wa2, wb):
        ws.close()


def test_membership_changes_update_subscriptions(api, make_user):
    owner, m = make_user(), make_user()
    gid = create_group(api, owner)
    wm = connect(m)
    first = send_message(api, owner, gid=gid)
    add_member(api, owner, gid, m)
    wm.wait(lambda f: f.get("type") == "group:member:join" and "seq" in f)
    second = send_message(api, owner, gid=gid)
    wm.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == second["id"])
    assert received(wm, first["id"]) == []
    remove_member(api, owner, gid, m)
    wm.wait(lambda f: f.get("type") == "group:member:leave" and "seq" in f)
    seq_after_leave = wm.last_seq()
    third = send_message(api, owner, gid=gid)
    # a message the removed member must never see, live or on resume
    wo = connect(owner)
    time.sleep(0.6)
    assert received(wm, third["id"]) == []
    wm.close()
    again = WS(token=m.token, since=seq_after_leave - 5 if seq_after_leave > 5 else 0)
    again.authed()
    again.wait_type("resumed")
    assert received(again, third["id"]) == []
    again.close()
    wo.close()


def test_join_requests_reach_deciders_and_requesters(api, make_user):
    """group:join_request and group:join_request:rejected go to personal
    rooms (the requester is in no room of the group); an approved
    requester hears group:member:join and is in the group's room."""
    owner, member, b, c = make_user(), make_user(), make_user(), make_user()
    gid = create_group(api, owner, [member])
    r = api.post("/api/v1/groups/%s/invitations" % gid, token=owner.token,
                 json={"requireApproval": True, "maxUses": 5})
    code = assert_ok(r, 201)["code"]
    wo, wm, wb, wc = connect(owner), connect(member), connect(b), connect(c)
    for u in (b, c):
        assert_ok(api.post("/api/v1/groups/join/%s" % code, token=u.token), 202)
    for u in (b, c):
        f = wo.wait_type("group:join_request", userId=u.id)
        assert isinstance(f["seq"], int) and f["data"]["groupId"] == gid
    assert_ok(api.delete("/api/v1/groups/%s/join-requests/%s" % (gid, b.id), token=owner.token))
    f = wb.wait_type("group:join_request:rejected", groupId=gid)
    assert f["data"]["userId"] == b.id and isinstance(f["seq"], int)
    assert_ok(api.post("/api/v1/groups/%s/join-requests/%s/approve" % (gid, c.id),
                       token=owner.token))
    wc.wait_type("group:member:join", userId=c.id)
    msg = send_message(api, owner, gid=gid)
    wc.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == msg["id"])
    time.sleep(0.3)
    assert wm.of_type("group:join_request") == [] and wm.of_type("group:join_request:rejected") == []
    assert wc.of_type("group:join_request:rejected") == [] and wb.of_type("group:member:join") == []
    for ws in (wo, wm, wb, wc):
        ws.close()


def test_foreign_group_events_are_never_delivered(api, make_user):
    a, b, eve = make_user(), make_user(), make_user()
    gid = create_group(api, a, [b])
    we = connect(eve)
    # subscribing to a group one is not in is refused like a missing one
    err = we.request("group:join", {"groupId": gid})
    assert err["type"] == "error" and err["data"]["code"] == "NOT_FOUND"
    typing = we.request("typing:start", {"groupId": gid})
    assert typing["type"] == "error" and typing["data"]["code"] == "NOT_FOUND"
    msg = send_message(api, a, gid=gid)
    time.sleep(0.5)
    assert received(we, msg["id"]) == []
    we.close()
    # nor on resume from the beginning
    again = WS(token=eve.token, since=0)
    again.authed()
    f = again.wait(lambda f: f.get("type") in ("resumed", "resync_required"))
    assert gid not in json.dumps(again.events())
    assert f["type"] in ("resumed", "resync_required")
    again.close()


def test_group_leave_and_join_are_subscriptions(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wb = connect(b)
    ack = wb.request("group:leave", {"groupId": gid})
    assert ack["type"] == "ack" and ack["data"]["subscribed"] is False
    m1 = send_message(api, a, gid=gid)
    time.sleep(0.5)
    assert received(wb, m1["id"]) == []
    ack = wb.request("group:join", {"groupId": gid})
    assert ack["type"] == "ack" and ack["data"]["subscribed"] is True
    m2 = send_message(api, a, gid=gid)
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == m2["id"])
    # still a member: REST agrees
    assert_ok(api.get("/api/v1/groups/%s" % gid, token=b.token))
    wb.close()


def test_a_group_leave_ends_with_the_membership(api, make_user):
    """group:leave mutes a group on one connection while the user is a
    member. Removed and added back, the user is a new member: the
    connection hears the group again without a group:join."""
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wb = connect(b)
    assert wb.request("group:leave", {"groupId": gid})["data"]["subscribed"] is False
    remove_member(api, a, gid, b)
    add_member(api, a, gid, b)
    assert_ok(api.get("/api/v1/groups/%s" % gid, token=b.token))  # a member again
    wb.wait(lambda f: f.get("type") == "group:member:join" and "seq" in f and
            f["data"].get("userId") == b.id)
    m = send_message(api, a, gid=gid)
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == m["id"])
    # and the new membership can be muted like any other
    assert wb.request("group:leave", {"groupId": gid})["data"]["subscribed"] is False
    m2 = send_message(api, a, gid=gid)
    time.sleep(0.5)
    assert received(wb, m2["id"]) == []
    wb.close()


def test_a_group_leave_past_the_mute_limit_is_refused_not_ignored(make_user, db,
                                                                 private_bridge):
    """A connection unsubscribes from at most 1024 conversations: the one
    after is refused with CONFLICT, never acked and then delivered."""
    u = make_user()
    gids = [str(uuid.uuid4()) for _ in range(1025)]
    with db.cursor() as c:
        c.executemany("INSERT INTO conversations (id, kind, title) VALUES (%s, 'GROUP', 'm')",
                      [(g,) for g in gids])
        c.executemany("INSERT INTO members (conversation_id, user_id, role) VALUES"
                      " (%s, %s, 'OWNER')", [(g, u.id) for g in gids])
    br = private_bridge(events_per_minute=100000)
    ws = connect(u, url=br.url)
    for i, g in enumerate(gids[:1024]):
        ws.send({"type": "group:leave", "data": {"groupId": g}, "ackId": "l%d" % i})
    ws.wait(lambda f: f.get("ackId") == "l1023", 20)
    assert [f["type"] for f in ws.frames if f.get("ackId", "").startswith("l")] == \
        ["ack"] * 1024
    last = ws.request("group:leave", {"groupId": gids[1024]})
    with db.cursor() as c:
        c.execute("INSERT INTO events (target_kind, target_id, type, payload) VALUES"
                  " ('CONVERSATION', %s, 'test:event', '{\"n\":1}')", (gids[1024],))
    if last["type"] == "ack":
        time.sleep(1.0)
        assert ws.of_type("test:event") == [], "acked as unsubscribed, delivered all the same"
    assert last["type"] == "error" and last["data"]["code"] == "CONFLICT", last
    ws.wait_type("test:event")  # still subscribed, as the error says
    # one muted room subscribed again makes room for another
    assert ws.request("group:join", {"groupId": gids[0]})["type"] == "ack"
    assert ws.request("group:leave", {"groupId": gids[1024]})["type"] == "ack"
    ws.close()


def test_resume_replays_missed_events_in_order_then_live(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wb = connect(b)
    m0 = send_message(api, a, gid=gid)
    f0 = wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == m0["id"])
    wb.close()
    missed = [send_message(api, a, gid=gid) for _ in range(5)]
    wb = WS(token=b.token, since=f0["seq"])
    wb.authed()
    wb.wait_type("resumed")
    # replayed, or (committed but not yet numbered at the resume) live
    wb.wait(lambda f: f.get("type") == "message:received" and
            f["data"]["id"] == missed[-1]["id"])
    got = [f["data"]["id"] for f in wb.of_type("message:received")]
    assert got == [m["id"] for m in missed], got
    live = send_message(api, a, gid=gid)
    wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == live["id"])
    seqs = [f["seq"] for f in wb.events()]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) and seqs[0] > f0["seq"]
    # the resume frame does the same on a live connection
    wb2 = connect(b)
    ack = wb2.request("resume", since=f0["seq"])
    assert ack["type"] == "ack"
    wb2.wait_type("resumed")
    wb2.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == live["id"])
    got2 = [f["data"]["id"] for f in wb2.of_type("message:received")]
    assert got2[:6] == [m["id"] for m in missed] + [live["id"]], got2
    wb.close()
    wb2.close()


def test_resync_required_when_since_is_unknown(make_user):
    u = make_user()
    ws = WS(token=u.token, since=10 ** 15)
    ws.authed()
    f = ws.wait_type("resync_required")
    assert f["data"]["since"] == 10 ** 15 and isinstance(f["data"]["seq"], int)
    assert ws.request("ping")["type"] == "pong"
    ws.close()


@pytest.mark.parametrize("how", ["query", "frame"])
def test_after_a_resync_for_an_unknown_since_events_flow_from_its_seq(api, make_user, how):
    """resync_required says "continue live from seq": every event after
    that seq arrives, however far ahead of the stream the since was."""
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    if how == "query":
        ws = WS(token=b.token, since=10 ** 15)
        ws.authed()
    else:
        ws = connect(b)
        assert ws.request("resume", since=10 ** 15)["type"] == "ack"
    f = ws.wait_type("resync_required")
    m = send_message(api, a, gid=gid)
    got = ws.wait(lambda e: e.get("type") == "message:received" and
                  e["data"]["id"] == m["id"])
    assert got["seq"] > f["data"]["seq"]
    ws.close()


def test_resync_required_when_since_is_older_than_retention(make_user, db, private_bridge):
    u = make_user()
    with db.cursor() as c:
        c.execute("SELECT MIN(pos) AS lo FROM events")
        lo = c.fetchone()["lo"]
    if not lo or lo < 3:
        # make the oldest event look purged: an old row that is not the newest
        with db.cursor() as c:
            c.execute("SELECT pos FROM events WHERE pos IS NOT NULL ORDER BY pos LIMIT 2")
            rows = c.fetchall()
            if len(rows) < 2:
                pytest.skip("not enough events yet")
            c.execute("DELETE FROM events WHERE pos = %s", (rows[0]["pos"],))
            lo = rows[1]["pos"]
    # A bridge started now has nothing older in memory: the gap before the
    # oldest stored event cannot be filled (a bridge whose replay buffer
    # still holds every event after since replays it instead: no loss).
    b = private_bridge()
    ws = WS(url=b.url, token=u.token, since=lo - 2)
    ws.authed()
    f = ws.wait(lambda f: f.get("type") in ("resumed", "resync_required"), 10)
    assert f["type"] == "resync_required", f
    assert f["data"]["since"] == lo - 2
    # still usable, live from the current position
    assert ws.request("ping")["type"] == "pong"
    ws.close()


def insert_user_events(db, user_id, n, payload="{}"):
    """n events for user_id's personal room, straight into the outbox;
    returns their positions once the sequencer has numbered them."""
    with db.cursor() as c:
        c.execute("SELECT COALESCE(MAX(id), 0) AS last FROM events")
        last = c.fetchone()["last"]
        c.executemany("INSERT INTO events (target_kind, target_id, type, payload)"
                      " VALUES ('USER', %s, 'test:event', %s)", [(user_id, payload)] * n)

    def numbered():
        with db.cursor() as c:
            c.execute("SELECT pos FROM events WHERE id > %s AND target_kind = 'USER'"
                      " AND target_id = %s AND type = 'test:event' ORDER BY pos",
                      (last, user_id))
            pos = [r["pos"] for r in c.fetchall()]
        return pos if len(pos) == n and None not in pos else None
    return wait_until(numbered, 10, what="the sequencer to number the events")


def test_resume_just_after_a_purge_is_a_resync_not_a_gap(make_user, db, private_bridge):
    """A purge moves the oldest stored seq forward. A bridge that read the
    old figure a few seconds before must not replay across the hole."""
    u = make_user()
    b = private_bridge(replay_buffer=0)
    seqs = insert_user_events(db, u.id, 7)
    wait_until(lambda: b.health()["seq"] >= seqs[-1], 10, what="the bridge to read them")
    with db.cursor() as c:  # what the retention purge does: the oldest go
        c.execute("DELETE FROM events WHERE pos < %s", (seqs[4],))
    ws = WS(url=b.url, token=u.token, since=seqs[2] - 1)
    ws.authed()
    f = ws.wait(lambda f: f.get("type") in ("resumed", "resync_required"), 10)
    assert f["type"] == "resync_required", (f, [e["seq"] for e in ws.events()])
    assert f["data"]["since"] == seqs[2] - 1
    assert ws.events() == [], "nothing replayed across the hole"
    ws.close()


@pytest.mark.parametrize("replay_buffer", [0, 1000])
def test_a_resume_replays_nothing_of_a_deleted_group(api, make_user, db, private_bridge,
                                                     replay_buffer):
    """A deleted group is no one's any more: a resume read from the
    database (replay_buffer = 0) skips its events as one read from the
    ring does, and ends with the group:delete telling the member."""
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    br = private_bridge(replay_buffer=replay_buffer)
    wb = connect(b, url=br.url)
    m0 = send_message(api, a, gid=gid)
    f0 = wb.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == m0["id"])
    wb.close()
    missed = send_message(api, a, gid=gid)
    assert api.delete("/api/v1/groups/%s" % gid, token=a.token).status_code in (200, 204)

    def numbered():
        with db.cursor() as c:
            c.execute("SELECT MAX(pos) AS hi FROM events WHERE type = 'group:delete'"
                      " AND target_id = %s", (b.id,))
            return c.fetchone()["hi"]
    hi = wait_until(numbered, 10, what="the group:delete event to be numbered")
    wait_until(lambda: br.health()["seq"] >= hi, 10, what="the bridge to read it")
    ws = WS(url=br.url, token=b.token, since=f0["seq"])
    ws.authed()
    ws.wait_type("resumed", 10)
    assert ws.wait_type("group:delete")["data"]["groupId"] == gid
    assert received(ws, missed["id"]) == [], "a deleted group's message replayed"
    assert [f["type"] for f in ws.events()] == ["group:delete"], ws.events()
    ws.close()


def test_typing_is_relayed_coalesced_and_stopped(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wa, wb = connect(a), connect(b)
    assert wa.request("typing:start", {"groupId": gid})["type"] == "ack"
    f = wb.wait_type("typing:start")
    assert f["data"]["userId"] == a.id and f["data"]["groupId"] == gid and "seq" not in f
    for _ in range(3):
        wa.request("typing:start", {"groupId": gid})
    time.sleep(0.3)
    assert len(wb.of_type("typing:start")) == 1, "coalesced to one per 3 s"
    assert wa.of_type("typing:start") == [], "not echoed to the typist"
    # no typing:stop from the client: the bridge stops it after ~5 s
    stop = wb.wait_type("typing:stop", timeout=9)
    assert stop["data"]["userId"] == a.id
    # an explicit stop after a start
    time.sleep(3.1)
    wa.request("typing:start", {"groupId": gid})
    wb.wait(lambda f: f.get("type") == "typing:start" and f is not wb.of_type("typing:start")[0])
    wa.request("typing:stop", {"groupId": gid})
    wb.wait(lambda f: f.get("type") == "typing:stop" and f is not stop)
    # direct conversations by receiverId, once one exists
    send_message(api, a, to=b)
    time.sleep(0.5)
    assert wa.request("typing:start", {"receiverId": b.id})["type"] == "ack"
    wb.wait(lambda f: f.get("type") == "typing:start" and f["data"].get("receiverId") == b.id)
    # never replayed
    wb.close()
    again = WS(token=b.token, since=0)
    again.authed()
    again.wait(lambda f: f.get("type") in ("resumed", "resync_required"))
    assert not [f for f in again.events() if f["type"].startswith("typing")]
    again.close()
    wa.close()


def test_typing_start_stop_alternation_is_still_coalesced(api, make_user):
    a, b = make_user(), make_user()
    gid = create_group(api, a, [b])
    wa, wb = connect(a), connect(b)
    for _ in range(10):
        assert wa.request("typing:start", {"groupId": gid})["type"] == "ack"
        assert wa.request("typing:stop", {"groupId": gid})["type"] == "ack"
    assert wa.request("typing:start", {"groupId": gid})["type"] == "ack"  # typing again
    time.sleep(1.2)
    assert len(wb.of_type("typing:start")) == 1, "one start per 3 s, stops or not"
    assert len(wb.of_type("typing:stop")) == 1
    # the start that came too soon goes out when the window is over
    wait_until(lambda: len(wb.of_type("typing:start")) == 2, 6, what="the held-back start")
    first, second = wb.of_type("typing:start")
    assert second["_t"] - first["_t"] >= 2.9
    wa.request("typing:stop", {"groupId": gid})
    wait_until(lambda: len(wb.of_type("typing:stop")) == 2, 3, what="the second stop")
    time.sleep(0.6)
    assert len(wb.of_type("typing:start")) == 2 and len(wb.of_type("typing:stop")) == 2
    wa.close()
    wb.close()


def test_typing_of_a_removed_member_ends_with_the_removal(api, make_user):
    """A start held back by the 3 s window is not sent once its author is
    no longer a member, and one that was shown is stopped at once instead
    of after the typing timeout."""
    owner, a, b = make_user(), make_user(), make_user()
    gid = create_group(api, owner, [a, b])
    wa, wb = connect(a), connect(b)
    for req in ("typing:start", "typing:stop", "typing:start"):  # the last is held back
        assert wa.request(req, {"groupId": gid})["type"] == "ack"
    wb.wait_type("typing:stop", userId=a.id)
    remove_member(api, owner, gid, a)
    wb.wait_type("group:member:leave", userId=a.id)
    time.sleep(4.6)  # the window, a tick and a flush
    assert len(wb.of_type("typing:start", userId=a.id)) == 1, wb.of_type("typing:start")

    # shown, then removed: the stop follows within a second or so
    gid2 = create_group(api, owner, [a, b])
    assert wa.request("typing:start", {"groupId": gid2})["type"] == "ack"
    wb.wait_type("typing:start", userId=a.id, groupId=gid2)
    remove_member(api, owner, gid2, a)
    t0 = time.monotonic()
    wb.wait_type("typing:stop", 6, userId=a.id, groupId=gid2)
    assert time.monotonic() - t0 < 2.5, "stopped by the removal, not the timeout"
    wa.close()
    wb.close()


def test_presence_online_offline_and_rest(api, make_user):
    a, b = make_user(), make_user()
    create_group(api, a, [b])
    wa = connect(a)
    wb = connect(b)
    f = wa.wait_type("user:online", userId=b.id)
    assert "seq" not in f
    r = assert_ok(api.get("/api/v1/users/%s/presence" % b.id, token=a.token))
    assert r["isOnline"] is True
    wb2 = connect(b)
    time.sleep(0.3)
    assert len(wa.of_type("user:online", userId=b.id)) == 1, "only the first connection"
    wb.close()
    time.sleep(0.5)
    assert wa.of_type("user:offline", userId=b.id) == [], "still one connection open"
    wb2.close()
    off = wa.wait_type("user:offline", userId=b.id)
    assert off["data"].get("lastSeen")

    def offline():
        r = assert_ok(api.get("/api/v1/users/%s/presence" % b.id, token=a.token))
        return r["isOnline"] is False and r.get("lastSeen")
    wait_until(offline, 5, what="REST presence offline")
    wa.close()


def test_logout_all_closes_live_sockets(api, make_user):
    u = make_user()
    w1, w2 = connect(u), connect(u)
    r = api.post("/api/v1/auth/logout-all", token=u.token)
    assert r.status_code in (200, 204), r.text
    for ws in (w1, w2):
        e = ws.wait_type("error", timeout=8)
        assert e["data"]["code"] == "SESSION_REVOKED"
        assert ws.wait_closed(timeout=3) == 1008
    bad = WS(token=u.token)
    f = bad.wait_type("auth_response")
    assert f["status"] == "error"


def test_apache_front_smoke(make_user):
    url = os.environ.get("PARLEY_APACHE_PROXY_URL")
    if not url:
        pytest.skip("PARLEY_APACHE_PROXY_URL is not set (Apache front not running)")
    u = make_user()
    ws = WS(url=url.replace("http://", "ws://") + "/ws", token=u.token)
    ws.authed()
    assert ws.request("ping")["type"] == "pong"
    ws.close()
