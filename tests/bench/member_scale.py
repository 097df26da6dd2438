#!/usr/bin/python3
"""Request times that grow with memberships: many groups, many members.

    eval "$(scripts/stack.sh env STATE)"; tests/bench/member_scale.py [GROUPS [MEMBERS]]

Needs a running stack (scripts/stack.sh up STATE, any profile). Registers
"busy", a member of GROUPS (default 2,000) groups with one message each
(inserted with SQL, up to a day old), and "owner" of a group of MEMBERS
(default 5,000) members, 1 % of them admins, joined over the last twelve
days. Then prints the median and spread of 9 requests each:

    GET /groups, ?page=20, GET /conversations   as busy
    GET /conversations?unread=true, /groups?search=  as busy (the filtered plan)
    GET /groups/{id} (500 members with presence), its /members (page 1 of
    20) and /members?limit=100&page=40           as owner

Compare rows of one run with each other; the machine is shared.
"""
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "blackbox"))
from data_scale import call, group, user  # noqa: E402
from parley_api import mysql_connect  # noqa: E402

GROUPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
MEMBERS = int(sys.argv[2]) if len(sys.argv) > 2 else 5000


def timed(name, token, path, n=9):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        status, body = call("GET", path, token=token)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status, body)
    print("%-28s median %7.1f ms  (min %.1f, max %.1f)" % (name, statistics.median(times),
                                                          min(times), max(times)))


def main():
    (busy, busy_id), (owner, _) = user("busy"), user("owner")
    big = group(owner, "big")
    tag = uuid.uuid4().hex[:8]
    conn = mysql_connect()
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE g (id UUID PRIMARY KEY)")
        cur.execute("INSERT INTO g SELECT UUID() FROM seq_1_to_%d" % GROUPS)
        cur.execute("INSERT INTO conversations (id, kind, title, created_by)"
                    " SELECT id, 'GROUP', 'g', %s FROM g", (busy_id,))
        cur.execute("INSERT INTO members (conversation_id, user_id, role)"
                    " SELECT id, %s, 'OWNER' FROM g", (busy_id,))
        cur.execute("INSERT INTO messages (id, conversation_id, sender_id, content, created_at)"
                    " SELECT UUID(), id, %s, 'hi there',"
                    " NOW(3) - INTERVAL FLOOR(RAND() * 86400) SECOND FROM g", (busy_id,))
        cur.execute("UPDATE conversations SET max_members = %s WHERE id = %s",
                    (MEMBERS + 100, big))
        cur.execute("INSERT INTO users (id, username) SELECT UUID(), CONCAT('m', seq, '_', %s)"
                    " FROM seq_1_to_" + str(MEMBERS), (tag,))
        cur.execute("INSERT INTO members (conversation_id, user_id, role, joined_at)"
                    " SELECT %s, id, IF(RAND() < 0.01, 'ADMIN', 'MEMBER'),"
                    " NOW(3) - INTERVAL FLOOR(RAND() * 1000000) SECOND"
                    " FROM users WHERE username LIKE %s", (big, "m%\\_" + tag))
    conn.commit()
    print("busy is in %d groups; owner's group has %d members" % (GROUPS, MEMBERS + 1))
    timed("GET /groups, busy", busy, "/groups")
    timed("GET /groups?page=20, busy", busy, "/groups?page=20")
    timed("GET /conversations, busy", busy, "/conversations")
    timed("?unread=true, busy", busy, "/conversations?unread=true")
    timed("/groups?search=g, busy", busy, "/groups?search=g")
    timed("GET /groups/{id}, owner", owner, "/groups/%s" % big)
    timed("members, page 1", owner, "/groups/%s/members" % big)
    timed("members, page 40 of 100", owner, "/groups/%s/members?limit=100&page=40" % big)


if __name__ == "__main__":
    main()
