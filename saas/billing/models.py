"""Mirror of Stripe billing objects: the Pro plan, subscriptions and invoices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.extensions import db
from saas.timefmt import utcnow


class Plan(db.Model):
    """A price we sell. Only prices listed here ever grant Pro."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    stripe_price_id: Mapped[str] = mapped_column(String(255), unique=True)
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Subscription(db.Model):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    # True when the price is not one in `plans`: flagged, never treated as Pro or as free.
    unknown_price: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    current_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trial_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trial_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Stripe's pause_collection behavior ("keep_as_draft", "mark_uncollectible", "void") or None.
    pause_collection: Mapped[str | None] = mapped_column(String(32))
    latest_invoice_id: Mapped[str | None] = mapped_column(String(255))
    stripe_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    user = relationship("User", back_populates="subscriptions")

    __table_args__ = (Index("ix_subscriptions_status_id", "status", "id"),)


class Invoice(db.Model):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32), index=True)
    billing_reason: Mapped[str | None] = mapped_column(String(64))
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # When Stripe will retry a failed payment (Stripe's clock); None when no retry is planned.
    next_payment_attempt: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "<problem>:<attempt_count>" of the last dunning notice sent, so that one failed attempt is
    # announced once however many events (redeliveries, replays, new ids) report it.
    dunning_notified: Mapped[str | None] = mapped_column(String(64))
    # Set while a payment failed or needs action and the invoice is still open (dunning).
    payment_problem: Mapped[str | None] = mapped_column(String(32))
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_invoices_status_id", "status", "id"),)


class CustomerClock(db.Model):
    """How far Stripe's clock for one customer is known to run ahead of ours.

    Stripe keeps time per customer: a test clock (or the sandbox's time travel) moves it while
    our wall clock stands still. Judgements measured in Stripe's time (the past_due grace) use
    ``utcnow() + ahead_seconds``; see ``saas.billing.clock``.
    """

    __tablename__ = "billing_customer_clocks"

    stripe_customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    ahead_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    # The latest Stripe-clock moment evidenced by Stripe's data, for the admin and debugging.
    latest_stripe_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
