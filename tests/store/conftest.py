"""Store fixtures: a few products, a logged-in shopper with a cart, and a way to pay an order's
Payment Intent on the sandbox the way Stripe.js does (publishable key + client secret)."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import PUBLISHABLE_KEY, csrf_from

CARDS = {
    "ok": "4242424242424242",
    "declined": "4000000000000002",
    "insufficient": "4000000000009995",
    "3ds": "4000002760003184",
}


def make_products(app, currency="usd"):
    from saas.extensions import db
    from saas.store.models import Product

    with app.app_context():
        rows = [
            Product(slug="mug", name="Enamel Mug", description="A mug.", unit_amount=2400, currency=currency),
            Product(slug="tee", name="Organic Tee", description="A tee.", unit_amount=2800, currency=currency),
            Product(slug="stickers", name="Sticker Pack", description="Stickers.", unit_amount=500, currency=currency),
        ]
        db.session.add_all(rows)
        db.session.commit()
        return {p.slug: p.id for p in rows}


@pytest.fixture
def products(app):
    """slug -> product id for three products in the store currency."""
    return make_products(app, app.config["STORE_CURRENCY"])


def add(client, product_id, quantity="1", token_from="/store", **extra):
    token = csrf_from(client.get(token_from).get_data(as_text=True))
    data = {"csrf_token": token, "product_id": str(product_id), "quantity": str(quantity), **extra}
    return client.post("/cart/add", data=data)


def checkout_token(client) -> str:
    html = client.get("/cart").get_data(as_text=True)
    match = re.search(r'name="checkout_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="checkout_token"', html)
    assert match, "no checkout form on the cart page"
    return match.group(1)


def checkout(client, **extra):
    token = csrf_from(client.get("/cart").get_data(as_text=True))
    return client.post("/checkout", data={"csrf_token": token, "checkout_token": checkout_token(client), **extra})


def client_secret(html: str) -> str:
    match = re.search(r'data-client-secret="([^"]+)"', html)
    assert match, "no client secret on the payment page"
    return match.group(1)


def confirm_like_stripe_js(sandbox_url: str, secret: str, number: str, return_url="http://localhost/return"):
    """What the Payment Element does on submit: confirm with the publishable key."""
    pi_id = secret.split("_secret_")[0]
    return requests.post(f"{sandbox_url}/v1/payment_intents/{pi_id}/confirm",
                         headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"},
                         data={"client_secret": secret, "payment_method_data[type]": "card",
                               "payment_method_data[card][number]": number,
                               "payment_method_data[card][exp_month]": "12",
                               "payment_method_data[card][exp_year]": "2034",
                               "return_url": return_url})


def sandbox_events(app, pi_id: str | None = None, types=None) -> list[dict]:
    """The events the sandbox logged (oldest first), as plain dicts, optionally for one intent."""
    from saas import stripe_gateway as gateway

    with app.app_context():
        listing = gateway._call(gateway._client().v1.events.list, params={"limit": 100})
    events = list(reversed(listing["data"]))
    if types:
        events = [e for e in events if e["type"] in types]
    if pi_id:
        events = [e for e in events if e["data"]["object"]["id"] == pi_id
                  or e["data"]["object"].get("payment_intent") == pi_id]
    return events


def order_row(app, order_id):
    """The order as stored now, detached from any session (for assertions)."""
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def units_sold(app) -> dict[str, int]:
    """Units sold per product slug: fulfilment counts, to prove it happened once."""
    from sqlalchemy import select

    from saas.extensions import db
    from saas.store.models import Product

    with app.app_context():
        return {p.slug: p.units_sold for p in db.session.execute(select(Product)).scalars()}
