"""Accounts: registration, login, refresh rotation with reuse detection,
logout / logout-all, the admin CLI (parleyctl keys / user), the password
hashing cap and CORS.

Every error test checks status, envelope and code (assert_error); side
effects are checked in MariaDB.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import statistics
import time
import uuid

import pytest

from parley_api import assert_error, assert_ok, wait_until

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
ME = "/api/v1/auth/me"

OWN_FIELDS = {"id", "username", "email", "displayName", "avatar", "statusMessage", "bio",
              "location", "publicKey", "role", "isOnline", "lastSeen", "createdAt", "updatedAt"}


def fresh(**extra):
    tag = uuid.uuid4().hex[:12]
    body = {"username": "t_" + tag, "email": "t_%s@example.com" % tag,
            "password": "Passw0rd-" + tag}
    body.update(extra)
    return body


def jwt_part(token, i):
    seg = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def xff():
    """A distinct client address (127.0.0.1, our peer, is a trusted proxy)."""
    return {"X-Forwarded-For": "198.19.%d.%d" % (os.getpid() % 250, uuid.uuid4().int % 250 + 1)}


def assert_token_pair(data):
    assert data["tokenType"] == "Bearer"
    assert isinstance(data["expiresIn"], int) and data["expiresIn"] > 0
    assert data["accessToken"].count(".") == 2
    assert len(data["refreshToken"]) == 43
    assert set(data["user"]) == OWN_FIELDS
    return data


# ------------------------------------------------------------- register

def test_register_happy_path(api, db):
    body = fresh(displayName="Zoë Example")
    r = api.post(REGISTER, json=body, headers=xff())
    data = assert_token_pair(assert_ok(r, 201))
    user = data["user"]
    assert user["username"] == body["username"]
    assert user["email"] == body["email"]
    assert user["displayName"] == "Zoë Example"
    assert user["role"] == "USER"
    assert user["isOnline"] is False
    assert "password" not in r.text.lower().replace("passw0rd", "")
    assert "hash" not in r.text.lower()
    claims = jwt_part(data["accessToken"], 1)
    assert claims["sub"] == user["id"] and claims["typ"] == "access"
    assert jwt_part(data["accessToken"], 0)["alg"] == "HS256"
    with db.cursor() as c:
        c.execute("SELECT username, email, password_hash, role, is_active FROM users WHERE id = %s",
                  (user["id"],))
        row = c.fetchone()
    assert row["username"] == body["username"] and row["role"] == "USER"
    assert row["password_hash"].startswith("$s1$"), "scrypt MCF expected"
    assert body["password"] not in row["password_hash"]
    # The token works at once.
    me = assert_ok(api.get(ME, token=data["accessToken"]))
    assert me["id"] == user["id"] and me["email"] == body["email"]


def test_register_snake_case_and_public_key(api):
    body = fresh()
    body["display_name"] = "Snake Case"
    body["public_key"] = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"
    user = assert_ok(api.post(REGISTER, json=body, headers=xff()), 201)["user"]
    assert user["displayName"] == "Snake Case"
    assert user["publicKey"] == body["public_key"]


def test_register_alias_post_users(api):
    data = assert_ok(api.post("/api/v1/users", json=fresh(), headers=xff()), 201)
    assert_token_pair(data)


@pytest.mark.parametrize("password", [
    "Aa1" + "x" * 125,                      # 128 characters
    "Aa1" + "é" * 200,                      # long, multi-byte
    "Пароль12Secure",                       # Cyrillic
    "Ünïcödé-Pässwörd-9",
    "Aa1 🔑🔑🔑 漢字 with spaces",
])
def test_register_long_and_unicode_passwords(api, password):
    body = fresh(password=password)
    assert_ok(api.post(REGISTER, json=body, headers=xff()), 201)
    data = assert_ok(api.post(LOGIN, json={"username": body["username"], "password": password},
                              headers=xff()))
    assert data["user"]["username"] == body["username"]


@pytest.mark.parametrize("field,value", [
    ("username", None),
    ("username", "ab"),
    ("username", "a" * 51),
    ("username", "bad-name"),
    ("username", "bad name"),
    ("username", "ünïcode"),
    ("username", 12345),
    ("email", None),
    ("email", "not-an-email"),
    ("email", "a@b"),
    ("email", "a@@example.com"),
    ("email", "a b@example.com"),
    ("email", "a@example..com"),
    ("email", "x" * 250 + "@example.com"),
    ("email", ["a@example.com"]),
    ("password", None),
    ("password", "Sh0rt"),
    ("password", "alllowercase1"),
    ("password", "ALLUPPERCASE1"),
    ("password", "NoDigitsHere"),
    ("password", "Aa1" + "x" * 600),
    ("password", 12345678),
    ("displayName", "d" * 101),
    ("displayName", "bell\u0007"),
])
def test_register_validation(api, db, field, value):
    body = fresh()
    if value is None:
        del body[field]
    else:
        body[field] = value
    err = assert_error(api.post(REGISTER, json=body, headers=xff()), 400, "VALIDATION_ERROR")
    assert field in err["error"]["details"]["fields"], err
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM users WHERE username = %s",
                  (body.get("username") if isinstance(body.get("username"), str) else "",))
        assert c.fetchone()["n"] == 0


def test_register_duplicate_username_and_email(api):
    body = fresh()
    assert_ok(api.post(REGISTER, json=body, headers=xff()), 201)
    dup = fresh(username=body["username"].upper())
    err = assert_error(api.post(REGISTER, json=dup, headers=xff()), 409, "CONFLICT")
    assert "username" in err["error"]["details"]["fields"]
    dup = fresh(email=body["email"].upper())
    err = assert_error(api.post(REGISTER, json=dup, headers=xff()), 409, "CONFLICT")
    assert "email" in err["error"]["details"]["fields"]


def test_register_reserved_prefix(api):
    body = fresh(username="deleted_" + uuid.uuid4().hex[:8])
    err = assert_error(api.post(REGISTER, json=body, headers=xff()), 400, "VALIDATION_ERROR")
    assert "username" in err["error"]["details"]["fields"]


def test_register_bad_bodies(api):
    assert_error(api.post(REGISTER, data=b"{", headers={"Content-Type": "application/json"}),
                 400, "VALIDATION_ERROR")
    assert_error(api.post(REGISTER, data=b"{}", headers={"Content-Type": "text/plain"}),
                 415, "UNSUPPORTED_MEDIA_TYPE")


# ---------------------------------------------------------------- login

@pytest.mark.parametrize("key", ["email", "username", "login", "login-email"])
def test_login_happy_path(api, make_user, key):
    u = make_user()
    body = {"password": u.password}
    if key == "login-email":
        body["login"] = u.email.upper()
    else:
        body[key] = u.email if key == "email" else u.username
    data = assert_token_pair(assert_ok(api.post(LOGIN, json=body, headers=xff())))
    assert data["user"]["id"] == u.id
    assert data["user"]["email"] == u.email
    me = assert_ok(api.get(ME, token=data["accessToken"]))
    assert me["id"] == u.id
    # A second session: the first token still works.
    assert_ok(api.get(ME, token=u.token))


def test_login_wrong_password_and_unknown_user_look_alike(api, make_user):
    u = make_user()
    wrong = {"login": u.username, "password": u.password + "x"}
    unknown = {"login": "nobody_" + uuid.uuid4().hex[:10], "password": u.password}
    e1 = assert_error(api.post(LOGIN, json=wrong, headers=xff()), 401, "AUTH_INVALID_CREDENTIALS")
    e2 = assert_error(api.post(LOGIN, json=unknown, headers=xff()), 401,
                      "AUTH_INVALID_CREDENTIALS")
    assert e1 == e2


def test_login_unknown_user_costs_the_same_time(api, make_user):
    u = make_user()

    def timed(body):
        t0 = time.perf_counter()
        r = api.post(LOGIN, json=body, headers=xff())
        assert r.status_code == 401
        return time.perf_counter() - t0

    wrong, unknown, refused = [], [], []
    for i in range(4):
        wrong.append(timed({"login": u.username, "password": "Wrong-pass-%d" % i}))
        unknown.append(timed({"login": "ghost_%s" % uuid.uuid4().hex[:8], "password": "Xx1-%d" % i}))
        # A spelling no account can have (refused without a lookup).
        refused.append(timed({"login": "ghost_%s " % uuid.uuid4().hex[:8], "password": "Xx1-%d" % i}))
    w, n, f = statistics.median(wrong), statistics.median(unknown), statistics.median(refused)
    # All pay one scrypt; an unknown user must not answer much faster.
    assert n > 0.6 * w, "unknown user %.1f ms vs wrong password %.1f ms" % (n * 1e3, w * 1e3)
    assert f > 0.6 * w, "refused name %.1f ms vs wrong password %.1f ms" % (f * 1e3, w * 1e3)


@pytest.mark.parametrize("body,field", [
    ({"password": "Passw0rd-x"}, "login"),
    ({"login": "someone"}, "password"),
    ({"login": "", "password": "Passw0rd-x"}, "login"),
    ({"login": 5, "password": "Passw0rd-x"}, "login"),
    ({"login": "someone", "password": ["x"]}, "password"),
])
def test_login_validation(api, body, field):
    err = assert_error(api.post(LOGIN, json=body, headers=xff()), 400, "VALIDATION_ERROR")
    assert field in err["error"]["details"]["fields"]


def test_login_deleted_user_fails(api, make_user):
    u = make_user()
    assert_ok(api.delete("/api/v1/users/%s" % u.id, token=u.token))
    assert_error(api.post(LOGIN, json={"login": u.username, "password": u.password},
                          headers=xff()), 401, "AUTH_INVALID_CREDENTIALS")


# -------------------------------------------------------------- refresh

def test_refresh_rotates(api, make_user, db):
    u = make_user()
    data = assert_token_pair(assert_ok(api.post(REFRESH, json={"refreshToken": u.refreshToken},
                                                headers=xff())))
    assert data["refreshToken"] != u.refreshToken
    assert data["accessToken"] != u.accessToken
    assert data["user"]["id"] == u.id
    assert jwt_part(data["accessToken"], 1)["sid"] == jwt_part(u.token, 1)["sid"]
    assert_ok(api.get(ME, token=data["accessToken"]))
    # snake_case spelling, and the chain goes on.
    again = assert_ok(api.post(REFRESH, json={"refresh_token": data["refreshToken"]},
                               headers=xff()))
    assert again["refreshToken"] not in (data["refreshToken"], u.refreshToken)
    # Stored only as SHA-256.
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = %s",
                  (hashlib.sha256(again["refreshToken"].encode()).digest(),))
        assert c.fetchone()["n"] == 1
        c.execute("SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = %s",
                  (again["refreshToken"].encode()[:32],))
        assert c.fetchone()["n"] == 0


def test_refresh_reuse_revokes_the_family(api, make_user, db):
    u = make_user()
    first = assert_ok(api.post(REFRESH, json={"refreshToken": u.refreshToken}, headers=xff()))
    # Replaying the rotated token: refused, and the whole session dies.
    err = assert_error(api.post(REFRESH, json={"refreshToken": u.refreshToken}, headers=xff()),
                       401, "AUTH_TOKEN_INVALID")
    assert "revoked" in err["message"].lower()
    assert_error(api.post(REFRESH, json={"refreshToken": first["refreshToken"]}, headers=xff()),
                 401, "AUTH_TOKEN_INVALID")
    assert_error(api.get(ME, token=first["accessToken"]), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
    sid = jwt_part(u.token, 1)["sid"]
    with db.cursor() as c:
        c.execute("SELECT revoked_at, revoke_reason FROM sessions WHERE id = %s", (sid,))
        row = c.fetchone()
    assert row["revoked_at"] is not None and row["revoke_reason"] == "reuse"
    # Other sessions of the user are untouched.
    other = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=xff()))
    assert_ok(api.get(ME, token=other["accessToken"]))


def test_refresh_concurrent_replay_is_reuse(api, make_user):
    u = make_user()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(lambda _: api.post(REFRESH, json={"refreshToken": u.refreshToken},
                                              headers=xff()), range(4)))
    assert sum(r.status_code == 200 for r in rs) <= 1
    for r in rs:
        if r.status_code != 200:
            assert_error(r, 401, "AUTH_TOKEN_INVALID")


@pytest.mark.parametrize("token", [
    "x", "A" * 43, "A" * 44, "!" * 43, "", "eyJhbGciOiJIUzI1NiJ9.e30.abc",
])
def test_refresh_invalid(api, token):
    assert_error(api.post(REFRESH, json={"refreshToken": token}, headers=xff()), 401,
                 "AUTH_TOKEN_INVALID")


def test_refresh_missing_or_wrong_type(api):
    err = assert_error(api.post(REFRESH, json={}, headers=xff()), 400, "VALIDATION_ERROR")
    assert "refreshToken" in err["error"]["details"]["fields"]
    assert_error(api.post(REFRESH, json={"refreshToken": 42}, headers=xff()), 400,
                 "VALIDATION_ERROR")


def test_refresh_expired(api, make_user, db):
    u = make_user()
    with db.cursor() as c:
        c.execute("UPDATE refresh_tokens SET expires_at = NOW(3) - INTERVAL 1 SECOND"
                  " WHERE token_hash = %s", (hashlib.sha256(u.refreshToken.encode()).digest(),))
        assert c.rowcount == 1
    assert_error(api.post(REFRESH, json={"refreshToken": u.refreshToken}, headers=xff()), 401,
                 "AUTH_TOKEN_EXPIRED")


# --------------------------------------------------------------- logout

def test_logout_revokes_the_session_at_once(api, make_user, db):
    u = make_user()
    other = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=xff()))
    assert_ok(api.get(ME, token=u.token))            # cached as alive now
    assert assert_ok(api.post(LOGOUT, token=u.token)) is None
    assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.post(REFRESH, json={"refreshToken": u.refreshToken}, headers=xff()), 401,
                 "AUTH_TOKEN_INVALID")
    # The other session lives on.
    assert_ok(api.get(ME, token=other["accessToken"]))
    with db.cursor() as c:
        c.execute("SELECT revoke_reason FROM sessions WHERE id = %s",
                  (jwt_part(u.token, 1)["sid"],))
        assert c.fetchone()["revoke_reason"] == "logout"


def test_logout_with_refresh_token_of_another_own_session(api, make_user):
    u = make_user()
    other = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=xff()))
    assert_ok(api.post(LOGOUT, token=u.token, json={"refreshToken": other["refreshToken"]}))
    assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.get(ME, token=other["accessToken"]), 401, "AUTH_TOKEN_INVALID")


def test_logout_cannot_touch_someone_elses_session(api, make_user):
    a, b = make_user(), make_user()
    assert_ok(api.post(LOGOUT, token=a.token, json={"refresh_token": b.refreshToken}))
    assert_ok(api.get(ME, token=b.token))
    assert_ok(api.post(REFRESH, json={"refreshToken": b.refreshToken}, headers=xff()))


def test_logout_all_kills_every_outstanding_token(api, make_user, db):
    u = make_user()
    sessions = [assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                                   headers=xff())) for _ in range(2)]
    tokens = [u.token] + [s["accessToken"] for s in sessions]
    for t in tokens:
        assert_ok(api.get(ME, token=t))              # all cached as alive
    stranger = make_user()
    assert_ok(api.post(LOGOUT_ALL, token=sessions[0]["accessToken"]))
    for t in tokens:
        assert_error(api.get(ME, token=t), 401, "AUTH_TOKEN_INVALID")
    for rt in [u.refreshToken] + [s["refreshToken"] for s in sessions]:
        assert_error(api.post(REFRESH, json={"refreshToken": rt}, headers=xff()), 401,
                     "AUTH_TOKEN_INVALID")
    assert_ok(api.get(ME, token=stranger.token))
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM sessions WHERE user_id = %s AND revoked_at IS NULL",
                  (u.id,))
        assert c.fetchone()["n"] == 0
    # A new login still works.
    fresh_login = assert_ok(api.post(LOGIN, json={"email": u.email, "password": u.password},
                                     headers=xff()))
    assert_ok(api.get(ME, token=fresh_login["accessToken"]))


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT_ALL])
def test_logout_requires_auth(api, path):
    assert_error(api.post(path), 401, "UNAUTHORIZED")
    assert_error(api.post(path, token="not.a.token"), 401, "AUTH_TOKEN_INVALID")


def test_logout_bad_body(api, make_user):
    u = make_user()
    assert_error(api.post(LOGOUT, token=u.token, json={"refreshToken": 7}), 400,
                 "VALIDATION_ERROR")
    assert_error(api.post(LOGOUT, token=u.token, data=b"[1]",
                          headers={"Content-Type": "application/json"}), 400, "VALIDATION_ERROR")
    assert_ok(api.get(ME, token=u.token))


# ------------------------------------------------------------------- me

@pytest.mark.parametrize("path", [ME, "/api/v1/users/me", "/api/auth/me", "/api/users/me"])
def test_me(api, make_user, path):
    u = make_user()
    r = api.get(path, token=u.token)
    me = assert_ok(r)
    assert set(me) == OWN_FIELDS
    assert me["id"] == u.id and me["email"] == u.email and me["role"] == "USER"
    assert r.headers["Cache-Control"] == "no-store"
    assert int(r.headers["X-RateLimit-Limit"]) > 0


@pytest.mark.parametrize("path", [ME, "/api/v1/users/me"])
def test_me_requires_a_token(api, path):
    assert_error(api.get(path), 401, "UNAUTHORIZED")
    assert_error(api.get(path, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401,
                 "UNAUTHORIZED")
    assert_error(api.get(path, token="garbage"), 401, "AUTH_TOKEN_INVALID")


# ------------------------------------------------------- hashing cap (503)

def test_password_hashing_cap_answers_503(api, parley_env):
    """More concurrent logins than hash slots: the excess gets 503 + Retry-After."""
    def attempt(i):
        return api.post(LOGIN, json={"login": "flood_%s" % uuid.uuid4().hex[:10],
                                     "password": "Flood-pass-%d" % i}, headers=xff())

    busy = None
    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            rs = list(pool.map(attempt, range(40)))
        for r in rs:
            assert r.status_code in (401, 503), r.text
        busy = [r for r in rs if r.status_code == 503]
        if busy:
            break
    assert busy, "40 concurrent logins never exceeded [server] hash_concurrency"
    err = assert_error(busy[0], 503, "SERVICE_UNAVAILABLE")
    assert busy[0].headers["Retry-After"] == "1"
    assert err["message"]


# ------------------------------------------------------------ parleyctl

def test_keys_init_is_idempotent_and_list_hides_secrets(parleyctl, parley_env):
    p = parleyctl("keys", "init", check=True)
    assert "already exists" in p.stdout
    p = parleyctl("keys", "list", check=True)
    assert "(signing)" in p.stdout
    keys = open(os.path.join(parley_env["PARLEY_STATE"], "etc", "jwt.keys")).read()
    secrets = [line.split()[1] for line in keys.splitlines() if line and not line.startswith("#")]
    for s in secrets:
        assert s not in p.stdout
    etc = os.path.join(parley_env["PARLEY_STATE"], "etc")
    st = os.stat(os.path.join(etc, "jwt.keys"))
    # keys init made it: 0640, in its directory's group.
    assert oct(st.st_mode & 0o777) == "0o640"
    assert st.st_gid == os.stat(etc).st_gid
    assert parleyctl("keys", "bogus").returncode == 2


def test_keys_files_stay_readable_by_the_workers_group(parleyctl, parley_env, tmp_path):
    """As etc/parley.tmpfiles sets it up (root, group parley, 0640): keys
    init gives a new file its directory's group and 0640, keys rotate (as
    root) keeps the group and mode of the file it replaces, and others
    never get any bits."""
    if os.geteuid() != 0:
        pytest.skip("needs root, as parleyctl keys runs in production")
    # The stack's run user's group: not root's, so it shows which is kept.
    group = os.stat(os.path.join(parley_env["PARLEY_STATE"], "etc")).st_gid
    if group == 0:
        pytest.skip("the stack runs as root")
    etc = tmp_path / "etc"
    etc.mkdir()
    os.chown(etc, 0, group)
    keys = etc / "jwt.keys"
    conf = etc / "parley.conf"
    conf.write_text(open(parley_env["PARLEY_CONFIG"], encoding="utf-8").read().rstrip("\n") +
                    "\n\n[auth]\nkeys_file = %s\n" % keys, encoding="utf-8")

    def mode_and_group():
        st = os.stat(keys)
        return oct(st.st_mode & 0o777), st.st_uid, st.st_gid

    parleyctl("keys", "init", config=conf, check=True)
    assert mode_and_group() == ("0o640", 0, group)
    for before, after in [(0o640, "0o640"), (0o644, "0o640"), (0o600, "0o600"),
                          (0o440, "0o440")]:
        os.chmod(keys, before)
        parleyctl("keys", "rotate", config=conf, check=True)
        assert mode_and_group() == (after, 0, group), oct(before)
    p = parleyctl("keys", "list", config=conf, check=True)
    assert p.stdout.count("\n") >= 3, p.stdout  # the signing key and two more
    assert sorted(os.listdir(etc)) == ["jwt.keys", "parley.conf"]  # no temporary left


def test_keys_rotate_keeps_old_tokens_valid(api, make_user, parleyctl):
    u = make_user()
    old_kid = jwt_part(u.token, 0)["kid"]
    p = parleyctl("keys", "rotate", check=True)
    new_kid = p.stdout.split()[3].rstrip(";")
    assert new_kid != old_kid
    # Tokens signed before the rotation verify until they expire.
    assert_ok(api.get(ME, token=u.token))

    def login_kid():
        d = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=xff()))
        return jwt_part(d["accessToken"], 0)["kid"] == new_kid and d

    # Workers notice the new file within a few seconds (or at once when
    # they see the new kid).
    d = wait_until(login_kid, timeout=15, interval=1.0, what="tokens signed with the new key")
    assert_ok(api.get(ME, token=d["accessToken"]))
    assert_ok(api.get(ME, token=u.token))


def test_user_create_admin_and_reset_password(api, parleyctl, db, make_user):
    tag = uuid.uuid4().hex[:10]
    name, pw = "adm_" + tag, "Adm1n-pass-" + tag
    p = parleyctl("user", "create", "--admin", "--username", name, "--email",
                  name + "@example.com", "--password-stdin", input_text=pw + "\n")
    assert p.returncode == 0, p.stderr
    uid = p.stdout.strip()
    assert pw not in p.stdout + p.stderr
    d = assert_ok(api.post(LOGIN, json={"login": name, "password": pw}, headers=xff()))
    assert d["user"]["role"] == "ADMIN" and d["user"]["id"] == uid
    assert jwt_part(d["accessToken"], 1)["role"] == "ADMIN"
    # Duplicate and weak passwords are refused with a message.
    p = parleyctl("user", "create", "--username", name, "--email", "x" + name + "@example.com",
                  "--password-stdin", input_text=pw + "\n")
    assert p.returncode == 1 and "taken" in p.stderr
    p = parleyctl("user", "create", "--username", "w" + name, "--email",
                  "w" + name + "@example.com", "--password-stdin", input_text="weak\n")
    assert p.returncode == 1 and "password" in p.stderr
    assert parleyctl("user", "create", "--bogus").returncode == 2
    p = parleyctl("user", "create", "--username", "x", "--email", "x@example.com", input_text="")
    assert p.returncode == 1 and "no password" in p.stderr
    # reset-password: the new one works, the old one and every session die.
    new_pw = "N3w-pass-" + tag
    p = parleyctl("user", "reset-password", "--username", name, "--password-stdin",
                  input_text=new_pw + "\n")
    assert p.returncode == 0, p.stderr
    assert_error(api.get(ME, token=d["accessToken"]), 401, "AUTH_TOKEN_INVALID")
    assert_error(api.post(LOGIN, json={"login": name, "password": pw}, headers=xff()), 401,
                 "AUTH_INVALID_CREDENTIALS")
    assert_ok(api.post(LOGIN, json={"login": name, "password": new_pw}, headers=xff()))
    p = parleyctl("user", "reset-password", "--email", "nobody-%s@example.com" % tag,
                  "--password-stdin", input_text=new_pw + "\n")
    assert p.returncode == 1


def test_reset_password_without_memcached_says_what_it_could_not_do(
        api, parleyctl, make_user, db, parley_env, tmp_path):
    # parleyctl's memcached is unreachable (a closed port) while the
    # workers' is not: MariaDB revokes the sessions, but a worker that
    # cached one as alive ("sess:<sid>" = "A ...", AUTH_SESSION_ALIVE_TTL)
    # keeps accepting its access tokens until that entry expires. parleyctl
    # must not claim every session was revoked, and exits 3.
    u = make_user()
    assert_ok(api.get(ME, token=u.token))       # the workers cache the session as alive
    conf = tmp_path / "parley.conf"
    conf.write_text(open(parley_env["PARLEY_CONFIG"], encoding="utf-8").read().rstrip("\n") +
                    "\n\n[memcached]\nservers = 127.0.0.1:1\n", encoding="utf-8")
    new_pw = "N3w-pass-" + uuid.uuid4().hex[:10]
    p = parleyctl("user", "reset-password", "--username", u.username, "--password-stdin",
                  input_text=new_pw + "\n", config=conf)
    out = p.stdout + p.stderr
    assert p.returncode == 3, (p.returncode, out)
    assert "every session of %s was revoked\n" % u.id not in p.stdout, out
    assert "memcached" in p.stderr and "60 s" in p.stderr, out
    assert new_pw not in out
    # The part that did happen: the password, and the sessions in MariaDB.
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) AS n FROM sessions WHERE user_id = %s AND revoked_at IS NULL",
                    (u.id,))
        assert cur.fetchone()["n"] == 0
    assert_ok(api.post(LOGIN, json={"login": u.username, "password": new_pw}, headers=xff()))


# ----------------------------------------------------------------- CORS

def test_cors_preflight_for_a_configured_origin(api, parley_env):
    origin = parley_env["PARLEY_URL"]   # scripts/stack.sh lists it in cors_origins
    # A preflight is not an API operation the document lists (no body).
    r = api.options(ME, headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                 "Access-Control-Request-Headers": "authorization"},
                    validate=False)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert "authorization" in r.headers["Access-Control-Allow-Headers"].lower()
    assert r.headers.get("Vary") == "Origin"
    # Simple requests carry the origin and expose the rate-limit headers.
    r = api.post(LOGIN, json={"login": "nobody_cors", "password": "x"},
                 headers={"Origin": origin, **xff()})
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "X-RateLimit-Remaining" in r.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1"])
def test_cors_nothing_for_other_origins(api, origin):
    r = api.options(ME, headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
                    validate=False)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers
    r = api.get(ME, headers={"Origin": origin})
    assert_error(r, 401, "UNAUTHORIZED")
    assert "Access-Control-Allow-Origin" not in r.headers


# ------------------------------------------- revocation when memcached fails

def _memcached_pid(stack):
    for line in stack("status").stdout.splitlines():
        if line.startswith("memcached") and "running (pid" in line:
            return int(line.split("pid", 1)[1].strip(" )"))
    raise AssertionError("memcached is not running")


def _wait_memcached_ok(api):
    wait_until(lambda: api.get("/api/v1/health/ready").status_code == 200, 30,
               what="the stack to be ready again")


def _sessions_open(db, uid):
    with db.cursor() as c:
        c.execute("SELECT COUNT(*) AS n FROM sessions WHERE user_id = %s AND revoked_at IS NULL",
                  (uid,))
        return c.fetchone()["n"]


@pytest.mark.destructive
def test_logout_all_with_memcached_paused_is_never_silently_incomplete(api, make_user, stack,
                                                                       db):
    """memcached caches "this session is alive" for up to a minute. A
    logout-all that cannot tell it (here: memcached paused, so it keeps
    its contents and serves the stale "alive" answers once it resumes)
    must not answer success: 503 with the envelope, the sessions revoked
    in MariaDB all the same, and the revocation completes by itself (the
    bridge marks recently revoked sessions again) or on the client's
    retry - the old tokens never work for the rest of the minute."""
    import signal

    u = make_user()
    other = assert_ok(api.post(LOGIN, json={"login": u.username, "password": u.password},
                               headers=xff()))
    tokens = [u.token, other["accessToken"]]
    for t in tokens:
        assert_ok(api.get(ME, token=t))                 # cached as alive
    pid = _memcached_pid(stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        r = api.post(LOGOUT_ALL, token=u.token)
        body = assert_error(r, 503, "SERVICE_UNAVAILABLE", message_contains="revoked")
        assert int(r.headers["Retry-After"]) >= 1 and body["retryAfter"] >= 1
        assert _sessions_open(db, u.id) == 0            # the database change is made
        for t in tokens:                                # MariaDB answers meanwhile
            assert_error(api.get(ME, token=t), 401, "AUTH_TOKEN_INVALID")
    finally:
        os.kill(pid, signal.SIGCONT)
    _wait_memcached_ok(api)
    # The client's retry completes it, if its token still gets in at all.
    r = api.post(LOGOUT_ALL, token=u.token)
    assert r.status_code in (200, 401), r.text
    wait_until(lambda: all(api.get(ME, token=t).status_code == 401 for t in tokens), 5,
               what="the revoked tokens to be refused")
    # And they stay refused (no stale "alive" answer comes back).
    for _ in range(3):
        for t in tokens:
            assert_error(api.get(ME, token=t), 401, "AUTH_TOKEN_INVALID")
        time.sleep(0.5)


@pytest.mark.destructive
def test_account_deletion_with_memcached_down_says_so(api, make_user, stack, db):
    u = make_user()
    assert_ok(api.get(ME, token=u.token))
    stack("memcached-stop")
    try:
        r = api.delete("/api/v1/users/me", token=u.token)
        assert_error(r, 503, "SERVICE_UNAVAILABLE", message_contains="revoked")
        with db.cursor() as c:
            c.execute("SELECT deleted_at FROM users WHERE id = %s", (u.id,))
            assert c.fetchone()["deleted_at"] is not None
        assert _sessions_open(db, u.id) == 0
        assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
    finally:
        stack("memcached-start")
    _wait_memcached_ok(api)
    assert_error(api.get(ME, token=u.token), 401, "AUTH_TOKEN_INVALID")
