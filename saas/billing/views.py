"""The billing page, the Pro upgrade and Checkout's return pages."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from saas import stripe_gateway as gateway
from saas.billing import clock, services
from saas.billing.entitlement import best_subscription, is_pro
from saas.billing.models import Plan
from saas.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("billing", __name__, url_prefix="/billing")


class ActionForm(FlaskForm):
    """An empty form: a button that needs a CSRF token."""


def _pro_plan() -> Plan | None:
    return db.session.execute(db.select(Plan).where(Plan.code == "pro")).scalar_one_or_none()


@bp.get("")
@login_required
def index():
    from saas.billing.presenter import describe

    now = clock.now_for(current_user.stripe_customer_id)
    return render_template(
        "billing/index.html",
        plan=_pro_plan(),
        pro=is_pro(current_user, now),
        subscription=best_subscription(current_user, now),
        state=describe(current_user),
        invoices=services.invoices_for(current_user.id),
        form=ActionForm(),
        trial_days=current_app.config["PRO_TRIAL_DAYS"],
    )


@bp.post("/upgrade")
@login_required
def upgrade():
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for("billing.index"))
    try:
        url = services.start_pro_checkout(current_user)
    except services.AlreadyPro as exc:
        flash(exc.user_message, "info")
        return redirect(url_for("billing.index"))
    except gateway.BillingError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("billing.index"))
    return redirect(url, code=303)


@bp.get("/success")
@login_required
def success():
    session_id = request.args.get("session_id", "")
    if session_id.startswith("cs_") and len(session_id) < 255 and not is_pro(current_user):
        # Speeds things up when the webhook is slow; grants nothing unless Stripe says the
        # session is this user's and complete.
        try:
            services.confirm_checkout_session(current_user, session_id)
        except gateway.BillingError as exc:
            db.session.rollback()
            log.info("success page could not confirm %s yet: %s", session_id, type(exc).__name__)
        except Exception:
            db.session.rollback()
            log.exception("success page confirmation failed; the webhook will apply it")
    return render_template("billing/success.html", pro=is_pro(current_user))


@bp.get("/cancelled")
@login_required
def cancelled():
    return render_template("billing/cancelled.html")


@bp.get("/status.json")
@login_required
def status():
    now = clock.now_for(current_user.stripe_customer_id)
    sub = best_subscription(current_user, now)
    return {
        "pro": is_pro(current_user, now),
        "status": sub.status if sub else None,
    }


@bp.post("/portal")
@login_required
def portal():
    """Open the Stripe customer portal for the signed-in user's own customer. The customer id
    comes from the session's user only, never from the request, so nobody can open another
    user's portal."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for("billing.index"))
    try:
        url = services.portal_url(current_user, return_url=current_app.config["BASE_URL"] + url_for("billing.index"))
    except services.NoBillingAccount as exc:
        flash(exc.user_message, "info")
        return redirect(url_for("billing.index"))
    except gateway.BillingError as exc:
        flash(exc.user_message, "error")
        return redirect(url_for("billing.index"))
    return redirect(url, code=303)
