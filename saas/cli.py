"""`flask ...` commands. Each feature module that has commands exposes ``commands`` (a list of
click groups or commands); this module only collects them."""

from __future__ import annotations

import importlib

from flask import Flask

COMMAND_MODULES = (
    "saas.billing.cli",
    "saas.webhooks.cli",
    "saas.store.cli",
    "saas.admin.cli",
    "saas.doctor",
    "saas.reconcile",
)


def register(app: Flask) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise
            continue
        for command in getattr(module, "commands", ()):
            app.cli.add_command(command)
