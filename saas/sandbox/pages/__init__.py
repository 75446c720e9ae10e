"""Browser-facing pages served by the sandbox (hosted checkout, 3DS challenge, customer portal,
invoices, the Stripe.js stand-in) and the /_sandbox control endpoints."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import challenge, checkout_page, control, invoice_page, portal_page, stripejs
    for module in (checkout_page, challenge, portal_page, invoice_page, stripejs, control):
        app.register_blueprint(module.bp)
