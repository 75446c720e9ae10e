"""Subscription checkout on the hosted page, its webhooks, and subscription management."""
from __future__ import annotations

import requests

from .conftest import make_price, pay_checkout, subscription_checkout

CHECKOUT_EVENTS = [
    "payment_method.attached", "customer.subscription.created", "invoice.created", "invoice.finalized",
    "invoice.paid", "invoice.payment_succeeded", "payment_intent.succeeded", "charge.succeeded",
    "checkout.session.completed",
]


def _keys_match(ours: dict, reference: dict, name: str):
    missing = set(reference) - set(ours)
    assert not missing, f"{name} lacks fields Stripe sends: {sorted(missing)}"


def test_hosted_page_shows_product_amount_and_stable_ids(client):
    cs, _, _ = subscription_checkout(client, price=make_price(client, amount=1999, name="Pro plan"))
    html = requests.get(cs.url).text
    assert "Pro plan" in html and "$19.99" in html
    for element_id in ("cardNumber", "cardExpiry", "cardCvc", "billingName", "submit"):
        assert f'id="{element_id}"' in html
    assert 'href="http://app.test/pricing"' in html and "← Back" in html


def test_zero_decimal_currency_and_trial_text(client):
    price = make_price(client, amount=500, currency="jpy", name="Yen plan")
    cs, _, _ = subscription_checkout(client, price=price, subscription_data={"trial_period_days": 14})
    html = requests.get(cs.url).text
    assert "¥500" in html and "¥5.00" not in html
    assert "14 days free" in html and "trial" in html.lower()


def test_4242_checkout_creates_subscription_and_emits_signed_events(client, sandbox, receiver, fixtures3):
    cs, customer, price = subscription_checkout(client)
    assert cs.url == f"{sandbox.url}/c/pay/{cs.id}" and cs.id.startswith("cs_test_")
    r = pay_checkout(cs.url)
    assert r.status_code == 303
    assert r.headers["Location"] == f"http://app.test/billing/success?session_id={cs.id}"
    assert sandbox.wait_idle(5)
    assert receiver.bad_signatures == 0
    flow = [t for t in receiver.types() if t in CHECKOUT_EVENTS]
    assert flow == CHECKOUT_EVENTS

    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["subscription", "line_items"]})
    assert (session.status, session.payment_status) == ("complete", "paid")
    sub = session.subscription
    assert sub.id.startswith("sub_") and sub.status == "active"
    assert sub.metadata["user_id"] == "42" and sub.customer == customer.id
    item = sub["items"].data[0]
    assert item.id.startswith("si_") and item.price.id == price.id
    assert item.current_period_end > item.current_period_start
    assert session.line_items.data[0].amount_total == 1000

    completed = receiver.of_type("checkout.session.completed")[0]
    assert completed["api_version"] == "2026-10-28.endive"
    assert completed["data"]["object"]["subscription"] == sub.id
    assert completed["data"]["object"]["client_reference_id"] == "42"
    invoice = receiver.of_type("invoice.paid")[0]["data"]["object"]
    assert invoice["id"].startswith("in_") and invoice["billing_reason"] == "subscription_create"
    assert invoice["parent"]["type"] == "subscription_details"
    assert invoice["parent"]["subscription_details"]["subscription"] == sub.id
    assert invoice["amount_paid"] == 1000 and invoice["status"] == "paid"
    assert requests.get(invoice["hosted_invoice_url"]).status_code == 200
    pdf = requests.get(invoice["invoice_pdf"])
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    pi = receiver.of_type("payment_intent.succeeded")[0]["data"]["object"]
    assert pi["latest_charge"].startswith("ch_") and pi["id"].startswith("pi_")

    # Current-API shapes: every top-level field of Stripe's reference objects is present.
    by_type = {"customer.subscription.created": "subscription", "invoice.paid": "invoice",
               "checkout.session.completed": "checkout.session", "payment_intent.succeeded": "payment_intent",
               "charge.succeeded": "charge", "payment_method.attached": "payment_method"}
    for event_type, resource in by_type.items():
        _keys_match(receiver.of_type(event_type)[0]["data"]["object"], fixtures3[resource], resource)
    _keys_match(item.to_dict(), fixtures3["subscription_item"], "subscription_item")
    _keys_match(completed, fixtures3["event"], "event")
    _keys_match(client.v1.customers.retrieve(customer.id).to_dict(), fixtures3["customer"], "customer")
    _keys_match(price.to_dict(), fixtures3["price"], "price")
    assert "current_period_end" not in receiver.of_type("customer.subscription.created")[0]["data"]["object"]

    # Retrieval through the API agrees with the webhooks.
    assert client.v1.events.retrieve(completed["id"]).type == "checkout.session.completed"
    listed = client.v1.events.list(params={"type": "invoice.paid", "created": {"gte": completed["created"] - 5}})
    assert [e.id for e in listed.data] == [receiver.of_type("invoice.paid")[0]["id"]]
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.latest_invoice.id == invoice["id"]
    assert [i.id for i in client.v1.invoices.list(params={"subscription": sub.id}).data] == [invoice["id"]]


def test_customer_created_when_only_email_given(client, receiver, sandbox):
    price = make_price(client)
    cs = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer_email": "new@example.com", "line_items": [{"price": price.id}],
        "success_url": "http://app.test/ok"})
    assert pay_checkout(cs.url).status_code == 303
    session = client.v1.checkout.sessions.retrieve(cs.id)
    assert session.customer.startswith("cus_")
    assert client.v1.customers.retrieve(session.customer).email == "new@example.com"
    sandbox.wait_idle(5)
    assert receiver.types()[receiver.types().index("customer.created")] == "customer.created"


def test_declined_card_leaves_session_open(client, sandbox, receiver):
    cs, _, _ = subscription_checkout(client)
    for number, message in [("4000 0000 0000 0002", "Your card was declined."),
                            ("4000000000009995", "Your card has insufficient funds."),
                            ("4000 0000 0000 0069", "Your card has expired."),
                            ("4242 4242 4242 4241", "Your card number is invalid.")]:
        r = pay_checkout(cs.url, number=number)
        assert r.status_code == 402 and message in r.text
        assert 'id="cardNumber"' in r.text
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    sandbox.wait_idle(5)
    assert "checkout.session.completed" not in receiver.types()
    assert "customer.subscription.created" not in receiver.types()


def test_trial_checkout(client):
    cs, _, _ = subscription_checkout(client, subscription_data={"trial_period_days": 7})
    assert pay_checkout(cs.url).status_code == 303
    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["subscription.latest_invoice"]})
    assert session.payment_status == "no_payment_required"
    sub = session.subscription
    assert sub.status == "trialing" and sub.trial_end == sub["items"].data[0].current_period_end
    assert sub.latest_invoice.amount_paid == 0 and sub.latest_invoice.status == "paid"


def test_payment_mode_checkout(client, sandbox, receiver):
    price = make_price(client, amount=2500, interval=None, name="Ebook")
    cs = client.v1.checkout.sessions.create(params={
        "mode": "payment", "line_items": [{"price": price.id, "quantity": 2}], "customer_email": "b@example.com",
        "success_url": "http://app.test/thanks", "cancel_url": "http://app.test/cart",
        "payment_intent_data": {"metadata": {"order_id": "7"}}})
    assert "$50.00" in requests.get(cs.url).text
    assert pay_checkout(cs.url, number="4000000000000002").status_code == 402
    assert pay_checkout(cs.url).status_code == 303
    session = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["payment_intent"]})
    assert session.payment_status == "paid" and session.payment_intent.status == "succeeded"
    assert session.payment_intent.amount == 5000 and session.payment_intent.metadata["order_id"] == "7"
    sandbox.wait_idle(5)
    assert receiver.types()[-1] == "checkout.session.completed"


def test_expire_session(client):
    cs, _, _ = subscription_checkout(client)
    assert client.v1.checkout.sessions.expire(cs.id).status == "expired"
    assert "no longer available" in requests.get(f"{cs.url}").text


def _active_subscription(client):
    cs, customer, price = subscription_checkout(client)
    pay_checkout(cs.url)
    return client.v1.subscriptions.retrieve(client.v1.checkout.sessions.retrieve(cs.id).subscription), customer


def test_update_and_cancel_emit_updated_and_deleted(client, sandbox, receiver):
    sub, customer = _active_subscription(client)
    period_end = sub["items"].data[0].current_period_end
    sub = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True, "metadata": {"x": "1"}})
    assert sub.cancel_at_period_end and sub.cancel_at == period_end
    sub = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert not sub.cancel_at_period_end and sub.cancel_at is None
    sub = client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "void"}})
    assert sub.pause_collection.behavior == "void"
    sub = client.v1.subscriptions.update(sub.id, params={"pause_collection": ""})
    assert sub.pause_collection is None
    canceled = client.v1.subscriptions.cancel(sub.id, params={"invoice_now": False, "prorate": False})
    assert canceled.status == "canceled" and canceled.ended_at and canceled.canceled_at
    sandbox.wait_idle(5)
    updates = receiver.of_type("customer.subscription.updated")
    assert updates[0]["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert updates[0]["data"]["previous_attributes"]["metadata"] == {"user_id": "42"}
    assert receiver.of_type("customer.subscription.deleted")[0]["data"]["object"]["status"] == "canceled"
    assert client.v1.subscriptions.list(params={"customer": customer.id}).data == []
    assert [s.id for s in client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data] \
        == [sub.id]


def test_webhook_retried_after_500(receiver, client, sandbox):
    receiver.fail_first = 2
    client.v1.customers.create(params={"email": "retry@example.com"})
    assert sandbox.wait_idle(5)
    assert receiver.calls == 3 and receiver.types() == ["customer.created"]
    status = requests.get(sandbox.url + "/_sandbox/events").json()["data"][0]["deliveries"][0]
    assert status["status"] == "delivered" and status["attempts"] == 3
    evt = receiver.events[0]["id"]
    assert requests.post(f"{sandbox.url}/_sandbox/redeliver/{evt}").status_code == 200
    sandbox.wait_idle(5)
    assert [e["id"] for e in receiver.events] == [evt, evt]
