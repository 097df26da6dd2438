"""Message retention: `parleyctl retention` (src/core/retention.h) deletes
the messages older than their conversation keeps them (a group's
settings.messageRetentionDays, else [retention] message_days), with their
reactions and edit history, invalidates cached history, and deletes the
outbox events older than the shortest retention in force."""

import uuid

from conv_util import GROUPS, MESSAGES, create_group, history, send
from parley_api import assert_error, assert_ok, mysql_connect, wait_until
from test_bridge import WS, insert_user_events, private_bridge  # noqa: F401


def word():
    return "w" + uuid.uuid4().hex[:12]


def backdate(db, message_ids, days):
    with db.cursor() as c:
        c.executemany("UPDATE messages SET created_at = created_at - INTERVAL %s DAY"
                      " WHERE id = %s", [(days, m) for m in message_ids])


def count(db, sql, *args):
    with db.cursor() as c:
        c.execute(sql, args)
        return list(c.fetchone().values())[0]


def run(parleyctl, *args, config=None):
    p = parleyctl("retention", *args, config=config)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def test_messages_past_a_groups_retention_go_with_their_reactions_and_edits(
        api, make_user, db, parleyctl):
    a, b = make_user(), make_user()
    short = create_group(api, a, members=[b], settings={"messageRetentionDays": 1})
    keeps = create_group(api, a, members=[b])
    old_word, new_word = word(), word()
    old = send(api, a, groupId=short["id"], content="old " + old_word)
    gone = send(api, b, groupId=short["id"], content="old and deleted")
    assert_ok(api.post("%s/%s/react" % (MESSAGES, old["id"]), json={"emoji": "👍"},
                       token=b.token))
    assert_ok(api.patch("%s/%s" % (MESSAGES, old["id"]), json={"content": "old, edited "
                                                              + old_word}, token=a.token))
    assert_ok(api.delete("%s/%s" % (MESSAGES, gone["id"]), token=b.token))
    new = send(api, a, groupId=short["id"], content="new " + new_word)
    other = send(api, a, groupId=keeps["id"], content="old elsewhere")
    direct = send(api, a, receiverId=b.id, content="old direct")
    backdate(db, [old["id"], gone["id"], other["id"], direct["id"]], 2)
    path = "%s/%s/messages" % (GROUPS, short["id"])
    items, _ = history(api, b, path)  # cached now
    assert {m["id"] for m in items} == {old["id"], gone["id"], new["id"]}

    out = run(parleyctl)

    assert "conversation %s (1 day(s)): 2 message(s) deleted" % short["id"] in out
    assert keeps["id"] not in out and direct["conversationId"] not in out
    items, page = history(api, b, path)
    assert [m["id"] for m in items] == [new["id"]] and page["total"] == 1
    assert_error(api.get("%s/%s" % (MESSAGES, old["id"]), token=a.token), 404)
    assert_error(api.get("%s/%s" % (MESSAGES, gone["id"]), token=b.token), 404)
    assert count(db, "SELECT COUNT(*) FROM reactions WHERE message_id = %s", old["id"]) == 0
    assert count(db, "SELECT COUNT(*) FROM message_edits WHERE message_id = %s", old["id"]) == 0
    found = assert_ok(api.get(MESSAGES + "/search", token=b.token,
                              params={"query": old_word, "groupId": short["id"]}))
    assert found == []
    found = assert_ok(api.get(MESSAGES + "/search", token=b.token,
                              params={"query": new_word, "groupId": short["id"]}))
    assert [r["id"] for r in found] == [new["id"]]
    # Without a setting of their own, and with message_days = 0: kept.
    assert_ok(api.get("%s/%s" % (MESSAGES, other["id"]), token=b.token))
    assert_ok(api.get("%s/%s" % (MESSAGES, direct["id"]), token=b.token))
    # Nothing left to do.
    assert short["id"] not in run(parleyctl)


def test_dry_run_counts_and_changes_nothing(api, make_user, db, parleyctl):
    a = make_user()
    g = create_group(api, a, settings={"messageRetentionDays": 3})
    m = [send(api, a, groupId=g["id"]) for _ in range(3)]
    backdate(db, [m[0]["id"], m[1]["id"]], 4)
    backdate(db, [m[2]["id"]], 2)  # within the three days

    out = run(parleyctl, "--dry-run")

    assert "conversation %s (3 day(s)): 2 message(s) past retention" % g["id"] in out
    for x in m:
        assert_ok(api.get("%s/%s" % (MESSAGES, x["id"]), token=a.token))
    assert "conversation %s (3 day(s)): 2 message(s) deleted" % g["id"] in run(parleyctl)
    assert_ok(api.get("%s/%s" % (MESSAGES, m[2]["id"]), token=a.token))


def test_the_install_default_applies_where_a_group_sets_none(
        api, make_user, db, parleyctl, parley_env, tmp_path):
    a, b = make_user(), make_user()
    plain = create_group(api, a)
    own = create_group(api, a, settings={"messageRetentionDays": 3})
    direct = send(api, a, receiverId=b.id)
    in_plain = send(api, a, groupId=plain["id"])
    in_own = send(api, a, groupId=own["id"])
    backdate(db, [direct["id"], in_plain["id"], in_own["id"]], 2)
    conf = tmp_path / "parley.conf"
    conf.write_text(open(parley_env["PARLEY_CONFIG"], encoding="utf-8").read().rstrip("\n") +
                    "\n\n[retention]\nmessage_days = 1\n", encoding="utf-8")

    out = run(parleyctl, config=conf)

    assert "conversation %s (1 day(s)): 1 message(s) deleted" % plain["id"] in out
    assert "conversation %s (1 day(s)): 1 message(s) deleted" % direct["conversationId"] in out
    assert own["id"] not in out
    assert_error(api.get("%s/%s" % (MESSAGES, direct["id"]), token=b.token), 404)
    assert_error(api.get("%s/%s" % (MESSAGES, in_plain["id"]), token=a.token), 404)
    assert_ok(api.get("%s/%s" % (MESSAGES, in_own["id"]), token=a.token))


def test_one_run_at_a_time(api, make_user, db, parleyctl):
    a = make_user()
    g = create_group(api, a, settings={"messageRetentionDays": 1})
    m = send(api, a, groupId=g["id"])
    backdate(db, [m["id"]], 2)
    holder = mysql_connect()
    try:
        with holder.cursor() as c:
            c.execute("SELECT GET_LOCK('parley.retention', 0) AS got")
            assert c.fetchone()["got"] == 1
        out = run(parleyctl)
        assert "another retention run is in progress" in out
        assert_ok(api.get("%s/%s" % (MESSAGES, m["id"]), token=a.token))
    finally:
        holder.close()
    assert "conversation %s" % g["id"] in run(parleyctl)
    assert_error(api.get("%s/%s" % (MESSAGES, m["id"]), token=a.token), 404)


def test_usage(parleyctl):
    p = parleyctl("retention", "--all")
    assert p.returncode == 2 and "retention" in p.stderr
    p = parleyctl("retention", "--help")
    assert p.returncode == 0 and "--dry-run" in p.stdout + p.stderr


def test_events_older_than_the_shortest_retention_go_and_resumes_resync(
        api, make_user, db, parleyctl, private_bridge):  # noqa: F811
    a, u = make_user(), make_user()
    create_group(api, a, settings={"messageRetentionDays": 1})
    # One bridge replays from the database only, one from its ring too,
    # which keeps the events after the database purged them.
    bridges = [private_bridge(replay_buffer=0), private_bridge(replay_buffer=1000)]
    seqs = insert_user_events(db, u.id, 4)
    for b in bridges:
        wait_until(lambda: b.health()["seq"] >= seqs[-1], 10, what="the bridge to read them")
    with db.cursor() as c:  # everything up to seqs[1] was written two days ago
        c.execute("UPDATE events SET created_at = NOW(3) - INTERVAL 2 DAY WHERE pos <= %s",
                  (seqs[1],))
    old = count(db, "SELECT COUNT(*) FROM events WHERE pos <= %s", seqs[1])

    out = run(parleyctl)

    assert "%d event(s) deleted; shortest retention 1 day(s)" % old in out
    assert count(db, "SELECT COUNT(*) FROM events WHERE pos <= %s", seqs[1]) == 0
    assert count(db, "SELECT COUNT(*) FROM events WHERE pos >= %s", seqs[2]) >= 2

    def resume(bridge):
        ws = WS(url=bridge.url, token=u.token, since=seqs[0] - 1)
        ws.authed()
        f = ws.wait(lambda f: f.get("type") in ("resumed", "resync_required"), 10)
        ws.close()
        return f
    for b in bridges:  # the ring learns the oldest stored position every 5 s
        f = wait_until(lambda: (lambda f: f if f["type"] == "resync_required" else None)(
            resume(b)), 15, interval=1, what="a resync from %s" % b.url)
        assert f["data"]["since"] == seqs[0] - 1

    # The newest event stays whatever its age, so positions never restart.
    newest = count(db, "SELECT MAX(pos) FROM events")
    with db.cursor() as c:
        c.execute("UPDATE events SET created_at = NOW(3) - INTERVAL 2 DAY")
    run(parleyctl)
    assert count(db, "SELECT COUNT(*) FROM events WHERE pos IS NOT NULL") == 1
    assert count(db, "SELECT MAX(pos) FROM events") == newest


def group_rows(db, gid):
    """Rows a group holds in each table, by table."""
    tables = {
        "conversations": "SELECT COUNT(*) FROM conversations WHERE id = %s",
        "members": "SELECT COUNT(*) FROM members WHERE conversation_id = %s",
        "messages": "SELECT COUNT(*) FROM messages WHERE conversation_id = %s",
        "reactions": "SELECT COUNT(*) FROM reactions r JOIN messages m ON m.id = r.message_id"
                     " WHERE m.conversation_id = %s",
        "message_edits": "SELECT COUNT(*) FROM message_edits e JOIN messages m"
                         " ON m.id = e.message_id WHERE m.conversation_id = %s",
        "invitations": "SELECT COUNT(*) FROM invitations WHERE conversation_id = %s",
    }
    return {t: count(db, sql, gid) for t, sql in tables.items()}


def deleted_group(api, db, owner, member, days_ago):
    """A group with a message, a reaction, an edit and an invitation,
    deleted days_ago days ago."""
    g = create_group(api, owner, members=[member])
    m = send(api, owner, groupId=g["id"], content="said before the end")
    send(api, member, groupId=g["id"], content="me too")
    assert_ok(api.post("%s/%s/react" % (MESSAGES, m["id"]), json={"emoji": "👍"},
                       token=member.token))
    assert_ok(api.patch("%s/%s" % (MESSAGES, m["id"]), json={"content": "edited"},
                        token=owner.token))
    assert_ok(api.post("%s/%s/invitations" % (GROUPS, g["id"]), json={}, token=owner.token), 201)
    assert_ok(api.delete("%s/%s" % (GROUPS, g["id"]), token=owner.token))
    with db.cursor() as c:
        c.execute("UPDATE conversations SET deleted_at = NOW(3) - INTERVAL %s DAY"
                  " WHERE id = %s", (days_ago, g["id"]))
    return g


def test_a_group_deleted_long_enough_ago_is_purged_whole(api, make_user, db, parleyctl):
    a, b = make_user(), make_user()
    old = deleted_group(api, db, a, b, 31)
    recent = deleted_group(api, db, a, b, 29)
    live = create_group(api, a, members=[b])
    said = send(api, a, groupId=live["id"])
    held = {"conversations": 1, "members": 2, "messages": 2, "reactions": 1,
            "message_edits": 1, "invitations": 1}
    assert group_rows(db, old["id"]) == held

    out = run(parleyctl, "--dry-run")

    assert ("group %s (deleted over 30 day(s) ago): 2 message(s) and the group to purge"
            % old["id"]) in out
    assert recent["id"] not in out and live["id"] not in out
    assert group_rows(db, old["id"]) == held

    out = run(parleyctl)

    assert ("group %s (deleted over 30 day(s) ago): 2 message(s) deleted, group purged"
            % old["id"]) in out
    assert group_rows(db, old["id"]) == dict.fromkeys(held, 0)
    assert group_rows(db, recent["id"]) == held
    assert_error(api.get("%s/%s" % (GROUPS, old["id"]), token=a.token), 404)
    assert old["id"] not in {g["id"] for g in assert_ok(api.get(GROUPS, token=b.token))}
    assert_ok(api.get("%s/%s" % (MESSAGES, said["id"]), token=b.token))
    assert old["id"] not in run(parleyctl)


def test_deleted_group_days_zero_keeps_deleted_groups(
        api, make_user, db, parleyctl, parley_env, tmp_path):
    a, b = make_user(), make_user()
    g = deleted_group(api, db, a, b, 400)
    conf = tmp_path / "parley.conf"
    conf.write_text(open(parley_env["PARLEY_CONFIG"], encoding="utf-8").read().rstrip("\n") +
                    "\n\n[retention]\ndeleted_group_days = 0\n", encoding="utf-8")

    assert g["id"] not in run(parleyctl, config=conf)

    assert group_rows(db, g["id"])["messages"] == 2
    assert "group %s" % g["id"] in run(parleyctl)


def test_purging_a_group_deletes_the_events_holding_its_messages(
        api, make_user, db, parleyctl, parley_env, tmp_path):
    """Events keep message payloads for resumes: where they are kept longer
    than a deleted group, the purge takes them down to deleted_group_days."""
    a, b = make_user(), make_user()
    g = deleted_group(api, db, a, b, 3)
    with db.cursor() as c:
        c.execute("UPDATE events SET created_at = NOW(3) - INTERVAL 4 DAY"
                  " WHERE target_id = %s AND pos IS NOT NULL", (g["id"],))
    aged = count(db, "SELECT COUNT(*) FROM events WHERE target_id = %s AND pos IS NOT NULL"
                 " AND created_at < NOW(3) - INTERVAL 2 DAY", g["id"])
    assert aged >= 3
    conf = tmp_path / "parley.conf"
    conf.write_text(open(parley_env["PARLEY_CONFIG"], encoding="utf-8").read().rstrip("\n") +
                    "\n\n[bridge]\nevent_retention_days = 30\n"
                    "\n[retention]\ndeleted_group_days = 2\n", encoding="utf-8")

    out = run(parleyctl, config=conf)

    assert "group %s (deleted over 2 day(s) ago)" % g["id"] in out
    assert count(db, "SELECT COUNT(*) FROM events WHERE target_id = %s"
                 " AND created_at < NOW(3) - INTERVAL 2 DAY", g["id"]) == 0
