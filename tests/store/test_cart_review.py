"""Checkout buys exactly the cart the shopper reviewed, and concurrent cart edits never 500.

The checkout form's token fingerprints the cart as the page showed it (items, quantities,
prices): if another tab adds, changes or removes anything before the form is submitted, the
checkout is refused with a clear message and nothing changes. Cart edits lock the cart row, so
an edit racing a removal of the same item ends in "that item is no longer in your cart".
"""

from __future__ import annotations

import re
import threading

import pytest
import requests
from sqlalchemy import select, text

from tests.conftest import csrf_from, wait_for
from tests.store.conftest import add, checkout, checkout_token

CHANGED = "Your cart changed in another window; please review it"


def _orders(app):
    from saas.extensions import db
    from saas.store.models import Order

    with app.app_context():
        return [(o.total_amount, [(l.product_name, l.quantity) for l in o.lines])
                for o in db.session.execute(select(Order).order_by(Order.id)).scalars()]


def _cart(app):
    from saas.extensions import db
    from saas.store.models import CartItem

    with app.app_context():
        return sorted((i.product_name, i.quantity) for i in db.session.execute(select(CartItem)).scalars())


def _item_ids(client):
    return [int(i) for i in re.findall(r"/cart/items/(\d+)/remove", client.get("/cart").get_data(as_text=True))]


def _reviewed_form(client):
    """What the shopper's first tab holds: the cart page's CSRF and checkout tokens."""
    html = client.get("/cart").get_data(as_text=True)
    return {"csrf_token": csrf_from(html), "checkout_token": checkout_token(client)}


@pytest.fixture
def shopper(auth, client, products):
    auth.signup()
    add(client, products["stickers"], "1")
    return client


def _change_quantity(client, products):
    [item_id] = _item_ids(client)
    token = csrf_from(client.get("/cart").get_data(as_text=True))
    assert client.post(f"/cart/items/{item_id}", data={"csrf_token": token, "quantity": "7"}).status_code == 302


def _remove_and_add_other(client, products):
    [item_id] = _item_ids(client)
    token = csrf_from(client.get("/cart").get_data(as_text=True))
    add(client, products["tee"], "1")
    assert client.post(f"/cart/items/{item_id}/remove", data={"csrf_token": token}).status_code == 302


def _reprice(app, products):
    from saas.extensions import db
    from saas.store.models import Product

    with app.app_context():
        db.session.get(Product, products["stickers"]).unit_amount = 90000
        db.session.commit()


@pytest.mark.parametrize("other_tab", ["add", "quantity", "remove", "price"])
def test_checkout_of_a_cart_that_changed_since_review_is_refused(app, shopper, products, sandbox, other_tab):
    form = _reviewed_form(shopper)
    assert "$5.00" in shopper.get("/cart").get_data(as_text=True)
    if other_tab == "add":
        add(shopper, products["mug"], "99")
    elif other_tab == "quantity":
        _change_quantity(shopper, products)
    elif other_tab == "remove":
        _remove_and_add_other(shopper, products)
    else:
        _reprice(app, products)
    cart_before = _cart(app)
    r = shopper.post("/checkout", data=form)
    assert r.status_code == 302 and r.headers["Location"].endswith("/cart")
    assert CHANGED in shopper.get("/cart").get_data(as_text=True)
    assert _orders(app) == [] and sandbox.sandbox.store.all("payment_intent") == []
    assert _cart(app) == cart_before
    # Reviewing the cart again gives a form that buys what it now shows.
    r = checkout(shopper)
    assert r.status_code == 303 and "/pay" in r.headers["Location"]
    [(total, lines)] = _orders(app)
    assert sorted(lines) == cart_before


def test_unchanged_cart_checks_out_and_a_double_submit_finds_the_same_order(app, shopper, sandbox):
    form = _reviewed_form(shopper)
    first = shopper.post("/checkout", data=form)
    second = shopper.post("/checkout", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _orders(app) == [(500, [("Sticker Pack", 1)])]


def test_a_forged_or_truncated_checkout_token_is_refused(app, shopper, sandbox):
    form = _reviewed_form(shopper)
    base = form["checkout_token"].split(".")[0]
    for forged in (base, base + ".", base + ".0000", "x" + form["checkout_token"]):
        r = shopper.post("/checkout", data=dict(form, checkout_token=forged))
        assert r.headers["Location"].endswith("/cart")
    assert _orders(app) == []


# --- concurrent edits ------------------------------------------------------------------------

def _waiting_on_a_lock(app) -> bool:
    from saas.extensions import db

    with app.app_context():
        return bool(db.session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar())


@pytest.mark.parametrize("edit", ["quantity", "remove", "add"])
def test_edit_racing_a_removal_of_the_same_item_is_a_clear_message(app, shopper, products, edit):
    """Another request deletes the item while this edit is under way (it holds the cart row, as
    a remove does, and commits once the edit is waiting): the edit must not 500."""
    from saas.extensions import db
    from saas.store.models import Cart, CartItem

    [item_id] = _item_ids(shopper)
    token = csrf_from(shopper.get("/cart").get_data(as_text=True))
    out = []

    def do_edit():
        if edit == "quantity":
            r = shopper.post(f"/cart/items/{item_id}", data={"csrf_token": token, "quantity": "4"})
        elif edit == "remove":
            r = shopper.post(f"/cart/items/{item_id}/remove", data={"csrf_token": token})
        else:
            r = shopper.post("/cart/add", data={"csrf_token": token, "product_id": str(products["stickers"]),
                                                "quantity": "2"})
        out.append(r.status_code)

    with app.app_context():
        cart = db.session.execute(select(Cart).with_for_update()).scalar_one()
        db.session.execute(CartItem.__table__.delete().where(CartItem.id == item_id))
        thread = threading.Thread(target=do_edit)
        thread.start()
        wait_for(lambda: _waiting_on_a_lock(app), timeout=10, message="the edit to wait for the cart lock")
        assert cart is not None
        db.session.commit()
    thread.join(15)
    assert out == [302]
    page = shopper.get("/cart").get_data(as_text=True)
    if edit == "add":
        assert _cart(app) == [("Sticker Pack", 2)]
    else:
        assert "That item is no longer in your cart." in page
        assert _cart(app) == []


def test_concurrent_quantity_updates_and_removes_over_http_never_500(live):
    from tests.store.conftest import make_products

    ids = make_products(live.app)
    s = requests.Session()
    token = csrf_from(s.get(live.url + "/signup").text)
    s.post(live.url + "/signup", data={"csrf_token": token, "email": "race@example.com",
                                       "password": "correct horse battery", "confirm": "correct horse battery"})
    statuses = []
    for _ in range(15):
        html = s.get(live.url + "/cart").text
        token = csrf_from(html)
        if not re.findall(r"/cart/items/(\d+)/remove", html):
            s.post(live.url + "/cart/add", data={"csrf_token": token, "product_id": ids["mug"], "quantity": "1"})
            html = s.get(live.url + "/cart").text
        [iid] = re.findall(r"/cart/items/(\d+)/remove", html)
        barrier = threading.Barrier(3)

        def post(path, data):
            barrier.wait()
            statuses.append(s.post(live.url + path, data=dict(data, csrf_token=token),
                                   allow_redirects=False).status_code)

        threads = [threading.Thread(target=post, args=(f"/cart/items/{iid}", {"quantity": q})) for q in ("3", "4")]
        threads.append(threading.Thread(target=post, args=(f"/cart/items/{iid}/remove", {})))
        [t.start() for t in threads]
        [t.join(20) for t in threads]
    assert len(statuses) == 45 and set(statuses) == {302}, statuses
