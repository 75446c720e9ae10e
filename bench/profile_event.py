"""Where one webhook job's time goes: the deterministic figures behind benchmark (b).

Runs ``process_event`` in this process, one app context per job as the RQ worker does, for
``customer.subscription.updated`` events against a sandbox process, and prints per event:
SQL statements, this process's CPU time, the sandbox process's CPU time and wall time. These
move far less than the throughput benchmark when the machine is shared.

    python bench/profile_event.py [--events 500] [--profile]   # --profile: cProfile top 30

Uses database `<bench database>_prof` and wipes it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time

import _rig
import worker_throughput as wt


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--subscriptions", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--pyinstrument", action="store_true", help="sampled wall-time tree (pip install pyinstrument)")
    args = ap.parse_args()
    env = _rig.bench_env()
    from sqlalchemy.engine import make_url

    url = make_url(env["DATABASE_URL"])
    env["DATABASE_URL"] = url.set(database=url.database + "_prof").render_as_string(hide_password=False)
    _rig.reset_database(env)
    sandbox, env = wt.setup_sandbox_subscriptions(env, args.subscriptions)
    subs = json.loads(env.pop("_SUBS"))
    os.environ.update(env)
    try:
        from sqlalchemy import event as sa_event

        from saas import create_app
        from saas.extensions import db
        from saas.webhooks import inbox
        from saas.webhooks.jobs import process_event

        app = create_app()
        with app.app_context():
            ids = [inbox.store_event(_rig.subscription_event(n, customer=subs[n % len(subs)][0],
                                                              sub_id=subs[n % len(subs)][1]))
                   for n in range(args.events + 20)]
            engine = db.engine
        statements: list[str] = []
        sa_event.listen(engine, "before_cursor_execute",
                        lambda conn, cur, stmt, *a: statements.append(stmt.split(None, 1)[0] + " " + stmt[:90]))
        for event_id in ids[:20]:  # warm-up: imports, pools, the HTTP connection
            with app.app_context():
                process_event(event_id)
        with app.app_context():
            from sqlalchemy import text

            pg_pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            db.session.rollback()
        statements.clear()
        work = ids[20:]
        # CPU time, not wall: waits on PostgreSQL and the sandbox are not this process's cost.
        prof = cProfile.Profile(time.process_time) if args.profile else None
        pg0 = proc_cpu(pg_pid)
        sb0, cpu0, t0 = proc_cpu(sandbox.pid), time.process_time(), time.perf_counter()
        sampler = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0002)
            sampler.start()
        if prof:
            prof.enable()
        for event_id in work:
            with app.app_context():
                assert process_event(event_id) == "processed"
        if prof:
            prof.disable()
        if sampler:
            sampler.stop()
        wall, cpu, sb = time.perf_counter() - t0, time.process_time() - cpu0, proc_cpu(sandbox.pid) - sb0
        pg = proc_cpu(pg_pid) - pg0
        n = len(work)
        print(f"events: {n}")
        print(f"SQL statements per event: {len(statements) / n:.2f}")
        per = {}
        for s in statements:
            key = s[:100]
            per[key] = per.get(key, 0) + 1
        for key, count in sorted(per.items(), key=lambda kv: -kv[1]):
            print(f"  {count / n:5.2f}  {key}")
        print(f"worker CPU per event:  {cpu / n * 1000:6.2f} ms{' (profiled)' if prof else ''}")
        print(f"sandbox CPU per event: {sb / n * 1000:6.2f} ms")
        print(f"PostgreSQL backend CPU per event: {pg / n * 1000:6.2f} ms")
        print(f"wall per event:        {wall / n * 1000:6.2f} ms")
        if sampler:
            print(sampler.output_text(color=False, unicode=False))
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    finally:
        sandbox.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
