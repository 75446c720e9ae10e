"""Portal, promotion codes, time travel (renewals, trials, dunning, cancellation), bank debit."""
from __future__ import annotations

import re

import pytest
import requests
import stripe

from saas.sandbox import start_sandbox_thread

from .conftest import SECRET, Receiver, make_price, pay_checkout, subscription_checkout

DAY = 86400


def _subscribe(client, **params):
    cs, customer, price = subscription_checkout(client, **params)
    assert pay_checkout(cs.url).status_code == 303
    sub_id = client.v1.checkout.sessions.retrieve(cs.id).subscription
    return client.v1.subscriptions.retrieve(sub_id), customer


def _advance(sandbox, customer_id, seconds):
    r = requests.post(f"{sandbox.url}/_sandbox/customers/{customer_id}/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text
    return r.json()


def _set_card(sandbox, customer_id, number):
    r = requests.post(f"{sandbox.url}/_sandbox/customers/{customer_id}/card", json={"number": number})
    assert r.status_code == 200, r.text


def test_renewal_with_good_card(client, sandbox, receiver):
    sub, customer = _subscribe(client)
    end = sub["items"].data[0].current_period_end
    sandbox.wait_idle(5)
    receiver.events.clear()
    _advance(sandbox, customer.id, end - sub["items"].data[0].current_period_start + 60)
    sandbox.wait_idle(5)
    types = receiver.types()
    for t in ("customer.subscription.updated", "invoice.created", "invoice.finalized", "invoice.paid",
              "invoice.payment_succeeded", "payment_intent.succeeded"):
        assert t in types
    assert types.index("invoice.created") < types.index("invoice.finalized") < types.index("invoice.paid")
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active" and sub["items"].data[0].current_period_start == end
    inv = receiver.of_type("invoice.paid")[0]["data"]["object"]
    assert inv["billing_reason"] == "subscription_cycle" and inv["amount_paid"] == 1000
    assert inv["lines"]["data"][0]["period"]["start"] == end
    updated = receiver.of_type("customer.subscription.updated")[0]["data"]
    assert "items" in updated["previous_attributes"]


def test_trial_end_renews_to_active(client, sandbox, receiver):
    sub, customer = _subscribe(client, subscription_data={"trial_period_days": 7})
    assert sub.status == "trialing"
    _advance(sandbox, customer.id, 7 * DAY + 10)
    sandbox.wait_idle(5)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.amount_paid == 1000
    prev = receiver.of_type("customer.subscription.updated")[0]["data"]["previous_attributes"]
    assert prev["status"] == "trialing"


def test_trial_end_now(client):
    sub, _ = _subscribe(client, subscription_data={"trial_period_days": 30})
    sub = client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})
    assert sub.status == "active"
    assert client.v1.invoices.retrieve(sub.latest_invoice).amount_paid == 1000


@pytest.mark.parametrize("final", ["unpaid", "canceled"])
def test_dunning_with_failing_card(final):
    receiver = Receiver()
    sandbox = start_sandbox_thread(webhook_url=receiver.url, webhook_secret=SECRET, retry_schedule=[0.05],
                                   past_due_final=final)
    try:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url}, max_network_retries=0)
        sub, customer = _subscribe(client)
        _set_card(sandbox, customer.id, "4000 0000 0000 0341")
        period = sub["items"].data[0]
        _advance(sandbox, customer.id, period.current_period_end - period.current_period_start + 60)
        sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
        assert sub.status == "past_due"
        inv = sub.latest_invoice
        assert inv.status == "open" and inv.attempt_count == 1 and inv.next_payment_attempt
        _advance(sandbox, customer.id, 20 * DAY)  # retries after 3, 5, 7 more days all fail
        sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
        assert sub.status == final
        assert sub.latest_invoice.attempt_count == 4 and sub.latest_invoice.next_payment_attempt is None
        sandbox.wait_idle(5)
        assert len(receiver.of_type("invoice.payment_failed")) == 4
        assert ("customer.subscription.deleted" in receiver.types()) == (final == "canceled")
    finally:
        sandbox.stop()
        receiver.stop()


def test_portal_card_update_pays_past_due_invoice(client, sandbox, receiver):
    sub, customer = _subscribe(client)
    _set_card(sandbox, customer.id, "4000000000000341")
    period = sub["items"].data[0]
    _advance(sandbox, customer.id, period.current_period_end - period.current_period_start + 60)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer.id,
                                                              "return_url": "http://app.test/account"})
    assert portal.id.startswith("bps_") and portal.url == f"{sandbox.url}/p/session/{portal.id}"
    page = requests.get(portal.url).text
    for element_id in ("update-card", "portal-return", "cancel-subscription"):
        assert f'id="{element_id}"' in page
    assert 'href="http://app.test/account"' in page
    r = requests.post(f"{portal.url}/payment-method", data={"cardNumber": "4000 0000 0000 0002"})
    assert r.status_code == 402 and "Your card was declined." in r.text
    r = requests.post(f"{portal.url}/payment-method", data={"cardNumber": "4242424242424242", "cardExpiry": "1/30"})
    assert r.status_code == 200
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice", "default_payment_method"]})
    assert sub.status == "active" and sub.latest_invoice.status == "paid"
    assert sub.default_payment_method.card.last4 == "4242"
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == \
        sub.default_payment_method.id
    sandbox.wait_idle(5)
    assert receiver.of_type("invoice.paid")[-1]["data"]["object"]["id"] == sub.latest_invoice.id


def test_portal_cancel_and_resume_then_cancellation_at_period_end(client, sandbox, receiver):
    sub, customer = _subscribe(client)
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": "http://x/"})
    r = requests.post(f"{portal.url}/subscriptions/{sub.id}/cancel")
    assert r.status_code == 200 and 'id="resume-subscription"' in r.text  # followed the 303 back
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True
    requests.post(f"{portal.url}/subscriptions/{sub.id}/resume")
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False
    requests.post(f"{portal.url}/subscriptions/{sub.id}/cancel")
    period = sub["items"].data[0]
    _advance(sandbox, customer.id, period.current_period_end - period.current_period_start + 1)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == period.current_period_end
    sandbox.wait_idle(5)
    assert receiver.types().count("customer.subscription.deleted") == 1
    assert "invoice.created" not in receiver.types()[receiver.types().index("checkout.session.completed"):]


def test_promotion_code_discounts_invoices(client, fixtures3):
    promo = client.v1.promotion_codes.list(params={"code": "SANDBOX20"}).data[0]
    assert promo.id.startswith("promo_") and promo.promotion.coupon.percent_off == 20
    assert not set(fixtures3["promotion_code"]) - set(promo.to_dict())
    cs, customer, _ = subscription_checkout(client, allow_promotion_codes=True)
    html = requests.get(cs.url).text
    assert 'id="promotionCode"' in html
    bad = pay_checkout(cs.url, promotionCode="NOPE")
    assert bad.status_code == 400 and "This code is invalid." in bad.text
    applied = requests.post(cs.url, data={"promotionCode": "sandbox20", "action": "apply_promo"})
    assert "$8.00" in applied.text
    assert pay_checkout(cs.url).status_code == 303
    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["subscription.latest_invoice"]})
    inv = session.subscription.latest_invoice
    assert (inv.subtotal, inv.total, inv.amount_paid) == (1000, 800, 800)
    assert inv.total_discount_amounts[0].amount == 200 and inv.discounts
    assert session.amount_total == 800 and session.total_details.amount_discount == 200


def test_test_clock_advance(client, sandbox, receiver):
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_800_000_000, "name": "t"})
    assert clock.id.startswith("clock_") and clock.status == "ready"
    customer = client.v1.customers.create(params={"email": "clock@example.com", "test_clock": clock.id})
    sub, _ = _subscribe(client, customer=customer)
    assert sub.start_date == 1_800_000_000 and sub.test_clock == clock.id
    end = sub["items"].data[0].current_period_end
    clock = client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": end + 3600})
    assert clock.frozen_time == end + 3600 and clock.status == "ready"
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == end + 3600
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub["items"].data[0].current_period_start == end
    assert len(client.v1.invoices.list(params={"customer": customer.id}).data) == 2


def test_renewal_with_3ds_card_requires_action(client, sandbox, receiver):
    sub, customer = _subscribe(client)
    _set_card(sandbox, customer.id, "4000002760003184")
    period = sub["items"].data[0]
    _advance(sandbox, customer.id, period.current_period_end - period.current_period_start + 60)
    sandbox.wait_idle(5)
    assert "invoice.payment_action_required" in receiver.types()
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"


@pytest.mark.parametrize("button,outcome,status", [
    ("pay-bank-debit-success", "succeeded", "active"), ("pay-bank-debit-fail", "failed", "incomplete_expired")])
def test_bank_debit_settles_later(client, sandbox, receiver, button, outcome, status):
    cs, customer, _ = subscription_checkout(client)
    html = requests.get(cs.url).text
    assert f'id="{button}"' in html
    value = re.search(rf'id="{button}" name="action" value="(\w+)"', html).group(1)
    assert requests.post(cs.url, data={"action": value}, allow_redirects=False).status_code == 303
    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["subscription"]})
    assert (session.status, session.payment_status) == ("complete", "unpaid")
    assert session.subscription.status == "incomplete"
    r = requests.post(f"{sandbox.url}/_sandbox/checkout/{cs.id}/settle", json={"outcome": outcome})
    assert r.status_code == 200
    assert client.v1.subscriptions.retrieve(session.subscription.id).status == status
    sandbox.wait_idle(5)
    assert f"checkout.session.async_payment_{outcome}" in receiver.types()
    assert requests.post(f"{sandbox.url}/_sandbox/checkout/{cs.id}/settle", json={}).status_code == 409


def test_bank_debit_settles_when_time_advances(client, sandbox, receiver):
    cs, customer, _ = subscription_checkout(client)
    requests.post(cs.url, data={"action": "bank_success"}, allow_redirects=False)
    _advance(sandbox, customer.id, 4 * DAY)
    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["subscription"]})
    assert session.payment_status == "paid" and session.subscription.status == "active"


def test_invoice_pages(client):
    sub, _ = _subscribe(client)
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    assert inv.number and inv.status == "paid"
    html = requests.get(inv.hosted_invoice_url).text
    assert inv.number in html and "$10.00" in html
    pdf = requests.get(inv.invoice_pdf).content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
