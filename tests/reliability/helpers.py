"""Small helpers for the reliability tests: reading the inbox and RQ from the test's side."""

from __future__ import annotations


def events(app) -> list[tuple]:
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        rows = db.session.execute(db.select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
        out = [(e.stripe_id, e.status, e.attempts, e.last_error) for e in rows]
        db.session.rollback()
        return out


def job_ids(app) -> list[str]:
    from saas import queue

    with app.app_context():
        return queue.get_queue().get_job_ids()


def effects(app, probe) -> list[str]:
    with app.app_context():
        return probe.effects()
