"""WSGI entry points.

``gunicorn wsgi:application`` (the Procfile): the site, with Stripe's webhook deliveries routed
to the lean intake app (``saas.app.build_intake_app``). ``app`` is the site's Flask app, which
``flask --app wsgi ...`` commands use; it serves the webhook endpoint too.
"""

from saas import create_app
from saas.app import IntakeRouter, build_intake_app

app = create_app()
application = IntakeRouter(app, build_intake_app())

# Everything built so far lives as long as the process: keep it out of the collector's way.
# Without this a full collection walks the whole app (the stripe library's types, SQLAlchemy's
# mappers) every few thousand requests, and the request that triggers it waits tens of ms.
import gc  # noqa: E402

gc.freeze()
