"""The pump between the inbox and RQ, and intake's own connection."""

from __future__ import annotations

import threading

from sqlalchemy import text

from tests.conftest import post_event, pump
from tests.webhooks.probe import store_probe_events
from tests.reliability.helpers import job_ids


def test_concurrent_pumps_queue_each_event_exactly_once(app, probe):
    from saas.extensions import db
    from saas.webhooks import pump as pump_module

    app.config["JOB_BATCH_SIZE"] = 1  # one job per event, so the queue shows each event's jobs
    store_probe_events(app, 300)
    claimed = []
    errors = []

    def run():
        try:
            with app.app_context():
                while (n := pump_module.pump_once(limit=20)) > 0:
                    claimed.append(n)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    ids = job_ids(app)
    # RQ pushes a job's id onto the queue on every enqueue: a double-queued event shows twice.
    assert sorted(ids) == sorted(f"webhook-event-{i}" for i in range(1, 301))
    assert len(ids) == len(set(ids)) == sum(claimed) == 300
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM webhook_events WHERE queued_at IS NULL")).scalar() == 0
        db.session.rollback()


def test_pump_marks_finished_events_queued_without_a_job(app, client, probe):
    from saas.webhooks.jobs import process_event

    post_event(client, probe.probe_event())
    post_event(client, probe.probe_event())
    with app.app_context():
        assert process_event(1) == "processed"  # applied directly, as a replay or a test does
    assert pump(app) == 2
    assert job_ids(app) == ["webhook-event-2"]
    assert pump(app) == 0


def test_intake_survives_its_connection_being_cut(app, client, probe):
    """PostgreSQL restarted, or an idle timeout: the next webhook reconnects instead of failing."""
    from saas.extensions import db

    assert post_event(client, probe.probe_event()).status_code == 200
    with app.app_context():
        cut = db.session.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'saas-webhook-intake' AND datname = current_database()")).scalars().all()
        db.session.rollback()
    assert cut == [True]
    r = post_event(client, probe.probe_event())
    assert r.status_code == 200 and r.get_json() == {"received": True}
    assert pump(app) == 2


def test_a_row_postgres_refuses_is_a_503_and_nothing_is_stored(app, client, probe):
    """A signed body that JSON allows but jsonb does not (a lone surrogate escape): Stripe must
    retry, not be told it was stored."""
    import json

    from tests.conftest import sign

    event = probe.probe_event()
    body = json.dumps(event)[:-1] + ', "description": "\\ud800"}'
    assert json.loads(body)["description"] == "\ud800"
    r = client.post("/api/webhooks/stripe", data=body, content_type="application/json",
                    headers={"Stripe-Signature": sign(body)})
    assert r.status_code == 503
    with app.app_context():
        from saas.extensions import db

        assert db.session.execute(text("SELECT count(*) FROM webhook_events")).scalar() == 0
        db.session.rollback()
    # The intake connection is still good for the next event.
    assert post_event(client, probe.probe_event()).status_code == 200


def test_signed_body_with_nan_is_refused_as_not_json(app, client, probe):
    import json

    from tests.conftest import sign

    body = json.dumps(probe.probe_event())[:-1] + ', "amount": NaN}'
    r = client.post("/api/webhooks/stripe", data=body, content_type="application/json",
                    headers={"Stripe-Signature": sign(body)})
    assert r.status_code == 400 and r.get_json() == {"error": "invalid signature"}
    assert pump(app) == 0


def test_intake_answers_503_promptly_while_the_inbox_table_is_locked(app, client, probe):
    """A lock on webhook_events (a migration rewriting it, as 0008's backfill does; a VACUUM
    FULL) held the request until the lock went: 39 s against gunicorn, every thread that takes
    a webhook stuck meanwhile. Intake waits at most WEBHOOK_INTAKE_TIMEOUT_MS, answers 503 so
    Stripe retries, stores nothing, and the next delivery after the lock is stored."""
    import time

    import psycopg2

    from tests.reliability.test_crash import libpq_dsn

    app.config["WEBHOOK_INTAKE_TIMEOUT_MS"] = 500
    assert post_event(client, probe.probe_event()).status_code == 200  # intake connected already
    locker = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    event = probe.probe_event()
    answers = []
    try:
        locker.cursor().execute("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        poster = threading.Thread(target=lambda: answers.append(post_event(app.test_client(), event).status_code))
        poster.start()
        poster.join(timeout=5)
        elapsed = time.monotonic() - started
    finally:
        locker.rollback()  # lets a request still waiting on the lock finish
        locker.close()
    poster.join(timeout=10)
    assert elapsed < 3, f"intake waited {elapsed:.1f}s on the lock"
    assert answers == [503]
    assert pump(app) == 1  # nothing stored
    assert post_event(client, event).status_code == 200  # Stripe's retry
    assert pump(app) == 1


def test_a_flood_notifies_once_per_window_and_the_pump_still_queues_every_event(app, client, probe, monkeypatch):
    """Intake notifies at most once per NOTIFY_EVERY_SECONDS (PostgreSQL serialises notifying
    commits); the pump's linger after a wake-up picks up the inserts that did not notify, with
    no idle polling to fall back on."""
    import select

    import psycopg2

    from saas.webhooks import inbox
    from saas.webhooks import pump as pump_module
    from tests.conftest import wait_for

    listener = psycopg2.connect(app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg2", "postgresql"))
    listener.autocommit = True
    listener.cursor().execute(f"LISTEN {inbox.NOTIFY_CHANNEL}")
    monkeypatch.setattr(pump_module, "IDLE_POLL_SECONDS", 60.0)
    app.config["JOB_BATCH_SIZE"] = 1  # a job per event, so that jobs count events
    stop = threading.Event()
    thread = pump_module.start(app, stop)
    try:
        wait_for(lambda: thread.is_alive())
        import time

        time.sleep(0.3)  # the pump is past its start-up claim, waiting for a notification
        started = time.monotonic()
        posted = 0
        while time.monotonic() - started < inbox.NOTIFY_EVERY_SECONDS * 0.8:
            assert post_event(client, probe.probe_event()).status_code == 200
            posted += 1
        assert posted >= 3
        wait_for(lambda: len(job_ids(app)) == posted, timeout=5, message="every event of the flood queued")
        notified = 0
        while select.select([listener], [], [], 0.2)[0]:
            listener.poll()
            notified += len(listener.notifies)
            listener.notifies.clear()
        assert notified == 1
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def test_an_insert_that_commits_after_the_linger_still_wakes_the_pump(app, client, probe, monkeypatch):
    """An insert started right after a notifying one that then waits (here on a concurrent,
    uncommitted delivery of the same event id; a slow WAL flush or a checkpoint does the same)
    commits after the pump's linger ran out: whether it notifies must be decided at its commit,
    or nothing wakes the pump for it and it waits for the idle poll."""
    import json
    import time

    import psycopg2

    from saas.timefmt import utcnow
    from saas.webhooks import inbox
    from saas.webhooks import pump as pump_module
    from tests.conftest import wait_for
    from tests.reliability.test_crash import libpq_dsn

    monkeypatch.setattr(pump_module, "IDLE_POLL_SECONDS", 60.0)
    app.config["JOB_BATCH_SIZE"] = 1
    assert post_event(client, probe.probe_event()).status_code == 200  # intake connected already
    assert pump(app) == 1
    first, second = probe.probe_event(), probe.probe_event()
    locker = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    locker.cursor().execute(inbox._INSERT, (second["id"], second["type"], None, False, None, None,
                                                  json.dumps(second), utcnow()))
    stop = threading.Event()
    thread = pump_module.start(app, stop)
    try:
        time.sleep(0.3)  # the pump is past its start-up claim, waiting for a notification
        before = len(job_ids(app))
        threading.Timer(0.6, locker.rollback).start()  # the other delivery gives up
        assert post_event(client, first).status_code == 200  # notifies
        assert post_event(client, second).status_code == 200  # quiet; waits for the other one
        wait_for(lambda: len(job_ids(app)) == before + 2, timeout=3,
                 message="the event stored after the linger queued without waiting for the idle poll")
    finally:
        stop.set()
        thread.join(timeout=10)
        locker.close()
