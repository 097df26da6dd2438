"""Hostile frames at a running, authenticated bridge, through lighttpd.

tests/fuzz/fuzz_bridge_protocol.c fuzzes the frame parser alone; here the
whole path is exercised: lighttpd's proxy, the bridge's reassembly, the
action table, the pool and the services, on the stack's own bridge. For
every client action of docs/websocket.md the frames are broken in the ways
clients and attackers break them: wrong types in every field, missing
fields, huge strings (within and beyond the 4 KB frame limit), NUL and
lone surrogates, integers at the ends of int64 and past them, 1e308,
deep nesting, binary frames, duplicate keys, every JSON type as ackId,
other users' objects. A fixed list of rows plus mutations drawn from a
fixed seed: the same frames every run.

Each frame is followed by a ping on the same connection; everything
answered before its pong answers the frame. A row holds the bridge to:

  * exactly one answer, an `error` with a documented code (or the answer
    the row names), or the documented close code for frames that end the
    connection (1009 too large, 1002 forbidden by RFC 6455, 1008 a
    malformed ?since=);
  * the connection still answering (the pong);
  * no write to the database for a refused action (the outbox and the
    tables actions write, checksummed around each frame);
  * a bystander connection in the same group hearing nothing of it;
  * and, at the end, the same bridge process alive, with no warning or
    error in its log.
"""

import json
import os
import random
import struct
import uuid

import pytest
import requests
import websocket

from test_bridge import WS, connect, create_group, add_member, received, send_message

SEED = 20261121
# Counted frames per connection (events_per_minute is 100, ping is free).
FRAMES_PER_CONN = 80
# message:send per sender (messages_per_minute_per_chat is 30; refused
# sends count too, and every badly named chat shares one window).
SENDS_PER_USER = 25
MAX_FRAME = 4096

# docs/websocket.md: the codes a client action can be refused with.
DOCUMENTED = {"VALIDATION_ERROR", "NOT_FOUND", "FORBIDDEN", "INVALID_MESSAGE_FORMAT",
              "UNAUTHORIZED", "CONFLICT", "MESSAGE_TOO_LONG", "MESSAGE_EDIT_DENIED",
              "MESSAGE_DELETE_DENIED", "PAYLOAD_TOO_LARGE", "GONE"}
ANSWERS = {"ack", "error", "pong", "auth_response", "message:sent"}
TABLES = ("events", "messages", "message_edits", "reactions", "members", "conversations")

# Values of every JSON type, and the ones parsers get wrong. As JSON text,
# so integers past int64 and raw escapes go out exactly as written.
WRONG_TYPES = ["null", "true", "false", "0", "-1", "9223372036854775807",
               "-9223372036854775808", "1e308", "-1e308", "0.5", "[]", "{}",
               '["00000000-0000-0000-0000-000000000000"]', '{"id":{"id":{"id":1}}}',
               '""', '" "', '"x"', '"%s"' % ("x" * 3500), '"\\u00e9\\ud83d\\ude00"']
# Values the frame parser refuses wherever they sit (not JSON, or past
# what int64 and double hold, or NUL, lone surrogates, nesting past 16):
# the whole frame is INVALID_MESSAGE_FORMAT.
MALFORMED = ['9223372036854775808', '-9223372036854775809', '1e309', '"\\u0000"',
             '"a\\u0000b"', '"\\ud800"', '"\\udc00x"', '"\\ud83d"', "NaN", "Infinity",
             "'x'", "0x10", "01", '"\\x41"', '"tab\tin"', "[" * 40 + "]" * 40]


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def with_field(template, key, raw):
    """The frame text of template with data[key] replaced by raw JSON text
    (or removed when raw is None)."""
    data = {k: v for k, v in template["data"].items() if k != key}
    body = ",".join("%s:%s" % (json.dumps(k), dumps(v)) for k, v in data.items())
    if raw is not None:
        body += ("," if body else "") + "%s:%s" % (json.dumps(key), raw)
    return '{"type":%s,"data":{%s},"ackId":"f"}' % (json.dumps(template["type"]), body)


class Row:
    """A frame and what must come back. expect: a set of codes (an error
    with one of them), "ack", "none" (no answer: a typing frame without
    ackId), or None (one answer: an ack, or an error with a documented
    code)."""

    def __init__(self, name, payload, expect, binary=False, sender=False):
        self.name, self.payload, self.expect = name, payload, expect
        self.binary = binary
        self.sender = sender    # a message:send: counts against the user's windows

    def __repr__(self):
        p = self.payload if isinstance(self.payload, str) else repr(self.payload)
        return "%s: %s" % (self.name, p if len(p) < 200 else p[:197] + "...")


class World:
    """The users, groups and messages the rows name."""

    def __init__(self, api, make_user):
        self.api, self.make_user = api, make_user
        self.me, self.stranger, self.bystander = make_user(), make_user(), make_user()
        # The stranger owns the group: me may not moderate its messages.
        self.group = create_group(self.api, self.stranger, members=(self.me, self.bystander))
        self.private = create_group(self.api, self.stranger)
        self.mine = send_message(api, self.me, gid=self.group)["id"]
        self.theirs = send_message(api, self.stranger, gid=self.group)["id"]
        self.hidden = send_message(api, self.stranger, gid=self.private)["id"]
        self.senders = []

    def new_sender(self):
        u = self.make_user()
        add_member(self.api, self.stranger, self.group, u)
        self.senders.append(u)
        return u


class Prober:
    """One user's connections through lighttpd, one frame at a time."""

    def __init__(self, user):
        self.user, self.ws, self.left, self.n = user, None, 0, 0

    def conn(self):
        if self.ws is None or self.ws.closed or self.left <= 0:
            self.drop()
            self.ws = connect(self.user)
            self.left = FRAMES_PER_CONN
        return self.ws

    def drop(self):
        if self.ws is not None:
            self.ws.close()
            self.ws.wait_closed(10)
        self.ws = None

    def send(self, ws, row):
        if isinstance(row.payload, list):  # fragments: (opcode, data, fin)
            for op, data, fin in row.payload:
                ws.ws.send_frame(websocket.ABNF.create_frame(data, op, fin=fin))
        elif row.binary:
            ws.ws.send(row.payload, opcode=websocket.ABNF.OPCODE_BINARY)
        elif isinstance(row.payload, bytes):
            ws.ws.send(row.payload, opcode=websocket.ABNF.OPCODE_TEXT)
        else:
            ws.ws.send(row.payload)

    def probe(self, row):
        """The answers to row's frame, and the pong that follows them."""
        ws = self.conn()
        self.left -= 1
        self.n += 1
        start = len(ws.frames)
        marker = "probe-%d" % self.n
        self.send(ws, row)
        ws.send({"type": "ping", "ackId": marker})
        pong = ws.wait(lambda f: f.get("ackId") == marker, 15, "the pong after %r" % row)
        with ws.cv:
            got = ws.frames[start:ws.frames.index(pong)]
        return [f for f in got if f.get("type") in ANSWERS]


def db_state(db):
    """What a refused action must leave alone: the outbox's rows (the
    sequencer numbers them later, so their ids, not their checksum) and
    the other tables actions write."""
    with db.cursor() as c:
        c.execute("CHECKSUM TABLE " + ", ".join(TABLES[1:]))
        state = {r["Table"].split(".")[-1]: r["Checksum"] for r in c.fetchall()}
        c.execute("SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last FROM events")
        state["events"] = c.fetchone()
    return state


def rows_for(w):
    """The fixed rows, then seeded mutations of every action."""
    rnd = random.Random(SEED)
    g, mine, theirs, hidden = w.group, w.mine, w.theirs, w.hidden
    nobody = str(uuid.uuid4())
    templates = [
        {"type": "message:send", "data": {"groupId": g, "content": "hello"}},
        {"type": "message:edit", "data": {"messageId": mine, "content": "edited"}},
        {"type": "message:delete", "data": {"messageId": mine}},
        {"type": "message:delivered", "data": {"messageId": theirs}},
        {"type": "message:seen", "data": {"messageId": theirs}},
        {"type": "message:read", "data": {"messageId": theirs}},
        {"type": "message:react", "data": {"messageId": theirs, "emoji": "\U0001F44D"}},
        {"type": "typing:start", "data": {"groupId": g}},
        {"type": "typing:stop", "data": {"groupId": g}},
        {"type": "group:join", "data": {"groupId": g}},
        {"type": "group:leave", "data": {"groupId": g}},
        {"type": "resume", "data": {"since": 0}},
        {"type": "send_message", "data": {"groupId": g, "content": "hello"}},
        {"type": "join_chatroom", "data": {"chatroom_id": g}},
    ]
    rows = []
    add = rows.append
    FMT, VAL = {"INVALID_MESSAGE_FORMAT"}, {"VALIDATION_ERROR"}

    # -- the frame itself
    for name, text in [("empty", ""), ("space", " "), ("array", "[]"), ("string", '"ping"'),
                       ("number", "42"), ("null", "null"), ("truncated", '{"type":"ping"'),
                       ("trailing", '{"type":"ping"} x'), ("two objects", '{"type":"ping"}{}'),
                       ("deep", '{"type":"ping","data":' + '{"a":' * 40 + "1" + "}" * 41),
                       ("deep array", '{"type":"ping","x":' + "[" * 40 + "]" * 40 + "}"),
                       ("bom", "\ufeff{\"type\":\"ping\"}"),
                       ("NUL byte", '{"type":"ping"}\x00'),
                       ("NUL inside", '{"type":"pi\x00ng"}'),
                       ("escaped NUL", '{"type":"ping","x":"\\u0000"}'),
                       ("lone high surrogate", '{"type":"ping","x":"\\ud800"}'),
                       ("lone low surrogate", '{"type":"ping","x":"\\udfff"}'),
                       ("duplicate type", '{"type":"ping","type":"message:send","data":{}}'),
                       ("duplicate data key", '{"type":"message:delete","data":'
                        '{"messageId":"%s","messageId":"%s"}}' % (theirs, mine)),
                       ("duplicate ackId", '{"type":"ping","ackId":"a","ackId":"b"}'),
                       ("int past int64", '{"type":"ping","x":9223372036854775808}'),
                       ("real overflow", '{"type":"ping","x":1e309}')]:
        add(Row("frame: " + name, text, FMT))
    add(Row("frame: invalid UTF-8", b'{"type":"ping","x":"\xff\xfe"}', FMT))
    add(Row("frame: overlong UTF-8", b'{"type":"ping","x":"\xc0\xaf"}', FMT))
    add(Row("frame: UTF-8 surrogate", b'{"type":"ping","x":"\xed\xa0\x80"}', FMT))
    for name, text in [("no type", '{"data":{}}'), ("type null", '{"type":null}'),
                       ("type number", '{"type":1}'), ("type object", '{"type":{}}'),
                       ("type array", '{"type":["ping"]}'), ("type empty", '{"type":""}'),
                       ("unknown type", '{"type":"message:sendx","data":{}}'),
                       ("type case", '{"type":"PING"}'),
                       ("type with NUL-free junk", '{"type":"ping\\n"}'),
                       ("huge type", '{"type":"%s"}' % ("t" * 3900)),
                       ("data null", '{"type":"message:send","data":null}'),
                       ("data string", '{"type":"message:send","data":"x"}'),
                       ("data array", '{"type":"message:send","data":[]}'),
                       ("data number", '{"type":"message:send","data":1e308}')]:
        add(Row("frame: " + name, text, FMT))
    # -- binary frames: the protocol is JSON text
    add(Row("binary: ping", b'{"type":"ping"}', FMT, binary=True))
    add(Row("binary: message:send", dumps(templates[0]).encode(), FMT, binary=True))
    add(Row("binary: garbage", bytes(rnd.randrange(256) for _ in range(300)), FMT,
            binary=True))
    add(Row("binary: empty", b"", FMT, binary=True))

    # -- fragments: reassembled, then answered as one frame
    TEXT, CONT, PING = (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CONT,
                        websocket.ABNF.OPCODE_PING)
    stop = '{"type":"typing:stop","data":{"groupId":"%s"},"ackId":"f"}' % g
    add(Row("fragments: three", [(TEXT, stop[:10], 0), (CONT, stop[10:30], 0),
                                 (CONT, stop[30:], 1)], "ack"))
    add(Row("fragments: empty ones", [(TEXT, "", 0), (CONT, stop, 0), (CONT, "", 1)], "ack"))
    add(Row("fragments: a ping between", [(TEXT, stop[:20], 0), (PING, "hi", 1),
                                          (CONT, stop[20:], 1)], "ack"))
    add(Row("fragments: malformed whole", [(TEXT, stop[:20], 0), (CONT, "}", 1)], FMT))
    add(Row("fragments: binary", [(websocket.ABNF.OPCODE_BINARY, stop[:20], 0),
                                  (CONT, stop[20:], 1)], FMT))
    # -- flat frames (no data): the fields beside type are the data
    add(Row("flat typing:stop", '{"type":"typing:stop","groupId":"%s","ackId":"f"}' % g, "ack"))
    add(Row("flat message:send", '{"type":"message:send","groupId":"%s","content":"flat",'
            '"ackId":"f"}' % g, "ack", sender=True))
    add(Row("flat send_message", '{"event":"send_message","groupId":"%s","content":"flat",'
            '"ack_id":"f"}' % g, "ack", sender=True))
    add(Row("flat message:send, no content", '{"type":"message:send","groupId":"%s",'
            '"ackId":"f"}' % g, VAL, sender=True))

    # -- ackId of every type
    for raw in ['"a"', "7", "-9223372036854775808", "9223372036854775807", '""', "null"]:
        add(Row("ackId %s" % raw, '{"type":"typing:stop","data":{"groupId":"%s"},"ackId":%s}'
                % (g, raw), "ack" if raw != "null" else "none"))
    for raw in ["true", "false", "1.5", "1e308", "[]", "{}", '["a"]', '{"a":1}',
                '"%s"' % ("k" * 129), '"%s"' % ("k" * 3800)]:
        add(Row("ackId %s" % raw[:20], '{"type":"typing:stop","data":{"groupId":"%s"},'
                '"ackId":%s}' % (g, raw), VAL))
    for raw in MALFORMED[:6]:
        add(Row("ackId %s" % raw, '{"type":"ping","ackId":%s}' % raw, FMT))
    add(Row("ack_id spelling", '{"type":"typing:stop","data":{"groupId":"%s"},"ack_id":"s"}'
            % g, "ack"))

    # -- auth on an authenticated connection, whatever it carries
    for raw in ['"x"', "null", "1", "{}", '"%s"' % ("t" * 3900)]:
        add(Row("auth again %s" % raw[:10], '{"type":"auth","token":%s}' % raw, {"CONFLICT"}))

    # -- other users' objects
    for t, data, codes in [
            ("message:send", {"groupId": w.private, "content": "x"}, {"NOT_FOUND", "FORBIDDEN"}),
            ("message:send", {"groupId": nobody, "content": "x"}, {"NOT_FOUND"}),
            ("message:send", {"conversationId": w.private, "content": "x"}, {"NOT_FOUND",
                                                                            "FORBIDDEN"}),
            ("message:send", {"groupId": g, "content": "x", "parentId": hidden},
             {"NOT_FOUND", "VALIDATION_ERROR"}),
            ("message:edit", {"messageId": theirs, "content": "x"},
             {"FORBIDDEN", "MESSAGE_EDIT_DENIED"}),
            ("message:edit", {"messageId": hidden, "content": "x"}, {"NOT_FOUND"}),
            ("message:delete", {"messageId": theirs}, {"FORBIDDEN", "MESSAGE_DELETE_DENIED"}),
            ("message:delete", {"messageId": hidden}, {"NOT_FOUND"}),
            ("message:delivered", {"messageId": hidden}, {"NOT_FOUND"}),
            ("message:seen", {"messageId": hidden}, {"NOT_FOUND"}),
            ("message:react", {"messageId": hidden, "emoji": "\U0001F44D"}, {"NOT_FOUND"}),
            ("message:react", {"messageId": nobody, "emoji": "\U0001F44D"}, {"NOT_FOUND"}),
            ("typing:start", {"groupId": w.private}, {"NOT_FOUND"}),
            ("typing:start", {"receiverId": w.stranger.id}, {"NOT_FOUND"}),
            ("group:join", {"groupId": w.private}, {"NOT_FOUND"}),
            ("group:join", {"groupId": nobody}, {"NOT_FOUND"}),
            ("group:join", {"groupId": w.stranger.id}, {"NOT_FOUND"}),
            ("group:leave", {"groupId": w.private}, {"NOT_FOUND"})]:
        add(Row("foreign %s %s" % (t, sorted(data)), dumps({"type": t, "data": data,
                                                              "ackId": "o"}),
                codes, sender=t == "message:send"))

    # -- every field of every action: missing, each wrong type, malformed
    for tpl in templates:
        t = tpl["type"]
        send = t in ("message:send", "send_message")
        for key in tpl["data"]:
            add(Row("%s without %s" % (t, key), with_field(tpl, key, None), VAL, sender=send))
            for raw in WRONG_TYPES:
                add(Row("%s %s=%s" % (t, key, raw[:24]), with_field(tpl, key, raw),
                        value_answer(t, key, raw), sender=send))
            for raw in rnd.sample(MALFORMED, 4):
                add(Row("%s %s=%s" % (t, key, raw[:24]), with_field(tpl, key, raw), FMT))
        # a field no action knows, nested, beside valid ones: ignored
        add(Row("%s nested extras" % t, with_field(tpl, "extra", '{"a":{"b":[1,{"c":null}]}}'),
                "ack", sender=send))
    return rows


def value_answer(t, key, raw):
    """What data[key] = raw (valid JSON of the wrong type or shape) gets:
    VALIDATION_ERROR, or NOT_FOUND for a string that names nothing, except
    where the value happens to be valid (content is free text, a resume
    may name any seq from 0)."""
    text = raw.startswith('"')
    if t == "resume":
        return "ack" if raw in ("0", "9223372036854775807") else {"VALIDATION_ERROR"}
    if key == "content" and text and raw.strip('"').strip():
        return "ack"
    if key == "emoji" and text and raw.strip('"').strip():
        return None  # whether it is one emoji is the service's call
    return {"VALIDATION_ERROR", "NOT_FOUND"} if text else {"VALIDATION_ERROR"}


def check(row, answers):
    """Asserts the answers to row; returns True if it was refused."""
    kinds = [a.get("type") for a in answers]
    if kinds == ["ack", "message:sent"]:
        kinds = ["ack"]
    if row.expect == "none":
        assert kinds == [], "%r: wanted no answer, got %s" % (row, answers)
        return False
    assert len(kinds) == 1, "%r: wanted one answer, got %s" % (row, answers)
    if row.expect == "ack" or (row.expect is None and kinds == ["ack"]):
        assert kinds == ["ack"], "%r: wanted an ack, got %s" % (row, answers)
        return False
    assert kinds == ["error"], "%r: wanted an error, got %s" % (row, answers)
    err = answers[0]
    code = err["data"].get("code")
    allowed = row.expect if row.expect is not None else DOCUMENTED
    assert code in allowed, "%r: code %s, wanted one of %s (%s)" % (
        row, code, sorted(allowed), err["data"].get("message"))
    assert err.get("code") == code and isinstance(err["data"].get("message"), str), err
    if code != "INVALID_MESSAGE_FORMAT" and ('"ackId":"f"' in str(row.payload) or
                                             '"ackId":"o"' in str(row.payload)):
        assert err.get("ackId") in ("f", "o"), "%r: the error lost its ackId: %s" % (row, err)
    return True


def bridge_log():
    """The stack's bridge log (scripts/stack.sh keeps it in PARLEY_LOG_DIR)."""
    logs = os.environ.get("PARLEY_LOG_DIR") or pytest.skip("PARLEY_LOG_DIR is not set")
    path = os.path.join(logs, "bridge.log")
    assert os.path.exists(path), "no bridge log at %s" % path
    return path


@pytest.fixture
def world(api, make_user):
    return World(api, make_user)


def test_hostile_frames_are_refused_and_harm_nobody(world, db, api):
    w = world
    log = bridge_log()
    log_at = os.path.getsize(log)
    health = requests.get(os.environ["PARLEY_BRIDGE_URL"] + "/health", timeout=5).json()["data"]
    bystander = connect(w.bystander)
    me = Prober(w.me)
    sender, sends = None, SENDS_PER_USER
    refused, failed = 0, []
    for row in rows_for(w):
        p = me
        if row.sender:
            if sends >= SENDS_PER_USER:
                if sender:
                    sender.drop()
                sender, sends = Prober(w.new_sender()), 0
            sends += 1
            p = sender
        before = db_state(db)
        try:
            if check(row, p.probe(row)):
                refused += 1
                after = db_state(db)
                assert after == before, "%r was refused but wrote %s" % (
                    row, [t for t in TABLES if after[t] != before[t]])
        except AssertionError as e:  # every failing row is reported
            failed.append(str(e).split("\n")[0])
            p.drop()
        assert not bystander.closed, "the bystander was closed after %r" % row
    me.drop()
    if sender:
        sender.drop()
    assert not failed, "%d rows failed:\n%s" % (len(failed), "\n".join(failed))
    assert refused > 300, refused

    # Nothing reached the bystander but the group's own events.
    assert not bystander.of_type("error"), bystander.of_type("error")[:3]
    last = send_message(w.api, w.stranger, gid=w.group)
    bystander.wait(lambda f: received(bystander, last["id"]), 10, "the group's next message")
    pong = bystander.request("ping")
    assert pong["type"] == "pong"
    bystander.close()

    after = requests.get(os.environ["PARLEY_BRIDGE_URL"] + "/health", timeout=5).json()["data"]
    assert after["bridgeId"] == health["bridgeId"] and after["uptime"] >= health["uptime"], \
        "the bridge restarted: %s -> %s" % (health, after)
    with open(log, errors="replace") as f:
        f.seek(log_at)
        bad = [line for line in f if " error: " in line or " warn: " in line or
               "Sanitizer" in line or "runtime error" in line]
    assert not bad, "the bridge logged:\n" + "".join(bad[:20])


def close_rows(w):
    g = w.group
    pad = MAX_FRAME - len('{"type":"typing:stop","data":{"groupId":"%s"},"x":""}' % g)
    return [
        ("frame at the limit", '{"type":"typing:stop","data":{"groupId":"%s"},"x":"%s"}'
         % (g, "x" * pad), None),
        ("one byte over", '{"type":"typing:stop","data":{"groupId":"%s"},"x":"%s"}'
         % (g, "x" * (pad + 1)), 1009),
        ("64 KB", '{"type":"ping","x":"%s"}' % ("x" * 65536), 1009),
        ("1 MB binary", b"\x00" * (1 << 20), 1009),
        ("content over the limit", dumps({"type": "message:send", "data": {
            "groupId": g, "content": "y" * 5000}}), 1009),
    ]


def raw_frame(first, payload, length=None):
    """A masked frame, byte by byte: first is FIN, RSV and opcode."""
    n = len(payload) if length is None else length
    if n < 126:
        head = bytes([first, 0x80 | n])
    elif n < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack(">Q", n)
    key = b"\x5a\x17\x3c\x99"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


PROTOCOL_ERRORS = [  # RFC 6455 violations: libwebsockets closes with 1002
    ("reserved opcode 3", raw_frame(0x83, b"x")),
    ("reserved control opcode 0xB", raw_frame(0x8B, b"x")),
    ("RSV1 without an extension", raw_frame(0xC1, b'{"type":"ping"}')),
    ("RSV3", raw_frame(0x91, b'{"type":"ping"}')),
    ("continuation with nothing to continue", raw_frame(0x80, b'{"type":"ping"}')),
    ("fragmented ping", raw_frame(0x09, b"x")),
    ("text inside a fragmented text", raw_frame(0x01, b'{"type":') +
     raw_frame(0x81, b'{"type":"ping"}')),
    ("close code 1005 sent", raw_frame(0x88, b"\x03\xed")),
    ("close code 999", raw_frame(0x88, b"\x03\xe7")),
]


@pytest.mark.parametrize("i", range(5 + len(PROTOCOL_ERRORS)))
def test_frames_that_end_the_connection_harm_nobody(world, db, i):
    """Frames over 4096 bytes close with 1009 (one at the limit is read),
    frames the WebSocket protocol forbids with 1002; nothing is written,
    the bystander is not disturbed and the user connects again at once."""
    w = world
    if i < 5:
        name, payload, code = close_rows(w)[i]
    else:
        (name, payload), code = PROTOCOL_ERRORS[i - 5], 1002
    bystander = connect(w.bystander)
    state = db_state(db)
    ws = connect(w.me)
    if i >= 5:
        ws.ws.sock.sendall(payload)
    elif isinstance(payload, bytes):
        ws.ws.send(payload, opcode=websocket.ABNF.OPCODE_BINARY)
    else:
        ws.ws.send(payload)
    if code is None:
        pong = ws.request("ping")
        assert pong["type"] == "pong", name
        ws.close()
    else:
        assert ws.wait_closed(10) == code, name
    assert db_state(db) == state, "%s wrote to the database" % name
    pong = bystander.request("ping")
    assert pong["type"] == "pong" and not bystander.closed
    again = connect(w.me)
    assert again.request("ping")["type"] == "pong"
    again.close()
    bystander.close()


def test_refused_auth_frames_before_authentication(make_user):
    """auth with a token of the wrong type is a validation error and the
    connection may try again; a token that does not verify ends it (1008)."""
    u = make_user()
    for raw in ["null", "1", "-9223372036854775808", "1e308", "[]", "{}", '""', "true",
                '"%s"' % ("t" * 4097)[:3900]]:
        ws = WS()
        ws.send('{"type":"auth","token":%s,"ackId":"t"}' % raw)
        f = ws.wait(lambda f: f.get("ackId") == "t", 10, "the answer to auth %s" % raw[:20])
        if raw.startswith('"t'):
            assert f["type"] == "auth_response" and f["status"] == "error", f
            assert ws.wait_closed(10) == 1008
            continue
        assert f["type"] == "error" and f["data"]["code"] == "VALIDATION_ERROR", (raw, f)
        assert ws.request("ping")["type"] == "pong"
        ok = ws.request("auth", token=u.token)
        assert ok["type"] == "auth_response" and ok["status"] == "success", ok
        ws.close()


@pytest.mark.parametrize("since, ok", [
    ("0", True), ("9223372036854775807", True), ("-1", False), ("", False), ("abc", False),
    ("1e3", False), ("0x10", False), ("+5", False), ("%205", False),
    ("9223372036854775808", False), ("99999999999999999999", False)])
def test_since_in_the_url_is_a_seq_or_refused(make_user, since, ok):
    """?since= is what a resume frame's since is, a JSON integer from 0:
    anything else is VALIDATION_ERROR and 1008, not a guess."""
    u = make_user()
    ws = WS(url=os.environ["PARLEY_WS_URL"] + "?since=" + since, token=u.token)
    f = ws.wait(lambda f: f.get("type") in ("resumed", "resync_required", "error"), 10)
    if ok:
        assert f["type"] in ("resumed", "resync_required"), (since, f)
        assert ws.request("ping")["type"] == "pong"
        ws.close()
    else:
        assert f["type"] == "error" and f["data"]["code"] == "VALIDATION_ERROR", (since, f)
        assert ws.wait_closed(10) == 1008
