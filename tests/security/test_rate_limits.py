"""Login and sign-up are rate-limited per client address, in Redis (shared by every web
process), with a clear 429 page."""

from __future__ import annotations

import pytest

from saas.app import _limiter_storage_uri


@pytest.fixture
def app_config(app_config, redis_url):
    return dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=_limiter_storage_uri(redis_url),
                RATELIMIT_LOGIN="3 per minute", RATELIMIT_SIGNUP="2 per minute")


def test_login_is_limited_after_the_configured_attempts(app, client, auth):
    from saas import queue

    for _ in range(3):
        r = auth.login("nobody@example.com", "wrong password")
        assert r.status_code == 422
    r = auth.login("nobody@example.com", "wrong password")
    assert r.status_code == 429
    assert "Too many attempts" in r.get_data(as_text=True)
    assert r.headers.get("Retry-After")
    # Counted in Redis, so every web process shares the count.
    with app.app_context():
        assert any(b"LIMITER" in key or b"login" in key for key in queue.redis_conn().keys("*"))
    # Reading the page is not limited.
    assert client.get("/login").status_code == 200


def test_signup_is_limited(app, client, auth):
    assert auth.signup("a1@example.com").status_code == 302
    auth.logout()
    assert auth.signup("a2@example.com").status_code == 302
    auth.logout()
    r = auth.signup("a3@example.com")
    assert r.status_code == 429
    from saas.accounts.models import User
    from saas.extensions import db

    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 2


def test_limits_are_per_client_address(app):
    from tests.conftest import Auth

    first = Auth(app.test_client())
    for _ in range(3):
        first.login("x@example.com", "wrong password")
    assert first.login("x@example.com", "wrong password").status_code == 429
    other = app.test_client()
    token = Auth(other).token("/login")
    r = other.post("/login", data={"csrf_token": token, "email": "x@example.com", "password": "nope"},
                   environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 422
