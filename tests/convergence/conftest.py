"""Convergence rig: drive a real customer journey on the sandbox, record the events it emits,
and replay them through the real job path (``inbox.store_event`` + ``jobs.process_event``).

The sandbox fixture of tests/conftest.py delivers no webhooks (its URL is unset), so the journey
here plays Stripe's in-order, instant delivery itself: after every step it applies the events
that step emitted, in emission order. The recorded list is what the property test permutes.
"""

from __future__ import annotations

import copy
import logging

from urllib.parse import urlsplit

import pytest
import requests
import stripe
from sqlalchemy import select, text

from tests.conftest import SECRET_KEY

CARD = {"cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Lovelace"}
GOOD_CARD = "4242424242424242"
FAILS_CHARGES = "4000000000000341"
NEEDS_3DS = "4000002760003184"  # off-session charges need the customer to authenticate
DAY = 86400


def apply_event(event: dict) -> str | None:
    """Deliver one event the way the intake view and the worker do. Returns the processing
    outcome, or None when the event id was already stored (a redelivery: nothing queued)."""
    from saas.webhooks import inbox, jobs

    row_id = inbox.store_event(event)
    if row_id is None:
        return None
    return jobs.process_event(row_id)


class Journey:
    """One user's journey on the sandbox, applying each step's events in order as it goes."""

    def __init__(self, app, sandbox, email="ada@example.com"):
        from saas.accounts.services import create_user
        from saas.billing.services import ensure_customer

        self.app, self.sandbox = app, sandbox
        self.user_id = create_user(email, "correct horse battery").id
        self.customer_id = ensure_customer(self.user_id)
        self.events: list[dict] = []
        self._seen = len(self._store_events())
        self.subscription_ids: list[str] = []
        self.session_ids: list[str] = []

    # -- plumbing ------------------------------------------------------------------------
    def _store_events(self) -> list[dict]:
        store = self.sandbox.sandbox.store
        with store.lock:
            return [copy.deepcopy(e) for e in store.events]

    def deliver(self) -> list[dict]:
        """Apply, in order, the events emitted since the last call (they are recorded too)."""
        new = self._store_events()[self._seen:]
        self._seen += len(new)
        for event in new:
            apply_event(event)
        self.events.extend(new)
        return new

    def api(self, method: str, path: str, **kwargs):
        r = requests.request(method, self.sandbox.url + path, auth=(SECRET_KEY, ""), **kwargs)
        assert r.status_code == 200, r.text
        return r.json()

    def control(self, path: str, body: dict | None = None) -> dict:
        r = requests.post(f"{self.sandbox.url}/_sandbox{path}", json=body or {})
        assert r.status_code == 200, r.text
        return r.json()

    @property
    def subscription(self) -> dict:
        return self.api("GET", f"/v1/subscriptions/{self.subscription_ids[-1]}")

    # -- steps -----------------------------------------------------------------------------
    def open_checkout(self) -> str:
        """A Pro Checkout Session through the app's own service (the Upgrade button)."""
        from saas.accounts.models import User
        from saas.billing import services
        from saas.extensions import db

        with self.app.test_request_context():
            url = services.start_pro_checkout(db.session.get(User, self.user_id))
        self.session_ids.append(url.rsplit("/", 1)[-1])
        return url

    def _remember_subscription(self) -> None:
        cs = self.api("GET", f"/v1/checkout/sessions/{self.session_ids[-1]}")
        assert cs["subscription"], cs
        self.subscription_ids.append(cs["subscription"])

    def subscribe(self, number: str = GOOD_CARD) -> None:
        url = self.open_checkout()
        r = requests.post(url, data=dict(CARD, cardNumber=number), allow_redirects=False)
        assert r.status_code == 303, r.text
        self._remember_subscription()
        self.deliver()

    def subscribe_with_bank_debit(self, outcome: str) -> None:
        url = self.open_checkout()
        action = "bank_success" if outcome == "succeeded" else "bank_fail"
        r = requests.post(url, data={"action": action, "billingName": "Ada Lovelace"}, allow_redirects=False)
        assert r.status_code == 303, r.text
        self._remember_subscription()
        self.deliver()

    def settle_bank_debit(self, outcome: str) -> None:
        self.control(f"/checkout/{self.session_ids[-1]}/settle", {"outcome": outcome})
        self.deliver()

    def advance_past_period_end(self, extra: int = 60) -> None:
        item = self.subscription["items"]["data"][0]
        self.control(f"/customers/{self.customer_id}/advance",
                     {"seconds": item["current_period_end"] - item["current_period_start"] + extra})
        self.deliver()

    def set_card(self, number: str, pay_open_invoices: bool = False) -> None:
        self.control(f"/customers/{self.customer_id}/card", {"number": number, "pay_open_invoices": pay_open_invoices})
        self.deliver()

    def cancel_at_period_end_in_portal(self) -> None:
        from saas import stripe_gateway as gateway

        portal = gateway.create_portal_session(customer_id=self.customer_id, return_url="http://localhost/billing")
        r = requests.post(f"{portal['url']}/subscriptions/{self.subscription_ids[-1]}/cancel", allow_redirects=False)
        assert r.status_code == 303, r.text
        self.deliver()

    def cancel_now(self) -> None:
        self.api("DELETE", f"/v1/subscriptions/{self.subscription_ids[-1]}")
        self.deliver()


# --- the final state the property test compares ---------------------------------------------------

# Each entry: (name, SQL giving the rows; columns chosen to leave out our own ids and clocks).
# The store adds its tables here (orders, payments, refunds) when it lands.
STATE_QUERIES: list[tuple[str, str]] = [
    ("subscriptions", """
        SELECT stripe_id, user_id, stripe_customer_id, stripe_price_id, unknown_price, status, quantity,
               current_period_start, current_period_end, cancel_at_period_end, cancel_at, canceled_at,
               ended_at, trial_start, trial_end, pause_collection, latest_invoice_id, stripe_created
        FROM subscriptions ORDER BY stripe_id"""),
    ("invoices", """
        SELECT stripe_id, user_id, stripe_customer_id, stripe_subscription_id, number, status, billing_reason,
               amount_due, amount_paid, amount_remaining, currency, attempt_count, payment_problem,
               hosted_invoice_url, invoice_pdf, period_start, period_end, stripe_created, paid_at
        FROM invoices ORDER BY stripe_id"""),
    ("users", "SELECT id, email, stripe_customer_id, has_had_trial FROM users ORDER BY id"),
    # Every stored event applied (or ignored) exactly once, and credited to the same user.
    ("events", "SELECT stripe_id, type, status, attempts, user_id FROM webhook_events ORDER BY stripe_id"),
]

# Rows a replay writes; the users (and their Stripe customers) stay, so a reset is cheap.
RESET_SQL = [
    "DELETE FROM webhook_events",
    "DELETE FROM invoices",
    "DELETE FROM subscriptions",
    "UPDATE users SET has_had_trial = false",
]


def snapshot() -> dict:
    from saas.accounts.models import User
    from saas.billing.entitlement import is_pro
    from saas.extensions import db

    state = {name: [tuple(r) for r in db.session.execute(text(sql))] for name, sql in STATE_QUERIES}
    db.session.expire_all()
    state["pro"] = {u.id: is_pro(u) for u in db.session.execute(select(User).order_by(User.id)).scalars()}
    db.session.rollback()
    return state


def reset_replayed_rows() -> None:
    from saas.extensions import db

    for sql in RESET_SQL:
        db.session.execute(text(sql))
    db.session.commit()
    db.session.expire_all()


class EffectLog(logging.Handler):
    """Collects the user-facing effects the handlers announce (dunning notices)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.effects: list[str] = []

    def emit(self, record):
        self.effects.append(record.getMessage())


@pytest.fixture
def effects():
    handler = EffectLog()
    logger = logging.getLogger("saas.dunning")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def journey(ctx, sandbox, pro_plan):
    def _make(email="ada@example.com"):
        return Journey(ctx, sandbox, email)
    return _make


@pytest.fixture
def app_config(app_config):
    """This folder replays thousands of short transactions: skip waiting for the WAL flush on
    commit (a crash could lose the last commits of a test database, nothing else changes)."""
    options = dict(app_config["SQLALCHEMY_ENGINE_OPTIONS"])
    # One process, one database that stays up: a liveness ping before every checkout only
    # doubles the round trips of a replay.
    options["pool_pre_ping"] = False
    options["connect_args"] = {"options": "-c synchronous_commit=off"}
    return dict(app_config, SQLALCHEMY_ENGINE_OPTIONS=options)


class InProcessSandbox(stripe.HTTPClient):
    """The stripe library's transport, calling the sandbox app in this process instead of over a
    socket. Same sandbox, same library, same requests and answers: only the TCP round trip and
    the server thread are gone. A replay re-fetches an object per event, and on a busy 2-core
    machine the socket hop is most of its cost."""

    name = "in-process-sandbox"

    def __init__(self, sandbox_app):
        super().__init__()
        self.client = sandbox_app.test_client()

    def request(self, method, url, headers, post_data=None):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        r = self.client.open(path, method=method.upper(), headers=dict(headers or {}), data=post_data)
        return r.get_data(), r.status_code, dict(r.headers)

    def close(self):
        pass
