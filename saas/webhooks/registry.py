"""Webhook handlers, keyed by event type. Handlers register with ``@handles(...)``.

Each handler takes the stored event dict. Handlers treat the payload as a hint and apply
Stripe's current state of the object, so that any delivery order converges on the same rows.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Callable

Handler = Callable[[dict], None]

_HANDLERS: dict[str, list[Handler]] = defaultdict(list)

# Modules whose import registers handlers.
HANDLER_MODULES = (
    "saas.billing.handlers",
    "saas.store.handlers",
)

_loaded = False


def handles(*event_types: str):
    def register(fn: Handler) -> Handler:
        for event_type in event_types:
            if fn not in _HANDLERS[event_type]:
                _HANDLERS[event_type].append(fn)
        return fn

    return register


def load_handlers() -> None:
    global _loaded
    if _loaded:
        return
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    _loaded = True


def handlers_for(event_type: str) -> list[Handler]:
    load_handlers()
    return list(_HANDLERS.get(event_type, ()))


def handled_types() -> set[str]:
    load_handlers()
    return {t for t, fns in _HANDLERS.items() if fns}


class Ignore(Exception):
    """Raised by a handler when the event is not ours to apply (e.g. an unknown customer)."""
