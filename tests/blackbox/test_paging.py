"""Paging parameters on every paged route, derived from the sources.

A route is paged when its handler (src/api_*.c, following the static
helpers it calls) reads ?page=/?limit= through request_page_or_reply() or
history(). Every such route must be documented with the Page and Limit
parameters in docs/openapi.yaml and must answer the same way:

  * absent or empty page/limit: the defaults (1, 20);
  * a decimal integer out of range: clamped (page < 1 -> 1, limit < 1 -> 1,
    limit > 100 -> 100);
  * anything else (junk, a fraction, an exponent, a trailing letter, a
    number past the range of a C long): 400 VALIDATION_ERROR naming the
    field in error.details.fields - never a silent fall-back to a default.

The history routes (their handlers reach history_params()) also take the
cursors before/cursor/after: present but empty is a 400 naming it, never
"from the newest". The bounds themselves live once, in request.h.
"""

import pathlib
import re

import pytest
import yaml

from conv_util import create_group, send
from parley_api import assert_error, assert_ok

REPO = pathlib.Path(__file__).resolve().parents[2]
ROUTE_RE = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)",\s*(\w+),')
FUNC_RE = re.compile(r'^(\w+)\([^;]*?\)\n\{\n(.*?)^\}', re.M | re.S)
PAGING_CALLS = ("request_page_or_reply(", "request_page(", "history_params(")


def paging_handlers(calls=PAGING_CALLS):
    """Names of the functions of src/api_*.c that make one of calls (by
    default: read page/limit), directly or through a static helper of the
    same file."""
    found = set()
    for f in sorted((REPO / "src").glob("api_*.c")):
        bodies = {m.group(1): m.group(2) for m in FUNC_RE.finditer(f.read_text())}
        pagers = {n for n, b in bodies.items() if any(c in b for c in calls)}
        while True:
            more = {n for n, b in bodies.items() if n not in pagers and
                    any(re.search(r'\b%s\(' % re.escape(p), b) for p in pagers)}
            if not more:
                break
            pagers |= more
        found |= pagers
    return found


def paged_routes(calls=PAGING_CALLS):
    handlers = paging_handlers(calls)
    text = (REPO / "src" / "routes.c").read_text()
    return sorted((m.group(1), m.group(2)) for m in ROUTE_RE.finditer(text)
                  if m.group(3) in handlers)


def documented_paged_routes():
    spec = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    out = set()
    for path, item in spec["paths"].items():
        common = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            refs = {p.get("$ref", "") for p in common + op.get("parameters", [])}
            if {"#/components/parameters/Page", "#/components/parameters/Limit"} <= refs:
                out.add((method.upper(), path, "400" in op["responses"]))
    return out


# How to call each paged route: path template over the world's ids, and the
# parameters it needs besides page/limit.
CALLS = {
    ("GET", "/api/v1/users"): ("/api/v1/users", {"query": "pg"}),
    ("GET", "/api/v1/groups"): ("/api/v1/groups", {}),
    ("GET", "/api/v1/chatrooms"): ("/api/v1/chatrooms", {}),
    ("GET", "/api/v1/groups/{id}/members"): ("/api/v1/groups/{g}/members", {}),
    ("GET", "/api/v1/groups/{id}/messages"): ("/api/v1/groups/{g}/messages", {}),
    ("GET", "/api/v1/chatrooms/{id}/messages"): ("/api/v1/chatrooms/{g}/messages", {}),
    ("GET", "/api/v1/messages"): ("/api/v1/messages", {"conversationId": "{g}"}),
    ("GET", "/api/v1/messages/search"): ("/api/v1/messages/search", {"query": "paging"}),
    ("GET", "/api/v1/messages/direct/{otherUserId}"): ("/api/v1/messages/direct/{peer}", {}),
    ("GET", "/api/v1/messages/group/{groupId}"): ("/api/v1/messages/group/{g}", {}),
    ("GET", "/api/v1/conversations"): ("/api/v1/conversations", {}),
}

PAGED = paged_routes()
HISTORY = paged_routes(("history_params(",))
CURSORS = ("before", "cursor", "after")

BAD = [
    ("page", "abc"),
    ("page", "1.5"),
    ("page", "2x"),
    ("page", " 2"),
    ("page", "--1"),
    ("page", "99999999999999999999999"),
    ("limit", "1e3"),
    ("limit", "10x"),
    ("limit", "0x10"),
    ("limit", "ten"),
    ("limit", "-99999999999999999999999"),
]

# (params, expected page, expected limit)
GOOD = [
    ({}, 1, 20),
    ({"page": "", "limit": ""}, 1, 20),
    ({"page": "0", "limit": "0"}, 1, 1),
    ({"page": "-3", "limit": "500"}, 1, 100),
    ({"page": "+2", "limit": "007"}, 2, 7),
]


def test_paged_routes_are_found():
    # The scan must find the routes this file knows how to call, and no
    # route without a CALLS entry (a new paged route needs one).
    assert len(PAGED) >= 11
    assert set(PAGED) == set(CALLS), "paged routes changed: %s" % sorted(set(PAGED) ^ set(CALLS))


def test_every_paged_route_is_documented_with_a_400():
    docs = documented_paged_routes()
    for method, path in PAGED:
        assert (method, path, True) in docs, \
            "%s %s: Page/Limit parameters and a 400 response in openapi.yaml" % (method, path)


@pytest.fixture
def world(make_user, api):
    owner = make_user()
    peer = make_user()
    g = create_group(api, owner, members=[peer])
    send(api, owner, groupId=g["id"], content="paging probe message")
    send(api, owner, receiverId=peer["id"], content="paging direct message")
    return {"owner": owner, "ids": {"g": g["id"], "peer": peer["id"]}}


def _call(api, world, route, params):
    path, extra = CALLS[route]
    ids = world["ids"]
    q = {k: v.format(**ids) for k, v in extra.items()}
    q.update(params)
    return api.get(path.format(**ids), token=world["owner"].token, params=q)


@pytest.mark.parametrize("route", PAGED, ids=["%s %s" % r for r in PAGED])
def test_malformed_page_or_limit_is_rejected(api, world, route):
    for field, value in BAD:
        r = _call(api, world, route, {field: value})
        body = assert_error(r, 400, "VALIDATION_ERROR", message_contains=field)
        assert field in body["error"]["details"]["fields"], (field, value, body)


@pytest.mark.parametrize("route", PAGED, ids=["%s %s" % r for r in PAGED])
def test_numeric_page_and_limit_are_clamped(api, world, route):
    for params, page, limit in GOOD:
        r = _call(api, world, route, params)
        assert_ok(r)
        pg = r.parley_json["pagination"]
        assert (pg["page"], pg["limit"]) == (page, limit), (params, pg)
        assert r.headers["X-Pagination-Per-Page"] == str(limit)


def test_history_routes_are_found():
    assert set(HISTORY) == {
        ("GET", "/api/v1/groups/{id}/messages"),
        ("GET", "/api/v1/chatrooms/{id}/messages"),
        ("GET", "/api/v1/messages"),
        ("GET", "/api/v1/messages/direct/{otherUserId}"),
        ("GET", "/api/v1/messages/group/{groupId}"),
    }, HISTORY


@pytest.mark.parametrize("route", HISTORY, ids=["%s %s" % r for r in HISTORY])
def test_empty_cursor_is_rejected(api, world, route):
    for field in CURSORS:
        r = _call(api, world, route, {field: ""})
        body = assert_error(r, 400, "VALIDATION_ERROR", message_contains=field)
        assert list(body["error"]["details"]["fields"]) == [field], (field, body)
    # An empty cursor is refused even beside a good one.
    r = _call(api, world, route, {"before": "", "cursor": "2030-01-01T00:00:00.000Z"})
    assert_error(r, 400, "VALIDATION_ERROR", message_contains="before")
    # Absent, each one still pages.
    assert_ok(_call(api, world, route, {"before": "2030-01-01T00:00:00.000Z"}))
    assert_ok(_call(api, world, route, {"after": "2000-01-01T00:00:00.000Z"}))


def test_page_bounds_live_in_one_place():
    """request.h's PAGE_MAX and PAGE_LIMIT_MAX bound every paged route, the
    room search's JSON body too (it once clamped page at 100,000 where the
    query routes clamp at 1,000,000): no source compares a page or limit
    with a number of its own."""
    header = (REPO / "src" / "core" / "request.h").read_text()
    assert re.search(r"^#define PAGE_MAX 1000000$", header, re.M)
    assert re.search(r"^#define PAGE_LIMIT_MAX 100$", header, re.M)
    own = re.compile(r"\b(page\w*|limit\w*)\s*[<>]=?\s*[0-9]{2,}", re.I)
    found = ["%s:%d: %s" % (f.relative_to(REPO), n, line.strip())
             for f in sorted((REPO / "src").rglob("*.c"))
             for n, line in enumerate(f.read_text().splitlines(), 1) if own.search(line)]
    assert found == []


def test_room_search_clamps_like_the_paged_routes(api, world):
    g = world["ids"]["g"]
    for body in ({"page": 10 ** 12, "limit": 10 ** 12}, {"page": -5, "limit": 0},
                 {"page": 1000000, "limit": 100}):
        body["query"] = "paging"
        assert_ok(api.post("/api/v1/groups/%s/search" % g, token=world["owner"].token,
                           json=body))


def documented_filters(route):
    """The query parameters openapi.yaml lists for route, paging aside."""
    method, path = route
    spec = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    item = spec["paths"][path]
    params = item.get("parameters", []) + item[method.lower()].get("parameters", [])
    return [p for p in params if p.get("in") == "query"]


# Spellings the handlers also read (src/api_*.c) that openapi.yaml does not
# list one by one: each must refuse an empty value the same way.
ALIASES = {
    ("GET", "/api/v1/messages"): ("message_type", "messageType", "date_from", "dateFrom",
                                  "date_to", "dateTo", "parent_id", "conversation_id",
                                  "chatroomId", "chatroom_id", "groupId", "group_id",
                                  "receiverId", "receiver_id", "userId", "user_id"),
    ("GET", "/api/v1/messages/search"): ("q", "group_id", "conversationId", "conversation_id",
                                         "user_id", "senderId", "message_type", "date_from",
                                         "date_to"),
    ("GET", "/api/v1/messages/group/{groupId}"): ("message_type", "messageType", "date_from",
                                                  "date_to", "parent_id"),
}


FILTERED = [r for r in PAGED if documented_filters(r)]


def test_filtered_routes_are_found():
    assert len(FILTERED) >= 9 and set(ALIASES) <= set(FILTERED), FILTERED


@pytest.mark.parametrize("route", FILTERED, ids=["%s %s" % r for r in FILTERED])
def test_empty_filter_is_rejected(api, world, route):
    """?type= (any filter, any spelling, given empty) is a 400 naming it,
    like the cursors - never read as "no filter", which would silently
    widen the answer. The contract says so with minLength: 1."""
    names = []
    for p in documented_filters(route):
        schema = p.get("schema", {})
        if "enum" not in schema:
            assert schema.get("minLength") == 1, (route, p["name"])
        names.append(p["name"])
    names += ALIASES.get(route, ())
    for name in names:
        r = _call(api, world, route, {name: ""})
        body = assert_error(r, 400, "VALIDATION_ERROR", message_contains=name)
        assert list(body["error"]["details"]["fields"]) == [name], (name, body)
