"""The Pro upgrade: one Stripe customer per user, the Checkout Session we ask for, the return
pages, and clear messages (never a 500) when Stripe is not configured."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import pytest
import stripe

from saas.accounts.models import User
from saas.billing import services
from saas.billing.entitlement import is_pro
from saas.extensions import db
from tests.conftest import SECRET_KEY


def stripe_client(sandbox):
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)


def user_named(app, email="ada@example.com") -> User:
    with app.app_context():
        from saas.accounts.services import find_by_email

        user = find_by_email(email)
        db.session.expunge(user)
        return user


def upgrade(auth):
    return auth.post("/billing/upgrade")


def test_upgrade_redirects_303_to_a_subscription_checkout_for_this_user(app, auth, sandbox, pro_plan):
    auth.signup("ada@example.com")
    r = upgrade(auth)
    assert r.status_code == 303
    location = r.headers["Location"]
    assert location.startswith(sandbox.url + "/c/pay/cs_test_")
    session_id = urlsplit(location).path.rsplit("/", 1)[-1]
    user = user_named(app)
    cs = stripe_client(sandbox).v1.checkout.sessions.retrieve(session_id, params={"expand": ["line_items"]})
    assert cs["mode"] == "subscription"
    assert cs["customer"] == user.stripe_customer_id
    assert cs["client_reference_id"] == str(user.id)
    assert cs["metadata"]["user_id"] == str(user.id)
    assert cs["line_items"]["data"][0]["price"]["id"] == pro_plan.stripe_price_id
    assert cs["success_url"] == "http://localhost/billing/success?session_id={CHECKOUT_SESSION_ID}"
    assert cs["cancel_url"] == "http://localhost/billing/cancelled"


def test_customer_is_created_once_even_for_concurrent_clicks(app, sandbox, pro_plan):
    with app.app_context():
        from saas.accounts.services import create_user

        user_id = create_user("ada@example.com", "correct horse battery").id
    results, errors = [], []
    barrier = threading.Barrier(4)

    def click():
        with app.app_context():
            try:
                barrier.wait()
                results.append(services.ensure_customer(user_id))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    customers = stripe_client(sandbox).v1.customers.list(params={"email": "ada@example.com"})
    assert len(customers.data) == 1 and customers.data[0].id == results[0]


def test_double_submit_reuses_the_checkout_session(app, auth, pro_plan):
    auth.signup("ada@example.com")
    first = upgrade(auth).headers["Location"]
    second = upgrade(auth).headers["Location"]
    assert first == second


def test_missing_price_gives_a_clear_message_and_a_log_line(app, auth, caplog):
    auth.signup("ada@example.com")
    with caplog.at_level(logging.ERROR):
        r = upgrade(auth)
    assert r.status_code == 302
    page = auth.client.get("/billing").get_data(as_text=True)
    assert "Payments are not set up on this site yet. Nothing was charged." in page
    assert "STRIPE_PRICE_ID_PRO is not set" in caplog.text
    assert user_named(app).stripe_customer_id is None


def misconfigured_upgrade(app_config, caplog, **settings) -> str:
    """Sign up and press Upgrade on an app built with ``settings``; returns the error log.
    The page must answer with a redirect and a clear message, never a 500."""
    from saas import create_app
    from tests.conftest import Auth, wipe

    app = create_app(dict(app_config, **settings))
    client = app.test_client()
    auth = Auth(client)
    try:
        auth.signup("ada@example.com")
        with caplog.at_level(logging.ERROR):
            r = upgrade(auth)
        assert r.status_code == 302
        assert "Payments are not set up" in client.get("/billing").get_data(as_text=True)
        return caplog.text
    finally:
        wipe(app)


@pytest.mark.parametrize("key,needle", [
    ("", "STRIPE_SECRET_KEY is not set"),
    ("pk_test_" + "p" * 20, "publishable key"),
    ("nonsense", "does not look like a Stripe secret key"),
])
def test_bad_secret_key_is_named_in_the_log_never_a_500(app_config, key, needle, caplog):
    log = misconfigured_upgrade(app_config, caplog, STRIPE_SECRET_KEY=key, STRIPE_PRICE_ID_PRO="price_whatever")
    assert needle in log
    assert key not in log or key == ""


def test_key_rejected_by_stripe_is_a_clear_message(app_config, caplog):
    # The sandbox refuses live keys, as Stripe refuses a revoked one.
    log = misconfigured_upgrade(app_config, caplog, STRIPE_SECRET_KEY="sk_live_" + "z" * 20,
                                STRIPE_PRICE_ID_PRO="price_whatever")
    assert "rejected" in log
    assert "z" * 20 not in log


def test_success_page_grants_nothing_from_the_url(app, make_client, sandbox, pro_plan):
    # Ada starts a checkout but never pays; Bob pastes her session id into his success URL.
    ca, a = make_client()
    a.signup("ada@example.com")
    session_id = urlsplit(upgrade(a).headers["Location"]).path.rsplit("/", 1)[-1]
    cb, b = make_client()
    b.signup("bob@example.com")
    for c in (ca, cb):
        page = c.get(f"/billing/success?session_id={session_id}").get_data(as_text=True)
        assert "Confirming your payment" in page
        assert c.get("/billing/status.json").get_json()["pro"] is False
    assert cb.get("/billing/success?session_id=cs_bogus").status_code == 200
    assert cb.get("/billing/success?session_id=" + "x" * 5000).status_code == 200


def test_success_page_applies_the_users_own_paid_session(app, auth, sandbox, pro_plan):
    import requests

    auth.signup("ada@example.com")
    location = upgrade(auth).headers["Location"]
    r = requests.post(location, data={"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34",
                                      "cardCvc": "123", "billingName": "Ada"}, allow_redirects=False)
    success = urlsplit(r.headers["Location"])
    # No webhooks reach this app (none configured): only the success page's own check can apply it.
    page = auth.client.get(success.path + "?" + success.query).get_data(as_text=True)
    assert auth.client.get("/billing/status.json").get_json() == {"pro": True, "status": "active"}
    assert 'data-pro="true"' in page


def test_someone_elses_paid_session_does_not_make_you_pro(app, make_client, sandbox, pro_plan):
    import requests

    ca, a = make_client()
    a.signup("ada@example.com")
    location = upgrade(a).headers["Location"]
    requests.post(location, data={"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34",
                                  "cardCvc": "123", "billingName": "Ada"}, allow_redirects=False)
    session_id = urlsplit(location).path.rsplit("/", 1)[-1]
    cb, b = make_client()
    b.signup("bob@example.com")
    cb.get(f"/billing/success?session_id={session_id}")
    assert cb.get("/billing/status.json").get_json()["pro"] is False
    with app.app_context():
        assert not is_pro(db.session.get(User, 2))


def test_cancel_page_says_nothing_was_charged(auth):
    auth.signup()
    page = auth.client.get("/billing/cancelled").get_data(as_text=True)
    assert "Nothing was charged" in page


def test_upgrade_when_already_pro_is_refused_politely(app, auth, sandbox, pro_plan):
    import requests

    auth.signup("ada@example.com")
    location = upgrade(auth).headers["Location"]
    r = requests.post(location, data={"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34",
                                      "cardCvc": "123", "billingName": "Ada"}, allow_redirects=False)
    success = urlsplit(r.headers["Location"])
    auth.client.get(success.path + "?" + success.query)
    r = upgrade(auth)
    assert r.status_code == 302
    assert "You already have Pro." in auth.client.get("/billing").get_data(as_text=True)


def test_clicks_minutes_apart_reuse_the_open_session(app, auth, pro_plan, monkeypatch):
    import time as time_module

    auth.signup("ada@example.com")
    first = upgrade(auth).headers["Location"]
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 600)  # another idempotency window
    assert upgrade(auth).headers["Location"] == first


def test_paid_but_not_yet_mirrored_is_never_sold_twice(app, auth, sandbox, pro_plan):
    import requests

    auth.signup("ada@example.com")
    location = upgrade(auth).headers["Location"]
    r = requests.post(location, data={"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34",
                                      "cardCvc": "123", "billingName": "Ada"}, allow_redirects=False)
    assert r.status_code == 303
    # No webhook has reached us and the success page was never opened: our mirror knows nothing.
    assert auth.client.get("/billing/status.json").get_json()["pro"] is False
    r = upgrade(auth)
    assert r.status_code == 302
    assert "You already have Pro." in auth.client.get("/billing").get_data(as_text=True)
    subs = stripe_client(sandbox).v1.subscriptions.list(params={"customer": user_named(app).stripe_customer_id})
    assert len(subs.data) == 1


def test_a_session_for_another_price_is_expired_not_left_payable(app, app_config, auth, sandbox, pro_plan):
    auth.signup("ada@example.com")
    old = urlsplit(upgrade(auth).headers["Location"]).path.rsplit("/", 1)[-1]
    with app.app_context():
        from saas.billing.models import Plan

        db.session.execute(db.delete(Plan))
        db.session.commit()
    app.config["PRO_PLAN_AMOUNT"] = 1500
    with app.app_context():
        services.seed_pro_plan()
    new = urlsplit(upgrade(auth).headers["Location"]).path.rsplit("/", 1)[-1]
    assert new != old
    assert stripe_client(sandbox).v1.checkout.sessions.retrieve(old).status == "expired"
