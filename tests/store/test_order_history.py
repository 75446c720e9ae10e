"""Customer order history pages by keyset on id, newest first, and never shows another's orders."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.admin.test_lists import explain


def seed(app, user_id, n, first_token=0):
    from saas.extensions import db

    with app.app_context():
        db.session.execute(text("""
            INSERT INTO orders (user_id, status, currency, total_amount, amount_refunded, checkout_token, created_at, updated_at)
            SELECT :u, 'pending', 'usd', 100 * g, 0, 'ct_' || (:t + g), now(), now() FROM generate_series(1, :n) g"""),
            {"u": user_id, "n": n, "t": first_token})
        db.session.commit()


def ids(html):
    return [int(x) for x in re.findall(r'data-order="(\d+)"', html)]


def test_history_pages_newest_first(app, auth, make_client):
    from saas.accounts.models import User
    from saas.extensions import db

    auth.signup("ann@example.com")
    other, other_auth = make_client()
    other_auth.signup("ben@example.com")
    with app.app_context():
        ann, ben = (db.session.execute(db.select(User.id).where(User.email == e)).scalar_one()
                    for e in ("ann@example.com", "ben@example.com"))
    seed(app, ann, 30)            # ids 1..30
    seed(app, ben, 5, 1000)       # ids 31..35
    seed(app, ann, 15, 2000)      # ids 36..50
    c = auth.client
    mine = list(range(50, 35, -1)) + list(range(30, 0, -1))
    first = c.get("/orders").get_data(as_text=True)
    assert ids(first) == mine[:20] and 'id="newer"' not in first
    second = c.get(re.search(r'id="older" href="([^"]+)"', first).group(1)).get_data(as_text=True)
    assert ids(second) == mine[20:40]
    third = c.get(re.search(r'id="older" href="([^"]+)"', second).group(1)).get_data(as_text=True)
    assert ids(third) == mine[40:] and 'id="older"' not in third
    back = c.get(re.search(r'id="newer" href="([^"]+)"', third).group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert ids(back) == mine[20:40]
    assert ids(other.get("/orders").get_data(as_text=True)) == [35, 34, 33, 32, 31]
    assert "No more orders." in c.get("/orders?before=1").get_data(as_text=True)
    r = c.get("/orders?before=abc")
    assert r.status_code == 302 and c.get(r.headers["Location"]).status_code == 200


def test_history_query_is_an_index_range_scan(app):
    from saas.accounts.models import User
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        db.session.add_all([User(email="a@example.com", password_hash="x"), User(email="b@example.com", password_hash="x")])
        db.session.commit()
    seed(app, 2, 50_000)
    seed(app, 1, 200, 100_000)
    with app.app_context():
        db.session.execute(text("ANALYZE orders"))
        db.session.commit()
        stmt = db.select(Order).where(Order.user_id == 1, Order.id < 50_100).order_by(Order.id.desc()).limit(21)
    plan = explain(app, stmt)
    assert "ix_orders_user_id_id" in plan and "Seq Scan" not in plan and "Sort" not in plan, plan
