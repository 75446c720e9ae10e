"""The application factory, read top to bottom like a table of contents."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, render_template, request

from saas import config as config_module
from saas.extensions import csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

# Feature packages with a blueprint; each exposes ``bp``.
BLUEPRINTS = (
    "saas.main.views",
    "saas.accounts.views",
    "saas.billing.views",
    "saas.store.views",
    "saas.admin.views",
    "saas.webhooks.views",
)


# Status, title, message: the error pages of the site, and the JSON errors of both apps.
ERRORS = (
    (400, "Bad request", "The request could not be understood."),
    (403, "Forbidden", "You are not allowed to do that."),
    (404, "Page not found", "There is nothing at this address."),
    (405, "Method not allowed", "That action is not allowed here."),
    (413, "Too large", "The request was too large."),
    (429, "Too many attempts", "Too many attempts. Please wait a minute and try again."),
    (500, "Something went wrong", "We hit an error. Nothing was charged; please try again."),
)


def _configured_flask(name: str, overrides: dict | None, **flask_options) -> Flask:
    """A Flask app with our config (environment, then ``overrides``) and logging."""
    app = Flask(name, root_path=str(ROOT / "saas"), instance_path=str(ROOT / "instance"), **flask_options)
    app.config.update(config_module.from_env())
    if overrides:
        app.config.update(overrides)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        raise RuntimeError(
            "DATABASE_URL is not set. Use `python3 -m saas.dev run` to start an embedded "
            "PostgreSQL, or point DATABASE_URL at one."
        )
    configure_logging(app)
    return app


def build_app(overrides: dict | None = None) -> Flask:
    app = _configured_flask("saas", overrides, template_folder=str(ROOT / "templates"),
                            static_folder=str(ROOT / "static"))
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_cli(app)
    return app


def build_intake_app(overrides: dict | None = None) -> Flask:
    """The Stripe webhook endpoint on its own: the same config, database and handlers' inbox,
    none of the site's per-request machinery (sessions, log-in, CSRF, rate limits, templates).

    Stripe's deliveries are the one request that comes in floods (a backlog after an outage
    arrives all at once), and on the site app those hooks cost more CPU than the endpoint's own
    work. ``wsgi.application`` routes the endpoint's path here; the site app keeps the same
    blueprint, so ``flask`` commands and tests see one app.
    """
    app = _configured_flask("saas.intake", overrides)
    from saas import models  # noqa: F401

    db.init_app(app)
    from saas.webhooks.views import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    for status, title, _message in ERRORS:
        app.register_error_handler(status, lambda _e, status=status, title=title: ({"error": title}, status))
    register_security_headers(app)
    return app


class IntakeRouter:
    """WSGI: the webhook endpoint's path to the intake app, everything else to the site."""

    def __init__(self, site: Flask, intake: Flask, path: str = "/api/webhooks/stripe"):
        self.site, self.intake, self.path = site, intake, path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.path:
            return self.intake(environ, start_response)
        return self.site(environ, start_response)


def configure_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.logger.setLevel(level)
    # The stripe library logs every request at INFO; that is noise next to our own lines.
    logging.getLogger("stripe").setLevel(max(level, logging.WARNING))


def register_extensions(app: Flask) -> None:
    from saas import models  # noqa: F401  (every model registered before migrations look)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    # Rotating the session identifier on login is done in the login view; "strong" also
    # drops a session whose browser fingerprint changed.
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    if app.config.get("REDIS_URL") and app.config.get("RATELIMIT_ENABLED"):
        app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage_uri(app.config["REDIS_URL"]))
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    # A rate limiter whose Redis is down must not take the login page down with it.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)

    from saas import queue

    queue.init_app(app)

    from saas.accounts.models import User

    @login_manager.user_loader
    def load_user(user_id: str):
        try:
            return db.session.get(User, int(user_id))
        except (TypeError, ValueError):
            return None


def _limiter_storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        # limits expects redis+unix:// for sockets.
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def register_blueprints(app: Flask) -> None:
    import importlib

    for name in BLUEPRINTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a feature not built yet is skipped; a broken import is not
                raise
            continue
        app.register_blueprint(module.bp)
    from saas.webhooks.views import bp as webhooks_bp

    csrf.exempt(webhooks_bp)
    # Stripe is not a brute-forcer, and a 429 would only make it retry; exempt, the limiter
    # also skips its per-request work (a Redis round trip) on the hottest path.
    limiter.exempt(webhooks_bp)


def register_template_helpers(app: Flask) -> None:
    from saas.money import format_money

    app.jinja_env.filters["money"] = format_money

    from saas.timefmt import format_date, format_datetime

    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime

    endpoints = None

    @app.context_processor
    def inject_globals():
        nonlocal endpoints
        if endpoints is None:  # the URL map is complete once the first request runs
            endpoints = frozenset(app.view_functions)
        return {
            "app_name": app.config.get("APP_NAME", "saas"),
            "url_map_endpoints": endpoints,
            # Shown in the footer so nobody mistakes the offline sandbox for real payments.
            "sandbox_mode": bool(app.config.get("STRIPE_API_BASE")),
        }


def register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    def handler(status: int, title: str, message: str):
        def _render(_error):
            if wants_json():
                return {"error": title}, status
            return render_template("error.html", status=status, title=title, message=message), status

        return _render

    for status, title, message in ERRORS:
        app.register_error_handler(status, handler(status, title, message))

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if wants_json():
            return {"error": "csrf", "detail": error.description}, 400
        return (
            render_template(
                "error.html",
                status=400,
                title="Form expired",
                message="The form expired or was sent from elsewhere. Please go back, reload and try again.",
            ),
            400,
        )


def register_security_headers(app: Flask) -> None:
    """Security headers on every response, pages, assets and errors alike.

    The CSP allows our own origin and Stripe's: Stripe.js (scripts, its card and 3DS frames,
    its API calls) and the hosted Checkout and billing portal that our forms redirect to
    (``form-action`` also governs where a form's redirect may land). With the offline sandbox
    all of those are the sandbox's one origin. No inline scripts or styles anywhere.
    """
    from urllib.parse import urlsplit

    def origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""

    def build_csp() -> str:
        stripe_js = origin(app.config.get("STRIPE_JS_URL", "")) or "https://js.stripe.com"
        sandbox = origin(app.config.get("STRIPE_API_BASE", ""))
        if sandbox:
            api, frames, redirects = sandbox, [stripe_js], [sandbox]
        else:
            # Stripe's documented CSP: 3DS frames come from hooks.stripe.com.
            api, frames = "https://api.stripe.com", [stripe_js, "https://hooks.stripe.com"]
            redirects = ["https://checkout.stripe.com", "https://billing.stripe.com"]
        directives = {
            "default-src": ["'self'"],
            "script-src": ["'self'", stripe_js],
            "frame-src": ["'self'", *frames],
            "connect-src": ["'self'", api, stripe_js],
            "img-src": ["'self'", "data:"],
            "style-src": ["'self'"],
            "font-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'", *redirects],
            "frame-ancestors": ["'none'"],
        }
        return "; ".join(f"{name} {' '.join(dict.fromkeys(sources))}" for name, sources in directives.items())

    csp = None

    @app.after_request
    def headers(response):
        nonlocal csp
        if csp is None:  # config is final once requests run
            csp = build_csp()
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def register_cli(app: Flask) -> None:
    from saas.cli import register

    register(app)
