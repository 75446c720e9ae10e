"""The one place that reads the environment. Everything else reads ``app.config``."""

from __future__ import annotations

import os


def _bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a typo in the environment must be loud, not silently default
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _int_list(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise RuntimeError(f"{name} must be whole numbers separated by commas, got {raw!r}") from exc


# APP_ENV values that mean a developer's own machine over plain http.
LOCAL_ENVS = frozenset({"development", "test"})


def _normalise_db_url(url: str) -> str:
    # Heroku-style URLs say postgres://, which SQLAlchemy 2 no longer accepts.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            # psycopg2 is the driver we ship; SQLAlchemy 2.1 would otherwise pick psycopg 3.
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def from_env() -> dict:
    """Build the Flask config mapping from the process environment."""
    env = os.environ.get("APP_ENV", "development")
    cfg = {
        "APP_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "dev-only-not-secret-change-me",
        "SQLALCHEMY_DATABASE_URI": _normalise_db_url(os.environ.get("DATABASE_URL", "")),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_size": _int("DB_POOL_SIZE", 10),
            "max_overflow": _int("DB_MAX_OVERFLOW", 10),
        },
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "saas"),
        # Where the app is reachable from a browser; used for Stripe return URLs.
        "BASE_URL": (os.environ.get("BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 5000}").rstrip("/"),
        # Stripe. The secret key and webhook secret are server-only.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_PRICE_ID_PRO": os.environ.get("STRIPE_PRICE_ID_PRO", ""),
        # Empty means Stripe itself; the offline sandbox sets this to its own address.
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "").rstrip("/"),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "STRIPE_WEBHOOK_TOLERANCE": _int("STRIPE_WEBHOOK_TOLERANCE", 300),
        # Not from the environment: tests may set a stripe.HTTPClient (the sandbox in-process).
        "STRIPE_HTTP_CLIENT": None,
        # What the Pro plan is advertised as; `flask billing seed-plan` creates a matching price
        # when STRIPE_PRICE_ID_PRO is unset, and the doctor checks that they agree.
        "PRO_PLAN_NAME": os.environ.get("PRO_PLAN_NAME", "Pro"),
        "PRO_PLAN_AMOUNT": _int("PRO_PLAN_AMOUNT", 1200),
        "PRO_PLAN_CURRENCY": os.environ.get("PRO_PLAN_CURRENCY", "usd").lower(),
        "PRO_PLAN_INTERVAL": os.environ.get("PRO_PLAN_INTERVAL", "month"),
        "PRO_TRIAL_DAYS": _int("PRO_TRIAL_DAYS", 0),
        "PRO_ALLOW_PROMOTION_CODES": _bool("PRO_ALLOW_PROMOTION_CODES", False),
        "PAST_DUE_GRACE_DAYS": _int("PAST_DUE_GRACE_DAYS", 7),
        "STORE_CURRENCY": os.environ.get("STORE_CURRENCY", "usd").lower(),
        # While an order waits for its webhook, viewing it re-reads its Payment Intent from
        # Stripe at most this often (seconds, per order): the fallback when webhooks stop.
        "STORE_RESYNC_SECONDS": _int("STORE_RESYNC_SECONDS", 5),
        # Jobs
        "JOB_MAX_RETRIES": _int("JOB_MAX_RETRIES", 5),
        # Under a backlog the pump queues webhook events this many to a job (1: one job each).
        "JOB_BATCH_SIZE": _int("JOB_BATCH_SIZE", 10),
        # Seconds before each retry of a failed webhook job, comma-separated; the last one
        # repeats when JOB_MAX_RETRIES is longer.
        "JOB_RETRY_INTERVALS": _int_list("JOB_RETRY_INTERVALS", [2, 10, 30, 120, 600, 1800, 3600]),
        "SWEEP_AFTER_SECONDS": _int("SWEEP_AFTER_SECONDS", 60),
        # The longest a webhook delivery waits on the database (a lock, mostly) before its 503.
        "WEBHOOK_INTAKE_TIMEOUT_MS": _int("WEBHOOK_INTAKE_TIMEOUT_MS", 5000),
        "SWEEP_EVERY_SECONDS": _int("SWEEP_EVERY_SECONDS", 30),
        "RECONCILE_EVERY_SECONDS": _int("RECONCILE_EVERY_SECONDS", 6 * 3600),
        # The Stripe doctor: a queue deeper than this, or no webhook for this long, is reported.
        "DOCTOR_MAX_QUEUE_DEPTH": _int("DOCTOR_MAX_QUEUE_DEPTH", 100),
        "DOCTOR_WEBHOOK_STALE_HOURS": _int("DOCTOR_WEBHOOK_STALE_HOURS", 72),
        # Security
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies everywhere except a laptop served over plain http.
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", env not in LOCAL_ENVS),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", env not in LOCAL_ENVS),
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_LOGIN": os.environ.get("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_SIGNUP": os.environ.get("RATELIMIT_SIGNUP", "5 per minute"),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
    if env == "production" and cfg["SECRET_KEY"].startswith("dev-only"):
        raise RuntimeError("SECRET_KEY must be set when APP_ENV=production")
    return cfg
