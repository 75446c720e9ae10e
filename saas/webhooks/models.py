"""The durable webhook inbox: every verified Stripe event is stored before anything else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.extensions import db
from saas.timefmt import utcnow

# received -> processed | ignored | failed; "retrying" between failed attempts.
EVENT_STATUSES = ("received", "retrying", "processed", "ignored", "failed")


class WebhookEvent(db.Model):
    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # Filled by handlers so that admins can see whose events these were.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default="now()")
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the pump handed the event to RQ; NULL: stored, not queued yet (see webhooks/pump.py).
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The RQ job that applies it, when not its own webhook-event-<id> (a batch: see queue.py).
    job_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_webhook_events_status_id", "status", "id"),
        Index("ix_webhook_events_type_id", "type", "id"),
        Index("ix_webhook_events_unqueued", "id", postgresql_where=text("queued_at IS NULL")),
    )
