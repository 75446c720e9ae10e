"""End to end over HTTP against the sandbox: the app served on a thread, the sandbox delivering
signed webhooks to it, a worker applying them, and time travel moving Stripe's clock.

1. trial start -> trial converts -> renewal paid -> renewal fails -> past_due (still Pro in
   grace) -> card replaced in the portal -> paid -> cancel at period end shown with its date ->
   period ends -> not Pro.
2. cancel, resubscribe, then the old subscription's customer.subscription.deleted arrives late
   -> still Pro.
"""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from saas.timefmt import format_date
from tests.conftest import WEBHOOK_SECRET, csrf_from, wait_for

from .conftest import DAY, pay_checkout_url

FAILING_CARD = "4000000000000341"   # attaches fine, every charge fails
GOOD_CARD = "4242424242424242"


class Browser:
    """One signed-up user of the live app, plus the sandbox's control routes."""

    def __init__(self, live, email):
        self.live = live
        self.s = requests.Session()
        token = csrf_from(self.s.get(live.url + "/signup").text)
        r = self.s.post(live.url + "/signup", data={"csrf_token": token, "email": email,
                                                    "password": "correct horse battery",
                                                    "confirm": "correct horse battery"})
        assert r.status_code == 200
        self.email = email

    def page(self) -> str:
        return self.s.get(self.live.url + "/billing").text

    def headline(self) -> str:
        return re.search(r'<p id="plan-state">(.*?)</p>', self.page(), re.S).group(1).strip()

    def status(self) -> dict:
        return self.s.get(self.live.url + "/billing/status.json").json()

    def post(self, path, **data):
        token = csrf_from(self.page())
        return self.s.post(self.live.url + path, data=dict(data, csrf_token=token), allow_redirects=False)

    def upgrade_and_pay(self, card=GOOD_CARD):
        r = self.post("/billing/upgrade")
        assert r.status_code == 303, r.text
        paid = pay_checkout_url(r.headers["Location"], card)
        assert paid.status_code == 303, paid.text

    def open_portal(self) -> str:
        r = self.post("/billing/portal")
        assert r.status_code == 303, r.text
        assert r.headers["Location"].startswith(self.live.sandbox.url + "/p/session/")
        return r.headers["Location"]

    # -- reading our mirror -------------------------------------------------------------------
    def user(self):
        from saas.accounts.services import find_by_email

        return find_by_email(self.email)

    def subscriptions(self):
        from saas.billing.models import Subscription
        from saas.extensions import db

        with self.live.app.app_context():
            rows = db.session.execute(select(Subscription).where(Subscription.user_id == self.user().id)
                                      .order_by(Subscription.id)).scalars().all()
            for row in rows:
                db.session.expunge(row)
            return rows

    def sub(self):
        subs = self.subscriptions()
        return subs[-1] if subs else None

    def invoices(self):
        from saas.billing.models import Invoice
        from saas.extensions import db

        with self.live.app.app_context():
            return [(i.status, i.amount_paid, i.billing_reason) for i in db.session.execute(
                select(Invoice).where(Invoice.user_id == self.user().id).order_by(Invoice.id)).scalars()]

    def customer(self) -> str:
        with self.live.app.app_context():
            return self.user().stripe_customer_id

    # -- the sandbox --------------------------------------------------------------------------
    def advance_to(self, when: int) -> int:
        r = requests.post(f"{self.live.sandbox.url}/_sandbox/customers/{self.customer()}/advance", json={"to": when})
        assert r.status_code == 200, r.text
        return r.json()["now"]

    def set_card(self, number):
        r = requests.post(f"{self.live.sandbox.url}/_sandbox/customers/{self.customer()}/card", json={"number": number})
        assert r.status_code == 200, r.text


def _until(pred, message, timeout=15):
    return wait_for(pred, timeout=timeout, interval=0.05, message=message)


def _seed(live):
    with live.app.app_context():
        from saas.billing.services import seed_pro_plan

        seed_pro_plan()


def _end(sub) -> int:
    return int(sub.current_period_end.timestamp())


@pytest.fixture
def trial_live(app_config, request):
    app_config.update(PRO_TRIAL_DAYS=7)
    live = request.getfixturevalue("live")
    _seed(live)
    return live


def test_trial_renewals_dunning_portal_recovery_and_cancellation(trial_live):
    live = trial_live
    ada = Browser(live, "ada@example.com")

    # Trial start.
    ada.upgrade_and_pay()
    _until(lambda: ada.status() == {"pro": True, "status": "trialing"}, "the trial to start")
    trial = ada.sub()
    assert (trial.trial_end - trial.trial_start).days == 7
    assert ada.headline() == f"Your free trial ends on {format_date(trial.trial_end)}. Then Pro costs $12.00 per month."

    # Trial converts: the first real invoice is paid.
    ada.advance_to(int(trial.trial_end.timestamp()) + 60)
    _until(lambda: ada.status()["status"] == "active" and ("paid", 1200, "subscription_cycle") in ada.invoices(),
           "the trial to convert")
    assert ada.status()["pro"] is True
    sub = ada.sub()
    assert ada.headline() == f"Your Pro plan renews on {format_date(sub.current_period_end)} for $12.00."

    # Renewal paid: a new period and another paid invoice.
    ada.advance_to(_end(sub) + 60)
    _until(lambda: ada.invoices().count(("paid", 1200, "subscription_cycle")) == 2, "the renewal to be paid")
    _until(lambda: ada.sub().current_period_start > sub.current_period_start, "the new period")
    sub = ada.sub()
    assert ada.status() == {"pro": True, "status": "active"}

    # Renewal fails: past_due, still Pro within the grace period, with a notice to update the card.
    ada.set_card(FAILING_CARD)
    ada.advance_to(_end(sub) + 60)
    _until(lambda: ada.status()["status"] == "past_due", "past_due after the failed renewal")
    assert ada.status()["pro"] is True
    _until(lambda: 'id="dunning-notice"' in ada.page(), "the dunning notice")
    assert "We could not charge your card $12.00" in ada.page()
    grace_end = ada.sub().current_period_start.timestamp() + 7 * DAY
    assert format_date(ada.sub().current_period_start.fromtimestamp(grace_end, ada.sub().current_period_start.tzinfo)) \
        in ada.headline()
    assert "Update your card to keep Pro after" in ada.headline()

    # Card replaced in the Stripe portal: the open invoice is paid, the notice goes away.
    portal = ada.open_portal()
    r = requests.post(portal + "/payment-method", data={"cardNumber": GOOD_CARD, "cardExpiry": "12 / 34"})
    assert r.status_code == 200 and "Your payment method was updated." in r.text
    _until(lambda: ada.status() == {"pro": True, "status": "active"}, "recovery after the card update")
    _until(lambda: 'id="dunning-notice"' not in ada.page(), "the dunning notice to clear")
    assert ada.invoices().count(("paid", 1200, "subscription_cycle")) == 3
    sub = ada.sub()

    # Cancel at period end in the portal: the page says when Pro ends.
    r = requests.post(f"{ada.open_portal()}/subscriptions/{sub.stripe_id}/cancel")
    assert r.status_code == 200
    _until(lambda: ada.sub().cancel_at_period_end, "the scheduled cancellation")
    assert ada.headline() == f"Your Pro plan ends on {format_date(sub.current_period_end)}. It will not renew."
    assert ada.status()["pro"] is True

    # The period ends: no longer Pro.
    ada.advance_to(_end(sub) + 1)
    _until(lambda: ada.status() == {"pro": False, "status": "canceled"}, "the cancellation to take effect")
    assert re.search(r'id="plan-name">Free', ada.page())
    assert ada.headline() == f"Your Pro plan was canceled and ended on {format_date(sub.current_period_end)}."


def test_grace_ends_when_stripes_clock_passes_it(live):
    """Time travel past the grace period (Stripe retries on days 3 and 8): still past_due in
    Stripe, but no longer Pro. Judged on our wall clock it would still look like day 0."""
    _seed(live)
    bob = Browser(live, "bob@example.com")
    bob.upgrade_and_pay()
    _until(lambda: bob.status() == {"pro": True, "status": "active"}, "Pro")
    bob.set_card(FAILING_CARD)
    sub = bob.sub()
    bob.advance_to(_end(sub) + 60)
    _until(lambda: bob.status() == {"pro": True, "status": "past_due"}, "past_due in grace")
    bob.advance_to(_end(sub) + 60 + 8 * DAY + 60)
    _until(lambda: bob.status() == {"pro": False, "status": "past_due"}, "the grace to end on Stripe's clock")
    assert "Pro is suspended" in bob.headline()


def test_old_subscription_deleted_late_after_resubscribe_keeps_pro(live):
    _seed(live)
    eve = Browser(live, "eve@example.com")
    eve.upgrade_and_pay()
    _until(lambda: eve.status() == {"pro": True, "status": "active"}, "the first subscription")
    old = eve.sub()

    # Webhooks stall (endpoint down, say) while the old subscription is cancelled and ends.
    live.sandbox.set_webhook(None, None)
    assert requests.post(f"{eve.open_portal()}/subscriptions/{old.stripe_id}/cancel").status_code == 200
    eve.advance_to(_end(old) + 1)
    held = [e for e in live.sandbox.sandbox.store.events
            if e["type"] == "customer.subscription.deleted" and e["data"]["object"]["id"] == old.stripe_id]
    assert len(held) == 1
    assert eve.sub().status == "active"  # our mirror has not heard yet

    # Webhooks come back; the user resubscribes (the upgrade re-reads Stripe, so the stale
    # mirror does not block them).
    live.sandbox.set_webhook(live.url + "/api/webhooks/stripe", WEBHOOK_SECRET)
    eve.upgrade_and_pay()
    _until(lambda: len(eve.subscriptions()) == 2 and eve.status() == {"pro": True, "status": "active"},
           "the new subscription")
    new = eve.sub()
    assert new.stripe_id != old.stripe_id

    # Now the old subscription's deletion arrives, late.
    r = requests.post(f"{live.sandbox.url}/_sandbox/redeliver/{held[0]['id']}")
    assert r.status_code == 200, r.text

    def processed():
        from saas.extensions import db
        from saas.webhooks.models import WebhookEvent

        with live.app.app_context():
            return db.session.execute(select(WebhookEvent.status)
                                      .where(WebhookEvent.stripe_id == held[0]["id"])).scalar_one_or_none()

    _until(lambda: processed() == "processed", "the late deletion to be processed")
    assert eve.status() == {"pro": True, "status": "active"}
    statuses = {s.stripe_id: s.status for s in eve.subscriptions()}
    assert statuses == {old.stripe_id: "canceled", new.stripe_id: "active"}
    assert eve.headline() == f"Your Pro plan renews on {format_date(new.current_period_end)} for $12.00."
