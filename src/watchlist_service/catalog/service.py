"""The catalog service: TMDb answers cached in Redis, coalesced, served stale while TMDb is down.

For every answer (a title's details, a 20-item TMDb page of a list or a search), keyed by a ``name``:

1. a short in-process copy (``tmdb_local_cache_s``) answers hot keys without a Redis round trip;
2. Redis: a fresh answer is served; a stale one is served at once and refreshed in the background
   (stale-while-revalidate); a remembered 404 is a 404;
3. a miss goes through single flight: one task per name in this process (every request for the name awaits
   it), and across replicas one lease in Redis (``SET NX PX``): its holder calls TMDb and stores the answer,
   the others poll for that answer, and a failed fetch is remembered for ``tmdb_failure_ttl_s`` so the
   others answer 503 at once instead of calling a failing TMDb again;
4. no Redis: straight to TMDb (still one call per name per process, still rate-limited and breaker-guarded).

Every call is bounded by ``tmdb_deadline_s``: past it, the answer is 503 ``catalog-unavailable`` with a
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import msgspec
from loguru import logger

from watchlist_service.catalog.cache import Entry, TmdbCache
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
    UpstreamShapeError,
    movie_details,
    tmdb_page,
    to_lite,
    tv_details,
)
from watchlist_service.config import Settings
from watchlist_service.errors import (
    CatalogUnavailable,
    DomainError,
    InvalidRequest,
    MovieNotFound,
    TvNotFound,
)

T = TypeVar("T")
LOCAL_CACHE_SIZE: Final = 4_096
# A search whose results are mostly people may need more pages than the count asks for; this bounds it.
EXTRA_SEARCH_PAGES: Final = 3
_POLL_FIRST_S: Final = 0.005
_POLL_MAX_S: Final = 0.1
_ENCODER: Final = msgspec.json.Encoder()
_NOT_FOUND_ERRORS: Final = (MovieNotFound, TvNotFound)


@dataclass(frozen=True, slots=True)
class _Spec(Generic[T]):
    """How to get one answer: its cache name, freshness, TMDb call and decoder."""

    name: str
    fresh_s: int
    fetch: Callable[[float], Awaitable[T]]
    decoder: msgspec.json.Decoder[T]
    not_found: Callable[[], DomainError] | None = None


@dataclass(frozen=True, slots=True)
class _Missing:
    """The local copy of a remembered 404."""


_MISSING: Final = _Missing()


def normalize_query(query: str) -> str:
    """Search text as it is cached and sent: whitespace collapsed, case folded (TMDb ignores case)."""
    return " ".join(query.split()).casefold()


class CatalogService:
    """Movies and TV shows from TMDb: cached, coalesced, rate-limited; raises domain errors only."""

    def __init__(
        self,
        client: TmdbClient | None,
        cache: TmdbCache,
        cursors: CursorCodec,
        *,
        deadline_s: float,
        list_ttl_s: int,
        detail_ttl_s: int,
        stale_ttl_s: int,
        not_found_ttl_s: int,
        failure_ttl_s: float,
        local_cache_s: float,
    ) -> None:
        self._client = client
        self._cache = cache
        self._cursors = cursors
        self._deadline_s = deadline_s
        self._list_ttl_s = list_ttl_s
        self._detail_ttl_s = detail_ttl_s
        self._stale_ttl_s = stale_ttl_s
        self._not_found_ttl_s = not_found_ttl_s
        self._failure_ttl_ms = int(failure_ttl_s * 1000)
        self._local_cache_s = local_cache_s
        self._lease_ms = int((deadline_s + 1) * 1000)
        self._local: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {
            "movie": msgspec.json.Decoder(MovieDetails),
            "tv": msgspec.json.Decoder(TvDetails),
            "page": msgspec.json.Decoder(TmdbPage),
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, client: TmdbClient | None, cache: TmdbCache, cursors: CursorCodec
    ) -> CatalogService:
        """A service configured by ``settings``."""
        return cls(
            client,
            cache,
            cursors,
            deadline_s=settings.tmdb_deadline_s,
            list_ttl_s=settings.tmdb_list_ttl_s,
            detail_ttl_s=settings.tmdb_detail_ttl_s,
            stale_ttl_s=settings.tmdb_stale_ttl_s,
            not_found_ttl_s=settings.tmdb_not_found_ttl_s,
            failure_ttl_s=settings.tmdb_failure_ttl_s,
            local_cache_s=settings.tmdb_local_cache_s,
        )

    # --- public API ------------------------------------------------------------------------------

    async def movie(self, movie_id: int) -> MovieDetails:
        """The full movie object; ``MovieNotFound`` (404) or ``CatalogUnavailable`` (503)."""
        details: MovieDetails = await self._get(self._details_spec("movie", movie_id))
        return details

    async def tv(self, tv_id: int) -> TvDetails:
        """The full TV object; ``TvNotFound`` (404) or ``CatalogUnavailable`` (503)."""
        details: TvDetails = await self._get(self._details_spec("tv", tv_id))
        return details

    async def lite(self, kind: ContentKind, tmdb_id: int, *, timeout_s: float | None = None) -> CatalogItem:
        """The lite object of a title (what the list stores), from the same cache as the details.

        Raises ``MovieNotFound`` / ``TvNotFound`` when TMDb says the title does not exist, and
        ``CatalogUnavailable`` when TMDb cannot say within ``timeout_s`` (default: the catalog deadline).
        Giving up early does not cancel the fetch: it still fills the cache for the next caller.
        """
        spec = self._details_spec(kind, tmdb_id)
        if timeout_s is None:
            return to_lite(await self._get(spec))
        try:
            async with asyncio.timeout(timeout_s):
                return to_lite(await self._get(spec))
        except TimeoutError:
            raise catalog_unavailable("TMDb did not answer in time", 1) from None

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
        client = self._client

        def page_spec(page: int) -> _Spec[TmdbPage]:
            async def fetch(deadline: float) -> TmdbPage:
                assert client is not None
                return tmdb_page(await client.search_multi(text, page, deadline=deadline), None)

            return _Spec(f"search:{digest}:{page}", self._list_ttl_s, fetch, self._decoders["page"])

        return await self._walk(f"search\x00{text}", cursor, count, page_spec, EXTRA_SEARCH_PAGES)

    async def ping(self) -> bool:
        """Whether the catalog's Redis answers."""
        return await self._cache.ping()

    async def aclose(self) -> None:
        """Stop background refreshes and fills (shutdown)."""
        tasks = [*self._inflight.values(), *self._refreshing.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- specs -----------------------------------------------------------------------------------

    def _details_spec(self, kind: ContentKind, tmdb_id: int) -> _Spec[Any]:
        client = self._client

        async def fetch(deadline: float) -> MovieDetails | TvDetails:
            assert client is not None
            raw = await client.details(kind, tmdb_id, deadline=deadline)
            return movie_details(raw) if kind == "movie" else tv_details(raw)

        not_found = MovieNotFound if kind == "movie" else TvNotFound
        return _Spec(f"{kind}:{tmdb_id}", self._detail_ttl_s, fetch, self._decoders[kind], not_found)

    async def _discover(
        self, kind: ContentKind, sort: CatalogSort, count: int, cursor: str | None
    ) -> CatalogPage:
        sort_by = SORT_BY[kind][sort]
        client = self._client

        def page_spec(page: int) -> _Spec[TmdbPage]:
            async def fetch(deadline: float) -> TmdbPage:
                assert client is not None
                return tmdb_page(await client.discover(kind, sort_by, page, deadline=deadline), kind)

            return _Spec(f"discover:{kind}:{sort_by}:{page}", self._list_ttl_s, fetch, self._decoders["page"])

        return await self._walk(f"discover\x00{kind}\x00{sort.value}", cursor, count, page_spec, 0)

    # --- cursor pagination over TMDb's 20-item pages ---------------------------------------------

    async def _walk(
        self,
        scope: str,
        cursor: str | None,
        count: int,
        page_spec: Callable[[int], _Spec[TmdbPage]],
        extra_pages: int,
    ) -> CatalogPage:
        """``count`` results from the absolute position in ``cursor``; the next cursor where they stop."""
        position = self._cursors.decode(scope, cursor) if cursor else 0
        first = position // PAGE_SIZE + 1
        last = min((position + count - 1) // PAGE_SIZE + 1, MAX_PAGE)
        # The pages this request needs, fetched together (each is cached and coalesced on its own).
        pages = await asyncio.gather(*(self._get(page_spec(p)) for p in range(first, last + 1)))
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
                pages.append(await self._get(page_spec(page_number)))
        next_cursor = self._cursors.encode(scope, position) if position < end else None
        return CatalogPage(results=results, next_cursor=next_cursor)

    # --- cache, single flight, stale-while-revalidate --------------------------------------------

    async def _get(self, spec: _Spec[T]) -> T:
        local = self._local_get(spec.name)
        if isinstance(local, _Missing):
            raise self._not_found(spec)
        if local is not None:
            value: T = local
            return value
        entry = await self._cache.read(spec.name)
        if entry is not None:
            cached = self._from_entry(spec, entry)
            if cached is not None:
                if entry.fresh:
                    self._local_put(spec.name, cached, entry.fresh_for_s())
                else:
                    self._refresh_in_background(spec)
                if isinstance(cached, _Missing):
                    raise self._not_found(spec)
                return cached
        return await self._coalesced(spec)

    async def _coalesced(self, spec: _Spec[T]) -> T:
        task = self._inflight.get(spec.name)
        if task is None:
            task = asyncio.create_task(self._fill(spec), name=f"tmdb-fill:{spec.name}")
            self._inflight[spec.name] = task
            task.add_done_callback(lambda done: self._forget(self._inflight, spec.name, done))
        # Shielded: a caller that goes away does not cancel the fetch the others are waiting for.
        result: T = await asyncio.shield(task)
        return result

    async def _fill(self, spec: _Spec[T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        token = secrets.token_urlsafe(12)
        poll_s = _POLL_FIRST_S
        while True:
            claim = await self._cache.claim(spec.name, token, self._lease_ms)
            if claim is None:  # no Redis: this process's single flight is all there is
                return await self._fetch(spec, deadline, None)
            if claim.outcome == "won":
                return await self._fetch(spec, deadline, token)
            if claim.outcome == "value" and claim.entry is not None:
                cached = self._from_entry(spec, claim.entry)
                if isinstance(cached, _Missing):
                    raise self._not_found(spec)
                if cached is not None:
                    self._local_put(spec.name, cached, claim.entry.fresh_for_s())
                    return cached
                return await self._fetch(spec, deadline, None)  # unreadable (a newer format): replace it
            if claim.outcome == "failed":
                raise catalog_unavailable("TMDb failed moments ago", max(1.0, self._failure_ttl_ms / 1000))
            # Another replica holds the lease: its answer will be in Redis shortly.
            if loop.time() + poll_s >= deadline:
                raise catalog_unavailable("TMDb did not answer in time", 1)
            await asyncio.sleep(poll_s)
            poll_s = min(poll_s * 2, _POLL_MAX_S)

    async def _fetch(self, spec: _Spec[T], deadline: float, token: str | None) -> T:
        """Call TMDb (we hold the lease, or Redis is out of the picture) and store what it says."""
        if self._client is None:
            await self._cache.release(spec.name, token, failed_for_ms=0)
            raise catalog_unavailable("The catalog is not configured (no TMDb URL or credentials)", 60)
        try:
            value = await spec.fetch(deadline)
        except _NOT_FOUND_ERRORS:
            entry = Entry.make("nf", b"", self._not_found_ttl_s)
            await self._cache.store(spec.name, entry, self._not_found_ttl_s, token)
            self._local_put(spec.name, _MISSING, self._not_found_ttl_s)
            raise
        except (CatalogUnavailable, UpstreamShapeError) as exc:
            await self._cache.release(spec.name, token, failed_for_ms=self._failure_ttl_ms)
            if isinstance(exc, UpstreamShapeError):
                logger.warning("TMDb answer for {} unusable: {}", spec.name, exc)
                raise catalog_unavailable("TMDb answered something unexpected", 5) from exc
            raise
        entry = Entry.make("ok", _ENCODER.encode(value), spec.fresh_s)
        await self._cache.store(spec.name, entry, spec.fresh_s + self._stale_ttl_s, token)
        self._local_put(spec.name, value, spec.fresh_s)
        return value

    def _refresh_in_background(self, spec: _Spec[Any]) -> None:
        if spec.name in self._refreshing or spec.name in self._inflight:
            return
        task = asyncio.create_task(self._refresh(spec), name=f"tmdb-refresh:{spec.name}")
        self._refreshing[spec.name] = task
        task.add_done_callback(lambda done: self._forget(self._refreshing, spec.name, done))

    async def _refresh(self, spec: _Spec[Any]) -> None:
        token = secrets.token_urlsafe(12)
        if not await self._cache.try_lease(spec.name, token, self._lease_ms):
            return  # another replica refreshes it, or it failed moments ago
        deadline = asyncio.get_running_loop().time() + self._deadline_s
        try:
            await self._fetch(spec, deadline, token)
        except DomainError as exc:
            # The stale answer stays; the next request after the failure window tries again.
            logger.debug("refresh of {} failed: {}", spec.name, exc.detail)

    @staticmethod
    def _forget(tasks: dict[str, Any], name: str, done: asyncio.Task[Any]) -> None:
        if tasks.get(name) is done:
            del tasks[name]
        if not done.cancelled():
            done.exception()  # retrieved here, so a fill nobody awaits any more is not logged as lost

    def _from_entry(self, spec: _Spec[T], entry: Entry) -> T | _Missing | None:
        if entry.status == "nf":
            return _MISSING if spec.not_found is not None else None
        try:
            return spec.decoder.decode(entry.body)
        except msgspec.DecodeError:
            return None

    def _not_found(self, spec: _Spec[Any]) -> DomainError:
        assert spec.not_found is not None
        return spec.not_found()

    # --- the in-process copy ---------------------------------------------------------------------

    def _local_get(self, name: str) -> Any:
        if self._local_cache_s <= 0:
            return None
        hit = self._local.get(name)
        if hit is None:
            return None
        expires, value = hit
        if time.monotonic() >= expires:
            del self._local[name]
            return None
        return value

    def _local_put(self, name: str, value: Any, fresh_for_s: float) -> None:
        ttl = min(self._local_cache_s, fresh_for_s)
        if ttl <= 0:
            return
        self._local[name] = (time.monotonic() + ttl, value)
        self._local.move_to_end(name)
        while len(self._local) > LOCAL_CACHE_SIZE:
            self._local.popitem(last=False)
