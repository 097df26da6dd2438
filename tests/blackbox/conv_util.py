"""Helpers for the conversation tests (groups, messages, search, authz).

    g = create_group(api, owner, members=[b, c], title="Team")
    m = send(api, a, groupId=g["id"], content="hi")
    evs = events(db, "message:received", target=g["id"])

Users are make_user() objects (conftest.py). Every helper asserts the
success status it expects and returns `data`.
"""

import json
import os
import re
import uuid

from parley_api import assert_ok

GROUPS = "/api/v1/groups"
MESSAGES = "/api/v1/messages"
CONVERSATIONS = "/api/v1/conversations"


def create_group(api, owner, members=(), status=201, **body):
    body.setdefault("title", "Group " + uuid.uuid4().hex[:8])
    if members:
        body["members"] = [m["id"] for m in members]
    return assert_ok(api.post(GROUPS, json=body, token=owner.token), status)


def add_member(api, actor, gid, user, role=None):
    body = {"userId": user["id"]}
    if role:
        body["role"] = role
    return assert_ok(api.post("%s/%s/members" % (GROUPS, gid), json=body, token=actor.token))


def send(api, user, status=201, headers=None, **body):
    body.setdefault("content", "message " + uuid.uuid4().hex[:8])
    return assert_ok(api.post(MESSAGES, json=body, token=user.token, headers=headers), status)


def history(api, user, path, **params):
    r = api.get(path, token=user.token, params=params)
    return assert_ok(r), r.parley_json["pagination"]


def events(db, type_=None, target=None, since=0):
    """Outbox rows (dicts with payload parsed), oldest first."""
    sql = "SELECT id, target_kind, target_id, type, payload FROM events WHERE id > %s"
    args = [since]
    if type_:
        sql += " AND type = %s"
        args.append(type_)
    if target:
        sql += " AND target_id = %s"
        args.append(target)
    with db.cursor() as c:
        c.execute(sql + " ORDER BY id", args)
        rows = list(c.fetchall())
    for r in rows:
        r["payload"] = json.loads(r["payload"])
        r["target_id"] = str(r["target_id"])
    return rows


def last_event_id(db):
    with db.cursor() as c:
        c.execute("SELECT COALESCE(MAX(id), 0) AS n FROM events")
        return c.fetchone()["n"]


def missing_id():
    """A well-formed UUIDv7-looking id that names nothing."""
    return "0193b7a4-6c2e-7d10-9f3a-%012x" % (uuid.uuid4().int & 0xffffffffffff)


WEBSOCKET_MD = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "websocket.md")


def documented_fields(type_):
    """The data fields docs/websocket.md's Events table gives event type_:
    the `names` of its data column, less those in parentheses (values and
    the contents of a field)."""
    with open(WEBSOCKET_MD, encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Events\n", 1)[-1].split("\n## ", 1)[0]
    if section != text:
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 3 and cells[0] == "`%s`" % type_:
                data = cells[2]
                while re.search(r"\([^()]*\)", data):
                    data = re.sub(r"\([^()]*\)", "", data)
                return set(re.findall(r"`([A-Za-z]+)`", data))
    raise AssertionError("docs/websocket.md documents no event %s" % type_)
