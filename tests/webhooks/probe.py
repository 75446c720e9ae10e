"""A test-only webhook event type, ``test.probe``, whose handler leaves a countable effect.

The effect is a row in ``probe_effects`` written in the job's own transaction, so counting
rows shows whether an event was applied exactly once. The event's ``data.object`` steers it:
``block_on`` (an advisory lock key: the handler waits while a test holds that lock, i.e. the
job is stuck mid-way) and ``fail_times`` (raise on the first N attempts).

Tests install the handler with the ``probe`` fixture; a worker subprocess imports
``tests.webhooks.probe_worker`` (``python worker.py --include tests.webhooks.probe_worker``).
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text

from saas.extensions import db
from saas.webhooks import registry

PROBE_TYPE = "test.probe"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS probe_effects (
    id serial PRIMARY KEY,
    event_stripe_id text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def apply_probe(payload: dict, event) -> None:
    obj = payload["data"]["object"]
    if obj.get("block_on") is not None:
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(obj["block_on"])})
    if obj.get("sleep"):  # stuck in Python (a slow API call, say), where RQ's timeout reaches it
        import time

        time.sleep(float(obj["sleep"]))
    if event.attempts < int(obj.get("fail_times") or 0):
        raise RuntimeError(f"probe failure on attempt {event.attempts + 1}")
    db.session.execute(text("INSERT INTO probe_effects (event_stripe_id) VALUES (:e)"),
                       {"e": payload["id"]})


def install() -> None:
    registry.handles(PROBE_TYPE)(apply_probe)


def uninstall() -> None:
    handlers = registry._HANDLERS.get(PROBE_TYPE)
    if handlers and apply_probe in handlers:
        handlers.remove(apply_probe)
    if not registry._HANDLERS.get(PROBE_TYPE):
        registry._HANDLERS.pop(PROBE_TYPE, None)


def probe_event(**obj) -> dict:
    event_id = "evt_probe_" + uuid.uuid4().hex[:16]
    return {
        "id": event_id, "object": "event", "type": PROBE_TYPE, "api_version": "2026-10-28.endive",
        "created": int(time.time()), "livemode": False,
        "data": {"object": {"id": "probe_" + event_id[10:], "object": "probe", **obj}},
    }


def effects() -> list[str]:
    rows = db.session.execute(text("SELECT event_stripe_id FROM probe_effects ORDER BY id")).scalars().all()
    db.session.rollback()
    return list(rows)


def store_probe_events(app, n: int, **obj) -> list[str]:
    """Store ``n`` probe events straight into the inbox (as intake would); their Stripe ids."""
    from saas.webhooks import inbox

    stripe_ids = []
    with app.app_context():
        for _ in range(n):
            event = probe_event(**obj)
            assert inbox.store_event(event) is not None
            stripe_ids.append(event["id"])
    return stripe_ids
