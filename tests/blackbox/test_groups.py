"""Groups (seed 002 /groups, seed 003 /chatrooms): creation and validation,
details and lists, updates by role, members and roles, leaving and
ownership hand-over, public joins, invitations with their limits and
approvals, and the events every change writes to the outbox.
"""

import concurrent.futures
import datetime
import os
import configparser
import threading
import time
import uuid

import pytest

from conv_util import (GROUPS, add_member, create_group, documented_fields, events,
                       last_event_id, missing_id, send)
from parley_api import assert_error, assert_ok, memcached_connect

CHATROOMS = "/api/v1/chatrooms"


def gurl(gid, tail=""):
    return "%s/%s%s" % (GROUPS, gid, tail)


# ------------------------------------------------------------- creation

def test_create_group_owner_and_defaults(api, make_user, db):
    a = make_user()
    since = last_event_id(db)
    g = create_group(api, a, title="Project Team", description="Discussion",
                     cover="https://example.com/c.jpg", type="private")
    assert g["title"] == g["name"] == "Project Team"
    assert g["type"] == "PRIVATE" and g["isPrivate"] is True
    assert g["role"] == g["userRole"] == "OWNER"
    assert g["ownerId"] == a.id and g["createdBy"] == a.id
    assert g["memberCount"] == 1 and g["maxMembers"] == 1000
    assert g["settings"] == {"allowInvites": True, "messageRetentionDays": None,
                             "autoSummaryEnabled": True, "summaryThreshold": 50}
    assert [m["userId"] for m in g["members"]] == [a.id]
    assert g["members"][0]["role"] == "OWNER" and g["members"][0]["isOnline"] is False
    assert g["unreadCount"] == 0 and g["lastMessage"] is None
    ev = events(db, "group:member:join", a.id, since)
    assert len(ev) == 1 and ev[0]["target_kind"] == "USER"
    assert ev[0]["payload"]["groupId"] == g["id"] and ev[0]["payload"]["role"] == "OWNER"


def test_create_chatroom_seed003_spelling(api, make_user):
    a, b = make_user(), make_user()
    r = api.post(CHATROOMS, token=a.token, json={
        "name": "General", "is_private": False, "max_members": 50,
        "auto_summary_enabled": False, "summary_threshold": 80, "members": [b.id]})
    g = assert_ok(r, 201)
    assert g["title"] == "General" and g["type"] == "PUBLIC" and g["isPrivate"] is False
    assert g["maxMembers"] == 50 and g["memberCount"] == 2
    assert g["settings"]["autoSummaryEnabled"] is False
    assert g["settings"]["summaryThreshold"] == 80
    roles = {m["userId"]: m["role"] for m in g["members"]}
    assert roles == {a.id: "OWNER", b.id: "MEMBER"}
    # The alias reads the same group.
    assert assert_ok(api.get("%s/%s" % (CHATROOMS, g["id"]), token=b.token))["id"] == g["id"]


@pytest.mark.parametrize("body,field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 101}, "title"),
    ({"title": 5}, "title"),
    ({"title": "ok", "description": "d" * 501}, "description"),
    ({"title": "ok", "type": "OPEN"}, "type"),
    ({"title": "ok", "type": "PUBLIC", "isPrivate": True}, "isPrivate"),
    ({"title": "ok", "maxMembers": 1}, "maxMembers"),
    ({"title": "ok", "maxMembers": 10001}, "maxMembers"),
    ({"title": "ok", "cover": "javascript:alert(1)"}, "cover"),
    ({"title": "ok", "cover": "//evil.example/p.png"}, "cover"),
    ({"title": "ok", "cover": "/\\evil.example/p.png"}, "cover"),
    ({"title": "ok", "cover": "/media\\p.png"}, "cover"),
    ({"title": "ok", "cover": "https://example.com/p\\q.png"}, "cover"),
    ({"title": "ok", "cover": "/media/p\u0085.png"}, "cover"),
    ({"title": "ok", "cover": "/media/p\u009b.png"}, "cover"),
    ({"title": "ok", "settings": {"summaryThreshold": "many"}}, "summaryThreshold"),
    ({"title": "ok", "settings": []}, "settings"),
    ({"title": "ok", "members": ["not-an-id"]}, "members"),
])
def test_create_group_validation(api, make_user, body, field):
    a = make_user()
    body = assert_error(api.post(GROUPS, json=body, token=a.token), 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]["fields"]


def test_cover_must_stay_on_site_or_be_http(api, make_user, db):
    a = make_user()
    g = create_group(api, a, cover="/media/c.png")
    assert g["cover"] == "/media/c.png"
    for bad in ("/\\evil.example/p.png", "/media\\p.png", "/media/p\u0085.png"):
        body = assert_error(api.patch(gurl(g["id"]), json={"cover": bad}, token=a.token), 400,
                            "VALIDATION_ERROR")
        assert "cover" in body["error"]["details"]["fields"]
        assert_error(api.post(GROUPS, json={"title": "evil", "cover": bad}, token=a.token), 400,
                     "VALIDATION_ERROR")
    assert assert_ok(api.get(gurl(g["id"]), token=a.token))["cover"] == "/media/c.png"
    assert count_where(db, "conversations", "created_by", a.id) == 1


def test_create_group_limits_are_characters(api, make_user):
    a = make_user()
    g = create_group(api, a, title="\u00e9" * 100, description="\u4e2d" * 500)
    assert len(g["title"]) == 100


def test_create_group_unknown_member(api, make_user):
    a = make_user()
    assert_error(api.post(GROUPS, json={"title": "x", "members": [missing_id()]}, token=a.token),
                 404, "NOT_FOUND")


def test_create_requires_auth_and_json(api, make_user):
    a = make_user()
    assert_error(api.post(GROUPS, json={"title": "x"}), 401, "UNAUTHORIZED")
    assert_error(api.post(GROUPS, data="title=x", token=a.token,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "UNSUPPORTED_MEDIA_TYPE")


# ------------------------------------------------------ reading groups

def test_get_group_members_and_presence(api, make_user):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.read(os.environ.get("PARLEY_CONFIG", ""))
    prefix = cp.get("memcached", "prefix", fallback="parley:")
    with memcached_connect() as s:
        key = prefix + "presence:" + b.id
        s.sendall(("set %s 0 60 1\r\n1\r\n" % key).encode())
        assert s.recv(100).startswith(b"STORED")
    d = assert_ok(api.get(gurl(g["id"]), token=a.token))
    members = {m["userId"]: m for m in d["members"]}
    assert members[b.id]["isOnline"] is True and members[a.id]["isOnline"] is False
    assert members[b.id]["role"] == "MEMBER" and members[b.id]["joinedAt"]
    assert members[b.id]["username"] == b.username
    assert d["userRole"] == "OWNER"
    page = api.get(gurl(g["id"], "/members"), token=b.token, params={"limit": 1})
    assert len(assert_ok(page)) == 1 and page.parley_json["pagination"]["total"] == 2
    assert page.headers["X-Pagination-Total"] == "2"


def test_member_pages_in_role_order_join_only_their_rows(api, make_user, db):
    """Members are listed by role (OWNER, ADMIN, MODERATOR, MEMBER), then
    join time. A page comes off ix_members_order (schema 009) and joins
    only its own users: before, the users of every row up to the page's
    end were joined (8-15 ms a page for 5,000 members), and this test read
    1,205 and 3,006 index keys for pages 12 and 31; now about 200."""
    a = make_user()
    g = create_group(api, a)
    with db.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE many (id UUID PRIMARY KEY, n INT)")
        cur.execute("INSERT INTO many SELECT UUID(), seq FROM seq_1_to_3000")
        cur.execute("INSERT INTO users (id, username) SELECT id, CONCAT('mo', n, '_', %s)"
                    " FROM many", (uuid.uuid4().hex[:8],))
        cur.execute("INSERT INTO members (conversation_id, user_id, role, joined_at)"
                    " SELECT %s, id, ELT(1 + n %% 3, 'MEMBER', 'ADMIN', 'MODERATOR'),"
                    " NOW(3) - INTERVAL n SECOND FROM many", (g["id"],))
        cur.execute("DROP TEMPORARY TABLE many")

    def keys_read():
        with db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name = 'Handler_read_key'")
            return int(cur.fetchone()["Value"])

    seen = []
    for page in (1, 2, 12, 31):
        before = keys_read()
        r = api.get(gurl(g["id"], "/members"), token=a.token,
                    params={"limit": 100, "page": page})
        read = keys_read() - before
        items = assert_ok(r)
        assert r.parley_json["pagination"]["total"] == 3001
        assert read < 400, (page, read)
        seen.append(items)
    order = {"OWNER": 0, "ADMIN": 1, "MODERATOR": 2, "MEMBER": 3}
    first = seen[0]
    assert first[0]["userId"] == a.id and first[0]["role"] == "OWNER"
    assert [m["role"] for m in first[1:]] == ["ADMIN"] * 99
    keys = [(order[m["role"]], m["joinedAt"]) for p in seen[:2] for m in p]
    assert keys == sorted(keys)
    assert [m["role"] for m in seen[2]] == ["MODERATOR"] * 100
    assert len(seen[3]) == 1 and seen[3][0]["role"] == "MEMBER"


def test_non_member_gets_same_404(api, make_user):
    a, c = make_user(), make_user()
    g = create_group(api, a)
    r1 = assert_error(api.get(gurl(g["id"]), token=c.token), 404, "NOT_FOUND")
    r2 = assert_error(api.get(gurl(missing_id()), token=c.token), 404, "NOT_FOUND")
    r3 = assert_error(api.get(gurl("not-a-uuid"), token=c.token), 404, "NOT_FOUND")
    assert r1 == r2 == r3


def test_list_my_groups(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g1 = create_group(api, a, members=[b], title="Alpha")
    g2 = create_group(api, b, title="Beta")
    create_group(api, c, title="Gamma")
    send(api, a, groupId=g1["id"], content="hello from a")
    r = api.get(GROUPS, token=b.token)
    items = assert_ok(r)
    assert [g["id"] for g in items] == [g1["id"], g2["id"]]  # last activity first
    assert items[0]["role"] == "MEMBER" and items[1]["role"] == "OWNER"
    assert items[0]["unreadCount"] == 1 and items[0]["memberCount"] == 2
    assert items[0]["lastMessage"]["content"] == "hello from a"
    assert r.parley_json["pagination"]["total"] == 2
    assert r.headers["X-Pagination-Total"] == "2"
    found = assert_ok(api.get(CHATROOMS, token=b.token, params={"search": "alp"}))
    assert [g["id"] for g in found] == [g1["id"]]


# -------------------------------------------------------------- updates

def test_update_by_role(api, make_user, db):
    a, mod, mem = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[mem])
    add_member(api, a, g["id"], mod, "MODERATOR")
    since = last_event_id(db)
    d = assert_ok(api.patch(gurl(g["id"]), json={"title": "Renamed", "settings": {
        "allowInvites": False}}, token=mod.token))
    assert d["title"] == "Renamed" and d["settings"]["allowInvites"] is False
    assert d["settings"]["summaryThreshold"] == 50  # untouched keys stay
    ev = events(db, "group:update", g["id"], since)
    assert len(ev) == 1 and ev[0]["payload"]["title"] == "Renamed"
    assert "role" not in ev[0]["payload"]
    assert_error(api.patch(gurl(g["id"]), json={"title": "No"}, token=mem.token),
                 403, "FORBIDDEN")
    d = assert_ok(api.put("%s/%s" % (CHATROOMS, g["id"]), json={"name": "Via PUT",
                                                               "is_private": False},
                          token=a.token))
    assert d["title"] == "Via PUT" and d["type"] == "PUBLIC"
    assert_error(api.patch(gurl(g["id"]), json={"maxMembers": 2}, token=a.token), 400,
                 "VALIDATION_ERROR")


def test_delete_owner_only(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    assert_error(api.delete(gurl(g["id"]), token=b.token), 403, "CHATROOM_OWNER_REQUIRED")
    since = last_event_id(db)
    assert assert_ok(api.delete(gurl(g["id"]), token=a.token)) is None
    ev = events(db, "group:delete", since=since)
    assert {e["target_id"] for e in ev} == {a.id, b.id}
    assert all(e["target_kind"] == "USER" for e in ev)
    assert_error(api.get(gurl(g["id"]), token=a.token), 404, "NOT_FOUND")
    assert_error(api.post("/api/v1/messages", json={"groupId": g["id"], "content": "x"},
                          token=b.token), 404, "NOT_FOUND")
    assert g["id"] not in [x["id"] for x in assert_ok(api.get(GROUPS, token=b.token))]


# -------------------------------------------------------------- members

def test_add_member_rules(api, make_user, db):
    a, adm, b, c, d = (make_user() for _ in range(5))
    g = create_group(api, a)
    since = last_event_id(db)
    m = add_member(api, a, g["id"], adm, "ADMIN")
    assert m["userId"] == adm.id and m["role"] == "ADMIN"
    ev = events(db, "group:member:join", since=since)
    assert {(e["target_kind"], e["target_id"]) for e in ev} == {
        ("CONVERSATION", g["id"]), ("USER", adm.id)}
    assert ev[0]["payload"]["user"]["username"] == adm.username
    assert ev[0]["payload"]["addedBy"] == a.id
    # An admin adds members and moderators, not admins.
    add_member(api, adm, g["id"], b)
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": c.id, "role": "ADMIN"},
                          token=adm.token), 403, "FORBIDDEN")
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": c.id},
                          token=b.token), 403, "FORBIDDEN")
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": b.id},
                          token=a.token), 409, "CONFLICT")
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": missing_id()},
                          token=a.token), 404, "NOT_FOUND")
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": c.id, "role": "OWNER"},
                          token=a.token), 400, "VALIDATION_ERROR")
    assert_error(api.post(gurl(g["id"], "/members"), json={"role": "MEMBER"},
                          token=a.token), 400, "VALIDATION_ERROR")
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": c.id},
                          token=d.token), 404, "NOT_FOUND")


def test_max_members_enforced(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a, maxMembers=2, type="PUBLIC")
    add_member(api, a, g["id"], b)
    assert_error(api.post(gurl(g["id"], "/members"), json={"userId": c.id}, token=a.token),
                 409, "CHATROOM_FULL")
    assert_error(api.post(gurl(g["id"], "/join"), token=c.token), 409, "CHATROOM_FULL")
    assert_error(api.post(GROUPS, json={"title": "x", "maxMembers": 2,
                                        "members": [b.id, c.id]}, token=a.token),
                 400, "VALIDATION_ERROR")


def test_remove_member_and_roles(api, make_user, db):
    a, adm, b, c = (make_user() for _ in range(4))
    g = create_group(api, a, members=[b, c])
    add_member(api, a, g["id"], adm, "ADMIN")
    assert_error(api.delete(gurl(g["id"], "/members/" + c.id), token=b.token), 403,
                 "FORBIDDEN")
    assert_error(api.delete(gurl(g["id"], "/members/" + a.id), token=adm.token), 403,
                 "FORBIDDEN")
    since = last_event_id(db)
    assert assert_ok(api.delete(gurl(g["id"], "/members/" + c.id), token=adm.token)) is None
    ev = events(db, "group:member:leave", since=since)
    assert {(e["target_kind"], e["target_id"]) for e in ev} == {
        ("CONVERSATION", g["id"]), ("USER", c.id)}
    assert ev[0]["payload"]["reason"] == "removed" and ev[0]["payload"]["removedBy"] == adm.id
    assert_error(api.get(gurl(g["id"]), token=c.token), 404, "NOT_FOUND")
    assert_error(api.delete(gurl(g["id"], "/members/" + c.id), token=a.token), 404,
                 "NOT_FOUND")
    # Roles: admins manage lower roles; only the owner grants ADMIN.
    m = assert_ok(api.patch(gurl(g["id"], "/members/" + b.id), json={"role": "moderator"},
                            token=adm.token))
    assert m["role"] == "MODERATOR"
    assert_error(api.patch(gurl(g["id"], "/members/" + b.id), json={"role": "ADMIN"},
                           token=adm.token), 403, "FORBIDDEN")
    assert_error(api.patch(gurl(g["id"], "/members/" + b.id), json={"role": "KING"},
                           token=a.token), 400, "VALIDATION_ERROR")
    assert_error(api.patch(gurl(g["id"], "/members/" + a.id), json={"role": "MEMBER"},
                           token=a.token), 400, "VALIDATION_ERROR")
    # Handing over ownership.
    since = last_event_id(db)
    m = assert_ok(api.patch(gurl(g["id"], "/members/" + b.id), json={"role": "OWNER"},
                            token=a.token))
    assert m["role"] == "OWNER"
    d = assert_ok(api.get(gurl(g["id"]), token=a.token))
    assert d["userRole"] == "ADMIN" and d["ownerId"] == b.id
    ev = events(db, "group:member:update", g["id"], since)
    assert {(e["payload"]["userId"], e["payload"]["role"]) for e in ev} == {
        (b.id, "OWNER"), (a.id, "ADMIN")}


def test_leave_hands_over_ownership(api, make_user, db):
    a, b, adm, c = (make_user() for _ in range(4))
    g = create_group(api, a, members=[b])
    add_member(api, a, g["id"], adm, "ADMIN")
    add_member(api, a, g["id"], c)
    since = last_event_id(db)
    d = assert_ok(api.post(gurl(g["id"], "/leave"), token=a.token))
    assert d == {"newOwnerId": adm.id}   # the oldest admin, not the oldest member
    assert assert_ok(api.get(gurl(g["id"]), token=adm.token))["userRole"] == "OWNER"
    ev = events(db, "group:member:leave", since=since)
    assert {e["target_id"] for e in ev} == {g["id"], a.id}
    assert ev[0]["payload"]["reason"] == "left" and ev[0]["payload"]["newOwnerId"] == adm.id
    assert_error(api.post(gurl(g["id"], "/leave"), token=a.token), 404, "NOT_FOUND")
    # Without admins the oldest member inherits.
    assert assert_ok(api.post("%s/%s/leave" % (CHATROOMS, g["id"]), token=adm.token)) == {
        "newOwnerId": b.id}
    # A member leaving hands nothing over; the last one deletes the group.
    assert assert_ok(api.delete(gurl(g["id"], "/members/" + c.id), token=c.token)) is None
    since = last_event_id(db)
    assert assert_ok(api.post(gurl(g["id"], "/leave"), token=b.token)) == {"newOwnerId": None}
    assert events(db, "group:delete", b.id, since)
    assert_error(api.get(gurl(g["id"]), token=b.token), 404, "NOT_FOUND")


def test_hand_over_on_leaving_announces_the_previous_role(api, make_user, db):
    """group:member:update for the member who inherits the group said
    previousRole null, unlike a hand-over by role change: clients keeping
    a member list by role could not tell whose entry moved."""
    a, b, adm = (make_user() for _ in range(3))
    g = create_group(api, a, members=[b])
    add_member(api, a, g["id"], adm, "ADMIN")
    for leaver, heir, was in ((a, adm, "ADMIN"), (adm, b, "MEMBER")):
        since = last_event_id(db)
        assert assert_ok(api.post(gurl(g["id"], "/leave"), token=leaver.token)) == {
            "newOwnerId": heir.id}
        ev = events(db, "group:member:update", g["id"], since)
        assert [e["payload"] for e in ev] == [{
            "groupId": g["id"], "conversationId": g["id"], "userId": heir.id,
            "role": "OWNER", "previousRole": was, "changedBy": leaver.id}]


def test_deleted_account_leaves_its_groups(api, make_user, db):
    a, adm, b, c = (make_user() for _ in range(4))
    owned = create_group(api, a, members=[b])
    add_member(api, a, owned["id"], adm, "ADMIN")
    alone = create_group(api, a)
    joined = create_group(api, c, members=[a, b])
    dm = send(api, a, receiverId=b.id)
    since = last_event_id(db)
    assert assert_ok(api.delete("/api/v1/users/me", token=a.token)) is None
    # The owned group went to its oldest admin, as on leaving.
    d = assert_ok(api.get(gurl(owned["id"]), token=adm.token))
    assert d["ownerId"] == adm.id and d["userRole"] == "OWNER"
    assert {m["userId"] for m in d["members"]} == {adm.id, b.id} and d["memberCount"] == 2
    ev = events(db, "group:member:leave", owned["id"], since)
    assert len(ev) == 1 and ev[0]["payload"]["userId"] == a.id
    assert ev[0]["payload"]["reason"] == "left" and ev[0]["payload"]["newOwnerId"] == adm.id
    ev = events(db, "group:member:update", owned["id"], since)
    assert [(e["payload"]["userId"], e["payload"]["role"]) for e in ev] == [(adm.id, "OWNER")]
    # ... so the new owner can run it, down to deleting it.
    assert_ok(api.patch(gurl(owned["id"], "/members/" + b.id), json={"role": "ADMIN"},
                        token=adm.token))
    # The group it was alone in is deleted, as when the last member leaves.
    assert events(db, "group:delete", a.id, since)
    with db.cursor() as cur:
        cur.execute("SELECT deleted_at FROM conversations WHERE id = %s", (alone["id"],))
        assert cur.fetchone()["deleted_at"] is not None
    # A group it merely belonged to keeps its owner and loses one member.
    d = assert_ok(api.get(gurl(joined["id"]), token=c.token))
    assert d["ownerId"] == c.id and {m["userId"] for m in d["members"]} == {c.id, b.id}
    assert len(events(db, "group:member:leave", joined["id"], since)) == 1
    assert count_where(db, "members", "user_id", a.id) == 1   # the DM stays
    assert dm["conversationId"] in [x["id"] for x in assert_ok(
        api.get("/api/v1/conversations", token=b.token))]


def test_deleted_or_inactive_member_never_becomes_owner(api, make_user, db):
    """Accounts deleted before their groups were left (older data), or
    deactivated, are passed over on hand-over and cannot be given a role."""
    a, gone, off, b = (make_user() for _ in range(4))
    g = create_group(api, a)
    add_member(api, a, g["id"], gone, "ADMIN")
    add_member(api, a, g["id"], off, "ADMIN")
    add_member(api, a, g["id"], b)
    with db.cursor() as cur:
        cur.execute("UPDATE users SET is_active = 0, deleted_at = NOW(3) WHERE id = %s",
                    (gone.id,))
        cur.execute("UPDATE users SET is_active = 0 WHERE id = %s", (off.id,))
    since = last_event_id(db)
    for u in (gone, off):
        for role in ("OWNER", "MODERATOR"):
            assert_error(api.patch(gurl(g["id"], "/members/" + u.id), json={"role": role},
                                   token=a.token), 404, "NOT_FOUND", message_contains="user")
    assert events(db, "group:member:update", g["id"], since) == []
    d = assert_ok(api.get(gurl(g["id"]), token=a.token))
    assert d["ownerId"] == a.id
    assert {m["userId"]: m["role"] for m in d["members"]}[gone.id] == "ADMIN"
    # Leaving skips both admins for the oldest active member.
    assert assert_ok(api.post(gurl(g["id"], "/leave"), token=a.token)) == {"newOwnerId": b.id}
    assert assert_ok(api.get(gurl(g["id"]), token=b.token))["userRole"] == "OWNER"
    ev = events(db, "group:member:leave", g["id"], since)
    assert ev[0]["payload"]["newOwnerId"] == b.id


def delete_the_old_way(db, user, seconds_ago):
    """Account deletion before bb85950: anonymised, memberships kept."""
    with db.cursor() as cur:
        cur.execute("UPDATE users SET username = %s, email = NULL, password_hash = NULL,"
                    " display_name = 'Deleted user', is_active = 0,"
                    " deleted_at = NOW(3) - INTERVAL %s SECOND WHERE id = %s",
                    ("deleted_" + user.id.replace("-", ""), seconds_ago, user.id))


def test_parleyctl_repairs_accounts_deleted_before_leaving(api, make_user, db, parleyctl):
    a, x, adm, b, c = (make_user() for _ in range(5))
    owned = create_group(api, a, members=[b])
    add_member(api, a, owned["id"], adm, "ADMIN")
    alone = create_group(api, a)
    joined = create_group(api, c, members=[a, b])
    both = create_group(api, a, members=[x])          # every member deleted
    dm = send(api, a, receiverId=b.id)
    requested = create_group(api, c)
    inv = assert_ok(api.post(gurl(requested["id"], "/invitations"), token=c.token,
                             json={"requireApproval": True}), 201)
    assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=a.token), 202)
    delete_the_old_way(db, a, 60)
    delete_the_old_way(db, x, 30)
    since = last_event_id(db)

    dry = parleyctl("repair", "deleted-accounts", "--dry-run", check=True).stdout
    assert a.id in dry and x.id in dry and adm.id not in dry
    assert last_event_id(db) == since and count_where(db, "members", "user_id", a.id) == 5

    out = parleyctl("repair", "deleted-accounts", check=True).stdout
    assert "repaired deleted account %s" % a.id in out and x.id in out
    # As deleting the account does now: the owned group goes to its oldest admin ...
    d = assert_ok(api.get(gurl(owned["id"]), token=adm.token))
    assert d["ownerId"] == adm.id and {m["userId"] for m in d["members"]} == {adm.id, b.id}
    ev = events(db, "group:member:leave", owned["id"], since)
    assert [(e["payload"]["userId"], e["payload"]["newOwnerId"]) for e in ev] == [(a.id, adm.id)]
    ev = events(db, "group:member:update", owned["id"], since)
    assert [(e["payload"]["userId"], e["payload"]["role"]) for e in ev] == [(adm.id, "OWNER")]
    # ... a group it was alone in, or with deleted accounts only, is deleted ...
    for g in (alone, both):
        with db.cursor() as cur:
            cur.execute("SELECT deleted_at FROM conversations WHERE id = %s", (g["id"],))
            assert cur.fetchone()["deleted_at"] is not None
    assert {e["target_id"] for e in events(db, "group:delete", since=since)} >= {a.id, x.id}
    # ... a group it merely belonged to keeps its owner, the DM stays, the request goes.
    d = assert_ok(api.get(gurl(joined["id"]), token=c.token))
    assert d["ownerId"] == c.id and {m["userId"] for m in d["members"]} == {c.id, b.id}
    assert count_where(db, "members", "user_id", a.id) == 1
    assert count_where(db, "members", "user_id", x.id) == 0
    assert count_where(db, "join_requests", "user_id", a.id) == 0
    assert dm["conversationId"] in [x["id"] for x in assert_ok(
        api.get("/api/v1/conversations", token=b.token))]
    # Again: nothing left to do.
    since = last_event_id(db)
    again = parleyctl("repair", "deleted-accounts", check=True).stdout
    assert a.id not in again and x.id not in again
    assert last_event_id(db) == since
    assert parleyctl("repair", "bogus").returncode == 2


def test_join_public_group_only(api, make_user, db):
    a, b = make_user(), make_user()
    pub = create_group(api, a, type="PUBLIC")
    priv = create_group(api, a, type="PRIVATE")
    secret = create_group(api, a, type="SECRET")
    since = last_event_id(db)
    d = assert_ok(api.post(gurl(pub["id"], "/join"), token=b.token))
    assert d["userRole"] == "MEMBER" and d["memberCount"] == 2
    assert events(db, "group:member:join", b.id, since)
    assert assert_ok(api.post(gurl(pub["id"], "/join"), token=b.token))["memberCount"] == 2
    for g in (priv, secret):
        assert_error(api.post(gurl(g["id"], "/join"), token=b.token), 404, "NOT_FOUND")
    assert_error(api.post(gurl(missing_id(), "/join"), token=b.token), 404, "NOT_FOUND")


def test_joiner_does_not_inherit_unread_history(api, make_user):
    a, b = make_user(), make_user()
    g = create_group(api, a, type="PUBLIC")
    for i in range(3):
        send(api, a, groupId=g["id"], content="before %d" % i)
    assert assert_ok(api.post(gurl(g["id"], "/join"), token=b.token))["unreadCount"] == 0
    send(api, a, groupId=g["id"], content="after")
    assert assert_ok(api.get(gurl(g["id"]), token=b.token))["unreadCount"] == 1


# ---------------------------------------------------------- invitations

# ------------------------------------------------- Idempotency-Key (DESIGN §2)

def count_where(db, table, column, value):
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM %s WHERE %s = %%s" % (table, column), (value,))
        return c.fetchone()["n"]


def racing(n, fn):
    """fn(i) from n threads released together; the results in order."""
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


@pytest.mark.parametrize("path", [GROUPS, CHATROOMS])
def test_group_create_idempotency_key(api, make_user, db, path):
    a, b = make_user(), make_user()
    key = {"Idempotency-Key": "grp-" + uuid.uuid4().hex}
    body = {"title": "Once only " + key["Idempotency-Key"]}
    since = last_event_id(db)
    g1 = assert_ok(api.post(path, token=a.token, headers=key, json=body), 201)
    # The group changed in between: the retry answers with it as it is now.
    assert_ok(api.patch(gurl(g1["id"]), token=a.token, json={"description": "later"}))
    g2 = assert_ok(api.post(path, token=a.token, headers=key, json=body), 201)
    assert g2["id"] == g1["id"] and g2["description"] == "later"
    assert count_where(db, "conversations", "title", body["title"]) == 1
    assert len(events(db, "group:member:join", a.id, since)) == 1
    # Keys belong to their user: b's identical request makes b's own group.
    g3 = assert_ok(api.post(path, token=b.token, headers=key, json=body), 201)
    assert g3["id"] != g1["id"] and g3["ownerId"] == b.id
    # Without the header every request creates.
    assert assert_ok(api.post(path, token=a.token, json=body), 201)["id"] != g1["id"]
    for bad in ("has space", "x" * 129, "caf\u00e9"):
        assert_error(api.post(path, token=a.token, json=body,
                              headers={"Idempotency-Key": bad.encode("utf-8")}),
                     400, "VALIDATION_ERROR")


def test_idempotency_keys_are_compared_exactly(api, make_user, db):
    """Keys differing only in letter case are different keys (the column
    collation folded case, so the second request got the first's group)."""
    a = make_user()
    g = create_group(api, a)
    key = "Key-" + uuid.uuid4().hex
    g1 = assert_ok(api.post(GROUPS, token=a.token, headers={"Idempotency-Key": key},
                            json={"title": "one"}), 201)
    g2 = assert_ok(api.post(GROUPS, token=a.token, headers={"Idempotency-Key": key.lower()},
                            json={"title": "two"}), 201)
    assert g1["id"] != g2["id"] and g2["title"] == "two"
    i1 = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                            headers={"Idempotency-Key": key}, json={}), 201)
    i2 = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                            headers={"Idempotency-Key": key.upper()}, json={}), 201)
    assert i1["id"] != i2["id"]
    assert count_where(db, "invitations", "conversation_id", g["id"]) == 2


def test_racing_group_creates_make_one_group(api, make_user, db):
    a = make_user()
    key = {"Idempotency-Key": "race-" + uuid.uuid4().hex}
    title = "Race " + key["Idempotency-Key"]
    rs = racing(8, lambda i: api.post(GROUPS, token=a.token, headers=key, json={"title": title}))
    assert len({assert_ok(r, 201)["id"] for r in rs}) == 1
    assert count_where(db, "conversations", "title", title) == 1


def test_invitation_idempotency_key(api, make_user, db):
    a, b = make_user(), make_user()
    g, other = create_group(api, a), create_group(api, a)
    key = {"Idempotency-Key": "inv-" + uuid.uuid4().hex}
    inv = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token, headers=key,
                             json={"maxUses": 3}), 201)
    again = assert_ok(api.post(gurl(g["id"], "/invite"), token=a.token, headers=key,
                               json={"maxUses": 3}), 201)
    assert again["id"] == inv["id"] and again["code"] == inv["code"]
    assert count_where(db, "invitations", "conversation_id", g["id"]) == 1
    # The same key for another group's invitation is a mistake, not a retry.
    assert_error(api.post(gurl(other["id"], "/invitations"), token=a.token, headers=key,
                          json={}), 409, "CONFLICT")
    assert count_where(db, "invitations", "conversation_id", other["id"]) == 0
    # Racing retries make one invitation.
    key2 = {"Idempotency-Key": "inv-race-" + uuid.uuid4().hex}
    rs = racing(6, lambda i: api.post(gurl(g["id"], "/invitations"), token=a.token,
                                      headers=key2, json={}))
    assert len({assert_ok(r, 201)["id"] for r in rs}) == 1
    assert count_where(db, "invitations", "conversation_id", g["id"]) == 2
    # A non-member replaying someone else's key gets nothing but the 404.
    assert_error(api.post(gurl(g["id"], "/invitations"), token=b.token, headers=key,
                          json={}), 404, "NOT_FOUND")


def test_invitation_lifecycle(api, make_user, db, parley_env):
    a, b, c, d = (make_user() for _ in range(4))
    g = create_group(api, a)
    inv = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                             json={"maxUses": 2, "expiresInHours": 48, "title": "For friends"}),
                    201)
    assert inv["maxUses"] == 2 and inv["currentUses"] == 0 and inv["isActive"] is True
    assert inv["inviteCode"] == inv["code"] and len(inv["code"]) == 16
    assert inv["inviteUrl"] == parley_env["PARLEY_URL"] + "/join/" + inv["code"]
    exp = datetime.datetime.fromisoformat(inv["expiresAt"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=47) < exp - now < datetime.timedelta(hours=49)
    since = last_event_id(db)
    joined = assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token))
    assert joined["id"] == g["id"] and joined["userRole"] == "MEMBER"
    ev = events(db, "group:member:join", since=since)
    assert {e["target_id"] for e in ev} == {g["id"], b.id}
    assert ev[0]["payload"]["via"] == "invite"
    # Joining again uses nothing; the seed 003 spelling works too.
    assert assert_ok(api.post("%s/join/%s" % (CHATROOMS, inv["code"]), token=b.token))["id"] \
        == g["id"]
    assert_ok(api.post("%s/join/%s" % (CHATROOMS, inv["code"]), token=c.token))
    listed = assert_ok(api.get(gurl(g["id"], "/invitations"), token=a.token))
    assert listed[0]["id"] == inv["id"] and listed[0]["currentUses"] == 2
    assert listed[0]["isActive"] is False
    # Used up.
    assert_error(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=d.token), 400,
                 "CHATROOM_INVITE_INVALID")


def test_invalid_codes_look_alike(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a)
    revoked = assert_ok(api.post(gurl(g["id"], "/invite"), token=a.token), 201)
    r = assert_ok(api.delete(gurl(g["id"], "/invitations/" + revoked["id"]), token=a.token))
    assert r["revokedAt"] and r["isActive"] is False
    expired = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token), 201)
    with db.cursor() as cur:
        cur.execute("UPDATE invitations SET expires_at = NOW(3) - INTERVAL 1 SECOND"
                    " WHERE id = %s", (expired["id"],))
    deleted_group = create_group(api, a)
    gone = assert_ok(api.post(gurl(deleted_group["id"], "/invitations"), token=a.token), 201)
    assert_ok(api.delete(gurl(deleted_group["id"]), token=a.token))
    bodies = [assert_error(api.post("%s/join/%s" % (GROUPS, code), token=b.token), 400,
                           "CHATROOM_INVITE_INVALID")
              for code in (revoked["code"], expired["code"], gone["code"], "nosuchcode123",
                           "bad code!")]
    assert all(x == bodies[0] for x in bodies)
    assert_error(api.get(gurl(g["id"]), token=b.token), 404, "NOT_FOUND")


def test_invitation_input_and_permissions(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b])
    for body in ({"maxUses": 0}, {"maxUses": "two"}, {"expiresInHours": 0},
                 {"expiresInHours": 24, "expireDate": "2030-01-01T00:00:00Z"},
                 {"expireDate": "2000-01-01T00:00:00Z"}, {"expireDate": "soon"},
                 {"requireApproval": "yes"}):
        assert_error(api.post(gurl(g["id"], "/invitations"), json=body, token=a.token), 400,
                     "VALIDATION_ERROR")
    forever = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                                 json={"maxUses": None, "expiresInHours": None}), 201)
    assert forever["maxUses"] is None and forever["expiresAt"] is None
    # Members may invite while allowInvites is on, and see only their own.
    mine = assert_ok(api.post(gurl(g["id"], "/invitations"), token=b.token), 201)
    assert [i["id"] for i in assert_ok(api.get(gurl(g["id"], "/invitations"),
                                               token=b.token))] == [mine["id"]]
    assert_error(api.delete(gurl(g["id"], "/invitations/" + forever["id"]), token=b.token),
                 403, "FORBIDDEN")
    assert_ok(api.patch(gurl(g["id"]), json={"settings": {"allowInvites": False}},
                        token=a.token))
    assert_error(api.post(gurl(g["id"], "/invitations"), token=b.token), 403, "FORBIDDEN")
    # Non-members: 404 on every invitation endpoint.
    assert_error(api.post(gurl(g["id"], "/invitations"), token=c.token), 404, "NOT_FOUND")
    assert_error(api.get(gurl(g["id"], "/invitations"), token=c.token), 404, "NOT_FOUND")
    assert_error(api.delete(gurl(g["id"], "/invitations/" + mine["id"]), token=c.token), 404,
                 "NOT_FOUND")
    assert_error(api.delete(gurl(g["id"], "/invitations/" + missing_id()), token=a.token), 404,
                 "NOT_FOUND")


def test_invitation_limits(api, make_user):
    """Seed 000: at most 30 invitations per group per day, and a cap on
    active ones ([groups] max_active_invites, default 20)."""
    a = make_user()
    g = create_group(api, a)
    made = [assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token), 201)
            for _ in range(20)]
    assert_error(api.post(gurl(g["id"], "/invitations"), token=a.token), 403,
                 "MAX_INVITES_REACHED")
    for inv in made:
        assert_ok(api.delete(gurl(g["id"], "/invitations/" + inv["id"]), token=a.token))
    for _ in range(10):
        assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token), 201)
    body = assert_error(api.post(gurl(g["id"], "/invitations"), token=a.token), 429,
                        "RATE_LIMIT_EXCEEDED")
    assert 0 < body["retryAfter"] <= 86400


def invitation_uses(api, owner, gid, inv):
    """(currentUses, pendingRequests, isActive) of inv, as its group lists it."""
    listed = assert_ok(api.get(gurl(gid, "/invitations"), token=owner.token))
    i = [i for i in listed if i["id"] == inv["id"]][0]
    return i["currentUses"], i["pendingRequests"], i["isActive"]


def test_repeated_join_request_uses_no_slot(api, make_user, db):
    a, b, c, d = (make_user() for _ in range(4))
    g = create_group(api, a)
    inv = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                             json={"requireApproval": True, "maxUses": 2}), 201)
    assert inv["currentUses"] == 0 and inv["pendingRequests"] == 0
    join = "%s/join/%s" % (GROUPS, inv["code"])
    for _ in range(3):
        p = assert_ok(api.post(join, token=b.token), 202)
        assert p["status"] == "PENDING" and p["userId"] == b.id
        assert p["groupId"] == g["id"] and p["invitationId"] == inv["id"]
    # A pending request holds a slot; nobody got in yet.
    assert invitation_uses(api, a, g["id"], inv) == (0, 1, True)
    assert_ok(api.post(join, token=c.token), 202)
    assert invitation_uses(api, a, g["id"], inv) == (0, 2, False)
    # Used up: a new request is refused, a pending one is answered again.
    assert_error(api.post(join, token=d.token), 400, "CHATROOM_INVITE_INVALID")
    assert assert_ok(api.post(join, token=b.token), 202)["status"] == "PENDING"
    assert invitation_uses(api, a, g["id"], inv) == (0, 2, False)
    reqs = assert_ok(api.get(gurl(g["id"], "/join-requests"), token=a.token))
    assert [r["userId"] for r in reqs] == [b.id, c.id]


def test_a_repeated_join_request_answers_the_pending_one(api, make_user):
    """Asking again through another code answered a request that does not
    exist: that code's invitationId (whose revocation would not touch the
    real request, and which holds no use) and the time of asking again.
    The answer is the request that is pending, as the admins list it."""
    a, b = make_user(), make_user()
    g = create_group(api, a)
    first = approval_invite(api, a, g["id"], maxUses=2)
    second = approval_invite(api, a, g["id"], maxUses=2)
    p1 = assert_ok(api.post("%s/join/%s" % (GROUPS, first["code"]), token=b.token), 202)
    listed = [r for r in assert_ok(api.get(gurl(g["id"], "/join-requests"), token=a.token))]
    assert [(r["invitationId"], r["createdAt"]) for r in listed] == [
        (first["id"], p1["createdAt"])]
    time.sleep(0.05)
    for inv in (second, first):
        p = assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token), 202)
        assert p == p1
    assert invitation_uses(api, a, g["id"], first) == (0, 1, True)
    assert invitation_uses(api, a, g["id"], second) == (0, 0, True)
    # It is the first invitation's request: revoking that one ends it.
    assert_ok(api.delete(gurl(g["id"], "/invitations/" + first["id"]), token=a.token))
    assert pending(api, a, g["id"]) == []


def test_a_rejected_join_request_gives_its_use_back(api, make_user):
    a, b, c = (make_user() for _ in range(3))
    g = create_group(api, a)
    inv = approval_invite(api, a, g["id"], maxUses=1)
    request_join(api, b, inv)
    assert invitation_uses(api, a, g["id"], inv) == (0, 1, False)
    assert_error(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=c.token), 400,
                 "CHATROOM_INVITE_INVALID")
    assert_ok(api.delete(gurl(g["id"], "/join-requests/" + b.id), token=a.token))
    assert invitation_uses(api, a, g["id"], inv) == (0, 0, True)
    # The one use is still there for the next user, and approval spends it.
    request_join(api, c, inv)
    assert assert_ok(approve(api, a, g["id"], c))["userId"] == c.id
    assert invitation_uses(api, a, g["id"], inv) == (1, 0, False)
    assert_error(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token), 400,
                 "CHATROOM_INVITE_INVALID")


def test_a_dropped_join_request_gives_its_use_back(api, make_user):
    a, b, c, d, e = (make_user() for _ in range(5))
    g = create_group(api, a)
    inv = approval_invite(api, a, g["id"], maxUses=2)
    request_join(api, b, inv)
    request_join(api, c, inv)
    assert invitation_uses(api, a, g["id"], inv) == (0, 2, False)
    # b deletes the account; c gets in another way, not with this invitation.
    assert_ok(api.delete("/api/v1/users/me", token=b.token))
    add_member(api, a, g["id"], c)
    assert invitation_uses(api, a, g["id"], inv) == (0, 0, True)
    for u in (d, e):
        request_join(api, u, inv)
        assert assert_ok(approve(api, a, g["id"], u))["userId"] == u.id
    assert invitation_uses(api, a, g["id"], inv) == (2, 0, False)


def test_invitation_requiring_approval(api, make_user, db):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a)
    inv = assert_ok(api.post(gurl(g["id"], "/invitations"), token=a.token,
                             json={"requireApproval": True, "maxUses": 5}), 201)
    p = assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token), 202)
    assert p["status"] == "PENDING" and p["groupId"] == g["id"]
    assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=c.token), 202)
    assert_error(api.get(gurl(g["id"]), token=b.token), 404, "NOT_FOUND")
    reqs = assert_ok(api.get(gurl(g["id"], "/join-requests"), token=a.token))
    assert [r["userId"] for r in reqs] == [b.id, c.id]
    assert reqs[0]["user"]["username"] == b.username
    since = last_event_id(db)
    m = assert_ok(api.post(gurl(g["id"], "/join-requests/%s/approve" % b.id), token=a.token))
    assert m["userId"] == b.id and m["role"] == "MEMBER"
    assert events(db, "group:member:join", b.id, since)
    assert assert_ok(api.delete(gurl(g["id"], "/join-requests/" + c.id), token=a.token)) is None
    assert_error(api.get(gurl(g["id"]), token=c.token), 404, "NOT_FOUND")
    assert assert_ok(api.get(gurl(g["id"], "/join-requests"), token=a.token)) == []
    assert_error(api.get(gurl(g["id"], "/join-requests"), token=b.token), 403, "FORBIDDEN")
    assert_error(api.delete(gurl(g["id"], "/join-requests/" + c.id), token=a.token), 404,
                 "NOT_FOUND")


def approval_invite(api, owner, gid, **body):
    body.setdefault("requireApproval", True)
    body.setdefault("maxUses", 10)
    return assert_ok(api.post(gurl(gid, "/invitations"), token=owner.token, json=body), 201)


def request_join(api, user, inv):
    p = assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=user.token), 202)
    assert p["status"] == "PENDING"


def pending(api, admin, gid):
    return [r["userId"] for r in assert_ok(api.get(gurl(gid, "/join-requests"),
                                                   token=admin.token))]


def approve(api, admin, gid, user):
    return api.post(gurl(gid, "/join-requests/%s/approve" % user.id), token=admin.token)


def test_join_requests_are_announced_to_deciders_and_requester(api, make_user, db):
    """Nothing was written: admins learnt of a request by polling the
    list, and a rejected requester never heard of it."""
    a, adm, mod, mem, b, c = (make_user() for _ in range(6))
    g = create_group(api, a, members=[mem])["id"]
    add_member(api, a, g, adm, "ADMIN")
    add_member(api, a, g, mod, "MODERATOR")
    inv = approval_invite(api, a, g)
    since = last_event_id(db)
    request_join(api, b, inv)
    ev = events(db, "group:join_request", since=since)
    assert sorted((e["target_kind"], e["target_id"]) for e in ev) == sorted(
        [("USER", a.id), ("USER", adm.id)])
    listed = assert_ok(api.get(gurl(g, "/join-requests"), token=a.token))
    assert [e["payload"] for e in ev] == [dict(listed[0], groupId=g, conversationId=g)] * 2
    assert set(ev[0]["payload"]) == documented_fields("group:join_request")
    # Asking again makes no new request and announces none.
    since = last_event_id(db)
    request_join(api, b, inv)
    assert events(db, since=since) == []
    # A rejection reaches the requester only.
    request_join(api, c, inv)
    since = last_event_id(db)
    assert assert_ok(api.delete(gurl(g, "/join-requests/" + b.id), token=adm.token)) is None
    ev = events(db, since=since)
    assert [(e["type"], e["target_kind"], e["target_id"]) for e in ev] == [
        ("group:join_request:rejected", "USER", b.id)]
    p = ev[0]["payload"]
    assert set(p) == documented_fields("group:join_request:rejected")
    assert (p["groupId"], p["conversationId"], p["userId"], p["invitationId"], p["status"]) == (
        g, g, b.id, inv["id"], "REJECTED")
    assert p["rejectedAt"].endswith("Z")
    # An approval reaches the requester as group:member:join.
    since = last_event_id(db)
    assert_ok(approve(api, a, g, c))
    ev = events(db, "group:member:join", since=since)
    assert {(e["target_kind"], e["target_id"]) for e in ev} == {
        ("CONVERSATION", g), ("USER", c.id)}
    assert ev[0]["payload"]["via"] == "approval" and ev[0]["payload"]["userId"] == c.id


def test_revoking_an_invitation_drops_its_join_requests(api, make_user, db):
    a, b, c = (make_user() for _ in range(3))
    g = create_group(api, a)
    inv, other = approval_invite(api, a, g["id"]), approval_invite(api, a, g["id"])
    request_join(api, b, inv)
    request_join(api, c, other)
    assert_ok(api.delete(gurl(g["id"], "/invitations/" + inv["id"]), token=a.token))
    # b's request died with its invitation; c's, through another one, did not.
    assert pending(api, a, g["id"]) == [c.id]
    since = last_event_id(db)
    assert_error(approve(api, a, g["id"], b), 404, "NOT_FOUND", message_contains="request")
    assert_error(api.get(gurl(g["id"]), token=b.token), 404, "NOT_FOUND")
    assert events(db, "group:member:join", b.id, since) == []
    assert assert_ok(approve(api, a, g["id"], c))["userId"] == c.id
    # A fresh code makes a fresh request (and uses that invitation).
    request_join(api, b, other)
    assert pending(api, a, g["id"]) == [b.id]
    assert assert_ok(approve(api, a, g["id"], b))["userId"] == b.id


def test_a_request_made_in_time_outlives_its_invitations_expiry(api, make_user, db):
    a, b, c = (make_user() for _ in range(3))
    g = create_group(api, a)
    inv = approval_invite(api, a, g["id"])
    request_join(api, b, inv)
    with db.cursor() as cur:
        cur.execute("UPDATE invitations SET expires_at = NOW(3) - INTERVAL 1 SECOND"
                    " WHERE id = %s", (inv["id"],))
    # The code no longer admits anyone new ...
    assert_error(api.post("/api/v1/groups/join/" + inv["code"], token=c.token),
                 400, "CHATROOM_INVITE_INVALID")
    # ... but the request made while it was valid still waits and can be approved.
    assert pending(api, a, g["id"]) == [b.id]
    since = last_event_id(db)
    assert assert_ok(approve(api, a, g["id"], b))["userId"] == b.id
    assert_ok(api.get(gurl(g["id"]), token=b.token))
    assert len(events(db, "group:member:join", b.id, since)) > 0
    assert pending(api, a, g["id"]) == []


def test_approval_rechecks_room_and_requester(api, make_user, db):
    a, b, c, d = (make_user() for _ in range(4))
    g = create_group(api, a, maxMembers=3)
    inv = approval_invite(api, a, g["id"])
    for u in (b, c, d):
        request_join(api, u, inv)
    # b joins another way, is removed, and must not come back by the old request.
    add_member(api, a, g["id"], b)
    assert pending(api, a, g["id"]) == [c.id, d.id]
    assert_ok(api.delete(gurl(g["id"], "/members/" + b.id), token=a.token))
    assert_error(approve(api, a, g["id"], b), 404, "NOT_FOUND", message_contains="request")
    assert_error(api.get(gurl(g["id"]), token=b.token), 404, "NOT_FOUND")
    # A deleted account's request goes with it.
    assert_ok(api.delete("/api/v1/users/me", token=d.token))
    assert pending(api, a, g["id"]) == [c.id]
    assert_error(approve(api, a, g["id"], d), 404, "NOT_FOUND")
    # A full group answers 409 and keeps the request.
    add_member(api, a, g["id"], make_user())
    add_member(api, a, g["id"], make_user())
    assert_error(approve(api, a, g["id"], c), 409, "CHATROOM_FULL")
    assert pending(api, a, g["id"]) == [c.id]


def test_dropping_an_accounts_join_requests_reads_only_its_rows(db):
    """Account deletion runs DELETE FROM join_requests WHERE user_id = ?
    inside its transaction. Without an index leading with user_id it would
    read, and lock until commit, every pending request of every group."""
    with db.cursor() as cur:
        cur.execute("EXPLAIN DELETE FROM join_requests WHERE user_id = %s", (str(uuid.uuid4()),))
        plan = cur.fetchone()
    assert plan["key"] == "ix_join_requests_user" and plan["type"] in ("range", "ref"), plan


def test_deactivating_an_account_drops_its_join_requests(api, make_user, parleyctl, db):
    """A join request holds an invitation use until decided, and admins
    see only active accounts' requests: an account switched off must take
    its requests with it (as deletion does), or its use is held forever by
    a request nobody can see or reject."""
    a, b, c = (make_user() for _ in range(3))
    g = create_group(api, a)
    inv = approval_invite(api, a, g["id"], maxUses=1)
    request_join(api, b, inv)
    assert invitation_uses(api, a, g["id"], inv) == (0, 1, False)
    p = parleyctl("user", "deactivate", "--username", b.username)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "deactivated" in p.stdout and b.id in p.stdout
    with db.cursor() as cur:
        cur.execute("SELECT is_active, deleted_at FROM users WHERE id = %s", (b.id,))
        row = cur.fetchone()
        assert row["is_active"] == 0 and row["deleted_at"] is None
        cur.execute("SELECT COUNT(*) AS n FROM join_requests WHERE user_id = %s", (b.id,))
        assert cur.fetchone()["n"] == 0
    # The use is back, and what admins see agrees with what is counted.
    assert invitation_uses(api, a, g["id"], inv) == (0, 0, True)
    assert pending(api, a, g["id"]) == []
    assert_error(api.get("/api/v1/auth/me", token=b.token), 401, "AUTH_TOKEN_INVALID")
    request_join(api, c, inv)
    assert assert_ok(approve(api, a, g["id"], c))["userId"] == c.id
    # An account switched off in SQL keeps its request until deactivate
    # (by --id: it can no longer be found by name) repairs it.
    d, e = make_user(), make_user()
    inv2 = approval_invite(api, a, g["id"], maxUses=1)
    request_join(api, d, inv2)
    with db.cursor() as cur:
        cur.execute("UPDATE users SET is_active = 0 WHERE id = %s", (d.id,))
    assert invitation_uses(api, a, g["id"], inv2) == (0, 1, False)
    p = parleyctl("user", "deactivate", "--username", d.username)
    assert p.returncode == 1 and "no such active user" in p.stderr, p.stdout + p.stderr
    p = parleyctl("user", "deactivate", "--id", d.id)
    assert p.returncode == 0, p.stdout + p.stderr
    assert invitation_uses(api, a, g["id"], inv2) == (0, 0, True)
    request_join(api, e, inv2)
    # Deleted or unknown accounts are not found.
    p = parleyctl("user", "deactivate", "--id", "00000000-0000-7000-8000-000000000000")
    assert p.returncode == 1, p.stdout + p.stderr
