"""Stripe webhook intake: verify, store, answer. Nothing else happens on this path: the
workers' pump queues the stored event (webhooks/pump.py)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from saas.stripe_gateway import SignatureInvalid, verify_webhook
from saas.webhooks import inbox

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


# No automatic OPTIONS answer: every method but POST is a 405 here.
@bp.route("/api/webhooks/stripe", methods=["POST"], provide_automatic_options=False)
def stripe_webhook():
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        # 500 on purpose: Stripe keeps retrying, so nothing is lost while we fix the config.
        log.error("webhook refused: STRIPE_WEBHOOK_SECRET is not set")
        return {"error": "webhook secret not configured"}, 500
    if request.mimetype != "application/json":
        # Stripe always sends JSON; anything else is not Stripe, so answer before reading it.
        return {"error": "expected application/json"}, 415
    # Raises 413 past MAX_CONTENT_LENGTH (a Stripe event is a few KB).
    payload = request.get_data(cache=False)
    try:
        event = verify_webhook(payload, request.headers.get("Stripe-Signature"), secret,
                               current_app.config["STRIPE_WEBHOOK_TOLERANCE"])
    except SignatureInvalid as exc:
        # The reason only: never the header, the body or the secret.
        log.warning("webhook rejected: %s (from %s, %d bytes)", exc, request.remote_addr, len(payload))
        return {"error": "invalid signature"}, 400
    try:
        stored_id = inbox.store_event(event, payload)
    except inbox.InboxUnavailable as exc:
        # Database down: 503 so Stripe retries; the insert is one autocommit statement, so
        # nothing is half-written.
        log.error("webhook %s not stored: %s", event["id"], exc)
        return {"error": "temporarily unavailable"}, 503
    if stored_id is None:
        return {"received": True, "duplicate": True}, 200
    return {"received": True}, 200
