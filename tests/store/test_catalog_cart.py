"""Catalog pages, money formatting, the PostgreSQL cart, quantity validation and the merge at login."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tests.store.conftest import add, make_products


def _cart_rows(app):
    from saas.extensions import db
    from saas.store.models import CartItem

    with app.app_context():
        return sorted((i.product_name, i.quantity) for i in db.session.execute(select(CartItem)).scalars())


def test_catalog_lists_active_products_in_store_currency(app, client, products):
    from saas.extensions import db
    from saas.store.models import Product

    with app.app_context():
        db.session.add(Product(slug="old", name="Retired Thing", unit_amount=100, currency="usd", active=False))
        db.session.add(Product(slug="euro", name="Euro Only", unit_amount=100, currency="eur"))
        db.session.commit()
    html = client.get("/store").get_data(as_text=True)
    assert "Enamel Mug" in html and "$24.00" in html and "$5.00" in html
    assert "Retired Thing" not in html and "Euro Only" not in html
    page = client.get("/store/mug")
    assert page.status_code == 200 and 'id="price">$24.00' in page.get_data(as_text=True)
    assert client.get("/store/old").status_code == 404
    assert client.get("/store/nope").status_code == 404


def test_zero_decimal_store_currency(app_config, request):
    app_config["STORE_CURRENCY"] = "jpy"
    app = request.getfixturevalue("app")
    make_products(app, "jpy")
    html = app.test_client().get("/store").get_data(as_text=True)
    # 500 minor units of JPY is ¥500, not ¥5.00
    assert "¥500" in html and "¥2,400" in html and "¥5.00" not in html


def test_money_filter():
    from saas.money import format_money

    assert format_money(500, "jpy") == "¥500"
    assert format_money(500, "usd") == "$5.00"


def test_add_change_remove(app, client, products):
    r = add(client, products["mug"], "2")
    assert r.status_code == 302 and r.headers["Location"].endswith("/cart")
    add(client, products["tee"], "1")
    add(client, products["mug"], "3")
    assert _cart_rows(app) == [("Enamel Mug", 5), ("Organic Tee", 1)]
    html = client.get("/cart").get_data(as_text=True)
    assert 'id="cart-total">$148.00' in html  # 5 × 24 + 28

    from saas.extensions import db
    from saas.store.models import CartItem

    with app.app_context():
        mug_item = db.session.execute(select(CartItem.id).where(CartItem.product_id == products["mug"])).scalar()
    token = csrf_from(html)
    assert client.post(f"/cart/items/{mug_item}", data={"csrf_token": token, "quantity": "7"}).status_code == 302
    assert _cart_rows(app) == [("Enamel Mug", 7), ("Organic Tee", 1)]
    assert client.post(f"/cart/items/{mug_item}/remove", data={"csrf_token": token}).status_code == 302
    assert _cart_rows(app) == [("Organic Tee", 1)]


@pytest.mark.parametrize("quantity", ["0", "-1", "100", "1.5", "abc", "", " ", "1e2", "²", "+3"])
def test_bad_quantities_are_form_errors_and_change_nothing(app, client, products, quantity):
    add(client, products["mug"], "2")
    r = add(client, products["mug"], quantity)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Quantity must be a whole number from 1 to 99." in html or "Enter a quantity." in html
    assert _cart_rows(app) == [("Enamel Mug", 2)]


def test_bad_quantity_on_update_changes_nothing(app, client, products):
    from saas.extensions import db
    from saas.store.models import CartItem

    add(client, products["mug"], "2")
    with app.app_context():
        item_id = db.session.execute(select(CartItem.id)).scalar()
    token = csrf_from(client.get("/cart").get_data(as_text=True))
    r = client.post(f"/cart/items/{item_id}", data={"csrf_token": token, "quantity": "-4"})
    assert r.status_code == 422 and "whole number from 1 to 99" in r.get_data(as_text=True)
    assert _cart_rows(app) == [("Enamel Mug", 2)]


def test_quantity_cap_when_adding_up(app, client, products):
    add(client, products["mug"], "98")
    add(client, products["mug"], "2")
    assert _cart_rows(app) == [("Enamel Mug", 98)]
    assert "at most 99" in client.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize("field,value", [("price", "1"), ("unit_amount", "1"), ("amount", "0"), ("currency", "jpy")])
def test_add_naming_its_own_price_is_refused(app, client, products, field, value):
    r = add(client, products["mug"], "1", **{field: value})
    assert r.status_code == 400
    assert "set by the store" in r.get_data(as_text=True)
    assert _cart_rows(app) == []


def test_other_peoples_cart_items_cannot_be_touched(app, make_client, products):
    from saas.extensions import db
    from saas.store.models import CartItem

    a, _ = make_client()
    b, _ = make_client()
    add(a, products["mug"], "2")
    with app.app_context():
        item_id = db.session.execute(select(CartItem.id)).scalar()
    token = csrf_from(b.get("/store").get_data(as_text=True))
    b.post(f"/cart/items/{item_id}", data={"csrf_token": token, "quantity": "9"})
    b.post(f"/cart/items/{item_id}/remove", data={"csrf_token": token})
    assert _cart_rows(app) == [("Enamel Mug", 2)]


def test_inactive_and_deleted_products_drop_out_with_a_notice(app, client, products):
    from saas.extensions import db
    from saas.store.models import Product

    for slug in ("mug", "tee", "stickers"):
        add(client, products[slug], "1")
    with app.app_context():
        db.session.get(Product, products["mug"]).active = False
        db.session.delete(db.session.get(Product, products["tee"]))
        db.session.commit()
    html = client.get("/cart").get_data(as_text=True)
    assert "Enamel Mug is no longer available" in html
    assert "Organic Tee is no longer available" in html
    assert 'id="cart-total">$5.00' in html
    assert _cart_rows(app) == [("Sticker Pack", 1)]


def test_anonymous_cart_merges_into_account_cart_at_login(app, client, auth, make_client, products):
    from saas.extensions import db
    from saas.store.models import Cart

    auth.signup()
    add(client, products["mug"], "2")  # the account's own cart
    auth.logout()
    # Another browser, not logged in, fills a cart, then logs in.
    other, other_auth = make_client()
    add(other, products["mug"], "3")
    add(other, products["stickers"], "1")
    r = other_auth.login()
    assert r.status_code == 302
    html = other.get("/cart").get_data(as_text=True)
    assert "Enamel Mug" in html and "Sticker Pack" in html
    assert sorted(_cart_rows(app)) == [("Enamel Mug", 5), ("Sticker Pack", 1)]
    with app.app_context():
        assert db.session.execute(select(func.count(Cart.id))).scalar() == 1  # anonymous cart gone
