"""Admin orders: the list (filters, keyset pages, query plans), the dashboard's store figures,
flagged orders, and the refund action's validation (refunds end to end: test_refund_e2e.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from tests.admin.conftest import ADMIN_EMAIL, add_admin, login
from tests.admin.test_lists import explain, row_ids
from tests.conftest import csrf_from


def add_user(email):
    from saas.accounts.models import User
    from saas.extensions import db

    user = User(email=email, password_hash="x")
    db.session.add(user)
    db.session.flush()
    return user


def add_order(user_id, n, *, status="paid", total=3400, days_ago=1, refunded=0, review=None, currency="usd"):
    """An order as the store's webhooks leave it, counted in the daily revenue rollup by the
    store's own code."""
    from saas.extensions import db
    from saas.store import services
    from saas.store.models import Order, OrderLine
    from saas.timefmt import utcnow

    placed = utcnow() - timedelta(days=days_ago)
    order = Order(user_id=user_id, status="pending", currency=currency, total_amount=total, amount_refunded=0,
                  checkout_token=f"ct_{n}", stripe_payment_intent_id=f"pi_order{n}", created_at=placed,
                  review_reason=review)
    order.lines.append(OrderLine(product_name=f"Thing {n}", unit_amount=total, quantity=1))
    db.session.add(order)
    db.session.flush()
    if status in ("paid", "refunded"):
        # What mark_paid does, with the payment dated in the past.
        order.status, order.paid_at = "paid", placed
        db.session.flush()
        services._count_revenue(order, orders=1, paid=total)
        if refunded:
            services.apply_refunded_amount(order, refunded)
    elif status != "pending":
        order.status = status
    db.session.flush()
    return order


@pytest.fixture
def admin(app, make_client):
    with app.app_context():
        from saas.extensions import db

        add_admin()
        db.session.commit()
    c, _ = login(make_client, ADMIN_EMAIL)
    return c


def test_orders_list_filters_and_pages(app, admin):
    from saas.extensions import db

    with app.app_context():
        a, b = add_user("ann@example.com"), add_user("ben@example.com")
        add_order(a.id, 1, days_ago=40)                       # 1 -> order id 1
        add_order(b.id, 2, status="failed", days_ago=20)     # 2
        add_order(a.id, 3, status="refunded", refunded=3400, days_ago=10)  # 3
        add_order(b.id, 4, days_ago=5)                       # 4
        add_order(a.id, 5, status="pending", days_ago=0, review="Stripe reports 100 usd received")  # 5
        db.session.commit()
    from saas.timefmt import utcnow

    today = utcnow().date()
    assert row_ids(admin.get("/admin/orders").get_data(as_text=True)) == [5, 4, 3, 2, 1]
    assert row_ids(admin.get("/admin/orders?status=paid").get_data(as_text=True)) == [4, 1]
    assert row_ids(admin.get("/admin/orders?email=ANN@example.com").get_data(as_text=True)) == [5, 3, 1]
    window = f"from={today - timedelta(days=21)}&to={today - timedelta(days=5)}"
    assert row_ids(admin.get(f"/admin/orders?{window}").get_data(as_text=True)) == [4, 3, 2]
    assert row_ids(admin.get(f"/admin/orders?{window}&email=ben@example.com").get_data(as_text=True)) == [4, 2]
    assert row_ids(admin.get(f"/admin/orders?{window}&status=failed").get_data(as_text=True)) == [2]
    page = admin.get("/admin/orders").get_data(as_text=True)
    assert "Stripe reports 100 usd received" in page and "review" in page
    # Only the paid order with money left to refund offers the refund.
    assert re.findall(r'/admin/orders/(\d+)/refund', page) == ["4", "1"]
    r = admin.get("/admin/orders?status=shipped")
    assert r.status_code == 400 and "Unknown status" in r.get_data(as_text=True)


def test_date_filtered_pages_walk_older_and_newer(app, admin):
    """A date filter pages by (placed, id): walk 120 orders in a range, both directions."""
    from saas.extensions import db

    with app.app_context():
        user = add_user("bulk@example.com")
        db.session.commit()
        db.session.execute(text("""
            INSERT INTO orders (user_id, status, currency, total_amount, amount_refunded, checkout_token, created_at, updated_at)
            SELECT :u, 'pending', 'usd', 100, 0, 'ct_' || g, now() - (200 - g) * interval '1 hour', now()
            FROM generate_series(1, 200) g"""), {"u": user.id})
        db.session.commit()
        placed = dict(db.session.execute(text("SELECT id, created_at FROM orders")).all())
    start = min(placed.values()).date() + timedelta(days=1)
    end = start + timedelta(days=4)
    wanted = sorted((i for i, t in placed.items() if start <= t.date() <= end), reverse=True)
    assert len(wanted) > 100
    url = f"/admin/orders?from={start}&to={end}"
    seen, pages, html = [], 0, admin.get(url).get_data(as_text=True)
    while True:
        seen += row_ids(html)
        pages += 1
        link = re.search(r'href="(/admin/orders\?[^"]*before=\d+[^"]*)"', html)
        if not link:
            break
        assert f"from={start}" in link.group(1)
        html = admin.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert seen == wanted and pages == -(-len(wanted) // 50)
    newer = re.search(r'href="(/admin/orders\?[^"]*after=\d+[^"]*)"', html).group(1).replace("&amp;", "&")
    assert row_ids(admin.get(newer).get_data(as_text=True)) == wanted[(pages - 2) * 50:(pages - 1) * 50]


def test_order_query_plans_use_the_matching_indexes(app):
    """60,000 orders over 600 days, 2% failed, one customer with 1 in 20: every page query of the
    orders list is an index range scan in page order (no sequential scan, no sort)."""
    from saas.admin import queries
    from saas.admin.views import ORDERS
    from saas.extensions import db

    with app.app_context():
        add_user("busy@example.com")
        add_user("other@example.com")
        db.session.commit()
        db.session.execute(text("""
            INSERT INTO orders (user_id, status, currency, total_amount, amount_refunded, checkout_token,
                                created_at, updated_at, paid_at)
            SELECT CASE WHEN g % 20 = 0 THEN 1 ELSE 2 END,
                   CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'paid' END, 'usd', 1000, 0, 'ct_' || g,
                   now() - (60000 - g) * interval '864 seconds', now(), now() - (60000 - g) * interval '864 seconds'
            FROM generate_series(1, 60000) g"""))
        db.session.execute(text("ANALYZE orders"))
        db.session.commit()
    F = queries.Filters
    day = date.today() - timedelta(days=300)  # (any day well inside the 600)
    with app.app_context():
        cursor_date = db.session.execute(text("SELECT created_at FROM orders WHERE id = 20000")).scalar()
    plans = {
        "status": (explain(app, queries.keyset_select(ORDERS, F(status="failed"), None, 50)), "ix_orders_status_id"),
        "status, deep page": (explain(app, queries.keyset_select(ORDERS, F(status="failed", before=30_000), None, 50)),
                              "ix_orders_status_id"),
        "user": (explain(app, queries.keyset_select(ORDERS, F(), 1, 50)), "ix_orders_user_id_id"),
        "date range": (explain(app, queries.keyset_select(ORDERS, F(date_from=day, date_to=day + timedelta(days=7)),
                                                          None, 50)), "ix_orders_created_at_id"),
        "date range, deep page": (explain(app, queries.keyset_select(
            ORDERS, F(date_from=day - timedelta(days=100), date_to=day, before=20_000), None, 50, cursor_date)),
            "ix_orders_created_at_id"),
        "no filter, deep page": (explain(app, queries.keyset_select(ORDERS, F(before=12_345), None, 50)), "orders_pkey"),
    }
    for name, (plan, index) in plans.items():
        print(f"--- {name}\n{plan}")
        assert "Seq Scan" not in plan, f"{name}: {plan}"
        assert "Sort" not in plan, f"{name}: {plan}"
        assert re.search(rf"Index (Only )?Scan( Backward)? using {index}", plan), f"{name}: {plan}"
    # The dashboard's flagged-orders figures read the partial index of flagged orders only.
    from saas.admin import store_bridge

    with app.app_context():
        stmt = select(store_bridge.Order).where(store_bridge.Order.review_reason.is_not(None)) \
            .order_by(store_bridge.Order.id.desc()).limit(5)
    plan = explain(app, stmt)
    assert "ix_orders_flagged_id" in plan and "Seq Scan" not in plan, plan


def test_dashboard_store_figures(app, admin):
    """Store revenue for the last 30 days is net of refunds and leaves out older orders; the
    revenue chart has this month's store takings; flagged orders are counted and listed."""
    from saas.extensions import db

    with app.app_context():
        a = add_user("ann@example.com")
        add_order(a.id, 1, total=3400, days_ago=3)
        add_order(a.id, 2, total=2000, days_ago=10, refunded=500)            # partial refund
        add_order(a.id, 3, total=1000, status="refunded", refunded=1000, days_ago=2)
        add_order(a.id, 4, total=9900, days_ago=45)                          # too old for 30 days
        add_order(a.id, 5, total=700, status="failed", days_ago=1)
        add_order(a.id, 6, total=4200, status="pending", review="Stripe reports 4000 usd received for pi_x")
        db.session.commit()
    html = admin.get("/admin").get_data(as_text=True)
    stat = lambda name: re.sub(r"\s+", " ", re.search(rf'id="stat-{name}">(.*?)</', html, re.S).group(1)).strip()
    assert stat("store-revenue") == "$49.00"      # 34 + (20 - 5) + (10 - 10)
    assert stat("orders") == "3"                  # paid in the last 30 days (a refunded one included)
    assert stat("flagged-orders") == "1"
    flagged = html.split('id="flagged-orders"', 1)[1].split("</table>", 1)[0]
    assert "#6" in flagged and "Stripe reports 4000 usd received for pi_x" in flagged and "ann@example.com" in flagged
    recent = html.split('id="recent-orders"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td>#(\d+)</td>", recent) == ["6", "5", "4", "3", "2"]
    # The rollup the dashboard reads agrees with the orders themselves.
    with app.app_context():
        from saas.admin import store_bridge
        from saas.timefmt import utcnow

        by_orders = db.session.execute(text(
            "SELECT sum(total_amount - amount_refunded) FROM orders WHERE paid_at >= now() - interval '29 days'")).scalar()
        assert store_bridge.revenue_since(utcnow().date() - timedelta(days=29)) == {"usd": int(by_orders)} == {"usd": 4900}


def test_flagged_order_on_the_user_timeline(app, admin):
    from saas.extensions import db

    with app.app_context():
        a = add_user("ann@example.com")
        add_order(a.id, 1, status="pending", review="Stripe reports 1 usd received")
        db.session.commit()
        user_id = a.id
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "Order #1 flagged for review" in page and "Stripe reports 1 usd received" in page


def refund_form(admin, order_id):
    page = admin.get(f"/admin/orders/{order_id}/refund")
    return page, page.get_data(as_text=True)


@pytest.mark.parametrize("amount, message", [
    ("34.01", "$34.01 is more than the $34.00 that can still be refunded on this order."),
    ("0", "A refund must be more than $0.00."),
    ("0.00", "A refund must be more than $0.00."),
    ("-5", "A refund cannot be negative."),
    ("1.234", "has too many decimals for USD."),
    ("ten dollars", "Enter an amount like $12.50, or leave it empty to refund the rest."),
    ("Infinity", "Enter an amount like $12.50"),
    ("NaN", "Enter an amount like $12.50"),
])
def test_bad_refund_amounts_are_refused_and_change_nothing(app, admin, amount, message):
    from saas.admin.models import AdminAction
    from saas.extensions import db

    with app.app_context():
        a = add_user("ann@example.com")
        add_order(a.id, 1, total=3400)
        db.session.commit()
        before = db.session.execute(text("SELECT to_jsonb(o)::text FROM orders o")).scalars().all()
    _, html = refund_form(admin, 1)
    assert "Up to <span id=\"refundable\">$34.00</span> can be refunded." in html
    r = admin.post("/admin/orders/1/refund", data={"csrf_token": csrf_from(html), "confirm": "yes", "amount": amount,
                                                   "nonce": "n1"})
    assert r.status_code == 422
    assert message in r.get_data(as_text=True).replace("&#39;", "'")
    with app.app_context():
        assert db.session.execute(text("SELECT to_jsonb(o)::text FROM orders o")).scalars().all() == before
        assert db.session.execute(select(AdminAction)).first() is None


def test_after_a_partial_refund_only_the_rest_can_be_refunded(app, admin):
    from saas.extensions import db

    with app.app_context():
        a = add_user("ann@example.com")
        add_order(a.id, 1, total=3400, refunded=900)
        db.session.commit()
    _, html = refund_form(admin, 1)
    assert "$9.00 already refunded" in html and '<span id="refundable">$25.00</span>' in html
    r = admin.post("/admin/orders/1/refund", data={"csrf_token": csrf_from(html), "confirm": "yes", "amount": "25.01",
                                                   "nonce": "n1"})
    assert r.status_code == 422 and "$25.01 is more than the $25.00" in r.get_data(as_text=True)


@pytest.mark.parametrize("status, message", [
    ("pending", "Only paid orders can be refunded; order #1 is pending."),
    ("failed", "Only paid orders can be refunded; order #1 is failed."),
    ("refunded", "Order #1 is already refunded in full."),
])
def test_unpaid_or_refunded_orders_cannot_be_refunded(app, admin, status, message):
    from saas.admin.models import AdminAction
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        a = add_user("ann@example.com")
        add_order(a.id, 1, status=status, refunded=3400 if status == "refunded" else 0)
        db.session.commit()
    r, html = refund_form(admin, 1)
    assert r.status_code == 200 and message in html and 'name="confirm"' not in html
    r = admin.post("/admin/orders/1/refund", data={"csrf_token": csrf_from(admin.get("/admin").get_data(as_text=True)),
                                                   "confirm": "yes", "nonce": "n1"})
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    with app.app_context():
        order = db.session.get(Order, 1)
        assert order.status == status and order.amount_refunded == (3400 if status == "refunded" else 0)
        assert db.session.execute(select(AdminAction)).first() is None


def test_refund_needs_confirmation(app, admin):
    from saas.extensions import db

    with app.app_context():
        add_order(add_user("ann@example.com").id, 1)
        db.session.commit()
    _, html = refund_form(admin, 1)
    r = admin.post("/admin/orders/1/refund", data={"csrf_token": csrf_from(html), "amount": "1", "nonce": "n1"})
    assert r.status_code == 422 and "Nothing was done: confirm the refund" in r.get_data(as_text=True)
    assert admin.get("/admin/orders/99/refund").status_code == 404
