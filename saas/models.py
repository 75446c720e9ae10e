"""Imports every model so that Flask-Migrate and ``db.create_all`` see the whole schema."""

from saas.accounts.models import User  # noqa: F401
from saas.admin.models import *  # noqa: F401,F403
from saas.billing.models import Invoice, Plan, Subscription  # noqa: F401
from saas.store.models import *  # noqa: F401,F403
from saas.webhooks.models import WebhookEvent  # noqa: F401
