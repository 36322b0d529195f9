"""``python -m watchlist_service``: the same as the ``watchlist-service`` console script."""

from watchlist_service.cli import main

main()
