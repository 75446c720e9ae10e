"""Imported by a worker subprocess (``--include``) to register the ``test.probe`` handler."""

from tests.webhooks import probe

probe.install()
