"""A user whose last connection closed stays known to the bridge for a
minute (ws-bridge/bridge_rooms.c, USER_RETAIN_MS), so a reconnect does not
read its conversations again. Its rooms must stay current meanwhile: these
tests change memberships while the user is away and check what the next
connection hears, live and on resume."""

import time

from test_bridge import (WS, add_member, connect, create_group, received,  # noqa: F401
                         remove_member, send_message)


def test_memberships_changed_while_away_apply_on_reconnect(api, make_user):
    owner, m = make_user(), make_user()
    kept = create_group(api, owner, members=[m])
    left = create_group(api, owner, members=[m])
    joined = create_group(api, owner)
    ws = connect(m)
    seen = send_message(api, owner, gid=left)
    ws.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == seen["id"])
    since = ws.last_seq()
    ws.close()

    # Away: removed from one group, added to another.
    remove_member(api, owner, left, m)
    add_member(api, owner, joined, m)
    away_left = send_message(api, owner, gid=left)
    away_joined = send_message(api, owner, gid=joined)

    # Resume: what happened while away, for the groups it is in now.
    back = WS(token=m.token, since=since)
    back.authed()
    back.wait_type("resumed")
    back.wait(lambda f: f.get("type") == "message:received" and
              f["data"]["id"] == away_joined["id"])
    assert received(back, away_left["id"]) == []

    # Live: the new group is heard, the old one is not.
    live_left = send_message(api, owner, gid=left)
    live_kept = send_message(api, owner, gid=kept)
    live_joined = send_message(api, owner, gid=joined)
    back.wait(lambda f: f.get("type") == "message:received" and
              f["data"]["id"] == live_joined["id"])
    assert len(received(back, live_kept["id"])) == 1
    time.sleep(0.3)
    assert received(back, live_left["id"]) == []
    back.close()


def test_a_second_connection_of_a_known_user_hears_its_groups(api, make_user):
    owner, m = make_user(), make_user()
    gid = create_group(api, owner, members=[m])
    first = connect(m)
    second = connect(m)   # the user is known: its rooms are not read again
    msg = send_message(api, owner, gid=gid)
    for ws in (first, second):
        ws.wait(lambda f: f.get("type") == "message:received" and f["data"]["id"] == msg["id"])
    first.close()
    second.close()
