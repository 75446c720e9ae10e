"""Auth, parameter validation, idempotency, lists and expansion behave like Stripe's API."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests
import stripe

from .conftest import make_price


def test_unknown_parameter_gives_stripes_error_body(api):
    r = api.post(api.base + "/v1/customers", data={"email": "a@b.c", "foo": "1"})
    assert r.status_code == 400
    assert r.json() == {"error": {"type": "invalid_request_error", "code": "parameter_unknown", "param": "foo",
                                  "message": "Received unknown parameter: foo"}}


def test_unknown_nested_parameter_names_the_full_path(api):
    r = api.post(api.base + "/v1/checkout/sessions", data={"line_items[0][price]": "price_x",
                                                            "line_items[0][colour]": "red"})
    assert r.json()["error"]["param"] == "line_items[0][colour]"


def test_missing_parameter_and_unknown_id(api):
    r = api.post(api.base + "/v1/prices", data={"unit_amount": "100"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "parameter_missing"
    assert r.json()["error"]["param"] == "currency"
    r = api.get(api.base + "/v1/customers/cus_nope")
    assert r.status_code == 404
    assert r.json()["error"] == {"type": "invalid_request_error", "code": "resource_missing", "param": "id",
                                 "message": "No such customer: 'cus_nope'"}


def test_library_raises_typed_errors(client):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.retrieve("sub_missing")
    assert exc.value.code == "resource_missing"


def test_auth_required_and_live_keys_refused(sandbox):
    r = requests.get(sandbox.url + "/v1/customers")
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    for key in ("sk_live_abc123", "rk_live_abc123"):
        r = requests.get(sandbox.url + "/v1/customers", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401
        assert "never accepts live keys" in r.json()["error"]["message"]
    live = stripe.StripeClient("sk_live_123", base_addresses={"api": sandbox.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        live.v1.customers.list()


def test_publishable_key_only_where_stripe_js_uses_it(sandbox):
    r = requests.get(sandbox.url + "/v1/customers", headers={"Authorization": "Bearer pk_test_abc"})
    assert r.status_code == 401


def test_cli_refuses_live_secret_key():
    env = {"STRIPE_SECRET_KEY": "sk_live_nope", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "saas.sandbox", "--port", "0"], env=env, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode != 0 and "live key" in proc.stderr


def test_idempotency_replays_and_rejects_changed_params(api):
    url = api.base + "/v1/customers"
    first = api.post(url, data={"email": "idem@example.com"}, headers={"Idempotency-Key": "k1"})
    again = api.post(url, data={"email": "idem@example.com"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = api.post(url, data={"email": "other@example.com"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    listed = api.get(url, params={"email": "idem@example.com"}).json()
    assert len(listed["data"]) == 1


def test_idempotency_through_the_library(client):
    a = client.v1.customers.create(params={"email": "x@example.com"}, options={"idempotency_key": "same"})
    b = client.v1.customers.create(params={"email": "x@example.com"}, options={"idempotency_key": "same"})
    assert a.id == b.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"email": "y@example.com"}, options={"idempotency_key": "same"})


def test_lists_paginate_and_filter(client):
    ids = [client.v1.customers.create(params={"email": f"p{i}@example.com"}).id for i in range(5)]
    page = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == ids[::-1][:2] and page.has_more
    rest = client.v1.customers.list(params={"limit": 10, "starting_after": page.data[-1].id})
    assert [c.id for c in rest.data] == ids[::-1][2:] and not rest.has_more
    assert [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()] == ids[::-1]
    assert client.v1.customers.list(params={"email": "p3@example.com"}).data[0].id == ids[3]


def test_prices_by_lookup_key_metadata_and_transfer(client):
    p1 = make_price(client, lookup_key="pro_monthly")
    with pytest.raises(stripe.InvalidRequestError):
        make_price(client, lookup_key="pro_monthly")
    prod = client.v1.products.create(params={"name": "Pro v2", "metadata": {"tier": "pro"}})
    p2 = client.v1.prices.create(params={"product": prod.id, "unit_amount": 1200, "currency": "usd",
                                         "recurring": {"interval": "month"}, "lookup_key": "pro_monthly",
                                         "transfer_lookup_key": True})
    found = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"], "expand": ["data.product"]})
    assert [p.id for p in found.data] == [p2.id]
    assert found.data[0].product.metadata["tier"] == "pro"
    assert client.v1.prices.retrieve(p1.id).lookup_key is None
    client.v1.prices.update(p1.id, params={"active": False})
    assert p1.id not in [p.id for p in client.v1.prices.list(params={"active": True}).data]


def test_metadata_update_semantics(client):
    c = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    c = client.v1.customers.update(c.id, params={"metadata": {"a": "", "c": "3"}})
    assert c.metadata.to_dict() == {"b": "2", "c": "3"}


def test_control_endpoints(sandbox):
    assert requests.get(sandbox.url + "/_sandbox/health").json()["ok"] is True
    assert requests.post(sandbox.url + "/_sandbox/reset").json()["ok"] is True
    assert requests.post(sandbox.url + "/_sandbox/redeliver/evt_missing").status_code == 404
