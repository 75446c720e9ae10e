"""Which Payment Intent may pay an order. An order is bound only to the intent whose id we
stored, or to one whose metadata names the order *as Stripe reports it* and whose amount and
currency Stripe confirms; an intent Stripe has never heard of is ignored, never applied from the
event's payload.

The "Stripe is down" at checkout is real: the app is pointed at a closed port while it runs.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from tests.store.conftest import order_row, units_sold
from tests.billing.conftest import event
from tests.conftest import post_event
from tests.store.conftest import CARDS, add, checkout, confirm_like_stripe_js, sandbox_events

DEAD_STRIPE = "http://127.0.0.1:1"


@contextmanager
def stripe_down(app):
    base = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = DEAD_STRIPE
    try:
        yield
    finally:
        app.config["STRIPE_API_BASE"] = base


def _events(app):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        return db.session.execute(select(WebhookEvent.type, WebhookEvent.status, WebhookEvent.last_error)
                                  .order_by(WebhookEvent.id)).all()


def _units_sold(app):
    return sum(units_sold(app).values())


@pytest.fixture
def order_without_intent(app, auth, client, products, sandbox):
    """An order whose checkout could not reach Stripe: saved, but with no Payment Intent."""
    auth.signup()
    add(client, products["mug"], "1")
    with stripe_down(app):
        r = checkout(client)
    assert r.status_code in (302, 303) and r.headers["Location"].endswith("/orders")
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        order = db.session.execute(select(Order)).scalar_one()
        assert order.stripe_payment_intent_id is None and order.status == "pending"
        return order.id


def _intent_at_stripe(app, *, amount, metadata, currency="usd", key):
    from saas import stripe_gateway as gateway

    with app.app_context():
        return gateway.create_payment_intent(amount=amount, currency=currency, customer_id=None, metadata=metadata,
                                             description="test", idempotency_key=key)


def _pay_at_stripe(app, sandbox, pi):
    assert confirm_like_stripe_js(sandbox.url, pi["client_secret"], CARDS["ok"]).json()["status"] == "succeeded"
    return sandbox_events(app, pi["id"])


def test_signed_success_for_an_intent_stripe_does_not_know_is_ignored(app, client, drain, order_without_intent):
    order = order_row(app, order_without_intent)
    ghost = {"id": "pi_ghost", "object": "payment_intent", "status": "succeeded", "amount": order.total_amount,
             "amount_received": order.total_amount, "currency": "usd", "latest_charge": "ch_ghost",
             "metadata": {"order_id": str(order.id)}}
    assert post_event(client, event("payment_intent.succeeded", ghost)).status_code == 200
    charge = {"id": "ch_ghost", "object": "charge", "status": "succeeded", "payment_intent": "pi_ghost",
              "amount": order.total_amount, "amount_refunded": 0, "metadata": {"order_id": str(order.id)}}
    assert post_event(client, event("charge.succeeded", charge)).status_code == 200
    drain()
    after = order_row(app, order.id)
    assert (after.status, after.paid_at, after.stripe_payment_intent_id) == ("pending", None, None)
    assert _units_sold(app) == 0
    rows = _events(app)
    assert [r.status for r in rows] == ["ignored", "ignored"]
    assert all("Stripe has no" in r.last_error for r in rows), rows


def test_unstored_intent_naming_the_order_for_another_amount_is_not_bound(app, client, sandbox, drain,
                                                                         order_without_intent):
    pi = _intent_at_stripe(app, amount=100, metadata={"order_id": str(order_without_intent)}, key="cheap")
    for ev in _pay_at_stripe(app, sandbox, pi):
        assert post_event(client, ev).status_code == 200
    drain()
    after = order_row(app, order_without_intent)
    assert (after.status, after.paid_at, after.stripe_payment_intent_id) == ("pending", None, None)
    assert _units_sold(app) == 0
    assert {r.status for r in _events(app)} == {"ignored"}
    assert any("100 usd" in r.last_error for r in _events(app))


def test_payload_metadata_is_not_trusted_stripes_is(app, client, sandbox, drain, order_without_intent):
    """A real, paid intent for the right amount that does not name the order at Stripe: an event
    whose payload claims it does binds nothing."""
    total = order_row(app, order_without_intent).total_amount
    pi = _intent_at_stripe(app, amount=total, metadata={}, key="someone-elses")
    [succeeded] = [e for e in _pay_at_stripe(app, sandbox, pi) if e["type"] == "payment_intent.succeeded"]
    succeeded["id"] = "evt_claimed"
    succeeded["data"]["object"]["metadata"] = {"order_id": str(order_without_intent)}
    assert post_event(client, succeeded).status_code == 200
    drain()
    after = order_row(app, order_without_intent)
    assert (after.status, after.stripe_payment_intent_id) == ("pending", None)
    [row] = _events(app)
    assert row.status == "ignored" and "does not name order" in row.last_error


def test_intent_stripe_confirms_for_the_order_binds_and_pays_once(app, client, sandbox, drain, order_without_intent):
    """The crash the metadata binding exists for: Stripe created the order's intent but our commit
    was lost. Stripe's intent names the order and is for its amount, so its success pays it."""
    order = order_row(app, order_without_intent)
    pi = _intent_at_stripe(app, amount=order.total_amount, metadata={"order_id": str(order.id)},
                           key=f"store-order-{order.id}-payment-intent")
    events = _pay_at_stripe(app, sandbox, pi)
    for ev in events + events:
        assert post_event(client, ev).status_code == 200
    drain()
    after = order_row(app, order.id)
    assert (after.status, after.stripe_payment_intent_id) == ("paid", pi["id"]) and after.paid_at is not None
    assert _units_sold(app) == 1
    assert {r.type: r.status for r in _events(app)} == {"payment_intent.created": "ignored",  # no handler
                                                        "payment_intent.succeeded": "processed",
                                                        "charge.succeeded": "processed"}
    # The payment page now finds that same intent instead of creating another.
    page = client.get(f"/orders/{order.id}/pay")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/orders/{order.id}")
