"""The fallback when webhooks stop: viewing a waiting order (its page or status.json) re-reads
its Payment Intent from Stripe, at most every STORE_RESYNC_SECONDS per order, and applies it
through the same service as the webhook handler, so the result (and fulfilment, once) is the
same whichever path gets there first.

The sandbox here delivers no webhooks at all, which is the outage being covered.
"""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from tests.store.conftest import order_row, units_sold
from tests.conftest import post_event, wait_for
from tests.store.conftest import CARDS, add, checkout, client_secret, confirm_like_stripe_js, sandbox_events
from tests.store.test_intent_binding import stripe_down


@pytest.fixture
def order_id(app, auth, client, products, sandbox):
    auth.signup()
    add(client, products["mug"], "2")
    r = checkout(client)
    return int(r.headers["Location"].split("/")[-2])


def _pay(app, sandbox, client, order_id, card):
    secret = client_secret(client.get(f"/orders/{order_id}/pay").get_data(as_text=True))
    return confirm_like_stripe_js(sandbox.url, secret, CARDS[card]).json()


def _status(client, order_id):
    r = client.get(f"/orders/{order_id}/status.json")
    assert r.status_code == 200
    return r.json


def test_paid_without_a_webhook_when_the_status_is_polled_and_fulfilled_once(app, client, sandbox, drain, order_id):
    assert _pay(app, sandbox, client, order_id, "ok")["status"] == "succeeded"
    assert order_row(app, order_id).status == "pending"  # no webhook came
    st = _status(client, order_id)
    assert (st["status"], st["final"]) == ("paid", True)
    order = order_row(app, order_id)
    assert order.paid_at is not None and units_sold(app)["mug"] == 2
    # The webhooks arrive after all: nothing more happens.
    for event in sandbox_events(app, order.stripe_payment_intent_id):
        assert post_event(client, event).status_code == 200
    drain()
    assert order_row(app, order_id).status == "paid" and units_sold(app)["mug"] == 2


def test_the_order_page_itself_refreshes_too(app, client, sandbox, order_id):
    _pay(app, sandbox, client, order_id, "ok")
    html = client.get(f"/orders/{order_id}?redirect_status=succeeded").get_data(as_text=True)
    assert 'data-status="paid"' in html and 'class="flash flash-success" >Thank you!' in html
    assert order_row(app, order_id).status == "paid"


def test_decline_and_3ds_are_read_back_too(app, client, sandbox, order_id):
    body = _pay(app, sandbox, client, order_id, "3ds")
    assert body["status"] == "requires_action"
    assert _status(client, order_id)["status"] == "requires_action"
    challenge = body["next_action"]["redirect_to_url"]["url"]
    requests.post(challenge, data={"outcome": "fail", "client_secret": body["client_secret"]}, allow_redirects=False)
    # Re-read at most every STORE_RESYNC_SECONDS (5 by default): the next poll a few seconds on sees it.
    st = wait_for(lambda: (lambda s: s if s["status"] == "failed" else None)(_status(client, order_id)),
                  timeout=12, interval=0.5, message="the failed authentication to be read back")
    assert "authentication failed" in st["failure_message"] and st["can_pay"]


@pytest.fixture
def quick_resync(app_config):
    app_config["STORE_RESYNC_SECONDS"] = 1
    return app_config


def test_stripe_is_asked_at_most_once_per_interval_per_order(quick_resync, app, client, sandbox, order_id):
    assert _status(client, order_id)["status"] == "pending"  # asked Stripe: nothing paid yet
    started = time.monotonic()
    _pay(app, sandbox, client, order_id, "ok")
    inside = 0
    while inside < 3 and time.monotonic() - started < 0.8:
        assert _status(client, order_id)["status"] == "pending", "Stripe re-read inside the interval"
        inside += 1
    assert inside, "the test machine was too slow to poll inside the interval"
    wait_for(lambda: _status(client, order_id)["status"] == "paid", timeout=5, interval=0.2,
             message="the re-read once the interval passed")


def test_stripe_unreachable_shows_our_status(app, client, sandbox, order_id):
    _pay(app, sandbox, client, order_id, "ok")
    with stripe_down(app):
        r = client.get(f"/orders/{order_id}")
        st = _status(client, order_id)
    assert r.status_code == 200 and "Confirming your payment" in r.get_data(as_text=True)
    assert st["status"] == "pending"
    assert order_row(app, order_id).status == "pending"


def test_orders_not_waiting_are_not_re_read(app, client, sandbox, drain, order_id):
    """A paid order is final: viewing it never asks Stripe (with Stripe down, nothing is logged
    as a failed re-read and the order is untouched)."""
    _pay(app, sandbox, client, order_id, "ok")
    assert _status(client, order_id)["status"] == "paid"
    before = order_row(app, order_id)
    with stripe_down(app):
        from saas.store import services

        with app.app_context():
            assert services.refresh_order_if_waiting(order_id) is False
    after = order_row(app, order_id)
    assert (after.status, after.paid_at, after.updated_at) == ("paid", before.paid_at, before.updated_at)
