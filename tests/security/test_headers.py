"""Security headers on every response, with a CSP that allows only our origin and Stripe's."""

from __future__ import annotations

import re

import pytest


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path,status", [("/", 200), ("/login", 200), ("/static/app.css", 200),
                                          ("/no-such-page", 404), ("/healthz", 200)])
def test_headers_on_pages_assets_and_errors(client, sandbox, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = directives(r.headers["Content-Security-Policy"])
    allowed = {"'self'", "'none'", "data:", sandbox.url}
    for name, sources in csp.items():
        assert set(sources) <= allowed, (name, sources)
    assert csp["script-src"] == ["'self'", sandbox.url]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["style-src"] == ["'self'"]  # no inline styles either


def test_real_stripe_origins_when_not_on_the_sandbox(app_config):
    from saas import create_app

    app = create_app(dict(app_config, STRIPE_API_BASE="", STRIPE_JS_URL="https://js.stripe.com/v3/"))
    csp = directives(app.test_client().get("/healthz").headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'", "https://js.stripe.com"]
    assert csp["connect-src"] == ["'self'", "https://api.stripe.com", "https://js.stripe.com"]
    assert csp["frame-src"] == ["'self'", "https://js.stripe.com", "https://hooks.stripe.com"]
    # Our upgrade and portal forms redirect to Stripe's hosted pages; form-action governs that.
    assert csp["form-action"] == ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"]
    for sources in csp.values():
        assert "*" not in sources and "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    from saas.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_pages_have_no_inline_scripts_or_styles(client, auth, plan):
    pages = ["/", "/login", "/signup", "/no-such-page"]
    bodies = [client.get(p).get_data(as_text=True) for p in pages]
    auth.signup()
    bodies += [client.get(p).get_data(as_text=True) for p in ["/billing", "/billing/success", "/billing/cancelled"]]
    for html in bodies:
        for tag in re.findall(r"<script\b[^>]*>", html, re.I):
            assert "src=" in tag, tag
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script body"
        assert not re.search(r"\sstyle=", html, re.I) and "<style" not in html.lower()
        assert not re.search(r"\son[a-z]+=", html, re.I), "inline event handler"
