"""``wsgi.application``: Stripe's deliveries go to the lean intake app, everything else to the
site, and the intake app answers exactly as the site's own endpoint does."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from tests.conftest import post_event, pump, sign
from tests.reliability.helpers import effects

URL = "/api/webhooks/stripe"


@pytest.fixture
def routed(app, app_config):
    from saas.app import IntakeRouter, build_intake_app
    from saas.webhooks import inbox

    intake = build_intake_app(app_config)
    yield intake, Client(IntakeRouter(app, intake))
    inbox.close_intake_connections(intake)
    with intake.app_context():
        from saas.extensions import db

        db.engine.dispose()


def test_deliveries_reach_the_intake_app_and_are_applied_once(app, routed, probe, drain):
    intake, client = routed
    event = probe.probe_event()
    r = post_event(client, event)
    assert r.status_code == 200 and r.get_json() == {"received": True}
    assert post_event(client, event).get_json() == {"received": True, "duplicate": True}
    # Stored through the intake app's own connection, not the site's.
    assert intake.extensions["saas.inbox_connections"].conn is not None
    assert "saas.inbox_connections" not in app.extensions
    assert pump(app) == 1 and drain() == 1
    assert effects(app, probe) == [event["id"]]


def test_the_intake_app_refuses_like_the_site(routed, probe):
    _, client = routed
    body = json.dumps(probe.probe_event())
    bad = client.post(URL, data=body, content_type="application/json", headers={"Stripe-Signature": "t=1,v1=00"})
    assert bad.status_code == 400 and bad.get_json() == {"error": "invalid signature"}
    assert client.get(URL).status_code == 405 and client.get(URL).get_json() == {"error": "Method not allowed"}
    assert client.post(URL, data="x", content_type="text/plain").status_code == 415
    huge = "x" * (2 * 1024 * 1024)
    r = client.post(URL, data=huge, content_type="application/json", headers={"Stripe-Signature": sign(huge)})
    assert r.status_code == 413 and r.get_json() == {"error": "Too large"}
    # The same security headers as every page of the site.
    assert "default-src 'self'" in bad.headers["Content-Security-Policy"]
    assert bad.headers["X-Content-Type-Options"] == "nosniff"


def test_everything_else_is_the_site(routed):
    _, client = routed
    r = client.get("/")
    assert r.status_code == 200 and b"<html" in r.data.lower()
    assert client.get("/api/webhooks/stripe/extra").status_code == 404
    assert client.get("/login").status_code == 200


def test_postgres_down_is_a_503_from_the_intake_app_too(app_config, probe):
    from saas.app import IntakeRouter, build_intake_app
    from saas import create_app

    dead = dict(app_config, SQLALCHEMY_DATABASE_URI="postgresql+psycopg2://postgres@127.0.0.1:1/saas")
    site, intake = create_app(dead), build_intake_app(dead)
    r = post_event(Client(IntakeRouter(site, intake)), probe.probe_event())
    assert r.status_code == 503 and r.get_json() == {"error": "temporarily unavailable"}
