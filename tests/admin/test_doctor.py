"""`flask stripe doctor`: a healthy setup passes; each misconfiguration is named and exits 1.

Everything is real: prices live in the sandbox, webhook rows in PostgreSQL, the worker is a
real RQ worker registered in Redis, queued jobs are real jobs."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import PUBLISHABLE_KEY, SECRET_KEY


def run_doctor(app):
    result = app.test_cli_runner().invoke(args=["stripe", "doctor"])
    return result.exit_code, result.output


def sandbox_price(app, **params):
    """Create a price straight in the sandbox (recurring unless told otherwise)."""
    base = app.config["STRIPE_API_BASE"]
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {SECRET_KEY}"
    product = s.post(f"{base}/v1/products", data={"name": "Doctor test"}).json()
    data = {"product": product["id"], "unit_amount": params.pop("unit_amount", 1200),
            "currency": params.pop("currency", "usd")}
    if params.pop("recurring", True):
        data["recurring[interval]"] = "month"
    price = s.post(f"{base}/v1/prices", data=data).json()
    if params.pop("active", True) is False:
        price = s.post(f"{base}/v1/prices/{price['id']}", data={"active": "false"}).json()
    return price["id"]


@pytest.fixture
def healthy(app):
    """A setup with nothing wrong: matching recurring price, a recent processed webhook, a live
    worker, an empty queue."""
    from saas import queue
    from saas.extensions import db
    from saas.timefmt import utcnow
    from saas.webhooks.models import WebhookEvent

    app.config["STRIPE_PRICE_ID_PRO"] = sandbox_price(app)
    with app.app_context():
        db.session.add(WebhookEvent(stripe_id="evt_doctor_ok", type="invoice.paid", payload={}, status="processed",
                                    received_at=utcnow()))
        db.session.commit()
    worker = queue.make_worker(app, name="doctor-test-worker")
    worker.register_birth()
    yield app
    worker.register_death()


def test_healthy_setup_passes(healthy):
    code, out = run_doctor(healthy)
    assert code == 0, out
    assert "All checks passed." in out
    assert "[FAIL]" not in out


def test_health_page_shows_the_same_checks(healthy, make_client):
    from tests.admin.conftest import ADMIN_EMAIL, add_admin, login

    with healthy.app_context():
        from saas.extensions import db

        add_admin()
        db.session.commit()
    healthy.config["PRO_PLAN_AMOUNT"] = 999
    c, _ = login(make_client, ADMIN_EMAIL)
    page = c.get("/admin/health").get_data(as_text=True)
    assert "1 problem(s) need fixing: Pro price amount" in page
    assert "charges $12.00 but the app advertises $9.99" in page


CASES = [
    # (id, config changes, text naming the problem, check title)
    ("missing secret key", {"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY is not set", "Secret key"),
    ("publishable key in the secret slot", {"STRIPE_SECRET_KEY": PUBLISHABLE_KEY},
     "STRIPE_SECRET_KEY holds a publishable key", "Secret key"),
    ("secret key in the publishable slot", {"STRIPE_PUBLISHABLE_KEY": SECRET_KEY},
     "STRIPE_PUBLISHABLE_KEY holds a secret key", "Publishable key"),
    ("missing publishable key", {"STRIPE_PUBLISHABLE_KEY": ""}, "STRIPE_PUBLISHABLE_KEY is not set", "Publishable key"),
    ("test/live mismatch", {"STRIPE_PUBLISHABLE_KEY": "pk_live_" + "p" * 24},
     "secret key is a test-mode key but the publishable key is live mode", "Key modes"),
    ("price does not exist", {"STRIPE_PRICE_ID_PRO": "price_doesnotexist"}, "does not exist", "Pro price"),
    ("amount mismatch", {"PRO_PLAN_AMOUNT": 999}, "charges $12.00 but the app advertises $9.99", "Pro price amount"),
    ("currency mismatch", {"PRO_PLAN_CURRENCY": "eur"}, "charges in USD but the app advertises EUR", "Pro price currency"),
    ("missing webhook secret", {"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET is not set", "Webhook secret"),
    ("bad webhook secret", {"STRIPE_WEBHOOK_SECRET": "sk_test_not_a_signing_secret"},
     "does not look like a webhook signing secret", "Webhook secret"),
]


@pytest.mark.parametrize("changes, expected, title", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misconfiguration_is_named_and_fails(healthy, changes, expected, title):
    healthy.config.update(changes)
    code, out = run_doctor(healthy)
    assert code == 1, out
    assert expected in out
    assert "problem(s): " in out and title in out.split("problem(s): ", 1)[1]


def test_no_price_configured_at_all(healthy):
    healthy.config["STRIPE_PRICE_ID_PRO"] = ""
    code, out = run_doctor(healthy)
    assert code == 1
    assert "STRIPE_PRICE_ID_PRO is not set and no Pro plan is recorded" in out


def test_inactive_price(healthy):
    healthy.config["STRIPE_PRICE_ID_PRO"] = sandbox_price(healthy, active=False)
    code, out = run_doctor(healthy)
    assert code == 1 and "is archived (inactive)" in out


def test_one_time_price(healthy):
    healthy.config["STRIPE_PRICE_ID_PRO"] = sandbox_price(healthy, recurring=False)
    code, out = run_doctor(healthy)
    assert code == 1 and "is a one-time price" in out


def test_no_webhook_ever_received(healthy):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with healthy.app_context():
        db.session.execute(db.delete(WebhookEvent))
        db.session.commit()
    code, out = run_doctor(healthy)
    assert code == 1 and "No webhook has ever been received" in out


def test_failing_webhooks(healthy):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with healthy.app_context():
        db.session.add(WebhookEvent(stripe_id="evt_bad", type="invoice.paid", payload={}, status="failed",
                                    last_error="boom"))
        db.session.add(WebhookEvent(stripe_id="evt_retry", type="invoice.paid", payload={}, status="retrying"))
        db.session.commit()
    code, out = run_doctor(healthy)
    assert code == 1 and "2 webhook event(s) failed or are retrying" in out


def test_events_stored_but_never_queued(healthy):
    from datetime import timedelta

    from saas.extensions import db
    from saas.timefmt import utcnow
    from saas.webhooks.models import WebhookEvent

    with healthy.app_context():
        # Just stored: the pump has not had its moment yet, which is no finding.
        db.session.add(WebhookEvent(stripe_id="evt_new", type="invoice.paid", payload={}, received_at=utcnow()))
        db.session.commit()
    code, out = run_doctor(healthy)
    assert code == 0, out
    with healthy.app_context():
        db.session.add(WebhookEvent(stripe_id="evt_waiting", type="invoice.paid", payload={},
                                    received_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    code, out = run_doctor(healthy)
    assert code == 1 and "1 stored webhook event(s) have waited over 60 s to be queued" in out


def test_no_worker_alive(app):
    app.config["STRIPE_PRICE_ID_PRO"] = sandbox_price(app)
    code, out = run_doctor(app)
    assert code == 1
    assert "No RQ worker is listening on queue 'test'" in out


def test_queue_too_deep(healthy):
    from saas import queue

    healthy.config["DOCTOR_MAX_QUEUE_DEPTH"] = 3
    with healthy.app_context():
        for event_id in range(1, 6):
            assert queue.enqueue_event(event_id)
    code, out = run_doctor(healthy)
    assert code == 1 and "5 job(s) are waiting on queue 'test' (more than 3)" in out


def test_redis_unreachable(healthy):
    healthy.config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    healthy.extensions["saas.redis"] = None
    code, out = run_doctor(healthy)
    assert code == 1 and "Redis is unreachable" in out
