"""Dependency providers: from ``app.state`` to the services the handlers use."""

from __future__ import annotations

from litestar.datastructures import State

from watchlist_service.catalog.service import CatalogService
from watchlist_service.watchlist.service import WatchlistService


def provide_watchlist_service(state: State) -> WatchlistService:
    """The list service built in the lifespan."""
    service: WatchlistService = state.watchlist_service
    return service


def provide_catalog_service(state: State) -> CatalogService:
    """The TMDb catalog service built in the lifespan."""
    service: CatalogService = state.catalog_service
    return service
