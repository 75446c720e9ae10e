"""Store tables: products, carts (anonymous or a user's) and orders with their line snapshots."""

from __future__ import annotations

from datetime import datetime

from datetime import date

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.extensions import db
from saas.timefmt import utcnow

__all__ = ["Product", "Cart", "CartItem", "Order", "OrderLine", "StoreRevenueDay", "ORDER_STATUSES", "FINAL_STATUSES"]

ORDER_STATUSES = ("pending", "requires_action", "paid", "failed", "refunded", "cancelled")
# Statuses after which the order page stops polling (a failed order may still be paid again,
# but only after the shopper acts, so there is nothing to wait for).
FINAL_STATUSES = frozenset({"paid", "failed", "refunded", "cancelled"})
MAX_QUANTITY = 99


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # A path under /static or an absolute URL; empty shows a placeholder tile.
    image_url: Mapped[str | None] = mapped_column(String(500))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Incremented once per paid order line (fulfilment), never by a page view or a retry.
    units_sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint("unit_amount > 0", name="ck_products_unit_amount_positive"),)


class Cart(db.Model):
    """A visitor's cart: keyed by ``token`` (kept in the session) until they log in, then by user."""

    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # Sent with the checkout form and stored on the order it creates: a second submit of the
    # same form finds that order instead of making another one.
    checkout_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    items = relationship("CartItem", back_populates="cart", cascade="all, delete-orphan",
                         order_by="CartItem.id", lazy="selectin")

    __table_args__ = (CheckConstraint("token IS NOT NULL OR user_id IS NOT NULL", name="ck_carts_owner"),)


class CartItem(db.Model):
    __tablename__ = "cart_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    # SET NULL rather than CASCADE so that a deleted product leaves a row we can tell the shopper about.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    product_name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cart = relationship("Cart", back_populates="items")
    product = relationship("Product", lazy="joined")

    __table_args__ = (
        UniqueConstraint("cart_id", "product_id", name="uq_cart_items_cart_product"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_QUANTITY}", name="ck_cart_items_quantity"),
    )


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed through ix_orders_user_id_id (history pages list a user's orders newest first).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_token: Mapped[str] = mapped_column(String(64), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # Set when Stripe reports something we must not act on by ourselves (e.g. a succeeded intent
    # whose amount or currency differs from the order): a person has to look.
    review_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    lines = relationship("OrderLine", back_populates="order", cascade="all, delete-orphan",
                         order_by="OrderLine.id", lazy="selectin")

    __table_args__ = (
        CheckConstraint("total_amount > 0", name="ck_orders_total_positive"),
        CheckConstraint("amount_refunded >= 0", name="ck_orders_refunded_nonnegative"),
        CheckConstraint("status IN ('pending','requires_action','paid','failed','refunded','cancelled')",
                        name="ck_orders_status"),
        Index("ix_orders_user_id_id", "user_id", "id"),
        Index("ix_orders_status_id", "status", "id"),
        # Date-filtered admin lists page by (created_at, id) so a range is one backward index scan.
        Index("ix_orders_created_at_id", "created_at", "id"),
        # Orders flagged for a person to look at are few: the dashboard counts and lists them from this.
        Index("ix_orders_flagged_id", "id", postgresql_where=text("review_reason IS NOT NULL")),
    )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def can_pay(self) -> bool:
        return self.status in ("pending", "failed", "requires_action") and self.review_reason is None


class OrderLine(db.Model):
    """What was bought, as it was at checkout: later price or name changes do not touch it."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    product_name: Mapped[str] = mapped_column(String(120))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)

    order = relationship("Order", back_populates="lines")

    __table_args__ = (
        CheckConstraint("unit_amount > 0", name="ck_order_lines_unit_amount_positive"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_QUANTITY}", name="ck_order_lines_quantity"),
    )

    @property
    def line_total(self) -> int:
        return self.unit_amount * self.quantity


class StoreRevenueDay(db.Model):
    """Store takings per UTC day (of ``paid_at``) and currency, kept in the same transaction as the
    order change that causes it: +1 order and its total when an order is fulfilled, + the growth
    of ``amount_refunded`` when Stripe reports a refund (counted on the day the order was paid,
    so a month's figure is what that month's orders finally brought in).

    The dashboard reads 30 days and 12 months from here: summing the orders themselves grows
    with the number of orders, this grows with the number of days."""

    __tablename__ = "store_revenue_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    orders_paid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
