"""Sign up, log in, log out: hashing, unique emails, CSRF, login_required, safe next=."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from saas.accounts import services
from saas.accounts.models import User
from saas.accounts.views import safe_next
from saas.extensions import db


def users(app):
    with app.app_context():
        return db.session.execute(select(User)).scalars().all()


def test_signup_creates_an_argon2_hashed_user_and_logs_in(app, auth, client):
    r = auth.signup("Ada@Example.com", "correct horse battery")
    assert r.status_code == 302 and r.headers["Location"].endswith("/billing")
    [user] = users(app)
    assert user.email == "Ada@Example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse battery" not in user.password_hash
    assert client.get("/billing").status_code == 200


def test_emails_are_unique_whatever_their_case(app, make_client):
    c1, a1 = make_client()
    a1.signup("ada@example.com")
    c2, a2 = make_client()
    r = a2.signup("ADA@example.COM")
    assert r.status_code == 422
    assert "already exists" in r.get_data(as_text=True)
    assert len(users(app)) == 1


def test_database_enforces_case_insensitive_uniqueness(ctx):
    services.create_user("grace@example.com", "password123")
    db.session.add(User(email="GRACE@example.com", password_hash="x"))
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 1


def test_login_with_other_case_and_wrong_password(app, make_client):
    c, a = make_client()
    a.signup("ada@example.com", "correct horse battery")
    a.logout()
    r = a.login("ADA@EXAMPLE.COM", "wrong password")
    assert r.status_code == 422
    assert "do not match" in r.get_data(as_text=True)
    assert c.get("/billing").status_code == 302
    r = a.login("ADA@EXAMPLE.COM", "correct horse battery")
    assert r.status_code == 302
    assert c.get("/billing").status_code == 200


def test_unknown_email_gets_the_same_message(client, auth):
    r = auth.login("nobody@example.com", "whatever123")
    assert r.status_code == 422 and "do not match" in r.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["", "not-an-email", "a@"])
def test_signup_rejects_bad_email(app, auth, bad):
    r = auth.signup(bad, "correct horse battery")
    assert r.status_code == 422
    assert users(app) == []


def test_signup_rejects_short_or_mismatched_password(app, client, auth):
    r = auth.signup("ada@example.com", "short")
    assert r.status_code == 422 and "at least 8" in r.get_data(as_text=True)
    token = auth.token("/signup")
    r = client.post("/signup", data={"csrf_token": token, "email": "ada@example.com",
                                     "password": "correct horse battery", "confirm": "different thing"})
    assert r.status_code == 422 and "do not match" in r.get_data(as_text=True)
    assert users(app) == []


def test_forms_without_csrf_token_are_refused_and_change_nothing(app, client):
    r = client.post("/signup", data={"email": "ada@example.com", "password": "correct horse battery",
                                     "confirm": "correct horse battery"})
    assert r.status_code == 400
    assert "Form expired" in r.get_data(as_text=True)
    assert users(app) == []


def test_logout_needs_post_with_csrf(client, auth):
    auth.signup()
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/billing").status_code == 200
    auth.logout()
    assert client.get("/billing").status_code == 302


def test_billing_pages_require_login(client):
    for path in ("/billing", "/billing/success", "/billing/cancelled", "/billing/status.json"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert "/login?next=" in r.headers["Location"]
    assert client.post("/billing/upgrade").status_code in (302, 400)


@pytest.mark.parametrize("target,expected", [
    ("/billing", "/billing"),
    ("/billing/success?session_id=cs_1", "/billing/success?session_id=cs_1"),
    ("//evil.example", None),
    ("https://evil.example/", None),
    ("/\\evil.example", None),
    ("javascript:alert(1)", None),
    ("", None),
    (None, None),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_login_follows_only_local_next(make_client):
    c, a = make_client()
    a.signup("ada@example.com")
    a.logout()
    r = a.login("ada@example.com", next_="https://evil.example/steal")
    assert r.headers["Location"].endswith("/billing")
    a.logout()
    r = a.login("ada@example.com", next_="/billing/cancelled")
    assert r.headers["Location"].endswith("/billing/cancelled")


def test_login_rotates_the_session(client, auth):
    auth.signup("ada@example.com")
    auth.logout()
    with client.session_transaction() as sess:
        sess["planted"] = "before-login"
    auth.login("ada@example.com")
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("_user_id")
