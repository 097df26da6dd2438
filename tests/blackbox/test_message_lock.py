"""Editing, deleting and reacting to a message against a concurrent change
of who may (src/core/message.c, edit_tx, delete_tx and react_tx).

Who may edit or delete depends on the caller's membership and role, which
group changes rewrite under the group row's lock (group.c, begin_change).
Edit, delete and react decide inside their own transaction, on the conversation
row and the caller's member row read with a shared lock and the message
row locked FOR UPDATE: a demotion or removal under way is waited for and
decides the answer, never the role read a moment earlier.

A real race is not reproducible on demand, so each test plays the other
transaction by hand on a second connection: it takes its locks and makes
its change, the REST call starts and must be waiting for it, then the
change commits and the call must answer as for the state it left.
"""

import pytest

from conv_util import MESSAGES, add_member, create_group, events, last_event_id, send
from parley_api import assert_error, assert_ok


def murl(mid):
    return "%s/%s" % (MESSAGES, mid)


def lock_group(gid):
    """What group.c's begin_change() takes first."""
    return ("SELECT id FROM conversations WHERE id = %s FOR UPDATE", (gid,))


def message_row(db, mid):
    with db.cursor() as c:
        c.execute("SELECT content, deleted_at, deleted_by FROM messages WHERE id = %s", (mid,))
        return c.fetchone()


def test_a_moderator_demoted_meanwhile_cannot_delete(api, make_user, db, lock_race):
    a, mod, b = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    add_member(api, a, g, mod, "MODERATOR")
    m = send(api, b, groupId=g, content="keep me")
    since = last_event_id(db)
    r = lock_race([lock_group(g),
                   ("UPDATE members SET role = 'MEMBER' WHERE conversation_id = %s"
                    " AND user_id = %s", (g, mod.id))],
                  lambda: api.delete(murl(m["id"]), token=mod.token))
    assert_error(r, 403, "MESSAGE_DELETE_DENIED")
    row = message_row(db, m["id"])
    assert row["deleted_at"] is None and row["content"] == "keep me"
    assert events(db, "message:delete", since=since) == []


def test_a_member_removed_meanwhile_cannot_edit(api, make_user, db, lock_race):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    m = send(api, b, groupId=g, content="as sent")
    since = last_event_id(db)
    r = lock_race([lock_group(g),
                   ("DELETE FROM members WHERE conversation_id = %s AND user_id = %s",
                    (g, b.id))],
                  lambda: api.patch(murl(m["id"]), json={"content": "too late"},
                                    token=b.token))
    assert_error(r, 404, "NOT_FOUND")
    assert message_row(db, m["id"])["content"] == "as sent"
    assert events(db, "message:edit", since=since) == []


def test_a_member_removed_meanwhile_cannot_delete_their_message(api, make_user, db,
                                                                lock_race):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    m = send(api, b, groupId=g, content="stays")
    since = last_event_id(db)
    r = lock_race([lock_group(g),
                   ("DELETE FROM members WHERE conversation_id = %s AND user_id = %s",
                    (g, b.id))],
                  lambda: api.delete(murl(m["id"]), token=b.token))
    assert_error(r, 404, "NOT_FOUND")
    assert message_row(db, m["id"])["deleted_at"] is None
    assert events(db, "message:delete", since=since) == []


def test_a_member_removed_meanwhile_cannot_react(api, make_user, db, lock_race):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    m = send(api, a, groupId=g)
    since = last_event_id(db)
    r = lock_race([lock_group(g),
                   ("DELETE FROM members WHERE conversation_id = %s AND user_id = %s",
                    (g, b.id))],
                  lambda: api.post(murl(m["id"]) + "/react", json={"emoji": "👍"},
                                   token=b.token))
    assert_error(r, 404, "NOT_FOUND")
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM reactions WHERE message_id = %s", (m["id"],))
        assert c.fetchone()["n"] == 0
    assert events(db, "message:react", since=since) == []


def test_a_delete_that_lost_the_race_answers_the_stored_deletion(api, make_user, db,
                                                                 lock_race):
    """The loser answered deletedBy null and the time it gave up as
    deletedAt; the message says who deleted it and when."""
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    m = send(api, b, groupId=g)
    at = "2026-01-02 03:04:05.678"
    since = last_event_id(db)
    r = lock_race([("UPDATE messages SET content = NULL, deleted_at = %s, deleted_by = %s"
                    " WHERE id = %s", (at, a.id, m["id"]))],
                  lambda: api.delete(murl(m["id"]), token=b.token))
    d = assert_ok(r)
    assert d["deleted"] is True and d["deletedBy"] == a.id
    assert d["deletedAt"] == "2026-01-02T03:04:05.678Z"
    assert events(db, "message:delete", since=since) == []


@pytest.mark.parametrize("action", ["edit", "delete", "react"])
def test_edit_and_delete_do_not_queue_behind_senders(api, make_user, lock_race, action):
    """A send holds a shared lock on its conversation's row
    (parley_message_send); edits, deletes and reactions take a shared one
    too, so neither waits for the other."""
    a = make_user()
    g = create_group(api, a)["id"]
    m = send(api, a, groupId=g)
    if action == "edit":
        call = lambda: api.patch(murl(m["id"]), json={"content": "now"}, token=a.token)  # noqa: E731
    elif action == "react":
        call = lambda: api.post(murl(m["id"]) + "/react", json={"emoji": "👍"},  # noqa: E731
                                token=a.token)
    else:
        call = lambda: api.delete(murl(m["id"]), token=a.token)  # noqa: E731
    r = lock_race([("SELECT id FROM conversations WHERE id = %s LOCK IN SHARE MODE", (g,))],
                  call, wait=False)
    assert_ok(r)
