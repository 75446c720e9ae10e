"""The admin's refund, end to end over HTTP: a shopper pays an order on the sandbox, the admin
refunds it through the confirmation page, Stripe (the sandbox) sends charge.refunded to our
intake, the worker applies it, and the order, the dashboard and the audit log all show it."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from tests.admin.conftest import ADMIN_EMAIL, PASSWORD, add_admin
from tests.conftest import csrf_from, wait_for
from tests.store.test_e2e import pay, place_order, shopper, wait_status

pytestmark = pytest.mark.e2e


def admin_session(live) -> requests.Session:
    from saas.extensions import db

    with live.app.app_context():
        add_admin()
        db.session.commit()
    s = requests.Session()
    r = s.post(live.url + "/login", data={"csrf_token": csrf_from(s.get(live.url + "/login").text),
                                         "email": ADMIN_EMAIL, "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 302
    return s


def order_row(live, order_id):
    from saas.extensions import db
    from saas.store.models import Order

    with live.app.app_context():
        o = db.session.get(Order, order_id)
        return o.status, o.amount_refunded


def refund_through_the_console(live, admin, order_id, amount: str):
    url = f"{live.url}/admin/orders/{order_id}/refund"
    form = admin.get(url).text
    assert 'name="confirm" value="yes"' in form
    nonce = re.search(r'name="nonce" value="([^"]+)"', form).group(1)
    data = {"csrf_token": csrf_from(form), "confirm": "yes", "amount": amount, "nonce": nonce}
    r = admin.post(url, data=data, allow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    return r, data


@pytest.mark.parametrize("amount, final, refunded, shown", [
    ("", "refunded", 3400, "refund in full ($34.00) of order"),
    ("9.00", "paid", 900, "refund of $9.00 of order"),
])
def test_admin_refund_end_to_end(live, amount, final, refunded, shown):
    from saas.admin.models import AdminAction
    from saas.extensions import db

    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    pay(live, s, pay_url, "ok", order_id)
    wait_status(live, s, order_id, "paid")
    admin = admin_session(live)
    dash = admin.get(live.url + "/admin").text
    assert re.search(r'id="stat-store-revenue">\$34\.00<', dash)

    r, data = refund_through_the_console(live, admin, order_id, amount)
    user_url = live.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
    page = admin.get(user_url).text  # the customer's admin page, with the outcome
    assert "Refund requested: " + shown in page and "accepted by Stripe (re_" in page
    # Stripe's charge.refunded webhook, through our intake and worker, updates the order.
    wait_status(live, s, order_id, final, amount_refunded=refunded)
    assert order_row(live, order_id) == (final, refunded)
    # A second submit of the same form (a double click) is the same Stripe refund, not another.
    r2 = admin.post(f"{live.url}/admin/orders/{order_id}/refund", data=data, allow_redirects=False)
    if final == "refunded":
        assert r2.status_code == 422 and f"Order #{order_id} is already refunded in full." in r2.text
    else:
        assert r2.status_code == 303
        wait_for(lambda: len(_actions(live)) == 2, message="the second submit to be recorded")
        assert order_row(live, order_id) == (final, refunded)
    # Recorded: who, what, outcome.
    log = _actions(live)
    assert log[0][:4] == (ADMIN_EMAIL, "refund_order", str(order_id), "ok")
    assert log[0][4] == {"amount": None if not amount else refunded}
    # The dashboard's store revenue is net of the refund; the customer sees the refund too.
    dash = admin.get(live.url + "/admin").text
    net = f"${(3400 - refunded) / 100:.2f}"
    assert re.search(rf'id="stat-store-revenue">{re.escape(net)}<', dash), net
    user_page = admin.get(user_url).text
    assert "Admin: refund order" in user_page
    orders = s.get(live.url + "/orders").text
    if final == "paid":
        assert "$9.00 refunded" in orders
    with live.app.app_context():
        assert db.session.execute(select(AdminAction.outcome)).scalars().all() == ["ok"] * len(log)


def _actions(live):
    from saas.admin.models import AdminAction
    from saas.extensions import db

    with live.app.app_context():
        rows = db.session.execute(select(AdminAction).order_by(AdminAction.id)).scalars().all()
        return [(a.admin_email, a.action, a.target_id, a.outcome, a.params) for a in rows]


def test_refunding_more_than_is_left_after_a_partial_refund(live):
    """Two partial refunds, then one too many: refused with the amount left, Stripe not asked."""
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    pay(live, s, pay_url, "ok", order_id)
    wait_status(live, s, order_id, "paid")
    admin = admin_session(live)
    refund_through_the_console(live, admin, order_id, "20.00")
    wait_status(live, s, order_id, "paid", amount_refunded=2000)
    url = f"{live.url}/admin/orders/{order_id}/refund"
    form = admin.get(url).text
    assert '<span id="refundable">$14.00</span>' in form
    r = admin.post(url, data={"csrf_token": csrf_from(form), "confirm": "yes", "amount": "14.01",
                              "nonce": re.search(r'name="nonce" value="([^"]+)"', form).group(1)})
    assert r.status_code == 422 and "$14.01 is more than the $14.00 that can still be refunded" in r.text
    refund_through_the_console(live, admin, order_id, "14.00")
    wait_status(live, s, order_id, "refunded", amount_refunded=3400)
    assert [a[3] for a in _actions(live)] == ["ok", "ok"]
