"""Headless Chromium opens the dashboard over seeded data, saves a screenshot and checks that
the charts are drawn (visible elements of nonzero size)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.admin.conftest import ADMIN_EMAIL, PASSWORD, add_admin, add_customer, add_plan

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.browser


def seed_history(app):
    """A year of a small business: customers joining month by month, a few leaving, a failed
    renewal, and a paid invoice per customer per month."""
    from saas.billing.models import Invoice
    from saas.extensions import db
    from saas.timefmt import utcnow

    now = utcnow()
    with app.app_context():
        add_plan()
        n = 0
        for month in range(12):
            for k in range(1 + month // 2):
                n += 1
                started = (11 - month) * 30 + 3 * k + 1
                status = "active"
                if n % 9 == 0:
                    status = "canceled"
                elif n % 7 == 0:
                    status = "past_due"
                elif n % 11 == 0:
                    status = "trialing"
                user = add_customer(f"c{n}@example.com", n, status=status, started_days_ago=started,
                                    ended_days_ago=max(started // 3, 1) if status == "canceled" else None,
                                    invoice_status="open" if status == "past_due" else "paid",
                                    payment_problem="payment_failed" if status == "past_due" else None,
                                    event_status="failed" if n % 13 == 0 else "processed")
                for back in range(1, started // 30):
                    db.session.add(Invoice(user_id=user.id, stripe_id=f"in_hist{n}_{back}",
                                           stripe_customer_id=user.stripe_customer_id, status="paid",
                                           amount_due=1200, amount_paid=1200, amount_remaining=0, currency="usd",
                                           stripe_created=now - timedelta(days=30 * back),
                                           paid_at=now - timedelta(days=30 * back)))
        add_admin()
        db.session.commit()


def test_dashboard_charts_render_in_chromium(live, browser_page):
    page = browser_page
    seed_history(live.app)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "admin-dashboard.png"
    page.goto(live.url + "/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(live.url + "/admin")
    assert page.title() == "Admin · Dashboard · saas"
    page.screenshot(path=str(shot), full_page=True)
    for chart in ("#chart-mrr", "#chart-revenue", "#chart-status"):
        box = page.locator(chart).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80, (chart, box)
        assert page.locator(chart).is_visible()
    # The drawn marks themselves, not just empty frames.
    line = page.locator("#chart-mrr polyline.line").bounding_box()
    assert line and line["width"] > 100 and line["height"] > 10, line
    bars = page.locator("#chart-revenue rect.bar-a")
    assert bars.count() >= 10
    assert all((bars.nth(i).bounding_box() or {}).get("height", 0) > 0 for i in range(bars.count()))
    slices = page.locator("#chart-status circle[stroke-dasharray]")
    assert slices.count() >= 3
    assert all((slices.nth(i).bounding_box() or {}).get("width", 0) > 0 for i in range(slices.count()))
    assert not [e for e in page.js_errors if "Content Security Policy" in e], page.js_errors
    assert shot.stat().st_size > 10_000
