"""`flask stripe sync` and the periodic reconcile: injected drift (a lost event, a wrong status
written by hand) is repaired through the webhook code and reported field by field."""

from __future__ import annotations

import logging

from sqlalchemy import text

from saas.extensions import db
from tests.convergence.conftest import FAILS_CHARGES, GOOD_CARD, snapshot


def mirrored(state: dict) -> dict:
    """The billing rows and Pro status (not the event inbox, which sync does not rewrite)."""
    return {k: v for k, v in state.items() if k != "events"}


def run_sync(app, *args):
    """`flask stripe sync ...` through the app's real CLI (Click >= 8.2: output has stderr too)."""
    return app.test_cli_runner().invoke(args=["stripe", "sync", *args])


def lose_renewal_and_corrupt_status(j) -> tuple[str, str]:
    """Drift of both kinds: the renewal invoice's events never arrived (row and events gone), and
    someone wrote a wrong subscription status by hand."""
    sub_id = j.subscription_ids[-1]
    renewal = j.subscription["latest_invoice"]
    db.session.execute(text("DELETE FROM webhook_events WHERE object_id = :i"), {"i": renewal})
    db.session.execute(text("DELETE FROM invoices WHERE stripe_id = :i"), {"i": renewal})
    db.session.execute(text("UPDATE subscriptions SET status = 'canceled' WHERE stripe_id = :s"), {"s": sub_id})
    db.session.commit()
    return sub_id, renewal


def test_sync_repairs_lost_event_and_wrong_status_and_reports_it(ctx, journey):
    j = journey()
    j.subscribe()
    j.advance_past_period_end()
    good = mirrored(snapshot())
    sub_id, renewal = lose_renewal_and_corrupt_status(j)
    drifted = mirrored(snapshot())
    assert drifted != good and drifted["pro"][j.user_id] is False

    result = run_sync(ctx)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"ada@example.com (user {j.user_id}, {j.customer_id})" in out
    assert f"subscription {sub_id}: updated status: 'canceled' -> 'active'" in out
    assert f"invoice {renewal}: created status: None -> 'paid'" in out
    assert "Pro: no -> yes" in out
    assert "1 user(s) checked, 2 change(s) changed" in out
    assert mirrored(snapshot()) == good

    again = run_sync(ctx)
    assert again.exit_code == 0 and "0 change(s) changed: all in sync" in again.output


def test_sync_reports_every_changed_field(ctx, journey):
    j = journey()
    j.subscribe()
    inv = j.subscription["latest_invoice"]
    db.session.execute(text("UPDATE invoices SET amount_paid = 1, attempt_count = 9, status = 'open' "
                            "WHERE stripe_id = :i"), {"i": inv})
    db.session.commit()
    out = run_sync(ctx).output
    line = next(line for line in out.splitlines() if f"invoice {inv}: updated" in line)
    for fragment in ("status: 'open' -> 'paid'", "amount_paid: 1 -> 1200", "attempt_count: 9 -> 1"):
        assert fragment in line, line


def test_sync_one_user_by_email_leaves_the_others(ctx, journey):
    ada, bob = journey("ada@example.com"), journey("bob@example.com")
    ada.subscribe()
    bob.subscribe()
    for j in (ada, bob):
        db.session.execute(text("UPDATE subscriptions SET status = 'past_due' WHERE stripe_id = :s"),
                           {"s": j.subscription_ids[-1]})
    db.session.commit()

    result = run_sync(ctx, "--email", "BOB@example.com")
    assert result.exit_code == 0, result.output
    assert "bob@example.com" in result.output and "ada@example.com" not in result.output
    statuses = dict(db.session.execute(text("SELECT stripe_id, status FROM subscriptions")).all())
    db.session.rollback()
    assert statuses == {ada.subscription_ids[-1]: "past_due", bob.subscription_ids[-1]: "active"}


def test_unknown_email_is_a_clear_error_and_changes_nothing(ctx, journey):
    j = journey()
    j.subscribe()
    db.session.execute(text("UPDATE subscriptions SET status = 'unpaid'"))
    db.session.commit()
    before = snapshot()
    result = run_sync(ctx, "--email", "nobody@example.com")
    assert result.exit_code != 0
    assert "no user with a Stripe customer has the email 'nobody@example.com'; nothing changed" in result.output
    assert snapshot() == before


def test_dry_run_reports_but_changes_nothing(ctx, journey):
    j = journey()
    j.subscribe()
    db.session.execute(text("UPDATE subscriptions SET cancel_at_period_end = true"))
    db.session.commit()
    before = snapshot()
    result = run_sync(ctx, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "cancel_at_period_end: True -> False" in result.output
    assert "1 change(s) would change" in result.output
    assert snapshot() == before


def test_stripe_unreachable_changes_nothing(ctx, journey):
    j = journey()
    j.subscribe()
    db.session.execute(text("UPDATE subscriptions SET status = 'unpaid'"))
    db.session.commit()
    before = snapshot()
    ctx.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    result = run_sync(ctx)
    assert result.exit_code != 0
    assert "Stripe is unreachable" in result.output
    assert snapshot() == before


def test_periodic_reconcile_repairs_and_logs(ctx, journey, caplog):
    from saas import periodic
    from saas.periodic import CHORES

    j = journey()
    j.subscribe()
    j.set_card(FAILS_CHARGES)
    j.advance_past_period_end()
    j.set_card(GOOD_CARD, pay_open_invoices=True)
    good = mirrored(snapshot())
    lose_renewal_and_corrupt_status(j)

    name, setting, fn = next(c for c in CHORES if c[0] == "reconcile")
    with caplog.at_level(logging.INFO, logger="saas.reconcile"):
        assert periodic.run_chore(ctx, name, fn, ctx.config[setting]) is True
    assert mirrored(snapshot()) == good
    messages = [r.getMessage() for r in caplog.records if r.name == "saas.reconcile"]
    assert any(f"subscription {j.subscription_ids[-1]}: updated status: 'canceled' -> 'active'" in m
               for m in messages), messages
    assert any("1 user(s) checked, 2 change(s)" in m for m in messages), messages
    # The chore holds its Redis lock for the period: a second worker does not run it again.
    assert periodic.run_chore(ctx, name, fn, ctx.config[setting]) is False
