"""Fixtures for the Stripe sandbox tests: a sandbox in a thread, a StripeClient pointed at it,
and a tiny webhook receiver that records deliveries and verifies their signatures."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
import stripe
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from saas.sandbox import start_sandbox_thread

SECRET = "whsec_sandbox_test"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "stripe"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *a, **k):
        pass


class Receiver:
    """Records webhook deliveries; `fail_first` makes the first N answer HTTP 500."""

    def __init__(self, secret=SECRET, fail_first=0):
        self.secret, self.fail_first = secret, fail_first
        self.calls = 0
        self.events: list[dict] = []  # verified deliveries, in arrival order
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @Request.application
    def _app(self, request: Request):
        payload = request.get_data(as_text=True)
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                return Response("boom", status=500)
            try:
                stripe.WebhookSignature.verify_header(payload, request.headers.get("Stripe-Signature"),
                                                      self.secret, tolerance=300)
            except stripe.SignatureVerificationError:
                self.bad_signatures += 1
                return Response("bad signature", status=400)
            self.events.append(json.loads(payload))
        return Response("ok")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of_type(self, t: str) -> list[dict]:
        return [e for e in self.events if e["type"] == t]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def sandbox(receiver):
    h = start_sandbox_thread(webhook_url=receiver.url, webhook_secret=SECRET, retry_schedule=[0.05])
    yield h
    h.stop()


@pytest.fixture
def client(sandbox):
    return stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url}, max_network_retries=0)


@pytest.fixture
def api(sandbox):
    """Raw HTTP access for checking exact error bodies."""
    s = requests.Session()
    s.headers["Authorization"] = "Bearer sk_test_sandbox"
    s.base = sandbox.url
    yield s
    s.close()


@pytest.fixture
def fixtures3():
    path = SHARED / "fixtures3.json"
    if not path.exists():
        pytest.skip(f"Stripe reference fixtures not found at {path} (../shared/stripe is only present in the "
                    "development workspace)")
    return json.loads(path.read_text())["resources"]


def make_price(client, amount=1000, currency="usd", interval="month", name="Pro", lookup_key=None):
    prod = client.v1.products.create(params={"name": name})
    params = {"product": prod.id, "unit_amount": amount, "currency": currency}
    if interval:
        params["recurring"] = {"interval": interval}
    if lookup_key:
        params["lookup_key"] = lookup_key
    return client.v1.prices.create(params=params)


def pay_checkout(session_url, number="4242 4242 4242 4242", **extra):
    data = {"cardNumber": number, "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Lovelace"}
    data.update(extra)
    return requests.post(session_url, data=data, allow_redirects=False)


def subscription_checkout(client, customer=None, price=None, **params):
    price = price or make_price(client)
    if customer is None:
        customer = client.v1.customers.create(params={"email": "ada@example.com"})
    body = {"mode": "subscription", "customer": customer.id, "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/pricing", "client_reference_id": "42",
            "metadata": {"user_id": "42"}, "subscription_data": {"metadata": {"user_id": "42"}}}
    body.update(params)
    return client.v1.checkout.sessions.create(params=body), customer, price
