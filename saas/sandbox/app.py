"""The sandbox Flask app: Stripe-like auth, body parsing, idempotency, errors and CORS."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from flask import Flask, g, jsonify, request

from .delivery import Dispatcher
from .errors import StripeError
from .params import decode_body, decode_pairs
from .store import Store
from .util import new_id

log = logging.getLogger("saas.sandbox")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Sandbox:
    """What the views reach through `current_app.extensions["sandbox"]`."""

    def __init__(self, store: Store, dispatcher: Dispatcher, public_url: str | None):
        self.store, self.dispatcher, self.public_url = store, dispatcher, public_url


def create_sandbox_app(*, webhook_url=None, webhook_secret=None, public_url=None, chaos=None,
                       retry_schedule=None, dunning_days=(3, 5, 7), past_due_final="unpaid",
                       max_delivery_attempts=20) -> Flask:
    if past_due_final not in ("unpaid", "canceled"):
        raise ValueError("past_due_final must be 'unpaid' or 'canceled'")
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    dispatcher = Dispatcher(url=webhook_url, secret=webhook_secret, retry_schedule=retry_schedule,
                            chaos=chaos, max_attempts=max_delivery_attempts)
    store = Store(dunning_days=dunning_days, past_due_final=past_due_final, on_event=dispatcher.enqueue)
    store.public_url = (public_url or "").rstrip("/")
    app.extensions["sandbox"] = Sandbox(store, dispatcher, public_url)

    from .api import register as register_api
    from .pages import register as register_pages
    register_api(app)
    register_pages(app)
    _install_hooks(app)
    return app


def _is_api() -> bool:
    return request.path.startswith("/v1/")


def _install_hooks(app: Flask) -> None:
    @app.before_request
    def _before():
        sb = app.extensions["sandbox"]
        if not sb.public_url:
            # Without a configured public URL, hosted-page links point where the caller reached us.
            sb.store.public_url = request.host_url.rstrip("/")
        if not _is_api():
            return None
        if request.method == "OPTIONS":
            return app.response_class(status=204)
        g.request_id = new_id("req_", 14)
        _authenticate()
        body = request.get_data(as_text=True) if request.method == "POST" else ""
        g.params = decode_pairs(list(request.args.items(multi=True))) if request.method != "POST" else {}
        if body:
            g.params.update(decode_body(body))
        g.idempotency_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if g.idempotency_key:
            return _replay_or_reserve(sb)
        return None

    @app.after_request
    def _after(resp):
        if _is_api():
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Idempotency-Key, Stripe-Version"
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            resp.headers["Request-Id"] = g.get("request_id") or ""
            resp.headers["Stripe-Version"] = "2026-10-28.endive"
            key = g.get("idempotency_key")
            if key and g.get("idem_slot") and not resp.headers.get("Idempotent-Replayed"):
                _remember(app.extensions["sandbox"], resp)
        return resp

    @app.errorhandler(StripeError)
    def _stripe_error(err: StripeError):
        resp = jsonify({"error": err.body})
        resp.status_code = err.status
        return resp

    @app.errorhandler(404)
    def _not_found(err):
        if _is_api():
            return jsonify({"error": {"type": "invalid_request_error",
                                      "message": f"Unrecognized request URL ({request.method}: {request.path})."}}), 404
        return err

    @app.errorhandler(405)
    def _bad_method(err):
        if _is_api():
            return jsonify({"error": {"type": "invalid_request_error",
                                      "message": f"Unrecognized request URL ({request.method}: {request.path})."}}), 404
        return err


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    key = ""
    if header.startswith("Bearer "):
        key = header[7:].strip()
    elif request.authorization and request.authorization.type == "basic":
        key = request.authorization.username or ""  # curl -u sk_test_xxx:
    if not key:
        key = request.values.get("key", "") if request.method != "POST" else ""
        if not key and request.method == "POST":
            key = decode_body(request.get_data(as_text=True)).get("key", "")
    if key.startswith(("sk_live_", "rk_live_", "pk_live_")):
        raise StripeError("The Stripe sandbox never accepts live keys. Use a test key (sk_test_...).",
                          status=401, code="api_key_live_refused")
    if key.startswith(("sk_test_", "rk_test_")):
        g.key_kind, g.api_key = "secret", key
        return
    if key.startswith("pk_test_"):
        g.key_kind, g.api_key = "publishable", key
        return
    if not key:
        raise StripeError("You did not provide an API key. You need to provide your API key in the "
                          "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                          status=401)
    raise StripeError(f"Invalid API Key provided: {key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}",
                      status=401, code="api_key_invalid")


def _fingerprint() -> str:
    raw = request.get_data(as_text=True)
    return hashlib.sha256(f"{request.method} {request.path}\n{raw}".encode()).hexdigest()


def _replay_or_reserve(sb):
    """Same key + same request -> replay the stored response; same key, other request -> 400."""
    slot = (g.api_key, g.idempotency_key)
    with sb.store.lock:
        saved = sb.store.idempotency.get(slot)
    fp = _fingerprint()
    if saved is None:
        g.idem_slot, g.idem_fp = slot, fp
        return None
    if saved[0] != fp:
        raise StripeError("Keys for idempotent requests can only be used with the same parameters they were "
                          "first used with. Try using a key other than "
                          f"'{g.idempotency_key}' if you meant to execute a different request.",
                          type="idempotency_error", code="idempotency_key_in_use")
    resp = sb_response(saved[1], saved[2])
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def sb_response(status: int, body: str):
    from flask import current_app
    return current_app.response_class(body, status=status, mimetype="application/json")


def _remember(sb, resp) -> None:
    # Stripe saves results once the endpoint started executing: not for validation failures
    # (so a corrected retry with the same key works), auth failures, or server errors.
    body = resp.get_data(as_text=True)
    if resp.status_code in (401, 429) or resp.status_code >= 500:
        return
    if resp.status_code == 400:
        try:
            code = (json.loads(body).get("error") or {}).get("code") or ""
        except ValueError:
            code = ""
        if code.startswith("parameter_") or code == "idempotency_key_in_use":
            return
    with sb.store.lock:
        sb.store.idempotency[g.idem_slot] = (g.idem_fp, resp.status_code, body)
