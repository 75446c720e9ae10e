"""Order status from signed webhooks applied by the worker: every transition, duplicates, stale
and out-of-order deliveries, amount mismatch, and objects that are not ours.

The intents are real sandbox objects paid the way Stripe.js pays them; the events are the ones
the sandbox logged for them, signed and posted to our intake, then the queue is drained.
"""

from __future__ import annotations

import copy

import pytest
import requests
from sqlalchemy import select

from tests.store.conftest import order_row, units_sold
from tests.conftest import post_event
from tests.store.conftest import CARDS, add, checkout, client_secret, confirm_like_stripe_js, sandbox_events


@pytest.fixture
def order_id(app, auth, client, products):
    auth.signup()
    add(client, products["mug"], "2")
    add(client, products["tee"], "1")
    r = checkout(client)
    return int(r.headers["Location"].split("/")[-2])


def _secret(client, order_id):
    return client_secret(client.get(f"/orders/{order_id}/pay").get_data(as_text=True))


def _deliver(client, drain, events):
    for event in events:
        assert post_event(client, event).status_code == 200
    drain()


def _pay(sandbox, client, order_id, card):
    return confirm_like_stripe_js(sandbox.url, _secret(client, order_id), CARDS[card])


def _pi_id(app, order_id):
    return order_row(app, order_id).stripe_payment_intent_id


def test_success_marks_paid_and_fulfils_once(app, client, sandbox, drain, order_id):
    assert _pay(sandbox, client, order_id, "ok").json()["status"] == "succeeded"
    events = sandbox_events(app, _pi_id(app, order_id))
    assert [e["type"] for e in events] == ["payment_intent.created", "payment_intent.succeeded", "charge.succeeded"]
    _deliver(client, drain, events)
    order = order_row(app, order_id)
    assert order.status == "paid" and order.paid_at is not None and order.failure_message is None
    assert units_sold(app) == {"mug": 2, "tee": 1, "stickers": 0}
    assert client.get(f"/orders/{order_id}/status.json").json["status"] == "paid"
    assert "Thank you! Your payment is confirmed." in client.get(f"/orders/{order_id}").get_data(as_text=True)


def test_same_success_delivered_twice_pays_once(app, client, sandbox, drain, order_id):
    _pay(sandbox, client, order_id, "ok")
    [succeeded] = sandbox_events(app, _pi_id(app, order_id), types={"payment_intent.succeeded"})
    _deliver(client, drain, [succeeded])
    paid_at = order_row(app, order_id).paid_at
    # The very same event again (deduplicated at intake) and a copy under a new event id
    # (as if Stripe had sent two events for it): neither fulfils again.
    again = copy.deepcopy(succeeded)
    again["id"] = succeeded["id"] + "_copy"
    assert post_event(client, succeeded).json == {"received": True, "duplicate": True}
    _deliver(client, drain, [again])
    order = order_row(app, order_id)
    assert order.status == "paid" and order.paid_at == paid_at
    assert units_sold(app) == {"mug": 2, "tee": 1, "stickers": 0}


def test_stale_failure_after_success_keeps_paid(app, client, sandbox, drain, order_id):
    assert _pay(sandbox, client, order_id, "declined").status_code == 402
    assert _pay(sandbox, client, order_id, "ok").json()["status"] == "succeeded"
    pi_id = _pi_id(app, order_id)
    [failed] = sandbox_events(app, pi_id, types={"payment_intent.payment_failed"})
    [succeeded] = sandbox_events(app, pi_id, types={"payment_intent.succeeded"})
    _deliver(client, drain, [succeeded])
    _deliver(client, drain, [failed])
    order = order_row(app, order_id)
    assert order.status == "paid" and order.failure_message is None
    assert units_sold(app)["mug"] == 2


def test_decline_then_late_success_makes_it_paid(app, client, sandbox, drain, order_id):
    _pay(sandbox, client, order_id, "insufficient")
    pi_id = _pi_id(app, order_id)
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.payment_failed"}))
    order = order_row(app, order_id)
    assert order.status == "failed"
    assert order.failure_message == "Your card has insufficient funds. Try another card."
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "insufficient funds" in page and 'id="pay-again"' in page
    # Pay again with another card: same intent, same order.
    assert _pay(sandbox, client, order_id, "ok").json()["id"] == pi_id
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.succeeded"}))
    order = order_row(app, order_id)
    assert order.status == "paid" and order.failure_message is None


def test_3ds_requires_action_then_authentication_failure(app, client, sandbox, drain, order_id):
    body = _pay(sandbox, client, order_id, "3ds").json()
    assert body["status"] == "requires_action"
    pi_id = _pi_id(app, order_id)
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.requires_action"}))
    assert order_row(app, order_id).status == "requires_action"
    url = body["next_action"]["redirect_to_url"]["url"]
    r = requests.post(url, data={"outcome": "fail", "client_secret": body["client_secret"]}, allow_redirects=False)
    assert r.status_code == 303 and "redirect_status=failed" in r.headers["Location"]
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.payment_failed"}))
    order = order_row(app, order_id)
    assert order.status == "failed" and "authentication failed" in order.failure_message


def test_cancelled_intent_cancels_order(app, client, sandbox, drain, order_id):
    from saas import stripe_gateway as gateway

    pi_id = _pi_id(app, order_id)
    with app.app_context():
        gateway.cancel_payment_intent(pi_id)
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.canceled"}))
    assert order_row(app, order_id).status == "cancelled"


def _refund(app, order_id, amount, key):
    from saas.store import services

    with app.app_context():
        return services.refund_order(order_id, amount, idempotency_key=key)


def test_partial_then_full_refund(app, client, sandbox, drain, order_id):
    _pay(sandbox, client, order_id, "ok")
    pi_id = _pi_id(app, order_id)
    _deliver(client, drain, sandbox_events(app, pi_id))
    total = order_row(app, order_id).total_amount
    _refund(app, order_id, 1000, "refund-1")
    _deliver(client, drain, sandbox_events(app, pi_id, types={"charge.refunded"}))
    order = order_row(app, order_id)
    assert (order.status, order.amount_refunded) == ("paid", 1000)
    _refund(app, order_id, None, "refund-2")
    refunded = sandbox_events(app, pi_id, types={"charge.refunded"})
    assert len(refunded) == 2
    # Deliver the newer event first, then the older one: the total never shrinks.
    _deliver(client, drain, [refunded[1], refunded[0]])
    order = order_row(app, order_id)
    assert (order.status, order.amount_refunded) == ("refunded", total)
    assert units_sold(app)["mug"] == 2


def test_refund_arriving_before_success_still_ends_refunded(app, client, sandbox, drain, order_id):
    from saas.extensions import db
    from saas.store.models import Order

    _pay(sandbox, client, order_id, "ok")
    pi_id = _pi_id(app, order_id)
    with app.app_context():  # refund_order needs a paid order; pretend the success was seen
        db.session.get(Order, order_id).status = "paid"
        db.session.commit()
    _refund(app, order_id, None, "refund-early")
    with app.app_context():
        db.session.get(Order, order_id).status = "pending"
        db.session.commit()
    _deliver(client, drain, sandbox_events(app, pi_id, types={"charge.refunded"}))
    order = order_row(app, order_id)
    assert order.status == "refunded" and order.paid_at is not None
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.succeeded"}))
    assert order_row(app, order_id).status == "refunded"
    assert units_sold(app)["mug"] == 2


def test_amount_mismatch_is_flagged_not_paid(app, client, sandbox, drain, order_id):
    import stripe

    from tests.conftest import SECRET_KEY

    pi_id = _pi_id(app, order_id)
    # Someone with the secret key changes the intent's amount before it is paid.
    sc = stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url})
    sc.v1.payment_intents.update(pi_id, params={"amount": 100})
    _pay(sandbox, client, order_id, "ok")
    _deliver(client, drain, sandbox_events(app, pi_id, types={"payment_intent.succeeded"}))
    order = order_row(app, order_id)
    assert order.status == "pending" and order.paid_at is None
    assert "100 usd received" in order.review_reason
    assert units_sold(app)["mug"] == 0


def test_intents_without_our_order_are_ignored(app, client, sandbox, drain):
    from saas import stripe_gateway as gateway
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        pi = gateway.create_payment_intent(amount=1200, currency="usd", customer_id=None, metadata={},
                                           description="subscription-ish", idempotency_key="not-ours")
        other = gateway.create_payment_intent(amount=1200, currency="usd", customer_id=None,
                                              metadata={"order_id": "424242"}, description="unknown order",
                                              idempotency_key="unknown-order")
        gateway.cancel_payment_intent(pi["id"])
        gateway.cancel_payment_intent(other["id"])
    _deliver(client, drain, sandbox_events(app, types={"payment_intent.canceled"}))
    with app.app_context():
        rows = db.session.execute(select(WebhookEvent.status, WebhookEvent.last_error)).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"ignored"}
    assert any("no store order id" in r.last_error for r in rows)


def test_paid_never_goes_back_whatever_the_intent_says(app, client, sandbox, order_id):
    """The guard itself, independent of re-reading Stripe: apply stale states to a paid order."""
    from saas.extensions import db
    from saas.store import services

    with app.app_context():
        order = services.lock_order(order_id)
        pi = {"id": order.stripe_payment_intent_id, "amount": order.total_amount, "amount_received": order.total_amount,
              "currency": "usd", "status": "succeeded"}
        services.apply_payment_intent(order, pi)
        db.session.commit()
        for stale in ({"status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}},
                      {"status": "canceled"}, {"status": "requires_action"}, {"status": "processing"}):
            order = services.lock_order(order_id)
            services.apply_payment_intent(order, dict(pi, **stale))
            db.session.commit()
            assert order.status == "paid" and order.failure_message is None
        order = services.lock_order(order_id)
        assert services.mark_paid(order) is False  # fulfilment already happened
        db.session.commit()
    assert units_sold(app) == {"mug": 2, "tee": 1, "stickers": 0}


def test_every_payment_event_type_has_a_handler():
    from saas.webhooks.registry import handled_types

    assert {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.requires_action",
            "payment_intent.canceled", "charge.refunded"} <= handled_types()
