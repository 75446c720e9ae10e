"""The customer portal opens for the user's own customer only; users without a customer get a
clear message; user A's portal and invoice links never reach user B."""

from __future__ import annotations

import requests

from tests.conftest import post_event

from .conftest import event, subscribe_in_sandbox


def _portal(auth, **kw):
    return auth.post("/billing/portal", **kw)


def test_user_without_customer_gets_a_message_not_an_error(client, auth):
    auth.signup("nocus@example.com")
    page = client.get("/billing").get_data(as_text=True)
    assert 'id="manage-billing"' not in page
    r = _portal(auth)
    assert r.status_code == 302 and r.headers["Location"].endswith("/billing")
    page = client.get("/billing").get_data(as_text=True)
    assert "You have no billing account yet" in page


def test_portal_without_csrf_token_changes_nothing(client, auth):
    auth.signup("csrf@example.com")
    r = client.post("/billing/portal")
    assert r.status_code == 400


def test_portal_requires_login(client):
    r = client.post("/billing/portal")
    assert r.status_code in (302, 400)
    assert "sandbox" not in r.headers.get("Location", "")


def _subscribed_user(app, make_client, email, drain):
    c, a = make_client()
    a.signup(email)
    with app.app_context():
        from saas.accounts.services import find_by_email

        session = subscribe_in_sandbox(find_by_email(email))
    # Apply what Stripe reported, through the webhook intake like production.
    from saas import stripe_gateway as gateway

    with app.app_context():
        invoice = gateway.retrieve_invoice(session["invoice"])
        sub = gateway.retrieve_subscription(session["subscription"])
    post_event(c, event("customer.subscription.created", sub))
    post_event(c, event("invoice.paid", invoice))
    drain()
    return c, a, session, invoice


def test_portal_opens_for_own_customer_and_returns_to_billing(app, make_client, drain, seeded_plan, sandbox):
    c, a, session, invoice = _subscribed_user(app, make_client, "ada@example.com", drain)
    page = c.get("/billing").get_data(as_text=True)
    assert 'id="manage-billing"' in page and invoice["hosted_invoice_url"] in page
    r = _portal(a)
    assert r.status_code == 303
    url = r.headers["Location"]
    assert url.startswith(sandbox.url + "/p/session/bps_")
    portal = sandbox.sandbox.store.find(url.rsplit("/", 1)[-1])
    assert portal["customer"] == session["customer"]
    assert portal["return_url"] == "http://localhost/billing"
    html = requests.get(url).text
    assert 'href="http://localhost/billing"' in html and invoice["hosted_invoice_url"] in html


def test_user_b_never_reaches_user_a_portal_or_invoices(app, make_client, drain, seeded_plan, sandbox):
    ca, aa, session_a, invoice_a = _subscribed_user(app, make_client, "a@example.com", drain)
    cb, ab, session_b, invoice_b = _subscribed_user(app, make_client, "b@example.com", drain)
    assert session_a["customer"] != session_b["customer"]

    page_b = cb.get("/billing").get_data(as_text=True)
    assert invoice_b["hosted_invoice_url"] in page_b
    assert invoice_a["hosted_invoice_url"] not in page_b and invoice_a["invoice_pdf"] not in page_b
    assert invoice_a["number"] not in page_b

    # Whatever B sends along, the portal is opened for B's own customer.
    r = ab.post("/billing/portal", data={"customer": session_a["customer"], "customer_id": session_a["customer"]})
    assert r.status_code == 303
    portal = sandbox.sandbox.store.find(r.headers["Location"].rsplit("/", 1)[-1])
    assert portal["customer"] == session_b["customer"]
    html = requests.get(r.headers["Location"]).text
    assert invoice_a["hosted_invoice_url"] not in html and session_a["subscription"] not in html

    # A's status endpoint and page stay A's.
    assert invoice_a["hosted_invoice_url"] in ca.get("/billing").get_data(as_text=True)
    assert cb.get("/billing/status.json").get_json()["pro"] is True
