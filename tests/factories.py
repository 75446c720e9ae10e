"""factory-boy factories bound to the app's db.session (used inside an app context)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import factory

from saas.accounts.models import User
from saas.accounts.services import hash_password
from saas.billing.models import Invoice, Plan, Subscription
from saas.extensions import db
from saas.timefmt import utcnow
from saas.webhooks.models import WebhookEvent

_seq = itertools.count(1)
# Hashing is deliberately slow; one hash serves every factory-made user.
_PASSWORD_HASH = None


def _password_hash():
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password("correct horse battery")
    return _PASSWORD_HASH


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password_hash = factory.LazyFunction(_password_hash)
    is_admin = False


class PlanFactory(Base):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"plan{n}")
    name = "Pro"
    stripe_price_id = factory.Sequence(lambda n: f"price_test{n:06d}")
    unit_amount = 1200
    currency = "usd"
    interval = "month"
    active = True


class SubscriptionFactory(Base):
    class Meta:
        model = Subscription

    user = factory.SubFactory(UserFactory)
    stripe_id = factory.Sequence(lambda n: f"sub_test{n:06d}")
    stripe_customer_id = factory.LazyAttribute(lambda o: o.user.stripe_customer_id or f"cus_test{next(_seq):06d}")
    stripe_price_id = "price_test_pro"
    status = "active"
    current_period_start = factory.LazyFunction(utcnow)
    current_period_end = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))
    stripe_created = factory.LazyFunction(utcnow)


class InvoiceFactory(Base):
    class Meta:
        model = Invoice

    user_id = factory.LazyAttribute(lambda o: UserFactory().id)
    stripe_id = factory.Sequence(lambda n: f"in_test{n:06d}")
    stripe_customer_id = factory.Sequence(lambda n: f"cus_inv{n:06d}")
    status = "paid"
    amount_due = 1200
    amount_paid = 1200
    currency = "usd"
    stripe_created = factory.LazyFunction(utcnow)


class WebhookEventFactory(Base):
    class Meta:
        model = WebhookEvent

    stripe_id = factory.Sequence(lambda n: f"evt_test{n:06d}")
    type = "customer.subscription.updated"
    payload = factory.LazyAttribute(lambda o: {"id": o.stripe_id, "type": o.type, "data": {"object": {}}})
    status = "received"
