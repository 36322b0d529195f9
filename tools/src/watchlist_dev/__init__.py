"""Development tools of watchlist-service: the dev stack, a fake TMDb, local clusters, seeding.

Not part of the service's wheel or image; the service never imports this package (``lint-imports``).
"""
