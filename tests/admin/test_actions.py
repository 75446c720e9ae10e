"""Replay and re-sync, end to end against the sandbox: real Stripe objects created through a
paid checkout, real webhook intake, the real RQ queue, and the admin's confirmation pages."""

from __future__ import annotations

import requests
from sqlalchemy import select

from tests.admin.conftest import ADMIN_EMAIL, add_admin, login
from tests.conftest import csrf_from, post_event

CARD = {"cardNumber": "4242 4242 4242 4242", "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada"}


def subscribed_customer(app, email="ada@example.com"):
    """A user who paid for Pro in the sandbox while no webhook reached us (so our tables know
    nothing yet). Returns (user id, Stripe subscription id)."""
    from saas import stripe_gateway as gateway
    from saas.accounts.services import create_user
    from saas.billing.services import ensure_customer, seed_pro_plan

    with app.app_context():
        plan, _ = seed_pro_plan()
        user = create_user(email, "correct horse battery")
        customer = ensure_customer(user.id)
        session = gateway.create_subscription_checkout(
            customer_id=customer, price_id=plan.stripe_price_id, user_id=user.id,
            success_url="http://localhost/billing/success?session_id={CHECKOUT_SESSION_ID}",
            cancel_url="http://localhost/billing/cancelled", trial_days=0, allow_promotion_codes=False,
            idempotency_key=f"test-checkout-{user.id}")
        r = requests.post(session["url"], data=CARD, allow_redirects=False)
        assert r.status_code in (302, 303), r.text
        sub_id = gateway.retrieve_checkout_session(session["id"])["subscription"]
        return user.id, sub_id


def sandbox_event(app, type_, object_id):
    from saas import stripe_gateway as gateway

    events = requests.get(app.config["STRIPE_API_BASE"] + "/_sandbox/events").json()["data"]
    match = [e for e in events if e["type"] == type_ and e["object_id"] == object_id]
    assert match, f"the sandbox emitted no {type_} for {object_id}"
    with app.app_context():
        return gateway.retrieve_event(match[0]["id"])


def confirm(client, path):
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="confirm" value="yes"' in html
    return client.post(path, data={"csrf_token": csrf_from(html), "confirm": "yes"})


def queue_depth(app) -> int:
    from saas import queue

    with app.app_context():
        return queue.get_queue().count


def actions(app):
    from saas.admin.models import AdminAction
    from saas.extensions import db

    with app.app_context():
        rows = db.session.execute(select(AdminAction).order_by(AdminAction.id)).scalars().all()
        return [(a.admin_email, a.action, a.target_type, a.target_id, a.outcome, a.detail, a.created_at) for a in rows]


def test_replay_a_failed_event_applies_it_once(app, client, make_client, drain):
    from saas.billing.models import Subscription
    from saas.extensions import db
    from saas.webhooks import jobs
    from saas.webhooks.models import WebhookEvent

    user_id, sub_id = subscribed_customer(app)
    event = sandbox_event(app, "customer.subscription.created", sub_id)
    good_key = app.config["STRIPE_SECRET_KEY"]
    # The event arrives while the app's Stripe key is broken (a bad key rotation): the handler's
    # re-read of the subscription fails and, retries exhausted, the event ends up failed.
    assert post_event(client, event).status_code == 200
    app.config["STRIPE_SECRET_KEY"] = "sk_live_rotated_wrongly"
    with app.app_context():
        from saas import queue

        queue.get_queue().empty()  # the worker's retries: we play the last one by hand below
        row_id = db.session.execute(select(WebhookEvent.id).where(WebhookEvent.stripe_id == event["id"])).scalar_one()
        try:
            jobs.process_event(row_id)
        except Exception:
            pass
        ev = db.session.get(WebhookEvent, row_id)
        assert ev.status == "failed" and "STRIPE_SECRET_KEY" in ev.last_error
        assert db.session.execute(select(Subscription)).first() is None
    app.config["STRIPE_SECRET_KEY"] = good_key  # the admin fixes the key, then replays

    with app.app_context():
        add_admin()
        db.session.commit()
    admin, _ = login(make_client, ADMIN_EMAIL)
    assert "Replay…" in admin.get(f"/admin/events/{row_id}").get_data(as_text=True)
    r = confirm(admin, f"/admin/events/{row_id}/replay")
    assert r.status_code == 303
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "Replayed: " in page and "was failed; queued again" in page
    assert queue_depth(app) == 1
    drain()  # (the shared drain fixture's job count reads 0 under RQ 3, so effects are checked)
    with app.app_context():
        ev = db.session.get(WebhookEvent, row_id)
        assert ev.status == "processed" and ev.last_error is None and ev.user_id == user_id
        subs = db.session.execute(select(Subscription)).scalars().all()
        assert [(s.stripe_id, s.status, s.user_id) for s in subs] == [(sub_id, "active", user_id)]
    log = actions(app)
    assert [(a[0], a[1], a[2], a[3], a[4]) for a in log] == [(ADMIN_EMAIL, "replay_event", "webhook_event", str(row_id), "ok")]
    assert log[0][6] is not None

    # A processed event cannot be replayed: refused, recorded, nothing changes.
    page = admin.get(f"/admin/events/{row_id}/replay").get_data(as_text=True)
    assert "only failed or ignored events can be replayed" in page
    assert 'name="confirm"' not in page
    r = admin.post(f"/admin/events/{row_id}/replay", data={"csrf_token": csrf_from(page), "confirm": "yes"})
    assert "Replay failed: " in admin.get(r.headers["Location"]).get_data(as_text=True)
    assert queue_depth(app) == 0
    log = actions(app)
    assert log[-1][4] == "error" and "is processed" in log[-1][5]
    with app.app_context():
        assert db.session.get(WebhookEvent, row_id).status == "processed"


def test_replay_needs_confirmation(app, make_client):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        add_admin()
        db.session.add(WebhookEvent(stripe_id="evt_x", type="invoice.paid", payload={}, status="ignored"))
        db.session.commit()
    admin, auth = login(make_client, ADMIN_EMAIL)
    r = auth.post("/admin/events/1/replay", data={}, token_from="/admin/events/1/replay")
    assert r.status_code == 200 and "Nothing was done" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(WebhookEvent, 1).status == "ignored"
    assert actions(app) == []


def test_resync_pulls_subscriptions_and_invoices_from_stripe(app, make_client):
    from saas.billing.models import Invoice, Subscription
    from saas.extensions import db

    user_id, sub_id = subscribed_customer(app)
    with app.app_context():
        add_admin()
        db.session.commit()
        assert db.session.execute(select(Subscription)).first() is None  # no webhook ever came
    admin, _ = login(make_client, ADMIN_EMAIL)
    r = confirm(admin, f"/admin/users/{user_id}/resync")
    assert r.status_code == 303
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "Re-synced: 1 subscription(s), 1 invoice(s) fetched from Stripe" in page
    assert f"{sub_id}: new → active" in page
    with app.app_context():
        subs = db.session.execute(select(Subscription)).scalars().all()
        invoices = db.session.execute(select(Invoice)).scalars().all()
        assert [(s.stripe_id, s.status, s.user_id, s.cancel_at_period_end) for s in subs] == [(sub_id, "active", user_id, False)]
        assert [(i.status, i.amount_paid, i.user_id) for i in invoices] == [("paid", 1200, user_id)]

    # The customer cancels in Stripe (say, in the portal) and that webhook is lost: re-sync again.
    r = requests.post(f"{app.config['STRIPE_API_BASE']}/v1/subscriptions/{sub_id}", data={"cancel_at_period_end": "true"},
                      headers={"Authorization": f"Bearer {app.config['STRIPE_SECRET_KEY']}"})
    assert r.status_code == 200, r.text
    r = confirm(admin, f"/admin/users/{user_id}/resync")
    assert "already in sync" in admin.get(r.headers["Location"]).get_data(as_text=True)  # status unchanged
    with app.app_context():
        assert db.session.execute(select(Subscription.cancel_at_period_end)).scalar_one() is True
    log = actions(app)
    assert [(a[1], a[3], a[4]) for a in log] == [("resync_user", str(user_id), "ok")] * 2
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "Admin: resync user" in page and sub_id in page


def test_resync_of_a_user_without_stripe_customer_is_refused(app, make_client):
    from saas.accounts.services import create_user
    from saas.billing.models import Subscription
    from saas.extensions import db

    with app.app_context():
        add_admin()
        user = create_user("nocus@example.com", "correct horse battery")
        user_id = user.id
    admin, auth = login(make_client, ADMIN_EMAIL)
    page = admin.get(f"/admin/users/{user_id}/resync").get_data(as_text=True)
    assert "has no Stripe customer yet" in page
    r = auth.post(f"/admin/users/{user_id}/resync", data={"confirm": "yes"}, token_from=f"/admin/users/{user_id}")
    assert "Re-sync failed: nocus@example.com has no Stripe customer yet" in admin.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Subscription)).first() is None
    assert [(a[1], a[4]) for a in actions(app)] == [("resync_user", "error")]


def test_make_admin_command(app):
    from saas.accounts.models import User
    from saas.accounts.services import create_user
    from saas.extensions import db

    with app.app_context():
        create_user("boss@example.com", "correct horse battery")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "make-admin", "BOSS@example.com"])
    assert result.exit_code == 0 and "boss@example.com is now an admin" in result.output
    with app.app_context():
        assert db.session.execute(select(User.is_admin)).scalar_one() is True
    result = runner.invoke(args=["users", "make-admin", "nobody@example.com"])
    assert result.exit_code != 0 and "no account with the email 'nobody@example.com'" in result.output
