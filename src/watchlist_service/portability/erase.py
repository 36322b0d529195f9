"""Erasing a user's list and everything derived from it (docs/design.md §11).

In order: the user's import jobs (so no import adds anything after the pause), the page cache told that
the list moves on (readers that saw the old ``ver`` cannot store a page any more), a pause long enough for
reads and adds already under way to land, the list document, every Redis key under the user's hash tag
(SCAN, on every node of a cluster), the user's unused socket tickets, and a message on the user's channel
that makes every replica close that user's sockets with 4410. One audit line says what went, never what the
list held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Protocol

import msgspec
from loguru import logger

from watchlist_service.errors import EraseIncomplete
from watchlist_service.infra.redis import RedisGuard, Unavailable, request_budget, scan_keys, user_tag_pattern
from watchlist_service.watchlist.cache import PageCache
from watchlist_service.watchlist.repository import WatchlistRepository

DELETE_BATCH = 500


class ImportJobs(Protocol):
    """The import jobs, as an erase sees them."""

    async def delete_user(self, user_id: str) -> int:
        """Delete the user's jobs and their rows; how many jobs."""
        ...


class Tickets(Protocol):
    """The socket tickets (``realtime/tickets.py``)."""

    async def revoke(self, user_id: str, redis: RedisGuard) -> int | None:
        """Delete the user's unused tickets; how many, ``None`` when Redis could not be reached."""
        ...


class Sockets(Protocol):
    """The realtime fan-out (``realtime/fanout.py``)."""

    async def close_sockets(self, user_id: str) -> bool:
        """Close the user's sockets on every replica; whether the message went out."""
        ...


class EraseReport(msgspec.Struct, rename="camel", kw_only=True):
    """What an erase removed (counts only: the audit line carries exactly this)."""

    user_id: str
    had_list: bool
    items: int
    version: int
    import_jobs: int
    redis_keys: int
    tickets: int
    sockets_notified: bool
    complete: bool


class EraseService:
    """Erases one user's list and what is derived from it; idempotent."""

    def __init__(
        self,
        lists: WatchlistRepository,
        cache: PageCache,
        redis: RedisGuard,
        *,
        imports: ImportJobs,
        tickets: Tickets,
        sockets: Sockets | None,
        settle_s: float,
    ) -> None:
        self._lists = lists
        self._cache = cache
        self._redis = redis
        self._imports = imports
        self._tickets = tickets
        self._sockets = sockets
        self._settle_s = settle_s

    async def erase(self, user_id: str) -> EraseReport:
        """Erase the list of ``user_id``; ``EraseIncomplete`` (503, retry) when Redis could not be cleaned."""
        jobs = await self._imports.delete_user(user_id)
        version = await self._lists.version(user_id)
        if version or jobs:
            # A reader that saw `ver` before this cannot store its page any more; one that saw none must
            # store it within the pause, before the sweep below removes it. Adds of an import step that had
            # checked its job before the job went land within the pause too, before the document goes.
            with request_budget():
                await self._cache.drop(user_id, version + 1)
            await asyncio.sleep(self._settle_s)
        deleted = await self._lists.delete_list(user_id)
        keys = await self._delete_user_keys(user_id)
        with request_budget():
            tickets = await self._tickets.revoke(user_id, self._redis)
        with request_budget():
            notified = await self._sockets.close_sockets(user_id) if self._sockets is not None else False
        report = EraseReport(
            user_id=user_id,
            had_list=deleted is not None,
            items=deleted[0] if deleted else 0,
            version=deleted[1] if deleted else 0,
            import_jobs=jobs,
            redis_keys=keys or 0,
            tickets=tickets or 0,
            sockets_notified=notified,
            complete=keys is not None and tickets is not None,
        )
        logger.bind(audit="watchlist.erase", **msgspec.to_builtins(report)).info("watchlist erased")
        if not report.complete:
            raise EraseIncomplete("The list is erased, but Redis could not be reached to remove derived data")
        return report

    async def _delete_user_keys(self, user_id: str) -> int | None:
        """Delete every key under the user's hash tag; how many, ``None`` when Redis could not be reached."""
        with request_budget():
            keys = await self._redis(
                lambda: scan_keys(self._redis.client, user_tag_pattern(user_id)), force=True
            )
        if isinstance(keys, Unavailable):
            return None
        deleted = 0
        for batch in _batches(keys, DELETE_BATCH):
            with request_budget():  # one hash tag, one slot: a multi-key DEL is fine on a cluster too
                count = await self._redis(partial(self._redis.client.delete, *batch), force=True)
            if isinstance(count, Unavailable):
                return None
            deleted += int(count)
        return deleted


def _batches(keys: Sequence[str], size: int) -> list[Sequence[str]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)]
