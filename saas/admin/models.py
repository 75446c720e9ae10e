"""The audit log of admin actions: who did what to which object, when, and how it ended."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.extensions import db
from saas.timefmt import utcnow

__all__ = ["AdminAction"]


class AdminAction(db.Model):
    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # SET NULL, and the email copied: the record must outlive the admin's account.
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    admin_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(50))          # "replay_event", "resync_user", "refund_order"
    target_type: Mapped[str] = mapped_column(String(50))     # "webhook_event", "user", "order"
    target_id: Mapped[str] = mapped_column(String(255))
    # The user the target belongs to, so the per-user timeline can show actions on them.
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))          # "ok" | "error"
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    admin = relationship("User", foreign_keys=[admin_id])

    __table_args__ = (
        Index("ix_admin_actions_subject_user_id_id", "subject_user_id", "id"),
        Index("ix_admin_actions_target", "target_type", "target_id"),
    )


# Indexes the admin lists need on other features' tables. Declared here (an Index built from
# columns attaches itself to their table) so the models match migration 0005 and autogenerate
# stays quiet, without the admin editing the billing and webhook models.
from saas.billing.models import Invoice, Subscription  # noqa: E402
from saas.webhooks.models import WebhookEvent  # noqa: E402

Index("ix_subscriptions_user_id_id", Subscription.user_id, Subscription.id)
Index("ix_subscriptions_stripe_created", Subscription.stripe_created)
Index("ix_invoices_user_id_id", Invoice.user_id, Invoice.id)
Index("ix_webhook_events_user_id_id", WebhookEvent.user_id, WebhookEvent.id)
Index("ix_webhook_events_received_at", WebhookEvent.received_at)
