"""Messages: sending to groups and users (DMs made on first use), content
and envelope validation, idempotent retries (also racing), reading,
editing with history, deleting to tombstones, receipts and unread counts,
reactions, threads, history pages with cursors and filters, the
conversation list, and the outbox rows every change writes.
"""

import concurrent.futures
import datetime
import http.client
import json
import threading
import types
import urllib.parse
import uuid

import pytest

from conv_util import (CONVERSATIONS, GROUPS, MESSAGES, add_member, create_group,
                       documented_fields, events, history, last_event_id, missing_id, send)
from parley_api import assert_error, assert_ok, metric_value, parse_metrics

THUMBS = "\U0001F44D"
HEART = "\u2764\ufe0f"


def murl(mid, tail=""):
    return "%s/%s%s" % (MESSAGES, mid, tail)


def count_rows(db, sql, *args):
    with db.cursor() as c:
        c.execute(sql, args)
        return list(c.fetchone().values())[0]


# -------------------------------------------------------------- sending

def test_send_to_group_and_event(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    since = last_event_id(db)
    m = send(api, a, groupId=g["id"], content="Hello, group!", type="text",
             metadata={"mentions": [b.id], "attachments": [{"url": "/media/x.png"}]})
    assert m["conversationId"] == m["groupId"] == g["id"] and m["receiverId"] is None
    assert m["senderId"] == a.id and m["sender"]["username"] == a.username
    assert m["sender"]["displayName"] == a.displayName
    assert m["content"] == "Hello, group!" and m["type"] == "TEXT" and m["status"] == "SENT"
    assert m["attachments"] == [{"url": "/media/x.png"}]
    assert m["metadata"]["mentions"] == [b.id]
    assert m["reactions"] == [] and m["deleted"] is False and m["editedAt"] is None
    assert m["isEncrypted"] is False and m["replyTo"] is None and m["parentId"] is None
    ev = events(db, "message:received", since=since)
    assert len(ev) == 1
    assert ev[0]["target_kind"] == "CONVERSATION" and ev[0]["target_id"] == g["id"]
    assert ev[0]["payload"]["id"] == m["id"] and ev[0]["payload"]["content"] == "Hello, group!"
    assert ev[0]["payload"]["conversationId"] == g["id"]
    got = assert_ok(api.get(murl(m["id"]), token=b.token))
    assert got["content"] == "Hello, group!" and got["createdAt"] == m["createdAt"]


def test_direct_message_creates_conversation_once(api, make_user, db):
    a, b = make_user(), make_user()
    since = last_event_id(db)
    m1 = send(api, a, receiverId=b.id, content="hi b")
    m2 = send(api, b, receiver_id=a.id, content="hi a")
    assert m1["conversationId"] == m2["conversationId"]
    assert m1["groupId"] is None and m1["receiverId"] == b.id and m2["receiverId"] == a.id
    created = events(db, "conversation:created", since=since)
    assert {(e["target_id"], e["payload"]["peerId"]) for e in created} == {
        (a.id, b.id), (b.id, a.id)}
    assert all(e["payload"]["kind"] == "DIRECT" for e in created)
    ev = events(db, "message:received", m1["conversationId"], since)
    assert [e["payload"]["id"] for e in ev] == [m1["id"], m2["id"]]
    # conversationId addressing works for DMs too.
    m3 = send(api, a, conversationId=m1["conversationId"], content="again")
    assert m3["receiverId"] == b.id


@pytest.mark.parametrize("field", ["parentId", "replyTo"])
def test_direct_send_that_fails_validation_opens_nothing(api, make_user, db, field):
    a, b = make_user(), make_user()
    elsewhere = send(api, a, groupId=create_group(api, a)["id"])
    since = last_event_id(db)
    for ref in (missing_id(), elsewhere["id"]):
        body = assert_error(api.post(MESSAGES, json={"receiverId": b.id, "content": "x",
                                                     field: ref}, token=a.token),
                            400, "VALIDATION_ERROR")
        assert field in body["error"]["details"]["fields"]
    # No conversation, no membership, no event: B's list stays empty.
    assert assert_ok(api.get(CONVERSATIONS, token=b.token)) == []
    assert count_rows(db, "SELECT COUNT(*) AS n FROM conversations WHERE direct_key IN (%s, %s)",
                      "%s:%s" % (a.id, b.id), "%s:%s" % (b.id, a.id)) == 0
    assert events(db, "conversation:created", since=since) == []
    # Once the DM exists, a reference into it is checked as usual.
    m = send(api, a, receiverId=b.id, content="hi")
    reply = send(api, b, receiverId=a.id, content="re", **{field: m["id"]})
    assert reply["conversationId"] == m["conversationId"]
    assert reply["replyTo"]["id"] == m["id"]
    assert_error(api.post(MESSAGES, json={"receiverId": b.id, "content": "x",
                                          field: elsewhere["id"]}, token=a.token),
                 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("target", ["groupId", "conversationId"])
def test_reference_check_needs_membership(api, make_user, db, target):
    """A non-member gets the same 404 whether the group exists and whether
    the message it names is in it (no existence oracle)."""
    a, c = make_user(), make_user()
    g = create_group(api, a)
    inside = send(api, a, groupId=g["id"])
    bodies = []
    for gid, ref in ((g["id"], inside["id"]), (g["id"], missing_id()),
                     (missing_id(), inside["id"]), (missing_id(), missing_id())):
        for field in ("parentId", "replyTo"):
            bodies.append(assert_error(api.post(MESSAGES, json={
                target: gid, "content": "x", field: ref}, token=c.token), 404, "NOT_FOUND"))
    bodies.append(assert_error(api.post(MESSAGES, json={target: g["id"], "content": "x"},
                                        token=c.token), 404, "NOT_FOUND"))
    assert all(b == bodies[0] for b in bodies)
    assert count_rows(db, "SELECT COUNT(*) AS n FROM messages WHERE sender_id = %s", c.id) == 0
    # Members still get the 400 for a foreign reference.
    assert_error(api.post(MESSAGES, json={target: g["id"], "content": "x",
                                          "parentId": missing_id()}, token=a.token),
                 400, "VALIDATION_ERROR")

def test_no_message_reaches_a_deleted_or_deactivated_account(api, make_user, db, parleyctl):
    """A DM to an account that is gone was 404 when the DM had to be made
    but 201 when it existed (the account keeps its membership, for the
    history): messages nobody can ever read, marked SENT for good. Both
    ways of addressing it now answer 404; the history stays."""
    a, b, c, d = (make_user() for _ in range(4))
    mb = send(api, a, receiverId=b.id, content="before")
    md = send(api, a, receiverId=d.id, content="before")
    assert_ok(api.delete("/api/v1/users/me", token=b.token))
    p = parleyctl("user", "deactivate", "--id", d.id)
    assert p.returncode == 0, p.stdout + p.stderr
    since = last_event_id(db)
    for peer, m in ((b, mb), (d, md)):
        for target in ({"receiverId": peer.id}, {"conversationId": m["conversationId"]}):
            assert_error(api.post(MESSAGES, token=a.token, json=dict(target, content="hello?")),
                         404, "NOT_FOUND", message_contains="user")
        assert count_rows(db, "SELECT COUNT(*) FROM messages WHERE conversation_id = %s",
                          m["conversationId"]) == 1
        items, _ = history(api, a, MESSAGES, conversationId=m["conversationId"])
        assert [x["id"] for x in items] == [m["id"]]
    assert events(db, "message:received", since=since) == []
    # Someone outside the DM learns nothing about who is in it.
    body = assert_error(api.post(MESSAGES, token=c.token, json={
        "conversationId": mb["conversationId"], "content": "x"}), 404, "NOT_FOUND")
    assert "conversation" in body["message"].lower()


def test_direct_conversation_race(api, make_user, db):
    """Two first messages racing from both sides make one conversation."""
    a, b = make_user(), make_user()
    barrier = threading.Barrier(8)

    def one(i):
        u, peer = (a, b) if i % 2 == 0 else (b, a)
        barrier.wait()
        return api.post(MESSAGES, token=u.token, json={"receiverId": peer.id,
                                                       "content": "race %d" % i})

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(one, range(8)))
    convs = {assert_ok(r, 201)["conversationId"] for r in rs}
    assert len(convs) == 1
    key = ":".join(sorted([a.id, b.id]))
    assert count_rows(db, "SELECT COUNT(*) FROM conversations WHERE direct_key = %s", key) == 1


@pytest.mark.parametrize("body,field,code", [
    ({"content": ""}, "content", "VALIDATION_ERROR"),
    ({"content": "  \n\t "}, "content", "VALIDATION_ERROR"),
    ({"content": "x" * 5001}, "content", "MESSAGE_TOO_LONG"),
    ({"content": 12}, "content", "VALIDATION_ERROR"),
    ({}, "content", "VALIDATION_ERROR"),
    ({"content": "hi", "type": "SYSTEM"}, "type", "VALIDATION_ERROR"),
    ({"content": "hi", "type": "GIF"}, "type", "VALIDATION_ERROR"),
    ({"content": "hi", "metadata": "x"}, "metadata", "VALIDATION_ERROR"),
    ({"content": "hi", "metadata": {"mentions": ["nope"]}}, "metadata", "VALIDATION_ERROR"),
    ({"content": "hi", "metadata": {"blob": "x" * 9000}}, "metadata", "VALIDATION_ERROR"),
    ({"content": "hi", "clientId": "x" * 129}, "clientId", "VALIDATION_ERROR"),
    ({"content": "hi", "parentId": "nope"}, "parentId", "VALIDATION_ERROR"),
    ({"content": {"encryptedData": "abc"}}, "content", "VALIDATION_ERROR"),
    ({"content": {"encryptedData": "a b", "iv": "x", "keyVersion": 1}}, "content",
     "VALIDATION_ERROR"),
])
def test_send_validation(api, make_user, body, field, code):
    a = make_user()
    g = create_group(api, a)
    body = dict(body, groupId=g["id"])
    r = assert_error(api.post(MESSAGES, json=body, token=a.token), 400, code)
    assert field in r["error"]["details"]["fields"]


def test_send_targets(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a)
    for body in ({"content": "x"}, {"content": "x", "groupId": g["id"], "receiverId": b.id},
                 {"content": "x", "receiverId": "not-an-id"},
                 {"content": "x", "receiverId": a.id}):
        assert_error(api.post(MESSAGES, json=body, token=a.token), 400, "VALIDATION_ERROR")
    # Missing and foreign conversations look the same.
    r1 = assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "x"},
                               token=c.token), 404, "NOT_FOUND")
    r2 = assert_error(api.post(MESSAGES, json={"groupId": missing_id(), "content": "x"},
                               token=c.token), 404, "NOT_FOUND")
    assert r1 == r2
    assert_error(api.post(MESSAGES, json={"receiverId": missing_id(), "content": "x"},
                          token=c.token), 404, "NOT_FOUND")
    # A DM id is not a group.
    dm = send(api, a, receiverId=b.id)
    assert_error(api.post(MESSAGES, json={"groupId": dm["conversationId"], "content": "x"},
                          token=a.token), 404, "NOT_FOUND")


def test_length_is_counted_in_characters(api, make_user):
    a = make_user()
    g = create_group(api, a)
    m = send(api, a, groupId=g["id"], content="\U0001F600" * 5000)
    assert len(m["content"]) == 5000
    assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "\u00e9" * 5001},
                          token=a.token), 400, "MESSAGE_TOO_LONG")


def test_failed_send_writes_nothing(api, make_user, db):
    a, c = make_user(), make_user()
    g = create_group(api, a)
    since = last_event_id(db)
    n = count_rows(db, "SELECT COUNT(*) FROM messages")
    assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "intruder"},
                          token=c.token), 404, "NOT_FOUND")
    assert count_rows(db, "SELECT COUNT(*) FROM messages WHERE content = 'intruder'") == 0
    assert events(db, "message:received", g["id"], since) == []
    assert count_rows(db, "SELECT COUNT(*) FROM messages") >= n


def test_encrypted_envelope_is_opaque(api, make_user, db):
    a, b = make_user(), make_user()
    env = {"encrypted_data": "U2VjcmV0IG1lc3NhZ2U=", "iv": "AAECAwQFBgcICQoL", "key_version": 3}
    m = send(api, a, receiverId=b.id, content=env)
    assert m["isEncrypted"] is True
    assert m["content"] == {"encryptedData": env["encrypted_data"], "iv": env["iv"],
                            "keyVersion": 3}
    got = assert_ok(api.get(murl(m["id"]), token=b.token))
    assert got["content"] == m["content"]
    with db.cursor() as c:
        c.execute("SELECT content, encrypted FROM messages WHERE id = %s", (m["id"],))
        row = c.fetchone()
    assert row["content"] is None and "U2VjcmV0" in row["encrypted"]
    # Editing keeps the form.
    assert_error(api.patch(murl(m["id"]), json={"content": "plain now"}, token=a.token), 400,
                 "VALIDATION_ERROR")
    e = assert_ok(api.patch(murl(m["id"]), token=a.token, json={"content": {
        "encryptedData": "bmV3", "iv": "AAEC", "keyVersion": 4}}))
    assert e["content"]["keyVersion"] == 4 and e["editedAt"]


# ---------------------------------------------------------- idempotency

def test_client_id_retry_returns_original(api, make_user, db):
    a = make_user()
    g = create_group(api, a)
    since = last_event_id(db)
    r1 = api.post(MESSAGES, token=a.token, json={"groupId": g["id"], "content": "once",
                                                 "clientId": "c-1"})
    r2 = api.post(MESSAGES, token=a.token, json={"groupId": g["id"], "content": "once",
                                                 "client_id": "c-1"})
    m1, m2 = assert_ok(r1, 201), assert_ok(r2, 201)
    assert m1["id"] == m2["id"] and m2["clientId"] == "c-1"
    assert r2.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in r1.headers
    assert len(events(db, "message:received", g["id"], since)) == 1
    # Another sender may use the same clientId.
    b = make_user()
    add_member(api, a, g["id"], b)
    assert send(api, b, groupId=g["id"], clientId="c-1")["id"] != m1["id"]


def test_idempotency_key_header(api, make_user, db):
    a = make_user()
    g = create_group(api, a)
    h = {"Idempotency-Key": "key-" + uuid.uuid4().hex}
    m1 = send(api, a, headers=h, groupId=g["id"], content="header once")
    m2 = send(api, a, headers=h, groupId=g["id"], content="header once")
    assert m1["id"] == m2["id"]
    assert count_rows(db, "SELECT COUNT(*) FROM messages WHERE conversation_id = %s",
                      g["id"]) == 1
    assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "x"}, token=a.token,
                          headers={"Idempotency-Key": "bad key"}), 400, "VALIDATION_ERROR")


def test_client_ids_and_keys_are_compared_exactly(api, make_user, db):
    """clientId and Idempotency-Key are opaque: the columns' case- and
    accent-folding collation with trailing-space padding made "Abc-1",
    "abc-1", "abc-1 " and "ábc-1" one key, so a client's distinct
    messages were dropped and answered with the first (Idempotent-Replayed)."""
    a = make_user()
    g = create_group(api, a)
    since = last_event_id(db)
    spellings = ["Abc-1", "abc-1", "abc-1 ", "\u00e1bc-1", "ABC-1"]
    sent = [send(api, a, groupId=g["id"], content="c%d" % i, clientId=c)
            for i, c in enumerate(spellings)]
    assert [m["content"] for m in sent] == ["c%d" % i for i in range(5)]
    assert [m["clientId"] for m in sent] == spellings
    key = "Key-" + uuid.uuid4().hex
    r1 = api.post(MESSAGES, token=a.token, headers={"Idempotency-Key": key},
                  json={"groupId": g["id"], "content": "k1"})
    r2 = api.post(MESSAGES, token=a.token, headers={"Idempotency-Key": key.lower()},
                  json={"groupId": g["id"], "content": "k2"})
    assert assert_ok(r2, 201)["content"] == "k2" and assert_ok(r1, 201)["content"] == "k1"
    assert "Idempotent-Replayed" not in r2.headers
    assert count_rows(db, "SELECT COUNT(*) FROM messages WHERE conversation_id = %s",
                      g["id"]) == 7
    assert len(events(db, "message:received", g["id"], since)) == 7
    # The exact spelling is still a retry.
    r3 = api.post(MESSAGES, token=a.token, json={"groupId": g["id"], "content": "again",
                                                 "clientId": "abc-1 "})
    assert assert_ok(r3, 201)["id"] == sent[2]["id"]
    assert r3.headers.get("Idempotent-Replayed") == "true"


def test_racing_retries_make_one_message(api, make_user, db):
    a = make_user()
    g = create_group(api, a)
    barrier = threading.Barrier(10)
    key = "race-" + uuid.uuid4().hex

    def one(i):
        barrier.wait()
        return api.post(MESSAGES, token=a.token, headers={"Idempotency-Key": key},
                        json={"groupId": g["id"], "content": "racing", "clientId": key})

    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        rs = list(ex.map(one, range(10)))
    ids = {assert_ok(r, 201)["id"] for r in rs}
    assert len(ids) == 1
    assert count_rows(db, "SELECT COUNT(*) FROM messages WHERE conversation_id = %s",
                      g["id"]) == 1
    assert len(events(db, "message:received", g["id"])) == 1


def test_concurrent_sends_are_group_committed_correctly(api, _stack_ready, make_user, db):
    """Sends that arrive together are committed in batches (src/core/sendq.c);
    a batch is all or nothing, so an outsider's send or a repeated clientId
    among them must still get exactly a lone send's answer."""
    members = [make_user() for _ in range(6)]
    outsider = make_user()
    g = create_group(api, members[0], members=members[1:])

    def batched():
        return metric_value(parse_metrics(api.get("/metrics").text),
                            "parley_send_batched_messages_total")

    before = batched()
    # Even rounds mix in a repeated clientId and an outsider, so their
    # batches are refused and re-sent one by one; odd rounds are clean, so
    # some batch must commit whole.
    for rnd in range(6):
        tag = "%d-%s" % (rnd, uuid.uuid4().hex[:8])
        plan = [(members[i % 6], "c%s-%d" % (tag, i)) for i in range(30)]
        if rnd % 2 == 0:
            plan += [(members[0], "dup-" + tag)] * 3 + [(outsider, "out-%s-%d" % (tag, i))
                                                       for i in range(3)]
        rs = fire_together(_stack_ready, [
            ("POST", MESSAGES, user.token,
             {"groupId": g["id"], "content": "batch " + cid, "clientId": cid})
            for user, cid in plan])
        ids = {}
        for (user, cid), r in zip(plan, rs):
            if user is outsider:
                assert_error(r, 404, "NOT_FOUND")
                continue
            m = assert_ok(r, 201)
            assert m["clientId"] == cid and m["content"] == "batch " + cid
            assert m["senderId"] == user.id
            ids.setdefault(cid, set()).add(m["id"])
        unique = 30 + (rnd % 2 == 0)
        assert len(ids) == unique and all(len(v) == 1 for v in ids.values())
        stored = count_rows(db, "SELECT COUNT(*) FROM messages WHERE conversation_id = %s"
                            " AND client_id LIKE %s", g["id"], "%" + tag + "%")
        assert stored == unique
        if rnd >= 1 and batched() > before:
            break
    assert batched() > before, "30 concurrent sends were never committed in a batch"
    all_ids = {r[0] for r in _message_ids(db, g["id"])}
    sent = [e["payload"]["id"] for e in events(db, "message:received", g["id"])]
    assert sorted(sent) == sorted(all_ids), "one event per stored message, no more"


class _RawResponse:
    """Enough of requests.Response for assert_ok / assert_error."""

    def __init__(self, method, path, resp):
        self.status_code = resp.status
        self.headers = {k: v for k, v in resp.getheaders()}
        self.content = resp.read()
        self.request = types.SimpleNamespace(method=method, path_url=path)

    def json(self):
        return json.loads(self.content)


def fire_together(base_url, calls):
    """Sends every (method, path, token, body) on its own open connection
    within a millisecond or so (no thread pool, no GIL hand-offs between
    requests), then collects the answers in order."""
    u = urllib.parse.urlsplit(base_url)
    conns = [http.client.HTTPConnection(u.hostname, u.port, timeout=30) for _ in calls]
    for c in conns:
        c.connect()
    for c, (method, path, token, body) in zip(conns, calls):
        c.request(method, path, body=json.dumps(body),
                  headers={"Authorization": "Bearer " + token,
                           "Content-Type": "application/json"})
    out = [_RawResponse(m, p, c.getresponse()) for c, (m, p, _, _) in zip(conns, calls)]
    for c in conns:
        c.close()
    return out


def _message_ids(db, cid):
    with db.cursor() as c:
        c.execute("SELECT id FROM messages WHERE conversation_id = %s", (cid,))
        return [(r["id"],) for r in c.fetchall()]


# ------------------------------------------------------- edit and delete

def test_edit_own_only_with_history(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    m = send(api, a, groupId=g["id"], content="first")
    since = last_event_id(db)
    e = assert_ok(api.patch(murl(m["id"]), json={"content": "second"}, token=a.token))
    assert e["content"] == "second" and e["editedAt"] and e["id"] == m["id"]
    assert_ok(api.patch(murl(m["id"]), json={"content": "third"}, token=a.token))
    versions = assert_ok(api.get(murl(m["id"], "/history"), token=b.token))
    assert [v["content"] for v in versions] == ["first", "second"]
    assert versions[0]["validFrom"] == m["createdAt"]
    ev = events(db, "message:edit", g["id"], since)
    assert [x["payload"]["content"] for x in ev] == ["second", "third"]
    assert_error(api.patch(murl(m["id"]), json={"content": "hijack"}, token=b.token), 403,
                 "MESSAGE_EDIT_DENIED")
    assert_error(api.patch(murl(m["id"]), json={"content": ""}, token=a.token), 400,
                 "VALIDATION_ERROR")
    assert_error(api.patch(murl(m["id"]), json={}, token=a.token), 400, "VALIDATION_ERROR")


def test_delete_rules_and_tombstone(api, make_user, db):
    a, mod, b = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b])
    add_member(api, a, g["id"], mod, "MODERATOR")
    m1 = send(api, b, groupId=g["id"], content="by b")
    m2 = send(api, a, groupId=g["id"], content="by owner")
    assert_error(api.delete(murl(m2["id"]), token=b.token), 403, "MESSAGE_DELETE_DENIED")
    since = last_event_id(db)
    d = assert_ok(api.delete(murl(m1["id"]), token=mod.token))
    assert d["deleted"] is True and d["deletedBy"] == mod.id and d["deletedAt"]
    ev = events(db, "message:delete", g["id"], since)
    assert len(ev) == 1 and ev[0]["payload"]["messageId"] == m1["id"]
    t = assert_ok(api.get(murl(m1["id"]), token=b.token))
    assert t["deleted"] is True and t["content"] is None and t["metadata"] == {}
    assert t["deletedAt"]
    # Again, by anyone who may: the same answer (who deleted it and when,
    # as stored), no second event; a tombstone cannot be edited.
    assert assert_ok(api.delete(murl(m1["id"]), token=b.token)) == d
    assert assert_ok(api.delete(murl(m1["id"]), token=a.token)) == d
    assert len(events(db, "message:delete", g["id"], since)) == 1
    assert_error(api.patch(murl(m1["id"]), json={"content": "x"}, token=b.token), 403,
                 "MESSAGE_EDIT_DENIED")
    assert assert_ok(api.delete(murl(m2["id"]), token=a.token))["deleted"] is True
    # In a DM nobody deletes the other's messages.
    dm = send(api, a, receiverId=b.id, content="mine")
    assert_error(api.delete(murl(dm["id"]), token=b.token), 403, "MESSAGE_DELETE_DENIED")


def test_events_carry_what_websocket_md_says(api, make_user, db):
    """message.h promised a receiverId in message:delete and
    message:status that no event ever had; docs/websocket.md is now the
    list, and each event has exactly the fields it names."""
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])["id"]
    since = last_event_id(db)
    dm = send(api, a, receiverId=b.id)
    gm = send(api, a, groupId=g)
    for m in (dm, gm):
        assert_ok(api.post(murl(m["id"], "/seen"), token=b.token))
        assert_ok(api.delete(murl(m["id"]), token=a.token))
    created = events(db, "conversation:created", since=since)
    assert {(e["target_kind"], e["target_id"]) for e in created} == {
        ("USER", a.id), ("USER", b.id)}
    status = events(db, "message:status", since=since)
    assert [(e["target_kind"], e["target_id"]) for e in status] == [
        ("CONVERSATION", dm["conversationId"]), ("USER", b.id), ("USER", a.id)]
    deleted = events(db, "message:delete", since=since)
    assert [e["target_id"] for e in deleted] == [dm["conversationId"], g]
    for e in created + status + deleted:
        assert set(e["payload"]) == documented_fields(e["type"]), e


# ------------------------------------------------------------- receipts

def test_direct_receipts_and_unread(api, make_user, db):
    a, b = make_user(), make_user()
    m1 = send(api, a, receiverId=b.id, content="one")
    m2 = send(api, a, receiverId=b.id, content="two")
    cid = m1["conversationId"]
    convs = assert_ok(api.get(CONVERSATIONS, token=b.token))
    assert convs[0]["id"] == cid and convs[0]["unreadCount"] == 2
    assert convs[0]["peer"]["id"] == a.id and convs[0]["kind"] == "DIRECT"
    since = last_event_id(db)
    r = assert_ok(api.post(murl(m1["id"], "/delivered"), token=b.token))
    assert r == {"id": m1["id"], "messageId": m1["id"], "conversationId": cid,
                 "userId": b.id, "status": "DELIVERED"}
    assert assert_ok(api.get(murl(m1["id"]), token=a.token))["status"] == "DELIVERED"
    assert assert_ok(api.get(murl(m2["id"]), token=a.token))["status"] == "SENT"
    ev = events(db, "message:status", since=since)
    assert len(ev) == 1 and ev[0]["target_id"] == cid
    assert ev[0]["payload"]["status"] == "DELIVERED" and ev[0]["payload"]["userId"] == b.id
    # Seen implies delivered, and covers everything before it.
    assert assert_ok(api.post(murl(m2["id"], "/seen"), token=b.token))["status"] == "SEEN"
    assert assert_ok(api.get(murl(m1["id"]), token=a.token))["status"] == "SEEN"
    assert assert_ok(api.get(murl(m2["id"]), token=b.token))["status"] == "SEEN"
    assert assert_ok(api.get(CONVERSATIONS, token=b.token))[0]["unreadCount"] == 0
    assert assert_ok(api.get(CONVERSATIONS, token=b.token, params={"unread": "true"})) == []
    # Going backwards changes nothing and announces nothing.
    since = last_event_id(db)
    assert assert_ok(api.post(murl(m1["id"], "/delivered"), token=b.token))["status"] == "SEEN"
    assert events(db, "message:status", since=since) == []
    # The sender's own receipts do not make their messages seen.
    m3 = send(api, a, receiverId=b.id, content="three")
    assert_ok(api.post(murl(m3["id"], "/seen"), token=a.token))
    assert assert_ok(api.get(murl(m3["id"]), token=a.token))["status"] == "SENT"
    assert len(assert_ok(api.get(CONVERSATIONS, token=b.token, params={"unread": "true"}))) == 1


def test_group_status_is_lowest_of_others(api, make_user, db):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b, c])
    m = send(api, a, groupId=g["id"], content="to all")
    since = last_event_id(db)
    assert_ok(api.post(murl(m["id"], "/seen"), token=b.token))
    assert assert_ok(api.get(murl(m["id"]), token=a.token))["status"] == "SENT"
    ev = events(db, "message:status", since=since)
    assert {(e["target_kind"], e["target_id"]) for e in ev} == {("USER", b.id), ("USER", a.id)}
    assert_ok(api.post(murl(m["id"], "/delivered"), token=c.token))
    assert assert_ok(api.get(murl(m["id"]), token=a.token))["status"] == "DELIVERED"
    assert_ok(api.post(murl(m["id"], "/seen"), token=c.token))
    assert assert_ok(api.get(murl(m["id"]), token=a.token))["status"] == "SEEN"
    assert assert_ok(api.get(GROUPS, token=c.token))[0]["unreadCount"] == 0
    msgs, _ = history(api, a, "%s/%s/messages" % (GROUPS, g["id"]), status="SEEN")
    assert [x["id"] for x in msgs] == [m["id"]]
    assert history(api, a, "%s/%s/messages" % (GROUPS, g["id"]), status="SENT")[0] == []


def test_receipts_need_membership(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    m = send(api, a, receiverId=b.id)
    for what in ("/delivered", "/seen"):
        assert_error(api.post(murl(m["id"], what), token=c.token), 404, "NOT_FOUND")
        assert_error(api.post(murl(missing_id(), what), token=c.token), 404, "NOT_FOUND")


# ------------------------------------------------------------ reactions

def test_reactions(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    m = send(api, a, groupId=g["id"])
    since = last_event_id(db)
    r = assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=a.token))
    assert r["action"] == "add"
    assert r["reactions"] == [{"emoji": THUMBS, "count": 1, "reacted": True, "userIds": [a.id]}]
    r = assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=a.token))
    assert r["reactions"][0]["count"] == 1     # one of each emoji per user
    assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=b.token))
    assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": HEART}, token=b.token))
    got = assert_ok(api.get(murl(m["id"]), token=a.token))
    assert [(x["emoji"], x["count"], x["reacted"]) for x in got["reactions"]] == [
        (THUMBS, 2, True), (HEART, 1, False)]
    ev = events(db, "message:react", g["id"], since)
    assert len(ev) == 3 and ev[-1]["payload"]["emoji"] == HEART
    assert ev[-1]["payload"]["userId"] == b.id and ev[-1]["payload"]["action"] == "add"
    r = assert_ok(api.delete(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=a.token))
    assert r["action"] == "remove"
    assert [(x["emoji"], x["count"]) for x in r["reactions"]] == [(THUMBS, 1), (HEART, 1)]
    r = assert_ok(api.delete(murl(m["id"], "/react"), params={"emoji": HEART}, token=b.token))
    assert [x["emoji"] for x in r["reactions"]] == [THUMBS]
    assert len(events(db, "message:react", g["id"], since)) == 5


FLAG_FR = "\U0001F1EB\U0001F1F7"


@pytest.mark.parametrize("emoji", ["a", "1", ":+1:", " ", "", THUMBS * 9, "\u202e" + THUMBS,
                                   "\U0001F44D\n", "caf\u00e9", THUMBS * 2, "\u2194" * 2,
                                   "\u2194" * 4, FLAG_FR * 2])
def test_reaction_emoji_is_validated(api, make_user, db, emoji):
    a = make_user()
    m = send(api, a, groupId=create_group(api, a)["id"])
    body = assert_error(api.post(murl(m["id"], "/react"), json={"emoji": emoji}, token=a.token),
                        400, "VALIDATION_ERROR")
    assert "emoji" in body["error"]["details"]["fields"]
    assert count_rows(db, "SELECT COUNT(*) AS n FROM reactions WHERE message_id = %s",
                      m["id"]) == 0


@pytest.mark.parametrize("emoji", [
    THUMBS, THUMBS + "\U0001F3FD", HEART, FLAG_FR, "1\ufe0f\u20e3",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467",
    "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"])
def test_reaction_is_one_emoji(api, make_user, emoji):
    a = make_user()
    m = send(api, a, groupId=create_group(api, a)["id"])
    r = assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": emoji}, token=a.token))
    assert [(x["emoji"], x["count"]) for x in r["reactions"]] == [(emoji, 1)]


def test_reaction_rules(api, make_user):
    a, c = make_user(), make_user()
    m = send(api, a, groupId=create_group(api, a)["id"])
    assert_error(api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=c.token), 404,
                 "NOT_FOUND")
    assert_error(api.post(murl(m["id"], "/react"), json={}, token=a.token), 400,
                 "VALIDATION_ERROR")
    assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": "1\ufe0f\u20e3"}, token=a.token))
    assert_ok(api.delete(murl(m["id"]), token=a.token))
    assert_error(api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=a.token), 409,
                 "CONFLICT")


def test_reactions_racing_a_delete_leave_none(api, make_user, db):
    """A reaction checked its message was live before its transaction,
    which then read nothing locked: one that raced the delete was written
    after the delete had dropped the message's reactions, so the tombstone
    kept it, with a message:react event after message:delete."""
    a = make_user()
    g = create_group(api, a)
    for _ in range(12):
        m = send(api, a, groupId=g["id"])
        since = last_event_id(db)
        barrier = threading.Barrier(2)

        def react():
            barrier.wait()
            return api.post(murl(m["id"], "/react"), json={"emoji": THUMBS}, token=a.token)

        def delete():
            barrier.wait()
            return api.delete(murl(m["id"]), token=a.token)

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fr, fd = ex.submit(react), ex.submit(delete)
            r, d = fr.result(), fd.result()
        assert_ok(d)
        assert r.status_code in (200, 409), r.text
        if r.status_code == 409:
            assert_error(r, 409, "CONFLICT")
        assert count_rows(db, "SELECT COUNT(*) FROM reactions WHERE message_id = %s",
                          m["id"]) == 0
        got = assert_ok(api.get(murl(m["id"]), token=a.token))
        assert got["deleted"] is True and got["reactions"] == []
        evs = [e for e in events(db, target=g["id"], since=since)
               if e["payload"].get("messageId") == m["id"]]
        kinds = [e["type"] for e in evs]
        assert kinds in (["message:delete"], ["message:react", "message:delete"]), kinds
        assert (r.status_code == 200) == (len(kinds) == 2)


def test_reaction_limit_holds_for_concurrent_adds(api, make_user, db):
    """The per-user limit of 20 emoji per message was a count read without
    a lock: adds racing each other all saw room and all got in."""
    a = make_user()
    m = send(api, a, groupId=create_group(api, a)["id"])
    emoji = [chr(0x1F600 + i) for i in range(35)]
    for e in emoji[:15]:
        assert_ok(api.post(murl(m["id"], "/react"), json={"emoji": e}, token=a.token))
    barrier = threading.Barrier(20)

    def add(e):
        barrier.wait()
        return api.post(murl(m["id"], "/react"), json={"emoji": e}, token=a.token)

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(add, emoji[15:]))
    assert sorted(r.status_code for r in rs) == [200] * 5 + [400] * 15
    for r in rs:
        if r.status_code == 400:
            assert "emoji" in assert_error(r, 400, "VALIDATION_ERROR")["error"]["details"][
                "fields"]
    assert count_rows(db, "SELECT COUNT(*) FROM reactions WHERE message_id = %s"
                      " AND user_id = %s", m["id"], a.id) == 20


# -------------------------------------------------------------- threads

def test_threads_and_reply_to(api, make_user):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    root = send(api, a, groupId=g["id"], content="root")
    r1 = send(api, b, groupId=g["id"], content="reply 1", parentId=root["id"])
    r2 = send(api, a, groupId=g["id"], content="reply 2", parent_id=r1["id"])
    assert r1["parentId"] == root["id"] and r1["replyTo"]["id"] == root["id"]
    assert r1["replyTo"]["content"] == "root"
    assert r2["parentId"] == root["id"]            # threads are one level deep
    assert r2["replyTo"]["id"] == r1["id"]
    quote = send(api, b, groupId=g["id"], content="quoting",
                 metadata={"replyTo": root["id"]})
    assert quote["parentId"] is None and quote["replyTo"]["id"] == root["id"]
    assert assert_ok(api.get(murl(root["id"]), token=b.token))["replyCount"] == 2
    thread, page = history(api, b, MESSAGES, conversationId=g["id"], parentId=root["id"])
    assert [m["id"] for m in thread] == [r2["id"], r1["id"]] and page["total"] == 2
    other = create_group(api, a)
    foreign = send(api, a, groupId=other["id"])
    assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "x",
                                          "parentId": foreign["id"]}, token=a.token),
                 400, "VALIDATION_ERROR")
    assert_error(api.post(MESSAGES, json={"groupId": g["id"], "content": "x",
                                          "replyTo": missing_id()}, token=a.token),
                 400, "VALIDATION_ERROR")


def test_deleting_a_reply_uncounts_it(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    root = send(api, a, groupId=g["id"], content="root")
    r1 = send(api, b, groupId=g["id"], parentId=root["id"])
    r2 = send(api, b, groupId=g["id"], parentId=root["id"])
    quote = send(api, b, groupId=g["id"], metadata={"replyTo": root["id"]})
    assert assert_ok(api.get(murl(root["id"]), token=a.token))["replyCount"] == 2
    assert assert_ok(api.delete(murl(r1["id"]), token=b.token))["deleted"] is True
    assert assert_ok(api.get(murl(root["id"]), token=a.token))["replyCount"] == 1
    # A repeated delete and a deleted quote (not a reply) count nothing.
    assert_ok(api.delete(murl(r1["id"]), token=b.token))
    assert_ok(api.delete(murl(quote["id"]), token=b.token))
    assert assert_ok(api.get(murl(root["id"]), token=a.token))["replyCount"] == 1
    # A moderator's delete counts too.
    assert_ok(api.delete(murl(r2["id"]), token=a.token))
    assert assert_ok(api.get(murl(root["id"]), token=b.token))["replyCount"] == 0
    # The count never goes below 0 (say, a count that was already off).
    r3 = send(api, b, groupId=g["id"], parentId=root["id"])
    with db.cursor() as c:
        c.execute("UPDATE messages SET reply_count = 0 WHERE id = %s", (root["id"],))
    assert_ok(api.delete(murl(r3["id"]), token=b.token))
    assert assert_ok(api.get(murl(root["id"]), token=b.token))["replyCount"] == 0


# -------------------------------------------------------------- history

@pytest.fixture
def thirty(api, make_user):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    ids = []
    for i in range(30):
        u = a if i % 2 == 0 else b
        ids.append(send(api, u, groupId=g["id"], content="msg %02d" % i,
                        type="IMAGE" if i % 10 == 0 else "TEXT")["id"])
    return a, b, g, ids


def test_history_pages_and_cursors(api, thirty):
    a, b, g, ids = thirty
    path = "%s/group/%s" % (MESSAGES, g["id"])
    r = api.get(path, token=b.token, params={"limit": 10})
    page1 = assert_ok(r)
    p = r.parley_json["pagination"]
    assert [m["id"] for m in page1] == ids[::-1][:10]
    assert p["total"] == 30 and p["totalPages"] == 3 and p["hasMore"] is True
    assert p["nextCursor"] == ids[20] and r.headers["X-Pagination-Total"] == "30"
    page2, p2 = history(api, b, path, limit=10, before=p["nextCursor"])
    assert [m["id"] for m in page2] == ids[::-1][10:20] and p2["total"] == 20
    page3, p3 = history(api, b, path, limit=10, before=p2["nextCursor"])
    assert [m["id"] for m in page3] == ids[::-1][20:] and "nextCursor" not in p3
    assert p3["hasMore"] is False
    # after: ascending from the cursor.
    newer, pa = history(api, b, path, limit=5, after=ids[24])
    assert [m["id"] for m in newer] == ids[25:] and pa["total"] == 5
    # page/limit without a cursor.
    second, _ = history(api, b, path, limit=10, page=2)
    assert [m["id"] for m in second] == ids[::-1][10:20]
    # A timestamp cursor.
    created = assert_ok(api.get(murl(ids[5]), token=a.token))["createdAt"]
    older, _ = history(api, b, path, before=created, limit=100)
    assert set(m["id"] for m in older) <= set(ids[:6]) and ids[4] in [m["id"] for m in older]
    for bad in ("yesterday", "0193b7a4-6c2e-4d10-9f3a-2b1c4d5e6f70", "' OR 1=1"):
        assert_error(api.get(path, token=b.token, params={"before": bad}), 400,
                     "VALIDATION_ERROR")


def test_history_filters_and_aliases(api, thirty):
    a, b, g, ids = thirty
    images, p = history(api, a, "%s/%s/messages" % (GROUPS, g["id"]), type="image")
    assert [m["id"] for m in images] == [ids[20], ids[10], ids[0]] and p["total"] == 3
    same, _ = history(api, a, "/api/v1/chatrooms/%s/messages" % g["id"], type="IMAGE")
    assert [m["id"] for m in same] == [m["id"] for m in images]
    via_q, _ = history(api, a, MESSAGES, conversation_id=g["id"], type="IMAGE")
    assert [m["id"] for m in via_q] == [m["id"] for m in images]
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
              ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert history(api, a, MESSAGES, conversationId=g["id"], **{"from": future})[0] == []
    everything, p = history(api, a, MESSAGES, conversationId=g["id"], to=future, limit=100)
    assert len(everything) == 30
    for params in ({"type": "GIF"}, {"status": "READ"}, {"from": "soon"}, {"order": "up"},
                   {"parentId": "x"}):
        assert_error(api.get(MESSAGES, token=a.token, params=dict(params, conversationId=g["id"])),
                     400, "VALIDATION_ERROR")
    assert_error(api.get(MESSAGES, token=a.token), 400, "VALIDATION_ERROR")


def test_history_is_members_only(api, thirty, make_user):
    a, b, g, ids = thirty
    c = make_user()
    for path in ("%s/group/%s" % (MESSAGES, g["id"]), "%s/%s/messages" % (GROUPS, g["id"])):
        r1 = assert_error(api.get(path, token=c.token), 404, "NOT_FOUND")
        r2 = assert_error(api.get(path.replace(g["id"], missing_id()), token=c.token), 404,
                          "NOT_FOUND")
        assert r1 == r2
    assert_error(api.get(MESSAGES, token=c.token, params={"conversationId": g["id"]}), 404,
                 "NOT_FOUND")
    # Removed members lose access at once, cached pages included.
    path = "%s/group/%s" % (MESSAGES, g["id"])
    assert_ok(api.get(path, token=b.token))
    assert_ok(api.get(path, token=b.token))
    assert_ok(api.delete("%s/%s/members/%s" % (GROUPS, g["id"], b.id), token=a.token))
    assert_error(api.get(path, token=b.token), 404, "NOT_FOUND")
    assert_error(api.get(murl(ids[0]), token=b.token), 404, "NOT_FOUND")


def test_cached_history_sees_changes(api, thirty):
    a, b, g, ids = thirty
    path = "%s/group/%s" % (MESSAGES, g["id"])
    first, _ = history(api, b, path, limit=5)
    again, _ = history(api, b, path, limit=5)
    assert first == again
    new = send(api, a, groupId=g["id"], content="fresh")
    after, p = history(api, b, path, limit=5)
    assert after[0]["id"] == new["id"] and p["total"] == 31
    assert_ok(api.patch(murl(new["id"]), json={"content": "fresh, edited"}, token=a.token))
    assert history(api, b, path, limit=5)[0][0]["content"] == "fresh, edited"
    assert_ok(api.post(murl(new["id"], "/react"), json={"emoji": THUMBS}, token=b.token))
    assert history(api, b, path, limit=5)[0][0]["reactions"][0]["reacted"] is True
    assert history(api, a, path, limit=5)[0][0]["reactions"][0]["reacted"] is False
    assert_ok(api.post(murl(new["id"], "/seen"), token=b.token))
    assert history(api, a, path, limit=5)[0][0]["status"] == "SEEN"
    assert_ok(api.delete(murl(new["id"]), token=a.token))
    assert history(api, b, path, limit=5)[0][0]["deleted"] is True


def test_large_history_pages_whole(api, make_user):
    # ~150 KB: several FastCGI records, and larger than the pages a
    # worker keeps a copy of; rendered first, then served from the cache.
    a = make_user()
    g = create_group(api, a)
    ids = [send(api, a, groupId=g["id"], content="%02d" % i + "x" * 4998)["id"]
           for i in range(30)]
    path = "%s/group/%s" % (MESSAGES, g["id"])
    for _ in range(3):
        r = api.get(path, token=a.token, params={"limit": 30})
        page = assert_ok(r)
        assert [m["id"] for m in page] == ids[::-1]
        assert all(m["content"] == "%02d" % i + "x" * 4998
                   for i, m in zip(range(29, -1, -1), page))
        assert int(r.headers["Content-Length"]) == len(r.content) > 150000
        h = api.head(path, token=a.token, params={"limit": 30})
        assert h.status_code == 200 and h.content == b""
        assert h.headers["Content-Length"] == r.headers["Content-Length"]


def test_direct_history(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    assert history(api, a, "%s/direct/%s" % (MESSAGES, b.id))[0] == []
    m1 = send(api, a, receiverId=b.id, content="1")
    m2 = send(api, b, receiverId=a.id, content="2")
    msgs, p = history(api, b, "%s/direct/%s" % (MESSAGES, a.id))
    assert [m["id"] for m in msgs] == [m2["id"], m1["id"]] and p["total"] == 2
    assert history(api, c, "%s/direct/%s" % (MESSAGES, a.id))[0] == []
    assert_error(api.get("%s/direct/%s" % (MESSAGES, "nope"), token=a.token), 404, "NOT_FOUND")


# -------------------------------------------------------- conversations

def test_conversation_list(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b], title="Team chat")
    dm = send(api, b, receiverId=a.id, content="dm first")
    send(api, b, groupId=g["id"], content="group later")
    r = api.get(CONVERSATIONS, token=a.token)
    items = assert_ok(r)
    assert [x["id"] for x in items] == [g["id"], dm["conversationId"]]
    assert items[0]["kind"] == "GROUP" and items[0]["title"] == "Team chat"
    assert items[0]["lastMessage"]["content"] == "group later"
    assert items[0]["unreadCount"] == 1 and items[0]["role"] == "OWNER"
    assert items[1]["kind"] == "DIRECT" and items[1]["peer"]["username"] == b.username
    assert items[1]["title"] == b.displayName
    assert r.parley_json["pagination"]["total"] == 2
    assert [x["id"] for x in assert_ok(api.get(CONVERSATIONS, token=a.token,
                                               params={"kind": "direct"}))] == [dm["conversationId"]]
    assert assert_ok(api.get(CONVERSATIONS, token=c.token)) == []
    assert_error(api.get(CONVERSATIONS, token=a.token, params={"unread": "maybe"}), 400,
                 "VALIDATION_ERROR")
    assert_error(api.get(CONVERSATIONS), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("path", [CONVERSATIONS, GROUPS, "/api/v1/chatrooms"])
@pytest.mark.parametrize("search", ["%ff", "%c3", "%ed%a0%80", "x" * 101])
def test_conversation_search_is_checked_text(api, make_user, path, search):
    """search must be UTF-8 text of at most 100 characters, as the users
    search asks: invalid bytes got 200 and an arbitrary (empty) page."""
    a = make_user()
    create_group(api, a, title="Team chat")
    assert_error(api.get("%s?search=%s" % (path, search), token=a.token), 400,
                 "VALIDATION_ERROR")
