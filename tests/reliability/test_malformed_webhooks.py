"""10,000 malformed webhook requests get only 4xx, never 5xx, and write nothing: no inbox row,
no job. Bad JSON (signed or not), missing and garbled Stripe-Signature headers, other secrets,
a changed byte, stale and future timestamps, bodies over MAX_CONTENT_LENGTH, wrong content
types, wrong methods, non-UTF-8 bodies, JSON that is not an event."""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import sign
from tests.reliability.helpers import events, job_ids

URL = "/api/webhooks/stripe"
MAX_BODY = 64 * 1024
TOTAL = 10_000


@pytest.fixture
def app_config(app_config):
    return dict(app_config, MAX_CONTENT_LENGTH=MAX_BODY, LOG_LEVEL="CRITICAL")


def event_body(rng: random.Random) -> str:
    return json.dumps({"id": f"evt_{rng.getrandbits(64):x}", "object": "event", "type": "invoice.paid",
                       "created": int(time.time()), "livemode": False,
                       "data": {"object": {"id": f"in_{rng.getrandbits(32):x}", "object": "invoice"}}})


def garble(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(string.printable + "é\x00\x7f") for _ in range(size))


def _signed(body: str, **kw) -> dict:
    return {"data": body, "content_type": "application/json", "headers": {"Stripe-Signature": sign(body, **kw)}}


def make_request(kind: str, rng: random.Random) -> tuple[str, dict]:
    """One malformed request of ``kind``: (method, test-client kwargs)."""
    body = event_body(rng)
    now = int(time.time())
    if kind == "signed_bad_json":
        return "POST", _signed(rng.choice(['{"id": "evt_1", "type": ', "not json", "{}}", "[1,", "\ufeff{}", "nan"]))
    if kind == "signed_not_an_event":
        return "POST", _signed(rng.choice(["[]", "1", '"evt"', "null", '{"id": 5, "type": "x"}',
                                           '{"id": "evt_1"}', '{"type": "invoice.paid", "id": null}']))
    if kind == "missing_header":
        return "POST", {"data": body, "content_type": "application/json"}
    if kind == "garbled_header":
        header = rng.choice([
            "", "t=", "v1=", "t=abc,v1=def", f"t={now}", f"t={now},v1=", f"v1={'0' * 64}",
            f"t={now},v1={'g' * 64}", ",,,,", "t=1," * 50, f"t={now},v0={'a' * 64}",
            garble(rng, rng.randint(1, 300)).replace("\n", " ").replace("\r", " "),
        ])
        return "POST", {"data": body, "content_type": "application/json", "headers": {"Stripe-Signature": header}}
    if kind == "other_secret":
        return "POST", _signed(body, secret="whsec_" + "".join(rng.choices(string.ascii_letters, k=24)))
    if kind == "changed_byte":
        req = _signed(body)
        i = rng.randrange(len(body))
        replacement = rng.choice([c for c in string.ascii_letters + string.digits if c != body[i]])
        req["data"] = body[:i] + replacement + body[i + 1:]
        return "POST", req
    if kind == "stale_timestamp":
        return "POST", _signed(body, timestamp=now - rng.randint(301, 10 ** 7))
    if kind == "future_timestamp":
        return "POST", _signed(body, timestamp=now + rng.randint(360, 10 ** 7))
    if kind == "too_large":
        big = json.dumps({"id": "evt_big", "type": "invoice.paid", "pad": "x" * (MAX_BODY + rng.randint(1, 4096))})
        return "POST", _signed(big)
    if kind == "wrong_content_type":
        req = _signed(body)
        req["content_type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "text/json", "application/jsonx", ""])
        return "POST", req
    if kind == "wrong_method":
        return rng.choice(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]), _signed(body)
    if kind == "non_utf8":
        raw = body.encode("utf-8") + bytes([0xff, 0xfe, 0xc3])
        header = sign(raw.decode("latin-1"))  # signed over the very bytes: still not UTF-8
        return "POST", {"data": raw, "content_type": "application/json", "headers": {"Stripe-Signature": header}}
    raise AssertionError(kind)


KINDS = ["signed_bad_json", "signed_not_an_event", "missing_header", "garbled_header", "other_secret",
         "changed_byte", "stale_timestamp", "future_timestamp", "too_large", "wrong_content_type",
         "wrong_method", "non_utf8"]


def test_ten_thousand_malformed_requests_get_4xx_and_write_nothing(app, client):
    rng = random.Random(20261204)
    statuses: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    started = time.monotonic()
    for n in range(TOTAL):
        kind = KINDS[n % len(KINDS)]
        method, kwargs = make_request(kind, rng)
        r = client.open(URL, method=method, **kwargs)
        statuses[kind][r.status_code] += 1
        assert 400 <= r.status_code < 500, (kind, method, r.status_code, kwargs.get("headers"), r.data[:200])
    elapsed = time.monotonic() - started
    assert sum(sum(c.values()) for c in statuses.values()) == TOTAL
    # Each kind is refused for its own reason, not by accident of another check.
    assert set(statuses["too_large"]) == {413}
    assert set(statuses["wrong_content_type"]) == {415}
    assert set(statuses["wrong_method"]) == {405}
    for kind in ("signed_bad_json", "signed_not_an_event", "missing_header", "garbled_header", "other_secret",
                 "changed_byte", "stale_timestamp", "future_timestamp", "non_utf8"):
        assert set(statuses[kind]) == {400}, (kind, statuses[kind])
    assert events(app) == [] and job_ids(app) == []
    assert elapsed < 30, f"{TOTAL} requests took {elapsed:.1f}s"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048),
       header=st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=200)),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]))
def test_arbitrary_bodies_and_headers_are_refused_with_4xx(app, client, body, header, content_type):
    headers = {} if header is None else {"Stripe-Signature": header}
    r = client.post(URL, data=body, content_type=content_type, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, body[:50], header)
    assert job_ids(app) == []


def test_a_well_formed_event_still_gets_through(app, client):
    """The control: the same generator's event, correctly signed, is accepted and stored."""
    body = event_body(random.Random(1))
    r = client.post(URL, data=body, content_type="application/json", headers={"Stripe-Signature": sign(body)})
    assert r.status_code == 200
    assert len(events(app)) == 1


def test_signed_body_nested_too_deep_for_the_json_parser_is_a_400_not_a_500(app, client):
    """Valid JSON nested deeper than Python's parser recurses (RecursionError, not ValueError)
    was a 500. It is not an event we can store: a 400, nothing written."""
    rng = random.Random(7)
    for depth in (5_000, 30_000):
        body = event_body(rng)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
        assert len(body) < MAX_BODY
        r = client.post(URL, **_signed(body))
        assert r.status_code == 400, (depth, r.status_code)
    assert events(app) == [] and job_ids(app) == []
