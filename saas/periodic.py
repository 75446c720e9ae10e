"""Periodic chores run by every worker process: the inbox sweep and reconciliation.

Several workers may run; a short Redis lock per chore and period makes one of them do it.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def _sweep(app: Flask) -> None:
    from saas.webhooks import inbox

    inbox.sweep_unprocessed()


def _reconcile(app: Flask) -> None:
    try:
        from saas.reconcile import sync_all
    except ModuleNotFoundError:
        return
    sync_all(log_only=True)


# (name, setting holding the period in seconds, function)
CHORES = (
    ("sweep", "SWEEP_EVERY_SECONDS", _sweep),
    ("reconcile", "RECONCILE_EVERY_SECONDS", _reconcile),
)


def run_chore(app: Flask, name: str, fn, period: int) -> bool:
    """Run ``fn`` if no other worker ran it during this period. Returns True if it ran."""
    from saas import queue

    with app.app_context():
        try:
            got = queue.redis_conn().set(f"{app.config['RQ_QUEUE']}:chore:{name}", "1", nx=True,
                                         ex=max(int(period * 0.9), 1))
        except Exception as exc:  # Redis down: the sweep is what will recover it later
            log.warning("periodic %s skipped: Redis unavailable (%s)", name, type(exc).__name__)
            return False
        if not got:
            return False
        try:
            fn(app)
        except Exception:
            log.exception("periodic %s failed", name)
        finally:
            from saas.extensions import db

            db.session.remove()
        return True


def start(app: Flask, stop: threading.Event | None = None) -> threading.Thread:
    stop = stop or threading.Event()

    def loop():
        last: dict[str, float] = {}
        while not stop.is_set():
            now = time.monotonic()
            for name, setting, fn in CHORES:
                period = int(app.config.get(setting) or 0)
                if period <= 0:
                    continue
                if now - last.get(name, 0) >= period:
                    last[name] = now
                    run_chore(app, name, fn, period)
            stop.wait(1.0)

    thread = threading.Thread(target=loop, name="saas-periodic", daemon=True)
    thread.start()
    return thread
