"""Redis and the RQ queue, created by the factory (never at import time)."""

from __future__ import annotations

import logging

from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.extensions["saas.redis"] = None


def redis_conn() -> Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("saas.redis")
    if conn is None:
        url = app.config["REDIS_URL"]
        if not url:
            raise RuntimeError("REDIS_URL is not set")
        # Short timeouts: the webhook endpoint must answer fast even when Redis is down, and
        # the sweep re-enqueues whatever could not be enqueued.
        conn = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        app.extensions["saas.redis"] = conn
    return conn


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_conn())


def retry_policy() -> Retry | None:
    attempts = int(current_app.config["JOB_MAX_RETRIES"])
    if attempts <= 0:  # RQ refuses Retry(max=0); no retries means no policy
        return None
    # Backoff: quick first retries for transient blips, then minutes (JOB_RETRY_INTERVALS).
    intervals = list(current_app.config.get("JOB_RETRY_INTERVALS") or [2, 10, 30, 120, 600, 1800, 3600])
    schedule = (intervals + intervals[-1:] * attempts)[:attempts]
    return Retry(max=attempts, interval=schedule)


def job_id_for(event_id: int) -> str:
    # One job id per event: RQ keeps one record per id, so the sweep can ask about it.
    return f"webhook-event-{event_id}"


def batch_job_id(event_ids: list[int]) -> str:
    # Unique: an event is claimed by one pump once, so no two batches share a first and last id.
    return f"webhook-events-{event_ids[0]}-{event_ids[-1]}"


def plan_jobs(event_ids: list[int]) -> list[list[int]]:
    """The pump's jobs for these (sorted) events: one per event when few are waiting, batches
    of up to JOB_BATCH_SIZE under a backlog. RQ spends more CPU on a job (some 40 Redis commands)
    than applying a subscription event costs us, so a batch of ten is several times cheaper;
    with only a few waiting, one job each keeps every worker busy."""
    size = max(1, int(current_app.config.get("JOB_BATCH_SIZE") or 1))
    if len(event_ids) < 2 * size:
        return [[event_id] for event_id in event_ids]
    return [event_ids[i:i + size] for i in range(0, len(event_ids), size)]


_JOB_OPTIONS = {"job_timeout": 120, "result_ttl": 0, "failure_ttl": 7 * 24 * 3600}


def batch_timeout(size: int) -> int:
    return 120 + 30 * size


def schedule_retry(event_id: int) -> bool:
    """After an event failed inside a batch: its own job, due after the first backoff interval,
    carrying the rest of the retry policy. False (logged) if Redis is down; the event is then
    ``retrying`` with no job, which the sweep re-queues."""
    from datetime import timedelta

    from saas.webhooks.jobs import process_event

    policy = retry_policy()
    if policy is None:
        return True
    first, rest = policy.intervals[0], policy.intervals[1:]
    try:
        get_queue().enqueue_in(timedelta(seconds=first), process_event, event_id, job_id=job_id_for(event_id),
                               retry=Retry(max=len(rest), interval=rest) if rest else None, **_JOB_OPTIONS)
        return True
    except Exception as exc:  # noqa: BLE001
        log.warning("could not schedule the retry of webhook event %s (%s); the sweep will queue it",
                    event_id, type(exc).__name__)
        return False


def enqueue_event(event_id: int) -> bool:
    """Queue processing of a stored webhook event. Returns False (and logs) if Redis is down;
    the event stays stored and the sweep queues it later."""
    return enqueue_events([event_id])


def enqueue_events(event_ids: list[int], warn: bool = True) -> bool:
    """Queue processing of stored webhook events, in this order, in one Redis round trip.
    All or nothing as far as the caller knows: False (logged) if Redis could not take them,
    and then the caller must treat none of them as queued (some may have been: processing is
    idempotent, so a second job later is harmless). ``warn=False``: a caller that already
    reported the outage (the pump thread, retrying every second) gets the failure logged at
    DEBUG only."""
    return enqueue_jobs([[event_id] for event_id in event_ids], warn=warn)


def enqueue_jobs(jobs: list[list[int]], warn: bool = True) -> bool:
    """Queue these jobs (from ``plan_jobs``) in one Redis round trip; the same contract as
    ``enqueue_events``. A job of one event is that event's own, with RQ's retry policy; a batch
    has none, because each event in it retries on its own (``jobs.process_events``)."""
    from saas.webhooks.jobs import process_event, process_events

    if not jobs:
        return True
    event_ids = [event_id for job in jobs for event_id in job]
    try:
        q, retry = get_queue(), retry_policy()
        with q.connection.pipeline() as pipe:
            for job in jobs:
                if len(job) == 1:
                    q.enqueue(process_event, job[0], job_id=job_id_for(job[0]), retry=retry, pipeline=pipe,
                              **_JOB_OPTIONS)
                else:
                    q.enqueue(process_events, job, job_id=batch_job_id(job), pipeline=pipe,
                              **dict(_JOB_OPTIONS, job_timeout=batch_timeout(len(job))))
            pipe.execute()
        return True
    except Exception as exc:  # redis.ConnectionError, TimeoutError...
        log.log(logging.WARNING if warn else logging.DEBUG,
                "could not enqueue %d webhook event(s) from %s (%s); they stay stored and are queued "
                "once Redis is back", len(event_ids), event_ids[0], type(exc).__name__)
        return False


def worker_class(app: Flask):
    """An RQ ``SimpleWorker`` that runs every job inside ``app``'s context.

    SimpleWorker, not the forking ``Worker``: measured here it applies 166 jobs/s per process
    against 6-13 for a fork per job. What forking buys (a job that leaks memory or wedges dies
    with its child) matters less than throughput for short database jobs; a crash of the whole
    worker is covered by the inbox (the event stays unprocessed and the sweep re-queues it).
    """
    from rq import SimpleWorker

    class AppWorker(SimpleWorker):
        def execute_job(self, job, queue):
            with app.app_context():
                return super().execute_job(job, queue)

    return AppWorker


def make_worker(app: Flask, name: str | None = None):
    with app.app_context():
        connection = redis_conn()
        queue = get_queue()
    return worker_class(app)([queue], connection=connection, name=name)
