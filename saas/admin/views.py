"""The admin console. Every route is behind one guard: anyone who is not an admin gets the
same 404 as an address that does not exist, whatever the method, so the console does not
even reveal that it is there."""

from __future__ import annotations

import uuid
from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from saas import stripe_gateway as gateway
from saas.accounts.models import User
from saas.admin import queries, services, store_bridge
from saas.admin.models import AdminAction
from saas.extensions import csrf, db
from saas.webhooks.models import EVENT_STATUSES, WebhookEvent

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The guard below checks CSRF itself, after the admin check: left to Flask-WTF's app-wide check,
# an anonymous POST would get "form expired" here but "not found" elsewhere, a hint.
csrf.exempt(bp)

# Every admin URL answers every method, so that a wrong method gives the same 404 as a wrong
# address to non-admins; the view itself refuses methods it does not take (405, admins only).
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@bp.before_request
def require_admin():
    if not (current_user.is_authenticated and current_user.is_admin):
        abort(404)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def route(rule: str, methods=("GET",)):
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def deco(fn):
        @wraps(fn)
        def view(**kwargs):
            if request.method not in allowed:
                abort(405)
            return fn(**kwargs)

        bp.add_url_rule(rule, fn.__name__, view, methods=ALL_METHODS, provide_automatic_options=False)
        return fn

    return deco


@bp.context_processor
def admin_helpers():
    mode = gateway.key_mode(current_app.config.get("STRIPE_SECRET_KEY") or "") or "test"
    root = "https://dashboard.stripe.com" + ("/test" if mode == "test" else "")
    paths = {"customer": "customers", "subscription": "subscriptions", "invoice": "invoices",
             "event": "events", "payment": "payments", "price": "prices"}

    sandbox = bool(current_app.config.get("STRIPE_API_BASE"))

    def stripe_url(kind: str, object_id: str | None) -> str | None:
        # The offline sandbox's objects are not in any Stripe dashboard: no link rather than a dead one.
        if not object_id or kind not in paths or sandbox:
            return None
        return f"{root}/{paths[kind]}/{object_id}"

    return {"stripe_url": stripe_url, "stripe_mode": mode, "store_available": store_bridge.AVAILABLE}


def _list(spec, statuses, template, **extra):
    try:
        filters = queries.parse_filters(request.args, statuses)
    except queries.BadFilter as exc:
        return render_template(template, page=None, filters=queries.Filters(), error=str(exc),
                               statuses=statuses, emails={}, **extra), 400
    page = queries.keyset_page(spec, filters)
    emails = queries.emails_for(getattr(r, "user_id", None) for r in page.rows)
    return render_template(template, page=page, filters=filters, error=None, statuses=statuses,
                           emails=emails, **extra)


# --- pages ----------------------------------------------------------------------------------

@route("")
def dashboard():
    from saas.admin import charts

    data = queries.dashboard(current_app.config["PRO_PLAN_CURRENCY"])
    return render_template(
        "admin/dashboard.html", d=data,
        mrr_chart=charts.line_chart("chart-mrr", "Monthly recurring revenue, last 12 months",
                                    data.mrr_points, data.currency, width=1060),
        revenue_chart=charts.stacked_bars("chart-revenue", "Revenue collected per month", data.revenue_points,
                                          data.currency, ("Subscriptions", "Store")),
        status_chart=charts.donut("chart-status", "Subscriptions by status", data.counts),
    )


@route("/subscriptions")
def subscriptions():
    return _list(queries.SUBSCRIPTIONS, queries.SUBSCRIPTION_STATUSES, "admin/subscriptions.html")


@route("/invoices")
def invoices():
    return _list(queries.INVOICES, queries.INVOICE_STATUSES, "admin/invoices.html")


@route("/events")
def events():
    return _list(queries.EVENTS, EVENT_STATUSES, "admin/events.html")


@route("/events/<int:event_id>")
def event(event_id: int):
    ev = db.session.get(WebhookEvent, event_id)
    if ev is None:
        abort(404)
    owner = db.session.get(User, ev.user_id) if ev.user_id else None
    actions = list(db.session.execute(
        select(AdminAction).where(AdminAction.target_type == "webhook_event",
                                  AdminAction.target_id == str(event_id)).order_by(AdminAction.id.desc())).scalars())
    import json

    return render_template("admin/event.html", ev=ev, owner=owner, actions=actions,
                           payload=json.dumps(ev.payload, indent=2, sort_keys=True),
                           replayable=ev.status in services.REPLAYABLE)


@route("/events/<int:event_id>/replay", methods=("GET", "POST"))
def replay(event_id: int):
    ev = db.session.get(WebhookEvent, event_id)
    if ev is None:
        abort(404)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        if request.method == "POST":
            flash("Nothing was done: confirm the replay with the button below.", "error")
        return render_template(
            "admin/confirm.html", title=f"Replay {ev.type}",
            question=f"Replay webhook event {ev.stripe_id} ({ev.type}), now {ev.status}?",
            explanation="It is reset to received and queued; the worker applies Stripe's current state of "
                        "the object, exactly once. Replaying cannot apply an event twice.",
            allowed=ev.status in services.REPLAYABLE,
            refusal=f"This event is {ev.status}; only failed or ignored events can be replayed.",
            button="Replay event", back=url_for("admin.event", event_id=event_id))
    ok, detail = services.replay_event_as(current_user._get_current_object(), event_id)
    flash(("Replayed: " if ok else "Replay failed: ") + detail, "success" if ok else "error")
    return redirect(url_for("admin.event", event_id=event_id), code=303)


@route("/users")
def users():
    email = (request.args.get("email") or "").strip()
    if email:
        user_id = queries.user_id_for_email(email)
        if user_id:
            return redirect(url_for("admin.user", user_id=user_id))
        flash(f"No account with the email {email}.", "error")
    raw = request.args.get("before") or ""
    before = int(raw) if raw.isdigit() and len(raw) < 18 else None
    stmt = select(User).order_by(User.id.desc()).limit(queries.PAGE_SIZE + 1)
    if before:
        stmt = stmt.where(User.id < before)
    rows = list(db.session.execute(stmt).scalars())
    older = rows[queries.PAGE_SIZE - 1].id if len(rows) > queries.PAGE_SIZE else None
    return render_template("admin/users.html", rows=rows[:queries.PAGE_SIZE], older=older, email=email)


@route("/users/<int:user_id>")
def user(user_id: int):
    file = queries.user_file(user_id)
    if file is None:
        abort(404)
    return render_template("admin/user.html", f=file)


@route("/users/<int:user_id>/resync", methods=("GET", "POST"))
def resync(user_id: int):
    target = db.session.get(User, user_id)
    if target is None:
        abort(404)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        if request.method == "POST":
            flash("Nothing was done: confirm the re-sync with the button below.", "error")
        return render_template(
            "admin/confirm.html", title="Re-sync from Stripe",
            question=f"Re-sync {target.email}'s subscriptions and invoices from Stripe?",
            explanation="Stripe is the source of truth: their subscriptions and invoices are fetched and "
                        "applied with the same code as webhooks. Nothing is charged or changed in Stripe.",
            allowed=bool(target.stripe_customer_id),
            refusal="This user has no Stripe customer yet, so there is nothing to sync.",
            button="Re-sync now", back=url_for("admin.user", user_id=user_id))
    ok, detail = services.resync_user_as(current_user._get_current_object(), user_id)
    flash(("Re-synced: " if ok else "Re-sync failed: ") + detail, "success" if ok else "error")
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@route("/health")
def health():
    from saas.doctor import run_checks

    return render_template("admin/health.html", report=run_checks())


@route("/actions")
def actions():
    raw = request.args.get("before") or ""
    before = int(raw) if raw.isdigit() and len(raw) < 18 else None
    stmt = select(AdminAction).order_by(AdminAction.id.desc()).limit(queries.PAGE_SIZE + 1)
    if before:
        stmt = stmt.where(AdminAction.id < before)
    rows = list(db.session.execute(stmt).scalars())
    older = rows[queries.PAGE_SIZE - 1].id if len(rows) > queries.PAGE_SIZE else None
    return render_template("admin/actions.html", rows=rows[:queries.PAGE_SIZE], older=older)


# --- orders: only once the store exists -------------------------------------------------------

if store_bridge.AVAILABLE:
    ORDERS = queries.ListSpec(store_bridge.Order, store_bridge.Order.created_at, store_bridge.Order.status,
                              date_keyset=True)

    @route("/orders")
    def orders():
        return _list(ORDERS, store_bridge.ORDER_STATUSES, "admin/orders.html")

    @route("/orders/<int:order_id>/refund", methods=("GET", "POST"))
    def refund(order_id: int):
        order = db.session.get(store_bridge.Order, order_id)
        if order is None:
            abort(404)
        refundable = services.refundable(order)
        refusal = services.refund_refusal(order)
        error = None
        if request.method == "POST" and request.form.get("confirm") == "yes":
            nonce = (request.form.get("nonce") or "")[:64]
            try:
                if refusal:
                    raise services.ActionRefused(refusal)
                amount = services.parse_refund_amount(order, request.form.get("amount"))
                if not nonce:
                    raise services.ActionRefused("The form expired; reload it and try again.")
            except services.ActionRefused as exc:
                error = str(exc)
            else:
                ok, detail = services.refund_order_as(current_user._get_current_object(), order_id, amount, nonce)
                flash(("Refund requested: " if ok else "Refund failed: ") + detail, "success" if ok else "error")
                return redirect(url_for("admin.user", user_id=order.user_id), code=303)
        elif request.method == "POST":
            error = "Nothing was done: confirm the refund with the button."
        return render_template("admin/refund.html", order=order, refundable=refundable, error=error,
                               refusal=refusal, nonce=uuid.uuid4().hex,
                               emails=queries.emails_for([order.user_id])), (422 if error else 200)
