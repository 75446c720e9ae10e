"""saas: sell software with Stripe.

``create_app`` imports Flask lazily so that ``python3 -m saas.dev`` can run on a bare Python
(before the virtualenv with Flask exists) to bootstrap everything.
"""


def create_app(config: dict | None = None):
    from saas.app import build_app

    return build_app(config)
