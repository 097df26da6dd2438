"""One body field under two spellings (`title`/`name`, `receiverId`/
`receiver_id`, `display_name`/`displayName`, ...).

Requests accept the seeds' spellings of a field (DESIGN.md section 3).
When a body carries more than one, they must say the same thing: a second
spelling with another value - or another JSON type - is a 400
VALIDATION_ERROR naming it, never silently ignored. Equal values are one
field. jsonx_field() (src/core/jsonx.c) resolves every spelling, so the
cases below stand for every route.
"""

import uuid

from conv_util import GROUPS, MESSAGES, create_group, send
from parley_api import assert_error, assert_ok


def refused(r, later, other):
    body = assert_error(r, 400, "VALIDATION_ERROR", message_contains=later)
    assert list(body["error"]["details"]["fields"]) == [later], body
    assert other in body["message"], body
    return body


def test_group_title_and_name(api, make_user):
    owner = make_user()
    t = "Spell " + uuid.uuid4().hex[:8]
    # A wrong type under the second spelling is no longer ignored.
    refused(api.post(GROUPS, json={"title": t, "name": 5}, token=owner.token), "name", "title")
    refused(api.post(GROUPS, json={"title": t, "name": t + "x"}, token=owner.token),
            "name", "title")
    # ... nor under the first.
    refused(api.post(GROUPS, json={"title": None, "name": t}, token=owner.token), "name", "title")
    g = assert_ok(api.post(GROUPS, json={"title": t, "name": t}, token=owner.token), 201)
    assert g["title"] == t
    # Three spellings: the third counts too; settings in two places agree.
    refused(api.patch("%s/%s" % (GROUPS, g["id"]), token=owner.token,
                      json={"cover_url": "/a.png", "coverUrl": "/b.png"}), "coverUrl", "cover_url")
    body = assert_error(api.patch("%s/%s" % (GROUPS, g["id"]), token=owner.token,
                                  json={"allowInvites": True,
                                        "settings": {"allowInvites": False}}),
                        400, "VALIDATION_ERROR", message_contains="allowInvites")
    assert "settings.allowInvites" in body["message"], body
    refused(api.patch("%s/%s" % (GROUPS, g["id"]), token=owner.token,
                      json={"settings": {"allowInvites": True, "allow_invites": "no"}}),
            "allow_invites", "allowInvites")
    got = assert_ok(api.get("%s/%s" % (GROUPS, g["id"]), token=owner.token))
    assert got.get("cover") is None and got["title"] == t


def test_message_target_spellings(api, make_user, db):
    a, b, c = make_user(), make_user(), make_user()
    r = api.post(MESSAGES, token=a.token,
                 json={"receiverId": b.id, "receiver_id": c.id, "content": "which one?"})
    refused(r, "receiver_id", "receiverId")
    r = api.post(MESSAGES, token=a.token,
                 json={"receiverId": b.id, "receiver_id": 7, "content": "typed"})
    refused(r, "receiver_id", "receiverId")
    r = api.post(MESSAGES, token=a.token,
                 json={"receiverId": b.id, "type": "TEXT", "messageType": "IMAGE",
                       "content": "t"})
    refused(r, "messageType", "type")
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) AS n FROM messages WHERE sender_id = %s", (a.id,))
        assert cur.fetchone()["n"] == 0
    m = send(api, a, receiverId=b.id, receiver_id=b.id, content="same twice")
    assert m["content"] == "same twice"


def test_profile_and_auth_spellings(api, make_user):
    u = make_user()
    r = api.patch("/api/v1/users/me", token=u.token,
                  json={"displayName": "One", "display_name": "Two"})
    refused(r, "display_name", "displayName")
    r = api.patch("/api/v1/users/me", token=u.token,
                  json={"displayName": "One", "display_name": ["One"]})
    refused(r, "display_name", "displayName")
    assert assert_ok(api.patch("/api/v1/users/me", token=u.token,
                               json={"displayName": "One", "display_name": "One"}))[
        "displayName"] == "One"
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": "a", "refresh_token": 1})
    refused(r, "refresh_token", "refreshToken")


def test_invitation_spellings(api, make_user):
    owner = make_user()
    g = create_group(api, owner)
    url = "%s/%s/invitations" % (GROUPS, g["id"])
    refused(api.post(url, token=owner.token, json={"maxUses": 2, "max_uses": "2"}),
            "max_uses", "maxUses")
    refused(api.post(url, token=owner.token,
                     json={"expireDate": "2099-01-01T00:00:00.000Z", "expiresAt": 5}),
            "expiresAt", "expireDate")
