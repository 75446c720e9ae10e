"""User accounts."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.extensions import db
from saas.timefmt import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored as typed; uniqueness is case-insensitive through the lower(email) index.
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # At most one free trial per person, ever.
    has_had_trial: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    subscriptions = relationship("Subscription", back_populates="user", lazy="selectin",
                                 order_by="Subscription.id")

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
