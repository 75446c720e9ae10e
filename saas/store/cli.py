"""`flask store seed`: a small, real-looking catalog in the store currency."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from saas.extensions import db
from saas.money import exponent, format_money

# Prices in USD cents; other currencies scale by their exponent, and zero-decimal currencies
# (JPY, KRW, ...) use a rounded rate so that amounts look like real prices there.
CATALOG = [
    ("field-notes-notebook", "Field Notes Notebook", 1200,
     "A pocket notebook with 48 dot-grid pages and a sturdy kraft cover. Fits every back pocket."),
    ("sticker-pack", "Sticker Pack", 500,
     "Eight die-cut vinyl stickers of our logo and mascots, weatherproof and laptop-friendly."),
    ("enamel-mug", "Enamel Camp Mug", 2400,
     "A 350 ml steel mug with a glossy enamel finish. Holds coffee at the desk or by the fire."),
    ("organic-tee", "Organic Cotton T-Shirt", 2800,
     "Heavyweight organic cotton with a small embroidered logo. Unisex fit, sizes XS to XXL."),
    ("desk-mat", "Wool Felt Desk Mat", 4500,
     "A 90 × 40 cm merino felt mat that quiets your keyboard and warms up the desk."),
    ("hoodie", "Zip Hoodie", 6500,
     "A mid-weight brushed-fleece hoodie with a two-way zip and deep pockets."),
]
ZERO_DECIMAL_RATE = {"jpy": 150, "krw": 1350}


def price_in(usd_cents: int, currency: str) -> int:
    exp = exponent(currency)
    if exp == 0:
        whole = usd_cents * ZERO_DECIMAL_RATE.get(currency, 100) // 100
        return max(100, round(whole, -2))  # ¥1,800 rather than ¥1,837
    return usd_cents * 10 ** (exp - 2)


@click.group("store", help="The store: products.")
def store_cli():
    pass


@store_cli.command("seed")
@with_appcontext
def seed_command():
    """Create or update the sample products (priced in STORE_CURRENCY)."""
    from saas.store.models import Product

    currency = current_app.config["STORE_CURRENCY"].lower()
    created = 0
    for slug, name, usd, description in CATALOG:
        amount = price_in(usd, currency)
        product = db.session.execute(select(Product).where(Product.slug == slug)).scalar_one_or_none()
        if product is None:
            product = Product(slug=slug)
            db.session.add(product)
            created += 1
        product.name, product.description = name, description
        product.unit_amount, product.currency, product.active = amount, currency, True
        product.image_url = None
        click.echo(f"  {name}: {format_money(amount, currency)}")
    db.session.commit()
    click.echo(f"{created} product(s) created, {len(CATALOG) - created} updated, in {currency.upper()}")


commands = [store_cli]
