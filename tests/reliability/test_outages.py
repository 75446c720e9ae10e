"""Outages at intake. Redis down: the event is stored and acknowledged fast, and the periodic
sweep queues it once Redis is back. PostgreSQL down: 5xx so Stripe retries, nothing written."""

from __future__ import annotations

import logging
import time

from tests.conftest import post_event, wait_for
from tests.reliability.helpers import effects, events, job_ids

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:1/saas"


def unqueued(app) -> list[int]:
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        ids = db.session.execute(db.select(WebhookEvent.id).where(WebhookEvent.queued_at.is_(None))
                                 .order_by(WebhookEvent.id)).scalars().all()
        db.session.rollback()
        return list(ids)


def dispose(app):
    from saas.extensions import db

    from saas.webhooks import inbox

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    inbox.close_intake_connections(app)


def test_redis_down_event_is_stored_and_acknowledged_then_swept_once_redis_is_back(
        app, app_config, probe, drain, caplog):
    from saas import create_app, periodic
    from saas.webhooks import inbox, pump

    # The rate limiter shares the dead Redis too, as it would in production.
    down = create_app(dict(app_config, REDIS_URL=DEAD_REDIS, RATELIMIT_ENABLED=True,
                           RATELIMIT_STORAGE_URI=DEAD_REDIS))
    event = probe.probe_event()
    try:
        started = time.monotonic()
        r = post_event(down.test_client(), event)
        elapsed = time.monotonic() - started
        assert r.status_code == 200 and r.get_json() == {"received": True}
        assert elapsed < 1.0, f"acknowledging took {elapsed:.2f}s with Redis down"
        assert events(app) == [(event["id"], "received", 0, None)]
        # The pump cannot queue it: nothing is marked queued, so nothing is lost.
        with caplog.at_level(logging.WARNING), down.app_context():
            assert pump.pump_all() == -1
            assert inbox.sweep_unprocessed(0) == 0
        assert any("could not enqueue 1 webhook event" in rec.getMessage() for rec in caplog.records)
        assert unqueued(app) == [1]
        assert job_ids(app) == []
        # A sweep while Redis is still down does nothing and does not crash the worker's loop.
        assert periodic.run_chore(down, "sweep", periodic._sweep, 30) is False
    finally:
        dispose(down)

    assert periodic.run_chore(app, "sweep", periodic._sweep, 30) is True
    assert job_ids(app) == ["webhook-event-1"]
    assert unqueued(app) == []
    # Another worker's sweep in the same period is a no-op (one Redis lock per chore and period).
    assert periodic.run_chore(app, "sweep", periodic._sweep, 30) is False
    assert drain() == 1
    assert events(app)[0][:3] == (event["id"], "processed", 1)
    assert effects(app, probe) == [event["id"]]
    # Later sweeps find nothing left to do.
    with app.app_context():
        assert inbox.sweep_unprocessed(0) == 0


def test_pump_thread_waits_out_a_redis_outage_then_queues_what_was_stored(app, app_config, client, probe,
                                                                          caplog, monkeypatch):
    """The worker's pump thread, with Redis down, keeps the stored events unqueued and says
    so once; a pump with Redis up queues them without waiting for the sweep."""
    import threading

    from saas import create_app
    from saas.webhooks import pump

    down = create_app(dict(app_config, REDIS_URL=DEAD_REDIS))
    stop = threading.Event()
    with caplog.at_level(logging.WARNING):
        thread = pump.start(down, stop)
        try:
            ids = [post_event(client, probe.probe_event()).status_code for _ in range(3)]
            assert ids == [200] * 3
            wait_for(lambda: any("pump: Redis is unavailable" in rec.getMessage() for rec in caplog.records))
            time.sleep(pump.BACKOFF_SECONDS * 1.5)  # another failed round or two
            assert unqueued(app) == [1, 2, 3] and job_ids(app) == []
        finally:
            stop.set()
            thread.join(timeout=10)
            dispose(down)
    warnings = [r for r in caplog.records if "pump: Redis is unavailable" in r.getMessage()]
    assert len(warnings) == 1, "an outage is reported once, not once a second"

    # No idle polling from here on: only the insert's notification can wake the pump.
    monkeypatch.setattr(pump, "IDLE_POLL_SECONDS", 60.0)
    stop = threading.Event()
    thread = pump.start(app, stop)
    try:
        wait_for(lambda: job_ids(app) == ["webhook-event-1", "webhook-event-2", "webhook-event-3"])
        time.sleep(0.2)  # the pump is now waiting for a notification
        post_event(client, probe.probe_event())
        wait_for(lambda: len(job_ids(app)) == 4, timeout=5, message="the notification to wake the pump")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert unqueued(app) == []


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


def test_pump_thread_logs_a_redis_outage_once_not_every_round(app, app_config, client, probe, caplog):
    """Log spam: the pump retries every BACKOFF_SECONDS while Redis is down. The outage is
    reported when it starts, not with another "could not enqueue" warning on every round."""
    import threading

    from saas import create_app
    from saas.webhooks import pump

    down = create_app(dict(app_config, REDIS_URL=DEAD_REDIS))
    stop = threading.Event()
    with caplog.at_level(logging.WARNING):
        thread = pump.start(down, stop)
        try:
            assert post_event(client, probe.probe_event()).status_code == 200
            wait_for(lambda: any("pump: Redis is unavailable" in rec.getMessage() for rec in caplog.records))
            time.sleep(pump.BACKOFF_SECONDS * 3.5)  # three more failed rounds
        finally:
            stop.set()
            thread.join(timeout=10)
            dispose(down)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("saas") and r.levelno >= logging.WARNING]
    assert len(ours) <= 2, f"{len(ours)} warnings for one outage: {ours[:4]}"
