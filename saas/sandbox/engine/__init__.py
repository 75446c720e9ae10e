"""Domain logic shared by the API routes and the hosted pages (payments, billing, time)."""
