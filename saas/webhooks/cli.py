"""`flask webhooks sweep`: queue stored events that were never processed."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from saas.webhooks import inbox


@click.group("webhooks", help="The webhook inbox.")
def webhooks_cli():
    pass


@webhooks_cli.command("sweep")
@click.option("--older-than", type=int, default=None, help="seconds since arrival (default SWEEP_AFTER_SECONDS)")
@with_appcontext
def sweep_command(older_than):
    """Re-queue stored events that were never processed (Redis was down, a worker died)."""
    queued = inbox.sweep_unprocessed(older_than)
    click.echo(f"queued {queued} event(s)")


commands = [webhooks_cli]
