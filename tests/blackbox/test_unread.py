"""Unread counts in GET /groups, GET /conversations and ?unread=true:
others' live messages past the caller's read pointer, counted among the
newest 1,000 past it (src/core/unread_db.h), at a cost that does not
grow with what the caller has already read.
"""

from conv_util import CONVERSATIONS, GROUPS, MESSAGES, create_group, send
from parley_api import assert_ok


def group_row(api, user, gid):
    return next(g for g in assert_ok(api.get(GROUPS, token=user.token)) if g["id"] == gid)


def unread_ids(api, user):
    items = assert_ok(api.get(CONVERSATIONS, token=user.token, params={"unread": "true"}))
    return {c["id"] for c in items}


def insert_messages(db, gid, sender, n):
    """n messages by sender, 1 ms apart, ending now; no events."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO messages (id, conversation_id, sender_id, content, created_at)"
            " SELECT UUID(), %%s, %%s, CONCAT('filler ', seq),"
            " NOW(3) - INTERVAL (%d - seq) * 1000 MICROSECOND FROM seq_1_to_%d" % (n, n),
            (gid, sender.id))
        cur.execute("SELECT id FROM messages WHERE conversation_id = %s"
                    " ORDER BY created_at DESC, id DESC", (gid,))
        newest_first = [r["id"] for r in cur.fetchall()]
    db.commit()
    return newest_first


def test_own_and_deleted_messages_are_not_unread(api, make_user):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    m1 = send(api, b, groupId=g["id"], content="from b")
    send(api, a, groupId=g["id"], content="a answers without reading")
    # The last message is a's own, yet b's message before it is unread.
    row = group_row(api, a, g["id"])
    assert (row["unreadCount"], row["unreadCountCapped"]) == (1, False)
    assert g["id"] in unread_ids(api, a)
    assert_ok(api.post("%s/%s/seen" % (MESSAGES, m1["id"]), json={}, token=a.token))
    assert group_row(api, a, g["id"])["unreadCount"] == 0
    assert g["id"] not in unread_ids(api, a)
    # b sees a's message; once it is deleted, nothing is unread.
    m3 = send(api, a, groupId=g["id"], content="soon gone")
    assert group_row(api, b, g["id"])["unreadCount"] == 2
    assert_ok(api.delete("%s/%s" % (MESSAGES, m3["id"]), token=a.token))
    assert group_row(api, b, g["id"])["unreadCount"] == 1
    assert g["id"] in unread_ids(api, b)


def test_count_stops_at_1000_and_says_so(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    newest_first = insert_messages(db, g["id"], a, 1003)
    row = group_row(api, b, g["id"])
    assert (row["unreadCount"], row["unreadCountCapped"]) == (1000, True)
    conv = next(c for c in assert_ok(api.get(CONVERSATIONS, token=b.token))
                if c["id"] == g["id"])
    assert (conv["unreadCount"], conv["unreadCountCapped"]) == (1000, True)
    assert g["id"] in unread_ids(api, b)
    one = assert_ok(api.get("%s/%s" % (GROUPS, g["id"]), token=b.token))
    assert (one["unreadCount"], one["unreadCountCapped"]) == (1000, True)
    # The writer has nothing unread, however many messages are past its pointer.
    row = group_row(api, a, g["id"])
    assert (row["unreadCount"], row["unreadCountCapped"]) == (0, False)
    assert g["id"] not in unread_ids(api, a)
    # Exactly 1,000 past the pointer is a count, not a cap.
    assert_ok(api.post("%s/%s/seen" % (MESSAGES, newest_first[1000]), json={}, token=b.token))
    row = group_row(api, b, g["id"])
    assert (row["unreadCount"], row["unreadCountCapped"]) == (1000, False)
    assert_ok(api.post("%s/%s/seen" % (MESSAGES, newest_first[3]), json={}, token=b.token))
    row = group_row(api, b, g["id"])
    assert (row["unreadCount"], row["unreadCountCapped"]) == (3, False)


def test_list_cost_does_not_grow_with_read_history(api, make_user, db):
    """Before unread_db.c, each list counted unread messages by walking
    every index entry of the conversation from its first message: a
    member of a 300,000-message group paid ~45 ms per GET /groups with
    10 unread (tests/bench/data_scale.py). MariaDB's handler counters
    show the walk (index condition pushdown counts its rows in
    Handler_icp_attempts, not Handler_read_next): 20,000 messages of read
    history must not cost 20,000 index reads per list any more. Before
    the change this test read 20,008."""
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    newest_first = insert_messages(db, g["id"], a, 20000)
    assert_ok(api.post("%s/%s/seen" % (MESSAGES, newest_first[0]), json={}, token=b.token))
    send(api, a, groupId=g["id"], content="one new")

    def rows_read():
        with db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN"
                        " ('Handler_read_next', 'Handler_read_prev', 'Handler_icp_attempts')")
            return sum(int(r["Value"]) for r in cur.fetchall())

    for path, params in ((GROUPS, None), (CONVERSATIONS, None), (CONVERSATIONS, {"unread": "true"})):
        before = rows_read()
        items = assert_ok(api.get(path, token=b.token, params=params))
        read = rows_read() - before
        assert [x["unreadCount"] for x in items if x["id"] == g["id"]] == [1]
        assert read < 2000, (path, params, read)


def test_a_list_page_joins_only_its_own_rows(api, make_user, db):
    """GET /groups and GET /conversations (no search or unread filter)
    find the page from the conversations' last message times alone and
    join the last message, its sender and the peer for the page's rows
    only (group_db.c, LIST_KEYS); the total is a window count of the same
    keys. With every row joined, a member of 2,000 groups paid 45-70 ms per page and this
    test read 4,075 index keys for 300 groups (now about 1,070)."""
    u = make_user()
    with db.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE mine (id UUID PRIMARY KEY)")
        cur.execute("INSERT INTO mine SELECT UUID() FROM seq_1_to_300")
        cur.execute("INSERT INTO conversations (id, kind, title, created_by)"
                    " SELECT id, 'GROUP', 'many', %s FROM mine", (u.id,))
        cur.execute("INSERT INTO members (conversation_id, user_id, role)"
                    " SELECT id, %s, 'OWNER' FROM mine", (u.id,))
        cur.execute("INSERT INTO messages (id, conversation_id, sender_id, content, created_at)"
                    " SELECT UUID(), id, %s, 'hi', NOW(3) - INTERVAL FLOOR(RAND() * 1000) SECOND"
                    " FROM mine", (u.id,))
        cur.execute("DROP TEMPORARY TABLE mine")
    newest = send(api, u, groupId=create_group(api, u)["id"], content="newest")

    def keys_read():
        with db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name = 'Handler_read_key'")
            return int(cur.fetchone()["Value"])

    for path in (GROUPS, CONVERSATIONS):
        before = keys_read()
        r = api.get(path, token=u.token, params={"limit": 20})
        read = keys_read() - before
        items = assert_ok(r)
        assert r.parley_json["pagination"]["total"] == 301
        assert len(items) == 20 and items[0]["lastMessage"]["id"] == newest["id"]
        times = [x["lastMessage"]["createdAt"] for x in items]
        assert times == sorted(times, reverse=True)
        assert read < 2400, (path, read)


def test_filtered_lists_join_only_their_page(api, make_user, db):
    """?unread=true and ?search= find the page's keys with only what the
    filter needs (the newest message's place for unread, the title or the
    DM peer for search) and join the rest for the page's rows only; the
    total is a window count over the same keys (group_db.c, LIST_KEYS).
    With every conversation joined to its last message, sender and peer,
    then counted again the same way, a member of 2,000 groups paid 35-50
    ms per filtered page, and this test read 4,219 index keys (928 next
    entries) for ?unread=true and 3,323-3,504 keys for the searches; now
    about 1,750 and 380-590, under the unfiltered list's bound."""
    u, o = make_user(), make_user()
    with db.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE mine (id UUID PRIMARY KEY, n INT)")
        cur.execute("INSERT INTO mine SELECT UUID(), seq FROM seq_1_to_300")
        cur.execute("INSERT INTO conversations (id, kind, title, created_by)"
                    " SELECT id, 'GROUP', CONCAT(IF(n %% 10 = 0, 'needle ', 'many '), n), %s"
                    " FROM mine", (u.id,))
        cur.execute("INSERT INTO members (conversation_id, user_id, role)"
                    " SELECT id, %s, 'OWNER' FROM mine UNION ALL"
                    " SELECT id, %s, 'MEMBER' FROM mine", (u.id, o.id))
        # u's own message in each; o's after it (n % 3 = 1) or before it
        # (n % 3 = 2: unread behind u's own newest).
        cur.execute("INSERT INTO messages (id, conversation_id, sender_id, content, created_at)"
                    " SELECT UUID(), id, %s, 'mine', NOW(3) - INTERVAL n SECOND FROM mine"
                    " UNION ALL SELECT UUID(), id, %s, 'theirs',"
                    " NOW(3) - INTERVAL n SECOND + INTERVAL IF(n %% 3 = 1, 500, -500) * 1000"
                    " MICROSECOND FROM mine WHERE n %% 3 > 0", (u.id, o.id))
        # Everything read in every fifth.
        cur.execute("UPDATE members mb JOIN mine ON mine.id = mb.conversation_id AND mine.n %% 5 = 0"
                    " SET mb.last_read_at = (SELECT MAX(created_at) FROM messages x"
                    " WHERE x.conversation_id = mine.id),"
                    " mb.last_read_message_id = (SELECT x.id FROM messages x"
                    " WHERE x.conversation_id = mine.id ORDER BY x.created_at DESC LIMIT 1)"
                    " WHERE mb.user_id = %s", (u.id,))
        cur.execute("DROP TEMPORARY TABLE mine")
    peer = make_user(displayName="A Needle Peer")
    send(api, peer, receiverId=u.id, content="hello u")
    unread = [n for n in range(1, 301) if n % 5 and n % 3]

    def everything(path):
        out = []
        for page in (1, 2, 3, 4):
            out += assert_ok(api.get(path, token=u.token, params={"limit": 100, "page": page}))
        return out

    def handler_reads():
        with db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN"
                        " ('Handler_read_key', 'Handler_read_next')")
            return {r["Variable_name"]: int(r["Value"]) for r in cur.fetchall()}

    convs, groups = everything(CONVERSATIONS), everything(GROUPS)
    assert len(convs) == 301 and len(groups) == 300
    cases = (
        (CONVERSATIONS, {"unread": "true"}, [c for c in convs if c["unreadCount"] > 0]),
        (CONVERSATIONS, {"search": "needle"}, [c for c in convs if "needle" in c["title"].lower()]),
        (GROUPS, {"search": "NEEDLE"}, [g for g in groups if "needle" in g["title"]]),
        (CONVERSATIONS, {"search": "needle", "filter": "unread"},
         [c for c in convs if c["unreadCount"] > 0 and "needle" in c["title"].lower()]),
    )
    assert len(cases[0][2]) == len(unread) + 1 and len(cases[1][2]) == 31
    assert len(cases[3][2]) == 1 + len([n for n in unread if n % 10 == 0])
    for path, params, want in cases:
        before = handler_reads()
        r = api.get(path, token=u.token, params=dict(params, limit=20))
        after = handler_reads()
        keys = after["Handler_read_key"] - before["Handler_read_key"]
        nexts = after["Handler_read_next"] - before["Handler_read_next"]
        assert assert_ok(r) == want[:20], (path, params)
        assert r.parley_json["pagination"]["total"] == len(want)
        page2 = assert_ok(api.get(path, token=u.token, params=dict(params, limit=20, page=2)))
        assert page2 == want[20:40], (path, params)
        assert keys < 2400 and nexts < 500, (path, params, keys, nexts)
        # A page past the end has no row to carry the window count.
        r = api.get(path, token=u.token, params=dict(params, limit=20, page=99))
        assert assert_ok(r) == [] and r.parley_json["pagination"]["total"] == len(want)
    r = api.get(GROUPS, token=u.token, params={"limit": 100, "page": 9})
    assert assert_ok(r) == [] and r.parley_json["pagination"]["total"] == 300
