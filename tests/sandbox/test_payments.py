"""PaymentIntents with test cards, 3D Secure, refunds, the Stripe.js stand-in, chaos delivery."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe

from saas.sandbox import start_sandbox_thread

from .conftest import SECRET, Receiver


def _pi(client, amount=2000, **extra):
    return client.v1.payment_intents.create(params={"amount": amount, "currency": "usd",
                                                    "automatic_payment_methods": {"enabled": True},
                                                    "metadata": {"order_id": "9"}, **extra})


def test_create_retrieve_update(client, fixtures3):
    pi = _pi(client)
    assert pi.status == "requires_payment_method"
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert not set(fixtures3["payment_intent"]) - set(pi.to_dict())
    pi = client.v1.payment_intents.update(pi.id, params={"amount": 2500, "metadata": {"cart": "3"}})
    assert pi.amount == 2500 and pi.metadata.to_dict() == {"order_id": "9", "cart": "3"}
    assert client.v1.payment_intents.list(params={"limit": 1}).data[0].id == pi.id


@pytest.mark.parametrize("token,decline_code,message", [
    ("pm_card_chargeDeclined", "generic_decline", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "Your card has insufficient funds."),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "Your card has expired."),
])
def test_declines(client, token, decline_code, message):
    pi = _pi(client)
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": token})
    assert exc.value.code == "card_declined" and exc.value.user_message == message
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == decline_code
    assert client.v1.charges.retrieve(pi.latest_charge).status == "failed"


def test_success_then_full_and_partial_refunds(client, sandbox, receiver, fixtures3):
    pi = client.v1.payment_intents.confirm(_pi(client).id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded" and pi.amount_received == 2000
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.paid and charge.payment_method_details.card.last4 == "4242"
    assert not set(fixtures3["charge"]) - set(charge.to_dict())
    partial = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500, "reason": "requested_by_customer"})
    assert not set(fixtures3["refund"]) - set(partial.to_dict())
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (500, False)
    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 1500
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (2000, True)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert exc.value.code == "charge_already_refunded"
    assert {r.id for r in client.v1.refunds.list(params={"payment_intent": pi.id}).data} == {partial.id, rest.id}
    sandbox.wait_idle(5)
    refunded = receiver.of_type("charge.refunded")
    assert [e["data"]["object"]["amount_refunded"] for e in refunded] == [500, 2000]
    assert refunded[-1]["data"]["object"]["refunds"]["object"] == "list"
    assert len(receiver.of_type("refund.created")) == 2
    assert receiver.types()[:3] == ["payment_intent.created", "payment_intent.succeeded", "charge.succeeded"]


def test_cancel(client, receiver, sandbox):
    pi = client.v1.payment_intents.cancel(_pi(client).id)
    assert pi.status == "canceled"
    sandbox.wait_idle(5)
    assert "payment_intent.canceled" in receiver.types()


def _confirm_3ds(sandbox, pi, pk="pk_test_sandbox"):
    return requests.post(f"{sandbox.url}/v1/payment_intents/{pi.id}/confirm",
                         headers={"Authorization": f"Bearer {pk}"},
                         data={"client_secret": pi.client_secret, "payment_method_data[type]": "card",
                               "payment_method_data[card][number]": "4000002760003184",
                               "return_url": "http://app.test/orders/1/complete?x=1"})


@pytest.mark.parametrize("button,status", [("approve", "succeeded"), ("fail", "failed")])
def test_3ds_challenge(client, sandbox, receiver, button, status):
    pi = _pi(client)
    r = _confirm_3ds(sandbox, pi)
    assert r.status_code == 200 and r.json()["status"] == "requires_action"
    challenge = r.json()["next_action"]["redirect_to_url"]["url"]
    page = requests.get(challenge)
    assert 'id="approve"' in page.text and 'id="fail"' in page.text and "Complete authentication" in page.text
    form = {"client_secret": pi.client_secret, "outcome": button}
    done = requests.post(challenge.split("?")[0], data=form, allow_redirects=False)
    assert done.status_code == 303
    q = parse_qs(urlsplit(done.headers["Location"]).query)
    assert q["redirect_status"] == [status] and q["payment_intent"] == [pi.id] and q["x"] == ["1"]
    assert q["payment_intent_client_secret"] == [pi.client_secret]
    pi = client.v1.payment_intents.retrieve(pi.id)
    if status == "succeeded":
        assert pi.status == "succeeded"
    else:
        assert pi.status == "requires_payment_method"
        assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    sandbox.wait_idle(5)
    assert "payment_intent.requires_action" in receiver.types()


def test_publishable_key_needs_the_client_secret(client, sandbox):
    pi = _pi(client)
    url = f"{sandbox.url}/v1/payment_intents/{pi.id}"
    pk = {"Authorization": "Bearer pk_test_sandbox"}
    assert requests.get(url, headers=pk).status_code == 400
    ok = requests.get(url, headers=pk, params={"client_secret": pi.client_secret})
    assert ok.status_code == 200 and ok.json()["id"] == pi.id
    assert requests.post(url, headers=pk, data={"client_secret": pi.client_secret, "amount": "1"}).status_code == 401
    declined = requests.post(url + "/confirm", headers=pk, data={
        "client_secret": pi.client_secret, "payment_method_data[card][number]": "4000000000000002"})
    assert declined.status_code == 402
    assert declined.json()["error"]["decline_code"] == "generic_decline"
    assert declined.json()["error"]["payment_intent"]["id"] == pi.id
    # CORS: the browser preflights the Authorization header.
    pre = requests.options(url + "/confirm", headers={"Origin": "http://app.test",
                                                     "Access-Control-Request-Method": "POST"})
    assert pre.status_code in (200, 204) and pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    assert declined.headers["Access-Control-Allow-Origin"] == "*"


def test_stripe_js_is_served(sandbox):
    for path in ("/v3/", "/v3/stripe.js"):
        r = requests.get(sandbox.url + path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/javascript")
        for needle in ("confirmPayment", "sandbox-card-number", "sandbox-card-expiry", "sandbox-card-cvc",
                       "retrievePaymentIntent", sandbox.url):
            assert needle in r.text


def test_chaos_mode_duplicates_and_reorders_but_delivers_everything():
    receiver = Receiver()
    handle = start_sandbox_thread(webhook_url=receiver.url, webhook_secret=SECRET, retry_schedule=[0.01],
                                  chaos={"shuffle": True, "duplicate": 0.5, "delay_max": 0.05, "seed": 7})
    try:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": handle.url}, max_network_retries=0)
        created = [client.v1.customers.create(params={"email": f"c{i}@example.com"}) for i in range(12)]
        assert handle.wait_idle(10)
        ids = [e["id"] for e in receiver.events]
        assert set(ids) == {e.id for e in client.v1.events.list(params={"limit": 100}).data}
        assert len(ids) > len(set(ids)) == len(created)  # some duplicates, same event ids
        assert receiver.bad_signatures == 0
    finally:
        handle.stop()
        receiver.stop()
