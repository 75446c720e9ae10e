"""Builders for Stripe-shaped objects (same top-level fields as the current API version).

Each builder returns a complete dict with Stripe's defaults so the app sees the same keys it
would see from Stripe; callers then mutate the stored dict as state changes.
"""
