"""The Pro journey in a real headless Chromium: sign up, upgrade, pay on the sandbox's hosted
checkout page, and watch the success page turn to Pro once the webhook has been applied."""

from __future__ import annotations

import os

import pytest

from tests.conftest import screenshot
from tests.e2e.test_pro_upgrade import seed_plan

pytestmark = pytest.mark.browser


def test_pro_upgrade_in_browser(live, browser_page):
    page = browser_page
    seed_plan(live)
    page.goto(live.url + "/signup")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=password]", "correct horse battery")
    page.fill("input[name=confirm]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/billing")
    assert page.inner_text("#plan-name").startswith("Free")

    page.click("#upgrade")
    page.wait_for_url(live.sandbox.url + "/c/pay/**")
    page.fill("[name=cardNumber]", "4242 4242 4242 4242")
    page.fill("[name=cardExpiry]", "12 / 34")
    page.fill("[name=cardCvc]", "123")
    page.fill("[name=billingName]", "Grace Hopper")
    page.click("button[type=submit]")

    page.wait_for_url(live.url + "/billing/success**")
    page.wait_for_selector("#done", state="visible", timeout=5000)
    page.goto(live.url + "/billing")
    assert page.inner_text("#plan-name").startswith("Pro")
    assert "renews on" in page.inner_text("#plan-state")
    path = screenshot(page, "pro-billing-page.png")
    assert os.path.getsize(path) > 10_000
