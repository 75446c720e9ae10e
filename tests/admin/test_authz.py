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
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter

from tests.admin.conftest import ADMIN_EMAIL, PASSWORD, add_admin, add_customer, add_plan

A_EMAIL, B_EMAIL = "alice@example.com", "bob@example.com"
MARKERS = {
    1: [A_EMAIL, "cus_secret1", "sub_secret1", "in_secret1", "INV-SECRET-1", "evt_secret1", "pi_secret1",
        "LINE-SECRET-1", "cartsecret1", "ordersecret1"],
    2: [B_EMAIL, "cus_secret2", "sub_secret2", "in_secret2", "INV-SECRET-2", "evt_secret2", "pi_secret2",
        "LINE-SECRET-2", "cartsecret2", "ordersecret2"],
}
ADMIN_ID = 3
# Rows nobody owns that a visitor's request may legitimately add: an anonymous visitor's
# /cart/add creates a cart (keyed by a token in their session) and its line.
NEW_ROWS_ALLOWED = {"carts", "cart_items"}
ANON_CART_TOKEN = "anon-secret-token"
FORM = {"confirm": "yes", "amount": "1", "nonce": "authz-walk", "status": "active"}


@pytest.fixture
def world(app):
    """Customers A (id 1) and B (id 2), each with a subscription, invoice, event, paid order,
    cart and cart item, all with id 1 for A and 2 for B; a stranger's anonymous cart (id 3);
    and an admin (id 3)."""
    from saas.admin.models import AdminAction
    from saas.extensions import db
    from saas.store.models import Cart, CartItem, Order, OrderLine, Product
    from saas.timefmt import utcnow

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
        mug = Product(slug="mug", name="Enamel Mug", description="A mug.", unit_amount=2400,
                      currency=app.config["STORE_CURRENCY"].lower())
        db.session.add(mug)
        db.session.flush()
        for n, owner in ((1, a), (2, b)):
            order = Order(user_id=owner.id, status="paid", currency=mug.currency, total_amount=2400, amount_refunded=0,
                          stripe_payment_intent_id=f"pi_secret{n}", checkout_token=f"ordersecret{n}", paid_at=utcnow())
            order.lines.append(OrderLine(product_id=mug.id, product_name=f"LINE-SECRET-{n}", unit_amount=2400, quantity=1))
            db.session.add(order)
            db.session.flush()
            assert order.id == n
        for n, owner in ((1, a.id), (2, b.id), (3, None)):
            cart = Cart(user_id=owner, token=ANON_CART_TOKEN if owner is None else None, checkout_token=f"cartsecret{n}")
            cart.items.append(CartItem(product_id=mug.id, product_name=mug.name, quantity=n))
            db.session.add(cart)
            db.session.flush()
            assert (cart.id, cart.items[0].id) == (n, n)
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
        elif rule.endpoint == "store.product":
            values[name] = "mug"  # products are public; the real one exercises the page
        else:
            values[name] = f"secret{other}"
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def form_for(rule, other: int) -> dict:
    """The confirming admin form everywhere; the store refuses unknown fields, so its routes get
    exactly their own fields, pointing at the other customer's objects."""
    if rule.endpoint == "store.checkout":
        return {"checkout_token": f"cartsecret{other}"}
    if rule.endpoint == "store.cart_add":
        return {"product_id": "1", "quantity": "2"}
    if rule.endpoint == "store.cart_update":
        return {"quantity": "7"}
    if rule.endpoint.startswith("store."):
        return {}
    return dict(FORM)


def other_of(identity: int | None) -> int:
    return {1: 2, 2: 1}.get(identity, 1)


def forbidden_markers(identity: int | None) -> list[str]:
    if identity == ADMIN_ID:
        return []
    out = [ADMIN_EMAIL, ANON_CART_TOKEN, "cartsecret3"]
    for owner, markers in MARKERS.items():
        if owner != identity:
            out += markers
    return out


class Rows:
    """Every row that does not belong to ``actor`` (a user id; -1 for an anonymous visitor, who
    owns nothing), per table: rows with no owner are protected from everyone. A row's owner is
    its user (users.id, user_id) or its parent's (a cart line's cart, an order line's order).

    ``digest()`` is one query fingerprinting all of it, so every request can be checked; the
    rows themselves are read only when the fingerprint moved, to say what changed."""

    PARENT = {"cart_items": "(SELECT p.user_id FROM carts p WHERE p.id = t.cart_id)",
              "order_lines": "(SELECT p.user_id FROM orders p WHERE p.id = t.order_id)"}

    def __init__(self, app):
        from saas.extensions import db

        self.app = app
        with app.app_context():
            tables = db.session.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                " ORDER BY tablename")).scalars().all()
            self.owner = {}
            for table in tables:
                cols = set(db.session.execute(text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table}).scalars())
                self.owner[table] = ("t.id" if table == "users" else "t.user_id" if "user_id" in cols
                                     else self.PARENT.get(table, "NULL::int"))
            db.session.rollback()
        where = "WHERE ({o}) IS NULL OR ({o}) <> :actor"
        self.digest_sql = " UNION ALL ".join(
            f"SELECT '{t}', md5(coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '')) "
            f'FROM "{t}" t {where.format(o=o)}' for t, o in self.owner.items())

    def digest(self, actor: int) -> dict:
        from saas.extensions import db

        with self.app.app_context():
            out = dict(db.session.execute(text(self.digest_sql), {"actor": actor}).all())
            db.session.rollback()
        return out

    def rows(self, actor: int) -> dict[str, set[tuple]]:
        from saas.extensions import db

        with self.app.app_context():
            out = {t: set(db.session.execute(text(
                f'SELECT {o}, to_jsonb(t)::text FROM "{t}" t WHERE ({o}) IS NULL OR ({o}) <> :actor'),
                {"actor": actor}).all()) for t, o in self.owner.items()}
            db.session.rollback()
        return out


class Guard:
    """One baseline per identity; after each request, a fingerprint compared to it."""

    def __init__(self, rows: Rows, actor: int):
        self.r, self.actor = rows, actor
        self.base_digest, self.base = rows.digest(actor), rows.rows(actor)

    def check(self, who, method, url):
        digest = self.r.digest(self.actor)
        if digest == self.base_digest:
            return
        now = self.r.rows(self.actor)
        for table, rows in self.base.items():
            gone = rows - now.get(table, set())
            assert not gone, f"{who} {method} {url} changed or deleted another's rows in {table}: {gone}"
            added = now.get(table, set()) - rows
            foreign = {row for row in added if not (table in NEW_ROWS_ALLOWED and row[0] is None)}
            assert not foreign, f"{who} {method} {url} added rows to {table} that are not theirs: {foreign}"
        self.base_digest, self.base = digest, now  # new anonymous carts are now someone else's


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


def fresh_session_like(make_client, c):
    """A new browser holding the same session cookie: a POST that logs out or changes the
    session cannot affect the next one, and no password hash is verified per request."""
    pc, _ = make_client()
    for cookie in c._cookies.values():
        pc.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return pc


def test_walk_every_route(world, make_client):
    app = world
    rules = all_rules(app)
    assert any(r.endpoint.startswith("admin.") for r in rules), "the admin blueprint is not registered"
    assert any(r.endpoint.startswith("store.") for r in rules), "the store blueprint is not registered"
    admin_rules = [r for r in rules if r.endpoint.startswith("admin.")]
    rows = Rows(app)
    checked = 0
    for who, identity, email in IDENTITIES:
        c, a, token_page = client_for(make_client, email)
        token = a.token(token_page)  # the session's CSRF secret is in the cookie each POST reuses
        guard = Guard(rows, -1 if identity is None else identity) if identity != ADMIN_ID else None
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
            if guard:
                guard.check(who, "GET", url)
            checked += 1
            # --- POST, with a valid CSRF token and a confirming form, from a fresh session --------
            pc = fresh_session_like(make_client, c)
            r = pc.post(url, data=dict(form_for(rule, other_of(identity)), csrf_token=token))
            body = r.get_data(as_text=True)
            assert r.status_code < 500, f"{who} POST {url}: {r.status_code} {body[:500]}"
            assert r.status_code != 400 or "form expired" not in body.lower(), f"{who} POST {url}: CSRF refused"
            if is_admin_rule and identity != ADMIN_ID:
                assert r.status_code == 404, f"{who} POST {url} must 404, got {r.status_code}"
            for marker in forbidden_markers(identity):
                assert marker not in body, f"{who} POST {url} shows {marker!r}"
            if guard:
                guard.check(who, "POST", url)
            checked += 1
        # Other methods must not reveal admin routes either.
        if identity != ADMIN_ID:
            for rule in admin_rules:
                url = url_for_rule(rule, 1)
                for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
                    r = c.open(url, method=method)
                    assert r.status_code == 404, f"{who} {method} {url}: {r.status_code}"
            guard.check(who, "PUT/DELETE/OPTIONS/PATCH", "/admin/*")
    assert checked >= 4 * 2 * len(rules)
    # The walk did reach the store: anonymous visitors' /cart/add made carts of their own, and
    # the admin's refund of A's order (a made-up payment intent) was tried and recorded.
    from saas.admin.models import AdminAction
    from saas.extensions import db
    from saas.store.models import Cart, CartItem

    with app.app_context():
        anon = db.session.execute(select(Cart).where(Cart.user_id.is_(None), Cart.token != ANON_CART_TOKEN)).scalars().all()
        assert anon and all(i.quantity == 2 for cart in anon for i in cart.items)
        # A's and B's /cart/add went to their own carts (1 + 2, 2 + 2); the quantity-7 updates
        # and removals aimed at the other's item changed nothing; the stranger's cart is intact.
        assert [db.session.get(CartItem, i).quantity for i in (1, 2, 3)] == [3, 4, 3]
        refunds = db.session.execute(select(AdminAction).where(AdminAction.action == "refund_order")).scalars().all()
        assert [(r.target_id, r.outcome) for r in refunds] == [("1", "error")]


def test_markers_are_visible_to_their_owner_and_the_admin(world, make_client):
    """The leak check above is only meaningful if the markers do show up where they belong."""
    c, _ = login_client(make_client, A_EMAIL)
    assert "INV-SECRET-1" in c.get("/billing").get_data(as_text=True)
    admin, _ = login_client(make_client, ADMIN_EMAIL)
    page = admin.get("/admin/users/2").get_data(as_text=True)
    for marker in (B_EMAIL, "cus_secret2", "INV-SECRET-2", "evt_secret2"):
        assert marker in page, marker


def test_anonymous_admin_post_without_csrf_is_a_plain_404(world, client):
    """Flask-WTF would answer a token-less POST with 400 'form expired'; the admin guard runs first."""
    r = client.post("/admin/events/1/replay", data={"confirm": "yes"})
    assert r.status_code == 404
    assert r.get_data(as_text=True) == client.post("/admin/nothing-here", data={"confirm": "yes"}).get_data(as_text=True)
