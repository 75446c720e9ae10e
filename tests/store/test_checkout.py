"""Checkout: the order is built from our prices, the Payment Intent matches it exactly, a double
submit makes one order and one intent, and a request naming its own terms changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PUBLISHABLE_KEY, csrf_from
from tests.store.conftest import add, checkout, checkout_token


def _orders(app):
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        return [(o.id, o.status, o.total_amount, o.currency, o.stripe_payment_intent_id,
                 [(l.product_name, l.unit_amount, l.quantity) for l in o.lines])
                for o in db.session.execute(select(Order).order_by(Order.id)).scalars()]


def _sandbox_intents(sandbox):
    return sandbox.sandbox.store.all("payment_intent")


@pytest.fixture
def shopper(auth, client, products):
    auth.signup()
    add(client, products["mug"], "2")
    add(client, products["stickers"], "3")
    return client


def test_checkout_requires_login(app, client, products):
    add(client, products["mug"], "1")
    token = csrf_from(client.get("/cart").get_data(as_text=True))
    r = client.post("/checkout", data={"csrf_token": token, "checkout_token": "x"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert "Log in to check out" in client.get("/cart").get_data(as_text=True)
    assert _orders(app) == []


def test_checkout_builds_order_and_matching_intent(app, shopper, sandbox):
    r = checkout(shopper)
    assert r.status_code == 303
    [(order_id, status, total, currency, pi_id, lines)] = _orders(app)
    assert r.headers["Location"].endswith(f"/orders/{order_id}/pay")
    assert (status, total, currency) == ("pending", 2 * 2400 + 3 * 500, "usd")
    assert lines == [("Enamel Mug", 2400, 2), ("Sticker Pack", 500, 3)]
    [pi] = _sandbox_intents(sandbox)
    assert pi["id"] == pi_id
    assert (pi["amount"], pi["currency"], pi["metadata"]["order_id"]) == (total, "usd", str(order_id))
    # The cart became the order.
    assert "Your cart is empty" in shopper.get("/cart").get_data(as_text=True)
    page = shopper.get(f"/orders/{order_id}/pay")
    html = page.get_data(as_text=True)
    assert f'data-client-secret="{pi["client_secret"]}"' in html
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in html
    assert f'<script src="{sandbox.url}/v3/"></script>' in html
    assert f"/orders/{order_id}" in re.search(r'data-return-url="([^"]+)"', html).group(1)
    assert sandbox.url in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_double_submit_makes_one_order_and_one_intent(app, shopper, sandbox):
    token = csrf_from(shopper.get("/cart").get_data(as_text=True))
    ct = checkout_token(shopper)
    first = shopper.post("/checkout", data={"csrf_token": token, "checkout_token": ct})
    second = shopper.post("/checkout", data={"csrf_token": token, "checkout_token": ct})
    assert first.headers["Location"] == second.headers["Location"]
    assert len(_orders(app)) == 1
    assert len(_sandbox_intents(sandbox)) == 1


def test_prices_are_snapshotted(app, shopper):
    from saas.extensions import db
    from saas.store.models import Product

    checkout(shopper)
    with app.app_context():
        for p in db.session.execute(select(Product)).scalars():
            p.unit_amount, p.name = 99999, "Renamed"
        db.session.commit()
    [(order_id, *_rest)] = _orders(app)
    html = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Enamel Mug" in html and "$63.00" in html and "Renamed" not in html


@pytest.mark.parametrize("extra", [{"amount": "1"}, {"total_amount": "1"}, {"price": "1"},
                                   {"currency": "jpy"}, {"quantity": "-5"}, {"unit_amount": "1"}])
def test_checkout_naming_its_own_terms_is_refused(app, shopper, sandbox, extra):
    r = checkout(shopper, **extra)
    assert r.status_code == 400
    assert "nothing was changed" in r.get_data(as_text=True)
    assert _orders(app) == [] and _sandbox_intents(sandbox) == []
    assert "Enamel Mug" in shopper.get("/cart").get_data(as_text=True)


def test_empty_cart_cannot_check_out(app, auth, client, products):
    auth.signup()
    add(client, products["mug"], "1")
    checkout(client)
    r = client.post("/checkout", data={"csrf_token": csrf_from(client.get("/store").get_data(as_text=True)),
                                       "checkout_token": "stale-token"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/cart")
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    assert len(_orders(app)) == 1


def test_checkout_drops_products_that_went_away(app, shopper):
    from saas.extensions import db
    from saas.store.models import Product

    ct = checkout_token(shopper)
    token = csrf_from(shopper.get("/cart").get_data(as_text=True))
    with app.app_context():
        db.session.execute(select(Product).where(Product.slug == "mug")).scalar_one().active = False
        db.session.commit()
    r = shopper.post("/checkout", data={"csrf_token": token, "checkout_token": ct})
    assert r.headers["Location"].endswith("/cart")
    assert "no longer available: Enamel Mug" in shopper.get("/cart").get_data(as_text=True)
    assert _orders(app) == []


def test_orders_are_private(app, shopper, make_client):
    checkout(shopper)
    [(order_id, *_rest)] = _orders(app)
    other, other_auth = make_client()
    other_auth.signup(email="eve@example.com")
    assert other.get(f"/orders/{order_id}").status_code == 404
    assert other.get(f"/orders/{order_id}/pay").status_code == 404
    assert other.get(f"/orders/{order_id}/status.json").status_code == 404
    assert f'data-order="{order_id}"' not in other.get("/orders").get_data(as_text=True)
    assert f'data-order="{order_id}"' in shopper.get("/orders").get_data(as_text=True)


def test_refund_order_refuses_unpaid_orders_and_bad_amounts(app, shopper):
    from saas.store import services

    checkout(shopper)
    [(order_id, *_rest)] = _orders(app)
    with app.app_context():
        with pytest.raises(services.RefundNotAllowed, match="Only paid orders"):
            services.refund_order(order_id, idempotency_key="t1")
        from saas.extensions import db
        from saas.store.models import Order

        db.session.get(Order, order_id).status = "paid"
        db.session.commit()
        for bad in (0, -1, 10**9, 1.5):
            with pytest.raises(services.RefundNotAllowed):
                services.refund_order(order_id, bad, idempotency_key="t2")
