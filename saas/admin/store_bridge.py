"""The admin's only door to the store. The store is a separate feature that may not be built
(or deployed) yet: everything order-related goes through here and is off when
``saas.store.models`` does not import, so the console works either way and the orders list,
store revenue and refund action switch on by themselves once the store exists."""

from __future__ import annotations

import importlib
from datetime import date, datetime


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

# Order statuses the list filter offers: the store's own list (no guessed copy to drift).
ORDER_STATUSES: tuple[str, ...] = tuple(getattr(_models, "ORDER_STATUSES", ()))


RevenueDay = getattr(_models, "StoreRevenueDay", None)


def revenue_since(since: date) -> dict[str, int]:
    """Store takings from the UTC day ``since`` on, net of refunds, per currency (empty without
    a store). Read from the daily rollup, so the cost is the number of days, not of orders."""
    if not AVAILABLE:
        return {}
    from sqlalchemy import func, select

    from saas.extensions import db

    rows = db.session.execute(
        select(RevenueDay.currency, func.sum(RevenueDay.amount_paid - RevenueDay.amount_refunded))
        .where(RevenueDay.day >= since).group_by(RevenueDay.currency)).all()
    return {currency: int(total) for currency, total in rows}


def orders_paid_since(since: date) -> int:
    if not AVAILABLE:
        return 0
    from sqlalchemy import func, select

    from saas.extensions import db

    return int(db.session.execute(
        select(func.coalesce(func.sum(RevenueDay.orders_paid), 0)).where(RevenueDay.day >= since)).scalar())


def monthly_revenue(since: datetime) -> list[tuple[datetime, str, int]]:
    if not AVAILABLE:
        return []
    from sqlalchemy import DateTime, cast, func, select

    from saas.extensions import db

    # A plain timestamp, so the month boundaries do not depend on the session's time zone.
    month = func.date_trunc("month", cast(RevenueDay.day, DateTime()))
    rows = db.session.execute(
        select(month, RevenueDay.currency, func.sum(RevenueDay.amount_paid - RevenueDay.amount_refunded))
        .where(RevenueDay.day >= since.date())
        .group_by(month, RevenueDay.currency)
    ).all()
    return [(m, c, int(v)) for m, c, v in rows]


def flagged_orders(limit: int = 5) -> tuple[int, list]:
    """(how many orders are flagged for review, the newest ``limit`` of them). Both read the
    partial index ix_orders_flagged_id, which holds only flagged orders."""
    if not AVAILABLE:
        return 0, []
    from sqlalchemy import func, select

    from saas.extensions import db

    flagged = Order.review_reason.is_not(None)
    count = db.session.execute(select(func.count()).select_from(Order).where(flagged)).scalar()
    rows = list(db.session.execute(select(Order).where(flagged).order_by(Order.id.desc()).limit(limit)).scalars())
    return int(count or 0), rows


def recent_orders(limit: int = 5) -> list:
    if not AVAILABLE:
        return []
    from sqlalchemy import select

    from saas.extensions import db

    return list(db.session.execute(select(Order).order_by(Order.id.desc()).limit(limit)).scalars())


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
