"""More like my list: TMDb's recommendations of the list's newest titles, merged, ranked, cached by version.

Ranking: a title recommended for more of the list's titles ranks higher; ties go to the better position in
TMDb's own order (the best one among the lists it is in), then to higher popularity, then to the content id.
Titles already in the list are left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from watchlist_service.catalog.schemas import CatalogItem, ContentKind
from watchlist_service.content import split_content_id
from watchlist_service.errors import CatalogUnavailable, MovieNotFound, TvNotFound
from watchlist_service.recommendations.cache import RecommendationsCache
from watchlist_service.recommendations.schemas import Recommendations


class ListTitles(Protocol):
    """What the list tells (``WatchlistRepository.recent_titles``)."""

    async def recent_titles(self, user_id: str, limit: int) -> tuple[list[str], set[str], int]:
        """The newest ``limit`` titles, all titles, and the version."""
        ...


class Recommender(Protocol):
    """TMDb's recommendations for one title (``CatalogService.recommendations``)."""

    async def recommendations(self, kind: ContentKind, tmdb_id: int) -> list[CatalogItem]:
        """In TMDb's order; ``CatalogUnavailable`` when TMDb cannot say."""
        ...


@dataclass(slots=True)
class _Candidate:
    item: CatalogItem
    votes: int
    best_position: int


def rank(lists: Sequence[Sequence[CatalogItem]], exclude: set[str], count: int) -> list[CatalogItem]:
    """Merge several recommendation lists: by how many lists hold a title, then its best position, then
    popularity, then content id; without ``exclude``; the first ``count``."""
    candidates: dict[str, _Candidate] = {}
    for recommended in lists:
        for position, item in enumerate(recommended):
            if item.content_id in exclude:
                continue
            found = candidates.get(item.content_id)
            if found is None:
                candidates[item.content_id] = _Candidate(item, 1, position)
            else:
                found.votes += 1
                found.best_position = min(found.best_position, position)
    ordered = sorted(
        candidates.values(),
        key=lambda c: (-c.votes, c.best_position, -(c.item.popularity or 0.0), c.item.content_id),
    )
    return [c.item for c in ordered[:count]]


class RecommendationService:
    """Recommendations for the caller's list."""

    def __init__(
        self, lists: ListTitles, catalog: Recommender, cache: RecommendationsCache, *, seed_titles: int
    ) -> None:
        self._lists = lists
        self._catalog = catalog
        self._cache = cache
        self._seed_titles = seed_titles

    async def for_user(self, user_id: str, count: int) -> Recommendations:
        """``count`` titles like the newest ones of the list; the last good answer (``stale``) while TMDb
        fails, or ``CatalogUnavailable`` (503) when there is none."""
        seeds, held, version = await self._lists.recent_titles(user_id, self._seed_titles)
        cached = await self._cache.get(user_id, version, count)
        if cached is not None:
            return cached
        try:
            lists = await self._recommended(seeds)
        except CatalogUnavailable:
            last = await self._cache.last(user_id)
            if last is None:
                raise
            return Recommendations(
                results=last.results[:count], based_on=last.based_on, version=last.version, stale=True
            )
        answer = Recommendations(results=rank(lists, held, count), based_on=seeds, version=version)
        await self._cache.store(user_id, count, answer)
        return answer

    async def _recommended(self, seeds: list[str]) -> list[list[CatalogItem]]:
        """TMDb's list for each seed (all asked at once; the catalog coalesces and rate-limits them). A seed
        TMDb no longer knows is skipped; any other failure fails the whole answer."""

        async def one(content_id: str) -> list[CatalogItem]:
            try:
                return await self._catalog.recommendations(*split_content_id(content_id))
            except (MovieNotFound, TvNotFound):
                return []

        return list(await asyncio.gather(*(one(seed) for seed in seeds)))
