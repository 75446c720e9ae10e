"""Running the sandbox: in a background thread (tests, dev) or as a process (the launcher)."""
from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_sandbox_app


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive for requests without a body, as api.stripe.com keeps them.

    Werkzeug's handler always answers ``Connection: close`` (after a response it drains the
    socket for 10 ms, which on a kept connection would swallow the client's next request), so
    every Stripe read of a webhook job paid a TCP connect here and a new thread in the sandbox.
    A request without a body (every GET the app makes) leaves nothing to drain, so this handler
    answers those itself on the open connection; anything with a body, and any client that asks
    for ``Connection: close``, still goes through werkzeug unchanged.
    """

    protocol_version = "HTTP/1.1"
    # An idle kept connection holds a thread: let it go after a while (clients reconnect).
    timeout = 60

    def _bodyless(self) -> bool:
        headers = self.headers
        return (not self.close_connection and self.request_version == "HTTP/1.1"
                and headers.get("Content-Length", "0").strip() == "0"
                and "Transfer-Encoding" not in headers and "Expect" not in headers)

    def run_wsgi(self) -> None:
        if not self._bodyless():
            self.close_connection = True
            return super().run_wsgi()
        self.environ = environ = self.make_environ()
        try:
            status, headers, body = self._call(self.server.app, environ)
        except Exception:
            # As werkzeug does: a 500 for the client, the traceback in the log.
            import traceback

            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            from werkzeug.exceptions import InternalServerError

            status, headers, body = self._call(InternalServerError(), environ)
            self.close_connection = True
        code, _, msg = status.partition(" ")
        self.send_response(int(code), msg)
        names = set()
        for key, value in headers:
            self.send_header(key, value)
            names.add(key.lower())
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: a second small segment would wait for the client's
        # delayed ACK (Nagle), tens of milliseconds on a kept connection.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    @staticmethod
    def _call(app, environ) -> tuple[str, list, bytes]:
        started: list = []
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return chunks.append

        app_iter = app(environ, start_response)
        try:
            chunks.extend(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        return started[0], started[1], b"".join(chunks)

    def log_request(self, *args, **kwargs):
        import logging

        if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):
            super().log_request(*args, **kwargs)


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
