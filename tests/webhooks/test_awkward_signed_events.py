"""Signed events that are valid but awkward still get stored once and answered 200."""

from __future__ import annotations

import json

from saas.extensions import db
from saas.webhooks.models import WebhookEvent
from tests.conftest import post_event


def stored(app):
    with app.app_context():
        return db.session.execute(db.select(WebhookEvent.stripe_id, WebhookEvent.stripe_created,
                                            WebhookEvent.payload)).all()


def test_a_nul_character_in_the_payload_is_stored_not_retried_forever(app, client):
    event = {"id": "evt_nul", "type": "product.updated", "created": 1_790_000_000,
             "data": {"object": {"id": "prod_1", "description": "before\u0000after"}}}
    assert "\\u0000" in json.dumps(event)
    assert post_event(client, event).status_code == 200
    [(stripe_id, _, payload)] = stored(app)
    assert stripe_id == "evt_nul"
    assert payload["data"]["object"]["description"] == "before\ufffdafter"
    assert post_event(client, event).status_code == 200  # the redelivery is still a duplicate
    assert len(stored(app)) == 1


def test_an_absurd_created_time_is_stored_without_it(app, client):
    for n, created in enumerate((10**20, -5, "yesterday", None)):
        event = {"id": f"evt_time{n}", "type": "product.updated", "created": created,
                 "data": {"object": {"id": "prod_1"}}}
        assert post_event(client, event).status_code == 200, created
    assert [row[1] for row in stored(app)] == [None, None, None, None]


def test_login_with_a_nul_byte_is_a_plain_refusal(client, auth):
    r = auth.login("ada\x00@example.com", "whatever123")
    assert r.status_code == 422
    assert "do not match" in r.get_data(as_text=True)
