#!/usr/bin/python3
"""MariaDB's CPU per message for ways of writing a send, without Parley.

    tests/bench/sql_send_cost.py STATE_DIR VARIANT [MESSAGES_PER_CLIENT] [CLIENTS]

STATE_DIR is a kept benchmark stack (`./quickstart bench --keep send` prints
it: /tmp/parley-bench-XXXX/stack). CLIENTS processes (default 16) each write
MESSAGES_PER_CLIENT messages (default 400) into one group of that stack with
durable commits, and the script prints messages/s and mariadbd's CPU time
per message (from /proc, so only this MariaDB is counted). Variants:

    call      CALL parley_message_send, one message per call (the lone send)
    batchN    CALL parley_message_send_batch with N messages (group commit)
    evonly    START TRANSACTION; INSERT INTO events; COMMIT (a floor)

The client speaks the text protocol (pymysql), Parley the binary one: use
the figures to compare variants with each other, not with the table.
"""
import json
import multiprocessing
import os
import sys
import time
import uuid

import pymysql

STATE, VARIANT = sys.argv[1], sys.argv[2]
PER_CLIENT = int(sys.argv[3]) if len(sys.argv) > 3 else 400
CLIENTS = int(sys.argv[4]) if len(sys.argv) > 4 else 16
ENV = {}
with open(os.path.join(STATE, "stack.env")) as f:
    for line in f:
        if line.startswith("export ") and "=" in line:
            k, v = line[7:].strip().split("=", 1)
            ENV[k] = v
PAYLOAD = json.dumps({"x": "y" * 300})


def connect():
    return pymysql.connect(unix_socket=ENV["PARLEY_MYSQL_SOCKET"], user="parley",
                           password=ENV["PARLEY_DB_PASSWORD"], database="parley",
                           autocommit=True)


def a_member():
    c = connect()
    with c.cursor() as cur:
        cur.execute("SELECT m.conversation_id, m.user_id FROM members m JOIN conversations c"
                    " ON c.id = m.conversation_id WHERE c.kind = 'GROUP' LIMIT 1")
        row = cur.fetchone()
    c.close()
    return row


CONV, USER = a_member()


def item():
    mid = str(uuid.uuid4())
    return {"id": mid, "conv": CONV, "sender": USER, "kind": "GROUP", "type": "TEXT",
            "content": "cost " + mid, "client": mid,
            "at": time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime()), "payload": PAYLOAD}


def client(_):
    c = connect()
    cur = c.cursor()
    batch = int(VARIANT[5:]) if VARIANT.startswith("batch") else 1
    for _ in range(0, PER_CLIENT, batch):
        if VARIANT == "call":
            m = item()
            cur.execute("CALL parley_message_send(%s, %s, %s, 'GROUP', 'TEXT', %s, NULL, NULL,"
                        " NULL, NULL, %s, NULL, %s, %s)", (m["id"], CONV, USER, m["content"],
                                                           m["client"], m["at"], PAYLOAD))
        elif VARIANT == "evonly":
            cur.execute("START TRANSACTION")
            cur.execute("INSERT INTO events (target_kind, target_id, type, payload)"
                        " VALUES ('CONVERSATION', %s, 'message:received', %s)", (CONV, PAYLOAD))
            cur.execute("COMMIT")
        else:
            cur.execute("CALL parley_message_send_batch(%s, %s)",
                        (json.dumps([item() for _ in range(batch)]), batch))
    c.close()


def mariadbd_ticks():
    with open(os.path.join(STATE, "run", "mariadbd.pid")) as f:
        pid = f.read().strip()
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    t0, c0 = time.time(), mariadbd_ticks()
    with multiprocessing.Pool(CLIENTS) as pool:
        pool.map(client, range(CLIENTS))
    t1, c1 = time.time(), mariadbd_ticks()
    n = PER_CLIENT * CLIENTS
    print("%s: %d messages in %.2f s = %.0f/s; mariadbd %.0f us of CPU per message" % (
        VARIANT, n, t1 - t0, n / (t1 - t0), (c1 - c0) / os.sysconf("SC_CLK_TCK") * 1e6 / n))


if __name__ == "__main__":
    main()
