"""History and single-message reads in a long conversation: the total
stops counting at 10,000 (pagination.totalCapped), and neither a page of
history nor GET /messages/{id} costs what the whole conversation holds
(src/core/message_db.c, "History").
"""

from conv_util import GROUPS, MESSAGES, create_group, send
from parley_api import assert_ok
from test_unread import insert_messages

TOTAL_MAX = 10000


def rows_read(db):
    """Index and row reads so far. An index entry that index condition
    pushdown looks at counts in Handler_icp_attempts, and again in
    Handler_read_next if it passes, so a walk of N entries reads 1-2 N."""
    with db.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_read_next',"
                    " 'Handler_read_prev', 'Handler_icp_attempts', 'Handler_read_key')")
        return sum(int(r["Value"]) for r in cur.fetchall())


def created_at(db, mid):
    """The ISO time of message mid: a before= cursor (SQL-made ids are not v7)."""
    with db.cursor() as cur:
        cur.execute("SELECT DATE_FORMAT(created_at, '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ') AS t"
                    " FROM messages WHERE id = %s", (mid,))
        return cur.fetchone()["t"]


def test_total_stops_at_10000_and_says_so(api, make_user, db):
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    newest_first = insert_messages(db, g["id"], a, TOTAL_MAX + 5)
    path = "%s/%s/messages" % (GROUPS, g["id"])
    for params in ({"limit": 50}, {"limit": 50, "type": "TEXT"},
                   {"limit": 50, "page": 201}, {"limit": 50, "status": "SENT"}):
        r = api.get(path, token=b.token, params=params)
        items = assert_ok(r)
        p = r.parley_json["pagination"]
        assert (p["total"], p["totalPages"], p.get("totalCapped")) == (TOTAL_MAX, 200, True), params
        assert r.headers["X-Pagination-Total"] == str(TOTAL_MAX)
        # hasMore and the cursor stay exact: page 201 holds messages 10,001-10,005.
        if params.get("page") == 201:
            assert [m["id"] for m in items] == newest_first[10000:]
            assert p["hasMore"] is False
        else:
            assert len(items) == 50 and p["hasMore"] is True and p["nextCursor"]
    # Past the cursor of message 10,000 are 5: an exact total again.
    r = api.get(path, token=b.token, params={"before": created_at(db, newest_first[9999]),
                                            "limit": 50})
    assert [m["id"] for m in assert_ok(r)] == newest_first[10000:]
    p = r.parley_json["pagination"]
    assert p["total"] == 5 and "totalCapped" not in p


def test_small_history_total_is_exact(api, make_user):
    a = make_user()
    g = create_group(api, a)
    for i in range(3):
        send(api, a, groupId=g["id"], content="m%d" % i)
    r = api.get("%s/%s/messages" % (GROUPS, g["id"]), token=a.token, params={"limit": 2})
    assert len(assert_ok(r)) == 2
    p = r.parley_json["pagination"]
    assert (p["total"], p["totalPages"], p["hasMore"]) == (3, 2, True)
    assert "totalCapped" not in p


def test_reads_do_not_walk_the_conversation(api, make_user, db):
    """Before the change, GET /messages/{id} counted the conversation's
    messages for nothing (40 ms in a 300,000-message group; 60,000+ reads
    here), and a history page counted all of them, with a row read each
    when a cursor was given (490 ms there). Now the count stops after
    10,001 index entries."""
    a, b = make_user(), make_user()
    g = create_group(api, a, members=[b])
    newest_first = insert_messages(db, g["id"], a, 60000)
    last = send(api, a, groupId=g["id"], content="the newest")
    reads = []
    for path, params in ((MESSAGES + "/" + last["id"], None),
                         ("%s/%s/messages" % (GROUPS, g["id"]), {"limit": 50}),
                         ("%s/%s/messages" % (GROUPS, g["id"]),
                          {"limit": 50, "before": created_at(db, newest_first[100])})):
        send(api, a, groupId=g["id"], content="no cached page")
        before = rows_read(db)
        assert_ok(api.get(path, token=b.token, params=params))
        reads.append(rows_read(db) - before)
    assert reads[0] < 1000, reads
    assert reads[1] < 25000 and reads[2] < 25000, reads
