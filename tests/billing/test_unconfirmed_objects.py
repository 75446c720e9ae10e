"""A signed event about an object Stripe does not know is stored and ignored: it grants nothing."""

from __future__ import annotations

import time

from saas.accounts.models import User
from saas.billing.entitlement import is_pro
from saas.extensions import db
from saas.webhooks.models import WebhookEvent
from tests.conftest import post_event


def fake_subscription_event(customer_id: str, price_id: str) -> dict:
    now = int(time.time())
    return {"id": "evt_forged_sub", "object": "event", "type": "customer.subscription.updated",
            "api_version": "2026-10-28.endive", "created": now, "livemode": False,
            "data": {"object": {"id": "sub_never_existed", "object": "subscription", "customer": customer_id,
                                "status": "active", "metadata": {}, "cancel_at_period_end": False,
                                "items": {"data": [{"price": {"id": price_id}, "quantity": 1,
                                                    "current_period_start": now,
                                                    "current_period_end": now + 30 * 86400}]}}}}


def test_subscription_stripe_does_not_know_grants_no_pro(app, auth, client, pro_plan, drain):
    auth.signup("ada@example.com")
    auth.post("/billing/upgrade")  # makes ada's Stripe customer
    with app.app_context():
        customer_id = db.session.execute(db.select(User.stripe_customer_id)).scalar_one()
    assert post_event(client, fake_subscription_event(customer_id, pro_plan.stripe_price_id)).status_code == 200
    drain()
    with app.app_context():
        event = db.session.execute(db.select(WebhookEvent).where(WebhookEvent.stripe_id == "evt_forged_sub")).scalar_one()
        assert event.status == "ignored"
        assert "does not know subscription sub_never_existed" in event.last_error
        assert not is_pro(db.session.get(User, 1))
    assert client.get("/billing/status.json").get_json()["pro"] is False
