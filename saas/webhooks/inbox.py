"""Storing events and queueing their processing (the inbox side, no business logic)."""

from __future__ import annotations

import logging
from datetime import timedelta, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from saas.extensions import db
from saas.timefmt import from_unix, utcnow
from saas.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)


def store_event(event: dict, raw: bytes | None = None) -> int | None:
    """Insert the event once. Returns its row id, or None if this Stripe event id was already
    stored (a redelivery): then no second job is queued either. ``raw`` (the request body, when
    there is one) spares walking the event for NUL characters that are not there.

    A Core insert on the table, not the ORM: this runs on every webhook request, and the ORM's
    bulk-insert bookkeeping cost more than the statement itself."""
    if raw is None or b"\\u0000" in raw:
        event = _storable(event)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    obj = data.get("object") if isinstance(data.get("object"), dict) else {}
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    created = event.get("created")
    if not isinstance(created, int) or not 0 < created < 32503680000:  # before the year 3000
        created = None
    table = WebhookEvent.__table__
    stmt = (
        insert(table)
        .values(
            stripe_id=event["id"][:255],
            type=event["type"][:100],
            api_version=str(event.get("api_version") or "")[:64] or None,
            livemode=bool(event.get("livemode")),
            stripe_created=from_unix(created),
            object_id=object_id[:255] if object_id else None,
            payload=event,
            status="received",
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_id"])
        .returning(table.c.id)
    )
    try:
        row = db.session.execute(stmt).first()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row[0] if row else None


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
    """Re-queue events stored but never finished (Redis was down at intake, a worker died,
    a job was lost). Processing is idempotent, so queueing one twice is harmless.

    An event whose row is locked is being applied right now by a live job (``process_event``
    holds the row lock for its whole transaction), so ``SKIP LOCKED`` leaves it alone. A worker
    killed mid-job holds no lock: PostgreSQL drops its transaction with its connection, and
    the event shows up here as unlocked and unfinished although RQ still calls its job
    "started" (RQ itself would only notice the dead worker after job_timeout + 60 s and its
    ten-minute maintenance pass).
    """
    from flask import current_app

    from saas import queue

    if older_than_seconds is None:
        older_than_seconds = current_app.config["SWEEP_AFTER_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    try:
        ids = db.session.execute(
            select(WebhookEvent.id)
            .where(WebhookEvent.status.in_(("received", "retrying")), WebhookEvent.received_at < cutoff)
            .order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars().all()
    finally:
        db.session.rollback()
    queued = 0
    for event_id in ids:
        if _job_waiting(event_id, cutoff):
            continue
        if not queue.enqueue_event(event_id):
            break  # Redis is down again: the next sweep carries on
        queued += 1
    if queued:
        log.info("sweep re-queued %d stored webhook event(s)", queued)
    return queued


def _job_waiting(event_id: int, started_before=None) -> bool:
    """True if RQ holds this event's job waiting to run (queued, scheduled for a retry with
    backoff, or deferred), or started it since ``started_before``. An older "started" job is
    lost: were it really running, its row would have been locked and the sweep would not have
    picked it. A recent one may have started between the sweep's SELECT and this check."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from saas import queue

    try:
        job = Job.fetch(queue.job_id_for(event_id), connection=queue.redis_conn())
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    except Exception:  # unreadable job data: queueing again is the safe side
        return False
    if status == JobStatus.STARTED and started_before is not None and job.started_at is not None:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=timezone.utc)
        return started >= started_before
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
