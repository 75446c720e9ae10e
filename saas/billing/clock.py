"""Stripe's clock for a customer, as far as Stripe's own data lets us know it.

Why this exists: the past_due grace period is a span of *Stripe's* time (it starts when the
renewal that failed was attempted, a Stripe timestamp). Comparing that with our wall clock is
only right while the two clocks agree. With a test clock, or the sandbox's time travel, Stripe's
clock for one customer jumps ahead while ours stands still: a wall-clock comparison then keeps
a customer "in grace" long after Stripe's own dunning has moved on (or, with a clock frozen in
the past, ends the grace at once).

The choice: derive Stripe's time from Stripe's data rather than ask for it. Every object Stripe
stamps for the customer (subscription periods, invoice creation and status transitions, the
charge of each payment attempt, dunning retries included) proves its clock reached at least that moment. We record the largest lead over
our wall clock seen so far and judge with ``utcnow() + lead``. This needs no extra API call per
page view, works the same for real Stripe test clocks and the sandbox, is unaffected by webhook
order (it is a running maximum), and is exactly the wall clock for ordinary customers (the lead
never goes below zero, since Stripe's live clock does not run behind real time).

Known limit: a jump in Stripe's clock that stamps nothing is seen only when the next stamped
object arrives. Dunning always stamps something (each retry creates a charge, then the
subscription goes unpaid/canceled), so a grace judgement is at worst as late as Stripe's next
retry. A test clock frozen in the past is judged on the wall clock (the lead is never negative).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from saas.billing.models import CustomerClock
from saas.extensions import db
from saas.timefmt import utcnow


def observe(customer_id: str | None, *moments: datetime | None, known: tuple | None = None) -> None:
    """Record that Stripe's clock for ``customer_id`` has reached each of ``moments``.

    ``known`` is the customer's row as the caller already read it in this transaction,
    ``(ahead_seconds, latest_stripe_time)`` (see ``known_columns``), or None if not read. When it
    already holds both maxima the write is skipped: it would only bump ``updated_at``. Skipping
    on a read that may be older is still right, since the row only ever grows: a newer value
    is at least as large."""
    moments = [m for m in moments if m is not None]
    if not customer_id or not moments:
        return
    latest = max(moments)
    ahead = max(0, int((latest - utcnow()).total_seconds()))
    if known is not None:
        known_ahead, known_latest = known
        if (known_ahead is not None and known_latest is not None
                and ahead <= known_ahead and latest <= known_latest):
            return
    # A running maximum in one statement: concurrent workers and any arrival order converge.
    stmt = insert(CustomerClock).values(
        stripe_customer_id=customer_id, ahead_seconds=ahead, latest_stripe_time=latest, updated_at=utcnow(),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[CustomerClock.stripe_customer_id],
        set_={
            "ahead_seconds": db.func.greatest(CustomerClock.ahead_seconds, stmt.excluded.ahead_seconds),
            "latest_stripe_time": db.func.greatest(CustomerClock.latest_stripe_time, stmt.excluded.latest_stripe_time),
            "updated_at": stmt.excluded.updated_at,
        },
    )
    db.session.execute(stmt)


def known_columns(customer_id: str):
    """The clock columns ``observe(..., known=...)`` takes, as scalar subqueries to put in a
    query the caller makes anyway (a round trip fewer than reading them on their own)."""
    mine = CustomerClock.stripe_customer_id == customer_id
    return (select(CustomerClock.ahead_seconds).where(mine).scalar_subquery(),
            select(CustomerClock.latest_stripe_time).where(mine).scalar_subquery())


def now_for(customer_id: str | None) -> datetime:
    """Stripe's current time for this customer (never earlier than our wall clock)."""
    now = utcnow()
    if not customer_id:
        return now
    ahead = db.session.execute(
        select(CustomerClock.ahead_seconds).where(CustomerClock.stripe_customer_id == customer_id)
    ).scalar_one_or_none()
    return now + timedelta(seconds=ahead or 0)
