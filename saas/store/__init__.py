"""The store: catalog, cart, Payment Intent checkout and orders kept current by webhooks."""
