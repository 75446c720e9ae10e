"""The only module that imports ``stripe``.

It builds a ``StripeClient`` from config (key, pinned API version, and an API base so that the
offline sandbox can stand in for Stripe), exposes intention-named calls that return plain dicts,
passes idempotency keys on creates, and turns Stripe's exceptions into our own small set.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import stripe
from flask import current_app

log = logging.getLogger(__name__)

API_VERSION = "2026-10-28.endive"


class BillingError(Exception):
    """Something the user should be told in plain words; ``user_message`` is safe to show."""

    user_message = "Billing is temporarily unavailable. Nothing was charged; please try again shortly."

    def __init__(self, detail: str = "", user_message: str | None = None):
        super().__init__(detail or self.user_message)
        if user_message:
            self.user_message = user_message


class StripeNotConfigured(BillingError):
    user_message = "Payments are not set up on this site yet. Nothing was charged."

    def __init__(self, setting: str, problem: str = "is not set"):
        super().__init__(f"{setting} {problem}")
        self.setting = setting


class StripeUnavailable(BillingError):
    """Network trouble or Stripe 5xx: worth retrying."""


class StripeRequestFailed(BillingError):
    """Stripe refused the request (bad parameters, wrong key, missing object)."""

    def __init__(self, detail: str, code: str | None = None, http_status: int | None = None,
                 user_message: str | None = None):
        super().__init__(detail, user_message)
        self.code = code
        self.http_status = http_status


class CardError(BillingError):
    def __init__(self, detail: str, code: str | None = None, decline_code: str | None = None):
        super().__init__(detail, user_message=detail)
        self.code = code
        self.decline_code = decline_code


class ObjectMissing(StripeRequestFailed):
    pass


class SignatureInvalid(Exception):
    """The webhook's signature, timestamp or body did not verify."""


def key_mode(key: str) -> str | None:
    for prefix, mode in (("sk_test_", "test"), ("rk_test_", "test"), ("pk_test_", "test"),
                         ("sk_live_", "live"), ("rk_live_", "live"), ("pk_live_", "live")):
        if key.startswith(prefix):
            return mode
    return None


class _Urllib3Client(stripe.HTTPClient):
    """The library's HTTP client interface over a urllib3 pool, without ``requests`` on top.

    The default client goes through a ``requests`` session, whose per-call work (re-reading
    the whole environment for proxy settings, merging cookies, hooks and adapters) cost more
    CPU than the rest of a webhook job's Stripe read. The library keeps doing everything that
    matters (headers, retries with backoff, errors); this only moves the bytes: the same TLS
    verification against the library's CA bundle, the same 80 s timeout, keep-alive, and
    proxies from the environment, resolved once for the API address."""

    name = "urllib3"

    def __init__(self, base: str):
        import urllib3
        from urllib.parse import urlsplit
        from urllib.request import getproxies, proxy_bypass

        from stripe._http_client import new_http_client_async_fallback

        url = urlsplit(base or "https://api.stripe.com")
        proxy = None if proxy_bypass(url.hostname or "") else getproxies().get(url.scheme)
        super().__init__(proxy=proxy, async_fallback_client=new_http_client_async_fallback(proxy=proxy))
        self._urllib3 = urllib3
        options = {"cert_reqs": "CERT_REQUIRED", "ca_certs": stripe.ca_bundle_path,
                   "timeout": urllib3.Timeout(connect=80, read=80), "retries": False}
        self._pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def request(self, method, url, headers, post_data=None):
        response = self._send(method, url, headers, post_data, preload=True)
        return response.data, response.status, response.headers

    def request_stream(self, method, url, headers, post_data=None):
        response = self._send(method, url, headers, post_data, preload=False)
        return response, response.status, response.headers

    def _send(self, method, url, headers, post_data, preload):
        errors = self._urllib3.exceptions
        try:
            return self._pool.request(method.upper(), url, headers=headers, body=post_data, redirect=False,
                                      preload_content=preload)
        except errors.SSLError as exc:
            # As the library's own clients: a certificate problem is not retried.
            raise stripe.APIConnectionError(f"Could not verify Stripe's SSL certificate ({exc})",
                                            should_retry=False) from exc
        except (errors.TimeoutError, errors.ProtocolError, errors.NewConnectionError, errors.ProxyError) as exc:
            raise stripe.APIConnectionError(f"Unexpected error communicating with Stripe ({type(exc).__name__}: "
                                            f"{exc})", should_retry=True) from exc
        except errors.HTTPError as exc:
            raise stripe.APIConnectionError(f"Unexpected error communicating with Stripe ({type(exc).__name__}: "
                                            f"{exc})", should_retry=False) from exc

    def close(self):
        self._pool.clear()


def _http_client(base: str):
    """Our transport for the library, or None (its default) when urllib3 is not installed."""
    try:
        import urllib3  # noqa: F401
    except ImportError:
        return None
    return _Urllib3Client(base)


def _client() -> stripe.StripeClient:
    app = current_app._get_current_object()
    cached = app.extensions.get("saas.stripe")
    key = app.config.get("STRIPE_SECRET_KEY") or ""
    base = app.config.get("STRIPE_API_BASE") or ""
    # A test may hand the library an HTTP client of its own (the sandbox called in-process).
    http_client = app.config.get("STRIPE_HTTP_CLIENT")
    if cached is not None and cached[0] == (key, base, http_client):
        return cached[1]
    if not key:
        log.error("Stripe is not configured: STRIPE_SECRET_KEY is not set")
        raise StripeNotConfigured("STRIPE_SECRET_KEY")
    if key.startswith("pk_"):
        log.error("STRIPE_SECRET_KEY holds a publishable key (pk_...); it needs the secret key (sk_...)")
        raise StripeNotConfigured("STRIPE_SECRET_KEY", "holds a publishable key")
    if not key.startswith(("sk_", "rk_")):
        log.error("STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_... or rk_...)")
        raise StripeNotConfigured("STRIPE_SECRET_KEY", "is not a Stripe secret key")
    kwargs: dict[str, Any] = {"stripe_version": API_VERSION, "max_network_retries": 2}
    if base:
        kwargs["base_addresses"] = {"api": base}
    transport = http_client if http_client is not None else _http_client(base)
    if transport is not None:
        kwargs["http_client"] = transport
    client = stripe.StripeClient(key, **kwargs)
    app.extensions["saas.stripe"] = ((key, base, http_client), client)
    return client


def _call(fn, *args, **kwargs) -> dict:
    try:
        result = fn(*args, **kwargs)
    except stripe.CardError as exc:
        err = exc.error
        raise CardError(exc.user_message or "Your card was declined.",
                        code=getattr(err, "code", None) if err else None,
                        decline_code=getattr(err, "decline_code", None) if err else None) from exc
    except stripe.AuthenticationError as exc:
        log.error("Stripe rejected STRIPE_SECRET_KEY (authentication failed)")
        raise StripeNotConfigured("STRIPE_SECRET_KEY", "was rejected by Stripe") from exc
    except stripe.InvalidRequestError as exc:
        code = exc.code
        cls = ObjectMissing if code == "resource_missing" else StripeRequestFailed
        log.warning("Stripe refused a request: %s (code=%s, param=%s)", exc.user_message, code,
                    getattr(exc, "param", None))
        raise cls(exc.user_message or str(exc), code=code, http_status=exc.http_status) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        log.warning("Stripe unreachable: %s", type(exc).__name__)
        raise StripeUnavailable(str(exc)) from exc
    except stripe.StripeError as exc:
        if exc.http_status and exc.http_status >= 500:
            raise StripeUnavailable(str(exc)) from exc
        raise StripeRequestFailed(exc.user_message or str(exc), code=exc.code,
                                  http_status=exc.http_status) from exc
    return to_plain(result)


def _get_json(collection: str, object_id: str, **params) -> dict:
    """GET one object as Stripe's JSON, parsed into plain dicts: the same request, errors and
    retries as the typed call, without building the StripeObject tree that would be turned
    straight back into dicts. Webhook handlers re-read objects this way on every event."""
    from urllib.parse import quote

    if not isinstance(object_id, str) or not object_id:
        raise ObjectMissing(f"no object id given for {collection}", code="resource_missing")
    response = _call(_client().raw_request, "get", collection + quote(object_id, safe=""), **params)
    return response.data


def to_plain(obj: Any) -> Any:
    """Stripe objects (>= v15 they are not dicts) to plain JSON-able dicts and lists."""
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return json.loads(json.dumps(obj.to_dict(), default=str))
    return obj


# --- customers -------------------------------------------------------------------------------

def create_customer(*, email: str, user_id: int, idempotency_key: str) -> dict:
    c = _client()
    return _call(c.v1.customers.create,
                 params={"email": email, "metadata": {"user_id": str(user_id)}},
                 options={"idempotency_key": idempotency_key})


def retrieve_customer(customer_id: str) -> dict:
    return _call(_client().v1.customers.retrieve, customer_id)


# --- prices ----------------------------------------------------------------------------------

def retrieve_price(price_id: str) -> dict:
    return _call(_client().v1.prices.retrieve, price_id)


def find_price_by_lookup_key(lookup_key: str) -> dict | None:
    result = _call(_client().v1.prices.list, params={"lookup_keys": [lookup_key], "active": True, "limit": 1})
    return result["data"][0] if result["data"] else None


def create_recurring_price(*, product_name: str, unit_amount: int, currency: str, interval: str,
                           lookup_key: str) -> dict:
    c = _client()
    product = _call(c.v1.products.create, params={"name": product_name},
                    options={"idempotency_key": f"product-{lookup_key}"})
    return _call(c.v1.prices.create, params={
        "product": product["id"], "unit_amount": unit_amount, "currency": currency,
        "recurring": {"interval": interval}, "lookup_key": lookup_key,
    }, options={"idempotency_key": f"price-{lookup_key}-{unit_amount}-{currency}-{interval}"})


# --- checkout and subscriptions --------------------------------------------------------------

def create_subscription_checkout(*, customer_id: str, price_id: str, user_id: int, success_url: str,
                                 cancel_url: str, trial_days: int, allow_promotion_codes: bool,
                                 idempotency_key: str) -> dict:
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "client_reference_id": str(user_id),
        # price and trial in the metadata let the next click recognise this session as reusable.
        "metadata": {"user_id": str(user_id), "price_id": price_id, "trial_days": str(trial_days)},
        "subscription_data": {"metadata": {"user_id": str(user_id)}},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if trial_days > 0:
        params["subscription_data"]["trial_period_days"] = trial_days
    if allow_promotion_codes:
        params["allow_promotion_codes"] = True
    return _call(_client().v1.checkout.sessions.create, params=params,
                 options={"idempotency_key": idempotency_key})


# Reconciliation reads whole histories: at 100 a page this is 10,000 objects per customer.
MAX_LIST_PAGES = 100


def _list_all(method, params: dict) -> list[dict]:
    """Every object of a Stripe list, following ``has_more`` page by page (a customer with
    more than 100 invoices is not rare, and a sync that reads only the first page would leave
    the rest drifted)."""
    out: list[dict] = []
    params = dict(params, limit=100)
    for _ in range(MAX_LIST_PAGES):
        page = _call(method, params=params)
        out.extend(page["data"])
        if not page.get("has_more") or not page["data"]:
            return out
        params["starting_after"] = page["data"][-1]["id"]
    log.warning("Stripe list stopped after %d objects (%s)", len(out), {k: v for k, v in params.items()
                                                                        if k != "starting_after"})
    return out


def list_open_checkout_sessions(customer_id: str) -> list[dict]:
    return _list_all(_client().v1.checkout.sessions.list, {"customer": customer_id, "status": "open"})


def expire_checkout_session(session_id: str) -> dict:
    return _call(_client().v1.checkout.sessions.expire, session_id)


def retrieve_checkout_session(session_id: str) -> dict:
    return _get_json("/v1/checkout/sessions/", session_id)


def retrieve_subscription(subscription_id: str) -> dict:
    return _get_json("/v1/subscriptions/", subscription_id)


def list_subscriptions(customer_id: str) -> list[dict]:
    return _list_all(_client().v1.subscriptions.list, {"customer": customer_id, "status": "all"})


def retrieve_invoice(invoice_id: str) -> dict:
    return _get_json("/v1/invoices/", invoice_id)


def list_invoices(customer_id: str) -> list[dict]:
    return _list_all(_client().v1.invoices.list, {"customer": customer_id})


def create_portal_session(*, customer_id: str, return_url: str) -> dict:
    return _call(_client().v1.billing_portal.sessions.create,
                 params={"customer": customer_id, "return_url": return_url})


# --- payment intents and refunds -------------------------------------------------------------

def create_payment_intent(*, amount: int, currency: str, customer_id: str | None, metadata: dict,
                          description: str, idempotency_key: str) -> dict:
    params: dict[str, Any] = {
        "amount": amount, "currency": currency, "metadata": metadata,
        "description": description, "automatic_payment_methods": {"enabled": True},
    }
    if customer_id:
        params["customer"] = customer_id
    return _call(_client().v1.payment_intents.create, params=params,
                 options={"idempotency_key": idempotency_key})


def retrieve_payment_intent(payment_intent_id: str) -> dict:
    return _get_json("/v1/payment_intents/", payment_intent_id, expand=["latest_charge"])


def list_payment_intents(customer_id: str) -> list[dict]:
    return _list_all(_client().v1.payment_intents.list, {"customer": customer_id})


def cancel_payment_intent(payment_intent_id: str) -> dict:
    return _call(_client().v1.payment_intents.cancel, payment_intent_id)


def create_refund(*, payment_intent_id: str, amount: int | None, idempotency_key: str,
                  metadata: dict | None = None) -> dict:
    params: dict[str, Any] = {"payment_intent": payment_intent_id}
    if amount is not None:
        params["amount"] = amount
    if metadata:
        params["metadata"] = metadata
    return _call(_client().v1.refunds.create, params=params, options={"idempotency_key": idempotency_key})


def retrieve_charge(charge_id: str) -> dict:
    return _get_json("/v1/charges/", charge_id)


def retrieve_event(event_id: str) -> dict:
    return _call(_client().v1.events.retrieve, event_id)


# --- webhooks --------------------------------------------------------------------------------

def verify_webhook(payload: bytes, signature_header: str | None, secret: str, tolerance: int) -> dict:
    """Check the Stripe-Signature header against the raw body and return the parsed event.

    ``WebhookSignature.verify_header`` plus ``json.loads`` is the same check as
    ``Webhook.construct_event`` at a hundredth of the cost (it skips building Stripe's object
    tree, which the inbox does not need): see MEASURED.md.
    """
    if not signature_header:
        raise SignatureInvalid("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureInvalid("body is not UTF-8") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        # The library's message names no secret or signature value; keep only the reason.
        raise SignatureInvalid(str(exc).split(",")[0][:120]) from exc
    # verify_header only rejects timestamps older than the tolerance; one from the future
    # beyond it (a clock far off, or a captured header being saved up for later) is ours to refuse.
    timestamp = _signature_timestamp(signature_header)
    if tolerance and (timestamp is None or timestamp > time.time() + tolerance):
        raise SignatureInvalid("Timestamp in the future beyond the tolerance zone")
    try:
        # Strict JSON: NaN and Infinity are Python's extensions, which jsonb (and Stripe) never use.
        event = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise SignatureInvalid("body is not JSON") from exc
    except RecursionError as exc:  # nested deeper than the parser recurses: no Stripe event is
        raise SignatureInvalid("body is nested too deeply") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise SignatureInvalid("body is not a Stripe event")
    return event


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _signature_timestamp(header: str) -> int | None:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """Build a Stripe-Signature header (tests and benchmarks sign their own events)."""
    sig = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={sig}"
