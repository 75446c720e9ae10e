"""The 3D Secure challenge page a `requires_action` PaymentIntent redirects to."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request

from ..engine import payments
from ..util import format_amount

bp = Blueprint("sandbox_3ds", __name__)


def _intent(store, pi_id):
    pi = store.find(pi_id)
    if not pi or pi.get("object") != "payment_intent":
        abort(404)
    if request.values.get("client_secret") != pi["client_secret"]:
        abort(403)
    return pi


def _with_params(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit(parts._replace(query=query))


@bp.get("/3ds/<pi_id>")
def show(pi_id):
    store = current_app.extensions["sandbox"].store
    with store.lock:
        pi = _intent(store, pi_id)
        return render_template("sandbox/challenge.html", pi=pi, amount=format_amount(pi["amount"], pi["currency"]),
                               pending=pi["status"] == "requires_action")


@bp.post("/3ds/<pi_id>")
def decide(pi_id):
    store = current_app.extensions["sandbox"].store
    with store.lock:
        pi = _intent(store, pi_id)
        if pi["status"] == "requires_action":
            ev = store.batch()
            if request.form.get("outcome") == "approve":
                payments.attempt(store, pi, store.find(pi["payment_method"]), ev, authenticated=True)
            else:
                payments.auth_failed(store, pi, ev)
            ev.flush()
        return_url = store.private[pi_id].get("return_url")
        status = "succeeded" if pi["status"] == "succeeded" else "failed"
        if not return_url:
            return render_template("sandbox/message.html", title="Authentication " + (
                "complete" if status == "succeeded" else "failed"), message="You can close this window."), 200
    return redirect(_with_params(return_url, {"payment_intent": pi["id"],
                                              "payment_intent_client_secret": pi["client_secret"],
                                              "redirect_status": status}), code=303)
