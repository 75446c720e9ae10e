"""The admin's only door to the store. The store is a separate feature that may not be built
(or deployed) yet: everything order-related goes through here and is off when
``saas.store.models`` does not import, so the console works either way and the orders list,
store revenue and refund action switch on by themselves once the store exists."""

from __future__ import annotations

import importlib
from datetime import datetime


def _load():
    try:
        models = importlib.import_module("saas.store.models")
    except ModuleNotFoundError as exc:
        if exc.name not in ("saas.store", "saas.store.models"):
            raise  # the store exists but is broken: that must be loud
        return None
    return models if hasattr(models, "Order") else None


_models = _load()
AVAILABLE = _models is not None
Order = getattr(_models, "Order", None)

# Order statuses the list filter offers; read from the store when it declares them.
ORDER_STATUSES: tuple[str, ...] = tuple(getattr(_models, "ORDER_STATUSES", ())) or (
    "pending", "paid", "failed", "canceled", "refunded", "partially_refunded")


def revenue_since(since: datetime) -> dict[str, int]:
    """Store takings since ``since`` net of refunds, per currency (empty without a store)."""
    if not AVAILABLE:
        return {}
    from sqlalchemy import func, select

    from saas.extensions import db

    rows = db.session.execute(
        select(Order.currency, func.coalesce(func.sum(Order.total_amount - func.coalesce(Order.amount_refunded, 0)), 0))
        .where(Order.paid_at.is_not(None), Order.paid_at >= since)
        .group_by(Order.currency)
    ).all()
    return {currency: int(total) for currency, total in rows}


def monthly_revenue(since: datetime) -> list[tuple[datetime, str, int]]:
    if not AVAILABLE:
        return []
    from sqlalchemy import func, select

    from saas.extensions import db

    month = func.date_trunc("month", func.timezone("UTC", Order.paid_at))
    rows = db.session.execute(
        select(month, Order.currency, func.sum(Order.total_amount - func.coalesce(Order.amount_refunded, 0)))
        .where(Order.paid_at.is_not(None), Order.paid_at >= since)
        .group_by(month, Order.currency)
    ).all()
    return [(m, c, int(v)) for m, c, v in rows]


def orders_for_user(user_id: int, limit: int = 100) -> list:
    if not AVAILABLE:
        return []
    from sqlalchemy import select

    from saas.extensions import db

    return list(db.session.execute(
        select(Order).where(Order.user_id == user_id).order_by(Order.id.desc()).limit(limit)).scalars())


def refund(order_id: int, amount: int | None, idempotency_key: str):
    """Refund through the store's own service (Stripe refund; its webhook updates the order)."""
    if not AVAILABLE:
        raise RuntimeError("the store is not installed")
    services = importlib.import_module("saas.store.services")
    return services.refund_order(order_id, amount, idempotency_key=idempotency_key)
