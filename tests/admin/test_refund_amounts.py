"""The admin refund form refuses amounts that are not finite, absurd or malformed with a clear
error (422) and no refund, rather than a 500 from the amount parser."""

from __future__ import annotations

import re

import pytest

from tests.store.conftest import order_row
from tests.conftest import csrf_from, post_event
from tests.store.conftest import (CARDS, add, checkout, client_secret, confirm_like_stripe_js, products,  # noqa: F401
                                  sandbox_events)


@pytest.fixture
def paid_order(app, client, auth, sandbox, drain, products):  # noqa: F811
    auth.signup()
    add(client, products["mug"], "1")
    order_id = int(checkout(client).headers["Location"].split("/")[-2])
    secret = client_secret(client.get(f"/orders/{order_id}/pay").get_data(as_text=True))
    assert confirm_like_stripe_js(sandbox.url, secret, CARDS["ok"]).json()["status"] == "succeeded"
    for ev in sandbox_events(app, order_row(app, order_id).stripe_payment_intent_id):
        assert post_event(client, ev).status_code == 200
    drain()
    assert order_row(app, order_id).status == "paid"
    return order_id


@pytest.mark.parametrize("amount", ["Infinity", "-Infinity", "sNaN", "NaN", "1e999999", "1e-999999", "abc"])
def test_refund_with_non_finite_or_absurd_amount_is_a_form_error(app, sandbox, paid_order, admin_client, amount):
    admin_client, _ = admin_client
    html = admin_client.get(f"/admin/orders/{paid_order}/refund").get_data(as_text=True)
    nonce = re.search(r'name="nonce"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="nonce"', html)
    r = admin_client.post(f"/admin/orders/{paid_order}/refund",
                          data={"csrf_token": csrf_from(html), "nonce": nonce.group(1), "confirm": "yes",
                                "amount": amount})
    assert r.status_code == 422
    assert 'class="flash flash-error"' in r.get_data(as_text=True)
    from saas import stripe_gateway as gateway

    with app.app_context():
        pi = gateway.retrieve_payment_intent(order_row(app, paid_order).stripe_payment_intent_id)
    assert pi["latest_charge"]["amount_refunded"] == 0
    assert order_row(app, paid_order).amount_refunded == 0
