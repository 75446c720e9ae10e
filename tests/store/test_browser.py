"""Headless Chromium buys two products with 4242... through the real checkout page (our
checkout.js driving the sandbox's Stripe.js stand-in) and watches the order page turn to paid."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.conftest import make_products

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser_page):
    return browser_page


def test_buy_two_products_and_see_paid(live, page):
    make_products(live.app)
    base = live.url
    page.goto(base + "/signup")
    page.fill("input[name=email]", "lin@example.com")
    page.fill("input[name=password]", "correct horse battery")
    page.fill("input[name=confirm]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/billing")

    page.goto(base + "/store")
    page.click("[data-add=mug]")
    page.wait_for_url(base + "/cart")
    page.goto(base + "/store/tee")
    page.fill("input[name=quantity]", "2")
    page.click("#add-to-cart")
    page.wait_for_url(base + "/cart")
    assert page.inner_text("#cart-total") == "$80.00"  # 24 + 2 × 28

    page.click("#checkout")
    page.wait_for_url("**/orders/*/pay")
    page.wait_for_selector("#sandbox-card-number")  # the Payment Element mounted
    page.wait_for_selector("#pay:not([disabled])")
    page.fill("#sandbox-card-number", "4242 4242 4242 4242")
    page.fill("#sandbox-card-expiry", "12 / 34")
    page.fill("#sandbox-card-cvc", "123")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "store-checkout.png"), full_page=True)
    page.click("#pay")
    page.wait_for_url("**/orders/*?*redirect_status=succeeded*")
    # The page turns to paid by itself once the webhook has been applied (no reload).
    page.wait_for_selector('#order-status[data-status="paid"]', timeout=15_000)
    assert page.is_visible("#order-paid") and page.is_hidden("#order-waiting")
    assert page.inner_text("#order-total") == "$80.00"
    page.screenshot(path=str(ARTIFACTS / "store-order-paid.png"), full_page=True)
    assert page.js_errors == [], "\n".join(page.js_errors)
