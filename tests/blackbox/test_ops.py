"""What an operator sees: logs, parleyctl's answers, the files it guards.

The web-server configurations under test are the shipped httpd-conf/
templates the stack renders; parleyctl is the build's binary, run with
copies of the stack's configuration.
"""

import os
import pathlib
import random
import uuid

import pytest
import websocket

from parley_api import wait_until

FRONTS = {
    "lighttpd": ("PARLEY_URL", "lighttpd-access.log"),
    "apache-proxy-fcgi": ("PARLEY_APACHE_PROXY_URL", "apache-proxy-fcgi-access.log"),
    "apache-fcgid": ("PARLEY_APACHE_FCGID_URL", "apache-fcgid-access.log"),
}


def log_dir():
    d = os.environ.get("PARLEY_LOG_DIR") or os.path.join(
        os.environ.get("PARLEY_STATE") or pytest.skip("PARLEY_STATE not set"), "log")
    return pathlib.Path(d)


def logs_text():
    out = {}
    for p in log_dir().iterdir():
        if p.is_file():
            out[p.name] = p.read_text(encoding="utf-8", errors="replace")
    return out


# ------------------------------------------------------------ secrets in logs

@pytest.mark.parametrize("front", sorted(FRONTS))
def test_access_logs_never_hold_the_websocket_token(front, api, make_user):
    """Browsers cannot set headers on a WebSocket, so clients authenticate
    with /ws?token=ACCESS_TOKEN. The web server's access log must not keep
    it: the path is logged, the query string is not."""
    var, access_log = FRONTS[front]
    base = os.environ.get(var) or pytest.skip("%s is not set" % var)
    u = make_user()
    agent = "parley-ops-test-" + uuid.uuid4().hex
    url = base.replace("http://", "ws://", 1) + "/ws?token=" + u.token
    ws = websocket.create_connection(url, timeout=10, suppress_origin=True, header=[
        "User-Agent: " + agent,
        "X-Forwarded-For: 198.18.%d.%d" % (random.randrange(256), random.randrange(1, 255)),
    ])
    try:
        assert '"auth_response"' in ws.recv()
    finally:
        ws.close()
    # The request is logged when the tunnel closes.
    line = wait_until(lambda: next((ln for ln in logs_text().get(access_log, "").splitlines()
                                    if agent in ln), None),
                      15, 0.2, "the /ws request in %s" % access_log)
    assert "/ws" in line, line
    leaks = sorted(name for name, text in logs_text().items() if u.token in text)
    assert not leaks, "access token written to %s" % ", ".join(leaks)
