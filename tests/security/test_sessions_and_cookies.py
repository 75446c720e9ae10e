"""Session rotation at login and cookie flags."""

from __future__ import annotations

import pytest
from http.cookies import SimpleCookie


def session_cookie(response) -> SimpleCookie:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            jar = SimpleCookie()
            jar.load(header)
            return jar
    raise AssertionError("no session cookie set")


def test_session_is_rotated_at_login(app, client, auth, make_client):
    auth.signup()
    auth.logout()
    # An attacker plants a session (fixation): it holds data and a cookie they know.
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    planted_cookie = client.get_cookie("session").value
    r = auth.login()
    assert r.status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("_user_id")
    assert client.get_cookie("session").value != planted_cookie
    # The cookie from before login does not become a logged-in session.
    attacker, _ = make_client()
    attacker.set_cookie("session", planted_cookie)
    assert attacker.get("/billing").status_code == 302


def test_local_development_cookies_are_httponly_and_samesite(client, auth):
    r = auth.signup()
    flags = session_cookie(r)["session"]
    assert flags["httponly"] is True
    assert flags["samesite"] == "Lax"
    assert not flags["secure"]  # plain http on a laptop


@pytest.mark.parametrize("env", ["production", "staging"])
def test_cookies_are_secure_outside_local_development(monkeypatch, app_config, env):
    from saas import config, create_app
    from tests.conftest import Auth

    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-for-this-test")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    cfg = config.from_env()
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["REMEMBER_COOKIE_SECURE"] is True
    overrides = {k: v for k, v in app_config.items()}
    overrides.update({k: cfg[k] for k in ("APP_ENV", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                                          "SESSION_COOKIE_SAMESITE", "REMEMBER_COOKIE_SECURE")})
    app = create_app(overrides)
    client = app.test_client()
    r = Auth(client).signup()
    flags = session_cookie(r)["session"]
    assert flags["secure"] is True and flags["httponly"] is True and flags["samesite"] == "Lax"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    from saas.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_development_and_test_envs_default_to_insecure_cookies(monkeypatch):
    from saas import config

    for env in ("development", "test"):
        monkeypatch.setenv("APP_ENV", env)
        monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
        assert config.from_env()["SESSION_COOKIE_SECURE"] is False
