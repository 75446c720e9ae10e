"""The sandbox process keeps connections open for requests without a body (every GET the app
makes), and answers them exactly as werkzeug's own handler does."""
from __future__ import annotations

import http.client
import json
import threading

import pytest
from werkzeug.serving import make_server

from saas.sandbox import create_sandbox_app
from saas.sandbox.server import KeepAliveHandler

AUTH = {"Authorization": "Bearer sk_test_keepalive"}


@pytest.fixture
def served():
    app = create_sandbox_app(public_url="http://127.0.0.1")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield app, server.server_port
    server.shutdown()
    server.server_close()


def test_gets_share_one_connection_and_match_the_app(served):
    app, port = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/v1/customers", body="email=ka%40example.com",
                 headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    created = conn.getresponse()
    body = json.loads(created.read())
    # A request with a body still goes through werkzeug, which closes the connection.
    assert created.getheader("Connection") == "close"
    conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    expected = app.test_client().get(f"/v1/customers/{body['id']}", headers=AUTH)
    sockets = set()
    for _ in range(3):
        conn.request("GET", f"/v1/customers/{body['id']}", headers=AUTH)
        resp = conn.getresponse()
        data = resp.read()
        sockets.add(id(conn.sock))
        assert resp.status == 200
        assert resp.getheader("Connection") is None
        assert resp.getheader("Content-Type") == "application/json"
        assert data == expected.data
    assert len(sockets) == 1 and conn.sock is not None  # never reconnected

    conn.request("GET", "/v1/customers/cus_missing", headers=AUTH)
    missing = conn.getresponse()
    assert missing.status == 404 and json.loads(missing.read())["error"]["code"] == "resource_missing"

    conn.request("GET", "/v1/customers", headers={**AUTH, "Connection": "close"})
    last = conn.getresponse()
    assert last.status == 200 and last.getheader("Connection") == "close"
    last.read()
    conn.close()
