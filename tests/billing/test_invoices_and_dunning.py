"""Invoices mirrored from every invoice.* event (through the real webhook intake and worker),
with the subscription link from parent.subscription_details; the dunning notice."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from tests.conftest import post_event

from .conftest import DAY, event, invoice_payload, make_user, subscribe_in_sandbox, subscription_payload

INVOICE_EVENTS = [
    ("invoice.created", "draft"),
    ("invoice.finalized", "open"),
    ("invoice.paid", "paid"),
    ("invoice.payment_failed", "open"),
    ("invoice.payment_action_required", "open"),
    ("invoice.voided", "void"),
    ("invoice.marked_uncollectible", "uncollectible"),
]


def _invoice(app, stripe_id):
    from saas.billing.models import Invoice
    from saas.extensions import db

    with app.app_context():
        inv = db.session.execute(select(Invoice).where(Invoice.stripe_id == stripe_id)).scalar_one_or_none()
        if inv is not None:
            db.session.expunge(inv)
        return inv


def _notice(app, user_id):
    from saas.accounts.models import User
    from saas.billing.presenter import dunning_notice
    from saas.extensions import db

    with app.app_context():
        return dunning_notice(db.session.get(User, user_id))


@pytest.fixture
def customer(app):
    with app.app_context():
        user = make_user("inv@example.com", "cus_inv")
        return user.id


@pytest.mark.parametrize("type_,status", INVOICE_EVENTS)
def test_each_invoice_event_stores_the_invoice(app, client, drain, customer, type_, status):
    # These invoices do not exist in the (empty) sandbox, so the handler applies the payload.
    paid = status == "paid"
    payload = invoice_payload(customer="cus_inv", subscription="sub_link1", status=status, amount_due=1999,
                              amount_paid=1999 if paid else 0, currency="eur", number="INV-0042",
                              attempt_count=1 if type_ != "invoice.created" else 0,
                              paid_at=1_790_000_000 if paid else None, created=1_789_000_000,
                              period_start=1_786_000_000, period_end=1_789_000_000)
    assert post_event(client, event(type_, payload)).status_code == 200
    drain()
    inv = _invoice(app, payload["id"])
    assert inv is not None, f"{type_} did not store the invoice"
    assert inv.user_id == customer and inv.stripe_customer_id == "cus_inv"
    assert inv.stripe_subscription_id == "sub_link1"
    assert (inv.status, inv.number, inv.currency) == (status, "INV-0042", "eur")
    assert (inv.amount_due, inv.amount_paid, inv.amount_remaining) == (1999, 1999 if paid else 0, 0 if paid else 1999)
    assert int(inv.period_start.timestamp()) == 1_786_000_000 and int(inv.period_end.timestamp()) == 1_789_000_000
    assert inv.hosted_invoice_url == payload["hosted_invoice_url"]
    assert inv.invoice_pdf == payload["invoice_pdf"]
    assert (inv.paid_at is not None) is paid
    expected_problem = {"invoice.payment_failed": "payment_failed",
                        "invoice.payment_action_required": "action_required"}.get(type_)
    assert inv.payment_problem == expected_problem


def test_invoice_without_parent_is_stored_without_subscription(app, client, drain, customer):
    payload = invoice_payload(customer="cus_inv", subscription=None, status="paid", amount_paid=1200)
    post_event(client, event("invoice.paid", payload))
    drain()
    inv = _invoice(app, payload["id"])
    assert inv.stripe_subscription_id is None and inv.status == "paid"


def test_invoice_of_a_stranger_is_ignored(app, client, drain, customer):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    payload = invoice_payload(customer="cus_someone_else", subscription="sub_x", status="paid")
    post_event(client, event("invoice.paid", payload))
    drain()
    assert _invoice(app, payload["id"]) is None
    with app.app_context():
        assert db.session.execute(select(WebhookEvent.status)).scalar_one() == "ignored"


def test_the_billing_page_lists_own_invoices_newest_first_with_links(app, client, auth, drain):
    auth.signup("lister@example.com")
    with app.app_context():
        from saas.accounts.services import find_by_email
        from saas.extensions import db

        find_by_email("lister@example.com").stripe_customer_id = "cus_lister"
        db.session.commit()
    older = invoice_payload(customer="cus_lister", subscription="sub_l", status="paid", amount_paid=1200,
                            number="L-0001", created=1_780_000_000)
    newer = invoice_payload(customer="cus_lister", subscription="sub_l", status="paid", amount_paid=1200,
                            number="L-0002", created=1_782_600_000)
    draft = invoice_payload(customer="cus_lister", subscription="sub_l", status="draft", number=None,
                            created=1_785_000_000)
    jpy = invoice_payload(customer="cus_lister", subscription=None, status="open", amount_due=500, currency="jpy",
                          number="L-0003", created=1_781_000_000)
    for p in (older, newer, draft, jpy):
        post_event(client, event("invoice.finalized", p))
    drain()
    page = client.get("/billing").get_data(as_text=True)
    assert page.index("L-0002") < page.index("L-0003") < page.index("L-0001")
    assert draft["id"] not in page  # drafts are not issued yet
    for p in (older, newer, jpy):
        assert f'href="{p["hosted_invoice_url"]}"' in page and f'href="{p["invoice_pdf"]}"' in page
    assert "¥500" in page and "$12.00" in page


def test_dunning_notice_set_by_failure_and_action_required_cleared_by_paid(app, client, drain, customer, caplog):
    base = dict(customer="cus_inv", subscription="sub_dun", amount_due=1200, inv_id="in_dunning")
    assert _notice(app, customer) is None
    with caplog.at_level(logging.WARNING, logger="saas.dunning"):
        post_event(client, event("invoice.payment_failed",
                                 invoice_payload(status="open", attempt_count=1, next_payment_attempt=1_900_000_000,
                                                 **base)))
        drain()
    notice = _notice(app, customer)
    assert notice and "could not charge your card $12.00" in notice and "update your payment method" in notice
    assert "try again on March 17, 2030" in notice
    assert any("in_dunning" in r.getMessage() and "update their card" in r.getMessage() for r in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="saas.dunning"):
        post_event(client, event("invoice.payment_action_required",
                                 invoice_payload(status="open", attempt_count=2, **base)))
        drain()
    notice = _notice(app, customer)
    assert notice and "confirm the payment of $12.00" in notice
    assert any("confirm the payment with their bank" in r.getMessage() for r in caplog.records)

    post_event(client, event("invoice.paid", invoice_payload(status="paid", amount_paid=1200, attempt_count=3,
                                                             **base)))
    drain()
    assert _notice(app, customer) is None
    assert _invoice(app, "in_dunning").payment_problem is None


def test_late_payment_failed_after_paid_leaves_no_notice(app, client, drain, pro_plan):
    """Out of order: a stale invoice.payment_failed (its snapshot still says open) arrives after
    invoice.paid. The handler re-reads the real invoice from the sandbox, so no notice appears."""
    from saas import stripe_gateway as gateway

    with app.app_context():
        user = make_user("late@example.com")
        session = subscribe_in_sandbox(user)
        real = gateway.retrieve_invoice(session["invoice"])
        user_id = user.id
    assert real["status"] == "paid"
    stale = dict(real, status="open", amount_paid=0, amount_remaining=real["amount_due"], attempt_count=1)
    post_event(client, event("invoice.paid", real))
    post_event(client, event("invoice.payment_failed", stale))
    drain()
    assert _notice(app, user_id) is None
    inv = _invoice(app, real["id"])
    assert inv.status == "paid" and inv.payment_problem is None and inv.amount_paid == real["amount_paid"]


def test_notice_for_an_ended_subscription_is_not_shown(app, ctx, client, drain, customer, price_id):
    from saas.billing.services import apply_subscription
    from saas.extensions import db

    apply_subscription(subscription_payload(customer="cus_inv", price=price_id, status="canceled", sub_id="sub_gone"))
    db.session.commit()
    db.session.remove()
    post_event(client, event("invoice.payment_failed", invoice_payload(customer="cus_inv", subscription="sub_gone",
                                                                       status="open", attempt_count=4)))
    drain()
    assert _notice(app, customer) is None


def test_a_payment_attempt_moves_stripes_clock(app, client, drain, customer):
    """Stripe retried a payment (a charge, stamped on the customer's clock, 9 days after the
    one before): our estimate of its clock moves there; a stranger's charge changes nothing."""
    from saas.billing import clock

    far = 1_900_000_000
    charge = {"id": "ch_test1", "object": "charge", "customer": "cus_inv", "status": "failed", "created": far}
    post_event(client, event("charge.failed", dict(charge, created=far - 9 * DAY)))
    drain()
    with app.app_context():
        before = clock.now_for("cus_inv")
    post_event(client, event("charge.failed", dict(charge, id="ch_test2")))
    post_event(client, event("charge.failed", dict(charge, id="ch_test3", customer="cus_stranger", created=far + DAY)))
    drain()
    with app.app_context():
        after = clock.now_for("cus_inv")
        assert clock.now_for("cus_stranger") < clock.now_for("cus_inv")
    assert abs(int(before.timestamp()) - (far - 9 * DAY)) < 60
    assert abs(int(after.timestamp()) - far) < 60


def test_one_dunning_notice_per_failed_attempt_whatever_the_event_ids(app, client, drain, customer, caplog):
    payload = invoice_payload(customer="cus_inv", subscription="sub_link1", status="open", amount_due=1200,
                              amount_paid=0, currency="usd", number="INV-7", attempt_count=1,
                              paid_at=None, created=1_789_000_000, period_start=1_786_000_000,
                              period_end=1_789_000_000)
    with caplog.at_level(logging.WARNING, logger="saas.dunning"):
        for n in range(3):  # a redelivery under a new id, and a replay
            ev = event("invoice.payment_failed", payload)
            ev["id"] = f"evt_failed_copy_{n}"
            assert post_event(client, ev).status_code == 200
            drain()
        assert len([r for r in caplog.records if r.name == "saas.dunning"]) == 1
        # The next failed attempt is news again.
        ev = event("invoice.payment_failed", dict(payload, attempt_count=2))
        ev["id"] = "evt_failed_attempt_2"
        post_event(client, ev)
        drain()
    assert len([r for r in caplog.records if r.name == "saas.dunning"]) == 2
