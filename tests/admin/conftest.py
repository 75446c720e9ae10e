"""Admin fixtures: an admin and two customers with billing rows of their own, rows inserted
straight into the real test database (what the webhooks would have written)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from saas.timefmt import utcnow

PASSWORD = "correct horse battery"
ADMIN_EMAIL = "root@example.com"


def add_plan(code="pro", price_id="price_seed_pro", amount=1200, currency="usd", interval="month"):
    from saas.billing.models import Plan
    from saas.extensions import db

    plan = Plan(code=code, name=code.title(), stripe_price_id=price_id, unit_amount=amount, currency=currency,
                interval=interval, active=True)
    db.session.add(plan)
    db.session.flush()
    return plan


def add_customer(email, n, *, status="active", price_id="price_seed_pro", started_days_ago=40,
                 invoice_status="paid", payment_problem=None, event_status="processed", ended_days_ago=None):
    """A user with a subscription, an invoice and a webhook event, all marked with ``n``."""
    from saas.accounts.services import hash_password
    from saas.accounts.models import User
    from saas.billing.models import Invoice, Subscription
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    now = utcnow()
    user = User(email=email, password_hash=hash_password(PASSWORD), stripe_customer_id=f"cus_secret{n}")
    db.session.add(user)
    db.session.flush()
    sub = Subscription(user_id=user.id, stripe_id=f"sub_secret{n}", stripe_customer_id=user.stripe_customer_id,
                       stripe_price_id=price_id, status=status, quantity=1,
                       stripe_created=now - timedelta(days=started_days_ago),
                       current_period_start=now - timedelta(days=10), current_period_end=now + timedelta(days=20),
                       ended_at=now - timedelta(days=ended_days_ago) if ended_days_ago is not None else None)
    inv = Invoice(user_id=user.id, stripe_id=f"in_secret{n}", stripe_customer_id=user.stripe_customer_id,
                  stripe_subscription_id=sub.stripe_id, number=f"INV-SECRET-{n}", status=invoice_status,
                  amount_due=1200, amount_paid=1200 if invoice_status == "paid" else 0,
                  amount_remaining=0 if invoice_status == "paid" else 1200, currency="usd",
                  payment_problem=payment_problem, stripe_created=now - timedelta(days=10),
                  paid_at=now - timedelta(days=10) if invoice_status == "paid" else None)
    ev = WebhookEvent(stripe_id=f"evt_secret{n}", type="customer.subscription.updated", livemode=False,
                      object_id=sub.stripe_id, user_id=user.id, status=event_status, attempts=1,
                      payload={"id": f"evt_secret{n}", "type": "customer.subscription.updated",
                               "data": {"object": {"id": sub.stripe_id, "status": status},
                                        "previous_attributes": {"status": "trialing"}}},
                      received_at=now - timedelta(days=1),
                      last_error="StripeUnavailable: boom" if event_status == "failed" else None)
    db.session.add_all([sub, inv, ev])
    db.session.flush()
    return user


def add_admin(email=ADMIN_EMAIL):
    from saas.accounts.models import User
    from saas.accounts.services import hash_password
    from saas.extensions import db

    user = User(email=email, password_hash=hash_password(PASSWORD), is_admin=True)
    db.session.add(user)
    db.session.flush()
    return user


def login(make_client, email):
    c, a = make_client()
    r = a.login(email, PASSWORD)
    assert r.status_code == 302, r.get_data(as_text=True)
    return c, a


@pytest.fixture
def admin_client(app, make_client):
    """A test client logged in as a fresh admin."""
    with app.app_context():
        from saas.extensions import db

        add_admin()
        db.session.commit()
    return login(make_client, ADMIN_EMAIL)
