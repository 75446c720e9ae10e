"""Benchmark (b): webhook events applied per second by 2 worker processes.

Beside it, in the same run, the yardstick: 2 RQ SimpleWorker processes running a job that does a
single UPDATE by unique index. Our events are `customer.subscription.updated` for subscriptions
that exist in a running Stripe sandbox, so each job does what production does (the timed part
starts with the workers' pump queueing the stored events, as in production): lock the event
row, re-read the subscription from Stripe (the sandbox, over HTTP), upsert it, mark the event
processed, commit.

    python bench/worker_throughput.py [--events 3000] [--subscriptions 50]

Target (issue 6): at least half of the yardstick's rate.

Two rates for each side: over the whole run of the burst workers (process start-up included:
about 1.2 s of imports for worker.py against 0.3 s for `rq worker`), and steady state, from the
first job's write to the last one's (the yardstick stamps clock_timestamp(), our events their
processed_at). A worker runs for days, so the steady state is the figure that matters.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _rig


def start_workers(cmd: list[str], env: dict, n: int = 2) -> list[subprocess.Popen]:
    return [subprocess.Popen(cmd, env=env, cwd=_rig.ROOT) for _ in range(n)]


def wait_all(procs) -> None:
    for p in procs:
        p.wait(timeout=600)


def yardstick(env: dict, jobs: int) -> tuple[float, float]:
    import psycopg2
    from redis import Redis
    from rq import Queue

    conn = psycopg2.connect(env["DATABASE_URL"])
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_rows; "
                    "CREATE TABLE bench_rows (id int PRIMARY KEY, n int NOT NULL, at timestamptz)")
        cur.execute("INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, %s) g", (jobs,))
    conn.commit()
    q = Queue("bench-yardstick", connection=Redis.from_url(env["REDIS_URL"]))
    from bench.jobs import touch

    with q.connection.pipeline() as pipe:
        for i in range(1, jobs + 1):
            q.enqueue(touch, i, pipeline=pipe)
        pipe.execute()
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "-w", "rq.SimpleWorker", "-u", env["REDIS_URL"],
           "-q", "bench-yardstick"]
    t0 = time.perf_counter()
    wait_all(start_workers(cmd, env))
    elapsed = time.perf_counter() - t0
    with conn.cursor() as cur:
        cur.execute("SELECT sum(n), extract(epoch FROM max(at) - min(at)) FROM bench_rows")
        done, span = cur.fetchone()
    conn.close()
    assert done == jobs, f"yardstick ran {done} of {jobs} jobs"
    return jobs / elapsed, (jobs - 1) / float(span)


def setup_sandbox_subscriptions(env: dict, count: int) -> tuple[subprocess.Popen, dict]:
    import requests

    port = _rig.free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "saas.sandbox", "--port", str(port)], env=env, cwd=_rig.ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    _rig.wait_http(base + "/_sandbox/health")
    env = dict(env, STRIPE_SECRET_KEY="sk_test_bench", STRIPE_PUBLISHABLE_KEY="pk_test_bench",
               STRIPE_API_BASE=base, STRIPE_JS_URL=base + "/v3/")
    code = f"""
import json, requests, stripe
from saas import create_app
from saas.accounts.services import create_user
from saas.billing.services import seed_pro_plan, ensure_customer
from saas.extensions import db
app = create_app()
out = []
with app.app_context():
    plan, _ = seed_pro_plan()
    client = stripe.StripeClient("sk_test_bench", base_addresses={{"api": "{base}"}})
    for i in range({count}):
        user = create_user(f"bench{{i}}@example.com", "benchmark-password")
        cus = ensure_customer(user.id)
        cs = client.v1.checkout.sessions.create(params={{"mode": "subscription", "customer": cus,
            "line_items": [{{"price": plan.stripe_price_id, "quantity": 1}}],
            "success_url": "http://x/s", "cancel_url": "http://x/c"}})
        requests.post(cs.url, data={{"cardNumber": "4242424242424242", "cardExpiry": "12 / 34",
                                     "cardCvc": "123", "billingName": "Bench"}}, allow_redirects=False)
        sub = client.v1.checkout.sessions.retrieve(cs.id).subscription
        out.append((cus, sub))
print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=_rig.ROOT, capture_output=True, text=True)
    if result.returncode:
        sandbox.kill()
        raise RuntimeError(result.stderr[-3000:])
    env["_SUBS"] = result.stdout.strip().splitlines()[-1]
    return sandbox, env


def ours(env: dict, events: int) -> tuple[float, float]:
    subs = json.loads(env.pop("_SUBS"))
    code = f"""
import json, sys
sys.path.insert(0, "bench")
import _rig
from saas import create_app
from saas.webhooks import inbox
subs = json.loads({json.dumps(json.dumps(subs))})
app = create_app()
with app.app_context():
    for n in range({events}):
        cus, sub = subs[n % len(subs)]
        inbox.store_event(_rig.subscription_event(n, customer=cus, sub_id=sub))
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=_rig.ROOT, check=True)
    t0 = time.perf_counter()
    wait_all(start_workers([sys.executable, "worker.py", "--burst"], env))
    elapsed = time.perf_counter() - t0
    import psycopg2

    conn = psycopg2.connect(env["DATABASE_URL"])
    with conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM webhook_events WHERE stripe_id LIKE 'evt_bench%%' GROUP BY status")
        statuses = dict(cur.fetchall())
        cur.execute("SELECT extract(epoch FROM max(processed_at) - min(processed_at)) FROM webhook_events "
                    "WHERE stripe_id LIKE 'evt_bench%%'")
        span = float(cur.fetchone()[0])
    conn.close()
    assert statuses.get("processed") == events, f"not every event was processed: {statuses}"
    return events / elapsed, (events - 1) / span


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--subscriptions", type=int, default=50)
    args = ap.parse_args()
    env = _rig.bench_env()
    _rig.reset_database(env)
    base = yardstick(env, args.events)
    sandbox, env = setup_sandbox_subscriptions(env, args.subscriptions)
    try:
        _rig.flush_redis(env)
        rate = ours(env, args.events)
    finally:
        sandbox.terminate()
    print(f"\nworker benchmark: {args.events} jobs, 2 worker processes")
    print(f"{'per second':<52}{'whole run':>10}{'steady':>10}")
    print(f"{'yardstick (SimpleWorker, one UPDATE per job)':<52}{base[0]:>10.0f}{base[1]:>10.0f}")
    print(f"{'webhook events applied (re-fetch from sandbox)':<52}{rate[0]:>10.0f}{rate[1]:>10.0f}")
    print(f"ratio: {rate[1] / base[1]:.2f}x steady (target >= 0.5x); {rate[0] / base[0]:.2f}x over the whole run, "
          "start-up included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
