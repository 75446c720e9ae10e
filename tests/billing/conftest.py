"""Helpers for the billing tests: users and subscription rows in the real test database, and
Stripe-shaped payloads (current API: the period on the items, the invoice's subscription under
parent.subscription_details)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone

import pytest

DAY = 86400
_ids = itertools.count(1)


def unix(dt: datetime) -> int:
    return int(dt.timestamp())


def make_user(email: str, customer_id: str | None = None):
    from saas.accounts.services import create_user
    from saas.extensions import db

    user = create_user(email, "correct horse battery")
    user.stripe_customer_id = customer_id
    db.session.commit()
    return user


def subscription_payload(*, customer: str, price: str, status: str = "active", sub_id: str | None = None,
                         period_start: int | None = None, period_days: int = 30, created: int | None = None,
                         cancel_at_period_end: bool = False, cancel_at: int | None = None,
                         trial_start: int | None = None, trial_end: int | None = None,
                         pause_collection: str | None = None, ended_at: int | None = None,
                         canceled_at: int | None = None, user_id: int | None = None) -> dict:
    start = period_start or int(time.time()) - DAY
    return {
        "id": sub_id or f"sub_test{next(_ids):06d}", "object": "subscription", "customer": customer,
        "status": status, "created": created or start, "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": cancel_at, "canceled_at": canceled_at, "ended_at": ended_at,
        "trial_start": trial_start, "trial_end": trial_end,
        "pause_collection": {"behavior": pause_collection, "resumes_at": None} if pause_collection else None,
        "latest_invoice": None, "metadata": {"user_id": str(user_id)} if user_id else {},
        "items": {"object": "list", "data": [{
            "id": f"si_test{next(_ids):06d}", "object": "subscription_item", "quantity": 1,
            "price": {"id": price, "object": "price", "currency": "usd", "unit_amount": 1200},
            "current_period_start": start, "current_period_end": start + period_days * DAY,
        }]},
    }


def invoice_payload(*, customer: str, subscription: str | None, status: str = "open", inv_id: str | None = None,
                    amount_due: int = 1200, amount_paid: int = 0, currency: str = "usd", number: str | None = "ABC-0001",
                    created: int | None = None, period_start: int | None = None, period_end: int | None = None,
                    attempt_count: int = 0, next_payment_attempt: int | None = None,
                    billing_reason: str = "subscription_cycle", paid_at: int | None = None) -> dict:
    created = created or int(time.time())
    inv_id = inv_id or f"in_test{next(_ids):06d}"
    return {
        "id": inv_id, "object": "invoice", "customer": customer, "status": status, "number": number,
        "currency": currency, "amount_due": amount_due, "amount_paid": amount_paid,
        "amount_remaining": amount_due - amount_paid, "attempt_count": attempt_count,
        "next_payment_attempt": next_payment_attempt, "billing_reason": billing_reason, "created": created,
        "period_start": period_start or created - 30 * DAY, "period_end": period_end or created,
        "hosted_invoice_url": f"https://invoice.example/i/{inv_id}" if status != "draft" else None,
        "invoice_pdf": f"https://invoice.example/i/{inv_id}/pdf" if status != "draft" else None,
        "status_transitions": {"finalized_at": created if status != "draft" else None, "paid_at": paid_at,
                               "voided_at": None, "marked_uncollectible_at": None},
        # Current API: the old top-level `subscription` is gone; the link lives under parent.
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"subscription": subscription, "metadata": {}}} if subscription else None,
    }


def event(type_: str, obj: dict) -> dict:
    return {"id": f"evt_test{next(_ids):08d}", "object": "event", "type": type_, "api_version": "2026-10-28.endive",
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


@pytest.fixture
def price_id(pro_plan):
    return pro_plan.stripe_price_id


def utc(y, m, d, h=12) -> datetime:
    return datetime(y, m, d, h, tzinfo=timezone.utc)


__all__ = ["DAY", "make_user", "subscription_payload", "invoice_payload", "event", "unix", "utc", "timedelta"]


CARD = {"cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Lovelace"}


def pay_checkout_url(url: str, number: str = "4242 4242 4242 4242", **extra):
    import requests

    return requests.post(url, data=dict(CARD, cardNumber=number, **extra), allow_redirects=False)


def subscribe_in_sandbox(user, number: str = "4242 4242 4242 4242") -> dict:
    """Start Pro checkout for ``user`` (in an app context) and pay it on the sandbox's hosted
    page; returns the completed Checkout Session (a plain dict). No webhook is applied."""
    from flask import current_app

    from saas import stripe_gateway as gateway
    from saas.accounts.models import User
    from saas.billing import services
    from saas.extensions import db

    with current_app.test_request_context():  # start_pro_checkout builds return URLs
        url = services.start_pro_checkout(db.session.get(User, user.id))
    r = pay_checkout_url(url, number)
    assert r.status_code == 303, r.text
    return gateway.retrieve_checkout_session(url.rsplit("/", 1)[-1])


@pytest.fixture
def seeded_plan(app):
    """The Pro plan, seeded without holding an app context (for tests that use test clients)."""
    from saas.billing.services import seed_pro_plan

    with app.app_context():
        plan, _ = seed_pro_plan()
        return plan.stripe_price_id
