"""The main Pro journeys over HTTP while the sandbox delivers webhooks shuffled, duplicated and
delayed (its chaos mode): after each step the mirror matches Stripe and every event was
applied once."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from tests.conftest import csrf_from, wait_for

CARD = {"cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Lovelace"}
CHAOS = {"shuffle": True, "duplicate": 0.5, "delay_max": 0.25, "window": 6}


@pytest.fixture(params=[11, 29], ids=lambda seed: f"seed{seed}")
def chaos(request, live):
    live.sandbox.set_chaos(dict(CHAOS, seed=request.param))
    with live.app.app_context():
        from saas.billing.services import seed_pro_plan

        seed_pro_plan()
    yield live
    live.sandbox.set_chaos(None)


class Browser:
    def __init__(self, live, email="ada@example.com"):
        self.live, self.s = live, requests.Session()
        token = csrf_from(self.s.get(live.url + "/signup").text)
        r = self.s.post(live.url + "/signup", data={"csrf_token": token, "email": email,
                                                    "password": "correct horse battery",
                                                    "confirm": "correct horse battery"})
        assert r.status_code == 200, r.text

    def post_form(self, path: str) -> requests.Response:
        token = csrf_from(self.s.get(self.live.url + "/billing").text)
        return self.s.post(self.live.url + path, data={"csrf_token": token}, allow_redirects=False)

    def upgrade(self, **pay) -> requests.Response:
        r = self.post_form("/billing/upgrade")
        assert r.status_code == 303 and r.headers["Location"].startswith(self.live.sandbox.url), r.text
        self.checkout_url = r.headers["Location"]
        r = requests.post(self.checkout_url, data=pay or dict(CARD, cardNumber="4242424242424242"),
                          allow_redirects=False)
        assert r.status_code == 303, r.text
        return r

    def portal(self) -> str:
        r = self.post_form("/billing/portal")
        assert r.status_code == 303, r.text
        return r.headers["Location"]

    def status(self) -> dict:
        return self.s.get(self.live.url + "/billing/status.json").json()

    def billing_page(self) -> str:
        return self.s.get(self.live.url + "/billing").text


def sandbox_control(live, path, body=None):
    r = requests.post(f"{live.sandbox.url}/_sandbox{path}", json=body or {})
    assert r.status_code == 200, r.text
    return r.json()


def customer_of(live) -> str:
    with live.app.app_context():
        from saas.extensions import db

        return db.session.execute(text("SELECT stripe_customer_id FROM users")).scalar_one()


def settled(live) -> None:
    """Wait for every delivery (duplicates too) and every stored event to be applied, then check
    the mirror equals Stripe's objects and each Stripe event is stored once, applied once."""
    assert live.sandbox.wait_idle(20), "sandbox deliveries did not finish"
    store = live.sandbox.sandbox.store
    with store.lock:
        event_ids = {e["id"] for e in store.events}

    def all_applied():
        with live.app.app_context():
            from saas.extensions import db

            rows = db.session.execute(text("SELECT stripe_id, status, attempts FROM webhook_events")).all()
            db.session.rollback()
        return {r[0] for r in rows} == event_ids and all(r[1] in ("processed", "ignored") for r in rows) and rows

    rows = wait_for(all_applied, timeout=20, message="every delivered event to be applied")
    assert all(r[2] == 1 for r in rows), [r for r in rows if r[2] != 1]
    with store.lock:
        subs = {s["id"]: s["status"] for s in store.all("subscription")}
        invoices = {i["id"]: (i["status"], i["amount_paid"]) for i in store.all("invoice")}
    with live.app.app_context():
        from saas.extensions import db

        ours_subs = dict(db.session.execute(text("SELECT stripe_id, status FROM subscriptions")).all())
        ours_inv = {r[0]: (r[1], r[2]) for r in db.session.execute(
            text("SELECT stripe_id, status, amount_paid FROM invoices")).all()}
        db.session.rollback()
    assert ours_subs == subs
    assert ours_inv == invoices


def delivered_twice(live) -> int:
    d = live.sandbox.sandbox.dispatcher
    with d.cond:
        ids = [x.event_id for x in d.deliveries]
    return len(ids) - len(set(ids))


def advance_past_period_end(live, customer_id):
    store = live.sandbox.sandbox.store
    with store.lock:
        sub = store.all("subscription")[0]
        item = sub["items"]["data"][0]
        seconds = item["current_period_end"] - item["current_period_start"] + 60
    sandbox_control(live, f"/customers/{customer_id}/advance", {"seconds": seconds})


def test_pro_lifecycle_under_chaotic_delivery(chaos):
    live = chaos
    b = Browser(live)
    b.upgrade()
    wait_for(lambda: b.status()["pro"], timeout=15, message="Pro after checkout")
    settled(live)
    cus = customer_of(live)

    # Renewal fails: past_due with a dunning notice, still Pro during the grace period.
    sandbox_control(live, f"/customers/{cus}/card", {"number": "4000000000000341"})
    advance_past_period_end(live, cus)
    settled(live)
    assert b.status() == {"pro": True, "status": "past_due"}
    assert 'id="dunning-notice"' in b.billing_page()

    # The customer fixes the card in the portal: the open invoice is paid, the notice goes.
    portal = b.portal()
    r = requests.post(portal + "/payment-method", data={"cardNumber": "4242424242424242", "cardExpiry": "1/30"})
    assert r.status_code == 200, r.text
    settled(live)
    assert b.status() == {"pro": True, "status": "active"}
    assert 'id="dunning-notice"' not in b.billing_page()

    # Cancel at period end in the portal, then the period ends.
    sub_id = live.sandbox.sandbox.store.all("subscription")[0]["id"]
    r = requests.post(f"{portal}/subscriptions/{sub_id}/cancel", allow_redirects=False)
    assert r.status_code == 303
    settled(live)
    assert b.status()["pro"] is True
    advance_past_period_end(live, cus)
    settled(live)
    assert b.status() == {"pro": False, "status": "canceled"}

    # And back: a new subscription makes them Pro again; the old one stays canceled.
    b.upgrade()
    wait_for(lambda: b.status()["pro"], timeout=15, message="Pro after resubscribing")
    settled(live)
    with live.app.app_context():
        from saas.extensions import db

        statuses = sorted(db.session.execute(text("SELECT status FROM subscriptions")).scalars())
        db.session.rollback()
    assert statuses == ["active", "canceled"]
    assert delivered_twice(live) > 0, "chaos mode delivered no duplicates: the test proved nothing"


def test_bank_debit_checkout_under_chaotic_delivery(chaos):
    live = chaos
    b = Browser(live)
    b.upgrade(action="bank_success", billingName="Ada Lovelace")
    settled(live)
    assert b.status() == {"pro": False, "status": "incomplete"}
    cs_id = b.checkout_url.rsplit("/", 1)[-1]
    sandbox_control(live, f"/checkout/{cs_id}/settle", {"outcome": "succeeded"})
    settled(live)
    assert b.status() == {"pro": True, "status": "active"}
