"""The recommendations answer."""

from __future__ import annotations

import msgspec

from watchlist_service.catalog.schemas import CatalogItem


class Recommendations(msgspec.Struct, rename="camel", kw_only=True):
    """Titles like the list's newest ones, best first; ``stale``: TMDb failed, this is the last good answer
    (computed at list version ``version``)."""

    results: list[CatalogItem]
    based_on: list[str]  # the list's titles whose recommendations were merged, newest first
    version: int
    stale: bool = False
