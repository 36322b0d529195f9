"""The TMDb v3 client: one shared ``httpx.AsyncClient``, a deadline per call, retries, breaker, rate limit.

Every call has a deadline (event-loop time) that bounds everything it does: waiting for a rate-limit slot,
each attempt (its timeouts are cut to what is left) and the backoff between attempts. 429, 5xx, bodies that
are not JSON objects and transport errors (refused, dropped, timed out) are retried with exponential backoff
and jitter, honouring ``Retry-After``; a retry that cannot finish before the deadline is not started. A 404
of a title is ``MovieNotFound`` / ``TvNotFound``; everything else that fails is ``CatalogUnavailable``
(503 with ``Retry-After``).

Only what this module builds reaches TMDb: fixed paths, ids checked to be positive 32-bit integers, and
allow-listed query parameters.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx
import msgspec
from loguru import logger

from watchlist_service import __version__
from watchlist_service.catalog.limiter import OutboundLimiter
from watchlist_service.catalog.schemas import MAX_PAGE, SORT_BY, ContentKind
from watchlist_service.config import Settings
from watchlist_service.content import is_tmdb_id
from watchlist_service.errors import CatalogUnavailable, DomainError, MovieNotFound, TvNotFound
from watchlist_service.infra.breaker import CircuitBreaker
from watchlist_service.metrics import TMDB_CALLS

TMDB_API_URL: Final = "https://api.themoviedb.org"
MAX_QUERY_LENGTH: Final = 200
MAX_RETRY_AFTER_S: Final = 300
_DECODER: Final = msgspec.json.Decoder()
_NOT_FOUND: Final[Mapping[ContentKind, type[DomainError]]] = {"movie": MovieNotFound, "tv": TvNotFound}


def catalog_unavailable(detail: str, retry_after_s: float | None = None) -> CatalogUnavailable:
    """A ``CatalogUnavailable`` whose ``Retry-After`` says when trying again makes sense."""
    if retry_after_s is None:
        return CatalogUnavailable(detail)
    return CatalogUnavailable(detail, retry_after=min(MAX_RETRY_AFTER_S, max(1, math.ceil(retry_after_s))))


def tmdb_configured(settings: Settings) -> bool:
    """Whether the settings say where TMDb is or how to sign in to it."""
    return any(v is not None for v in (settings.tmdb_base_url, settings.tmdb_token, settings.tmdb_api_key))


def tmdb_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one HTTP client for TMDb: its base URL, bearer token, timeouts and connection pool."""
    headers = {"Accept": "application/json", "User-Agent": f"watchlist-service/{__version__}"}
    if settings.tmdb_token is not None:
        headers["Authorization"] = f"Bearer {settings.tmdb_token.get_secret_value()}"
    return httpx.AsyncClient(
        base_url=(settings.tmdb_base_url or TMDB_API_URL).rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(settings.tmdb_read_timeout_s, connect=settings.tmdb_connect_timeout_s),
        limits=httpx.Limits(
            max_connections=settings.tmdb_max_connections,
            max_keepalive_connections=settings.tmdb_max_connections,
        ),
        follow_redirects=False,
        trust_env=False,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER_S))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(float(MAX_RETRY_AFTER_S), max(0.0, when.timestamp() - time.time()))


def _check_id(tmdb_id: int) -> int:
    if not is_tmdb_id(tmdb_id):  # the request schemas refuse such ids; reaching here is a bug
        raise ValueError(f"not a TMDb id: {tmdb_id!r}")
    return tmdb_id


def _check_page(page: int) -> int:
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"TMDb pages are 1..{MAX_PAGE}, not {page}")
    return page


class TmdbClient:
    """TMDb v3 calls that retry, back off, respect the shared rate limit and trip a breaker."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: OutboundLimiter,
        breaker: CircuitBreaker,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        api_key: str | None = None,
    ) -> None:
        self._http = http
        self._limiter = limiter
        self.breaker = breaker
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        # v3 keys travel in the query string; a v4 token (set on the HTTP client) is preferred.
        self._auth_params = {"api_key": api_key} if api_key else {}

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, limiter: OutboundLimiter, breaker: CircuitBreaker
    ) -> TmdbClient:
        """A client configured by ``settings``."""
        api_key = settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key is not None else None
        return cls(
            http,
            limiter,
            breaker,
            connect_timeout_s=settings.tmdb_connect_timeout_s,
            read_timeout_s=settings.tmdb_read_timeout_s,
            max_retries=settings.tmdb_max_retries,
            backoff_base_s=settings.tmdb_backoff_base_s,
            backoff_max_s=settings.tmdb_backoff_max_s,
            api_key=None if settings.tmdb_token is not None else api_key,
        )

    async def details(self, kind: ContentKind, tmdb_id: int, *, deadline: float) -> dict[str, Any]:
        """``/3/movie/{id}`` or ``/3/tv/{id}``; ``MovieNotFound`` / ``TvNotFound`` on a 404."""
        path = f"/3/{kind}/{_check_id(tmdb_id)}"
        return await self._get(kind, path, {}, deadline=deadline, not_found=_NOT_FOUND[kind])

    async def recommendations(
        self, kind: ContentKind, tmdb_id: int, page: int, *, deadline: float
    ) -> dict[str, Any]:
        """One page of ``/3/movie/{id}/recommendations`` or ``/3/tv/{id}/recommendations``; a 404 (no such
        title) is ``MovieNotFound`` / ``TvNotFound``."""
        path = f"/3/{kind}/{_check_id(tmdb_id)}/recommendations"
        params = {"page": str(_check_page(page))}
        return await self._get("recommendations", path, params, deadline=deadline, not_found=_NOT_FOUND[kind])

    async def discover(
        self, kind: ContentKind, sort_by: str, page: int, *, deadline: float
    ) -> dict[str, Any]:
        """One page of ``/3/discover/movie`` or ``/3/discover/tv`` in an allow-listed order."""
        if sort_by not in SORT_BY[kind].values():
            raise ValueError(f"sort_by {sort_by!r} is not allowed for {kind}")
        params = {"sort_by": sort_by, "page": str(_check_page(page)), "include_adult": "false"}
        return await self._get("discover", f"/3/discover/{kind}", params, deadline=deadline)

    async def search_multi(self, query: str, page: int, *, deadline: float) -> dict[str, Any]:
        """One page of ``/3/search/multi`` (movies, TV shows and people)."""
        if not query or len(query) > MAX_QUERY_LENGTH:
            raise ValueError("the search query must have 1 to 200 characters")
        params = {"query": query, "page": str(_check_page(page)), "include_adult": "false"}
        return await self._get("search", "/3/search/multi", params, deadline=deadline)

    async def search_movie(
        self, query: str, year: int | None, page: int, *, deadline: float
    ) -> dict[str, Any]:
        """One page of ``/3/search/movie``, narrowed to a release year when one is given (imports match
        Letterboxd rows by title and year: docs/design.md §11)."""
        if not query or len(query) > MAX_QUERY_LENGTH:
            raise ValueError("the search query must have 1 to 200 characters")
        params = {"query": query, "page": str(_check_page(page)), "include_adult": "false"}
        if year is not None:
            if not 1800 <= year <= 2200:
                raise ValueError(f"not a release year: {year!r}")
            params["year"] = str(year)
        return await self._get("search", "/3/search/movie", params, deadline=deadline)

    def _backoff_s(self, attempt: int) -> float:
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0**attempt)
        jitter: float = random.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter  # "equal jitter": never 0, never in lockstep

    async def _get(
        self,
        kind: str,
        path: str,
        params: Mapping[str, str],
        *,
        deadline: float,
        not_found: Callable[[], DomainError] | None = None,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        query = {**params, **self._auth_params}
        attempt = 0
        while True:
            if not self.breaker.allows():
                TMDB_CALLS.labels(kind, "breaker_open").inc()
                raise catalog_unavailable(
                    "TMDb is failing; not calling it for now", self.breaker.retry_after_s()
                )
            try:
                await self._limiter.acquire(deadline)
            except TimeoutError:
                TMDB_CALLS.labels(kind, "rate_limited").inc()
                raise catalog_unavailable("No TMDb request slot before the deadline", 1) from None
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise catalog_unavailable("TMDb did not answer in time", 1)
            timeout = httpx.Timeout(
                min(self._read_timeout_s, remaining), connect=min(self._connect_timeout_s, remaining)
            )
            retry_after: float | None = None
            try:
                response = await self._http.get(path, params=query, timeout=timeout)
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.TransportError:  # refused, reset, dropped without an answer
                outcome = "transport_error"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = _DECODER.decode(response.content)
                    except msgspec.DecodeError:
                        body = None
                    if isinstance(body, dict):
                        self.breaker.record_success()
                        TMDB_CALLS.labels(kind, "ok").inc()
                        return body
                    outcome = "bad_body"
                elif status == 404 and not_found is not None:
                    self.breaker.record_success()  # TMDb works; the title does not exist
                    TMDB_CALLS.labels(kind, "not_found").inc()
                    raise not_found()
                elif status == 429 or status >= 500:
                    outcome = str(status)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                else:
                    # 401 (bad credentials), 400, an unexpected 404: retrying cannot help.
                    TMDB_CALLS.labels(kind, str(status)).inc()
                    logger.error("TMDb answered {} to {}: {}", status, path, response.text[:200])
                    raise catalog_unavailable(f"TMDb refused the request ({status})", 30)
            TMDB_CALLS.labels(kind, outcome).inc()
            self.breaker.record_failure()
            logger.debug("TMDb {} {}: {} (attempt {})", kind, path, outcome, attempt + 1)
            if attempt >= self._max_retries:
                raise catalog_unavailable(
                    f"TMDb failed ({outcome})", retry_after or self.breaker.retry_after_s()
                )
            delay = max(self._backoff_s(attempt), retry_after or 0.0)
            if loop.time() + delay >= deadline:
                raise catalog_unavailable(f"TMDb failed ({outcome})", retry_after or delay)
            await asyncio.sleep(delay)
            attempt += 1
