#!/usr/bin/python3
"""Request times that grow with the data others wrote: search and lists.

    eval "$(scripts/stack.sh env STATE)"; tests/bench/data_scale.py [MESSAGES]

Needs a running stack (scripts/stack.sh up STATE, any profile). Registers
two users: "crowd" gets a group holding MESSAGES (default 300,000)
messages that all say "hello" (inserted with SQL, so no events), and
"small" a group of five messages of which one says "hello". It then
prints the median and spread of 7 requests each:

    search "hello" as small   (the scan plan: 5 readable messages)
    search "hello" as crowd   (the FULLTEXT plan: MESSAGES readable)
    search a word no one wrote, as each
    GET /groups as each       (unread counts: crowd never read its group)

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
    return body["data"]["accessToken"]


def group(token, title):
    status, body = call("POST", "/groups", {"title": title}, token)
    assert status == 201, (status, body)
    return body["data"]["id"]


def timed(token, path, n=7):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = call("GET", path, token=token)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status)
    return "median %8.1f ms  (min %.1f, max %.1f)" % (statistics.median(times), min(times),
                                                      max(times))


def main():
    crowd, small = user("crowd"), user("small")
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
        cur.execute("INSERT INTO messages (id, conversation_id, sender_id, content)"
                    " SELECT UUID(), %%s, %%s, CONCAT('hello crowd number ', seq)"
                    " FROM seq_1_to_%d" % MESSAGES, (crowd_group, sender))
    conn.commit()
    print("inserted %d messages in %.1f s" % (MESSAGES, time.perf_counter() - t))
    rows = [
        ("search hello, small", small, "/messages/search?query=hello"),
        ("search hello, crowd", crowd, "/messages/search?query=hello"),
        ("search unwritten, small", small, "/messages/search?query=zyzzyva"),
        ("search unwritten, crowd", crowd, "/messages/search?query=zyzzyva"),
        ("GET /groups, small", small, "/groups"),
        ("GET /groups, crowd", crowd, "/groups"),
    ]
    for name, token, path in rows:
        print("%-26s %s" % (name, timed(token, path)))


if __name__ == "__main__":
    main()
