"""`flask billing seed-plan`: make sure the Pro plan exists in Stripe and in our plans table."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from saas import stripe_gateway as gateway
from saas.billing import services


@click.group("billing", help="Billing: the Pro plan.")
def billing_cli():
    pass


@billing_cli.command("seed-plan")
@with_appcontext
def seed_plan_command():
    """Record the Pro price as a plan we sell (creating it in Stripe when STRIPE_PRICE_ID_PRO is unset)."""
    try:
        plan, created = services.seed_pro_plan()
    except gateway.BillingError as exc:
        raise click.ClickException(f"could not seed the Pro plan: {exc}") from exc
    cfg = current_app.config
    verb = "created" if created else "up to date"
    click.echo(f"Pro plan {verb}: price {plan.stripe_price_id} "
               f"({plan.unit_amount} {plan.currency.upper()} minor units per {plan.interval})")
    if not cfg.get("STRIPE_PRICE_ID_PRO"):
        click.echo(f"  (set STRIPE_PRICE_ID_PRO={plan.stripe_price_id} to pin it)")


commands = [billing_cli]
