"""The pump: hands stored webhook events to RQ.

Intake (webhooks/views.py) only stores the event and commits; that is all Stripe needs before
it gets its 200, and it keeps Redis off the acknowledgement path entirely (with Redis down,
webhooks are still acknowledged at full speed). Each worker process runs a pump thread that
LISTENs for the insert's notification, claims the rows not yet queued, queues them in one
Redis round trip and marks them queued in the same transaction.

Claims use ``FOR UPDATE SKIP LOCKED``, so several pumps never queue the same row twice. The
order is enqueue, then commit: a pump that dies between the two leaves the rows unclaimed and
another pump queues them again, which is harmless (processing is idempotent); the opposite
order could mark as queued an event no job was ever made for.
"""

from __future__ import annotations

import logging
import select
import threading
import time

from flask import Flask
from sqlalchemy import text

from saas.extensions import db

log = logging.getLogger(__name__)

BATCH = 500
# Without a notification (a missed one, or none ever: LISTEN needs the same database as the
# intake), the pump still looks this often.
IDLE_POLL_SECONDS = 1.0
# After each wake-up (a notification, or a claim that found work) the pump looks again every
# FAST_POLL_SECONDS for LINGER_SECONDS: intake notifies at most every
# inbox.NOTIFY_EVERY_SECONDS per connection, counted from its commits, so an insert that did
# not notify committed at most that long after a notification that woke the pump.
FAST_POLL_SECONDS = 0.02
LINGER_SECONDS = 0.25
# After a failure (Redis or PostgreSQL down), wait this long before trying again.
BACKOFF_SECONDS = 1.0

_CLAIM = text("""
UPDATE webhook_events SET queued_at = now()
WHERE id IN (SELECT id FROM webhook_events WHERE queued_at IS NULL
             ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING id, status
""")


# One statement for the whole claim (an executemany would be a round trip per row).
_SET_JOB = text("UPDATE webhook_events w SET job_id = v.job_id "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:jobs AS text[])) AS v(id, job_id) WHERE w.id = v.id")


def pump_once(limit: int = BATCH, warn: bool = True) -> int:
    """Queue up to ``limit`` stored, unqueued events (in an app context). Returns how many rows
    it claimed, or -1 if Redis refused them (then none is marked queued). ``warn=False``: a
    refusal is not logged as a warning again (the pump thread reports an outage once)."""
    from saas import queue

    try:
        rows = db.session.execute(_CLAIM, {"limit": limit}).all()
        if not rows:
            db.session.rollback()
            return 0
        # Rows already finished (applied directly, by a replay or a test) need no job.
        ids = sorted(row.id for row in rows if row.status in ("received", "retrying"))
        jobs = queue.plan_jobs(ids)
        batched = [(event_id, queue.batch_job_id(job)) for job in jobs if len(job) > 1 for event_id in job]
        if batched:
            db.session.execute(_SET_JOB, {"ids": [b[0] for b in batched], "jobs": [b[1] for b in batched]})
        if not queue.enqueue_jobs(jobs, warn=warn):
            db.session.rollback()
            return -1
        db.session.commit()
        return len(rows)
    except Exception:
        db.session.rollback()
        raise


def pump_all(limit: int = BATCH, warn: bool = True) -> int:
    """Queue every stored, unqueued event. Returns the number of rows claimed, -1 if Redis is down."""
    total = 0
    while True:
        n = pump_once(limit, warn)
        if n < 0:
            return -1
        total += n
        if n < limit:
            return total


def start(app: Flask, stop: threading.Event | None = None) -> threading.Thread:
    """Run the pump in a daemon thread of this (worker) process until ``stop`` is set."""
    stop = stop or threading.Event()
    thread = threading.Thread(target=_run, args=(app, stop), name="saas-pump", daemon=True)
    thread.start()
    return thread


def _run(app: Flask, stop: threading.Event) -> None:
    listener = None
    failing = None  # what the last round failed on ("redis", "error"): each outage is logged once
    awake_at = float("-inf")
    while not stop.is_set():
        try:
            if listener is None:
                listener = _listen(app)
            with app.app_context():
                try:
                    claimed = pump_all(warn=failing != "redis")
                finally:
                    db.session.remove()
            if claimed < 0:
                if failing != "redis":
                    log.warning("pump: Redis is unavailable; stored webhook events are queued once it is back")
                failing = "redis"
                stop.wait(BACKOFF_SECONDS)
                continue
            if failing:
                log.info("pump: %s; queueing stored webhook events again",
                         "Redis is back" if failing == "redis" else "recovered")
                failing = None
            now = time.monotonic()
            if claimed > 0:
                awake_at = now
            lingering = now - awake_at < LINGER_SECONDS
            if _wait_for_notification(listener, FAST_POLL_SECONDS if lingering else IDLE_POLL_SECONDS):
                awake_at = time.monotonic()
        except Exception as exc:  # noqa: BLE001  (PostgreSQL down, a dropped connection: keep trying)
            if failing != "error":
                log.warning("pump: %s: %s; retrying", type(exc).__name__, str(exc).strip()[:200])
            failing = "error"
            _close(listener)
            listener = None
            stop.wait(BACKOFF_SECONDS)
    _close(listener)


def _listen(app: Flask):
    from saas.webhooks.inbox import NOTIFY_CHANNEL, _connector

    with app.app_context():
        conn = _connector(app, "saas-webhook-pump")()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return conn


def _wait_for_notification(conn, timeout: float) -> bool:
    if select.select([conn], [], [], timeout)[0]:
        conn.poll()
        # One claim serves every notification that arrived meanwhile.
        woke = bool(conn.notifies)
        conn.notifies.clear()
        return woke
    return False


def _close(conn) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
