"""Walks EVERY rule of the app's URL map (so routes added later are covered without editing
this file) as anonymous, customer A, customer B and an admin, with GET and POST, and proves:

- no identity ever gets a server error;
- admin routes answer non-admins exactly like an address that does not exist (404, same page),
  whatever the method, and admins can open every one of them;
- a page never shows one customer another customer's (or the admin's) data, even when the URL
  carries the other customer's ids: every integer in a URL is the id of the *other* customer's
  row (ids are deterministic: A's rows are created first, so A's are 1 and B's are 2);
- a POST by a non-admin, with a valid CSRF token and a form that says "yes, confirm", changes
  no row that belongs to someone else (rows are compared before and after).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from werkzeug.routing import IntegerConverter

from tests.admin.conftest import ADMIN_EMAIL, PASSWORD, add_admin, add_customer, add_plan

A_EMAIL, B_EMAIL = "alice@example.com", "bob@example.com"
MARKERS = {
    1: [A_EMAIL, "cus_secret1", "sub_secret1", "in_secret1", "INV-SECRET-1", "evt_secret1"],
    2: [B_EMAIL, "cus_secret2", "sub_secret2", "in_secret2", "INV-SECRET-2", "evt_secret2"],
}
ADMIN_ID = 3
# Tables where a customer's request may legitimately add rows that carry no user_id (none yet;
# e.g. a store's anonymous cart lines would go here).
NEW_ROWS_ALLOWED: set[str] = set()
FORM = {"confirm": "yes", "amount": "1", "nonce": "authz-walk", "status": "active"}


@pytest.fixture
def world(app):
    from saas.admin.models import AdminAction
    from saas.extensions import db

    with app.app_context():
        add_plan()
        a = add_customer(A_EMAIL, 1, event_status="failed")
        b = add_customer(B_EMAIL, 2, event_status="ignored")
        admin = add_admin()
        assert (a.id, b.id, admin.id) == (1, 2, ADMIN_ID)
        for subject in (a, b):
            db.session.add(AdminAction(admin_id=admin.id, admin_email=admin.email, action="resync_user",
                                       target_type="user", target_id=str(subject.id), subject_user_id=subject.id,
                                       params={}, outcome="ok", detail=f"seed for {subject.email}"))
        db.session.commit()
    return app


def all_rules(app):
    return sorted((r for r in app.url_map.iter_rules()), key=lambda r: r.rule)


def url_for_rule(rule, other: int) -> str:
    values = {}
    for name in rule.arguments:
        conv = rule._converters[name]
        if isinstance(conv, IntegerConverter):
            values[name] = other
        elif rule.endpoint == "static":
            values[name] = "app.css"
        else:
            values[name] = f"secret{other}"
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def other_of(identity: int | None) -> int:
    return {1: 2, 2: 1}.get(identity, 1)


def forbidden_markers(identity: int | None) -> list[str]:
    if identity == ADMIN_ID:
        return []
    out = [ADMIN_EMAIL]
    for owner, markers in MARKERS.items():
        if owner != identity:
            out += markers
    return out


def snapshot(app, actor: int | None) -> dict[str, set[str]]:
    """Every row that does not belong to ``actor``, as JSON text, per table."""
    with app.app_context():
        from saas.extensions import db

        tables = db.session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")).scalars().all()
        out = {}
        for table in tables:
            cols = set(db.session.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table}).scalars())
            where = ""
            if table == "users":
                where = " WHERE id IS DISTINCT FROM :actor"
            elif "user_id" in cols:
                where = " WHERE user_id IS NOT NULL AND user_id IS DISTINCT FROM :actor"
            rows = db.session.execute(text(f'SELECT to_jsonb(t)::text FROM "{table}" t{where}'), {"actor": actor})
            out[table] = set(rows.scalars())
        db.session.rollback()
        return out


def assert_untouched(before, after, who, method, url):
    for table, rows in before.items():
        gone = rows - after.get(table, set())
        assert not gone, f"{who} {method} {url} changed or deleted another's rows in {table}: {gone}"
        added = after.get(table, set()) - rows
        if added and table not in NEW_ROWS_ALLOWED:
            pytest.fail(f"{who} {method} {url} added rows to {table} that are not theirs: {added}")


CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+"')


def same_page(html: str) -> str:
    """The page without its CSRF token (signed with a timestamp, so it differs per render)."""
    return CSRF_VALUE.sub(r'\1"', html)


def login_client(make_client, email):
    c, a = make_client()
    assert a.login(email, PASSWORD).status_code == 302
    return c, a


IDENTITIES = [("anonymous", None, None), ("customer A", 1, A_EMAIL), ("customer B", 2, B_EMAIL),
              ("admin", ADMIN_ID, ADMIN_EMAIL)]


def client_for(make_client, email):
    if email is None:
        c, a = make_client()
        return c, a, "/login"
    c, a = login_client(make_client, email)
    return c, a, "/billing"


def test_walk_every_route(world, make_client):
    app = world
    rules = all_rules(app)
    assert any(r.endpoint.startswith("admin.") for r in rules), "the admin blueprint is not registered"
    admin_rules = [r for r in rules if r.endpoint.startswith("admin.")]
    checked = 0
    for who, identity, email in IDENTITIES:
        c, a, token_page = client_for(make_client, email)
        not_found = c.get("/admin/no-such-page-anywhere")
        assert not_found.status_code == 404
        for rule in rules:
            url = url_for_rule(rule, other_of(identity))
            is_admin_rule = rule.endpoint.startswith("admin.")
            # --- GET ---------------------------------------------------------------------
            r = c.get(url)
            body = r.get_data(as_text=True)
            assert r.status_code < 500, f"{who} GET {url}: {r.status_code}"
            if is_admin_rule and identity != ADMIN_ID:
                assert r.status_code == 404, f"{who} GET {url} must 404, got {r.status_code}"
                assert same_page(body) == same_page(not_found.get_data(as_text=True)), \
                    f"{who} GET {url}: the 404 page differs from a missing page's (a hint)"
            if is_admin_rule and identity == ADMIN_ID:
                assert r.status_code == 200, f"admin GET {url}: {r.status_code}"
            for marker in forbidden_markers(identity):
                assert marker not in body, f"{who} GET {url} shows {marker!r}"
            checked += 1
            # --- POST, with a valid CSRF token and a confirming form, from a fresh session --------
            pc, pa, page = client_for(make_client, email)
            before = snapshot(app, identity) if identity != ADMIN_ID else None
            r = pc.post(url, data=dict(FORM, csrf_token=pa.token(page)))
            body = r.get_data(as_text=True)
            assert r.status_code < 500, f"{who} POST {url}: {r.status_code} {body[:500]}"
            if is_admin_rule and identity != ADMIN_ID:
                assert r.status_code == 404, f"{who} POST {url} must 404, got {r.status_code}"
            for marker in forbidden_markers(identity):
                assert marker not in body, f"{who} POST {url} shows {marker!r}"
            if before is not None:
                assert_untouched(before, snapshot(app, identity), who, "POST", url)
            checked += 1
        # Other methods must not reveal admin routes either.
        if identity != ADMIN_ID:
            for rule in admin_rules:
                url = url_for_rule(rule, 1)
                for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
                    r = c.open(url, method=method)
                    assert r.status_code == 404, f"{who} {method} {url}: {r.status_code}"
    assert checked >= 4 * 2 * len(rules)


def test_markers_are_visible_to_their_owner_and_the_admin(world, make_client):
    """The leak check above is only meaningful if the markers do show up where they belong."""
    c, _ = login_client(make_client, A_EMAIL)
    assert "INV-SECRET-1" in c.get("/billing").get_data(as_text=True)
    admin, _ = login_client(make_client, ADMIN_EMAIL)
    page = admin.get("/admin/users/2").get_data(as_text=True)
    assert B_EMAIL in page and "cus_secret2" in page and "INV-SECRET-2" in page and "evt_secret2" in page


def test_anonymous_admin_post_without_csrf_is_a_plain_404(world, client):
    """Flask-WTF would answer a token-less POST with 400 'form expired'; the admin guard runs first."""
    r = client.post("/admin/events/1/replay", data={"confirm": "yes"})
    assert r.status_code == 404
    assert r.get_data(as_text=True) == client.post("/admin/nothing-here", data={"confirm": "yes"}).get_data(as_text=True)
