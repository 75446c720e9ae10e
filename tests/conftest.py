"""Shared fixtures: real PostgreSQL (a database of its own, built with the real migrations),
real Redis (a database index of its own, flushed per test), the Stripe sandbox in a thread,
an RQ worker bound to the test app, and a live HTTP server for end-to-end tests.

Isolation is by TRUNCATE after each test rather than a rolled-back outer transaction: the
end-to-end tests run the app, the sandbox's webhook deliveries and RQ workers on other threads
and processes, which must see each other's commits.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from saas.devservices import ensure_services

WEBHOOK_SECRET = "whsec_test_" + "x" * 24
SECRET_KEY = "sk_test_sandbox_" + "k" * 16
PUBLISHABLE_KEY = "pk_test_sandbox_" + "p" * 16


# --- services ----------------------------------------------------------------------------------

def _test_database_url() -> str:
    ensure_services(say=lambda *_: None)
    url = make_url(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    # A database of the run's own (SAAS_TEST_DB), so that runs side by side do not collide.
    name = os.environ.get("SAAS_TEST_DB", "saas_pytest")
    # Under pytest-xdist each worker process gets a database of its own too.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        name = f"{name}_{worker}"
    return url.set(database=name).render_as_string(hide_password=False)


def _redis_test_url() -> str:
    base = os.environ["REDIS_URL"]
    db = int(os.environ.get("TEST_REDIS_DB", "13"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):  # and a Redis database of its own, counting down from TEST_REDIS_DB
        db = (db - int(worker[2:])) % 16
    if base.startswith("unix://"):
        return base.split("?")[0] + f"?db={db}"
    head = base.rsplit("/", 1)[0] if re.search(r"/\d+$", base) else base.rstrip("/")
    return f"{head}/{db}"


@pytest.fixture(scope="session")
def database_url():
    from saas.devservices import recreate_database

    url = _test_database_url()
    recreate_database(url)
    # The schema comes from the real migrations, so they are tested on every run.
    from flask_migrate import upgrade

    from saas import create_app

    app = create_app(_base_config(url, _redis_test_url(), sandbox_url="http://127.0.0.1:9"))
    with app.app_context():
        upgrade()
        from saas.extensions import db

        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def redis_url():
    ensure_services(say=lambda *_: None)
    return _redis_test_url()


def _base_config(database_url: str, redis_url: str, *, sandbox_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10},
        "REDIS_URL": redis_url,
        "RQ_QUEUE": "test",
        "BASE_URL": "http://localhost",
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_PRICE_ID_PRO": "",
        "STRIPE_API_BASE": sandbox_url,
        "STRIPE_JS_URL": sandbox_url + "/v3/",
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOG_LEVEL": "WARNING",
    }


# --- the Stripe sandbox --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _sandbox_server():
    from saas.sandbox import start_sandbox_thread

    handle = start_sandbox_thread(retry_schedule=[0.2, 0.5, 1, 2])
    yield handle
    handle.stop()


@pytest.fixture
def sandbox(_sandbox_server):
    """The sandbox, emptied for this test, delivering no webhooks unless a test sets a URL."""
    sb = _sandbox_server.sandbox
    sb.dispatcher.configure(None, None)
    sb.dispatcher.reset()
    sb.store.reset()
    yield _sandbox_server
    sb.dispatcher.configure(None, None)


# --- the app -------------------------------------------------------------------------------------

TABLES_SQL = """
SELECT string_agg(tablename, ', ') FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""


def wipe(app) -> None:
    """Empty every table and let go of the app's connections (the per-test isolation)."""
    from saas.extensions import db

    with app.app_context():
        db.session.remove()
        # DELETE children before parents and rewind the sequences: on tables this small it is
        # some fifty times faster than TRUNCATE, which rewrites every table's files.
        existing = set(db.session.execute(text(TABLES_SQL)).scalar().split(", "))
        ordered = [t.name for t in reversed(db.metadata.sorted_tables) if t.name in existing]
        leftovers = sorted(existing - set(ordered))  # tables a test made itself
        if leftovers:
            db.session.execute(text(f"TRUNCATE {', '.join(leftovers)} RESTART IDENTITY CASCADE"))
        db.session.execute(text("; ".join(f'DELETE FROM "{name}"' for name in ordered)))
        db.session.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                                "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
        from saas.webhooks import inbox

        inbox.close_intake_connections(app)
        conn = app.extensions.get("saas.redis")
        if conn is not None:
            conn.close()


@pytest.fixture
def app_config(database_url, redis_url, sandbox):
    """Overrides for this test's app; a test may change it before asking for ``app``."""
    return _base_config(database_url, redis_url, sandbox_url=sandbox.url)


@pytest.fixture
def app(app_config):
    from saas import create_app
    from saas.extensions import db

    app = create_app(app_config)
    with app.app_context():
        from saas import queue

        queue.redis_conn().flushdb()
    yield app
    wipe(app)


@pytest.fixture
def ctx(app):
    """An app context for tests that call services directly (not for test-client requests)."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


# --- helpers -----------------------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Auth:
    """Sign up / log in / log out through the real forms, CSRF tokens and all."""

    def __init__(self, client):
        self.client = client

    def token(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def signup(self, email="ada@example.com", password="correct horse battery", follow=False):
        token = self.token("/signup")
        return self.client.post("/signup", data={"csrf_token": token, "email": email, "password": password,
                                                 "confirm": password}, follow_redirects=follow)

    def login(self, email="ada@example.com", password="correct horse battery", next_=None):
        token = self.token("/login")
        path = "/login" + (f"?next={next_}" if next_ else "")
        return self.client.post(path, data={"csrf_token": token, "email": email, "password": password})

    def logout(self):
        token = self.token("/billing")
        return self.client.post("/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict | None = None, token_from: str = "/billing", **kwargs):
        """POST a form as the logged-in user, with a CSRF token taken from a page they can see."""
        body = {"csrf_token": self.token(token_from)}
        body.update(data or {})
        return self.client.post(path, data=body, **kwargs)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def make_client(app):
    """More browsers: ``c, a = make_client()`` gives a new test client and its Auth."""
    def _make():
        c = app.test_client()
        return c, Auth(c)
    return _make


@pytest.fixture
def pro_plan(app):
    """The Pro price created in the sandbox and recorded as a plan we sell (detached: no app
    context is held, so test-client requests stay independent)."""
    from saas.billing.services import seed_pro_plan
    from saas.extensions import db

    with app.app_context():
        plan, _ = seed_pro_plan()
        db.session.refresh(plan)
        db.session.expunge(plan)
    return plan


# --- webhooks and the worker -----------------------------------------------------------------------

def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    from saas.stripe_gateway import sign_payload

    return sign_payload(payload, secret, int(time.time()) if timestamp is None else timestamp)


def post_event(client, event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    import json

    body = json.dumps(event)
    return client.post("/api/webhooks/stripe", data=body, content_type="application/json",
                       headers={"Stripe-Signature": sign(body, secret, timestamp)})


def pump(app) -> int:
    """Queue what intake stored, as a worker's pump thread would; returns the rows claimed."""
    from saas.webhooks import pump as pump_module

    with app.app_context():
        return pump_module.pump_all()


@pytest.fixture
def drain(app):
    """Run the test app's RQ queue to empty in this thread; returns the number of jobs run."""
    from saas import queue

    base = queue.worker_class(app)

    class Counting(base):
        # RQ 3 keeps its job counters in Redis only; count here what this drain ran.
        ran = 0

        def execute_job(self, job, q):
            type(self).ran += 1
            return super().execute_job(job, q)

    def _drain(max_jobs: int = 1000, with_scheduler: bool = False) -> int:
        """``with_scheduler``: also run RQ's scheduler, which moves due retries back onto the queue."""
        from saas.webhooks import pump

        with app.app_context():
            conn, q = queue.redis_conn(), queue.get_queue()
            # What a worker's pump thread does: queue the events stored since.
            pump.pump_all()
        Counting.ran = 0
        worker = Counting([q], connection=conn, name=f"test-{uuid.uuid4().hex[:8]}")
        worker.work(burst=True, max_jobs=max_jobs, with_scheduler=with_scheduler, logging_level="WARNING")
        return Counting.ran

    return _drain


@pytest.fixture
def probe(app):
    """The test-only ``test.probe`` handler installed and its effects table created (both
    removed after): a countable effect, able to block or fail on demand."""
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


class ThreadWorker:
    """An RQ worker on a thread (no signal handlers there), polling until stopped, with the
    pump thread a worker process runs."""

    def __init__(self, app):
        from rq.timeouts import TimerDeathPenalty

        from saas import queue

        base = queue.worker_class(app)

        class Threaded(base):
            death_penalty_class = TimerDeathPenalty

            def _install_signal_handlers(self):
                pass

        self.app = app
        self.cls = Threaded
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="test-rq-worker")

    def _run(self):
        from saas import queue

        with self.app.app_context():
            conn = queue.redis_conn()
            q = queue.get_queue()
        while not self.stop_event.is_set():
            worker = self.cls([q], connection=conn, name=f"tw-{uuid.uuid4().hex[:8]}")
            worker.work(burst=True, logging_level="WARNING")
            self.stop_event.wait(0.05)

    def start(self):
        from saas.webhooks import pump

        # The worker process's pump, as worker.py runs it: stored events reach RQ through it.
        self.pump = pump.start(self.app, self.stop_event)
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=10)
        self.pump.join(timeout=10)


class LiveServer:
    """The test app served over HTTP on a thread, for the sandbox's webhooks and real browsers."""

    def __init__(self):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *a, **k):
                pass

        self.server = make_server("127.0.0.1", 0, None, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, app):
        self.server.app = app
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(app_config, sandbox):
    """End-to-end rig: the app over HTTP, the sandbox delivering signed webhooks to it, and a
    worker applying them. Yields an object with .url, .app, .sandbox and .worker."""
    from saas import create_app
    from saas.extensions import db

    server = LiveServer()
    app_config = dict(app_config, BASE_URL=server.url)
    app = create_app(app_config)
    with app.app_context():
        from saas import queue

        queue.redis_conn().flushdb()
    server.serve(app)
    sandbox.set_webhook(server.url + "/api/webhooks/stripe", WEBHOOK_SECRET)
    worker = ThreadWorker(app).start()

    class Rig:
        pass

    rig = Rig()
    rig.url, rig.app, rig.sandbox, rig.worker = server.url, app, sandbox, worker
    yield rig
    sandbox.set_webhook(None, None)
    worker.stop()
    server.stop()
    wipe(app)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail the test with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# --- browser -----------------------------------------------------------------------------------------

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    import shutil

    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def _chromium():
    """One headless Chromium per test process (it takes seconds to start); pages are per test."""
    path = chromium_path()
    if not path:
        reason = "no Chromium on this machine (Debian: apt-get install chromium); browser test skipped"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason.replace("skipped", "required by REQUIRE_BROWSER"))
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_chromium):
    """A Playwright page (a fresh browser context: no cookies from other tests) in the system's
    headless Chromium. Skips (with the reason) when no Chromium is installed, unless
    REQUIRE_BROWSER is set, as CI does: there it fails."""
    context = _chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    # What the page's scripts threw or logged as errors; tests assert it stays empty.
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.on("console", lambda m: page.js_errors.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error" else None)
    yield page
    context.close()


def screenshot(page, name: str) -> str:
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path, full_page=True)
    return path
