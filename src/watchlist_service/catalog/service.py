"""The catalog service: what to ask TMDb for each request (the specs) and the cursor walk over its pages.

Caching, single flight across replicas and stale-while-revalidate are the read-through cache's
(``catalog/cache.py``); the TMDb client bounds each call by its deadline, retries and trips its breaker.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any, Final

import msgspec

from watchlist_service.catalog.cache import ReadThroughCache, Spec
from watchlist_service.catalog.client import MAX_QUERY_LENGTH, TmdbClient, catalog_unavailable
from watchlist_service.catalog.cursor import CursorCodec
from watchlist_service.catalog.schemas import (
    MAX_OFFSET,
    MAX_PAGE,
    PAGE_SIZE,
    SORT_BY,
    CatalogItem,
    CatalogPage,
    CatalogSort,
    ContentKind,
    MovieDetails,
    TmdbPage,
    TvDetails,
    movie_details,
    tmdb_page,
    to_lite,
    tv_details,
)
from watchlist_service.errors import InvalidRequest, MovieNotFound, TvNotFound

# A search whose results are mostly people may need more pages than the count asks for; this bounds it.
EXTRA_SEARCH_PAGES: Final = 3


def normalize_query(query: str) -> str:
    """Search text as it is cached and sent: whitespace collapsed, case folded (TMDb ignores case)."""
    return " ".join(query.split()).casefold()


class CatalogService:
    """Movies and TV shows from TMDb: cached, coalesced, rate-limited; raises domain errors only."""

    def __init__(
        self,
        client: TmdbClient | None,
        cache: ReadThroughCache,
        cursors: CursorCodec,
        *,
        list_ttl_s: int,
        detail_ttl_s: int,
    ) -> None:
        self._client = client
        self._cache = cache
        self._cursors = cursors
        self._list_ttl_s = list_ttl_s
        self._detail_ttl_s = detail_ttl_s
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {
            "movie": msgspec.json.Decoder(MovieDetails),
            "tv": msgspec.json.Decoder(TvDetails),
            "page": msgspec.json.Decoder(TmdbPage),
        }

    def _tmdb(self) -> TmdbClient:
        """The TMDb client; ``CatalogUnavailable`` when none is configured (cached answers still serve)."""
        if self._client is None:
            raise catalog_unavailable("The catalog is not configured (no TMDb URL or credentials)", 60)
        return self._client

    # --- public API ------------------------------------------------------------------------------

    async def movie(self, movie_id: int) -> MovieDetails:
        """The full movie object; ``MovieNotFound`` (404) or ``CatalogUnavailable`` (503)."""
        details: MovieDetails = await self._cache.get(self._details_spec("movie", movie_id))
        return details

    async def tv(self, tv_id: int) -> TvDetails:
        """The full TV object; ``TvNotFound`` (404) or ``CatalogUnavailable`` (503)."""
        details: TvDetails = await self._cache.get(self._details_spec("tv", tv_id))
        return details

    async def lite(self, kind: ContentKind, tmdb_id: int, *, timeout_s: float | None = None) -> CatalogItem:
        """The lite object of a title (what the list stores), from the same cache as the details.

        Raises ``MovieNotFound`` / ``TvNotFound`` when TMDb says the title does not exist, and
        ``CatalogUnavailable`` when TMDb cannot say within ``timeout_s`` (default: the catalog deadline).
        Giving up early does not cancel the fetch: it still fills the cache for the next caller.
        """
        spec = self._details_spec(kind, tmdb_id)
        if timeout_s is None:
            return to_lite(await self._cache.get(spec))
        try:
            async with asyncio.timeout(timeout_s):
                return to_lite(await self._cache.get(spec))
        except TimeoutError:
            raise catalog_unavailable("TMDb did not answer in time", 1) from None

    async def recommendations(self, kind: ContentKind, tmdb_id: int) -> list[CatalogItem]:
        """TMDb's recommendations for a title (its first page: the 20 it ranks highest), in TMDb's order;
        cached, coalesced and served stale like every TMDb answer. ``MovieNotFound`` / ``TvNotFound`` when
        TMDb has no such title, ``CatalogUnavailable`` when it cannot say."""

        async def fetch(deadline: float) -> TmdbPage:
            return tmdb_page(await self._tmdb().recommendations(kind, tmdb_id, 1, deadline=deadline), kind)

        not_found = MovieNotFound if kind == "movie" else TvNotFound
        spec = Spec(f"recs:{kind}:{tmdb_id}", self._list_ttl_s, fetch, self._decoders["page"], not_found)
        page: TmdbPage = await self._cache.get(spec)
        return [item for item in page.items if item is not None]

    async def movies(self, *, sort: CatalogSort, count: int, cursor: str | None) -> CatalogPage:
        """A page of ``/3/discover/movie`` in ``sort`` order."""
        return await self._discover("movie", sort, count, cursor)

    async def tv_shows(self, *, sort: CatalogSort, count: int, cursor: str | None) -> CatalogPage:
        """A page of ``/3/discover/tv`` in ``sort`` order."""
        return await self._discover("tv", sort, count, cursor)

    async def search(self, *, query: str, count: int, cursor: str | None) -> CatalogPage:
        """Movies and TV shows whose title matches ``query`` (``/3/search/multi`` without people).

        A page may hold fewer than ``count`` results when TMDb's pages hold people; ``nextCursor`` still
        continues exactly where this page stopped.
        """
        text = normalize_query(query)
        if not text or len(text) > MAX_QUERY_LENGTH:
            raise InvalidRequest(
                "The search query must have 1 to 200 characters",
                extra={"errors": [{"field": "query", "message": "1 to 200 characters"}]},
            )
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]

        def page_spec(page: int) -> Spec[TmdbPage]:
            async def fetch(deadline: float) -> TmdbPage:
                return tmdb_page(await self._tmdb().search_multi(text, page, deadline=deadline), None)

            return Spec(f"search:{digest}:{page}", self._list_ttl_s, fetch, self._decoders["page"])

        return await self._walk(f"search\x00{text}", cursor, count, page_spec, EXTRA_SEARCH_PAGES)

    async def search_movies(self, title: str, year: int | None) -> list[CatalogItem]:
        """The first page of movies TMDb finds for ``title`` (released in ``year`` when given): what an import
        matches a Letterboxd row against (docs/design.md §11). Cached like any search."""
        text = normalize_query(title)
        if not text or len(text) > MAX_QUERY_LENGTH:
            return []
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]

        async def fetch(deadline: float) -> TmdbPage:
            return tmdb_page(await self._tmdb().search_movie(text, year, 1, deadline=deadline), "movie")

        spec = Spec(f"search-movie:{digest}:{year or 0}:1", self._list_ttl_s, fetch, self._decoders["page"])
        page: TmdbPage = await self._cache.get(spec)
        return [item for item in page.items if item is not None]

    # --- specs -----------------------------------------------------------------------------------

    def _details_spec(self, kind: ContentKind, tmdb_id: int) -> Spec[Any]:
        async def fetch(deadline: float) -> MovieDetails | TvDetails:
            raw = await self._tmdb().details(kind, tmdb_id, deadline=deadline)
            return movie_details(raw) if kind == "movie" else tv_details(raw)

        not_found = MovieNotFound if kind == "movie" else TvNotFound
        return Spec(f"{kind}:{tmdb_id}", self._detail_ttl_s, fetch, self._decoders[kind], not_found)

    async def _discover(
        self, kind: ContentKind, sort: CatalogSort, count: int, cursor: str | None
    ) -> CatalogPage:
        sort_by = SORT_BY[kind][sort]

        def page_spec(page: int) -> Spec[TmdbPage]:
            async def fetch(deadline: float) -> TmdbPage:
                return tmdb_page(await self._tmdb().discover(kind, sort_by, page, deadline=deadline), kind)

            return Spec(f"discover:{kind}:{sort_by}:{page}", self._list_ttl_s, fetch, self._decoders["page"])

        return await self._walk(f"discover\x00{kind}\x00{sort.value}", cursor, count, page_spec, 0)

    # --- cursor pagination over TMDb's 20-item pages ---------------------------------------------

    async def _walk(
        self,
        scope: str,
        cursor: str | None,
        count: int,
        page_spec: Callable[[int], Spec[TmdbPage]],
        extra_pages: int,
    ) -> CatalogPage:
        """``count`` results from the absolute position in ``cursor``; the next cursor where they stop."""
        position = self._cursors.decode(scope, cursor) if cursor else 0
        first = position // PAGE_SIZE + 1
        last = min((position + count - 1) // PAGE_SIZE + 1, MAX_PAGE)
        # The pages this request needs, fetched together (each is cached and coalesced on its own).
        pages = await asyncio.gather(*(self._cache.get(page_spec(p)) for p in range(first, last + 1)))
        results: list[CatalogItem] = []
        page_number = first
        end = MAX_OFFSET
        while True:
            page = pages[page_number - first]
            page_start = (page_number - 1) * PAGE_SIZE
            # The listing ends at TMDb's total, at a short page, or at TMDb's last page.
            end = min(MAX_OFFSET, page.total_results)
            if len(page.items) < PAGE_SIZE:
                end = min(end, page_start + len(page.items))
            for item in page.items[position - page_start :]:
                if len(results) >= count or position >= end:
                    break
                position += 1
                if item is not None:
                    results.append(item)
            if len(results) >= count or position >= end or position < page_start + PAGE_SIZE:
                break
            page_number += 1
            if page_number - first >= len(pages):
                # Only a search that skipped people gets here: fetch a few more pages, one by one.
                if page_number > last + extra_pages or page_number > MAX_PAGE:
                    break
                pages.append(await self._cache.get(page_spec(page_number)))
        next_cursor = self._cursors.encode(scope, position) if position < end else None
        return CatalogPage(results=results, next_cursor=next_cursor)
