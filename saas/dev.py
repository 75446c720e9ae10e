"""The two commands a new developer needs: ``python3 -m saas.dev run`` and ``python3 -m saas.dev test``.

This module must start on a bare Python 3.11 (nothing installed): until it has re-executed itself
inside ``.venv`` it uses the standard library only. Then it:

- creates ``.venv`` and installs the project with its dev extras (again only when
  ``pyproject.toml`` changed);
- reads ``.env`` if there is one (real environment variables win);
- starts an embedded PostgreSQL and Redis when ``DATABASE_URL`` / ``REDIS_URL`` are unset;
- ``run``: starts the offline Stripe sandbox when no ``STRIPE_SECRET_KEY`` is set, migrates,
  seeds the Pro plan and a demo store catalog, and runs the web server and a worker until Ctrl-C;
- ``test``: runs pytest with any further arguments.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".saas-installed"

USAGE = """usage: python3 -m saas.dev run          run the app (web + worker [+ Stripe sandbox]) until Ctrl-C
       python3 -m saas.dev test [ARGS]   run the test suite (ARGS go to pytest)
       python3 -m saas.dev flask ARGS    a `flask` command against the same database, e.g.
                                         python3 -m saas.dev flask users make-admin you@example.com"""


def say(message: str) -> None:
    print(f"[saas] {message}", flush=True)


# --- bootstrap (standard library only) ------------------------------------------------------------

def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"saas needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        say(f"creating a virtualenv in {VENV}")
        import venv

        venv.EnvBuilder(with_pip=True).create(VENV)
    if not STAMP.exists() or STAMP.read_text() != _wanted_stamp():
        say("installing the project and its dependencies into .venv (first run only)")
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
        STAMP.write_text(_wanted_stamp())


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def reexec_in_venv(argv: list[str]) -> None:
    os.chdir(ROOT)
    os.execv(str(PY), [str(PY), "-m", "saas.dev", *argv])


def load_dotenv(path: Path = ROOT / ".env") -> None:
    """KEY=VALUE lines; '#' comments; quotes stripped. The real environment wins."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key, value = key.strip().removeprefix("export ").strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key and value and key not in os.environ:
            os.environ[key] = value


# --- inside the venv -------------------------------------------------------------------------------

def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 20.0) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except Exception:
            time.sleep(0.2)
    return False


def start_sandbox(procs: list, web_port: int) -> None:
    """No Stripe key: run the offline Stripe sandbox and point the app's settings at it."""
    port = int(os.environ.get("SANDBOX_PORT") or 12111)
    if not _port_free(port):
        port = _free_port()
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_" + secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SANDBOX_PORT=str(port),
               SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{web_port}/api/webhooks/stripe",
               SANDBOX_WEBHOOK_SECRET=secret,
               SANDBOX_STATE_FILE=os.environ.get("SANDBOX_STATE_FILE") or str(ROOT / "instance" / "sandbox-state.pickle"))
    procs.append(("sandbox", subprocess.Popen([sys.executable, "-m", "saas.sandbox"], env=env)))
    if not _wait_http(base + "/_sandbox/health"):
        raise SystemExit("the Stripe sandbox did not start; see its output above")
    # Sandbox keys are fixed test-mode strings: they open nothing but the local sandbox.
    os.environ.update({
        "STRIPE_SECRET_KEY": "sk_test_sandbox",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sandbox",
        "STRIPE_WEBHOOK_SECRET": secret,
        "STRIPE_API_BASE": base,
        "STRIPE_JS_URL": base + "/v3/",
    })
    say(f"no STRIPE_SECRET_KEY: using the offline Stripe sandbox at {base} (test cards: 4242 4242 4242 4242 pays, "
        "4000 0000 0000 0002 is declined)")


def flask(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], check=True, cwd=ROOT)


def run() -> int:
    from saas.devservices import ensure_services

    port = int(os.environ.get("PORT") or 5000)
    if not _port_free(port):
        say(f"port {port} is in use; set PORT to another one (e.g. PORT=5001 python3 -m saas.dev run)")
        return 1
    os.environ.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("APP_ENV", "development")
    ensure_services(say=say)
    procs: list[tuple[str, subprocess.Popen]] = []
    try:
        if not os.environ.get("STRIPE_SECRET_KEY"):
            start_sandbox(procs, port)
        elif os.environ["STRIPE_SECRET_KEY"].startswith(("sk_live_", "rk_live_")):
            say("STRIPE_SECRET_KEY is a live key: the app will take real payments")
        say("migrating the database")
        flask("db", "upgrade")
        procs.append(("web", subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port),
             "--no-reload"], cwd=ROOT)))
        procs.append(("worker", subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT)))
        # Seeding after the web server is up: the sandbox's product/price webhooks land at once.
        ready = _wait_http(f"http://127.0.0.1:{port}/healthz")
        flask("billing", "seed-plan")
        flask("store", "seed")  # the demo catalog; re-running refreshes the same six products
        if ready:
            say(f"ready: open {os.environ['BASE_URL']}  (Ctrl-C to stop)")
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    say(f"{name} exited with code {proc.returncode}; stopping")
                    return proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"setup step failed: {' '.join(exc.cmd[3:]) if len(exc.cmd) > 3 else exc.cmd}")
        return 1
    finally:
        for _, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _, proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test(args: list[str]) -> int:
    from saas.devservices import ensure_services

    ensure_services(say=say)
    if not any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args):
        # Both cores: the convergence property test alone is minutes of CPU. Each pytest-xdist
        # worker gets a database and a Redis database of its own (tests/conftest.py).
        args = ["-n", str(min(2, os.cpu_count() or 1)), *args]
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)


def flask_command(args: list[str]) -> int:
    from saas.devservices import ensure_services

    ensure_services(say=lambda *_: None)
    return subprocess.call([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "flask"):
        print(USAGE)
        return 2
    if not in_venv():
        ensure_venv()
        reexec_in_venv(argv)
    load_dotenv()
    if argv[0] == "run":
        return run()
    if argv[0] == "flask":
        return flask_command(argv[1:])
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
