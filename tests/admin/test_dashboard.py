"""Dashboard figures: MRR normalised to a month from active and past_due plans only."""

from __future__ import annotations

import re

from tests.admin.conftest import ADMIN_EMAIL, add_admin, add_customer, add_plan, login


def test_dashboard_figures(app, make_client):
    from saas.extensions import db

    with app.app_context():
        add_plan()  # $12.00 / month
        add_plan(code="pro-yearly", price_id="price_seed_year", amount=12000, interval="year")  # $10.00 / month
        add_customer("a@example.com", 1, status="active")
        add_customer("b@example.com", 2, status="past_due", invoice_status="open", payment_problem="payment_failed",
                     event_status="failed")
        add_customer("c@example.com", 3, status="active", price_id="price_seed_year")
        add_customer("d@example.com", 4, status="canceled", ended_days_ago=5)
        add_customer("e@example.com", 5, status="trialing")
        add_customer("f@example.com", 6, status="active", price_id="price_not_ours")  # not a plan we sell
        add_admin()
        db.session.commit()
        from saas.billing.models import Subscription

        db.session.execute(db.update(Subscription).where(Subscription.stripe_price_id == "price_not_ours")
                           .values(unknown_price=True))
        db.session.commit()
    c, _ = login(make_client, ADMIN_EMAIL)
    html = c.get("/admin").get_data(as_text=True)
    # The whole title, nothing of the page spilled into it.
    assert "<title>Admin · Dashboard · saas</title>" in html
    stat = lambda name: re.sub(r"\s+", " ", re.search(rf'id="stat-{name}">(.*?)</div>', html, re.S).group(1)).strip()
    assert stat("mrr") == "$34.00"           # 12 + 12 (past_due) + 120/12
    assert stat("active") == "4"             # active 3 (incl. unknown price) + trialing 1
    assert stat("failed-payments") == "1"
    assert stat("failed-events") == "1"
    for chart in ("chart-mrr", "chart-revenue", "chart-status"):
        assert f'<svg class="chart" id="{chart}"' in html
    assert "<script" not in html.split("<main", 1)[1]
    assert "<title>past_due: 1</title>" in html and "<title>active: 3</title>" in html  # donut slices
