"""`python -m saas.sandbox`: run the Stripe sandbox as a process."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from werkzeug.serving import make_server

from .app import create_sandbox_app
from .server import KeepAliveHandler


def _chaos(value: str | None):
    if not value or value.lower() in ("0", "false", "no", "off"):
        return None
    if value.strip().startswith("{"):
        try:
            settings = json.loads(value)
        except ValueError as exc:
            raise SystemExit(f"SANDBOX_CHAOS / --chaos is not valid JSON: {exc}") from exc
        if not isinstance(settings, dict):
            raise SystemExit("SANDBOX_CHAOS / --chaos must be 1/true or a JSON object of settings")
        return settings
    return True


def main(argv=None) -> int:
    env = os.environ
    ap = argparse.ArgumentParser(prog="python -m saas.sandbox", description="Offline Stripe sandbox")
    ap.add_argument("--host", default=env.get("SANDBOX_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(env.get("SANDBOX_PORT", "12111")))
    ap.add_argument("--webhook-url", default=env.get("SANDBOX_WEBHOOK_URL"))
    ap.add_argument("--webhook-secret", default=env.get("SANDBOX_WEBHOOK_SECRET"))
    ap.add_argument("--public-url", default=env.get("SANDBOX_PUBLIC_URL"))
    ap.add_argument("--chaos", nargs="?", const="1", default=env.get("SANDBOX_CHAOS"),
                    help="shuffle/duplicate/delay webhook deliveries (optionally a JSON dict of settings)")
    ap.add_argument("--past-due-final", choices=("unpaid", "canceled"),
                    default=env.get("SANDBOX_PAST_DUE_FINAL", "unpaid"))
    ap.add_argument("--state-file", default=env.get("SANDBOX_STATE_FILE"),
                    help="keep the sandbox's objects in this file across restarts")
    args = ap.parse_args(argv)

    if env.get("STRIPE_SECRET_KEY", "").startswith(("sk_live_", "rk_live_")):
        print("Refusing to start: STRIPE_SECRET_KEY is a live key; the sandbox only works with test keys.",
              file=sys.stderr)
        return 2
    if args.webhook_url and not args.webhook_secret:
        print("--webhook-secret (or SANDBOX_WEBHOOK_SECRET) is required with a webhook URL.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, None, threaded=True, request_handler=KeepAliveHandler)
    public = args.public_url or f"http://{args.host}:{server.server_port}"
    server.app = create_sandbox_app(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
                                    public_url=public, chaos=_chaos(args.chaos), past_due_final=args.past_due_final)
    state_file = args.state_file
    if state_file:
        _load_state(server.app, state_file)
        _keep_saving(server.app, state_file)
    print(f"Stripe sandbox listening on http://{args.host}:{server.server_port} (public URL {public}; "
          f"webhooks -> {args.webhook_url or 'none'}{'; chaos on' if args.chaos and _chaos(args.chaos) else ''})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if state_file:
            # A second Ctrl-C from the terminal must not cut the save short.
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _save_state(server.app, state_file)
    return 0


def _load_state(app, path: str) -> None:
    from pathlib import Path

    file = Path(path)
    if file.exists():
        try:
            app.extensions["sandbox"].store.restore(file.read_bytes())
            print(f"Stripe sandbox: restored state from {file}", flush=True)
        except Exception as exc:  # a corrupt or old-format file: start empty rather than not at all
            print(f"Stripe sandbox: could not restore {file} ({exc}); starting empty", file=sys.stderr)


def _save_state(app, path: str) -> None:
    import os
    from pathlib import Path

    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_bytes(app.extensions["sandbox"].store.snapshot())
    os.replace(tmp, file)  # atomic: a crash mid-write never leaves a half file


def _keep_saving(app, path: str, every: float = 2.0) -> None:
    import threading
    import time

    store = app.extensions["sandbox"].store

    def loop():
        last = store.change_marker()
        while True:
            time.sleep(every)
            marker = store.change_marker()
            if marker != last:
                _save_state(app, path)
                last = marker

    threading.Thread(target=loop, name="sandbox-state", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
