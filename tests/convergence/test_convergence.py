"""Any delivery schedule of a journey's events -- shuffled, with duplicates -- ends in the same
rows, the same Pro status and the same effects as delivering them in order.

The journeys are real: each is driven on the sandbox (checkout pages, time travel, the portal)
and its events are recorded as Stripe emitted them. Schedules are drawn by Hypothesis;
CONVERGENCE_EXAMPLES (default 200) sets how many per journey.

To add a journey, write a driver taking a ``Journey`` and list it in SEQUENCES; add its tables
to conftest.STATE_QUERIES / RESET_SQL.

Speed: once a journey is recorded Stripe's state stands still, so the app's reads of it are
answered from memory after the first (InProcessSandbox.freeze; ``thaw`` re-asks the sandbox for
every remembered answer and requires the same bytes), a reset is one round trip, and a schedule
drawn twice is replayed once.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas.webhooks.registry import handled_types
from tests.convergence.conftest import (DECLINED, FAILS_CHARGES, GOOD_CARD, NEEDS_3DS, InProcessSandbox, apply_event,
                                        reset_replayed_rows, snapshot)

EXAMPLES = int(os.environ.get("CONVERGENCE_EXAMPLES", "200"))


@pytest.fixture
def app_config(app_config, sandbox):
    """The app reaches the sandbox through the stripe library in-process (see InProcessSandbox)."""
    return dict(app_config, STRIPE_HTTP_CLIENT=InProcessSandbox(sandbox.app))


# --- journeys ---------------------------------------------------------------------------------

def open_invoice_problems() -> list[str]:
    """The dunning state the billing page shows, as live in-order delivery left it."""
    from sqlalchemy import text

    from saas.extensions import db

    problems = list(db.session.execute(text(
        "SELECT payment_problem FROM invoices WHERE status = 'open' AND payment_problem IS NOT NULL")).scalars())
    db.session.rollback()
    return problems


def subscription_checkout(j):
    j.subscribe()


def renewal(j):
    j.subscribe()
    j.advance_past_period_end()


def failed_renewal_then_recovery(j):
    j.subscribe()
    j.set_card(FAILS_CHARGES)
    j.advance_past_period_end()
    assert j.subscription["status"] == "past_due"
    assert open_invoice_problems() == ["payment_failed"]
    j.set_card(GOOD_CARD, pay_open_invoices=True)
    assert j.subscription["status"] == "active"
    assert open_invoice_problems() == []


def renewal_needing_3ds_left_open(j):
    """The renewal waits for the customer to authenticate: the dunning notice asks for action."""
    j.subscribe()
    j.set_card(NEEDS_3DS)
    j.advance_past_period_end()
    assert j.subscription["status"] == "past_due"
    assert open_invoice_problems() == ["action_required"]


def cancel_at_period_end_then_deleted(j):
    j.subscribe()
    j.cancel_at_period_end_in_portal()
    j.advance_past_period_end()
    assert j.subscription["status"] == "canceled"


def cancel_and_resubscribe(j):
    j.subscribe()
    j.cancel_now()
    j.subscribe()  # at once: a new session, not the completed one replayed
    assert len(set(j.subscription_ids)) == 2


def async_payment_succeeded(j):
    j.subscribe_with_bank_debit("succeeded")
    j.settle_bank_debit("succeeded")
    assert j.subscription["status"] == "active"


def async_payment_failed(j):
    j.subscribe_with_bank_debit("failed")
    j.settle_bank_debit("failed")
    assert j.subscription["status"] == "incomplete_expired"


# --- store order journeys (one-time payments with Payment Intents) ------------------------------

ORDER_TOTAL = 2400 + 2 * 500


def order_success(j):
    j.place_order()
    assert j.pay(GOOD_CARD)["status"] == "succeeded"
    assert j.order == {"status": "paid", "amount_refunded": 0, "paid": True, "failure_code": None}


def order_decline_then_success(j):
    j.place_order()
    assert j.pay(DECLINED)["error"]["decline_code"] == "generic_decline"
    assert j.order["status"] == "failed" and j.order["failure_code"] == "generic_decline"
    assert j.pay(GOOD_CARD)["status"] == "succeeded"  # the shopper tries another card
    assert j.order == {"status": "paid", "amount_refunded": 0, "paid": True, "failure_code": None}


def order_3ds_approved(j):
    j.place_order()
    intent = j.pay(NEEDS_3DS)
    assert intent["status"] == "requires_action" and j.order["status"] == "requires_action"
    j.authenticate(intent, "approve")
    assert j.order == {"status": "paid", "amount_refunded": 0, "paid": True, "failure_code": None}


def order_3ds_failed(j):
    j.place_order()
    intent = j.pay(NEEDS_3DS)
    assert intent["status"] == "requires_action" and j.order["status"] == "requires_action"
    j.authenticate(intent, "fail")
    assert j.order == {"status": "failed", "amount_refunded": 0, "paid": False,
                       "failure_code": "payment_intent_authentication_failure"}


def order_partial_then_full_refund(j):
    j.place_order()
    j.pay(GOOD_CARD)
    j.refund(900)
    assert j.order == {"status": "paid", "amount_refunded": 900, "paid": True, "failure_code": None}
    j.refund(None)  # the rest
    assert j.order == {"status": "refunded", "amount_refunded": ORDER_TOTAL, "paid": True, "failure_code": None}


# (name, driver, what the user ends with: Pro or not, the fewest handled events it records).
SEQUENCES = [
    ("subscription_checkout", subscription_checkout, True, 5),
    ("renewal", renewal, True, 5),
    ("failed_renewal_past_due_recovery", failed_renewal_then_recovery, True, 5),
    ("renewal_3ds_left_open", renewal_needing_3ds_left_open, True, 5),
    ("cancel_at_period_end_deleted", cancel_at_period_end_then_deleted, False, 5),
    ("cancel_and_resubscribe", cancel_and_resubscribe, True, 5),
    ("async_payment_succeeded", async_payment_succeeded, True, 5),
    ("async_payment_failed", async_payment_failed, False, 5),
    # An order's handled events are few (intent and charge), so their schedules are few too.
    ("order_success", order_success, False, 2),
    ("order_decline_then_success", order_decline_then_success, False, 3),
    ("order_3ds_approved", order_3ds_approved, False, 3),
    ("order_3ds_failed", order_3ds_failed, False, 2),
    ("order_partial_then_full_refund", order_partial_then_full_refund, False, 4),
]


# --- schedules ----------------------------------------------------------------------------------

@st.composite
def schedules(draw, n: int):
    """A permutation of the n events with up to n redeliveries inserted anywhere."""
    order = list(draw(st.permutations(range(n))))
    for event, position in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n)), max_size=n)):
        order.insert(min(position, len(order)), event)
    return order


def replay(events, order, effects) -> tuple[dict, Counter]:
    reset_replayed_rows()
    before = len(effects.effects)
    for i in order:
        apply_event(events[i])
    return snapshot(), Counter(effects.effects[before:])


@pytest.mark.parametrize("name,drive,ends_pro,min_handled", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_every_schedule_converges_on_in_order_state(name, drive, ends_pro, min_handled, journey, effects, app):
    j = journey()
    drive(j)
    events = j.events
    assert len(events) >= min_handled, [e["type"] for e in events]
    live = snapshot()
    assert live["pro"][j.user_id] is ends_pro, live
    assert {s[0] for s in live["subscriptions"]} == set(j.subscription_ids)

    # In-order delivery after the fact (Stripe's retries arrive late) gives what live delivery gave.
    in_order, in_order_effects = replay(events, range(len(events)), effects)
    assert in_order == live
    # Effects announce something once per event at most: never twice for one redelivered event.
    assert all(count == 1 for count in in_order_effects.values()), in_order_effects
    # Every paid order was fulfilled, and announced so, exactly once.
    paid_orders = {row[0] for row in live["orders"] if row[7]}
    fulfilled = [e for e in in_order_effects if " paid and fulfilled " in e]
    assert len(fulfilled) == len(paid_orders), (fulfilled, live["orders"])

    # Events no handler takes are stored and marked ignored wherever they land (the in-order
    # replay above checked that), so the schedules permute the handled ones: they are what can
    # interact. When the store registers payment_intent/charge handlers, those join in.
    handled = handled_types()
    events = [e for e in events if e["type"] in handled]
    assert len(events) >= min_handled, [e["type"] for e in events]
    stripe_transport = app.config["STRIPE_HTTP_CLIENT"]
    stripe_transport.freeze()
    in_order, in_order_effects = replay(events, range(len(events)), effects)
    # A schedule's outcome is a function of the schedule: one drawn again need not run again.
    replayed: set[tuple[int, ...]] = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(order=schedules(len(events)))
    def every_schedule(order):
        if tuple(order) in replayed:
            return
        replayed.add(tuple(order))
        state, got_effects = replay(events, order, effects)
        assert state == in_order, f"schedule {[events[i]['type'] for i in order]} diverged"
        assert got_effects == in_order_effects, f"schedule {[events[i]['type'] for i in order]} changed the effects"

    every_schedule()
    assert in_order["pro"][j.user_id] is ends_pro
    assert stripe_transport.thaw() > 0  # every answer the replays got is still Stripe's answer
