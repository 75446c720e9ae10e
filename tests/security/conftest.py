import pytest


@pytest.fixture
def plan(app):
    """The Pro plan seeded in a context of its own, so that the test's clients hold none
    (the shared ``pro_plan`` keeps an app context open, and logins then leak between clients)."""
    from saas.billing.services import seed_pro_plan

    with app.app_context():
        seed_pro_plan()
