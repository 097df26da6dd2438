"""Message search (MariaDB FULLTEXT): only over the caller's conversations,
relevance, matched terms and context, filters, sanitised queries, and
seed 003's POST /chatrooms/{id}/search.
"""

import datetime
import os
import re

import pytest

from conv_util import MESSAGES, create_group, missing_id, send
from parley_api import assert_error, assert_ok

SEARCH = MESSAGES + "/search"


@pytest.fixture
def corpus(api, make_user):
    a, b, c = make_user(), make_user(), make_user()
    g = create_group(api, a, members=[b], title="Search team")
    other = create_group(api, c, title="Elsewhere")
    m = {
        "plan": send(api, a, groupId=g["id"], content="Quarterly planning meeting tomorrow"),
        "lunch": send(api, b, groupId=g["id"], content="Lunch plans for Friday, anyone?"),
        "img": send(api, b, groupId=g["id"], content="planning board photo", type="IMAGE"),
        "dm": send(api, a, receiverId=b.id, content="private planning notes"),
        "foreign": send(api, c, groupId=other["id"], content="planning in another group"),
        "enc": send(api, a, groupId=g["id"], content={"encryptedData": "cGxhbm5pbmc=",
                                                        "iv": "AAAA", "keyVersion": 1}),
    }
    gone = send(api, a, groupId=g["id"], content="planning that was deleted")
    assert_ok(api.delete("%s/%s" % (MESSAGES, gone["id"]), token=a.token))
    return a, b, c, g, other, m


def ids(items):
    return {x["id"] for x in items}


def test_search_only_my_conversations(api, corpus):
    a, b, c, g, other, m = corpus
    r = api.get(SEARCH, token=b.token, params={"query": "planning"})
    items = assert_ok(r)
    assert ids(items) == {m["plan"]["id"], m["img"]["id"], m["dm"]["id"]}
    assert r.parley_json["pagination"]["total"] == 3
    hit = next(x for x in items if x["id"] == m["plan"]["id"])
    assert hit["relevanceScore"] > 0 and hit["matchedTerms"] == ["planning"]
    assert hit["context"] == {"before": "Quarterly ", "match": "planning",
                              "after": " meeting tomorrow"}
    assert hit["sender"]["id"] == a.id and hit["content"] == m["plan"]["content"]
    assert ids(assert_ok(api.get(SEARCH, token=c.token, params={"q": "planning"}))) == {
        m["foreign"]["id"]}


def test_words_are_prefixes_and_all_required(api, corpus):
    a, b, c, g, other, m = corpus
    assert ids(assert_ok(api.get(SEARCH, token=a.token, params={"query": "plan"}))) == {
        m["plan"]["id"], m["lunch"]["id"], m["img"]["id"], m["dm"]["id"]}
    both = assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning meeting"}))
    assert ids(both) == {m["plan"]["id"]}
    assert sorted(both[0]["matchedTerms"]) == ["meeting", "planning"]
    assert assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning lunch"})) == []
    # Case and operators do not matter; short and common words are ignored.
    q = '+PLANNING -"the" (meeting*) @@ ~< a of'
    assert ids(assert_ok(api.get(SEARCH, token=a.token, params={"query": q}))) == {
        m["plan"]["id"]}


def test_filters(api, corpus):
    a, b, c, g, other, m = corpus
    in_group = assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                                 "groupId": g["id"]}))
    assert ids(in_group) == {m["plan"]["id"], m["img"]["id"]}
    by_b = assert_ok(api.get(SEARCH, token=a.token, params={"query": "plan", "userId": b.id}))
    assert ids(by_b) == {m["lunch"]["id"], m["img"]["id"]}
    images = assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                               "type": "image"}))
    assert ids(images) == {m["img"]["id"]}
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
              ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                             "from": future})) == []
    assert len(assert_ok(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                                 "to": future}))) == 3
    page = api.get(SEARCH, token=a.token, params={"query": "planning", "limit": 1, "page": 2})
    assert len(assert_ok(page)) == 1 and page.parley_json["pagination"]["total"] == 3
    # A conversation the caller is not in: the same 404 as one that does not exist.
    r1 = assert_error(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                              "groupId": other["id"]}),
                      404, "NOT_FOUND")
    r2 = assert_error(api.get(SEARCH, token=a.token, params={"query": "planning",
                                                              "groupId": missing_id()}),
                      404, "NOT_FOUND")
    assert r1 == r2


def test_words_split_where_innodb_splits_them(api, make_user):
    """Words are what InnoDB indexes: split at non-ASCII punctuation (phone
    keyboards' quotes), up to 84 characters (not bytes); the context is a
    word InnoDB matched and never more than 60 bytes on either side."""
    a = make_user()
    g = create_group(api, a)
    quoted = send(api, a, groupId=g["id"], content="\u201eplanning\u201c and \u00abmeeting\u00bb")
    word = "\u0436" * 50     # 50 characters, 100 bytes: InnoDB indexes it
    cyr = send(api, a, groupId=g["id"], content="start %s end" % word)
    run = send(api, a, groupId=g["id"], content="zulu" + "q" * 4000 + " zulu yankee")
    euro = send(api, a, groupId=g["id"], content="\u20ac" * 30 + " kilo")

    [hit] = assert_ok(api.get(SEARCH, token=a.token,
                              params={"query": "\u201cplanning\u201d meeting"}))
    assert hit["id"] == quoted["id"] and sorted(hit["matchedTerms"]) == ["meeting", "planning"]
    assert hit["context"] == {"before": "\u201e", "match": "planning",
                              "after": "\u201c and \u00abmeeting\u00bb"}
    assert ids(assert_ok(api.get(SEARCH, token=a.token, params={"query": word}))) == {cyr["id"]}
    [hit] = assert_ok(api.get(SEARCH, token=a.token, params={"query": "zulu yankee"}))
    assert hit["id"] == run["id"] and hit["context"]["match"] == "zulu"
    assert hit["context"]["before"] == "q" * 59 + " " and hit["context"]["after"] == " yankee"
    [hit] = assert_ok(api.get(SEARCH, token=a.token, params={"query": "kilo"}))
    assert hit["id"] == euro["id"] and hit["context"]["before"] == "\u20ac" * 19 + " "


@pytest.mark.parametrize("params", [
    {}, {"query": ""}, {"query": "a an of"}, {"query": "++--**"}, {"query": "x" * 201},
    {"query": "planning", "type": "GIF"}, {"query": "planning", "from": "later"},
    {"query": "planning", "userId": "me"},
])
def test_bad_queries(api, make_user, params):
    a = make_user()
    assert_error(api.get(SEARCH, token=a.token, params=params), 400, "VALIDATION_ERROR")


def test_room_search_seed003(api, corpus):
    a, b, c, g, other, m = corpus
    r = assert_ok(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=b.token,
                           json={"query": "planning", "limit": 10}))
    assert r["totalResults"] == 2 and r["searchTimeMs"] >= 0
    assert {x["message"]["id"] for x in r["results"]} == {m["plan"]["id"], m["img"]["id"]}
    first = r["results"][0]
    assert first["relevanceScore"] > 0 and first["matchedTerms"] == ["planning"]
    assert first["context"]["match"].lower() == "planning"
    r = assert_ok(api.post("%s/%s/search" % ("/api/v1/groups", g["id"]), token=b.token,
                           json={"query": "planning", "message_type": "image"}))
    assert [x["message"]["id"] for x in r["results"]] == [m["img"]["id"]]
    assert_error(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=c.token,
                          json={"query": "planning"}), 404, "NOT_FOUND")
    assert_error(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=b.token,
                          json={"limit": 5}), 400, "VALIDATION_ERROR")
    assert_error(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=b.token,
                          json={"query": "planning", "limit": "ten"}), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body,field", [
    ({"query": "planning", "userId": 5}, "userId"),
    ({"query": "planning", "user_id": ["x"]}, "userId"),
    ({"query": "planning", "messageType": 1}, "messageType"),
    ({"query": "planning", "type": True}, "messageType"),
    ({"query": "planning", "dateFrom": 1700000000}, "dateFrom"),
    ({"query": "planning", "date_to": {}}, "dateTo"),
    ({"query": 12345}, "query"),
])
def test_room_search_filters_of_the_wrong_type(api, corpus, body, field):
    """A filter of the wrong type was ignored (200, unfiltered results)."""
    a, b, c, g, other, m = corpus
    r = assert_error(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=b.token,
                              json=body), 400, "VALIDATION_ERROR")
    assert r["message"] == field + " must be a string"
    assert r["error"]["details"]["fields"] == {field: field + " must be a string"}
    # null is absent.
    assert_ok(api.post("/api/v1/chatrooms/%s/search" % g["id"], token=b.token,
                       json={"query": "planning", "userId": None, "dateFrom": None}))


def _scan_max():
    """message_db.c's SCAN_MAX: callers whose conversations hold more
    messages are searched through the FULLTEXT index, others by a scan."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src", "core", "message_db.c")
    with open(src) as f:
        return int(re.search(r"#define SCAN_MAX (\d+)", f.read()).group(1))


PLAN_TEXTS = [
    "Un café crème, s'il vous plaît",
    "CRÈME BRÛLÉE for dessert",
    "Quarterly planning meeting tomorrow",
    "plans and planning",
    "use snake_case here",
    "snakeXcase is not it",
    "in a nutshell",
    "hello there",
    "\u201eplanning\u201c and \u00abmeeting\u00bb",
    "start %s end" % ("\u0436" * 50),
    "go\U0001F600team spirit",
    "x_y_z markers",
]
PLAN_QUERIES = ["cafe", "Café", "creme", "BRULEE", "plan", "planning meeting", "snake_case",
                "snake", "shell", "hell", "hello", "\u201cplanning\u201d", "\u0436" * 50,
                "team", "spirit go", "x_y", "nothing here"]


def test_both_plans_find_the_same_messages(api, make_user, db):
    """The FULLTEXT plan (a caller who can read more than SCAN_MAX
    messages) and the scan plan (anyone else) find the same messages:
    word starts, case and accents folded, '_' a letter and not a wildcard,
    words split at punctuation and emoji. Before the scan plan, a caller
    with five messages waited for InnoDB to read every match in the
    install (3.8 s for 300,000 others' "hello")."""
    big, small = make_user(), make_user()
    g_big, g_small = create_group(api, big), create_group(api, small)
    filler = _scan_max() + 1 - len(PLAN_TEXTS)
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO messages (id, conversation_id, sender_id, content)"
            " SELECT UUID(), %%s, %%s, CONCAT('filler number ', seq) FROM seq_1_to_%d" % filler,
            (g_big["id"], big.id))
    db.commit()
    by_id = {}
    for text in PLAN_TEXTS:
        by_id[send(api, big, groupId=g_big["id"], content=text)["id"]] = text
        by_id[send(api, small, groupId=g_small["id"], content=text)["id"]] = text

    def fulltext_uses():
        with db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Feature_fulltext'")
            return int(cur.fetchone()["Value"])

    def found(user, query, fulltext):
        before = fulltext_uses()
        r = api.get(SEARCH, token=user.token, params={"query": query, "limit": 100})
        items = assert_ok(r)
        assert r.parley_json["pagination"]["total"] == len(items)
        assert (fulltext_uses() > before) == fulltext, (query, "plan")
        return sorted(by_id[x["id"]] for x in items)

    for query in PLAN_QUERIES:
        assert found(big, query, True) == found(small, query, False), query
    assert found(small, "cafe", False) == ["Un café crème, s'il vous plaît"]
    assert found(small, "snake_case", False) == ["use snake_case here"]
    assert found(small, "shell", False) == []
    assert found(small, "team", False) == ["go\U0001F600team spirit"]
    assert found(small, "creme", False) == sorted(PLAN_TEXTS[:2])


def test_scan_plan_relevance_and_paging(api, make_user):
    """The scan plan's score counts the terms' word starts: more matches
    rank first, ties newest first, and pages follow that order."""
    a = make_user()
    g = create_group(api, a)
    once = send(api, a, groupId=g["id"], content="kiwi")
    thrice = send(api, a, groupId=g["id"], content="kiwi kiwi kiwis")
    newer = send(api, a, groupId=g["id"], content="a kiwi too")
    items = assert_ok(api.get(SEARCH, token=a.token, params={"query": "kiwi"}))
    assert [x["id"] for x in items] == [thrice["id"], newer["id"], once["id"]]
    assert items[0]["relevanceScore"] > items[1]["relevanceScore"]
    r = api.get(SEARCH, token=a.token, params={"query": "kiwi", "limit": 2, "page": 2})
    assert [x["id"] for x in assert_ok(r)] == [once["id"]]
    assert r.parley_json["pagination"]["total"] == 3
    r = api.get(SEARCH, token=a.token, params={"query": "kiwi", "limit": 2, "page": 9})
    assert assert_ok(r) == [] and r.parley_json["pagination"]["total"] == 3
