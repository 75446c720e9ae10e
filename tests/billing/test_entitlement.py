"""The one entitlement policy, table-driven over every subscription status Stripe documents and
every pause_collection behavior; the grace period on Stripe's clock; the best-live rule."""

from __future__ import annotations

import typing
from datetime import timedelta

import pytest
import stripe

from saas.billing.entitlement import POLICY, Access, access_for, grants_pro, is_pro, best_subscription
from saas.billing.models import Subscription
from saas.timefmt import utcnow

from .conftest import make_user, subscription_payload

PERIOD_START = utcnow() - timedelta(days=2)
IN_GRACE = PERIOD_START + timedelta(days=6)       # PAST_DUE_GRACE_DAYS is 7 by default
AFTER_GRACE = PERIOD_START + timedelta(days=7, seconds=1)

# (status, pause_collection behavior, Pro at IN_GRACE, Pro at AFTER_GRACE)
CASES = [
    ("trialing", None, True, True),
    ("active", None, True, True),
    ("past_due", None, True, False),
    ("unpaid", None, False, False),
    ("incomplete", None, False, False),
    ("incomplete_expired", None, False, False),
    ("canceled", None, False, False),
    ("paused", None, False, False),
    # Pausing payment collection is Stripe's "offer the service for free for a while": Pro stays.
    ("active", "keep_as_draft", True, True),
    ("active", "mark_uncollectible", True, True),
    ("active", "void", True, True),
    ("trialing", "void", True, True),
    # ...but it never turns a state without Pro into Pro.
    ("past_due", "keep_as_draft", True, False),
    ("unpaid", "mark_uncollectible", False, False),
    ("canceled", "void", False, False),
    ("paused", "keep_as_draft", False, False),
]


def _sub(status, pause=None, unknown_price=False):
    return Subscription(stripe_id="sub_x", stripe_customer_id="cus_x", status=status, pause_collection=pause,
                        unknown_price=unknown_price, current_period_start=PERIOD_START,
                        current_period_end=PERIOD_START + timedelta(days=30))


def _literals(annotation) -> set[str]:
    literal = next(a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal)
    return set(typing.get_args(literal))


def test_policy_covers_exactly_the_statuses_stripe_documents():
    assert set(POLICY) == _literals(stripe.Subscription.__annotations__["status"])
    assert {s for s, *_ in CASES} == set(POLICY)


def test_every_pause_collection_behavior_is_decided():
    from saas.billing.entitlement import PAUSE_COLLECTION

    behaviors = _literals(stripe.Subscription.PauseCollection.__annotations__["behavior"])
    assert set(PAUSE_COLLECTION) == behaviors
    assert behaviors <= {p for _, p, *_ in CASES}


@pytest.mark.parametrize("status,pause,in_grace,after_grace", CASES)
def test_policy_table(ctx, status, pause, in_grace, after_grace):
    sub = _sub(status, pause)
    assert grants_pro(sub, now=IN_GRACE) is in_grace
    assert grants_pro(sub, now=AFTER_GRACE) is after_grace


@pytest.mark.parametrize("status", sorted(POLICY))
def test_unknown_price_never_grants_pro(ctx, status):
    assert access_for(_sub(status, unknown_price=True)) is Access.NONE
    assert grants_pro(_sub(status, unknown_price=True), now=PERIOD_START) is False


def test_unknown_status_grants_nothing(ctx):
    assert grants_pro(_sub("some_future_status"), now=PERIOD_START) is False


def test_grace_length_is_configurable(app_config, database_url):
    from saas import create_app

    app = create_app(dict(app_config, PAST_DUE_GRACE_DAYS=2))
    with app.app_context():
        sub = _sub("past_due")
        assert grants_pro(sub, now=PERIOD_START + timedelta(days=1, hours=23))
        assert not grants_pro(sub, now=PERIOD_START + timedelta(days=2, seconds=1))
    with app.app_context():
        from saas.extensions import db

        db.engine.dispose()


def test_grace_is_judged_on_stripes_clock_not_ours(ctx):
    """Time travel moved Stripe 20 days ahead: a renewal that failed 'then' is in grace by
    Stripe's clock, and the grace ends when Stripe's data shows its clock passed the end."""
    from saas.billing import clock

    start = utcnow() + timedelta(days=20)
    sub = Subscription(stripe_id="sub_y", stripe_customer_id="cus_travel", status="past_due", unknown_price=False,
                       current_period_start=start, current_period_end=start + timedelta(days=30))
    clock.observe("cus_travel", start)
    assert grants_pro(sub)
    clock.observe("cus_travel", start + timedelta(days=3))   # an older moment changes nothing
    clock.observe("cus_travel", start + timedelta(days=1))
    assert grants_pro(sub)
    clock.observe("cus_travel", start + timedelta(days=8))   # e.g. Stripe's second retry happened
    assert not grants_pro(sub)
    # Another customer's clock is its own.
    other = Subscription(stripe_id="sub_z", stripe_customer_id="cus_other", status="past_due", unknown_price=False,
                         current_period_start=utcnow() - timedelta(days=1))
    assert grants_pro(other)


def test_clock_never_runs_behind_the_wall_clock(ctx):
    from saas.billing import clock

    clock.observe("cus_old", utcnow() - timedelta(days=365))
    assert clock.now_for("cus_old") >= utcnow() - timedelta(seconds=1)


def test_best_live_subscription_wins(ctx, price_id):
    """Resubscribed after cancelling: the old subscription's end never takes Pro away."""
    from saas.billing.services import apply_subscription
    from saas.extensions import db

    user = make_user("multi@example.com", "cus_multi")
    now = int(utcnow().timestamp())
    new = apply_subscription(subscription_payload(customer="cus_multi", price=price_id, status="active",
                                                  created=now - 60, period_start=now - 60))
    old = apply_subscription(subscription_payload(customer="cus_multi", price=price_id, status="canceled",
                                                  created=now - 90 * 86400, period_start=now - 40 * 86400,
                                                  ended_at=now - 10 * 86400))
    db.session.commit()
    db.session.refresh(user)
    assert is_pro(user) and best_subscription(user).stripe_id == new.stripe_id
    # A newer subscription that grants nothing (an abandoned 3DS attempt) does not win either.
    apply_subscription(subscription_payload(customer="cus_multi", price=price_id, status="incomplete_expired",
                                            created=now, period_start=now))
    db.session.commit()
    db.session.refresh(user)
    assert is_pro(user) and best_subscription(user).stripe_id == new.stripe_id
    # With nothing live, the newest one is shown.
    new.status = "canceled"
    db.session.commit()
    db.session.refresh(user)
    assert not is_pro(user)
    assert best_subscription(user).status == "incomplete_expired"
    assert old.status == "canceled"


def test_unknown_price_is_flagged_in_the_log_and_the_row(ctx, price_id, caplog):
    from saas.billing.services import apply_subscription
    from saas.extensions import db

    user = make_user("odd@example.com", "cus_odd")
    with caplog.at_level("WARNING", logger="saas.billing.services"):
        sub = apply_subscription(subscription_payload(customer="cus_odd", price="price_not_ours", status="active"))
    db.session.commit()
    assert sub.unknown_price is True and sub.stripe_price_id == "price_not_ours"
    assert any("price_not_ours" in r.getMessage() and "not a price we sell" in r.getMessage() for r in caplog.records)
    db.session.refresh(user)
    assert not is_pro(user)
    # The admin can list flagged subscriptions by the column.
    from sqlalchemy import select

    flagged = db.session.execute(select(Subscription.stripe_id).where(Subscription.unknown_price.is_(True))).scalars().all()
    assert flagged == [sub.stripe_id]
    # Once the price becomes one we sell (the plan was seeded late), the next sync clears the flag.
    sub2 = apply_subscription(subscription_payload(customer="cus_odd", price=price_id, sub_id=sub.stripe_id))
    db.session.commit()
    assert sub2.unknown_price is False
