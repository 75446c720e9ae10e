"""Running the sandbox: in a background thread (tests, dev) or as a process (the launcher)."""
from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_sandbox_app


class _QuietHandler(WSGIRequestHandler):
    """Tests and embedded use don't want a log line per request."""

    def log_request(self, *args, **kwargs):
        pass


class SandboxHandle:
    """A sandbox listening on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Flask, server, thread: threading.Thread):
        self.app, self._server, self._thread = app, server, thread
        self.url = f"http://127.0.0.1:{server.server_port}"

    @property
    def sandbox(self):
        return self.app.extensions["sandbox"]

    def wait_idle(self, timeout: float = 10) -> bool:
        """Block until no webhook delivery is pending or in flight; False on timeout."""
        return self.sandbox.dispatcher.wait_idle(timeout)

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        self.sandbox.dispatcher.configure(url, secret)

    def set_chaos(self, chaos) -> dict | None:
        """Shuffle/duplicate/delay deliveries from now on (None turns it off)."""
        return self.sandbox.dispatcher.set_chaos(chaos)

    def stop(self) -> None:
        self.sandbox.dispatcher.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_sandbox_thread(port: int = 0, **kwargs) -> SandboxHandle:
    """Start a sandbox on 127.0.0.1:`port` (0 = any free port). kwargs go to create_sandbox_app;
    public_url defaults to the address it listens on."""
    server = make_server("127.0.0.1", port, None, threaded=True, request_handler=_QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    kwargs.setdefault("public_url", url)
    app = create_sandbox_app(**kwargs)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="sandbox-http", daemon=True)
    thread.start()
    return SandboxHandle(app, server, thread)
