"""The Stripe doctor: checks the Stripe setup and the webhook pipeline, in words a person can
act on. Used by `flask stripe doctor` (exits non-zero naming each problem) and the admin
health page.

Each check answers one of the seed's troubleshooting rows: checkout will not start (missing
key or price), payment completes but the app does not update (webhooks not arriving, failing,
or no worker applying them), wrong amount or currency (the price does not match what the app
advertises).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from saas import stripe_gateway as gateway
from saas.extensions import db
from saas.stripe_cli import stripe_cli
from saas.timefmt import format_datetime, utcnow

OK, WARN, PROBLEM = "ok", "warn", "problem"


@dataclass
class Check:
    name: str       # stable identifier, e.g. "secret_key"
    title: str      # what was checked, for people
    status: str     # ok | warn | problem
    message: str    # what we found, and for problems what to do about it

    @property
    def ok(self) -> bool:
        return self.status != PROBLEM


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == PROBLEM]

    @property
    def healthy(self) -> bool:
        return not self.problems


def _mode_of(key: str) -> str | None:
    return gateway.key_mode(key or "")


def check_keys(cfg) -> list[Check]:
    out = []
    secret = cfg.get("STRIPE_SECRET_KEY") or ""
    publishable = cfg.get("STRIPE_PUBLISHABLE_KEY") or ""
    if not secret:
        out.append(Check("secret_key", "Secret key", PROBLEM,
                         "STRIPE_SECRET_KEY is not set: checkout cannot start. Copy the secret key "
                         "(sk_test_... or sk_live_...) from the Stripe dashboard, Developers > API keys."))
    elif secret.startswith("pk_"):
        out.append(Check("secret_key", "Secret key", PROBLEM,
                         "STRIPE_SECRET_KEY holds a publishable key (pk_...). Put the secret key (sk_...) "
                         "there and the pk_... key in STRIPE_PUBLISHABLE_KEY."))
    elif not secret.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
        out.append(Check("secret_key", "Secret key", PROBLEM,
                         "STRIPE_SECRET_KEY does not look like a Stripe secret key (it should start "
                         "with sk_test_, sk_live_, rk_test_ or rk_live_)."))
    else:
        out.append(Check("secret_key", "Secret key", OK, f"Set ({_mode_of(secret)} mode)."))
    if not publishable:
        out.append(Check("publishable_key", "Publishable key", PROBLEM,
                         "STRIPE_PUBLISHABLE_KEY is not set: checkout will not start. Copy the "
                         "publishable key (pk_...) from the Stripe dashboard."))
    elif publishable.startswith(("sk_", "rk_")):
        out.append(Check("publishable_key", "Publishable key", PROBLEM,
                         "STRIPE_PUBLISHABLE_KEY holds a secret key (sk_/rk_...), which would be sent "
                         "to browsers. Roll that key in the Stripe dashboard now, and put the pk_... key here."))
    elif not publishable.startswith(("pk_test_", "pk_live_")):
        out.append(Check("publishable_key", "Publishable key", PROBLEM,
                         "STRIPE_PUBLISHABLE_KEY does not look like a publishable key (pk_test_... or pk_live_...)."))
    else:
        out.append(Check("publishable_key", "Publishable key", OK, f"Set ({_mode_of(publishable)} mode)."))
    s_mode, p_mode = _mode_of(secret), _mode_of(publishable)
    if s_mode and p_mode and secret.startswith(("sk_", "rk_")) and publishable.startswith("pk_"):
        if s_mode != p_mode:
            out.append(Check("key_mode", "Key modes", PROBLEM,
                             f"The secret key is a {s_mode}-mode key but the publishable key is {p_mode} mode: "
                             "use both keys from the same mode (test or live)."))
        else:
            out.append(Check("key_mode", "Key modes", OK, f"Both keys are {s_mode} mode."))
    return out


def check_webhook_secret(cfg) -> Check:
    secret = cfg.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        return Check("webhook_secret", "Webhook secret", PROBLEM,
                     "STRIPE_WEBHOOK_SECRET is not set: every webhook is refused, so payments complete but "
                     "the app never updates. Copy the signing secret (whsec_...) of the endpoint "
                     "/api/webhooks/stripe from the Stripe dashboard, Developers > Webhooks.")
    if not secret.startswith("whsec_") or len(secret) < 20:
        return Check("webhook_secret", "Webhook secret", PROBLEM,
                     "STRIPE_WEBHOOK_SECRET does not look like a webhook signing secret (whsec_...): "
                     "signatures will not verify. It is the endpoint's signing secret, not an API key.")
    return Check("webhook_secret", "Webhook secret", OK, "Looks like a signing secret (whsec_...).")


def check_price(cfg, keys_ok: bool) -> list[Check]:
    from saas.billing.models import Plan

    price_id = cfg.get("STRIPE_PRICE_ID_PRO") or ""
    if not price_id:
        plan = db.session.execute(select(Plan).where(Plan.code == "pro", Plan.active.is_(True))).scalar_one_or_none()
        if plan is None:
            return [Check("price", "Pro price", PROBLEM,
                          "STRIPE_PRICE_ID_PRO is not set and no Pro plan is recorded: checkout cannot start. "
                          "Run `flask billing seed-plan`, then set STRIPE_PRICE_ID_PRO to the price it prints.")]
        price_id = plan.stripe_price_id
    if not keys_ok:
        return [Check("price", "Pro price", WARN,
                      f"Price {price_id} was not checked: fix the secret key first.")]
    try:
        price = gateway.retrieve_price(price_id)
    except gateway.ObjectMissing:
        return [Check("price", "Pro price", PROBLEM,
                      f"Price {price_id} (STRIPE_PRICE_ID_PRO) does not exist in this Stripe account and mode: "
                      "checkout cannot start. Check the id, and that it belongs to the same mode as the key.")]
    except gateway.StripeNotConfigured as exc:
        return [Check("price", "Pro price", PROBLEM,
                      f"Could not look up price {price_id}: {exc}. Check STRIPE_SECRET_KEY.")]
    except gateway.BillingError as exc:
        return [Check("price", "Pro price", PROBLEM, f"Could not look up price {price_id}: {exc}.")]
    out = []
    if not price.get("active"):
        out.append(Check("price_active", "Pro price is active", PROBLEM,
                         f"Price {price_id} is archived (inactive): Stripe refuses new checkouts with it. "
                         "Reactivate it or point STRIPE_PRICE_ID_PRO at an active price."))
    if not price.get("recurring"):
        out.append(Check("price_recurring", "Pro price is recurring", PROBLEM,
                         f"Price {price_id} is a one-time price; a subscription needs a recurring price."))
    want_amount, want_currency = cfg.get("PRO_PLAN_AMOUNT"), (cfg.get("PRO_PLAN_CURRENCY") or "").lower()
    have_amount, have_currency = price.get("unit_amount"), (price.get("currency") or "").lower()
    from saas.money import format_money

    if have_currency != want_currency:
        out.append(Check("price_currency", "Pro price currency", PROBLEM,
                         f"Price {price_id} charges in {have_currency.upper()} but the app advertises "
                         f"{want_currency.upper()} (PRO_PLAN_CURRENCY): customers would pay a different "
                         "currency than shown. Make them agree."))
    elif have_amount != want_amount:
        out.append(Check("price_amount", "Pro price amount", PROBLEM,
                         f"Price {price_id} charges {format_money(have_amount, have_currency)} but the app "
                         f"advertises {format_money(want_amount, want_currency)} (PRO_PLAN_AMOUNT): "
                         "customers would pay a different amount than shown. Make them agree."))
    if not out:
        interval = (price.get("recurring") or {}).get("interval")
        out.append(Check("price", "Pro price", OK,
                         f"{price_id}: active, {format_money(have_amount, have_currency)} per {interval}."))
    return out


def check_webhooks(cfg) -> list[Check]:
    from saas.webhooks.models import WebhookEvent

    last = db.session.execute(select(func.max(WebhookEvent.received_at))).scalar()
    out = []
    if last is None:
        out.append(Check("webhooks_received", "Webhooks arriving", PROBLEM,
                         "No webhook has ever been received: payments will complete in Stripe but the app "
                         "will not update. Add an endpoint for <BASE_URL>/api/webhooks/stripe in the Stripe "
                         "dashboard (or `stripe listen --forward-to` locally)."))
    else:
        age = utcnow() - last
        stale = age > timedelta(hours=cfg.get("DOCTOR_WEBHOOK_STALE_HOURS", 72))
        out.append(Check("webhooks_received", "Webhooks arriving", WARN if stale else OK,
                         f"Last webhook received {format_datetime(last)}"
                         + (" — a long time ago; check the endpoint in the Stripe dashboard." if stale else ".")))
    failing = db.session.execute(
        select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status.in_(("failed", "retrying")))
    ).scalar()
    if failing:
        out.append(Check("webhooks_failing", "Webhooks applied", PROBLEM,
                         f"{failing} webhook event(s) failed or are retrying: Stripe state is not mirrored. "
                         "Open Admin > Webhook events (status failed), read the error, fix it and replay."))
    else:
        out.append(Check("webhooks_failing", "Webhooks applied", OK, "No failed webhook events."))
    # The workers' pump queues a stored event within moments; one waiting longer than the sweep
    # interval means no worker is running, or Redis is refusing it.
    waiting = db.session.execute(
        select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.queued_at.is_(None), WebhookEvent.status.in_(("received", "retrying")),
            WebhookEvent.received_at < utcnow() - timedelta(seconds=cfg.get("SWEEP_AFTER_SECONDS", 60)))
    ).scalar()
    if waiting:
        out.append(Check("webhooks_unqueued", "Webhooks queued", PROBLEM,
                         f"{waiting} stored webhook event(s) have waited over "
                         f"{cfg.get('SWEEP_AFTER_SECONDS', 60)} s to be queued: no worker is running "
                         "(`python worker.py` runs the pump that queues them), or Redis refuses them."))
    else:
        out.append(Check("webhooks_unqueued", "Webhooks queued", OK, "Every stored webhook event has been queued."))
    return out


def check_queue(cfg) -> list[Check]:
    from rq import Worker

    from saas import queue

    try:
        conn = queue.redis_conn()
        conn.ping()
        q = queue.get_queue()
        workers = [w for w in Worker.all(queue=q) if w.get_state() != "suspended"]
        depth = q.count
    except Exception as exc:  # Redis down or misconfigured: that is the finding
        return [Check("redis", "Redis", PROBLEM,
                      f"Redis is unreachable ({type(exc).__name__}): webhooks are stored but not applied "
                      "until it is back. Check REDIS_URL.")]
    out = []
    if not workers:
        out.append(Check("worker", "Worker alive", PROBLEM,
                         f"No RQ worker is listening on queue {q.name!r}: webhooks are stored but never "
                         "applied. Start one with `python worker.py`."))
    else:
        out.append(Check("worker", "Worker alive", OK, f"{len(workers)} worker(s) on queue {q.name!r}."))
    limit = cfg.get("DOCTOR_MAX_QUEUE_DEPTH", 100)
    if depth > limit:
        out.append(Check("queue_depth", "Queue depth", PROBLEM,
                         f"{depth} job(s) are waiting on queue {q.name!r} (more than {limit}): the workers "
                         "are not keeping up or are stuck. Start more workers or look at their logs."))
    else:
        out.append(Check("queue_depth", "Queue depth", OK, f"{depth} job(s) waiting."))
    return out


def run_checks() -> Report:
    """Every check, in the order a person would fix things. Never raises for a finding."""
    cfg = current_app.config
    report = Report()
    report.checks.extend(check_keys(cfg))
    secret = cfg.get("STRIPE_SECRET_KEY") or ""
    keys_ok = bool(secret) and secret.startswith(("sk_", "rk_")) and _mode_of(secret) is not None
    report.checks.extend(check_price(cfg, keys_ok))
    report.checks.append(check_webhook_secret(cfg))
    report.checks.extend(check_webhooks(cfg))
    report.checks.extend(check_queue(cfg))
    db.session.rollback()
    return report


MARKS = {OK: "ok  ", WARN: "warn", PROBLEM: "FAIL"}


@stripe_cli.command("doctor")
@with_appcontext
def doctor_command():
    """Check the Stripe keys, the Pro price, webhooks and the worker; exit 1 on any problem."""
    report = run_checks()
    for c in report.checks:
        click.echo(f"[{MARKS[c.status]}] {c.title}: {c.message}")
    if report.problems:
        click.echo("")
        click.echo(f"{len(report.problems)} problem(s): " + ", ".join(c.title for c in report.problems), err=True)
        raise SystemExit(1)
    click.echo("\nAll checks passed.")


commands = [stripe_cli]
