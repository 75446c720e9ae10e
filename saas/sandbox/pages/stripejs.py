"""A stand-in for the part of Stripe.js the app's own checkout page uses (served at /v3/)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

bp = Blueprint("sandbox_stripejs", __name__)


@bp.get("/v3/")
@bp.get("/v3")
@bp.get("/v3/stripe.js")
def stripe_js():
    store = current_app.extensions["sandbox"].store
    body = render_template("sandbox/stripe.js", api_base=store.public_url)
    return Response(body, mimetype="application/javascript",
                    headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"})
