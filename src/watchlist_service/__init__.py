"""watchlist-service: the My List backend."""

__version__ = "0.1.0"
