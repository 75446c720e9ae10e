"""``next=`` only to our own paths; emails unique case-insensitively; CSRF on every form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from saas.extensions import db
from tests.conftest import csrf_from

OURS = ["/billing", "/billing?tab=invoices", "/", "/billing/success?session_id=cs_1#top"]
FOREIGN = ["//evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example",
           "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", " //evil.example",
           "javascript:alert(1)", "evil.example", "/%09/evil.example".replace("%09", "\t"),
           "\x00/evil", "///evil.example", "https:/evil.example"]


@pytest.mark.parametrize("target", OURS)
def test_login_follows_next_to_our_own_paths(client, auth, target):
    auth.signup()
    auth.logout()
    r = auth.login(next_=None) if False else _login_with_next(client, auth, target)
    assert r.status_code == 302
    assert r.headers["Location"] == target


@pytest.mark.parametrize("target", FOREIGN)
def test_login_ignores_next_to_anywhere_else(client, auth, target):
    auth.signup()
    auth.logout()
    r = _login_with_next(client, auth, target)
    assert r.status_code == 302
    assert r.headers["Location"] == "/billing"


@pytest.mark.parametrize("target", FOREIGN[:4])
def test_signup_ignores_next_to_anywhere_else(client, auth, target):
    token = auth.token("/signup")
    r = client.post("/signup", query_string={"next": target},
                    data={"csrf_token": token, "email": "n@example.com", "password": "correct horse battery",
                          "confirm": "correct horse battery"})
    assert r.status_code == 302 and r.headers["Location"] == "/billing"


def _login_with_next(client, auth, target):
    token = auth.token("/login")
    return client.post("/login", query_string={"next": target},
                       data={"csrf_token": token, "email": "ada@example.com", "password": "correct horse battery"})


def user_count(app) -> int:
    from saas.extensions import db

    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM users")).scalar()
        db.session.rollback()
        return n


@pytest.mark.parametrize("second", ["ADA@example.com", "ada@EXAMPLE.COM", "  Ada@Example.com  "])
def test_emails_are_unique_case_insensitively(app, client, auth, second):
    assert auth.signup("Ada@Example.com").status_code == 302
    auth.logout()
    r = auth.signup(second)
    assert r.status_code == 422
    assert "already exists" in r.get_data(as_text=True)
    assert user_count(app) == 1
    # Logging in works whatever the case typed.
    assert auth.login(second.strip().lower()).status_code == 302


def test_database_refuses_a_case_variant_even_past_the_service(app):
    from sqlalchemy.exc import IntegrityError

    from saas.extensions import db

    with app.app_context():
        db.session.execute(text("INSERT INTO users (email, password_hash, created_at) VALUES ('bo@x.io', 'h', now())"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO users (email, password_hash, created_at) VALUES ('BO@X.IO', 'h', now())"))
        db.session.rollback()


FORM_RE = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


def snapshot(app) -> dict:
    """Every table's rows, to show a refused POST changed nothing."""
    from saas.extensions import db

    with app.app_context():
        tables = db.session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
        )).scalars().all()
        out = {t: db.session.execute(text(f'SELECT * FROM "{t}" ORDER BY 1')).all() for t in tables}
        db.session.rollback()
        return out


def post_routes(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.startswith("webhooks.") and not rule.arguments:
            urls.append(rule.rule)
    return urls


def test_every_rendered_post_form_carries_a_csrf_token(app, client, auth, plan):
    pages = ["/login", "/signup"]
    forms = []
    for page in pages:
        forms += FORM_RE.findall(client.get(page).get_data(as_text=True))
    auth.signup()
    for page in ["/", "/billing"]:
        forms += FORM_RE.findall(client.get(page).get_data(as_text=True))
    post_forms = [f for f in forms if re.search(r'method="post"', f, re.I)]
    assert len(post_forms) >= 4  # login, signup, logout, upgrade at least
    for form in post_forms:
        assert csrf_from(form)


def test_every_post_without_a_token_is_400_and_changes_nothing(app, client, auth, make_client, plan):
    auth.signup()
    stranger, stranger_auth = make_client()
    urls = post_routes(app)
    assert {"/login", "/signup", "/logout", "/billing/upgrade"} <= set(urls)
    before = snapshot(app)
    admin, admin_auth = make_client()
    admin_auth.signup("root@example.com")
    with app.app_context():
        from saas.accounts.services import find_by_email

        find_by_email("root@example.com").is_admin = True
        db.session.commit()
    before = snapshot(app)
    for who, c in (("user", client), ("anonymous", stranger), ("admin", admin)):
        for url in urls:
            # Admin routes answer everyone else with the 404 of a page that does not exist.
            expected = 404 if url.startswith("/admin") and who != "admin" else 400
            data = {"email": "eve@example.com", "password": "correct horse battery", "confirm": "correct horse battery"}
            r = c.post(url, data=data)
            assert r.status_code == expected, (who, url, r.status_code)
            r = c.post(url, data=dict(data, csrf_token="forged-token"))
            assert r.status_code == expected, (who, url, "forged", r.status_code)
    assert snapshot(app) == before
    # Still logged in: the refused logout did not log the user out.
    assert client.get("/billing").status_code == 200
