#!/usr/bin/python3
"""Request times that grow with the data others wrote: search and lists.

    eval "$(scripts/stack.sh env STATE)"; tests/bench/data_scale.py [MESSAGES [lists]]

Needs a running stack (scripts/stack.sh up STATE, any profile). Registers
users: "crowd" gets a group holding MESSAGES (default 300,000) messages
that all say "hello", one every 100 ms (inserted with SQL, so no events),
and "small" a group of five messages of which one says "hello". Two more
members of crowd's group: "reader" has seen all but the last 10 messages,
"neglect" none of them. It then prints the median and spread of 7
requests each:

    search "hello" as small   (the scan plan: 5 readable messages)
    search "hello" as crowd   (the FULLTEXT plan: MESSAGES readable)
    search a word no one wrote, as each
    GET /groups as small, crowd (who wrote them all), reader and neglect
    GET /conversations?unread=true as reader and neglect
    reader's history of crowd's group (newest 50, 50 before a time, page
    2,000 of 100) and GET /messages/{id}, each after a send by crowd, so
    no cached page answers

With "lists" it leaves out the searches.

Compare rows of one run with each other; the machine is shared.
"""
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "blackbox"))
from parley_api import mysql_connect  # noqa: E402

API = os.environ["PARLEY_URL"] + "/api/v1"
MESSAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 300000


def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def user(prefix):
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:8])
    password = "Bench-%s" % uuid.uuid4().hex
    status, _ = call("POST", "/auth/register", {"username": name, "email": name + "@bench.invalid",
                                                 "password": password})
    assert status == 201, status
    status, body = call("POST", "/auth/login", {"username": name, "password": password})
    assert status == 200, (status, body)
    return body["data"]["accessToken"], body["data"]["user"]["id"]


def group(token, title):
    status, body = call("POST", "/groups", {"title": title}, token)
    assert status == 201, (status, body)
    return body["data"]["id"]


def timed(token, path, n=7, bust=None):
    """bust: (token, group) sends a message before each request, so that
    no cached history page can answer it."""
    times = []
    for i in range(n):
        if bust:
            status, _ = call("POST", "/messages", {"groupId": bust[1], "content": "bust %d" % i},
                             bust[0])
            assert status == 201, status
        t = time.perf_counter()
        status, _ = call("GET", path, token=token)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status)
    return "median %8.1f ms  (min %.1f, max %.1f)" % (statistics.median(times), min(times),
                                                      max(times))


def main():
    (crowd, _), (small, _) = user("crowd"), user("small")
    (reader, reader_id), (neglect, neglect_id) = user("reader"), user("neglect")
    crowd_group, small_group = group(crowd, "crowd"), group(small, "small")
    for i in range(5):
        text = "hello there" if i == 0 else "quiet line %d" % i
        status, _ = call("POST", "/messages", {"groupId": small_group, "content": text}, small)
        assert status == 201, status
    status, body = call("POST", "/messages", {"groupId": crowd_group, "content": "seed"}, crowd)
    assert status == 201, status
    sender = body["data"]["senderId"] if "senderId" in body["data"] else body["data"]["sender"]["id"]
    conn = mysql_connect()
    with conn.cursor() as cur:
        t = time.perf_counter()
        cur.execute("INSERT INTO messages (id, conversation_id, sender_id, content, created_at)"
                    " SELECT UUID(), %%s, %%s, CONCAT('hello crowd number ', seq),"
                    " NOW(3) - INTERVAL (%d - seq) * 100000 MICROSECOND"
                    " FROM seq_1_to_%d" % (MESSAGES, MESSAGES), (crowd_group, sender))
        cur.execute("SELECT id FROM messages WHERE conversation_id = %s"
                    " ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 10", (crowd_group,))
        seen = list(cur.fetchone().values())[0]
        cur.execute("SELECT DATE_FORMAT(created_at, '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ') AS t"
                    " FROM messages WHERE id = %s", (seen,))
        seen_at = list(cur.fetchone().values())[0]
    conn.commit()
    for uid in (reader_id, neglect_id):
        status, body = call("POST", "/groups/%s/members" % crowd_group, {"userId": uid}, crowd)
        assert status == 200, (status, body)
    print("inserted %d messages in %.1f s" % (MESSAGES, time.perf_counter() - t))
    with conn.cursor() as cur:  # as if both had joined before it all
        cur.execute("UPDATE members SET last_read_at = NULL, last_read_message_id = NULL,"
                    " last_delivered_at = NULL, last_delivered_message_id = NULL"
                    " WHERE conversation_id = %s AND user_id IN (%s, %s)",
                    (crowd_group, reader_id, neglect_id))
    conn.commit()
    status, body = call("POST", "/messages/%s/seen" % seen, {}, reader)
    assert status == 200, (status, body)
    for name, token in (("crowd", crowd), ("reader", reader), ("neglect", neglect)):
        status, body = call("GET", "/groups", token=token)
        row = [g for g in body["data"] if g["id"] == crowd_group][0]
        print("%-8s sees unreadCount %s%s" % (name, row["unreadCount"],
                                              "+" if row.get("unreadCountCapped") else ""))
    rows = [
        ("search hello, small", small, "/messages/search?query=hello"),
        ("search hello, crowd", crowd, "/messages/search?query=hello"),
        ("search unwritten, small", small, "/messages/search?query=zyzzyva"),
        ("search unwritten, crowd", crowd, "/messages/search?query=zyzzyva"),
        ("GET /groups, small", small, "/groups"),
        ("GET /groups, crowd", crowd, "/groups"),
        ("GET /groups, reader", reader, "/groups"),
        ("GET /groups, neglect", neglect, "/groups"),
        ("unread convs, reader", reader, "/conversations?unread=true"),
        ("unread convs, neglect", neglect, "/conversations?unread=true"),
    ]
    if sys.argv[2:] == ["lists"]:
        rows = [row for row in rows if not row[0].startswith("search")]
    for name, token, path in rows:
        print("%-26s %s" % (name, timed(token, path)))
    history = "/groups/%s/messages?limit=" % crowd_group
    bust = (crowd, crowd_group)
    for name, path in (("history 50, reader", history + "50"),
                       ("history 50 before=, reader", history + "50&before=" + seen_at),
                       ("history page 2000 of 100", history + "100&page=2000"),
                       ("GET /messages/{id}", "/messages/" + seen)):
        print("%-26s %s" % (name, timed(reader, path, bust=bust)))


if __name__ == "__main__":
    main()
