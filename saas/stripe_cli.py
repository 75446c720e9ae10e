"""The `flask stripe ...` command group. saas.doctor adds `doctor`, saas.reconcile adds `sync`."""

import click


@click.group("stripe", help="Stripe: check the setup (doctor) and repair drift (sync).")
def stripe_cli():
    pass
