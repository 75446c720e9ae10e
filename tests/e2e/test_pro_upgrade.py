"""Sign up -> upgrade -> pay on the sandbox's hosted checkout -> webhook -> worker -> Pro,
through HTTP only."""

from __future__ import annotations

import re

import requests

from tests.conftest import csrf_from, wait_for

CARD = {"cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Lovelace"}


def signed_up_session(live, email="ada@example.com"):
    s = requests.Session()
    token = csrf_from(s.get(live.url + "/signup").text)
    r = s.post(live.url + "/signup", data={"csrf_token": token, "email": email,
                                          "password": "correct horse battery", "confirm": "correct horse battery"})
    assert r.status_code == 200 and "Billing" in r.text
    return s


def start_upgrade(live, s):
    token = csrf_from(s.get(live.url + "/billing").text)
    r = s.post(live.url + "/billing/upgrade", data={"csrf_token": token}, allow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["Location"]


def pay(checkout_url, number):
    return requests.post(checkout_url, data=dict(CARD, cardNumber=number), allow_redirects=False)


def settled_events(live):
    """[(type, status)] of every stored event once none is waiting, else None."""
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    live.sandbox.wait_idle(5)
    with live.app.app_context():
        events = db.session.execute(db.select(WebhookEvent.type, WebhookEvent.status)).all()
        db.session.remove()
    return None if any(status in ("received", "retrying") for _, status in events) else events


def seed_plan(live):
    with live.app.app_context():
        from saas.billing.services import seed_pro_plan

        seed_pro_plan()


def test_upgrade_with_good_card_makes_user_pro(live):
    seed_plan(live)
    s = signed_up_session(live)
    checkout_url = start_upgrade(live, s)
    assert checkout_url.startswith(live.sandbox.url)
    r = pay(checkout_url, "4242 4242 4242 4242")
    assert r.status_code in (302, 303), r.text
    success = r.headers["Location"]
    assert success.startswith(live.url + "/billing/success?session_id=cs_")

    def pro():
        return s.get(live.url + "/billing/status.json").json()["pro"]

    wait_for(pro, timeout=5, message="the webhook to make the user Pro")
    page = s.get(live.url + "/billing").text
    assert re.search(r'id="plan-name">Pro', page)
    assert "renews on" in page
    # The first invoice arrives through its own webhooks.
    wait_for(lambda: "$12.00" in s.get(live.url + "/billing").text, timeout=5, message="the paid invoice")
    events = wait_for(lambda: settled_events(live), timeout=5, message="every event to be applied")
    assert ("checkout.session.completed", "processed") in events
    assert ("invoice.paid", "processed") in events


def test_declined_card_leaves_user_free_with_reason(live):
    seed_plan(live)
    s = signed_up_session(live)
    checkout_url = start_upgrade(live, s)
    r = pay(checkout_url, "4000 0000 0000 0002")
    assert r.status_code in (200, 402), r.status_code
    assert "Your card was declined." in r.text
    live.sandbox.wait_idle(5)
    assert s.get(live.url + "/billing/status.json").json() == {"pro": False, "status": None}
