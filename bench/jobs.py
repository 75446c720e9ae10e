"""The yardstick job for the worker benchmark: one UPDATE by unique index, nothing else."""

import os

import psycopg2

_conn = None


def touch(row_id: int) -> None:
    global _conn
    if _conn is None:
        _conn = psycopg2.connect(os.environ["DATABASE_URL"])
    with _conn.cursor() as cur:
        cur.execute("UPDATE bench_rows SET n = n + 1, at = clock_timestamp() WHERE id = %s", (row_id,))
    _conn.commit()
