"""Reconciliation: make our mirror match Stripe again after lost events or hand edits.

`flask stripe sync [--email E]` walks our users with a Stripe customer, lists that customer's
objects in Stripe and applies each one through the same service functions the webhook handlers
use (saas.billing.services.apply_*), so a repair can never differ from what a late webhook
would have written. Every field it changes is reported. The periodic chore calls
``sync_all(log_only=True)``, which does the same and reports through logging.

What is synced is a list of steps (SYNC_STEPS): each takes a user and returns the changes it
made. The store adds its own (payment intents) by listing a module in STEP_MODULES that exposes
``sync_steps``; a module that does not exist yet is skipped.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from saas import stripe_gateway as gateway
from saas.accounts.models import User
from saas.extensions import db
from saas.stripe_cli import stripe_cli
from saas.webhooks.registry import Ignore

log = logging.getLogger(__name__)

# Columns that are ours, not Stripe's: never reported as drift.
OWN_COLUMNS = {"id", "created_at", "updated_at"}
# What a row created by sync is summarised by (every field of it is new).
CREATED_FIELDS = ("status", "amount_paid", "currency", "current_period_end")


@dataclass
class Change:
    kind: str            # "subscription", "invoice", ...
    stripe_id: str
    action: str          # "created" | "updated" | "missing in Stripe" | "skipped"
    fields: dict[str, tuple] = field(default_factory=dict)  # name -> (ours before, Stripe's)
    note: str = ""

    def describe(self) -> str:
        head = f"{self.kind} {self.stripe_id}: {self.action}"
        if self.fields:
            head += " " + ", ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.fields.items())
        return head + (f" ({self.note})" if self.note else "")


@dataclass
class UserResult:
    user_id: int
    email: str
    customer_id: str
    changes: list[Change] = field(default_factory=list)
    pro_before: bool | None = None
    pro_after: bool | None = None
    error: str | None = None


def _show(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def columns(row) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in OWN_COLUMNS}


def diff(before: dict | None, after: dict) -> dict[str, tuple]:
    before = before or {}
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}


def mirror_step(kind: str, model, list_remote: Callable[[str], list[dict]], apply: Callable[[dict], object],
                retrieve: Callable[[str], dict]) -> Callable[[User], list[Change]]:
    """A step for one mirrored Stripe object type: apply every remote object, report field
    changes, and flag local rows Stripe no longer has (reported, never deleted: a row may be
    the only record of something a user paid for)."""

    def step(user: User) -> list[Change]:
        changes: list[Change] = []
        local = {row.stripe_id: columns(row) for row in db.session.execute(
            select(model).where(model.user_id == user.id)).scalars()}
        seen = set()
        for data in list_remote(user.stripe_customer_id):
            seen.add(data["id"])
            before = local.get(data["id"])
            try:
                row = apply(data)
            except Ignore as exc:
                changes.append(Change(kind, data["id"], "skipped", note=str(exc)))
                continue
            if row is None:
                continue
            after = columns(row)
            changed = diff(before, after)
            if before is None:
                changes.append(Change(kind, data["id"], "created", {k: v for k, v in changed.items()
                                                                   if k in CREATED_FIELDS}))
            elif changed:
                changes.append(Change(kind, data["id"], "updated", changed))
        for stripe_id in sorted(set(local) - seen):
            # Lists are one page (100): an older object is checked on its own before we call it gone.
            try:
                data = retrieve(stripe_id)
            except gateway.ObjectMissing:
                changes.append(Change(kind, stripe_id, "missing in Stripe", note="kept; check it by hand"))
                continue
            before = local[stripe_id]
            row = apply(data)
            changed = diff(before, columns(row)) if row is not None else {}
            if changed:
                changes.append(Change(kind, stripe_id, "updated", changed))
        return changes

    step.__name__ = f"sync_{kind}s"
    return step


def _billing_steps() -> list[Callable[[User], list[Change]]]:
    from saas.billing import services
    from saas.billing.models import Invoice, Subscription

    return [
        mirror_step("subscription", Subscription, gateway.list_subscriptions, services.apply_subscription,
                    gateway.retrieve_subscription),
        # Invoices after subscriptions, as Stripe creates them.
        mirror_step("invoice", Invoice, gateway.list_invoices, services.apply_invoice, gateway.retrieve_invoice),
    ]


SYNC_STEPS: list[Callable[[User], list[Change]]] = []
# Modules exposing `sync_steps` (a list of step functions) to run after the billing ones.
STEP_MODULES = ("saas.store.reconcile",)


def sync_steps() -> list[Callable[[User], list[Change]]]:
    steps = _billing_steps() + list(SYNC_STEPS)
    for name in STEP_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        steps.extend(getattr(module, "sync_steps", ()))
    return steps


def sync_user(user_id: int, *, dry_run: bool = False) -> UserResult:
    """Bring one user's mirror in line with Stripe, in one transaction (rolled back on error or
    in a dry run). Stripe being unreachable is raised: nothing is known, nothing is changed."""
    from saas.billing.entitlement import is_pro
    from saas.billing.services import lock_user

    user = lock_user(user_id)
    result = UserResult(user.id, user.email, user.stripe_customer_id, pro_before=is_pro(user))
    try:
        for step in sync_steps():
            result.changes.extend(step(user))
        db.session.flush()
        db.session.expire(user, ["subscriptions"])
        result.pro_after = is_pro(user)
    except gateway.StripeUnavailable:
        db.session.rollback()
        raise
    except gateway.BillingError as exc:
        db.session.rollback()
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return result


def users_to_sync(email: str | None = None) -> list[int]:
    query = select(User.id).where(User.stripe_customer_id.is_not(None)).order_by(User.id)
    if email is not None:
        from saas.accounts.services import normalise_email

        query = query.where(db.func.lower(User.email) == normalise_email(email).lower())
    ids = list(db.session.execute(query).scalars())
    db.session.rollback()
    return ids


def sync_all(log_only: bool = False, email: str | None = None, dry_run: bool = False) -> list[UserResult]:
    """Sync every user with a Stripe customer (or the one with ``email``). With ``log_only``
    the drift found is reported through logging (the periodic chore has no terminal)."""
    results = []
    for user_id in users_to_sync(email):
        result = sync_user(user_id, dry_run=dry_run)
        results.append(result)
        if log_only:
            for change in result.changes:
                log.warning("reconcile: user %s (%s) %s", result.user_id, result.customer_id, change.describe())
            if result.error:
                log.error("reconcile: user %s (%s) failed: %s", result.user_id, result.customer_id, result.error)
    if log_only:
        drift = sum(len(r.changes) for r in results)
        log.info("reconcile: %d user(s) checked, %d change(s)", len(results), drift)
    return results


def _yes_no(value: bool | None) -> str:
    return "yes" if value else "no"


@stripe_cli.command("sync")
@click.option("--email", default=None, help="only the user with this email (default: every user with a Stripe customer)")
@click.option("--dry-run", is_flag=True, help="show what would change, change nothing")
@with_appcontext
def sync_command(email, dry_run):
    """Fetch subscriptions and invoices from Stripe and repair local drift, printing every change."""
    if email is not None and not users_to_sync(email):
        raise click.ClickException(f"no user with a Stripe customer has the email {email!r}; nothing changed")
    try:
        results = sync_all(email=email, dry_run=dry_run)
    except gateway.StripeNotConfigured as exc:
        raise click.ClickException(f"Stripe is not configured: {exc}") from exc
    except gateway.StripeUnavailable as exc:
        raise click.ClickException(f"Stripe is unreachable, nothing changed for the remaining users: {exc}") from exc
    changed = failed = 0
    for r in results:
        if not r.changes and not r.error:
            continue
        click.echo(f"{r.email} (user {r.user_id}, {r.customer_id})")
        for change in r.changes:
            click.echo(f"  {change.describe()}")
        if r.pro_before != r.pro_after and r.error is None:
            click.echo(f"  Pro: {_yes_no(r.pro_before)} -> {_yes_no(r.pro_after)}")
        if r.error:
            failed += 1
            click.echo(f"  failed, nothing changed for this user: {r.error}", err=True)
        changed += len(r.changes)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{len(results)} user(s) checked, {changed} change(s) {verb}"
               + (f", {failed} user(s) failed" if failed else "") + ("" if changed else ": all in sync"))
    if failed:
        raise SystemExit(1)


commands = [stripe_cli]
