"""Exporting a list (docs/design.md §11): every item with all its fields, at one list version."""

from __future__ import annotations

from dataclasses import dataclass

from watchlist_service.watchlist.repository import WatchlistRepository
from watchlist_service.watchlist.schemas import Item


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole list as one read of its document saw it."""

    items: list[Item]
    version: int


class ExportService:
    """Reads a list whole for export."""

    def __init__(self, lists: WatchlistRepository) -> None:
        self._lists = lists

    async def snapshot(self, user_id: str) -> Snapshot:
        """Every item (newest first) and the version, from a single read: consistent with one version."""
        items, version = await self._lists.snapshot(user_id)
        return Snapshot(items, version)
