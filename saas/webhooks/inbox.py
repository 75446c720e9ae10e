"""Storing events and queueing their processing (the inbox side, no business logic)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import timedelta, timezone

from sqlalchemy import select, update

from saas.extensions import db
from saas.timefmt import from_unix, utcnow
from saas.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)


class InboxUnavailable(Exception):
    """The event could not be stored (PostgreSQL down, or it refused the row)."""


# One statement, one round trip, committed on its own (autocommit): the row is durable when
# this returns.
_INSERT = """
WITH ins AS (
    INSERT INTO webhook_events (stripe_id, type, api_version, livemode, stripe_created, object_id,
                                payload, status, attempts, received_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, 'received', 0, %s)
    ON CONFLICT (stripe_id) DO NOTHING
    RETURNING id)
SELECT id FROM ins
"""

# Wakes the workers' pump (webhooks/pump.py), which LISTENs on this channel and queues the job.
NOTIFY_CHANNEL = "saas_webhook_inbox"
_NOTIFY = "SELECT pg_notify(%s, '')"
# A connection notifies after a stored insert only if it has not for this long. PostgreSQL
# serialises notifying commits (one lock, held through the commit's WAL flush): notifying with
# every insert made a flood's p99 three to six times worse. Measured from the commit, so every
# insert committed at most this long after a notification the pump has read; the pump keeps
# polling for pump.LINGER_SECONDS (longer) after each wake-up, and so finds them all.
NOTIFY_EVERY_SECONDS = 0.05


def store_event(event: dict, raw: bytes | None = None) -> int | None:
    """Store the event once and commit. Returns its row id, or None if this Stripe event id
    was already stored (a redelivery). Queueing its job is the pump's business, not ours.

    ``raw`` is the verified request body: stored as it came, which spares serialising the
    event again (and walking it for NUL characters that are not there).

    Plain psycopg2 on a connection of its own, not the ORM session: this is the whole cost of
    acknowledging a webhook, and the session, the pool's pre-ping and a Redis enqueue made it
    four times slower (bench/webhook_ack.py). Raises InboxUnavailable if it could not store.
    """
    if raw is None or b"\\u0000" in raw:
        event = _storable(event)
        text = json.dumps(event, separators=(",", ":"))
    else:
        text = raw.decode("utf-8")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    obj = data.get("object") if isinstance(data.get("object"), dict) else {}
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    created = event.get("created")
    if not isinstance(created, int) or not 0 < created < 32503680000:  # before the year 3000
        created = None
    params = (
        event["id"][:255],
        event["type"][:100],
        str(event.get("api_version") or "")[:64] or None,
        bool(event.get("livemode")),
        from_unix(created),
        object_id[:255] if object_id else None,
        text,
        utcnow(),
    )
    connections = _intake_connections()
    row = connections.execute(_INSERT, params)
    if row is None:
        return None  # a redelivery: stored before, nothing new for the pump
    now = time.monotonic()
    if now - connections.last_notify >= NOTIFY_EVERY_SECONDS:
        try:
            connections.execute(_NOTIFY, (NOTIFY_CHANNEL,))
            connections.last_notify = now
        except InboxUnavailable:  # the row is stored: the pump's idle poll finds it
            pass
    return row[0] if row else None


class _IntakeConnections(threading.local):
    """One autocommit connection per thread, opened on first use, for the inbox insert."""

    def __init__(self, connect):
        self.connect = connect
        self.conn = None
        self.pid = None
        self.last_notify = float("-inf")

    def execute(self, sql: str, params: tuple):
        import psycopg2
        import psycopg2.errors

        for attempt in (1, 2):
            fresh = self.conn is None or self.conn.closed or self.pid != os.getpid()
            try:
                if fresh:
                    self.conn = None  # never reuse a connection inherited across fork
                    self.conn = self.connect()
                    self.conn.autocommit = True
                    self.pid = os.getpid()
                with self.conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchone()
            except psycopg2.errors.QueryCanceled as exc:
                # WEBHOOK_INTAKE_TIMEOUT_MS ran out (the table locked by a migration, say): the
                # connection is fine and a retry would only wait as long again. 503: Stripe retries.
                raise InboxUnavailable("timed out waiting for the database") from exc
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                self.close()
                # A connection that had been idle may have been cut (a PostgreSQL restart, an
                # idle timeout): one retry on a new one. A new one failing means the database
                # is down. A retry is safe: the insert is idempotent on stripe_id.
                if fresh or attempt == 2:
                    raise InboxUnavailable(str(exc).strip().splitlines()[0] if str(exc).strip() else
                                           type(exc).__name__) from exc
            except psycopg2.Error as exc:
                # The database refused the row (autocommit: nothing is left open or half-written).
                raise InboxUnavailable(type(exc).__name__) from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and self.pid == os.getpid():
            try:
                conn.close()
            except Exception:  # noqa: BLE001  (already broken)
                pass


def _intake_connections() -> _IntakeConnections:
    from flask import current_app

    app = current_app._get_current_object()
    holder = app.extensions.get("saas.inbox_connections")
    if holder is None:
        # A bound on how long a delivery may wait (on a lock, mostly): without one a request
        # waited as long as a lock on webhook_events was held, tying up a web thread.
        timeout = int(app.config.get("WEBHOOK_INTAKE_TIMEOUT_MS") or 0)
        connect = _connector(app, options=f"-c statement_timeout={timeout}" if timeout > 0 else "")
        holder = app.extensions.setdefault("saas.inbox_connections", _IntakeConnections(connect))
    return holder


def _connector(app, name: str = "saas-webhook-intake", options: str = ""):
    """psycopg2.connect with what the app's SQLAlchemy engine would use (URL, query options,
    connect_args), so that both reach the same database the same way; ``options`` are added
    server settings (``-c name=value``)."""
    import psycopg2

    engine = db.engine
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    cparams = dict(cparams)
    cparams.update((app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("connect_args") or {})
    cparams.setdefault("connect_timeout", 3)
    cparams.setdefault("application_name", name)
    if options:
        cparams["options"] = f"{cparams.get('options', '')} {options}".strip()
    return lambda: psycopg2.connect(*cargs, **cparams)


def close_intake_connections(app) -> None:
    """Close this thread's intake connection (tests, and anything that disposes the engine)."""
    holder = app.extensions.get("saas.inbox_connections")
    if holder is not None:
        holder.close()


def _storable(value):
    """PostgreSQL's jsonb cannot hold U+0000. A signed event carrying one (in a description,
    say) would otherwise fail to store on every one of Stripe's retries; the handlers re-read
    the object from Stripe anyway, so the stored copy loses only that character."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def sweep_unprocessed(older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Queue what should be queued and is not. Returns how many events it queued.

    First the pump's work, whatever its age: events stored but never handed to RQ (no worker
    was running, or Redis was down). Then events queued but still unfinished after
    ``older_than_seconds``: their job was lost (Redis lost it, or a worker died holding it).
    Processing is idempotent, so queueing one twice is harmless.

    An event whose row is locked is being applied right now by a live job (``process_event``
    holds the row lock for its whole transaction), so ``SKIP LOCKED`` leaves it alone. A worker
    killed mid-job holds no lock: PostgreSQL drops its transaction with its connection, and
    the event shows up here as unlocked and unfinished although RQ still calls its job
    "started" (RQ itself would only notice the dead worker after job_timeout + 60 s and its
    ten-minute maintenance pass).
    """
    from flask import current_app

    from saas import queue
    from saas.webhooks import pump

    pumped = pump.pump_all()
    if pumped < 0:
        return 0  # Redis is down: nothing can be queued until it is back
    if older_than_seconds is None:
        older_than_seconds = current_app.config["SWEEP_AFTER_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    try:
        rows = db.session.execute(
            select(WebhookEvent.id, WebhookEvent.job_id)
            .where(WebhookEvent.status.in_(("received", "retrying")), WebhookEvent.received_at < cutoff,
                   WebhookEvent.queued_at.is_not(None))
            .order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    finally:
        db.session.rollback()
    requeued = []
    for event_id, job_id in rows:
        if _job_waiting(job_id or queue.job_id_for(event_id), cutoff, batch=job_id is not None):
            continue
        if not queue.enqueue_event(event_id):
            break  # Redis is down again: the next sweep carries on
        requeued.append(event_id)
    if requeued:
        # Their job is now their own: the next sweep must ask about that one, not the lost batch.
        db.session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(requeued), WebhookEvent.job_id.is_not(None))
                           .values(job_id=None))
        db.session.commit()
        log.info("sweep re-queued %d stored webhook event(s) whose job was lost", len(requeued))
    return pumped + len(requeued)


def _job_waiting(job_id: str, started_before=None, batch: bool = False) -> bool:
    """True if RQ holds this job waiting to run (queued, scheduled for a retry with backoff,
    or deferred), or started it since ``started_before``. An older "started" job of one event
    is lost: were it really running, its row would have been locked and the sweep would not
    have picked it. A recent one may have started between the sweep's SELECT and this check.
    A batch works through its events one at a time, so those after the current one are
    unlocked while it runs: a batch counts as running until its timeout has passed."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from saas import queue

    try:
        job = Job.fetch(job_id, connection=queue.redis_conn())
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    except Exception:  # unreadable job data: queueing again is the safe side
        return False
    if status == JobStatus.STARTED and started_before is not None and job.started_at is not None:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=timezone.utc)
        if batch:
            return started >= utcnow() - timedelta(seconds=job.timeout or queue.batch_timeout(10))
        return started >= started_before
    if status == JobStatus.SCHEDULED and started_before is not None:
        # Due before the cutoff and still not moved to the queue: no RQ scheduler is running
        # (it is a child of a worker). Lost like any other; out of the registry, so that a
        # scheduler coming back does not run it a second time.
        from rq.registry import ScheduledJobRegistry

        registry = ScheduledJobRegistry(job.origin, connection=queue.redis_conn())
        try:
            due = registry.get_scheduled_time(job)
        except NoSuchJobError:
            return False  # scheduled, and in no registry: nothing would ever run it
        if due < started_before:
            registry.remove(job)
            return False
        return True
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
