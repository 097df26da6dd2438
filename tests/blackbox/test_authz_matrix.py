"""Authorization matrix of the conversation routes, derived from the route
table.

Every route of src/routes.c under /api/v1/groups, /chatrooms, /messages
and /conversations is called as five principals against a fresh world:

  member     a member allowed to do it (the owner for owner-only actions)
  nonmember  a user who was never in the group
  removed    a former member, removed by the owner
  anon       no Authorization header
  other      a plain member acting on someone else's object (editing
             another's message, changing the group, removing a member...)

and must answer the status in EXPECT. A conversation a caller is not in
answers 404 whether it exists or not, on every route. A route without a
row in EXPECT fails test_every_route_has_a_row (and its own case), so a
new route cannot be added without deciding who may call it.
"""

import pathlib
import re

import pytest

from conv_util import add_member, create_group, send
from parley_api import assert_error, assert_ok

REPO = pathlib.Path(__file__).resolve().parents[2]
ROUTE_RE = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*'
                      r'"(/api/v1/(?:groups|chatrooms|messages|conversations)(?:/[^"]*)?)"')


def conversation_routes():
    text = (REPO / "src" / "routes.c").read_text()
    return [(m.group(1), m.group(2)) for m in ROUTE_RE.finditer(text)]


PRINCIPALS = ("anon", "nonmember", "removed", "other", "member")


class Row:
    """Expected statuses of one route. Paths and bodies are str.format
    templates over World.ids; other_path/other_body describe the "other"
    case (defaults: the same request made by a plain member)."""

    def __init__(self, member, nonmember=404, removed=404, other=None, actor="M", path=None,
                 body=None, other_path=None, other_body=None, params=None, anon=401,
                 nonmember_empty=False, removed_path=None, removed_body=None):
        self.expect = {"member": member, "nonmember": nonmember, "removed": removed,
                       "anon": anon, "other": other}
        self.actor = actor
        self.path = path
        self.body = body
        self.other_path = other_path
        self.other_body = other_body
        self.removed_path = removed_path
        self.removed_body = removed_body
        self.params = params
        self.nonmember_empty = nonmember_empty


G = "/api/v1/groups"
C = "/api/v1/chatrooms"
M = "/api/v1/messages"
SEARCH = {"query": "authz"}

EXPECT = {}
for base in (G, C):
    EXPECT.update({
        ("POST", base): Row(201, 201, 201, body={"title": "mine"}),
        ("GET", base): Row(200, 200, 200),
        ("POST", base + "/join/{code}"): Row(200, 200, 200, path=base + "/join/{code}"),
        ("GET", base + "/{id}"): Row(200),
        ("PUT", base + "/{id}"): Row(200, other=403, actor="O", body={"title": "renamed"}),
        ("PATCH", base + "/{id}"): Row(200, other=403, actor="O", body={"title": "renamed"}),
        ("DELETE", base + "/{id}"): Row(200, other=403, actor="O"),
        ("POST", base + "/{id}/leave"): Row(200),
        ("POST", base + "/{id}/invite"): Row(201),
        ("GET", base + "/{id}/messages"): Row(200),
        ("POST", base + "/{id}/search"): Row(200, body=SEARCH),
    })
EXPECT.update({
    ("GET", G + "/{id}/members"): Row(200),
    ("POST", G + "/{id}/members"): Row(200, other=403, actor="O", body={"userId": "{X}"}),
    ("PATCH", G + "/{id}/members/{userId}"): Row(200, other=403, actor="O",
                                                 path=G + "/{g}/members/{P}",
                                                 body={"role": "MODERATOR"}),
    ("DELETE", G + "/{id}/members/{userId}"): Row(200, other=403, actor="O",
                                                  path=G + "/{g}/members/{P}"),
    ("POST", G + "/{id}/join"): Row(200),
    ("GET", G + "/{id}/invitations"): Row(200),
    ("POST", G + "/{id}/invitations"): Row(201),
    ("DELETE", G + "/{id}/invitations/{inviteId}"): Row(200, other=403, actor="O",
                                                        path=G + "/{g}/invitations/{inv}"),
    ("GET", G + "/{id}/join-requests"): Row(200, other=403, actor="O"),
    ("POST", G + "/{id}/join-requests/{userId}/approve"): Row(
        200, other=403, actor="O", path=G + "/{g}/join-requests/{Q}/approve"),
    ("DELETE", G + "/{id}/join-requests/{userId}"): Row(200, other=403, actor="O",
                                                        path=G + "/{g}/join-requests/{Q}"),
    ("POST", M): Row(201, body={"groupId": "{g}", "content": "authz probe"}),
    ("GET", M): Row(200, params={"conversationId": "{g}"}),
    ("GET", M + "/search"): Row(200, params={"query": "authz", "groupId": "{g}"}),
    ("GET", M + "/direct/{otherUserId}"): Row(200, 200, 200, path=M + "/direct/{P}",
                                              nonmember_empty=True),
    ("GET", M + "/group/{groupId}"): Row(200, path=M + "/group/{g}"),
    ("GET", M + "/{id}"): Row(200, path=M + "/{msg_p}"),
    ("PATCH", M + "/{id}"): Row(200, other=403, path=M + "/{msg_m}", body={"content": "edit"},
                                other_path=M + "/{msg_p}", removed_path=M + "/{msg_r}"),
    ("DELETE", M + "/{id}"): Row(200, other=403, path=M + "/{msg_m}",
                                 other_path=M + "/{msg_p}", removed_path=M + "/{msg_r}"),
    ("GET", M + "/{id}/history"): Row(200, path=M + "/{msg_p}/history"),
    ("POST", M + "/{id}/delivered"): Row(200, path=M + "/{msg_p}/delivered"),
    ("POST", M + "/{id}/seen"): Row(200, path=M + "/{msg_p}/seen"),
    ("POST", M + "/{id}/react"): Row(200, path=M + "/{msg_p}/react",
                                     body={"emoji": "\U0001F44D"}),
    ("DELETE", M + "/{id}/react"): Row(200, path=M + "/{msg_p}/react",
                                       body={"emoji": "\U0001F44D"}),
    ("GET", "/api/v1/conversations"): Row(200, 200, 200),
})


class World:
    """A PRIVATE group of O (owner) with members M and P, a removed member R,
    messages of M, P and R mentioning "authz", an invitation, a pending
    join request of Q and a DM between M and P."""

    def __init__(self, api, make_user):
        self.users = {k: make_user() for k in ("O", "M", "P", "R", "N", "X", "Q")}
        u = self.users
        g = create_group(api, u["O"], members=[u["M"], u["P"], u["R"]], title="authz")
        msg_m = send(api, u["M"], groupId=g["id"], content="authz by M")
        msg_p = send(api, u["P"], groupId=g["id"], content="authz by P")
        msg_r = send(api, u["R"], groupId=g["id"], content="authz by R")
        assert_ok(api.post("/api/v1/messages/%s/react" % msg_p["id"], token=u["M"].token,
                           json={"emoji": "\U0001F44D"}))
        inv = assert_ok(api.post(G + "/%s/invitations" % g["id"], token=u["O"].token,
                                 json={"maxUses": 100}), 201)
        approval = assert_ok(api.post(G + "/%s/invitations" % g["id"], token=u["O"].token,
                                      json={"requireApproval": True}), 201)
        assert_ok(api.post(G + "/join/" + approval["code"], token=u["Q"].token), 202)
        assert_ok(api.delete(G + "/%s/members/%s" % (g["id"], u["R"].id), token=u["O"].token))
        send(api, u["M"], receiverId=u["P"].id, content="authz direct")
        self.ids = dict(g=g["id"], msg_m=msg_m["id"], msg_p=msg_p["id"], msg_r=msg_r["id"],
                        inv=inv["id"], code=inv["code"],
                        **{k: v.id for k, v in u.items()})

    def fill(self, value):
        if isinstance(value, str):
            return value.format(**self.ids)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


def concrete(pattern, world):
    """The route pattern with its {params} filled from the world."""
    return world.fill(pattern.replace("{id}", "{g}").replace("{groupId}", "{g}"))


def test_every_route_has_a_row():
    routes = conversation_routes()
    assert len(routes) > 40, "could not parse src/routes.c"
    missing = [r for r in routes if r not in EXPECT]
    assert not missing, "routes without authorization expectations: %s" % missing
    stale = [k for k in EXPECT if k not in routes]
    assert not stale, "expectations for routes that no longer exist: %s" % stale


@pytest.mark.parametrize("route", conversation_routes(), ids=lambda r: "%s %s" % r)
def test_route_authz(api, make_user, route):
    method, pattern = route
    row = EXPECT.get(route)
    assert row is not None, "no authorization row for %s %s" % route
    w = World(api, make_user)
    base_path = w.fill(row.path) if row.path else concrete(pattern, w)
    for who in PRINCIPALS:
        status = row.expect[who]
        if status is None:
            continue
        path, body = base_path, row.body
        token = None
        if who == "member":
            token = w.users[row.actor].token
        elif who == "nonmember":
            token = w.users["N"].token
        elif who == "removed":
            token = w.users["R"].token
            path = w.fill(row.removed_path) if row.removed_path else path
            body = row.removed_body or body
        elif who == "other":
            token = w.users["M"].token
            path = w.fill(row.other_path) if row.other_path else path
            body = row.other_body or body
        kw = {"token": token}
        if body is not None:
            kw["json"] = w.fill(body)
        if row.params:
            kw["params"] = w.fill(row.params)
        r = api.request(method, path, **kw)
        where = "%s %s as %s" % (method, pattern, who)
        if status >= 400:
            body = assert_error(r, status)
            if status == 404:
                assert body["code"] == "NOT_FOUND", where
        else:
            assert r.status_code == status, "%s: expected %d, got %d %s" % (
                where, status, r.status_code, r.text[:300])
            data = r.parley_json["data"]
            if who == "nonmember" and row.nonmember_empty:
                assert data == [], "%s: a non-member must see nothing" % where
            if who in ("nonmember", "removed") and isinstance(data, list):
                text = r.text
                assert w.ids["msg_p"] not in text and w.ids["msg_m"] not in text, where


def test_removed_member_keeps_nothing(api, make_user):
    """Beyond statuses: the removed member's lists no longer show the group."""
    w = World(api, make_user)
    r = w.users["R"]
    assert w.ids["g"] not in [g["id"] for g in assert_ok(api.get(G, token=r.token))]
    assert w.ids["g"] not in [c["id"] for c in
                              assert_ok(api.get("/api/v1/conversations", token=r.token))]
    assert assert_ok(api.get(M + "/search", token=r.token, params={"query": "authz"})) == []
    add_member(api, w.users["O"], w.ids["g"], r)
    assert assert_ok(api.get(G + "/" + w.ids["g"], token=r.token))["id"] == w.ids["g"]
