"""The hand-written layer over the generated client: what another service needs to act on users' lists.

- **Service-token auth**: every request carries ``Authorization: Bearer <token>``; the token needs the scopes
  ``watchlist:read:any`` / ``watchlist:write:any`` (docs/design.md §1).
- **Retries on 503 and 429**, after the answer's ``Retry-After`` (exponential backoff when it has none), at
  most ``max_retries`` times and never waiting longer than ``max_wait_s`` at once: an answer asking for a
  longer wait is returned as it is. Only requests that are safe to repeat are retried (``_repeatable``):
  every request this layer sends is.
- **Idempotency keys**: each ``add`` and ``batch`` sends a fresh ``Idempotency-Key`` (uuid4), the same one on
  each of its own retries, so a retry after a lost answer replays the first answer instead of applying
  twice (docs/design.md §8).
- **Problems as exceptions**: an answer that is not a success raises ``WatchlistError`` with the problem's
  ``status`` and five-digit ``code`` (docs/design.md §4).

This module is not generated: ``make client`` regenerates everything else in the package and keeps it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from watchlist_client.api.my_list_service_access import (
    user_add_to_watchlist,
    user_batch_watchlist,
    user_get_watchlist_item,
    user_list_watchlist,
    user_patch_watchlist_item,
    user_remove_from_watchlist,
    user_watchlist_changes,
    user_watchlist_contains,
    user_watchlist_stats,
)
from watchlist_client.client import AuthenticatedClient
from watchlist_client.models import (
    AddRequest,
    BatchRequest,
    BatchResult,
    Changes,
    ContainsRequest,
    Item,
    Page,
    PatchRequest,
    Problem,
    Stats,
)
from watchlist_client.types import UNSET, Response, Unset

__all__ = ["RetryPolicy", "RetryingTransport", "WatchlistError", "WatchlistService"]

RETRIED_STATUSES: Final = frozenset({429, 503})
_NEXT_LINK: Final = re.compile(r'<([^>]*)>\s*;\s*rel="next"')
T = TypeVar("T")


class WatchlistError(Exception):
    """A problem answer (RFC 9457) of the service: ``status``, ``code`` and ``slug`` say which."""

    def __init__(
        self, status: int, code: int | None, slug: str | None, detail: str, body: dict[str, Any]
    ) -> None:
        super().__init__(f"{status} {code} {slug}: {detail}")
        self.status = status
        self.code = code
        self.slug = slug
        self.detail = detail
        self.body = body

    @classmethod
    def of(cls, response: Response[Any]) -> WatchlistError:
        """The error of an answer that is not a success."""
        parsed = response.parsed
        if isinstance(parsed, Problem):
            slug = parsed.type_.rsplit("/", 1)[-1]
            return cls(int(response.status_code), parsed.code, slug, parsed.detail, parsed.to_dict())
        text = response.content.decode("utf-8", "replace")[:200]
        return cls(int(response.status_code), None, None, text or response.status_code.phrase, {})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait on 503 / 429."""

    max_retries: int = 3
    max_wait_s: float = 10.0
    # Without Retry-After: first_backoff_s, doubling, up to max_wait_s.
    first_backoff_s: float = 0.5

    def wait_s(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based); ``None``: do not retry."""
        if attempt >= self.max_retries:
            return None
        header = response.headers.get("retry-after")
        if header is None:
            return min(self.first_backoff_s * 2.0**attempt, self.max_wait_s)
        try:
            wait = float(header)
        except ValueError:  # an HTTP date: this service never sends one; do not guess
            return None
        return wait if 0 <= wait <= self.max_wait_s else None


def _repeatable(request: httpx.Request) -> bool:
    """Safe to send again: every method but POST, a POST under an Idempotency-Key, and the reads by POST.

    This API's PATCH sets absolute values and its DELETE of a removed title answers 404, so repeating
    either changes nothing; ``contains`` and the socket ticket only read or mint.
    """
    if request.method != "POST" or "idempotency-key" in request.headers:
        return True
    return request.url.path.endswith(("/contains", "/events/ticket"))


class RetryingTransport(httpx.AsyncBaseTransport):
    """Sends a request again, unchanged (headers included), while the answer is 503 or 429 and the policy
    allows."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self.retries = 0  # how many requests were sent again, in all (for tests and metrics)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; again after the answer's ``Retry-After`` while it is 503 or 429."""
        attempt = 0
        while True:
            response = await self._inner.handle_async_request(request)
            if response.status_code not in RETRIED_STATUSES or not _repeatable(request):
                return response
            wait = self._policy.wait_s(response, attempt)
            if wait is None:
                return response
            await response.aclose()
            await self._sleep(wait)
            attempt += 1
            self.retries += 1

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


def _next_page(response: Response[Any]) -> int | None:
    """The page number of the ``Link: <...>; rel="next"`` of a list page, if there is one."""
    found = _NEXT_LINK.search(response.headers.get("link", ""))
    if found is None:
        return None
    pages = parse_qs(urlsplit(found.group(1)).query).get("page")
    return int(pages[0]) if pages else None


class WatchlistService:
    """Users' lists, for a service with a service token (``/v1/users/{userId}/watchlist...``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.transport = RetryingTransport(transport, retry, sleep=sleep)
        self.client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(timeout_s),
            raise_on_unexpected_status=False,
            httpx_args={"transport": self.transport},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self.client.get_async_httpx_client().aclose()

    @staticmethod
    def _ok(response: Response[Any], kind: type[T]) -> T:
        if 200 <= response.status_code < 300 and isinstance(response.parsed, kind):
            return response.parsed
        raise WatchlistError.of(response)

    async def add(self, user_id: str, content_id: str, *, notes: str | None = None) -> Item:
        """Add a title; ``WatchlistError`` 409 (40001 already there, 40003 full) or 422 (40004 unknown)."""
        response = await user_add_to_watchlist.asyncio_detailed(
            user_id,
            client=self.client,
            body=AddRequest(content_id=content_id, notes=notes if notes is not None else UNSET),
            idempotency_key=str(uuid.uuid4()),
        )
        return self._ok(response, Item)

    async def page(self, user_id: str, *, page: int = 1, limit: int = 10) -> Page:
        """One page of the list, newest first."""
        response = await user_list_watchlist.asyncio_detailed(
            user_id, client=self.client, page=page, limit=limit
        )
        return self._ok(response, Page)

    async def items(self, user_id: str, *, limit: int = 100) -> AsyncIterator[Item]:
        """Every item of the list, page after page, following each page's ``Link: rel="next"``."""
        number: int | None = 1
        while number is not None:
            response = await user_list_watchlist.asyncio_detailed(
                user_id, client=self.client, page=number, limit=limit
            )
            for item in self._ok(response, Page).items:
                yield item
            number = _next_page(response)

    async def get(self, user_id: str, content_id: str) -> Item:
        """One item; ``WatchlistError`` 404 (40002) when it is not in the list."""
        response = await user_get_watchlist_item.asyncio_detailed(user_id, content_id, client=self.client)
        return self._ok(response, Item)

    async def update(
        self,
        user_id: str,
        content_id: str,
        *,
        notes: str | Unset | None = UNSET,
        watched: bool | Unset = UNSET,
        rating: int | Unset | None = UNSET,
        if_version: int | None = None,
    ) -> Item:
        """Change the named fields of an item (``None`` clears notes or rating); with ``if_version``, only
        while the list is at that version (``WatchlistError`` 412, code 60008, otherwise)."""
        body = PatchRequest(notes=notes, watched=watched, rating=rating)
        response = await user_patch_watchlist_item.asyncio_detailed(
            user_id,
            content_id,
            client=self.client,
            body=body,
            if_match=UNSET if if_version is None else f'"{if_version}"',
        )
        return self._ok(response, Item)

    async def remove(self, user_id: str, content_id: str) -> None:
        """Remove a title; ``WatchlistError`` 404 (40002) when it is not in the list."""
        response = await user_remove_from_watchlist.asyncio_detailed(user_id, content_id, client=self.client)
        if response.status_code != 204:
            raise WatchlistError.of(response)

    async def contains(self, user_id: str, content_ids: Sequence[str]) -> dict[str, bool]:
        """For up to 100 titles, whether each is in the list."""
        response = await user_watchlist_contains.asyncio_detailed(
            user_id, client=self.client, body=ContainsRequest(content_ids=list(content_ids))
        )
        if response.status_code != 200 or response.parsed is None or isinstance(response.parsed, Problem):
            raise WatchlistError.of(response)
        return dict(response.parsed.additional_properties)

    async def batch(
        self, user_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> BatchResult:
        """Up to 100 adds and removes in one call (under one Idempotency-Key)."""
        response = await user_batch_watchlist.asyncio_detailed(
            user_id,
            client=self.client,
            body=BatchRequest(add=list(add), remove=list(remove)),
            idempotency_key=str(uuid.uuid4()),
        )
        return self._ok(response, BatchResult)

    async def changes(self, user_id: str, since: int) -> Changes:
        """What changed after version ``since``; ``WatchlistError`` 410 (40005) when that is too old."""
        response = await user_watchlist_changes.asyncio_detailed(user_id, client=self.client, since=since)
        return self._ok(response, Changes)

    async def stats(self, user_id: str) -> Stats:
        """Totals of the list."""
        response = await user_watchlist_stats.asyncio_detailed(user_id, client=self.client)
        return self._ok(response, Stats)
