"""``python -m watchlist_dev``: the same as the ``watchlist-dev`` console script."""

from watchlist_dev.cli import main

main()
