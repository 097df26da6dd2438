"""Malformed ids in client actions answer what REST answers for them
(docs/websocket.md, "Client actions").

An id that names what an action acts on (the message of message:edit, the
group of group:join, the conversation of typing:start) is read like the
same id in a REST path or query string: a string that is not an id is
NOT_FOUND (GET /api/v1/messages/not-an-id is a 404). The ids inside what
message:send creates are read like a POST body's: VALIDATION_ERROR. A
missing id is VALIDATION_ERROR everywhere.

Each case makes the REST call it mirrors in the same test, so the two
cannot drift apart unnoticed.
"""

import time
import urllib.parse
import uuid

import pytest

from test_bridge import connect, create_group

OK_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
BAD_IDS = {
    "word": "not-an-id",
    "not_hex": "zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz",
    "trailing": OK_ID + "x",
    "braced": "{" + OK_ID + "}",
    "no_dashes": OK_ID.replace("-", ""),
    "empty": "",
}


def q(s):
    return urllib.parse.quote(s, safe="")


# (ws type, the id's field, extra data, the REST call: method, path, body)
# "{id}" in path or body is replaced by the malformed id.
ACTIONS = [
    ("message:edit", "messageId", {"content": "x"}, ("PATCH", "/api/v1/messages/{id}", {"content": "x"})),
    ("message:delete", "messageId", {}, ("DELETE", "/api/v1/messages/{id}", None)),
    ("message:delivered", "messageId", {}, ("POST", "/api/v1/messages/{id}/delivered", {})),
    ("message:seen", "messageId", {}, ("POST", "/api/v1/messages/{id}/seen", {})),
    ("message:read", "messageId", {}, ("POST", "/api/v1/messages/{id}/seen", {})),
    ("message_read", "message_id", {}, ("POST", "/api/v1/messages/{id}/seen", {})),
    ("message:react", "messageId", {"emoji": "\U0001f44d"}, ("POST", "/api/v1/messages/{id}/react", {"emoji": "\U0001f44d"})),
    ("group:join", "groupId", {}, ("POST", "/api/v1/groups/{id}/join", {})),
    ("join_chatroom", "chatroomId", {}, ("POST", "/api/v1/groups/{id}/join", {})),
    ("group:join", "conversationId", {}, ("POST", "/api/v1/groups/{id}/join", {})),
    ("group:leave", "groupId", {}, ("POST", "/api/v1/groups/{id}/leave", {})),
    ("leave_chatroom", "chatroom_id", {}, ("POST", "/api/v1/groups/{id}/leave", {})),
    ("typing:start", "groupId", {}, ("GET", "/api/v1/messages?groupId={id}", None)),
    ("typing:stop", "conversationId", {}, ("GET", "/api/v1/messages?conversationId={id}", None)),
    ("typing_start", "receiverId", {}, ("GET", "/api/v1/messages?receiverId={id}", None)),
    ("message:send", "groupId", {"content": "x"}, ("POST", "/api/v1/messages", {"groupId": "{id}", "content": "x"})),
    ("message:send", "receiverId", {"content": "x"}, ("POST", "/api/v1/messages", {"receiverId": "{id}", "content": "x"})),
    ("send_message", "conversationId", {"content": "x"},
     ("POST", "/api/v1/messages", {"conversationId": "{id}", "content": "x"})),
]


def rest_code(api, user, call, bad):
    method, path, body = call
    kw = {}
    if body is not None:
        kw["json"] = {k: (bad if v == "{id}" else v) for k, v in body.items()}
    r = api.request(method, path.replace("{id}", q(bad)), token=user.token, **kw)
    assert 400 <= r.status_code < 500, (method, path, bad, r.status_code, r.text[:200])
    return r.json()["code"]


@pytest.fixture
def user_ws(make_user):
    user = make_user()
    ws = connect(user)
    yield user, ws
    ws.close()


@pytest.mark.parametrize("action", ACTIONS, ids=["%s-%s" % (a[0], a[1]) for a in ACTIONS])
def test_malformed_id_answers_what_rest_answers(api, user_ws, action):
    user, ws = user_ws
    type_, field, extra, call = action
    for name, bad in BAD_IDS.items():
        if bad == "" and call[1].endswith("{id}"):
            continue  # an empty path segment is another route
        want = rest_code(api, user, call, bad)
        got = ws.request(type_, {field: bad, **extra})
        assert got["type"] == "error", (type_, field, name, got)
        assert got["code"] == got["data"]["code"] == want, (type_, field, name, got, want)


@pytest.mark.parametrize("type_", sorted({a[0] for a in ACTIONS}))
def test_missing_id_is_a_validation_error(user_ws, type_):
    _, ws = user_ws
    for data in ({}, {"messageId": 17, "groupId": None, "receiverId": ["x"]}):
        got = ws.request(type_, {"content": "x", "emoji": "\U0001f44d", **data})
        assert got["type"] == "error" and got["code"] == "VALIDATION_ERROR", (type_, data, got)


def test_a_well_formed_unknown_id_is_not_found(api, make_user, user_ws):
    """The boundary the malformed cases sit beside: a real id of nothing
    the user can see is NOT_FOUND in every action that acts on it."""
    user, ws = user_ws
    other = make_user()
    foreign = create_group(api, other)
    for type_, field, extra in [("message:edit", "messageId", {"content": "x"}),
                                ("message:delete", "messageId", {}),
                                ("message:react", "messageId", {"emoji": "\U0001f44d"}),
                                ("message:seen", "messageId", {}),
                                ("group:join", "groupId", {}),
                                ("group:leave", "groupId", {}),
                                ("typing:start", "groupId", {})]:
        for id_ in (str(uuid.uuid4()), foreign):
            got = ws.request(type_, {field: id_, **extra})
            assert got["type"] == "error" and got["code"] == "NOT_FOUND", (type_, id_, got)


# ------------------------------------------------- one field, two spellings
#
# A frame that gives one field under two of its spellings with different
# values (docs/websocket.md, "Frames") is refused as REST refuses such a
# body: VALIDATION_ERROR naming the later spelling, and nothing happens.
# Before, the bridge read the field as absent - so a third spelling that
# happened to be there was acted on, and the message said "required".

def disagree(first, later):
    """REST's message for it (jsonx_disagree(), src/core/jsonx.c)."""
    return "%s and %s disagree: send one of them" % (first, later)


@pytest.fixture
def pair(api, make_user, send_as):
    """a and b, members of groups g and g2; m and m2: a's messages in them;
    both connected (b is the witness of whatever a's frames do)."""
    a, b = make_user(), make_user()
    g, g2 = create_group(api, a, [b]), create_group(api, a, [b])
    send_as(b, receiverId=a.id)  # a direct conversation of a and b
    m, m2 = send_as(a, groupId=g), send_as(a, groupId=g2)
    ws_a, ws_b = connect(a), connect(b)
    yield dict(a=a, b=b, g=g, g2=g2, m=m["id"], m2=m2["id"], ws_a=ws_a, ws_b=ws_b)
    ws_a.close()
    ws_b.close()


@pytest.fixture
def send_as(api):
    def send(user, **body):
        r = api.post("/api/v1/messages", token=user.token,
                     json={"content": "m " + uuid.uuid4().hex[:8], **body})
        assert r.status_code == 201, r.text
        return r.json()["data"]
    return send


# (ws type, data, first spelling, later spelling, REST call or None, what
# the frame would do if a spelling were read). Names in data: "G", "G2"
# (groups), "M", "M2" (a's messages in them), "A", "B" (the users).
SPELLED_TWICE = [
    ("message:send", {"groupId": "G", "group_id": "G2", "content": "twice"},
     "groupId", "group_id", ("POST", "/api/v1/messages"), "send"),
    ("send_message", {"chatroomId": "G", "chatroom_id": "G2", "content": "twice"},
     "chatroomId", "chatroom_id", ("POST", "/api/v1/messages"), "send"),
    ("message:send", {"receiverId": "B", "receiver_id": "A", "content": "twice"},
     "receiverId", "receiver_id", ("POST", "/api/v1/messages"), "send"),
    ("message:react", {"messageId": "M", "emoji": "\U0001f44d", "reaction": "\u2764"},
     "emoji", "reaction", ("POST", "/api/v1/messages/M/react"), "react"),
    ("message:react", {"messageId": "M", "message_id": "M2", "emoji": "\U0001f44d"},
     "messageId", "message_id", None, "react"),
    # A third spelling agreeing with the first is no way around it.
    ("message:edit", {"messageId": "M", "message_id": "M2", "id": "M", "content": "edited"},
     "messageId", "message_id", None, "edit"),
    ("message:delete", {"messageId": "M", "id": "M2"}, "messageId", "id", None, "delete"),
    ("group:join", {"groupId": "G", "group_id": "G2", "chatroomId": "G"},
     "groupId", "group_id", None, "join"),
    ("join_chatroom", {"chatroomId": "G", "conversationId": "G2"},
     "chatroomId", "conversationId", None, "join"),
    ("group:leave", {"groupId": "G", "conversation_id": "G2"},
     "groupId", "conversation_id", None, "leave"),
    ("leave_chatroom", {"chatroom_id": "G", "chatroomId": "G2", "conversationId": "G"},
     "chatroomId", "chatroom_id", None, "leave"),
    ("typing:start", {"groupId": "G", "conversation_id": "G2", "chatroomId": "G"},
     "groupId", "conversation_id", None, "typing"),
    ("typing_start", {"receiverId": "B", "receiver_id": "A"},
     "receiverId", "receiver_id", None, "typing"),
]


def _fill(v, p):
    names = {"G": p["g"], "G2": p["g2"], "M": p["m"], "M2": p["m2"],
             "A": p["a"].id, "B": p["b"].id}
    if isinstance(v, dict):
        return {k: _fill(x, p) for k, x in v.items()}
    return names.get(v, v) if isinstance(v, str) else v


def _state(db, p):
    """What any of the frames could change in MariaDB."""
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM messages WHERE sender_id IN (%s, %s)",
                  (p["a"].id, p["b"].id))
        n = c.fetchone()["n"]
        c.execute("SELECT id, content, edited_at, deleted_at FROM messages"
                  " WHERE id IN (%s, %s) ORDER BY id", (p["m"], p["m2"]))
        msgs = c.fetchall()
        c.execute("SELECT COUNT(*) AS n FROM reactions WHERE message_id IN (%s, %s)",
                  (p["m"], p["m2"]))
        return n, msgs, c.fetchone()["n"]


@pytest.mark.parametrize("case", SPELLED_TWICE,
                         ids=["%s-%s-%s" % (c[0], c[2], c[3]) for c in SPELLED_TWICE])
def test_disagreeing_spellings_are_refused_like_rest(api, db, pair, case):
    type_, data, first, later, rest, effect = case
    p, data = pair, _fill(data, pair)
    ws_a, ws_b = p["ws_a"], p["ws_b"]
    if effect == "join":  # so that a join would show
        assert ws_a.request("group:leave", {"groupId": p["g"]})["type"] == "ack"
        assert ws_a.request("group:leave", {"groupId": p["g2"]})["type"] == "ack"
    before = _state(db, p)
    seen_b = len(ws_b.frames)

    got = ws_a.request(type_, data)
    assert got["type"] == "error", (type_, data, got)
    assert got["code"] == got["data"]["code"] == "VALIDATION_ERROR", got
    assert got["message"] == got["data"]["message"] == disagree(first, later), got
    if rest:
        method, path = rest
        r = api.request(method, path.replace("/M/", "/%s/" % p["m"]), token=p["a"].token,
                        json=data)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "VALIDATION_ERROR", r.text
        assert r.json()["message"] == got["message"], (r.text, got)
        assert list(r.json()["error"]["details"]["fields"]) == [later], r.text

    # Nothing happened: in MariaDB, to the subscriptions, for b.
    assert _state(db, p) == before
    marker = {g: "marker " + uuid.uuid4().hex[:8] for g in (p["g"], p["g2"])}
    for g, text in marker.items():
        r = api.post("/api/v1/messages", token=p["b"].token, json={"groupId": g, "content": text})
        assert r.status_code == 201, r.text
    for g, text in marker.items():
        ws_b.wait(lambda f, t=text: (f.get("data") or {}).get("content") == t, what=text)
    time.sleep(0.2)  # a's copy is sent with b's, in the same loop turn
    for g, text in marker.items():
        if effect == "join":  # still not subscribed
            assert not [f for f in ws_a.frames if (f.get("data") or {}).get("content") == text]
        else:                 # still subscribed
            ws_a.wait(lambda f, t=text: (f.get("data") or {}).get("content") == t, what=text)
    # (Not any message:received: the fixture's own may still be on their way.)
    with ws_b.cv:
        caused = [f for f in ws_b.frames[seen_b:] if f.get("type") in (
            "message:edit", "message:delete", "message:react", "typing:start")
            or (f.get("data") or {}).get("content") == "twice"]
    assert not caused, caused


def test_disagreeing_envelope_spellings_are_refused(db, pair):
    """The frame's own fields too: type/event, ackId/ack_id."""
    p, ws = pair, pair["ws_a"]
    before = _state(db, p)
    got = ws.request("message:send", {"groupId": p["g"], "content": "x"}, event="ping")
    assert got["type"] == "error" and got["code"] == "VALIDATION_ERROR", got
    assert got["message"] == disagree("type", "event"), got
    ws.send({"type": "ping", "ackId": "one", "ack_id": "two"})
    got = ws.wait(lambda f: f.get("type") in ("error", "pong") and f.get("ackId") != got.get("ackId"))
    assert got["type"] == "error" and got["code"] == "VALIDATION_ERROR", got
    assert got["message"] == disagree("ackId", "ack_id") and "ackId" not in got, got
    # Equal values are one field.
    assert ws.request("ping", event="ping")["type"] == "pong"
    ws.send({"type": "ping", "ackId": "same", "ack_id": "same"})
    assert ws.wait(lambda f: f.get("ackId") == "same")["type"] == "pong"
    assert _state(db, p) == before
