"""The billing page's words for every state, with dates and amounts in the right format."""

from __future__ import annotations

import pytest

from saas.billing.presenter import describe

from .conftest import DAY, make_user, subscription_payload, unix, utc

START = unix(utc(2031, 3, 1))        # Stripe time; the policy reads Stripe's clock, not ours
MAR_31 = START + 30 * DAY


@pytest.fixture
def user(ctx):
    return make_user("words@example.com", "cus_words")


def _apply(user, **kw):
    from saas.billing import clock
    from saas.billing.services import apply_subscription
    from saas.extensions import db

    kw.setdefault("period_start", START)
    sub = apply_subscription(subscription_payload(customer="cus_words", **kw))
    db.session.commit()
    db.session.refresh(user)
    return sub, clock


CASES = [
    (dict(status="trialing", trial_start=START, trial_end=START + 14 * DAY),
     "Pro", "ok", "Your free trial ends on March 15, 2031. Then Pro costs $12.00 per month."),
    (dict(status="trialing", trial_start=START, trial_end=START + 14 * DAY, cancel_at_period_end=True,
          cancel_at=START + 14 * DAY),
     "Pro", "warn", "Your free trial ends on March 15, 2031. It will not convert to a paid plan: Pro ends on March 15, 2031."),
    (dict(status="active"), "Pro", "ok", "Your Pro plan renews on March 31, 2031 for $12.00."),
    (dict(status="active", cancel_at_period_end=True, cancel_at=MAR_31),
     "Pro", "warn", "Your Pro plan ends on March 31, 2031. It will not renew."),
    # Current API: a scheduled cancellation can be cancel_at with cancel_at_period_end false.
    (dict(status="active", cancel_at=START + 20 * DAY),
     "Pro", "warn", "Your Pro plan ends on March 21, 2031. It will not renew."),
    (dict(status="active", pause_collection="keep_as_draft"),
     "Pro", "muted", "Payments for your subscription are paused; you keep Pro meanwhile."),
    (dict(status="past_due"), "Pro", "bad", "Your last payment failed. Update your card to keep Pro after March 8, 2031."),
    (dict(status="unpaid"), "Free", "bad", "Your payments failed and Pro is suspended. Update your card to restore it."),
    (dict(status="incomplete"), "Free", "warn", "Your first payment has not completed yet."),
    (dict(status="incomplete_expired"), "Free", "muted",
     "Your payment did not complete, so Pro was not started. Nothing was charged."),
    (dict(status="canceled", canceled_at=START + 2 * DAY, ended_at=START + 3 * DAY),
     "Free", "muted", "Your Pro plan was canceled and ended on March 4, 2031."),
    (dict(status="paused"), "Free", "muted", "Your subscription is paused, and Pro with it."),
]


@pytest.mark.parametrize("kw,plan,tone,headline", CASES, ids=[c[3][:40] for c in CASES])
def test_state_in_words(user, price_id, kw, plan, tone, headline):
    _apply(user, price=price_id, **kw)
    state = describe(user)
    assert (state.plan, state.tone, state.headline) == (plan, tone, headline)
    assert state.needs_card is (kw["status"] in ("past_due", "unpaid", "incomplete"))


def test_free_without_subscription(user):
    state = describe(user)
    assert (state.plan, state.headline) == ("Free", "You are on the free plan.")


def test_past_due_after_grace_by_stripes_clock(user, price_id):
    sub, clock = _apply(user, price=price_id, status="past_due")
    clock.observe("cus_words", utc(2031, 3, 9))  # Stripe's data shows its clock passed the grace
    state = describe(user)
    assert state.plan == "Free"
    assert state.headline == "Your last payment failed and Pro is suspended. Update your card to restore it."


def test_unknown_price_is_not_called_free_or_pro(user):
    _apply(user, price="price_someone_elses", status="active")
    state = describe(user)
    assert state.plan == "Unrecognised plan" and state.tone == "bad"
    assert "does not sell" in state.headline


def test_amounts_in_the_currency_format(ctx, app_config):
    from saas.billing.models import Plan
    from saas.extensions import db

    db.session.add(Plan(code="pro-jpy", name="Pro", stripe_price_id="price_jpy", unit_amount=1500, currency="jpy",
                        interval="year"))
    db.session.commit()
    user = make_user("yen@example.com", "cus_words")
    _apply(user, price="price_jpy", status="active", period_days=365)
    assert describe(user).headline == "Your Pro plan renews on February 29, 2032 for ¥1,500."
