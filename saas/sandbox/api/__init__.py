"""Stripe API routes (/v1/...), one module per resource family."""
from __future__ import annotations

from flask import Blueprint, Flask


def register(app: Flask) -> None:
    from . import (catalog, charges, checkout, customers, events, invoices, payment_intents, portal,
                   subscriptions, test_clocks)
    bp = Blueprint("sandbox_api", __name__, url_prefix="/v1")
    for module in (customers, catalog, checkout, subscriptions, invoices, events, payment_intents,
                   charges, portal, test_clocks):
        module.routes(bp)
    app.register_blueprint(bp)
