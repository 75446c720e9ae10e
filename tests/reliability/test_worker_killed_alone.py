"""The worker process SIGKILLed on its own (the OOM killer picks one process; ``kill -9 PID``),
not its whole process group. RQ's scheduler is a child forked from the worker after the pump
and the sweep opened their PostgreSQL connections, so it holds copies of their sockets: unless
it goes too, PostgreSQL never sees the dead worker's sessions end, their transactions keep
their row locks, and the events under them are never applied (the next worker's job waits on
the lock; the pump and the sweep skip locked rows)."""

from __future__ import annotations

import os
import random
import signal
import time

import psycopg2
from sqlalchemy.engine import make_url

from tests.conftest import post_event, wait_for
from tests.reliability.helpers import effects, events
from tests.reliability.test_crash import WorkerProcess, backends_waiting_on_probe_lock, libpq_dsn


def group_members(w: WorkerProcess) -> list[int]:
    """Live processes in the worker's process group (the worker and RQ's scheduler child)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == w.proc.pid:
            out.append(int(pid))
    return out


def kill_worker_only(w: WorkerProcess) -> None:
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait(timeout=10)


def stop(*workers) -> None:
    for w in workers:
        if w is None:
            continue
        if not w.log.closed:
            w.kill(signal.SIGKILL)
        try:
            os.killpg(w.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_worker_killed_alone_between_pump_enqueue_and_commit(app, app_config, client, probe, tmp_path):
    flag = tmp_path / "stalled"
    first = second = None
    sent = [probe.probe_event() for _ in range(3)]
    try:
        first = WorkerProcess(app_config, tmp_path, "first", sweep=False, include="tests.webhooks.stall_pump_worker",
                              extra_env={"STALL_PUMP_FLAG": str(flag)})
        wait_for(lambda: len(group_members(first)) == 2, timeout=20, message="the worker's RQ scheduler child")
        for event in sent:
            assert post_event(client, event).status_code == 200
        wait_for(lambda: flag.exists() and flag.read_text().strip(), timeout=20,
                 message="the pump to have queued the jobs and stalled before its commit")

        kill_worker_only(first)
        second = WorkerProcess(app_config, tmp_path, "second")
        wait_for(lambda: [e[1] for e in events(app)] == ["processed"] * 3, timeout=30,
                 message="the events the dead worker's pump had claimed to be applied")
        time.sleep(1.5)  # a few more sweeps: none may apply an event again
        assert sorted(effects(app, probe)) == sorted(e["id"] for e in sent)
        assert group_members(first) == []  # nothing of the dead worker lives on
    except BaseException:
        for w in (first, second):
            if w is not None:
                print(f"--- {w.log_path.name} ---\n{w.output()}")
        raise
    finally:
        stop(first, second)


def test_worker_killed_alone_mid_job_releases_the_event(app, app_config, client, probe, tmp_path):
    dsn = libpq_dsn(app_config["SQLALCHEMY_DATABASE_URI"])
    database = make_url(app_config["SQLALCHEMY_DATABASE_URI"]).database
    lock_key = random.randint(1, 2**31 - 1)
    holder = psycopg2.connect(dsn)
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (lock_key,))
    event = probe.probe_event(block_on=lock_key)
    first = second = None
    try:
        first = WorkerProcess(app_config, tmp_path, "first", sweep=False)
        wait_for(lambda: len(group_members(first)) == 2, timeout=20, message="the worker's RQ scheduler child")
        assert post_event(client, event).status_code == 200
        wait_for(lambda: backends_waiting_on_probe_lock(dsn, database) == 1, timeout=20,
                 message="the worker to be stuck inside the probe handler")
        kill_worker_only(first)
        wait_for(lambda: backends_waiting_on_probe_lock(dsn, database) == 0, timeout=10,
                 message="PostgreSQL to drop the dead worker's transaction")
        holder.cursor().execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
        second = WorkerProcess(app_config, tmp_path, "second")
        wait_for(lambda: events(app)[0][1] == "processed", timeout=20,
                 message="the restarted worker's sweep to re-queue and apply the event")
        assert effects(app, probe) == [event["id"]]
    except BaseException:
        for w in (first, second):
            if w is not None:
                print(f"--- {w.log_path.name} ---\n{w.output()}")
        raise
    finally:
        stop(first, second)
        holder.close()
