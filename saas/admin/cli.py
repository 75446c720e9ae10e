"""`flask users make-admin EMAIL`: the one way to create an admin (there is no web form for it)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from saas.accounts.services import find_by_email
from saas.extensions import db


@click.group("users", help="User accounts.")
def users_cli():
    pass


@users_cli.command("make-admin")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="take admin rights away instead")
@with_appcontext
def make_admin_command(email: str, revoke: bool):
    """Give the account with EMAIL admin rights (it must have signed up first)."""
    user = find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account with the email {email!r}; sign up first, then run this again")
    wanted = not revoke
    if user.is_admin == wanted:
        db.session.rollback()
        click.echo(f"{user.email} {'is already' if wanted else 'was not'} an admin; nothing changed")
        return
    user.is_admin = wanted
    db.session.commit()
    click.echo(f"{user.email} {'is now an admin' if wanted else 'is no longer an admin'}")


commands = [users_cli]
