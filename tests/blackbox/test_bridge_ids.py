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
