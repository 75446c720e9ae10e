"""Webhook delivery: a background thread POSTs each event, signed like Stripe, with retries.

Normal mode delivers in creation order, one at a time. A failed attempt (non-2xx or network
error) is rescheduled with backoff and keeps retrying up to `max_attempts`; a delivery that
exhausts its attempts is marked `failed`, logged as an error and stays visible (and
redeliverable) under /_sandbox/events -- nothing is dropped silently.

Chaos mode reproduces what real Stripe can do to a webhook handler: out-of-order delivery
within a window, duplicates (same event id) and random delays.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger("saas.sandbox.webhooks")

DEFAULT_RETRY_SCHEDULE = (0.5, 1, 2, 5, 10, 30, 60, 120, 300)


def sign(payload: str, secret: str, ts: int | None = None) -> str:
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def normalize_chaos(chaos) -> dict | None:
    if not chaos:
        return None
    base = {"shuffle": True, "duplicate": 0.3, "delay_max": 0.5, "window": 5, "seed": None}
    if isinstance(chaos, dict):
        base.update(chaos)
    return base


@dataclass
class Delivery:
    event_id: str
    event_type: str
    body: str
    due: float
    seq: int
    attempts: int = 0
    status: str = "pending"  # pending | in_flight | delivered | failed
    log: list = field(default_factory=list)


class Dispatcher:
    def __init__(self, *, url=None, secret=None, retry_schedule=None, chaos=None, max_attempts=20,
                 timeout=10.0):
        self.url, self.secret = url, secret
        self.retry_schedule = tuple(retry_schedule or DEFAULT_RETRY_SCHEDULE)
        self.chaos = normalize_chaos(chaos)
        self.rng = random.Random(self.chaos["seed"] if self.chaos else None)
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.cond = threading.Condition()
        self.deliveries: list[Delivery] = []
        self._seq = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    # -- producer side ---------------------------------------------------------
    def configure(self, url, secret) -> None:
        with self.cond:
            self.url, self.secret = url, secret
            self.cond.notify_all()

    def set_chaos(self, chaos) -> dict | None:
        """Turn chaos on (True or a dict of settings) or off (None/False) at runtime; applies to
        events enqueued from now on and to the order pending ones are picked in."""
        with self.cond:
            self.chaos = normalize_chaos(chaos)
            self.rng = random.Random(self.chaos["seed"] if self.chaos else None)
            self.cond.notify_all()
            return self.chaos

    def enqueue(self, event: dict) -> None:
        """Called (under the store lock) for every new event."""
        with self.cond:
            if not self.url:
                return
            event["pending_webhooks"] = 1
            body = json.dumps(event, indent=2)
            copies = 1
            if self.chaos and self.rng.random() < self.chaos["duplicate"]:
                copies = 2
            for _ in range(copies):
                delay = self.rng.uniform(0, self.chaos["delay_max"]) if self.chaos else 0
                self._add(Delivery(event["id"], event["type"], body, time.monotonic() + delay, 0))

    def redeliver(self, event: dict) -> None:
        with self.cond:
            body = json.dumps(event, indent=2)
            self._add(Delivery(event["id"], event["type"], body, time.monotonic(), 0))

    def _add(self, d: Delivery) -> None:
        self._seq += 1
        d.seq = self._seq
        self.deliveries.append(d)
        self.cond.notify_all()

    def reset(self) -> None:
        with self.cond:
            self.deliveries = [d for d in self.deliveries if d.status == "in_flight"]

    def stop(self) -> None:
        with self.cond:
            self._stopped = True
            self.cond.notify_all()

    # -- inspection ------------------------------------------------------------
    def busy(self) -> bool:
        return any(d.status in ("pending", "in_flight") for d in self.deliveries)

    def wait_idle(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.busy():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def status_of(self, event_id: str) -> list[dict]:
        with self.cond:
            return [{"status": d.status, "attempts": d.attempts, "log": list(d.log)}
                    for d in self.deliveries if d.event_id == event_id]

    # -- worker ----------------------------------------------------------------
    def _next_due(self) -> Delivery | None:
        now = time.monotonic()
        due = [d for d in self.deliveries if d.status == "pending" and d.due <= now]
        if not due:
            return None
        due.sort(key=lambda d: (d.seq if d.attempts == 0 else d.due, d.seq))
        if self.chaos and self.chaos["shuffle"]:
            return self.rng.choice(due[: max(1, int(self.chaos["window"]))])
        return due[0]

    def _run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self._stopped:
                        return
                    d = self._next_due() if self.url else None
                    if d:
                        break
                    pending = [x.due for x in self.deliveries if x.status == "pending"]
                    wait = max(0.0, min(pending) - time.monotonic()) if pending else None
                    self.cond.wait(min(wait, 1.0) if wait is not None else 1.0)
                d.status = "in_flight"
                d.attempts += 1
                url, secret = self.url, self.secret or ""
            ok, detail = self._post(url, secret, d)
            with self.cond:
                d.log.append({"at": int(time.time()), "ok": ok, "detail": detail})
                if ok:
                    d.status = "delivered"
                    log.info("webhook %s %s delivered (attempt %d): %s", d.event_type, d.event_id, d.attempts, detail)
                elif d.attempts >= self.max_attempts:
                    d.status = "failed"
                    log.error("webhook %s %s FAILED after %d attempts, giving up (redeliver via "
                              "/_sandbox/redeliver/%s): %s", d.event_type, d.event_id, d.attempts, d.event_id, detail)
                else:
                    delay = self.retry_schedule[min(d.attempts - 1, len(self.retry_schedule) - 1)]
                    d.status, d.due = "pending", time.monotonic() + delay
                    log.warning("webhook %s %s attempt %d failed (%s); retrying in %ss",
                                d.event_type, d.event_id, d.attempts, detail, delay)
                self.cond.notify_all()

    def _post(self, url: str, secret: str, d: Delivery) -> tuple[bool, str]:
        req = urllib.request.Request(url, data=d.body.encode(), method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(d.body, secret),
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return 200 <= resp.status < 300, f"HTTP {resp.status}"
        except urllib.error.HTTPError as e:
            e.close()
            return False, f"HTTP {e.code}"
        except Exception as e:  # connection refused, timeout, ...: all retried
            return False, f"{type(e).__name__}: {e}"
