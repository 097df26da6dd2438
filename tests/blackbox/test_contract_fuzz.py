"""Hostile input on every operation of docs/openapi.yaml.

The cases are derived from the document at collection time, so a new
route is covered as soon as it is documented. For every operation with a
request body and/or path or query parameters:

  body   each property (one level into nested objects) gets wrong JSON
         types, empty / 100 KB / NUL / lone-surrogate / badly escaped /
         RTL and zero-width strings, numbers at and past +-2^63, 1e308,
         -0, 1.5, negatives; the whole body gets [], null, "x", {}, each
         required property left out, an unknown property, a duplicate
         key, deep nesting, bytes that are not UTF-8 or not JSON, and a
         non-JSON Content-Type.
         Id properties also get ids naming nothing or someone else, and
         id lists one bad, missing or repeated entry.
  path   each parameter gets an over-long id, a non-id, %00, .., a real
         id followed by NUL or junk, unicode, and an object of another
         user (which must not be reachable).
  query  each parameter is repeated, empty, huge, of the wrong type, NUL,
         non-UTF-8 or malformed percent-encoding.
  header each header parameter (Idempotency-Key) is empty, too long, or
         holds spaces, control or non-ASCII characters.

Every request is made by a user who owns the objects the route names (a
group with a member, a DM, messages, invitations, a pending join
request), so it gets past the 404s into the handlers, and the whole-body
and path cases are also made anonymously. Every answer must be below 500,
carry the error envelope when it is a 4xx and match the contract
(openapi_check via parley_api.check_response). A rejected write must not
change the database (a partial write): for a sample of the rejected
writes (SAMPLED) a snapshot compares the row counts of every
conversation table and the rows of the objects the cases aim at. Cases
whose URL holds %00 also go through Apache (which, unlike lighttpd,
hands such a query to parley-fcgi). At the end the stack must still be
ready and the fcgi, web server and bridge logs must hold no crash.
Deterministic: no randomness; the cases are a pure function of the
document, and the world's objects are made afresh per run.
"""

import itertools
import json
import os
import pathlib
import re
import urllib.parse
import uuid

import pytest
import requests
import yaml

from openapi_check import ContractViolation
from parley_api import ApiClient, check_response

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
METHODS = ("get", "put", "post", "patch", "delete")
HUGE = 100 * 1024


def resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = DOC
        for tok in obj["$ref"][2:].split("/"):
            node = node[tok]
        obj = node
    return obj


# ------------------------------------------------------------ mutations
# Raw JSON tokens (bytes) put in place of one property's value.
def _s(text):
    return json.dumps(text).encode()


# Every property gets the wrong JSON types; string properties also the
# hostile strings, numeric ones the edge numbers, id properties ids that
# name nothing, someone else or a list with one bad entry. A property of
# no declared type gets them all.
TYPE_MUTATIONS = {
    "str": b'"fuzz"',
    "int": b"42",
    "true": b"true",
    "null": b"null",
    "array": b'["x", 1]',
    "empty_array": b"[]",
    "object": b'{"a": 1}',
    "empty_object": b"{}",
}
STRING_MUTATIONS = {
    "empty_str": b'""',
    "huge_str": b'"' + b"a" * HUGE + b'"',
    "nul": b'"a\\u0000b"',
    "lone_high_surrogate": b'"x\\ud800y"',
    "lone_low_surrogate": b'"\\udc00"',
    "reversed_pair": b'"\\udfff\\ud800"',
    "bad_escape": b'"\\u12G4"',
    "bad_escape_x": b'"\\x41"',
    "raw_invalid_utf8": b'"\xff\xfe\xc0\xaf"',
    "rtl_zero_width": _s("\u202egnp.exe\u200b\u200f\ufeff\u2066"),
    "zero_width_only": _s("\u200b\u200c\u200d"),
    "int64_max": b"9223372036854775807",
    "1.5": b"1.5",
}
NUMBER_MUTATIONS = {
    "int64_max": b"9223372036854775807",
    "int64_max_plus_1": b"9223372036854775808",
    "int64_min": b"-9223372036854775808",
    "int64_min_minus_1": b"-9223372036854775809",
    "uint64_overflow": b"18446744073709551616",
    "1e308": b"1e308",
    "-1e308": b"-1e308",
    "1e309": b"1e309",
    "minus_zero": b"-0",
    "minus_zero_real": b"-0.0",
    "1.5": b"1.5",
    "negative": b"-1",
    "zero": b"0",
    "2^31": b"2147483648",
    "2^32": b"4294967296",
    "empty_str": b'""',
    "numeric_str": b'"5"',
}
ID_MUTATIONS = {
    "missing_id": b'"{missing}"',
    "other_users_id": b'"{other}"',
    "own_id": b'"{owner}"',
    "upper_id": b'"{peer_upper}"',
    "id_with_nul": b'"{peer}\\u0000"',
}
ID_LIST_MUTATIONS = {
    "list_one_missing": b'["{peer}", "{missing}"]',
    "list_one_bad": b'["{peer}", "x"]',
    "list_duplicates": b'["{peer}", "{peer}"]',
    "list_too_long": b"[" + b", ".join([b'"{peer}"'] * 201) + b"]",
    "list_of_null": b"[null]",
}
VALUE_MUTATIONS = {**TYPE_MUTATIONS, **STRING_MUTATIONS, **NUMBER_MUTATIONS, **ID_MUTATIONS,
                   **ID_LIST_MUTATIONS}


def json_types(schema):
    """The JSON types a property schema allows (empty: unknown)."""
    schema = resolve(schema)
    out = set()
    t = schema.get("type")
    out.update(t if isinstance(t, list) else [t] if t else [])
    for sub in schema.get("oneOf", []) + schema.get("anyOf", []):
        out |= json_types(sub)
    return out


def is_id(schema):
    schema = schema or {}
    if "$ref" in schema:
        return schema["$ref"].endswith("/Uuid")
    return any(is_id(s) for s in schema.get("oneOf", []) + schema.get("anyOf", []))


def mutations_for(schema):
    types = json_types(schema)
    out = list(TYPE_MUTATIONS)
    if not types or "string" in types:
        out += STRING_MUTATIONS
    if not types or types & {"integer", "number"}:
        out += NUMBER_MUTATIONS
    if is_id(schema):
        out += ID_MUTATIONS
    if "array" in types and is_id(resolve(schema).get("items")):
        out += ID_LIST_MUTATIONS
    return list(dict.fromkeys(out))


# Whole bodies, relative to the base body of the operation.
WHOLE_BODIES = {
    "array": b"[]",
    "null": b"null",
    "string": b'"x"',
    "number": b"0",
    "true": b"true",
    "empty_object": b"{}",
    "empty": b"",
    "not_json": b"abc",
    "truncated": b'{"a": ',
    "trailing_garbage": None,  # base + b" x"
    "duplicate_key": None,     # first base key twice
    "unknown_property": None,  # base + "zzUnknown"
    "deep_nesting": b"[" * 200 + b"]" * 200,
    "deep_object": None,       # base + 40 nested objects
    "utf16": None,             # base encoded as UTF-16
    "bom": None,               # UTF-8 BOM + base
    "text_plain": None,        # base with Content-Type: text/plain
}

PATH_MUTATIONS = {
    "too_long": "a" * 4000,
    "long_hex": "0" * 300,
    "not_an_id": "not-an-id",
    "nul": "%00",
    "id_nul": "{id}%00",
    "id_trailing_junk": "{id}x",
    "id_upper_junk": "{id}%00junk",
    "dotdot": "..",
    "dotdot_encoded": "%2E%2E",
    "slash_encoded": "a%2Fb",
    "unicode": urllib.parse.quote("\u202eé\u200b日本"),
    "bad_utf8": "%FF%FE",
    "bad_percent": "%zz",
    "negative": "-1",
    "int64": "9223372036854775808",
    "uuid_nil": "00000000-0000-0000-0000-000000000000",
    "uuid_braced": "%7B{id}%7D",
    "other_users": None,  # an object of another user
}

HEADER_MUTATIONS = {
    "empty": "",
    "too_long": "k" * 4000,
    "spaces": "a b\tc",
    "control": "a\x7fb",
    "latin1": "caf\xe9",
    "quotes": "'\\\"",
}

QUERY_MUTATIONS = {
    "repeated": None,
    "empty": "",
    "huge": "a" * 4000,
    "nul": "%00",
    "wrong_type": "abc",
    "negative": "-1",
    "int64_max": "9223372036854775807",
    "int64_overflow": "9223372036854775808",
    "float": "1.5",
    "unicode": urllib.parse.quote("\u202e日本\u200b"),
    "bad_utf8": "%FF%FE",
    "bad_percent": "%zz",
}

# ------------------------------------------------------------ the world
# Which object a path parameter names: the literal segment before it.
PARAM_KIND = {
    "users": "self", "direct": "peer", "groups": "group", "chatrooms": "group",
    "group": "group", "messages": "message", "members": "member",
    "join-requests": "requester", "invitations": "invite", "join": "code",
}


def param_kind(template, name):
    before = template.split("{%s}" % name, 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return PARAM_KIND.get(before)


# Query values that make a list reach its query (others are left out).
BASE_QUERY = {
    "conversationId": "group", "groupId": "group", "query": "hello", "q": "hello",
}

# Bodies that get a request past the 404s, keyed by request schema; the
# values are str.format templates over World.ids. A schema not listed here
# uses its first example (new operations are fuzzed too).
BASE_BODY = {
    "RegisterRequest": {"username": "{fresh}", "email": "{fresh}@example.com",
                        "password": "Passw0rd-fuzz", "displayName": "Fuzz"},
    "LoginRequest": {"login": "{login_name}", "password": "{login_password}"},
    "RefreshRequest": {"refreshToken": "{refresh_token}"},
    "LogoutRequest": {},
    "UserUpdate": {"displayName": "Fuzz {fresh}"},
    "GroupCreateRequest": {"title": "fuzz", "members": ["{peer}"], "settings": {"allowInvites": True}},
    "GroupUpdateRequest": {"title": "fuzz renamed", "settings": {"allowInvites": True}},
    "MemberAddRequest": {"userId": "{addable}", "role": "MEMBER"},
    "MemberRoleRequest": {"role": "MODERATOR"},
    "InvitationRequest": {"maxUses": 5, "expiresInHours": 48, "title": "fuzz"},
    "MessageSendRequest": {"groupId": "{group}", "content": "hello fuzz", "type": "TEXT",
                           "metadata": {"mentions": ["{peer}"]}},
    "MessageEditRequest": {"content": "edited"},
    "ReactionRequest": {"emoji": "\U0001F44D"},
    "RoomSearchRequest": {"query": "hello"},
}

# Operations whose success ends the caller's session: they get a fresh one
# after each success.
SESSION_ENDING = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all")}


def request_schema(op):
    rb = resolve(op.get("requestBody"))
    if not rb:
        return None, None
    media = (rb.get("content") or {}).get("application/json")
    if not media or "schema" not in media:
        return None, None
    raw = media["schema"]
    name = raw["$ref"].rsplit("/", 1)[-1] if "$ref" in raw else None
    return name, resolve(raw)


def body_properties(schema):
    """(dotted name, schema) of the properties, one level into nested objects."""
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        out.append((name, sub))
        inner = resolve(sub)
        if "object" in json_types(inner):
            out += [(name + "." + k, v) for k, v in (inner.get("properties") or {}).items()]
    return out


def operations():
    for template, item in DOC["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            yield method.upper(), template, op, params


class Case:
    def __init__(self, method, template, op, params, where, mutation, anon=False):
        self.method, self.template, self.op, self.params = method, template, op, params
        self.where, self.mutation, self.anon = where, mutation, anon
        self.schema_name, self.schema = request_schema(op)
        self.public = op.get("security") == []

    def __repr__(self):
        return case_id(self)


def build_cases():
    cases = []
    for method, template, op, params in operations():
        path_params = [p["name"] for p in params if p.get("in") == "path"]
        query_params = [p for p in params if p.get("in") == "query"]
        header_params = [p for p in params if p.get("in") == "header"]
        schema = request_schema(op)[1]
        has_body = schema is not None
        bodyless_post = method in ("POST", "PUT", "PATCH") and not has_body
        if not (has_body or path_params or query_params or header_params):
            continue
        anon_too = op.get("security") != []
        if has_body:
            for prop, sub in body_properties(schema):
                for m in mutations_for(sub):
                    cases.append(Case(method, template, op, params, ("body", prop), m))
        if has_body or bodyless_post:
            for m in WHOLE_BODIES:
                cases.append(Case(method, template, op, params, ("body", "*"), m))
                if anon_too and m in ("array", "empty", "not_json"):
                    cases.append(Case(method, template, op, params, ("body", "*"), m, anon=True))
            for req in schema.get("required", []) if has_body else ():
                cases.append(Case(method, template, op, params, ("body", "*"), "missing_" + req))
        for p in path_params:
            for m in PATH_MUTATIONS:
                if m == "other_users" and param_kind(template, p) in (None, "code"):
                    continue
                cases.append(Case(method, template, op, params, ("path", p), m))
                if anon_too and m in ("too_long", "nul", "other_users"):
                    cases.append(Case(method, template, op, params, ("path", p), m, anon=True))
        for p in query_params:
            for m in QUERY_MUTATIONS:
                cases.append(Case(method, template, op, params, ("query", p["name"]), m))
        for p in params:
            if p.get("in") == "header":
                for m in HEADER_MUTATIONS:
                    cases.append(Case(method, template, op, params, ("header", p["name"]), m))
    # Deletes last: a defect that lets one through must not take the
    # world away from the other cases.
    cases.sort(key=lambda c: c.method == "DELETE")
    return cases


CASES = build_cases()


def case_id(c):
    return "%s %s %s:%s:%s%s" % (c.method, c.template, c.where[0], c.where[1], c.mutation,
                                 " anon" if c.anon else "")


class World:
    """Users and objects the cases act on, made once per module."""

    def __init__(self, api):
        self.api = api
        self.ip = itertools.count(1)
        self.seq = itertools.count(1)
        self.owner = self.register()
        self.peer = self.register()
        self.other = self.register()
        self.requester = self.register()
        self.login_user = self.register()
        self.refresh_user = self.register()
        self.session_user = self.register()
        self.session_token = self.session_user["accessToken"]
        self.addable = self.register()

        self.group = self.ok(self.post("/api/v1/groups", self.owner, {
            "title": "fuzz world", "members": [self.peer["id"]], "type": "PRIVATE"}), 201)
        gid = self.group["id"]
        self.message = self.ok(self.post("/api/v1/messages", self.owner, {
            "groupId": gid, "content": "hello world"}), 201)
        self.ok(self.post("/api/v1/messages", self.owner, {
            "receiverId": self.peer["id"], "content": "hello peer"}), 201)
        self.invite = self.ok(self.post("/api/v1/groups/%s/invitations" % gid, self.owner, {
            "maxUses": 100000, "expiresInHours": 48}), 201)
        approval = self.ok(self.post("/api/v1/groups/%s/invitations" % gid, self.owner, {
            "maxUses": 100000, "requireApproval": True}), 201)
        r = self.post("/api/v1/groups/join/%s" % approval["code"], self.requester, None)
        assert r.status_code == 202, r.text

        self.other_group = self.ok(self.post("/api/v1/groups", self.other, {
            "title": "not yours", "type": "PRIVATE"}), 201)
        self.other_message = self.ok(self.post("/api/v1/messages", self.other, {
            "groupId": self.other_group["id"], "content": "hello other"}), 201)
        self.other_invite = self.ok(self.post(
            "/api/v1/groups/%s/invitations" % self.other_group["id"], self.other, {}), 201)

    # helpers
    def fake_ip(self):
        n = next(self.ip)
        return "198.19.%d.%d" % (n // 250 % 256, n % 250 + 1)

    def register(self):
        tag = "fz%s" % uuid.uuid4().hex[:12]
        body = {"username": tag, "email": tag + "@example.com",
                "password": "Passw0rd-" + tag, "displayName": "Fuzz " + tag}
        r = self.api.post("/api/v1/auth/register", json=body,
                          headers={"X-Forwarded-For": self.fake_ip()})
        data = self.ok(r, 201)
        return {"id": data["user"]["id"], "username": tag, "password": body["password"],
                "accessToken": data["accessToken"], "refreshToken": data["refreshToken"]}

    def post(self, path, user, body):
        kw = {} if body is None else {"json": body}
        return self.api.post(path, token=user["accessToken"], **kw)

    @staticmethod
    def ok(r, status):
        assert r.status_code == status, "%s -> %d %s" % (r.request.path_url, r.status_code, r.text[:500])
        return r.json()["data"]

    def new_session(self):
        r = self.api.post("/api/v1/auth/login", headers={"X-Forwarded-For": self.fake_ip()}, json={
            "login": self.session_user["username"], "password": self.session_user["password"]})
        self.session_token = self.ok(r, 200)["accessToken"]

    def ids(self):
        return {
            "fresh": "fz%s" % uuid.UUID(int=next(self.seq) + (os.getpid() << 64)).hex[-14:],
            "peer": self.peer["id"], "group": self.group["id"], "addable": self.addable["id"],
            "login_name": self.login_user["username"], "login_password": self.login_user["password"],
            "refresh_token": self.refresh_user["refreshToken"],
            "missing": "0193b7a4-6c2e-7d10-9f3a-00000000f00d", "other": self.other["id"],
            "owner": self.owner["id"], "peer_upper": self.peer["id"].upper(),
        }

    def path_value(self, template, name, other=False):
        kind = param_kind(template, name)
        if other:
            return {
                "self": self.other["id"], "peer": self.other["id"], "member": self.other["id"],
                "requester": self.other["id"], "group": self.other_group["id"],
                "message": self.other_message["id"], "invite": self.other_invite["id"],
            }[kind]
        return {
            "self": self.owner["id"], "peer": self.peer["id"], "member": self.peer["id"],
            "requester": self.requester["id"], "group": self.group["id"],
            "message": self.message["id"], "invite": self.invite["id"],
            "code": self.invite["code"],
        }.get(kind, "0193b7a4-6c2e-7d10-9f3a-2b1c4d5e6f70")

    def token_for(self, case):
        if (case.method, case.template) in SESSION_ENDING:
            return self.session_token
        return self.owner["accessToken"]

    # partial-write detection
    SNAPSHOT = (
        ("counts", "SELECT (SELECT COUNT(*) FROM users) u, (SELECT COUNT(*) FROM conversations) c,"
                   " (SELECT COUNT(*) FROM members) m, (SELECT COUNT(*) FROM messages) msg,"
                   " (SELECT MAX(id) FROM message_edits) e, (SELECT COUNT(*) FROM reactions) r,"
                   " (SELECT COUNT(*) FROM invitations) i, (SELECT COUNT(*) FROM join_requests) j,"
                   " (SELECT MAX(id) FROM events) ev"),
        ("conversations", "SELECT * FROM conversations WHERE id IN (%(group)s, %(other_group)s)"),
        ("members", "SELECT * FROM members WHERE conversation_id IN (%(group)s, %(other_group)s)"
                    " ORDER BY user_id"),
        ("messages", "SELECT * FROM messages WHERE id IN (%(message)s, %(other_message)s) ORDER BY id"),
        ("users", "SELECT * FROM users WHERE id IN (%(owner)s, %(other)s) ORDER BY id"),
        ("invitations", "SELECT * FROM invitations WHERE conversation_id IN (%(group)s, %(other_group)s)"
                        " ORDER BY id"),
    )

    def snapshot(self, db):
        args = {"group": self.group["id"], "other_group": self.other_group["id"],
                "message": self.message["id"], "other_message": self.other_message["id"],
                "owner": self.owner["id"], "other": self.other["id"]}
        out = {}
        with db.cursor() as c:
            for name, sql in self.SNAPSHOT:
                c.execute(sql, args)
                out[name] = c.fetchall()
        return out


@pytest.fixture(scope="module")
def fuzz_api(_stack_ready, contract):
    client = ApiClient(_stack_ready, contract, name="lighttpd")
    yield client
    client.close()


@pytest.fixture(scope="module")
def fuzz_fronts(fuzz_api, contract):
    """lighttpd, then Apache mod_proxy_fcgi when the stack runs it."""
    fronts = [fuzz_api]
    url = os.environ.get("PARLEY_APACHE_PROXY_URL")
    if url:
        fronts.append(ApiClient(url, contract, name="apache-proxy-fcgi"))
    yield fronts
    for api in fronts[1:]:
        api.close()


@pytest.fixture(scope="module")
def log_marks():
    """Sizes of the logs at the start, so only this module's lines are read."""
    state = os.environ.get("PARLEY_STATE")
    logdir = pathlib.Path(state) / "log" if state else None
    marks = {}
    if logdir and logdir.is_dir():
        for p in logdir.glob("*.log"):
            marks[p] = p.stat().st_size
    return logdir, marks


@pytest.fixture(scope="module")
def world(fuzz_api, log_marks):
    return World(fuzz_api)


@pytest.fixture(scope="module")
def fuzz_db():
    from parley_api import mysql_connect

    if not os.environ.get("PARLEY_MYSQL_SOCKET"):
        pytest.skip("PARLEY_MYSQL_SOCKET is not set")
    conn = mysql_connect()
    conn.parley_snapshot = None
    yield conn
    conn.close()


# ------------------------------------------------------------ requests
def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def base_body(case, world, ids):
    if case.schema is None:
        return {}
    if case.schema_name in BASE_BODY:
        return fill(BASE_BODY[case.schema_name], ids)
    examples = case.schema.get("examples") or [{}]
    return dict(examples[0])


SENTINEL = "\x00fuzz-sentinel\x00"


def mutate_body(case, base, ids):
    """(body bytes, content type) of a body case."""
    where, m = case.where[1], case.mutation
    ctype = "application/json"
    if where != "*":
        body = json.loads(json.dumps(base))
        outer, _, inner = where.partition(".")
        if inner:
            if not isinstance(body.get(outer), dict):
                body[outer] = {}
            body[outer][inner] = SENTINEL
        else:
            body[outer] = SENTINEL
        value = VALUE_MUTATIONS[m]
        for k, v in ids.items():
            value = value.replace(b"{%s}" % k.encode(), v.encode())
        return json.dumps(body).encode().replace(json.dumps(SENTINEL).encode(), value), ctype
    text = json.dumps(base).encode()
    if m.startswith("missing_"):
        body = dict(base)
        body.pop(m[len("missing_"):], None)
        return json.dumps(body).encode(), ctype
    fixed = WHOLE_BODIES.get(m)
    if fixed is not None:
        return fixed, ctype
    if m == "trailing_garbage":
        return text + b" x", ctype
    if m == "duplicate_key":
        key = next(iter(base), "a")
        return b"{%s: 1, %s" % (json.dumps(key).encode(), text[1:] if base else b'"a": 2}'), ctype
    if m == "unknown_property":
        body = dict(base, zzUnknown={"nested": [1, None, "\u202e"]}, __proto__={"admin": True})
        return json.dumps(body).encode(), ctype
    if m == "deep_object":
        deep = b'{"a":' * 40 + b"1" + b"}" * 40
        return text[:-1] + (b", " if base else b"") + b'"zzDeep": ' + deep + b"}", ctype
    if m == "utf16":
        return json.dumps(base, ensure_ascii=False).encode("utf-16"), ctype
    if m == "bom":
        return b"\xef\xbb\xbf" + text, ctype
    if m == "text_plain":
        return text, "text/plain"
    raise AssertionError("unknown whole-body mutation %s" % m)


def build_path(case, world):
    path = case.template
    for p in (p["name"] for p in case.params if p.get("in") == "path"):
        real = world.path_value(case.template, p)
        value = urllib.parse.quote(real, safe="")
        if case.where == ("path", p):
            m = case.mutation
            if m == "other_users":
                value = world.path_value(case.template, p, other=True)
            else:
                value = PATH_MUTATIONS[m].replace("{id}", real)
        path = path.replace("{%s}" % p, value)
    return path


def build_query(case, world):
    pairs = []
    for p in case.params:
        if p.get("in") != "query":
            continue
        name = p["name"]
        base = BASE_QUERY.get(name)
        base = world.group["id"] if base == "group" else base
        if case.where == ("query", name):
            m = case.mutation
            if m == "repeated":
                one = base or "1"
                pairs += [(name, urllib.parse.quote(one)), (name, "2")]
            else:
                pairs.append((name, QUERY_MUTATIONS[m]))
        elif base is not None:
            pairs.append((name, urllib.parse.quote(base, safe="")))
    return "&".join("%s=%s" % kv for kv in pairs)


def send_raw(api, method, path, body, headers):
    """Sends the path exactly as built (no requoting)."""
    req = requests.Request(method, api.url("/"), data=body, headers=headers)
    prepared = api.session.prepare_request(req)
    prepared.url = api.base_url + path
    return api.session.send(prepared, timeout=20, allow_redirects=False)


# Methods whose 2xx writes: a rejected one must leave the database alone.
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# The rejected writes whose database side effects are compared (a sample:
# a snapshot per request would double the run time). Bad ids and id lists
# fail late, after the checks that need the database, so they are all in.
SAMPLED = set(ID_MUTATIONS) | set(ID_LIST_MUTATIONS) | {
    "huge_str", "nul", "lone_high_surrogate", "int64_max_plus_1", "1e309", "1.5", "negative",
    "empty_str", "null", "array", "object", "trailing_garbage", "duplicate_key",
    "deep_object", "text_plain", "too_long", "id_nul", "id_trailing_junk", "other_users",
}


def sampled(case):
    return case.method in WRITES and (case.mutation in SAMPLED or case.mutation.startswith("missing_"))


# Some requests are refused by the web servers themselves before
# parley-fcgi sees them (a URL with %00: lighttpd 400, Apache 404 on a
# path; a header with a control character: lighttpd 400). They answer with
# one of their JSON error documents (httpd-conf/errors), which the contract
# does not list per operation; lighttpd's own refusals cannot carry
# X-Content-Type-Options (README, "lighttpd"). Such an answer must still be
# a 4xx in the JSON envelope.
FRONT_ERRORS = {p.read_bytes().strip() for p in (REPO / "httpd-conf" / "errors").glob("*")}


def front_refused(resp):
    return resp.content.strip() in FRONT_ERRORS


def assert_front_refusal(api, resp, what):
    assert 400 <= resp.status_code < 500, "[%s] %s -> %d" % (api.name, what, resp.status_code)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    doc = json.loads(resp.content)
    assert doc["success"] is False and doc["error"]["code"] == doc["code"], doc


def check_null(case, status, parsed, what):
    """null in a body property is what the contract says: accepted (as
    absent, or to clear) only where the property's schema allows null,
    refused where it does not. A nullable property's null may still be
    refused as absent (one of login/username/email is required) or as
    disagreeing with another spelling of the field (groupId beside a null
    group_id), both documented - but never for being null."""
    prop = case.where[1]
    sub = dict(body_properties(case.schema))[prop]
    if "null" in json_types(sub):
        fields = ((parsed or {}).get("error") or {}).get("details", {}).get("fields", {}) \
            if status == 400 and isinstance(parsed, dict) else {}
        why = str(fields.get(prop.rsplit(".", 1)[-1], "required"))
        assert "required" in why or "disagree" in why, \
            "null refused where the contract allows it (nullable): " + what
    else:
        assert status >= 400, \
            "null accepted where the contract does not allow it (add null to its type): " + what


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_hostile_input(case, fuzz_api, fuzz_fronts, world, fuzz_db):
    ids = world.ids()
    path = build_path(case, world)
    query = build_query(case, world)
    if query:
        path += "?" + query
    headers = {"X-Forwarded-For": world.fake_ip()}
    if case.where[0] == "header":
        headers[case.where[1]] = HEADER_MUTATIONS[case.mutation]
    body = None
    if case.where[0] == "body":
        body, headers["Content-Type"] = mutate_body(case, base_body(case, world, ids), ids)
    elif case.schema is not None:
        body, headers["Content-Type"] = json.dumps(base_body(case, world, ids)).encode(), "application/json"
    if not case.anon:
        headers["Authorization"] = "Bearer " + world.token_for(case)

    # NUL cases also go through Apache, which hands a %00 query to parley.
    fronts = fuzz_fronts if "%00" in path else fuzz_fronts[:1]
    for api in fronts:
        check_db = sampled(case)
        if check_db and fuzz_db.parley_snapshot is None:
            fuzz_db.parley_snapshot = world.snapshot(fuzz_db)
        resp = send_raw(api, case.method, path, body, headers)
        if front_refused(resp):
            assert_front_refusal(api, resp, case_id(case))
            continue
        try:
            parsed = check_response(api.contract, case.method, path, resp)
        except ContractViolation as e:
            fuzz_db.parley_snapshot = None
            raise ContractViolation("[%s] %s\n  request body: %r\n  response: %r" % (
                api.name, e, (body or b"")[:300], resp.content[:400])) from None
        status = resp.status_code
        what = "[%s] %s -> %d %s" % (api.name, case_id(case), status, resp.content[:400])

        assert status < 500, what
        if 400 <= status < 500:
            assert isinstance(parsed, dict) and parsed.get("success") is False, what
            err = parsed.get("error")
            assert isinstance(err, dict) and err.get("code") and err.get("message"), what
        if case.anon and not case.public:
            assert status in (400, 401, 404, 413, 415), what
        if case.where[0] == "path" and case.mutation != "other_users":
            assert status >= 400, "a hostile path parameter was accepted: " + what
        if case.where[0] == "body" and case.mutation == "null" and case.where[1] != "*":
            check_null(case, status, parsed, what)
        if case.mutation == "other_users" and not (
                case.method == "GET" and param_kind(case.template, case.where[1]) in ("self", "peer")):
            assert status >= 400, "another user's object was reachable: " + what

        if status < 300:
            if (case.method, case.template) in SESSION_ENDING and not case.anon:
                world.new_session()
            fuzz_db.parley_snapshot = None
        elif check_db:
            after = world.snapshot(fuzz_db)
            before, fuzz_db.parley_snapshot = fuzz_db.parley_snapshot, after
            for name in before:
                assert before[name] == after[name], \
                    "rejected request changed %s: %s\nbefore: %r\nafter: %r" % (
                        name, what, before[name], after[name])


CRASH = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|"
                   r"Segmentation fault|SIGSEGV|SIGABRT|SIGBUS|core dumped|Aborted|"
                   r"exited \(status|killed by signal|terminated by signal|assertion .* failed|"
                   r"Assertion .* failed|child exited|child signall?ed|died", re.I)


def test_stack_survives_the_fuzz(fuzz_api, world, log_marks):
    r = fuzz_api.get("/api/v1/health/ready")
    assert r.status_code == 200, r.text
    logdir, marks = log_marks
    if logdir is None:
        pytest.skip("PARLEY_STATE is not set")
    found = []
    for p in sorted(logdir.glob("*.log")):
        if not re.match(r"(fcgi|bridge|lighttpd|apache)", p.name):
            continue
        with open(p, "rb") as f:
            f.seek(marks.get(p, 0))
            for line in f.read().decode("utf-8", "replace").splitlines():
                if CRASH.search(line):
                    found.append("%s: %s" % (p.name, line[:300]))
    assert not found, "crashes in the logs during the fuzz pass:\n" + "\n".join(found[:40])
