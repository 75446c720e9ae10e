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
