"""Failed jobs retry with backoff through RQ's scheduler; after the last attempt the event is
marked failed with its error (the dead letter admins see). Unknown types are ignored."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.conftest import post_event
from tests.reliability.helpers import effects, events

INTERVAL = 2


def scheduled_at(app) -> datetime | None:
    from saas import queue

    with app.app_context():
        registry = ScheduledJobRegistry(queue=queue.get_queue())
        if "webhook-event-1" not in registry.get_job_ids():
            return None
        return registry.get_scheduled_time("webhook-event-1")


def wait_until_due(app):
    when = scheduled_at(app)
    assert when is not None, "no retry was scheduled"
    delay = (when - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(delay, 0) + 0.2)


def test_failing_event_retries_with_backoff_then_is_dead_lettered(app, client, probe, drain):
    app.config.update(JOB_MAX_RETRIES=2, JOB_RETRY_INTERVALS=[INTERVAL])
    event = probe.probe_event(fail_times=99)
    assert post_event(client, event).status_code == 200

    failed_at = datetime.now(timezone.utc)
    assert drain() == 1
    stripe_id, status, attempts, error = events(app)[0]
    assert (status, attempts) == ("retrying", 1)
    assert "RuntimeError: probe failure on attempt 1" in error
    # Backed off, not run again at once: the retry waits INTERVAL seconds in RQ's scheduler.
    delay = (scheduled_at(app) - failed_at).total_seconds()
    assert INTERVAL - 1 < delay < INTERVAL + 1, delay
    assert drain(with_scheduler=True) == 0

    wait_until_due(app)
    assert drain(with_scheduler=True) == 1
    assert events(app)[0][1:3] == ("retrying", 2)

    wait_until_due(app)
    assert drain(with_scheduler=True) == 1
    _, status, attempts, error = events(app)[0]
    assert (status, attempts) == ("failed", 3)
    assert "probe failure on attempt 3" in error and "Traceback" in error
    assert scheduled_at(app) is None
    from saas import queue
    from saas.webhooks import inbox

    with app.app_context():
        assert FailedJobRegistry(queue=queue.get_queue()).get_job_ids() == ["webhook-event-1"]
        # Dead-lettered events wait for a person (the admin's replay), not for the sweep.
        assert inbox.sweep_unprocessed(0) == 0
    assert effects(app, probe) == []


def test_event_failing_once_is_applied_once_on_retry(app, client, probe, drain):
    app.config.update(JOB_MAX_RETRIES=3, JOB_RETRY_INTERVALS=[1])
    event = probe.probe_event(fail_times=1)
    post_event(client, event)
    assert drain() == 1
    assert events(app)[0][1:3] == ("retrying", 1)
    wait_until_due(app)
    assert drain(with_scheduler=True) == 1
    stripe_id, status, attempts, error = events(app)[0]
    assert (status, attempts, error) == ("processed", 2, None)
    assert effects(app, probe) == [event["id"]]
    from saas import queue

    with app.app_context():
        # A job that succeeded leaves nothing behind in Redis (result_ttl=0): the row says it all.
        with pytest.raises(NoSuchJobError):
            Job.fetch("webhook-event-1", connection=queue.redis_conn())


def test_failure_without_retries_left_is_marked_failed_at_once(app, client, probe, drain):
    app.config.update(JOB_MAX_RETRIES=0)
    post_event(client, probe.probe_event(fail_times=1))
    assert drain() == 1
    assert events(app)[0][1:3] == ("failed", 1)
    assert scheduled_at(app) is None
