"""/_sandbox/...: JSON control endpoints for tests, the launcher and humans (no auth)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..engine import cards, checkout_flow, timetravel
from .portal_page import set_default_card

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


def _sb():
    return current_app.extensions["sandbox"]


def _error(message, status=400):
    return jsonify({"error": {"message": message}}), status


@bp.get("/health")
def health():
    sb = _sb()
    d = sb.dispatcher
    with d.cond:
        pending = sum(1 for x in d.deliveries if x.status in ("pending", "in_flight"))
        failed = sum(1 for x in d.deliveries if x.status == "failed")
    return jsonify({"ok": True, "api_version": "2026-10-28.endive", "events": len(sb.store.events),
                    "webhook_url": d.url, "pending_deliveries": pending, "failed_deliveries": failed,
                    "chaos": d.chaos})


@bp.get("/events")
def events():
    sb = _sb()
    with sb.store.lock:
        evts = list(sb.store.events)
    return jsonify({"data": [{"id": e["id"], "type": e["type"], "created": e["created"],
                              "object_id": e["data"]["object"].get("id"),
                              "deliveries": sb.dispatcher.status_of(e["id"])} for e in evts]})


@bp.post("/redeliver/<evt_id>")
def redeliver(evt_id):
    sb = _sb()
    evt = sb.store.find(evt_id)
    if not evt or evt.get("object") != "event":
        return _error(f"No such event: '{evt_id}'", 404)
    if not sb.dispatcher.url:
        return _error("No webhook URL is configured.")
    sb.dispatcher.redeliver(evt)
    return jsonify({"ok": True, "id": evt_id})


@bp.post("/reset")
def reset():
    sb = _sb()
    sb.dispatcher.reset()
    sb.store.reset()
    return jsonify({"ok": True})


@bp.post("/webhook")
def webhook():
    """Point deliveries somewhere else at runtime: {"url": ..., "secret": ...}."""
    body = request.get_json(silent=True) or {}
    _sb().dispatcher.configure(body.get("url"), body.get("secret"))
    return jsonify({"ok": True})


@bp.post("/chaos")
def chaos():
    """Chaos delivery at runtime: {"chaos": true | false | {"shuffle": ..., "duplicate": 0.3,
    "delay_max": 0.5, "window": 5, "seed": 7}}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("chaos"), (bool, dict, type(None))):
        return _error('Send {"chaos": true}, {"chaos": false} or {"chaos": {settings}}.')
    settings = body["chaos"]
    if isinstance(settings, dict):
        unknown = set(settings) - {"shuffle", "duplicate", "delay_max", "window", "seed"}
        if unknown:
            return _error(f"Unknown chaos setting(s): {', '.join(sorted(unknown))}.")
    return jsonify({"ok": True, "chaos": _sb().dispatcher.set_chaos(settings)})


@bp.post("/customers/<cus_id>/advance")
def advance(cus_id):
    """Move one customer's time ({"seconds": N} or {"to": unix}); a test-clock customer moves its clock."""
    sb = _sb()
    body = request.get_json(silent=True) or {}
    st = sb.store
    with st.lock:
        cus = st.find(cus_id)
        if not cus or cus.get("object") != "customer":
            return _error(f"No such customer: '{cus_id}'", 404)
        now = st.now(cus_id)
        try:
            to = int(body["to"]) if "to" in body else now + int(body.get("seconds", 0))
        except (TypeError, ValueError):
            return _error("Send {\"seconds\": N} or {\"to\": unix_timestamp}.")
        if to < now:
            return _error("Time only moves forward.")
        clock = st.find(cus.get("test_clock"))
        ids = [c["id"] for c in st.all("customer") if clock and c["test_clock"] == clock["id"]] or [cus_id]
        steps = timetravel.advance(st, ids, to)
        if clock:
            clock["frozen_time"] = to
        return jsonify({"ok": True, "customer": cus_id, "now": st.now(cus_id), "steps": steps})


@bp.post("/customers/<cus_id>/card")
def set_card(cus_id):
    """Give the customer a new default card, e.g. {"number": "4000000000000341"} (fails charges)."""
    sb = _sb()
    body = request.get_json(silent=True) or {}
    number = cards.clean_number(str(body.get("number", "")))
    if not cards.luhn_ok(number):
        return _error("Your card number is invalid.")
    with sb.store.lock:
        cus = sb.store.find(cus_id)
        if not cus or cus.get("object") != "customer":
            return _error(f"No such customer: '{cus_id}'", 404)
        pm = set_default_card(sb.store, cus_id, number, pay_open=bool(body.get("pay_open_invoices")))
        return jsonify({"ok": True, "payment_method": pm["id"]})


@bp.post("/checkout/<cs_id>/settle")
def settle(cs_id):
    """Finish a pending test bank debit: {"outcome": "succeeded" | "failed"}."""
    sb = _sb()
    body = request.get_json(silent=True) or {}
    with sb.store.lock:
        cs = sb.store.find(cs_id)
        if not cs or cs.get("object") != "checkout.session":
            return _error(f"No such checkout.session: '{cs_id}'", 404)
        plan = sb.store.private[cs_id].get("settle") or {}
        outcome = body.get("outcome") or plan.get("outcome") or "succeeded"
        if outcome not in ("succeeded", "failed"):
            return _error("outcome must be 'succeeded' or 'failed'.")
        ev = sb.store.batch()
        if not checkout_flow.settle(sb.store, cs, outcome, ev):
            return _error("This session has no pending bank debit.", 409)
        ev.flush()
        return jsonify({"ok": True, "payment_status": cs["payment_status"]})
