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
DECLINED = "4000000000000002"
DAY = 86400
# What the store journeys buy: (slug, name, unit amount, quantity), in the store currency.
ORDER_ITEMS = (("mug", "Enamel Mug", 2400, 1), ("stickers", "Sticker Pack", 500, 2))


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

    # -- store steps -------------------------------------------------------------------------
    def place_order(self) -> int:
        """Fill the cart and check out through the store's services (the Checkout button):
        a pending order bound to its new Payment Intent."""
        from saas.extensions import db
        from saas.store import services
        from saas.store.models import Product

        currency = services.store_currency()
        products = [Product(slug=slug, name=name, unit_amount=amount, currency=currency)
                    for slug, name, amount, _ in ORDER_ITEMS]
        db.session.add_all(products)
        db.session.commit()
        for product, (*_, quantity) in zip(products, ORDER_ITEMS):
            services.add_to_cart(user_id=self.user_id, token=None, product_id=product.id, quantity=quantity)
        token = services.review_cart(user_id=self.user_id, token=None).checkout_token
        order = services.checkout(self.user_id, token)
        self.order_id, self.payment_intent_id = order.id, order.stripe_payment_intent_id
        db.session.rollback()
        self.deliver()
        return self.order_id

    def pay(self, number: str) -> dict:
        """Confirm the order's intent the way the payment page's Stripe.js does."""
        from tests.store.conftest import confirm_like_stripe_js

        secret = self.api("GET", f"/v1/payment_intents/{self.payment_intent_id}")["client_secret"]
        body = confirm_like_stripe_js(self.sandbox.url, secret, number).json()
        self.deliver()
        return body

    def authenticate(self, intent: dict, outcome: str) -> None:
        """Answer the 3D Secure challenge the intent redirected to ("approve" or "fail")."""
        challenge = intent["next_action"]["redirect_to_url"]["url"]
        r = requests.post(challenge, data={"outcome": outcome, "client_secret": intent["client_secret"]},
                          allow_redirects=False)
        assert r.status_code in (302, 303), r.text
        self.deliver()

    def refund(self, amount: int | None) -> dict:
        """An admin refund through the store's service; the order changes with the webhook."""
        from saas.store.services import refund_order

        self.refunds = getattr(self, "refunds", 0) + 1
        refund = refund_order(self.order_id, amount, idempotency_key=f"conv-refund-{self.order_id}-{self.refunds}")
        assert refund["status"] == "succeeded", refund
        self.deliver()
        return refund

    @property
    def order(self) -> dict:
        """The order row as live delivery left it."""
        from saas.extensions import db

        row = db.session.execute(text(
            "SELECT status, amount_refunded, paid_at IS NOT NULL AS paid, failure_code FROM orders WHERE id = :i"),
            {"i": self.order_id}).mappings().one()
        db.session.rollback()
        return dict(row)


# --- the final state the property test compares ---------------------------------------------------

# Each entry: (name, SQL giving the rows; columns chosen to leave out our own ids and clocks).
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
    # The store: paid_at is our clock, so only whether it is set; the rest is Stripe's word.
    ("orders", """
        SELECT id, user_id, status, currency, total_amount, amount_refunded, stripe_payment_intent_id,
               paid_at IS NOT NULL AS paid, failure_code, failure_message, review_reason
        FROM orders ORDER BY id"""),
    ("order_lines", "SELECT order_id, product_id, product_name, unit_amount, quantity FROM order_lines ORDER BY id"),
    # Fulfilment: units counted once per paid line, whatever was redelivered.
    ("products", "SELECT slug, units_sold FROM products ORDER BY slug"),
    # The revenue rollup, on the day its order was paid (the day itself is our clock too).
    ("store_revenue_days", """
        SELECT d.currency, d.orders_paid, d.amount_paid, d.amount_refunded,
               EXISTS (SELECT 1 FROM orders o WHERE (o.paid_at AT TIME ZONE 'UTC')::date = d.day) AS on_paid_day
        FROM store_revenue_days d ORDER BY d.day, d.currency"""),
    # Every stored event applied (or ignored) exactly once, and credited to the same user.
    ("events", "SELECT stripe_id, type, status, attempts, user_id FROM webhook_events ORDER BY stripe_id"),
]

# Rows a replay writes; the users (and their Stripe customers) stay, so a reset is cheap. Orders
# and their lines come from checkout, not from webhooks: they stay too, back as checkout left them
# (pending, bound to their intent), and fulfilment is undone with them.
RESET_SQL = [
    "DELETE FROM webhook_events",
    "DELETE FROM invoices",
    "DELETE FROM subscriptions",
    "UPDATE users SET has_had_trial = false",
    "DELETE FROM store_revenue_days",
    "UPDATE products SET units_sold = 0 WHERE units_sold <> 0",
    """UPDATE orders SET status = 'pending', amount_refunded = 0, paid_at = NULL, failure_code = NULL,
                      failure_message = NULL, review_reason = NULL""",
]
# One round trip for the whole reset: a schedule is a few milliseconds, so its reset counts.
_RESET_BATCH = ";\n".join(RESET_SQL)


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

    db.session.execute(text(_RESET_BATCH))
    db.session.commit()
    db.session.expire_all()


class EffectLog:
    """Collects the effects the handlers announce: dunning notices, and the store's fulfilments
    (and any order it refuses to mark paid)."""

    # logger -> the lowest level that is an effect there
    LOGGERS = {"saas.dunning": logging.WARNING, "saas.store.services": logging.INFO}

    def __init__(self):
        self.effects: list[str] = []


class _Collect(logging.Handler):
    def __init__(self, log: EffectLog, level: int):
        super().__init__(level=level)
        self.log = log

    def emit(self, record):
        self.log.effects.append(record.getMessage())


@pytest.fixture
def effects():
    log = EffectLog()
    installed = []
    for name, level in EffectLog.LOGGERS.items():
        logger = logging.getLogger(name)
        handler = _Collect(log, level)
        installed.append((logger, handler, logger.level))
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > level:  # LOG_LEVEL=WARNING in tests would drop the INFO ones
            logger.setLevel(level)
    yield log
    for logger, handler, level in installed:
        logger.removeHandler(handler)
        logger.setLevel(level)


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
        self.frozen: dict | None = None

    def _send(self, method, path, headers, post_data):
        r = self.client.open(path, method=method, headers=dict(headers or {}), data=post_data)
        return r.get_data(), r.status_code, dict(r.headers)

    def request(self, method, url, headers, post_data=None):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        method = method.upper()
        if self.frozen is None:
            return self._send(method, path, headers, post_data)
        # A replay must only read Stripe: a write would move the state every answer relies on.
        assert method == "GET", f"a replay wrote to Stripe: {method} {path}"
        if path not in self.frozen:
            self.frozen[path] = (dict(headers or {}), *self._send(method, path, headers, post_data))
        _, body, status, response_headers = self.frozen[path]
        return body, status, dict(response_headers)

    def freeze(self) -> None:
        """The journey is over and Stripe's state stands still: from now on each distinct GET is
        answered by the sandbox once and then from memory. Thousands of schedules re-read the
        same dozen objects; the stripe library still parses every answer as it would. Only
        reads are allowed while frozen, and ``thaw`` proves nothing moved."""
        self.frozen = {}

    def thaw(self) -> int:
        """Stop answering from memory, after checking that the sandbox still gives every
        remembered answer byte for byte (so the replays saw exactly what it would have said).
        Returns how many distinct reads were remembered."""
        remembered, self.frozen = self.frozen or {}, None
        for path, (headers, body, status, _) in remembered.items():
            now_body, now_status, _ = self._send("GET", path, headers, None)
            assert (now_status, now_body) == (status, body), f"Stripe's answer to GET {path} changed during the replays"
        return len(remembered)

    def close(self):
        pass
