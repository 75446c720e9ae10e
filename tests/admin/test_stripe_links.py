"""Links into the Stripe dashboard follow the key's mode; the offline sandbox gets plain ids."""

from __future__ import annotations

import pytest

from tests.admin.conftest import ADMIN_EMAIL, add_admin, add_customer, add_plan, login


@pytest.mark.parametrize("api_base,key,expected", [
    ("", "sk_test_" + "t" * 24, 'href="https://dashboard.stripe.com/test/customers/cus_link1"'),
    ("", "sk_live_" + "l" * 24, 'href="https://dashboard.stripe.com/customers/cus_link1"'),
    ("sandbox", "sk_test_" + "t" * 24, None),
])
def test_customer_link_by_mode(app_config, request, api_base, key, expected):
    if api_base:
        api_base = app_config["STRIPE_API_BASE"]
    app_config.update(STRIPE_API_BASE=api_base, STRIPE_SECRET_KEY=key)
    app = request.getfixturevalue("app")  # built only now, with the settings above
    make_client = request.getfixturevalue("make_client")
    with app.app_context():
        from saas.extensions import db

        add_plan()
        user = add_customer("linked@example.com", 1)
        user.stripe_customer_id = "cus_link1"
        add_admin()
        db.session.commit()
        user_id = user.id
    c, _ = login(make_client, ADMIN_EMAIL)
    page = c.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "cus_link1" in page
    if expected:
        assert expected in page
    else:
        assert "dashboard.stripe.com" not in page
