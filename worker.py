"""The RQ worker: applies stored webhook events inside the app (``python worker.py``).

It also runs the periodic chores (inbox sweep, reconciliation) in a background thread, and
RQ's scheduler, without which retries with a backoff interval would never run.
"""

from __future__ import annotations

import logging
import sys

from saas import create_app
from saas import periodic, queue


def main(argv: list[str]) -> int:
    app = create_app()
    burst = "--burst" in argv
    worker = queue.make_worker(app)
    if not burst:
        periodic.start(app)
    logging.getLogger(__name__).info("worker %s listening on queue %r", worker.name, app.config["RQ_QUEUE"])
    worker.work(with_scheduler=True, burst=burst, logging_level=app.config["LOG_LEVEL"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
