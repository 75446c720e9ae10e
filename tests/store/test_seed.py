"""`flask store seed`: a small catalog in the store currency, safe to run twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select


@pytest.mark.parametrize("currency,sticker", [("usd", 500), ("jpy", 800), ("eur", 500)])
def test_seed_creates_catalog_in_store_currency(app_config, request, currency, sticker):
    app_config["STORE_CURRENCY"] = currency
    app = request.getfixturevalue("app")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["store", "seed"])
    assert first.exit_code == 0, first.output
    assert "6 product(s) created" in first.output
    again = runner.invoke(args=["store", "seed"])
    assert "0 product(s) created, 6 updated" in again.output

    from saas.extensions import db
    from saas.store.models import Product

    with app.app_context():
        rows = {p.slug: (p.unit_amount, p.currency, p.active) for p in db.session.execute(select(Product)).scalars()}
    assert len(rows) == 6 and rows["sticker-pack"] == (sticker, currency, True)
    html = app.test_client().get("/store").get_data(as_text=True)
    assert html.count('class="card product-card"') == 6
