import pytest
from sqlalchemy import text


@pytest.fixture
def probe(app):
    """The ``test.probe`` handler installed and its effects table created (both removed after)."""
    from saas.extensions import db
    from tests.webhooks import probe as probe_module

    with app.app_context():
        db.session.execute(text(probe_module.CREATE_TABLE))
        db.session.commit()
    probe_module.install()
    yield probe_module
    probe_module.uninstall()
    with app.app_context():
        db.session.remove()
        db.session.execute(text("DROP TABLE IF EXISTS probe_effects"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def run_jobs(app):
    """Run the test app's queue to empty in this thread (optionally with RQ's scheduler, which
    moves due retries back onto the queue); returns how many jobs ran. (The shared ``drain``
    fixture reads counters RQ 3 keeps only in Redis, so it always says 0.)"""
    import uuid

    from saas import queue

    def _run(with_scheduler: bool = False) -> int:
        ran = []

        class Counting(queue.worker_class(app)):
            def execute_job(self, job, q):
                ran.append(job.id)
                return super().execute_job(job, q)

        with app.app_context():
            conn, q = queue.redis_conn(), queue.get_queue()
        worker = Counting([q], connection=conn, name=f"test-{uuid.uuid4().hex[:8]}")
        worker.work(burst=True, with_scheduler=with_scheduler, logging_level="WARNING")
        return len(ran)

    return _run
