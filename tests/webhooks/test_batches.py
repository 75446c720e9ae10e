"""Under a backlog the pump queues events in batches: each event is still applied once, in its
own transaction, with its own retries, and the sweep tells a waiting batch from a lost one."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.conftest import pump
from tests.webhooks.probe import store_probe_events as store
from tests.reliability.helpers import effects, events, job_ids


def job_of(app) -> dict[int, str | None]:
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        rows = db.session.execute(db.select(WebhookEvent.id, WebhookEvent.job_id).order_by(WebhookEvent.id)).all()
        db.session.rollback()
        return dict(rows)


def test_a_few_waiting_get_a_job_each(app, probe):
    app.config["JOB_BATCH_SIZE"] = 10
    store(app, 19)
    assert pump(app) == 19
    assert job_ids(app) == [f"webhook-event-{i}" for i in range(1, 20)]
    assert set(job_of(app).values()) == {None}


def test_a_backlog_is_queued_in_batches_and_every_event_applied_once(app, probe, drain):
    app.config["JOB_BATCH_SIZE"] = 10
    stripe_ids = store(app, 25)
    assert pump(app) == 25
    assert job_ids(app) == ["webhook-events-1-10", "webhook-events-11-20", "webhook-events-21-25"]
    jobs = job_of(app)
    assert jobs[1] == jobs[10] == "webhook-events-1-10" and jobs[25] == "webhook-events-21-25"
    assert drain() == 3
    assert [e[1:3] for e in events(app)] == [("processed", 1)] * 25
    assert sorted(effects(app, probe)) == sorted(stripe_ids)


def test_an_event_failing_in_a_batch_retries_on_its_own_and_the_rest_go_on(app, probe, drain):
    from saas import queue
    from saas.webhooks import jobs

    app.config.update(JOB_BATCH_SIZE=3, JOB_MAX_RETRIES=2, JOB_RETRY_INTERVALS=[1])
    good = store(app, 2)
    bad = store(app, 1, fail_times=1)
    good += store(app, 3)
    assert pump(app) == 6
    assert job_ids(app) == ["webhook-events-1-3", "webhook-events-4-6"]
    assert drain() == 2
    rows = events(app)
    assert rows[2][1:3] == ("retrying", 1) and "probe failure on attempt 1" in rows[2][3]
    assert [r[1] for i, r in enumerate(rows) if i != 2] == ["processed"] * 5
    # Its retry is a job of its own, scheduled after the backoff, with the rest of the policy.
    assert job_of(app)[3] is None
    with app.app_context():
        from rq.job import Job

        retry = Job.fetch(queue.job_id_for(3), connection=queue.redis_conn())
        assert retry.get_status() == "scheduled" and retry.retries_left == 1
    time.sleep(1.3)
    assert drain(with_scheduler=True) == 1
    assert events(app)[2][1:3] == ("processed", 2)
    assert sorted(effects(app, probe)) == sorted(good + bad)
    # Nothing is left for a sweep to do.
    with app.app_context():
        from saas.webhooks import inbox

        assert inbox.sweep_unprocessed(0) == 0
        assert jobs.process_events([1, 2, 3]) == "3 processed"


def test_without_retries_an_event_failing_in_a_batch_is_failed_at_once(app, probe, drain):
    app.config.update(JOB_BATCH_SIZE=2, JOB_MAX_RETRIES=0)
    store(app, 3)
    store(app, 1, fail_times=5)
    assert pump(app) == 4
    assert drain() == 2
    assert [e[1:3] for e in events(app)] == [("processed", 1)] * 3 + [("failed", 1)]
    assert job_ids(app) == []


def test_sweep_leaves_a_waiting_batch_and_requeues_the_events_of_a_lost_one(app, probe):
    from rq.job import Job, JobStatus

    from saas import queue
    from saas.extensions import db
    from saas.timefmt import utcnow
    from saas.webhooks import inbox
    from saas.webhooks.models import WebhookEvent

    app.config["JOB_BATCH_SIZE"] = 2
    store(app, 4)
    assert pump(app) == 4
    with app.app_context():
        db.session.execute(db.update(WebhookEvent).values(received_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        # Both batches still queued: the sweep leaves them alone.
        assert inbox.sweep_unprocessed(60) == 0
        conn, q = queue.redis_conn(), queue.get_queue()
        # The first batch started 30 s ago and is still within its timeout: running, not lost,
        # although its events are not locked (the batch is busy with another one).
        running = Job.fetch("webhook-events-1-2", connection=conn)
        q.remove(running)
        running.set_status(JobStatus.STARTED)
        running.started_at = (utcnow() - timedelta(seconds=30)).replace(tzinfo=None)
        running.save()
        # The second started before its timeout ran out: its worker died with it.
        lost = Job.fetch("webhook-events-3-4", connection=conn)
        q.remove(lost)
        lost.set_status(JobStatus.STARTED)
        lost.started_at = (utcnow() - timedelta(seconds=queue.batch_timeout(2) + 60)).replace(tzinfo=None)
        lost.save()
        assert inbox.sweep_unprocessed(60) == 2
    assert job_ids(app) == ["webhook-event-3", "webhook-event-4"]
    assert job_of(app) == {1: "webhook-events-1-2", 2: "webhook-events-1-2", 3: None, 4: None}
    with app.app_context():
        # The next sweep asks about their own jobs, which are waiting.
        assert inbox.sweep_unprocessed(60) == 0


def test_sweep_requeues_a_retry_whose_scheduler_never_ran_it(app, probe, drain):
    """A retry scheduled with backoff waits in RQ's scheduled registry until RQ's scheduler (a
    child of a worker) moves it to the queue. With no scheduler running, the sweep called it
    "waiting" for ever, long past its due time, and the event was never applied."""
    from saas.extensions import db
    from saas.timefmt import utcnow
    from saas.webhooks import inbox
    from saas.webhooks.models import WebhookEvent

    app.config.update(JOB_BATCH_SIZE=2, JOB_MAX_RETRIES=2, JOB_RETRY_INTERVALS=[1])
    store(app, 3)
    bad = store(app, 1, fail_times=1)
    assert pump(app) == 4
    assert drain() == 2
    assert [e[1] for e in events(app)] == ["processed"] * 3 + ["retrying"]
    time.sleep(1.2)  # the retry is due; no scheduler moves it
    with app.app_context():
        db.session.execute(db.update(WebhookEvent).values(received_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        # Not overdue by the sweep's margin yet: the scheduler may just be about to run it.
        assert inbox.sweep_unprocessed(60) == 0
        # Overdue by more than the margin: lost.
        assert inbox.sweep_unprocessed(0) == 1
    assert drain() == 1
    assert events(app)[3][1:3] == ("processed", 2)
    assert bad[0] in effects(app, probe)


def test_a_batch_that_runs_out_of_time_stops_and_its_other_events_are_swept(app, probe, drain, monkeypatch):
    """RQ's job timeout raises JobTimeoutException inside whatever handler is running. A batch
    caught it as that event's failure and went on with the rest, now with no timeout at all: a
    second stuck event held the worker for as long as it stayed stuck."""
    from saas import queue
    from saas.extensions import db
    from saas.timefmt import utcnow
    from saas.webhooks import inbox
    from saas.webhooks.models import WebhookEvent

    monkeypatch.setattr(queue, "batch_timeout", lambda size: 1)
    app.config.update(JOB_BATCH_SIZE=2, JOB_MAX_RETRIES=1, JOB_RETRY_INTERVALS=[1])
    store(app, 4, sleep=2)
    assert pump(app) == 4
    started = time.monotonic()
    assert drain(max_jobs=1) == 1
    assert time.monotonic() - started < 1.8, "the batch went on past its timeout"
    rows = events(app)
    assert rows[0][1] == "retrying" and "JobTimeoutException" in rows[0][3]
    assert rows[1][1:3] == ("received", 0)
    with app.app_context():
        db.session.execute(db.update(WebhookEvent).values(received_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert inbox.sweep_unprocessed(60) == 1  # the second event: its batch is over
    assert job_of(app)[2] is None
