"""Making an account a member, or giving it a role, against a concurrent
`parleyctl user deactivate` (src/core/user_state.c).

Deactivation locks the user row FOR UPDATE, switches the account off and
drops its join requests, in one transaction. Every path that makes a user
a member (adding, joining a PUBLIC group, joining by code, approving a
join request), asks to (a join request) or gives a member a role must
read the user row with a lock in its own transaction: then it waits for a
deactivation under way and answers as for an account already switched
off, never committing a membership, request or role for it.

A real race is not reproducible on demand, so each test plays the
deactivation's transaction by hand on a second connection: it takes the
row lock, the REST call starts and must be waiting for it, then the
deactivation finishes and commits, and the call must answer as for a
deactivated account and have changed nothing.
"""

import pytest

from conv_util import GROUPS, add_member, create_group, events, last_event_id
from parley_api import assert_error, assert_ok


def gurl(gid, tail=""):
    return "%s/%s%s" % (GROUPS, gid, tail)


@pytest.fixture
def deactivating(lock_race):
    """race(user, call): call() made while user's deactivation (deactivate_tx()
    of user_state.c) holds the user row's lock; returns call()'s answer,
    given after the deactivation committed."""
    def race(user, call):
        return lock_race(
            [("SELECT is_active FROM users WHERE id = %s AND deleted_at IS NULL"
              " FOR UPDATE", (user.id,))],
            call,
            then=[("UPDATE users SET is_active = 0 WHERE id = %s", (user.id,)),
                  ("DELETE FROM join_requests WHERE user_id = %s", (user.id,))])
    return race


def member_ids(db, gid):
    with db.cursor() as c:
        c.execute("SELECT user_id FROM members WHERE conversation_id = %s", (gid,))
        return {str(r["user_id"]) for r in c.fetchall()}


def requests_of(db, uid):
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM join_requests WHERE user_id = %s", (uid,))
        return c.fetchone()["n"]


def test_add_member(api, make_user, db, deactivating):
    a, b = make_user(), make_user()
    g = create_group(api, a)["id"]
    since = last_event_id(db)
    r = deactivating(b, lambda: api.post(gurl(g, "/members"), token=a.token,
                                         json={"userId": b.id}))
    assert_error(r, 404, "NOT_FOUND", message_contains="user")
    assert member_ids(db, g) == {a.id}
    assert events(db, "group:member:join", since=since) == []


def test_join_public_group(api, make_user, db, deactivating):
    a, b = make_user(), make_user()
    g = create_group(api, a, type="PUBLIC")["id"]
    since = last_event_id(db)
    r = deactivating(b, lambda: api.post(gurl(g, "/join"), token=b.token))
    assert_error(r, 404, "NOT_FOUND")
    assert member_ids(db, g) == {a.id}
    assert events(db, "group:member:join", since=since) == []


def test_join_by_code(api, make_user, db, deactivating):
    a, b = make_user(), make_user()
    g = create_group(api, a)["id"]
    inv = assert_ok(api.post(gurl(g, "/invitations"), token=a.token, json={"maxUses": 1}), 201)
    since = last_event_id(db)
    r = deactivating(b, lambda: api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token))
    assert_error(r, 404, "NOT_FOUND", message_contains="user")
    assert member_ids(db, g) == {a.id}
    assert events(db, "group:member:join", since=since) == []
    # The invitation's one use is still there.
    c = make_user()
    assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=c.token))


def test_join_request(api, make_user, db, deactivating):
    """A request left behind would hold an invitation use that nobody can
    see or reject (admins list active accounts' requests only)."""
    a, b = make_user(), make_user()
    g = create_group(api, a)["id"]
    inv = assert_ok(api.post(gurl(g, "/invitations"), token=a.token,
                             json={"requireApproval": True, "maxUses": 1}), 201)
    r = deactivating(b, lambda: api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token))
    assert_error(r, 404, "NOT_FOUND", message_contains="user")
    assert requests_of(db, b.id) == 0
    assert member_ids(db, g) == {a.id}
    # The use is free for someone else.
    c = make_user()
    assert assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=c.token),
                     202)["status"] == "PENDING"


def test_approve_join_request(api, make_user, db, deactivating):
    """Approval locks the user row before the request row, in the order
    deactivation takes them: the other way round the two deadlock."""
    a, b = make_user(), make_user()
    g = create_group(api, a)["id"]
    inv = assert_ok(api.post(gurl(g, "/invitations"), token=a.token,
                             json={"requireApproval": True}), 201)
    assert_ok(api.post("%s/join/%s" % (GROUPS, inv["code"]), token=b.token), 202)
    since = last_event_id(db)
    r = deactivating(b, lambda: api.post(gurl(g, "/join-requests/%s/approve" % b.id),
                                         token=a.token))
    assert_error(r, 404, "NOT_FOUND", message_contains="request")
    assert member_ids(db, g) == {a.id}
    assert requests_of(db, b.id) == 0
    assert events(db, "group:member:join", since=since) == []


def test_set_role(api, make_user, db, deactivating):
    a, b = make_user(), make_user()
    g = create_group(api, a)["id"]
    add_member(api, a, g, b)
    since = last_event_id(db)
    r = deactivating(b, lambda: api.patch(gurl(g, "/members/" + b.id), token=a.token,
                                          json={"role": "ADMIN"}))
    assert_error(r, 404, "NOT_FOUND", message_contains="user")
    with db.cursor() as c:
        c.execute("SELECT role FROM members WHERE conversation_id = %s AND user_id = %s",
                  (g, b.id))
        assert c.fetchone()["role"] == "MEMBER"
    assert events(db, "group:member:update", since=since) == []
