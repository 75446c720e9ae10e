"""Imported by a worker subprocess (``--include``): the ``test.probe`` handler, and a pump that
stalls after Redis took its jobs and before it commits ``queued_at`` (the window in which a
killed worker leaves jobs queued and rows claimed but uncommitted). It appends a line to the
file named by ``STALL_PUMP_FLAG`` when it enters the window, and waits ``STALL_PUMP_SECONDS``."""

import os
import time

from saas import queue
from tests.webhooks import probe

probe.install()

_enqueue_jobs = queue.enqueue_jobs


def _stalling_enqueue_jobs(jobs, *args, **kwargs):
    ok = _enqueue_jobs(jobs, *args, **kwargs)
    if ok and jobs and os.environ.get("STALL_PUMP_FLAG"):
        with open(os.environ["STALL_PUMP_FLAG"], "a") as flag:
            flag.write(f"{os.getpid()} {jobs}\n")
        time.sleep(float(os.environ.get("STALL_PUMP_SECONDS", "60")))
    return ok


queue.enqueue_jobs = _stalling_enqueue_jobs
