"""Trials (configurable length, at most one per user ever) and the promotion-codes switch, on
Checkout Sessions the sandbox really creates."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import SECRET_KEY

from .conftest import make_user, pay_checkout_url, subscribe_in_sandbox


def _sub(subscription_id):
    from saas import stripe_gateway as gateway

    return gateway.retrieve_subscription(subscription_id)


def _apply_checkout(session):
    from saas.billing import services
    from saas.extensions import db

    services.apply_checkout_session(session)
    db.session.commit()


@pytest.fixture
def trial_app_config(app_config):
    app_config.update(PRO_TRIAL_DAYS=14, PRO_ALLOW_PROMOTION_CODES=True)
    return app_config


def test_no_trial_and_no_promotion_codes_by_default(ctx, pro_plan):
    user = make_user("plain@example.com")
    session = subscribe_in_sandbox(user)
    assert session["allow_promotion_codes"] in (False, None)
    sub = _sub(session["subscription"])
    assert sub["status"] == "active" and sub["trial_end"] is None


def test_trial_length_from_config_and_only_one_trial_ever(trial_app_config, ctx, pro_plan, sandbox):
    from saas.accounts.models import User
    from saas.extensions import db

    user = make_user("trial@example.com")
    first = subscribe_in_sandbox(user)
    sub = _sub(first["subscription"])
    assert sub["status"] == "trialing"
    assert sub["trial_end"] - sub["trial_start"] == 14 * 86400
    _apply_checkout(first)
    assert db.session.get(User, user.id).has_had_trial is True

    # The trial is cancelled in Stripe; the user comes back and buys Pro: no second trial.
    r = requests.delete(f"{sandbox.url}/v1/subscriptions/{sub['id']}", auth=(SECRET_KEY, ""))
    assert r.status_code == 200, r.text
    from saas.billing.services import sync_subscription

    sync_subscription(sub["id"])
    db.session.commit()
    second = subscribe_in_sandbox(db.session.get(User, user.id))
    again = _sub(second["subscription"])
    assert again["status"] == "active" and again["trial_end"] is None


def test_promotion_codes_switch_reaches_checkout(app_config, request):
    app_config.update(PRO_ALLOW_PROMOTION_CODES=True)
    request.getfixturevalue("pro_plan")
    app = request.getfixturevalue("app")

    from saas import stripe_gateway as gateway
    from saas.billing import services

    with app.app_context():
        user = make_user("promo@example.com")
        with app.test_request_context():
            url = services.start_pro_checkout(user)
        session = gateway.retrieve_checkout_session(url.rsplit("/", 1)[-1])
    assert session["allow_promotion_codes"] is True
    # The sandbox's test code then works on the hosted page.
    r = pay_checkout_url(url, promotionCode="SANDBOX20")
    assert r.status_code == 303, r.text
    with app.app_context():
        session = gateway.retrieve_checkout_session(session["id"])
    assert (session["amount_subtotal"], session["amount_total"]) == (1200, 960)
    assert session["discounts"][0]["promotion_code"].startswith("promo_")


def test_billing_page_offers_the_trial_only_once(trial_app_config, app, client, auth):
    auth.signup("offer@example.com")
    assert "Includes a 14-day free trial." in client.get("/billing").get_data(as_text=True)
    with app.app_context():
        from saas.accounts.services import find_by_email
        from saas.extensions import db

        find_by_email("offer@example.com").has_had_trial = True
        db.session.commit()
    assert "free trial" not in client.get("/billing").get_data(as_text=True)
