"""An offline stand-in for the Stripe API (current API version), its hosted pages and webhooks.

    from saas.sandbox import create_sandbox_app, start_sandbox_thread
    handle = start_sandbox_thread(webhook_url=..., webhook_secret="whsec_...")
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": handle.url})

or `python -m saas.sandbox --port 12111 --webhook-url URL --webhook-secret whsec_...`.
It is a separate server: nothing here imports the rest of `saas`.
"""
from .app import create_sandbox_app
from .server import SandboxHandle, start_sandbox_thread

__all__ = ["create_sandbox_app", "start_sandbox_thread", "SandboxHandle"]
