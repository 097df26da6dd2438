"""Users: profiles (own and public views), updates and their limits,
authorization between users, mass assignment, deletion (anonymise +
disable), search and presence.
"""

import configparser
import os
import uuid

import pytest

from parley_api import assert_error, assert_ok, memcached_connect

ME = "/api/v1/auth/me"
USERS = "/api/v1/users"

PUBLIC_FIELDS = {"id", "username", "displayName", "avatar", "statusMessage", "bio", "location",
                 "publicKey", "isOnline", "lastSeen", "createdAt"}
OWN_FIELDS = PUBLIC_FIELDS | {"email", "role", "updatedAt"}


def user_url(uid):
    return "%s/%s" % (USERS, uid)


def db_user(db, uid):
    with db.cursor() as c:
        c.execute("SELECT * FROM users WHERE id = %s", (uid,))
        return c.fetchone()


# ------------------------------------------------------------ memcached

def mc_prefix():
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.read(os.environ.get("PARLEY_CONFIG", ""))
    return cp.get("memcached", "prefix", fallback="parley:")


def mc(cmd):
    with memcached_connect() as s:
        s.sendall(cmd.encode())
        return s.recv(4096).decode()


def set_presence(uid, value):
    key = mc_prefix() + "presence:" + uid
    if value is None:
        mc("delete %s\r\n" % key)
    else:
        v = str(value)
        assert mc("set %s 0 60 %d\r\n%s\r\n" % (key, len(v), v)).startswith("STORED")


# ------------------------------------------------------------- reading

def test_get_other_user_is_public(api, make_user):
    a, b = make_user(), make_user()
    r = api.get(user_url(b.id), token=a.token)
    data = assert_ok(r)
    assert set(data) == PUBLIC_FIELDS
    assert data["id"] == b.id and data["username"] == b.username
    assert b.email not in r.text
    assert "hash" not in r.text.lower() and "session" not in r.text.lower()


@pytest.mark.parametrize("which", ["id", "me", "upper"])
def test_get_self_is_own_view(api, make_user, which):
    u = make_user()
    ident = {"id": u.id, "me": "me", "upper": u.id.upper()}[which]
    data = assert_ok(api.get(user_url(ident), token=u.token))
    assert set(data) == OWN_FIELDS
    assert data["email"] == u.email


@pytest.mark.parametrize("ident", [None, "not-a-uuid", "0" * 36, "%2500", "..%2Fetc"])
def test_get_missing_user_404(api, make_user, ident):
    u = make_user()
    ident = ident or str(uuid.uuid4())
    assert_error(api.get(user_url(ident), token=u.token), 404, "NOT_FOUND")


@pytest.mark.parametrize("method,path", [
    ("GET", USERS), ("GET", USERS + "/me"), ("PATCH", USERS + "/me"), ("PUT", USERS + "/me"),
    ("GET", USERS + "/00000000-0000-7000-8000-000000000000"),
    ("PATCH", USERS + "/00000000-0000-7000-8000-000000000000"),
    ("DELETE", USERS + "/00000000-0000-7000-8000-000000000000"),
    ("GET", USERS + "/00000000-0000-7000-8000-000000000000/presence"),
])
def test_user_routes_require_auth(api, method, path):
    kw = {"json": {}} if method in ("PATCH", "PUT") else {}
    assert_error(api.request(method, path, **kw), 401, "UNAUTHORIZED")


# ------------------------------------------------------------- updating

@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_update_own_profile(api, make_user, db, method):
    u = make_user()
    body = {"displayName": "New Name", "avatar": "https://cdn.example.com/a.png",
            "statusMessage": "Busy", "bio": "Line one\nLine two", "location": "Zürich",
            "publicKey": "ssh-ed25519 AAAA"}
    r = api.request(method, USERS + "/me", token=u.token, json=body)
    data = assert_ok(r)
    assert set(data) == OWN_FIELDS
    for k, v in body.items():
        assert data[k] == v, k
    row = db_user(db, u.id)
    assert row["display_name"] == "New Name" and row["avatar_url"] == body["avatar"]
    assert row["location"] == "Zürich" and row["bio"] == body["bio"]
    # The cached profile behind /auth/me changed at once.
    me = assert_ok(api.get(ME, token=u.token))
    assert me["statusMessage"] == "Busy" and me["displayName"] == "New Name"


def test_update_snake_case_and_clearing(api, make_user, db):
    u = make_user()
    assert_ok(api.patch(USERS + "/me", token=u.token,
                        json={"display_name": "Snake", "status_message": "Away",
                              "avatar_url": "http://example.com/x.jpg"}))
    assert db_user(db, u.id)["status_message"] == "Away"
    data = assert_ok(api.patch(user_url(u.id), token=u.token,
                               json={"statusMessage": None, "avatar": "", "bio": ""}))
    assert data["statusMessage"] is None and data["avatar"] is None and data["bio"] is None
    assert data["displayName"] == "Snake"
    row = db_user(db, u.id)
    assert row["status_message"] is None and row["avatar_url"] is None


def test_update_username(api, make_user, db):
    u, other = make_user(), make_user()
    new = "renamed_" + uuid.uuid4().hex[:8]
    assert assert_ok(api.patch(USERS + "/me", token=u.token, json={"username": new}))[
        "username"] == new
    assert db_user(db, u.id)["username"] == new
    err = assert_error(api.patch(USERS + "/me", token=u.token,
                                 json={"username": other.username.upper()}), 409, "CONFLICT")
    assert "username" in err["error"]["details"]["fields"]
    assert_ok(api.post("/api/v1/auth/login", json={"login": new, "password": u.password},
                       headers={"X-Forwarded-For": "198.18.7.7"}))


@pytest.mark.parametrize("body,field", [
    ({"displayName": "d" * 101}, "displayName"),
    ({"displayName": "tab\there"}, "displayName"),
    ({"avatar": "javascript:alert(1)"}, "avatar"),
    ({"avatar": "ftp://example.com/a.png"}, "avatar"),
    ({"avatar": "https://example.com/" + "a" * 2100}, "avatar"),
    ({"avatar": "https://exa mple.com/"}, "avatar"),
    ({"statusMessage": "s" * 201}, "statusMessage"),
    ({"bio": "b" * 1001}, "bio"),
    ({"location": "l" * 101}, "location"),
    ({"publicKey": "k" * 16385}, "publicKey"),
    ({"username": "x"}, "username"),
    ({"username": None}, "username"),
    ({"username": "has space"}, "username"),
    ({"displayName": 5}, "displayName"),
    ({"bio": ["a"]}, "bio"),
    ({"statusMessage": {"a": 1}}, "statusMessage"),
])
def test_update_validation(api, make_user, db, body, field):
    u = make_user()
    before = db_user(db, u.id)
    err = assert_error(api.patch(USERS + "/me", token=u.token, json=body), 400,
                       "VALIDATION_ERROR")
    assert field in err["error"]["details"]["fields"]
    after = db_user(db, u.id)
    assert after == before


def test_reserved_prefix_ignores_case(api, make_user, db):
    """Deletion renames an account to deleted_<its id's hex>, and usernames
    are unique ignoring case. A name that differs from that only in case,
    taken by someone else first, made the deletion fail with 503 for good:
    the prefix is reserved in any case."""
    victim, u = make_user(), make_user()
    taken = "Deleted_" + victim.id.replace("-", "")
    tag = uuid.uuid4().hex[:12]
    err = assert_error(api.post("/api/v1/auth/register", json={
        "username": taken, "email": "t_%s@example.com" % tag, "password": "Passw0rd-" + tag},
        headers={"X-Forwarded-For": "198.18.7.8"}), 400, "VALIDATION_ERROR")
    assert "username" in err["error"]["details"]["fields"]
    before = db_user(db, u.id)
    err = assert_error(api.patch(USERS + "/me", token=u.token, json={"username": taken.upper()}),
                       400, "VALIDATION_ERROR")
    assert "username" in err["error"]["details"]["fields"]
    assert db_user(db, u.id) == before
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM users WHERE username = %s", (taken,))
        assert c.fetchone()["n"] == 0
    assert assert_ok(api.delete(USERS + "/me", token=victim.token)) is None
    assert db_user(db, victim.id)["username"] == taken.lower()


def test_update_multibyte_limits_count_characters(api, make_user):
    u = make_user()
    data = assert_ok(api.patch(USERS + "/me", token=u.token,
                               json={"displayName": "ü" * 100, "statusMessage": "🙂" * 200}))
    assert data["displayName"] == "ü" * 100


def test_mass_assignment_changes_nothing(api, make_user, db):
    u = make_user()
    before = db_user(db, u.id)
    evil = {"role": "ADMIN", "id": str(uuid.uuid4()), "createdAt": "2000-01-01T00:00:00.000Z",
            "created_at": "2000-01-01 00:00:00", "passwordHash": "$s1$0e0801$x$y",
            "password_hash": "x", "password": "Hacked-pass1", "email": "evil@example.com",
            "isActive": False, "is_active": 0, "deletedAt": None, "lastSeen": None,
            "isAdmin": True, "updatedAt": "2000-01-01T00:00:00.000Z"}
    data = assert_ok(api.patch(USERS + "/me", token=u.token, json=evil))
    assert data["role"] == "USER" and data["id"] == u.id and data["email"] == u.email
    after = db_user(db, u.id)
    for col in ("id", "role", "email", "password_hash", "created_at", "is_active", "deleted_at",
                "username"):
        assert after[col] == before[col], col
    # The old password still works, the injected one does not.
    assert_ok(api.post("/api/v1/auth/login", json={"login": u.username, "password": u.password},
                       headers={"X-Forwarded-For": "198.18.9.9"}))
    me = assert_ok(api.get(ME, token=u.token))
    assert me["role"] == "USER"


def test_user_cannot_patch_or_delete_another(api, make_user, db):
    a, b = make_user(), make_user()
    before = db_user(db, b.id)
    assert_error(api.patch(user_url(b.id), token=a.token, json={"displayName": "owned"}), 403,
                 "FORBIDDEN")
    assert_error(api.delete(user_url(b.id), token=a.token), 403, "FORBIDDEN")
    assert db_user(db, b.id) == before
    assert_ok(api.get(ME, token=b.token))
    # Missing users are 404 for everyone.
    assert_error(api.patch(user_url(str(uuid.uuid4())), token=a.token,
                           json={"displayName": "x"}), 404, "NOT_FOUND")
    assert_error(api.delete(user_url(str(uuid.uuid4())), token=a.token), 404, "NOT_FOUND")


def test_admin_may_patch_and_delete_others(api, make_user, db):
    admin, b = make_user(admin=True), make_user()
    data = assert_ok(api.patch(user_url(b.id), token=admin.token,
                               json={"statusMessage": "moderated", "role": "ADMIN"}))
    assert data["statusMessage"] == "moderated" and data["role"] == "USER"
    assert db_user(db, b.id)["role"] == "USER"
    assert_ok(api.delete(user_url(b.id), token=admin.token))
    assert_error(api.get(ME, token=b.token), 401, "AUTH_TOKEN_INVALID")


# ------------------------------------------------------------- deleting

@pytest.mark.parametrize("path", ["id", "me"])
def test_delete_self_anonymises_and_keeps_history(api, make_user, db, path):
    u, other = make_user(), make_user()
    conv, msg = str(uuid.uuid4()), str(uuid.uuid4())
    with db.cursor() as c:
        c.execute("INSERT INTO conversations (id, kind, direct_key) VALUES (%s, 'DIRECT', %s)",
                  (conv, conv))
        c.execute("INSERT INTO messages (id, conversation_id, sender_id, content)"
                  " VALUES (%s, %s, %s, 'hello from the past')", (msg, conv, u.id))
    assert_ok(api.get(ME, token=u.token))
    r = api.delete(user_url(u.id if path == "id" else "me"), token=u.token)
    assert assert_ok(r) is None
    # Sessions die at once; login fails; the profile is gone.
    assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.post("/api/v1/auth/refresh", json={"refreshToken": u.refreshToken},
                          headers={"X-Forwarded-For": "198.18.3.3"}), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.post("/api/v1/auth/login", json={"login": u.email, "password": u.password},
                          headers={"X-Forwarded-For": "198.18.3.4"}), 401,
                 "AUTH_INVALID_CREDENTIALS")
    assert_error(api.get(user_url(u.id), token=other.token), 404, "NOT_FOUND")
    assert_error(api.get(user_url(u.id) + "/presence", token=other.token), 404, "NOT_FOUND")
    row = db_user(db, u.id)
    assert row["is_active"] == 0 and row["deleted_at"] is not None
    assert row["email"] is None and row["password_hash"] is None
    assert row["username"].startswith("deleted_") and u.username not in row["username"]
    assert row["bio"] is None and row["display_name"] == "Deleted user"
    with db.cursor() as c:
        c.execute("SELECT content, sender_id FROM messages WHERE id = %s", (msg,))
        m = c.fetchone()
        c.execute("SELECT COUNT(*) AS n FROM sessions WHERE user_id = %s AND revoked_at IS NULL",
                  (u.id,))
        assert c.fetchone()["n"] == 0
        c.execute("DELETE FROM messages WHERE id = %s", (msg,))
        c.execute("DELETE FROM conversations WHERE id = %s", (conv,))
    assert m["content"] == "hello from the past" and m["sender_id"] == u.id
    # The name and email are free again.
    assert_ok(api.post("/api/v1/auth/register", json={"username": u.username, "email": u.email,
                                                      "password": u.password},
                       headers={"X-Forwarded-For": "198.18.3.5"}), 201)


# --------------------------------------------------------------- search

def test_search(api, make_user):
    tag = uuid.uuid4().hex[:8]
    a = make_user(username="srch_%s_alpha" % tag, displayName="Alpha Person %s" % tag)
    b = make_user(username="srch_%s_beta" % tag, displayName="Quiet %s Beta" % tag)
    me = make_user()
    r = api.get(USERS, token=me.token, params={"query": "srch_" + tag})
    items = assert_ok(r)
    assert {x["id"] for x in items} == {a.id, b.id}
    for x in items:
        assert set(x) == PUBLIC_FIELDS
    assert r.json()["pagination"]["total"] == 2
    assert r.headers["X-Pagination-Total"] == "2"
    # Display-name substring, any case; q alias.
    items = assert_ok(api.get(USERS, token=me.token, params={"q": "QUIET %s" % tag}))
    assert [x["id"] for x in items] == [b.id]
    # Email: exact only.
    items = assert_ok(api.get(USERS, token=me.token, params={"query": a.email}))
    assert [x["id"] for x in items] == [a.id]
    assert a.email not in api.get(USERS, token=me.token, params={"query": a.email}).text
    items = assert_ok(api.get(USERS, token=me.token, params={"query": a.email[:-4]}))
    assert items == []
    # Exact username first.
    items = assert_ok(api.get(USERS, token=me.token, params={"query": b.username}))
    assert items[0]["id"] == b.id


def test_search_by_email_is_exact_and_leaks_nothing(api, make_user):
    """Seed 002 asks for search "by username or email", so an email finds
    its account - but only the exact full address (the identity the
    unique key and login use: ASCII, any letter case), never a part, a
    look-alike or a padded spelling, and the address itself is never in
    another user's answers."""
    tag = uuid.uuid4().hex[:8]
    a = make_user(username="mail_%s" % tag, displayName="Mail %s" % tag)
    me = make_user()
    local, domain = a.email.split("@")

    def found(q):
        return [x["id"] for x in assert_ok(api.get(USERS, token=me.token, params={"query": q}))]

    assert found(a.email) == [a.id]
    assert found(a.email.upper()) == [a.id]
    for q in (a.email + " ", " " + a.email, a.email + "  ",        # padded
              local[:1] + "\u0301" + local[1:] + "@" + domain,    # combining accent
              "\uff55" + local[1:] + "@" + domain,                 # fullwidth u
              local + "@" + domain.replace("e", "\u00e9", 1),       # accented domain
              local + "@", "@" + domain, domain, local[:-1] + "_@" + domain):
        assert a.id not in found(q), repr(q)
    # Nothing another user can read carries the address.
    peer = make_user()
    g = assert_ok(api.post("/api/v1/groups", token=a.token,
                           json={"title": "Mail " + tag, "members": [peer.id, me.id]}), 201)
    assert_ok(api.post("/api/v1/messages", token=a.token,
                       json={"groupId": g["id"], "content": "hi"}), 201)
    assert_ok(api.post("/api/v1/messages", token=a.token,
                       json={"receiverId": me.id, "content": "hi"}), 201)
    for path in (USERS + "?query=" + a.email, user_url(a.id), "/api/v1/groups/%s" % g["id"],
                 "/api/v1/groups/%s/members" % g["id"], "/api/v1/groups/%s/messages" % g["id"],
                 "/api/v1/messages/direct/" + a.id, "/api/v1/conversations"):
        r = api.get(path, token=me.token)
        assert r.status_code == 200, (path, r.text)
        assert a.email.lower() not in r.text.lower(), path
        assert '"email"' not in r.text, path


def test_search_pagination_and_wildcards(api, make_user):
    tag = uuid.uuid4().hex[:8]
    ids = {make_user(username="pg_%s_%d" % (tag, i)).id for i in range(3)}
    me = make_user()
    r = api.get(USERS, token=me.token, params={"query": "pg_" + tag, "limit": 2, "page": 1})
    page1 = assert_ok(r)
    p = r.json()["pagination"]
    assert len(page1) == 2 and p["total"] == 3 and p["totalPages"] == 2 and p["hasMore"]
    page2 = assert_ok(api.get(USERS, token=me.token,
                              params={"query": "pg_" + tag, "limit": 2, "page": 2}))
    assert {x["id"] for x in page1 + page2} == ids
    # LIKE wildcards are literal.
    assert assert_ok(api.get(USERS, token=me.token, params={"query": "pg%" + tag})) == []
    assert assert_ok(api.get(USERS, token=me.token, params={"query": "pg" + "_" * 10})) == []
    r = api.get(USERS, token=me.token, params={"query": "%"})
    assert_ok(r)
    assert r.json()["pagination"]["total"] == 0
    # limit is clamped.
    r = api.get(USERS, token=me.token, params={"limit": 1000})
    assert r.json()["pagination"]["limit"] == 100


def test_search_excludes_deleted_users(api, make_user):
    tag = uuid.uuid4().hex[:8]
    gone = make_user(username="gone_%s" % tag)
    me = make_user()
    assert_ok(api.delete(USERS + "/me", token=gone.token))
    assert assert_ok(api.get(USERS, token=me.token, params={"query": "gone_" + tag})) == []


@pytest.mark.parametrize("query", ["x" * 101, "%ff%fe", "%ed%a0%80", "%c0%af"])
def test_search_query_invalid(api, make_user, query):
    me = make_user()
    err = assert_error(api.get(USERS + "?query=" + query, token=me.token), 400,
                       "VALIDATION_ERROR")
    assert "query" in err["error"]["details"]["fields"]


# ------------------------------------------------------------- presence

def test_presence_offline_then_online(api, make_user, db):
    u, watcher = make_user(), make_user()
    url = user_url(u.id) + "/presence"
    data = assert_ok(api.get(url, token=watcher.token))
    assert data == {"isOnline": False, "lastSeen": None}
    try:
        set_presence(u.id, 2)
        data = assert_ok(api.get(url, token=watcher.token))
        assert data["isOnline"] is True and data["lastSeen"]
        prof = assert_ok(api.get(user_url(u.id), token=watcher.token))
        assert prof["isOnline"] is True
        set_presence(u.id, 0)
        assert assert_ok(api.get(url, token=watcher.token))["isOnline"] is False
    finally:
        set_presence(u.id, None)
    with db.cursor() as c:
        c.execute("UPDATE users SET last_seen = '2025-01-02 03:04:05.678' WHERE id = %s", (u.id,))
    data = assert_ok(api.get(url, token=watcher.token))
    assert data == {"isOnline": False, "lastSeen": "2025-01-02T03:04:05.678Z"}
    assert assert_ok(api.get(USERS + "/me/presence", token=u.token))["isOnline"] is False


def test_presence_unknown_user(api, make_user):
    u = make_user()
    assert_error(api.get(user_url(str(uuid.uuid4())) + "/presence", token=u.token), 404,
                 "NOT_FOUND")
    assert_error(api.get(user_url("nope") + "/presence", token=u.token), 404, "NOT_FOUND")
