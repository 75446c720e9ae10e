"""Outages at intake. Redis down: the event is stored and acknowledged fast, and the periodic
sweep queues it once Redis is back. PostgreSQL down: 5xx so Stripe retries, nothing written."""

from __future__ import annotations

import logging
import time

from tests.conftest import post_event
from tests.reliability.helpers import effects, events, job_ids

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:1/saas"


def dispose(app):
    from saas.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_redis_down_event_is_stored_and_acknowledged_then_swept_once_redis_is_back(
        app, app_config, probe, drain, caplog):
    from saas import create_app, periodic

    # The rate limiter shares the dead Redis too, as it would in production.
    down = create_app(dict(app_config, REDIS_URL=DEAD_REDIS, RATELIMIT_ENABLED=True,
                           RATELIMIT_STORAGE_URI=DEAD_REDIS))
    event = probe.probe_event()
    try:
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            r = post_event(down.test_client(), event)
            elapsed = time.monotonic() - started
        assert r.status_code == 200 and r.get_json() == {"received": True}
        assert elapsed < 1.0, f"acknowledging took {elapsed:.2f}s with Redis down"
        assert any("could not enqueue webhook event" in rec.getMessage() for rec in caplog.records)
        assert events(app) == [(event["id"], "received", 0, None)]
        assert job_ids(app) == []
        # A sweep while Redis is still down does nothing and does not crash the worker's loop.
        assert periodic.run_chore(down, "sweep", periodic._sweep, 30) is False
    finally:
        dispose(down)

    app.config["SWEEP_AFTER_SECONDS"] = 0
    assert periodic.run_chore(app, "sweep", periodic._sweep, 30) is True
    assert job_ids(app) == ["webhook-event-1"]
    # Another worker's sweep in the same period is a no-op (one Redis lock per chore and period).
    assert periodic.run_chore(app, "sweep", periodic._sweep, 30) is False
    assert drain() == 1
    assert events(app)[0][:3] == (event["id"], "processed", 1)
    assert effects(app, probe) == [event["id"]]
    # Later sweeps find nothing left to do.
    with app.app_context():
        from saas.webhooks import inbox

        assert inbox.sweep_unprocessed(0) == 0


def test_postgres_down_answers_503_and_writes_nothing(app, app_config, probe):
    from saas import create_app

    down = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=DEAD_POSTGRES))
    try:
        started = time.monotonic()
        r = post_event(down.test_client(), probe.probe_event())
        assert r.status_code == 503
        assert r.get_json() == {"error": "temporarily unavailable"}
        assert time.monotonic() - started < 5
    finally:
        dispose(down)
    # Stripe will retry; meanwhile nothing is half-written: no row, no job.
    assert events(app) == []
    assert job_ids(app) == []


def test_postgres_back_after_outage_accepts_the_retry(app, app_config, client, probe, drain):
    """Stripe's retry of the refused delivery (same event id) is stored and applied once."""
    from saas import create_app

    event = probe.probe_event()
    down = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=DEAD_POSTGRES))
    try:
        assert post_event(down.test_client(), event).status_code == 503
    finally:
        dispose(down)
    assert post_event(client, event).status_code == 200
    assert drain() == 1
    assert effects(app, probe) == [event["id"]]
