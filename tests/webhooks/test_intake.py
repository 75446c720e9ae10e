"""Webhook intake: verify, store once, answer, and the pump queues it once; refuse everything else."""

from __future__ import annotations

import json
import logging

from rq.job import Job

from tests.conftest import WEBHOOK_SECRET, post_event, pump, sign

URL = "/api/webhooks/stripe"


def stored(app):
    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    with app.app_context():
        rows = db.session.execute(db.select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
        out = [(e.stripe_id, e.type, e.status, e.attempts) for e in rows]
        db.session.rollback()
        return out


def queued_ids(app):
    from saas import queue

    with app.app_context():
        return queue.get_queue().get_job_ids()


def test_valid_event_is_stored_then_queued_once_by_the_pump(app, client, probe):
    from saas.webhooks import pump

    event = probe.probe_event()
    r = post_event(client, event)
    assert r.status_code == 200 and r.get_json() == {"received": True}
    assert stored(app) == [(event["id"], "test.probe", "received", 0)]
    # Intake does not touch Redis: queueing is the pump's.
    assert queued_ids(app) == []
    with app.app_context():
        assert pump.pump_all() == 1
        assert pump.pump_all() == 0
    assert queued_ids(app) == ["webhook-event-1"]


def test_one_changed_byte_is_rejected_stores_nothing_and_logs_no_secret(app, client, probe, caplog):
    event = probe.probe_event()
    body = json.dumps(event)
    header = sign(body)
    tampered = body.replace('"livemode": false', '"livemode": falsE')
    assert len(tampered) == len(body) and tampered != body
    with caplog.at_level(logging.INFO):
        r = client.post(URL, data=tampered, content_type="application/json", headers={"Stripe-Signature": header})
    assert r.status_code == 400
    assert r.get_json() == {"error": "invalid signature"}
    assert stored(app) == [] and queued_ids(app) == []
    lines = [rec.getMessage() for rec in caplog.records if rec.name.startswith("saas")]
    assert any("webhook rejected" in line for line in lines), lines
    signature = header.split("v1=")[1]
    for line in lines:
        assert WEBHOOK_SECRET not in line and signature not in line and "whsec_" not in line


def test_signed_with_another_secret_is_rejected(app, client, probe):
    r = post_event(client, probe.probe_event(), secret="whsec_someone_elses_secret")
    assert r.status_code == 400
    assert stored(app) == []


def test_duplicate_delivery_gives_one_row_one_job_one_effect(app, client, probe, drain):
    event = probe.probe_event()
    first = post_event(client, event)
    again = [post_event(client, event) for _ in range(3)]
    assert first.status_code == 200
    assert [r.get_json() for r in again] == [{"received": True, "duplicate": True}] * 3
    assert len(stored(app)) == 1
    assert drain() == 1
    assert queued_ids(app) == []
    # A redelivery after processing is still a duplicate, and queues nothing.
    assert post_event(client, event).get_json()["duplicate"] is True
    assert drain() == 0
    with app.app_context():
        assert probe.effects() == [event["id"]]
    assert stored(app) == [(event["id"], "test.probe", "processed", 1)]


def test_same_event_processed_twice_applies_once(app, client, probe):
    """Two jobs for one event (the sweep racing a slow worker) still apply it once."""
    from saas.webhooks.jobs import process_event

    event = probe.probe_event()
    post_event(client, event)
    with app.app_context():
        assert process_event(1) == "processed"
        assert process_event(1) == "processed"
        assert probe.effects() == [event["id"]]


def test_missing_secret_config_refuses_with_5xx_and_stores_nothing(app_config, probe, caplog):
    from saas import create_app

    bare = create_app(dict(app_config, STRIPE_WEBHOOK_SECRET=""))
    with caplog.at_level(logging.ERROR):
        r = post_event(bare.test_client(), probe.probe_event())
    # 5xx on purpose: Stripe keeps retrying, so nothing is lost while the config is fixed.
    assert r.status_code == 500
    assert r.get_json() == {"error": "webhook secret not configured"}
    assert any("STRIPE_WEBHOOK_SECRET is not set" in rec.getMessage() for rec in caplog.records)
    assert stored(bare) == []
    with bare.app_context():
        from saas.extensions import db

        db.engine.dispose()


def test_unknown_event_type_is_stored_ignored_and_answered_200(app, client, drain):
    event = {"id": "evt_unknown_1", "object": "event", "type": "radar.early_fraud_warning.created",
             "created": 1_700_000_000, "livemode": False, "data": {"object": {"id": "issfr_1"}}}
    r = post_event(client, event)
    assert r.status_code == 200
    assert drain() == 1
    assert stored(app) == [("evt_unknown_1", "radar.early_fraud_warning.created", "ignored", 1)]


def test_wrong_content_type_is_415_and_stores_nothing(app, client, probe):
    body = json.dumps(probe.probe_event())
    r = client.post(URL, data=body, content_type="text/plain", headers={"Stripe-Signature": sign(body)})
    assert r.status_code == 415
    assert stored(app) == []


def test_job_carries_the_retry_policy(app, client, probe):
    app.config.update(JOB_MAX_RETRIES=3, JOB_RETRY_INTERVALS=[5, 60])
    post_event(client, probe.probe_event())
    assert pump(app) == 1
    from saas import queue

    with app.app_context():
        job = Job.fetch("webhook-event-1", connection=queue.redis_conn())
        assert job.retries_left == 3
        assert job.retry_intervals == [5, 60, 60]
