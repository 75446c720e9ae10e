"""The hosted checkout asks for 3D Secure with the cards that always require it."""

from __future__ import annotations

import requests

from tests.sandbox.conftest import pay_checkout, subscription_checkout

THREE_DS = "4000 0027 6000 3184"


def test_3ds_card_is_challenged_then_approved(client):
    cs, customer, _ = subscription_checkout(client)
    r = pay_checkout(cs.url, THREE_DS)
    assert r.status_code == 200 and "3D Secure authentication" in r.text
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"  # nothing charged yet
    r = pay_checkout(cs.url, THREE_DS, threeDS="approve")
    assert r.status_code == 303
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert done.status == "complete" and done.payment_status == "paid"


def test_3ds_card_failed_authentication_charges_nothing(client):
    cs, customer, _ = subscription_checkout(client)
    r = pay_checkout(cs.url, THREE_DS, threeDS="fail")
    assert r.status_code == 402 and "unable to authenticate" in r.text
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    assert client.v1.subscriptions.list(params={"customer": customer.id}).data == []
    # Another card still works on the same page.
    assert pay_checkout(cs.url).status_code == 303
    assert requests.get(cs.url).status_code in (200, 409)
