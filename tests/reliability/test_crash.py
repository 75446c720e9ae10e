"""A real ``python worker.py`` killed with SIGKILL in the middle of a job loses nothing: the
event's transaction dies with the worker's connection, and after a restart the inbox sweep
finds the event unlocked and unfinished, queues it again and it is applied exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import post_event, pump, wait_for
from tests.reliability.helpers import effects, events, job_ids

ROOT = Path(__file__).resolve().parents[2]


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def backends_waiting_on_probe_lock(dsn: str, database: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
                    " AND query ILIKE '%%pg_advisory_xact_lock%%'", (database,))
        count = cur.fetchone()[0]
    conn.close()
    return count


class WorkerProcess:
    """``python worker.py`` in a process group of its own (RQ's scheduler is a child process),
    logging to a file the test prints when something goes wrong."""

    def __init__(self, app_config: dict, tmp_path: Path, name: str, sweep: bool = True,
                 include: str = "tests.webhooks.probe_worker", extra_env: dict | None = None):
        self.log_path = tmp_path / f"{name}.log"
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app_config["REDIS_URL"],
            "RQ_QUEUE": app_config["RQ_QUEUE"],
            "STRIPE_SECRET_KEY": app_config["STRIPE_SECRET_KEY"],
            "STRIPE_WEBHOOK_SECRET": app_config["STRIPE_WEBHOOK_SECRET"],
            "STRIPE_API_BASE": app_config["STRIPE_API_BASE"],
            "SWEEP_AFTER_SECONDS": "1",
            "SWEEP_EVERY_SECONDS": "1" if sweep else "0",
            "RECONCILE_EVERY_SECONDS": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra_env or {})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "worker.py", "--include", include],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)  # the group we created: the worker and its scheduler
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a scheduler child outliving a warm stop
        except ProcessLookupError:
            pass
        self.log.close()


def test_sigkill_mid_job_then_restart_applies_the_event_exactly_once(app, app_config, client, probe, tmp_path):
    from rq.job import Job, JobStatus

    from saas import queue

    dsn = libpq_dsn(app_config["SQLALCHEMY_DATABASE_URI"])
    database = make_url(app_config["SQLALCHEMY_DATABASE_URI"]).database
    lock_key = random.randint(1, 2**31 - 1)
    holder = psycopg2.connect(dsn)
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (lock_key,))
    event = probe.probe_event(block_on=lock_key)
    first = second = None
    try:
        assert post_event(client, event).status_code == 200
        # The first worker runs no sweep: with a 1 s threshold its own sweep could re-queue the
        # event it is stuck on, and the point here is what the restarted worker recovers.
        first = WorkerProcess(app_config, tmp_path, "first", sweep=False)
        wait_for(lambda: backends_waiting_on_probe_lock(dsn, database) == 1, timeout=20,
                 message="the worker to be stuck inside the probe handler")
        with app.app_context():
            job = Job.fetch("webhook-event-1", connection=queue.redis_conn())
            assert job.get_status() == JobStatus.STARTED

        first.kill(signal.SIGKILL)
        assert first.proc.returncode == -signal.SIGKILL
        # PostgreSQL ends the dead worker's transaction (and its row lock) with its connection.
        wait_for(lambda: backends_waiting_on_probe_lock(dsn, database) == 0, timeout=10,
                 message="PostgreSQL to drop the dead worker's transaction")
        assert events(app)[0][:3] == (event["id"], "received", 0)
        assert effects(app, probe) == []
        with app.app_context():
            # RQ alone would not retry yet: the job still looks "started" until job_timeout+60 s.
            assert Job.fetch("webhook-event-1", connection=queue.redis_conn()).get_status() == JobStatus.STARTED

        holder.cursor().execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
        second = WorkerProcess(app_config, tmp_path, "second")
        wait_for(lambda: events(app)[0][1] == "processed", timeout=20,
                 message="the restarted worker's sweep to re-queue and apply the event")
        time.sleep(2.5)  # a few more sweeps: none may apply it again
        assert effects(app, probe) == [event["id"]]
        assert events(app)[0][:3] == (event["id"], "processed", 1)
    except BaseException:
        for w in (first, second):
            if w is not None:
                print(f"--- {w.log_path.name} ---\n{w.output()}")
        raise
    finally:
        for w in (first, second):
            if w is not None and not w.log.closed:
                w.kill(signal.SIGTERM)
        holder.close()


@pytest.mark.parametrize("status", ["queued", "scheduled"])
def test_sweep_leaves_events_whose_job_is_still_waiting(app, client, probe, status):
    """The sweep does not queue a second job for an event RQ still holds (queued, or waiting
    out a retry's backoff)."""
    from datetime import timedelta

    from rq.job import Job

    from saas import queue
    from saas.webhooks import inbox

    post_event(client, probe.probe_event())
    assert pump(app) == 1
    with app.app_context():
        conn = queue.redis_conn()
        if status == "scheduled":
            q = queue.get_queue()
            job = Job.fetch("webhook-event-1", connection=conn)
            q.remove(job)
            q.schedule_job(job, job.created_at + timedelta(hours=1))
        assert Job.fetch("webhook-event-1", connection=conn).get_status() == status
        assert inbox.sweep_unprocessed(older_than_seconds=0) == 0
    assert job_ids(app) == (["webhook-event-1"] if status == "queued" else [])


@pytest.mark.parametrize("started_ago,requeued", [(0, False), (3600, True)])
def test_sweep_tells_a_just_started_job_from_a_dead_one(app, client, probe, started_ago, requeued):
    """A job that started after the sweep's SELECT looks "started" with an unlocked row, like a
    dead worker's; only one that started before the sweep's cutoff is taken as lost."""
    from datetime import timedelta

    from rq.job import Job, JobStatus

    from saas import queue
    from saas.timefmt import utcnow
    from saas.webhooks import inbox

    from saas.extensions import db
    from saas.webhooks.models import WebhookEvent

    post_event(client, probe.probe_event())
    assert pump(app) == 1
    with app.app_context():
        db.session.execute(db.update(WebhookEvent).values(received_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
        conn = queue.redis_conn()
        q = queue.get_queue()
        job = Job.fetch("webhook-event-1", connection=conn)
        q.remove(job)
        job.set_status(JobStatus.STARTED)
        job.started_at = (utcnow() - timedelta(seconds=started_ago)).replace(tzinfo=None)
        job.save()
        assert inbox.sweep_unprocessed(older_than_seconds=60) == (1 if requeued else 0)
        requeued_now = Job.fetch("webhook-event-1", connection=conn).get_status() == JobStatus.QUEUED
    assert requeued_now is requeued
