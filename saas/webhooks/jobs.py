"""The RQ job that applies one stored event, exactly once."""

from __future__ import annotations

import logging
import traceback

from rq.timeouts import JobTimeoutException
from sqlalchemy import bindparam, select

from saas.extensions import db
from saas.timefmt import utcnow
from saas.webhooks.models import WebhookEvent
from saas.webhooks.registry import Ignore, handlers_for

log = logging.getLogger(__name__)

# Built once: SQLAlchemy memoises the cache key only on a statement object it has seen, and
# looking a freshly built one up cost more CPU than running it.
_LOCK_EVENT = select(WebhookEvent).where(WebhookEvent.id == bindparam("event_id")).with_for_update()


def process_events(event_ids: list[int]) -> str:
    """A batch job (queued by the pump under a backlog): each event exactly as its own job
    would apply it, in its own transaction. One event failing does not hold up the others: it
    is recorded and gets a job of its own for its retries."""
    counts: dict[str, int] = {}
    for event_id in event_ids:
        status = process_event(event_id, in_batch=True)
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def process_event(event_id: int, in_batch: bool = False) -> str:
    """Apply stored event ``event_id``.

    The event row is locked for the whole transaction and the handlers' writes commit together
    with ``status='processed'``, so an event is applied once even if two jobs race or a worker
    dies mid-way (then nothing commits and the retry starts clean). On failure the error is
    recorded in a separate transaction and re-raised so RQ retries with backoff; inside a batch
    (``in_batch``) its retries are scheduled as a job of its own instead.
    """
    event = db.session.execute(_LOCK_EVENT, {"event_id": event_id}).scalar_one_or_none()
    if event is None:
        db.session.rollback()
        log.warning("event row %s not found", event_id)
        return "missing"
    if event.status in ("processed", "ignored"):
        db.session.rollback()
        return event.status
    handlers = handlers_for(event.type)
    try:
        if not handlers:
            event.status = "ignored"
            event.last_error = f"no handler for {event.type}"
        else:
            for handler in handlers:
                handler(event.payload, event)
            event.status = "processed"
            event.last_error = None
        event.attempts += 1
        event.processed_at = utcnow()
        status = event.status  # read before commit, which would expire it and cost a reload
        db.session.commit()
        return status
    except Ignore as exc:
        db.session.rollback()
        _record(event_id, "ignored", str(exc))
        log.info("event %s ignored: %s", event_id, exc)
        return "ignored"
    except Exception as exc:
        db.session.rollback()
        if in_batch:
            from saas import queue

            final = queue.retry_policy() is None
        else:
            final = _is_last_attempt()
        status = "failed" if final else "retrying"
        _record(event_id, status, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"[:4000],
                own_job=in_batch)
        log.warning("event %s failed (%s)%s", event_id, type(exc).__name__, "; giving up" if final else "; will retry")
        if not in_batch:
            raise
        if not final:
            queue.schedule_retry(event_id)
        if isinstance(exc, JobTimeoutException):
            # The batch's time is up (RQ raises this once, in whatever runs then): stop here,
            # or the rest would run with no timeout at all. The sweep re-queues them (a failed
            # batch is not waiting).
            raise
        return status


def _record(event_id: int, status: str, error: str, own_job: bool = False) -> None:
    """``own_job``: from now on the event's job is its own (webhook-event-<id>), not a batch."""
    event = db.session.execute(_LOCK_EVENT, {"event_id": event_id}).scalar_one_or_none()
    if event is not None and event.status not in ("processed",):
        event.status = status
        event.last_error = error
        event.attempts += 1
        if status == "ignored":
            event.processed_at = utcnow()
        if own_job:
            event.job_id = None
    db.session.commit()


def _is_last_attempt() -> bool:
    from rq import get_current_job

    job = get_current_job()
    if job is None:  # called directly (tests, replay from the admin): no retries follow
        return True
    return not job.retries_left
