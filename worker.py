"""The RQ worker: applies stored webhook events inside the app (``python worker.py``).

It also runs the pump (a thread that queues newly stored events: webhooks/pump.py), the
periodic chores (inbox sweep, reconciliation) in another, and RQ's scheduler, without which
retries with a backoff interval would never run. With ``--burst`` it queues whatever is stored
and unqueued once, then works until the queue is empty.

Options: ``--burst`` (work until the queue is empty, then exit) and ``--include MODULE``
(import a module before starting, e.g. one registering extra webhook handlers; like Celery's
``--include``; may be repeated).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from saas import config, create_app
from saas import periodic, queue
from saas.webhooks import pump

# PostgreSQL only notices a vanished client when it next reads from or writes to it; a job
# killed while its query waits on a lock would keep its transaction, and with it the event's
# row lock, until that wait ends. Checking the socket every 2 s while a query runs (PostgreSQL
# 14+ on Linux) ends a dead worker's transaction promptly, so the sweep can re-queue the event.
CLIENT_CHECK_MS = 2000


def worker_overrides(cfg: dict) -> dict:
    engine = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(engine.get("connect_args") or {})
    options = connect_args.get("options", "")
    connect_args["options"] = f"{options} -c client_connection_check_interval={CLIENT_CHECK_MS}".strip()
    engine["connect_args"] = connect_args
    return {"SQLALCHEMY_ENGINE_OPTIONS": engine}


def die_with_worker(worker_pid: int) -> None:
    """In a child forked from the worker (RQ's scheduler): be stopped when the worker dies.

    The child inherits the sockets of every PostgreSQL connection the worker had open when it
    forked (the pump's LISTEN and claim, the sweep, a job's). Were the worker killed on its own
    (the OOM killer, ``kill -9 PID``), an orphaned child would keep them open: PostgreSQL would
    never see those sessions end, and an uncommitted claim or job would keep its row locks for
    good. SIGTERM, so that RQ's scheduler releases its Redis lock on the way out. Linux only.
    """
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != worker_pid:  # the worker died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument("--include", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (registers extra handlers); repeatable")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for module in args.include:
        importlib.import_module(module)
    worker_pid = os.getpid()
    os.register_at_fork(after_in_child=lambda: die_with_worker(worker_pid))
    app = create_app(worker_overrides(config.from_env()))
    worker = queue.make_worker(app)
    if args.burst:
        with app.app_context():
            pump.pump_all()
    else:
        pump.start(app)
        periodic.start(app)
    logging.getLogger(__name__).info("worker %s listening on queue %r", worker.name, app.config["RQ_QUEUE"])
    worker.work(with_scheduler=True, burst=args.burst, logging_level=app.config["LOG_LEVEL"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
