"""Shared set-up for the benchmarks: services, a database of their own, processes, events.

Benchmarks run against real services: the machine's PostgreSQL/Redis when DATABASE_URL /
REDIS_URL are set, the embedded ones otherwise. They use a database `saas_bench` and Redis
database 14, which they wipe.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from saas.devservices import ensure_services  # noqa: E402

WEBHOOK_SECRET = "whsec_bench_" + "b" * 24


def bench_env(**extra) -> dict:
    ensure_services(say=lambda *_: None)
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1))
    db_url = url.set(drivername="postgresql", database="saas_bench").render_as_string(hide_password=False)
    redis = os.environ["REDIS_URL"]
    if redis.startswith("unix://"):
        redis = redis.split("?")[0] + "?db=14"
    else:
        redis = redis.rsplit("/", 1)[0] + "/14" if redis.count("/") > 2 else redis.rstrip("/") + "/14"
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis, RQ_QUEUE="bench",
               STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, LOG_LEVEL="WARNING", RATELIMIT_ENABLED="false",
               SWEEP_EVERY_SECONDS="0", RECONCILE_EVERY_SECONDS="0", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def reset_database(env: dict) -> None:
    from saas.devservices import recreate_database

    recreate_database(env["DATABASE_URL"])
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    flush_redis(env)


def flush_redis(env: dict) -> None:
    from redis import Redis

    Redis.from_url(env["REDIS_URL"]).flushdb()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "code", None):  # an HTTP error is an answer: the server is up
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def gunicorn(app: str, port: int, env: dict, workers: int = 2) -> subprocess.Popen:
    """The Procfile's web process: gunicorn with sync workers."""
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", app, "--workers", str(workers), "--bind",
                             f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def subscription_event(n: int, customer: str = "cus_bench", sub_id: str | None = None) -> dict:
    """A customer.subscription.updated event in the current API shape (about 3 KB), built with
    the sandbox's own object shapes."""
    from saas.sandbox.shapes.billing import subscription, subscription_item
    from saas.sandbox.shapes.catalog import price as price_shape

    now = int(time.time())
    sub_id = sub_id or f"sub_bench{n:08d}"
    p = price_shape(created=now, product_id="prod_bench", currency="usd", unit_amount=1200,
                    recurring={"interval": "month"})
    sub = subscription(sub_id=sub_id, created=now, customer=customer, currency="usd", status="active",
                       metadata={"user_id": "1"}, anchor=now)
    sub["items"]["data"].append(subscription_item(created=now, sub_id=sub_id, price_obj=p, quantity=1,
                                                  period_start=now, period_end=now + 30 * 86400))
    return {"id": f"evt_bench{n:010d}", "object": "event", "api_version": "2026-10-28.endive",
            "created": now, "data": {"object": sub, "previous_attributes": {"status": "incomplete"}},
            "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "customer.subscription.updated"}


def signed(event: dict) -> tuple[str, str]:
    from saas.stripe_gateway import sign_payload

    body = json.dumps(event, separators=(",", ":"))
    return sign_payload(body, WEBHOOK_SECRET, int(time.time())), body


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[k]
