"""Store end to end over HTTP: the app and the sandbox on real ports, the sandbox delivering
signed webhooks (with its retries) to our intake and a worker applying them. The test plays the
shopper's browser, confirming the intent the way our checkout page's Stripe.js does."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import csrf_from, wait_for
from tests.store.conftest import CARDS, client_secret, confirm_like_stripe_js, make_products

pytestmark = pytest.mark.e2e


def shopper(live, email="grace@example.com"):
    s = requests.Session()
    token = csrf_from(s.get(live.url + "/signup").text)
    r = s.post(live.url + "/signup", data={"csrf_token": token, "email": email,
                                          "password": "correct horse battery", "confirm": "correct horse battery"})
    assert r.status_code == 200
    return s


def place_order(live, s) -> tuple[int, str]:
    ids = make_products(live.app)
    for slug, qty in (("mug", 1), ("stickers", 2)):
        token = csrf_from(s.get(live.url + "/store").text)
        s.post(live.url + "/cart/add", data={"csrf_token": token, "product_id": ids[slug], "quantity": qty})
    cart = s.get(live.url + "/cart").text
    ct = re.search(r'name="checkout_token"[^>]*value="([^"]+)"', cart).group(1)
    r = s.post(live.url + "/checkout", data={"csrf_token": csrf_from(cart), "checkout_token": ct},
               allow_redirects=False)
    assert r.status_code == 303
    pay_url = live.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
    order_id = int(pay_url.rstrip("/").split("/")[-2])
    return order_id, pay_url


def status(live, s, order_id) -> dict:
    return s.get(f"{live.url}/orders/{order_id}/status.json").json()


def wait_status(live, s, order_id, expected, **more):
    def check():
        st = status(live, s, order_id)
        return st["status"] == expected and all(st.get(k) == v for k, v in more.items())
    wait_for(check, timeout=10, message=f"order {order_id} to become {expected} {more or ''}")
    return status(live, s, order_id)


def pay(live, s, pay_url, card, order_id):
    html = s.get(pay_url).text
    return confirm_like_stripe_js(live.sandbox.url, client_secret(html), CARDS[card],
                                  return_url=f"{live.url}/orders/{order_id}")


def test_success(live):
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    assert status(live, s, order_id)["status"] == "pending"
    assert pay(live, s, pay_url, "ok", order_id).json()["status"] == "succeeded"
    wait_status(live, s, order_id, "paid")
    page = s.get(f"{live.url}/orders/{order_id}").text
    assert 'data-status="paid"' in page and "$34.00" in page
    assert f'data-order="{order_id}"' in s.get(live.url + "/orders").text


def test_decline_then_retry_with_good_card(live):
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    r = pay(live, s, pay_url, "declined", order_id)
    assert r.status_code == 402 and r.json()["error"]["decline_code"] == "generic_decline"
    st = wait_status(live, s, order_id, "failed")
    assert st["failure_message"] == "Your card was declined. Try another card." and st["can_pay"]
    retry_page = s.get(pay_url).text
    assert "Your card was declined." in retry_page
    assert pay(live, s, pay_url, "ok", order_id).json()["status"] == "succeeded"
    wait_status(live, s, order_id, "paid")


@pytest.mark.parametrize("outcome,final,redirect_status", [("approve", "paid", "succeeded"),
                                                           ("fail", "failed", "failed")])
def test_3ds(live, outcome, final, redirect_status):
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    body = pay(live, s, pay_url, "3ds", order_id).json()
    assert body["status"] == "requires_action"
    wait_status(live, s, order_id, "requires_action")
    challenge = body["next_action"]["redirect_to_url"]["url"]
    assert "3D Secure" in requests.get(challenge).text
    r = requests.post(challenge, data={"outcome": outcome, "client_secret": body["client_secret"]},
                      allow_redirects=False)
    back = r.headers["Location"]
    assert back.startswith(f"{live.url}/orders/{order_id}?") and f"redirect_status={redirect_status}" in back
    assert s.get(back).status_code == 200
    st = wait_status(live, s, order_id, final)
    if final == "failed":
        assert "authentication failed" in st["failure_message"]


@pytest.mark.parametrize("amount,final,refunded", [(None, "refunded", 3400), (900, "paid", 900)])
def test_refunds(live, amount, final, refunded):
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    pay(live, s, pay_url, "ok", order_id)
    wait_status(live, s, order_id, "paid")
    with live.app.app_context():
        from saas.store.services import refund_order

        refund = refund_order(order_id, amount, idempotency_key=f"e2e-refund-{order_id}")
    assert refund["status"] == "succeeded" and refund["amount"] == refunded
    wait_status(live, s, order_id, final, amount_refunded=refunded)


def test_abandoned_3ds_can_be_finished_from_the_order_page(live):
    """A shopper who closes the bank's window is not stuck on a spinner: the order page offers
    to finish paying, and paying there with a card that needs no challenge completes the order."""
    s = shopper(live)
    order_id, pay_url = place_order(live, s)
    assert pay(live, s, pay_url, "3ds", order_id).json()["status"] == "requires_action"
    wait_status(live, s, order_id, "requires_action")
    page = s.get(f"{live.url}/orders/{order_id}").text
    assert 'id="finish-auth"' in page and f'href="/orders/{order_id}/pay"' in page
    assert s.get(pay_url).status_code == 200
    assert pay(live, s, pay_url, "ok", order_id).json()["status"] == "succeeded"
    wait_status(live, s, order_id, "paid")
    assert 'id="finish-auth"' not in s.get(f"{live.url}/orders/{order_id}").text
