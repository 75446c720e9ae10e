"""Admin lists: filters, keyset pagination, bad input, and the query plans behind them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.admin.conftest import ADMIN_EMAIL, add_admin, add_customer, add_plan, login


@pytest.fixture
def admin(app, make_client):
    with app.app_context():
        from saas.extensions import db

        add_admin()
        db.session.commit()
    c, _ = login(make_client, ADMIN_EMAIL)
    return c


def row_ids(html: str) -> list[int]:
    body = html.split('id="rows"', 1)[1] if 'id="rows"' in html else ""
    return [int(x) for x in re.findall(r'<td class="muted">(\d+)</td>', body)]


def test_filters_by_status_email_and_date(app, admin):
    from saas.billing.models import Subscription
    from saas.extensions import db

    with app.app_context():
        add_plan()
        add_customer("a@example.com", 1, status="active", started_days_ago=100)
        add_customer("b@example.com", 2, status="past_due", started_days_ago=10)
        add_customer("c@example.com", 3, status="past_due", started_days_ago=400)
        db.session.commit()
        started = {s.id: s.stripe_created for s in db.session.execute(db.select(Subscription)).scalars()}
    assert row_ids(admin.get("/admin/subscriptions").get_data(as_text=True)) == [3, 2, 1]
    assert row_ids(admin.get("/admin/subscriptions?status=past_due").get_data(as_text=True)) == [3, 2]
    assert row_ids(admin.get("/admin/subscriptions?email=B@example.com").get_data(as_text=True)) == [2]
    day = started[2].date()
    page = admin.get(f"/admin/subscriptions?status=past_due&from={day - timedelta(days=1)}&to={day}")
    assert row_ids(page.get_data(as_text=True)) == [2]
    # Events by type and status; invoices by status.
    assert row_ids(admin.get("/admin/events?type=customer.subscription.updated&status=processed").get_data(as_text=True)) == [3, 2, 1]
    assert row_ids(admin.get("/admin/events?type=invoice.paid").get_data(as_text=True)) == []
    assert row_ids(admin.get("/admin/invoices?status=paid&email=c@example.com").get_data(as_text=True)) == [3]


@pytest.mark.parametrize("query, message", [
    ("status=bogus", "Unknown status &#39;bogus&#39;"),
    ("from=31-01-2026", "The &#39;from&#39; date must look like 2026-01-31."),
    ("from=2026-02-01&to=2026-01-01", "The &#39;from&#39; date is after the &#39;to&#39; date."),
    ("email=not-an-email", "Filter by a full email address"),
    ("before=abc", "That page link is broken"),
])
def test_bad_filters_get_a_clear_error(app, admin, query, message):
    r = admin.get(f"/admin/subscriptions?{query}")
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)


def test_unknown_email_says_so(app, admin):
    page = admin.get("/admin/invoices?email=ghost@example.com").get_data(as_text=True)
    assert "No account has the email ghost@example.com." in page


def _insert_events(app, n, failed_every=100, user_every=None):
    """Bulk rows through SQL: the planner needs volume to choose between plans."""
    from saas.extensions import db

    with app.app_context():
        db.session.execute(text("""
            INSERT INTO webhook_events (stripe_id, type, livemode, payload, status, attempts, received_at, user_id)
            SELECT 'evt_bulk_' || g,
                   CASE WHEN g % 500 = 0 THEN 'charge.dispute.created' WHEN g % 3 = 0 THEN 'invoice.paid' WHEN g % 3 = 1 THEN 'customer.subscription.updated'
                        ELSE 'checkout.session.completed' END,
                   false, '{}'::jsonb,
                   CASE WHEN g % :failed_every = 0 THEN 'failed' ELSE 'processed' END, 1,
                   now() - (:n - g) * interval '1 minute',
                   CASE WHEN :user_every > 0 AND g % :user_every = 0 THEN 1 ELSE NULL END
            FROM generate_series(1, :n) g"""), {"n": n, "failed_every": failed_every, "user_every": user_every or 0})
        db.session.commit()


def test_keyset_pages_walk_older_and_newer(app, admin):
    _insert_events(app, 120)
    first = admin.get("/admin/events").get_data(as_text=True)
    assert row_ids(first) == list(range(120, 70, -1))
    older = re.search(r'href="(/admin/events\?before=\d+)"', first).group(1)
    second = admin.get(older).get_data(as_text=True)
    assert row_ids(second) == list(range(70, 20, -1))
    third = admin.get(re.search(r'href="(/admin/events\?before=\d+)"', second).group(1)).get_data(as_text=True)
    assert row_ids(third) == list(range(20, 0, -1))
    assert "Older →" not in third
    newer = re.search(r'href="(/admin/events\?after=\d+)"', second).group(1).replace("&amp;", "&")
    assert row_ids(admin.get(newer).get_data(as_text=True)) == list(range(120, 70, -1))
    # Filters survive paging.
    failed = admin.get("/admin/events?status=processed").get_data(as_text=True)
    link = re.search(r'href="(/admin/events\?[^"]*before=\d+[^"]*)"', failed).group(1).replace("&amp;", "&")
    assert "status=processed" in link


def explain(app, stmt) -> str:
    from saas.extensions import db

    with app.app_context():
        compiled = stmt.compile(dialect=db.engine.dialect)
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
    return "\n".join(rows)


def test_query_plans_use_the_matching_indexes(app):
    """With 60,000 events (1% failed, 10% one busy customer's, 0.2% one rare type), every page query is an index range scan:
    a sequential scan plus sort, or walking the whole primary key to filter, would be the
    alternatives the planner takes without the indexes."""
    from saas.accounts.models import User
    from saas.admin import queries
    from saas.extensions import db

    with app.app_context():
        db.session.add(User(email="bulk@example.com", password_hash="x"))
        db.session.commit()
    _insert_events(app, 60_000, failed_every=100, user_every=10)
    with app.app_context():
        db.session.execute(text("ANALYZE webhook_events"))
        db.session.commit()
    E, F = queries.EVENTS, queries.Filters
    plans = {
        "status": explain(app, queries.keyset_select(E, F(status="failed"), None, 50)),
        "status, deep page": explain(app, queries.keyset_select(E, F(status="failed", before=30_000), None, 50)),
        "type": explain(app, queries.keyset_select(E, F(type="charge.dispute.created", before=50_000), None, 50)),
        "user": explain(app, queries.keyset_select(E, F(), 1, 50)),
        "no filter, deep page": explain(app, queries.keyset_select(E, F(before=12_345), None, 50)),
    }
    expected = {
        "status": "ix_webhook_events_status_id",
        "status, deep page": "ix_webhook_events_status_id",
        "type": "ix_webhook_events_type_id",
        "user": "ix_webhook_events_user_id_id",
        "no filter, deep page": "webhook_events_pkey",
    }
    for name, plan in plans.items():
        print(f"--- {name}\n{plan}")
        assert "Seq Scan" not in plan, f"{name}: {plan}"
        assert "Sort" not in plan, f"{name}: {plan}"  # rows come out of the index in page order
        assert re.search(rf"Index (Only )?Scan( Backward)? using {expected[name]}", plan), f"{name}: {plan}"
