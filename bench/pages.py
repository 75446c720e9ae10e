"""Benchmark (issue 6, 8c): page latency with 10,000 and with 1,000,000 orders.

Each size gets a fresh database (the real migrations), seeded in SQL with generate_series:
orders (with 1-3 lines each) spread over two years and over one user per ten orders, the
daily revenue rollup the store keeps, then VACUUM ANALYZE (what autovacuum does in production).
One "measured" customer has the same 60 orders in both sizes, so each page shows the same
content and only the tables around it grow. Pages are requested in-process through the Flask
test client (the full app: session, login, templates), logged in as that customer and as an
admin, and we print the median and p95 per page and the 1M/10k ratio.

    python bench/pages.py [--small 10000] [--large 1000000] [--samples 40]

Target: no page more than 1.5x slower at 1M than at 10k.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

import _rig

MEASURED_EMAIL = "measured@bench.example"
ADMIN_EMAIL = "admin@bench.example"
PASSWORD = "benchmark-password"
MEASURED_ORDERS = 60


def seed(env: dict, orders: int) -> float:
    """Fresh database with ``orders`` orders; returns the seconds the seeding took."""
    import psycopg2

    _rig.reset_database(env)
    os.environ.update(env)
    from saas.accounts.services import hash_password

    pw = hash_password(PASSWORD)
    users = max(orders // 10, 10)
    every = orders // MEASURED_ORDERS  # every so many orders, one is the measured customer's
    conn = psycopg2.connect(env["DATABASE_URL"])
    t0 = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
        # Bulk load the way pg_restore --disable-triggers does: no per-row foreign key checks
        # (the rows are generated consistent), secondary indexes (exactly as the migrations made
        # them) dropped, the rows inserted, and the indexes built once at the end.
        cur.execute("SET session_replication_role = replica")
        cur.execute("""SELECT indexname, indexdef FROM pg_indexes i WHERE tablename IN ('orders', 'order_lines', 'users')
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        # users: 1 is the measured customer, 2 the admin, 3.. everyone else
        cur.execute("""INSERT INTO users (id, email, password_hash, is_admin, created_at)
                       VALUES (1, %s, %s, false, now() - interval '800 days'), (2, %s, %s, true, now() - interval '800 days')""",
                    (MEASURED_EMAIL, pw, ADMIN_EMAIL, pw))
        cur.execute("""INSERT INTO users (id, email, password_hash, created_at)
                       SELECT g, 'user' || g || '@bench.example', %s, now() - interval '800 days'
                       FROM generate_series(3, %s + 2) g""", (pw, users))
        cur.execute("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")
        cur.execute("""INSERT INTO products (slug, name, description, unit_amount, currency, created_at, updated_at)
                       SELECT 'p' || g, 'Product ' || g, '', 100 * g, 'usd', now(), now() FROM generate_series(1, 3) g""")
        # orders: ids in time order over 730 days; statuses 5% failed, 4% refunded, 2% pending,
        # 3% partly refunded, 0.01% flagged for review, the rest paid.
        cur.execute("""
            INSERT INTO orders (id, user_id, status, currency, total_amount, amount_refunded, stripe_payment_intent_id,
                                checkout_token, failure_code, failure_message, review_reason, paid_at, created_at, updated_at)
            SELECT g,
                   CASE WHEN g %% %(every)s = 0 THEN 1 ELSE 3 + (g::bigint * 7919) %% %(users)s END,
                   s.status, 'usd', s.total,
                   CASE WHEN s.status = 'refunded' THEN s.total WHEN g %% 30 = 3 AND s.status = 'paid' THEN 500 ELSE 0 END,
                   'pi_bench' || g, 'ct_bench' || g,
                   CASE WHEN s.status = 'failed' THEN 'card_declined' END,
                   CASE WHEN s.status = 'failed' THEN 'Your card was declined. Try another card.' END,
                   CASE WHEN g %% 10007 = 5 THEN 'Stripe reports 1 usd received for pi_bench' || g END,
                   CASE WHEN s.status IN ('paid', 'refunded') THEN s.placed + interval '40 seconds' END,
                   s.placed, s.placed
            FROM generate_series(1, %(n)s) g,
                 LATERAL (SELECT now() - (%(n)s - g) * (interval '730 days' / %(n)s) AS placed,
                                 500 + ((g * 37) %% 50) * 100 AS total,
                                 CASE WHEN g %% 10007 = 5 THEN 'pending' WHEN g %% 20 = 0 THEN 'failed'
                                      WHEN g %% 25 = 1 THEN 'refunded' WHEN g %% 50 = 2 THEN 'pending'
                                      ELSE 'paid' END AS status) s""",
                    {"n": orders, "users": users, "every": every})
        cur.execute("SELECT setval('orders_id_seq', %s)", (orders,))
        cur.execute("""
            INSERT INTO order_lines (order_id, product_id, product_name, unit_amount, quantity)
            SELECT o.id, k, 'Product ' || k, CASE WHEN k = 1 THEN o.total_amount - (o.id % 3) * 100 ELSE 100 END, 1
            FROM orders o, generate_series(1, 1 + (o.id % 3)::int) k""")
        # What the store's services keep as orders are paid and refunded (same SQL as migration 0007).
        cur.execute("""
            INSERT INTO store_revenue_days (day, currency, orders_paid, amount_paid, amount_refunded)
            SELECT (paid_at AT TIME ZONE 'UTC')::date, currency, count(*), sum(total_amount), sum(amount_refunded)
            FROM orders WHERE paid_at IS NOT NULL GROUP BY 1, 2""")
        for _, definition in indexes:
            cur.execute(definition)
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("""SELECT count(*) FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id
                       WHERE o.id IS NULL OR o.user_id NOT IN (SELECT id FROM users)""")
        assert cur.fetchone()[0] == 0, "the seed broke a foreign key"
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def pages(conn_env: dict) -> dict[str, str]:
    import psycopg2

    conn = psycopg2.connect(conn_env["DATABASE_URL"])
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM orders WHERE user_id = 1 ORDER BY id DESC")
        mine = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT max(id) FROM orders")
        top = cur.fetchone()[0]
        cur.execute("SELECT (now() - interval '365 days')::date")
        mid = cur.fetchone()[0]
    conn.close()
    from datetime import timedelta

    return {
        "customer: order history": "/orders",
        "customer: history, 3rd page": f"/orders?before={mine[39]}",
        "customer: an order": f"/orders/{mine[30]}",
        "admin: orders": "/admin/orders",
        "admin: orders, status=refunded": "/admin/orders?status=refunded",
        "admin: orders, by email": f"/admin/orders?email={MEASURED_EMAIL}",
        "admin: orders, 1 week a year ago": f"/admin/orders?from={mid}&to={mid + timedelta(days=6)}",
        "admin: orders, deep keyset page": f"/admin/orders?before={top // 2}",
        "admin: the customer's page": "/admin/users/1",
        "admin: dashboard": "/admin",
    }


def logged_in_clients(app):
    clients = {}
    for who, email in (("customer", MEASURED_EMAIL), ("admin", ADMIN_EMAIL)):
        c = app.test_client()
        html = c.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
        r = c.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
        assert r.status_code == 302, f"{who} could not log in"
        clients[who] = c
    return clients


def measure(envs: dict[int, dict], samples: int) -> dict[int, dict[str, tuple[float, float]]]:
    """Both sizes' apps side by side, requests alternating between them, so that the machine's
    noise (other processes, CPU frequency) falls on both sizes alike."""
    from saas import create_app

    apps, urls, clients = {}, {}, {}
    for n, env in envs.items():
        os.environ.update(env)
        apps[n] = create_app()
        urls[n] = pages(env)
        clients[n] = logged_in_clients(apps[n])
    out = {n: {} for n in envs}
    for name in urls[next(iter(envs))]:
        who = "admin" if name.startswith("admin") else "customer"
        times = {n: [] for n in envs}
        for i in range(samples + 3):
            for n in envs:
                t0 = time.perf_counter()
                r = clients[n][who].get(urls[n][name])
                elapsed = (time.perf_counter() - t0) * 1000
                assert r.status_code == 200, f"{urls[n][name]}: {r.status_code}"
                if i >= 3:  # the first few warm the pool and the template cache
                    times[n].append(elapsed)
        for n in envs:
            out[n][name] = (statistics.median(times[n]), _rig.percentile(times[n], 95))
    from saas.extensions import db

    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=40)
    args = ap.parse_args()
    base = _rig.bench_env(APP_ENV="development")
    from sqlalchemy.engine import make_url

    envs = {}
    for n in (args.small, args.large):
        # Databases of this benchmark's own, so the other benchmarks can run beside it.
        url = make_url(base["DATABASE_URL"]).set(database=f"saas_bench_pages_{n}")
        envs[n] = dict(base, DATABASE_URL=url.render_as_string(hide_password=False))
        seconds = seed(envs[n], n)
        print(f"seeded {n:,} orders (with their lines, users and revenue rollup; indexes built; "
              f"VACUUM ANALYZE) in {seconds:.1f} s", flush=True)
    results = measure(envs, args.samples)
    small, large = results[args.small], results[args.large]
    print()
    print(f"| page | {args.small // 1000}k median ms | {args.small // 1000}k p95 | "
          f"{args.large // 1000}k median ms | {args.large // 1000}k p95 | ratio (median) |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for name in small:
        (m1, p1), (m2, p2) = small[name], large[name]
        ratio = m2 / m1
        worst = max(worst, ratio)
        print(f"| {name} | {m1:.1f} | {p1:.1f} | {m2:.1f} | {p2:.1f} | {ratio:.2f}x{' MISS' if ratio > 1.5 else ''} |")
    print(f"\nworst ratio {worst:.2f}x (target: at most 1.5x)")


if __name__ == "__main__":
    main()
