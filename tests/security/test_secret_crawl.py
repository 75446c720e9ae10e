"""Crawl every GET route of the URL map, every static asset and the error pages as an
anonymous visitor, a user and an admin, and find no Stripe secret anywhere (bodies or headers).

The app is given real-looking secret values so that a leak would show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import WEBHOOK_SECRET

SECRET_KEY = "sk_test_51Hardening" + "Q7v" * 30
RESTRICTED_KEY = "rk_test_51Hardening" + "Z3x" * 30
SECRET_PATTERN = re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{6,}|whsec_[A-Za-z0-9_]{6,}")


@pytest.fixture(params=[SECRET_KEY, RESTRICTED_KEY], ids=["secret-key", "restricted-key"])
def app_config(request, app_config):
    # The webhook secret is the one the sandbox signs with (whsec_...); the app may not show it.
    assert WEBHOOK_SECRET.startswith("whsec_")
    return dict(app_config, STRIPE_SECRET_KEY=request.param, PROPAGATE_EXCEPTIONS=False,
                SECRET_KEY="flask-" + request.param)


def fill(rule) -> str | None:
    """A URL for ``rule`` with plausible values for its arguments (1 for numbers, "x" else)."""
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg].__class__.__name__
        values[arg] = 1 if converter in ("IntegerConverter", "NumberConverter") else "x"
    try:
        return rule.build(values, append_unknown=False)[1]
    except Exception:
        return None


def urls_to_crawl(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = fill(rule)
        if url:
            urls.append(url)
    static = Path(app.static_folder)
    urls += ["/static/" + p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file()]
    urls += ["/no-such-page", "/static/no-such-file.css", "/billing/success?session_id=cs_not_real",
             "/api/webhooks/stripe", "/logout", "/boom"]
    return urls


def leaks(response, secrets) -> list[str]:
    text = response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    found = [s for s in secrets if s in text]
    found += SECRET_PATTERN.findall(text)
    return found


def test_no_secret_on_any_page_asset_or_error_for_any_role(app, make_client, plan):
    from saas.accounts.models import User
    from saas.extensions import db

    secret_key = app.config["STRIPE_SECRET_KEY"]

    @app.get("/boom")
    def boom():  # a 500 whose exception text carries the secret
        raise RuntimeError(f"failed with key {secret_key}")

    anonymous, _ = make_client()
    user, user_auth = make_client()
    user_auth.signup("user@example.com")
    admin, admin_auth = make_client()
    admin_auth.signup("admin@example.com")
    with app.app_context():
        db.session.execute(db.update(User).where(User.email == "admin@example.com").values(is_admin=True))
        db.session.commit()

    urls = urls_to_crawl(app)
    assert any(u.startswith("/static/") for u in urls) and "/billing" in urls and "/login" in urls
    secrets = [secret_key, WEBHOOK_SECRET, app.config["SECRET_KEY"]]
    statuses = {}
    for role, client in (("anonymous", anonymous), ("user", user), ("admin", admin)):
        for url in urls:
            r = client.get(url)
            statuses[(role, url)] = r.status_code
            found = leaks(r, secrets)
            assert not found, f"{role} GET {url} -> {r.status_code} shows {found}"
    # The crawl reached real pages and the error pages, not just redirects to /login.
    assert statuses[("user", "/billing")] == 200
    assert statuses[("anonymous", "/no-such-page")] == 404
    assert statuses[("anonymous", "/api/webhooks/stripe")] == 405
    assert statuses[("admin", "/boom")] == 500
    assert statuses[("anonymous", "/static/app.css")] == 200


def test_the_leak_check_can_fail(app):
    """The detector finds a secret planted in a body or a header."""
    class Fake:
        headers = {"X-Debug": WEBHOOK_SECRET}

        def get_data(self, as_text=False):
            return f"key={app.config['STRIPE_SECRET_KEY']}"

    found = leaks(Fake(), [app.config["STRIPE_SECRET_KEY"]])
    assert app.config["STRIPE_SECRET_KEY"] in found and WEBHOOK_SECRET in found
