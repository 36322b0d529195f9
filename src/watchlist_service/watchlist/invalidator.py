"""The page cache's backstop: every replica tails MongoDB's change stream and invalidates every list change.

A writer invalidates its own write before it answers (``PageCache.invalidate``). When it cannot reach Redis
(a partition of that one replica, a Redis restart it met on every attempt), nothing in its process can stop
the other replicas from serving pages older than the write it has acknowledged. The change stream can: it
does not depend on the writer's process, and every replica that reaches Redis sees the write within the
stream's delay (measured in ``watchlist_invalidator_delay_seconds``) and runs the same invalidation. The
invalidation is a no-op when a newer one already ran, so for the usual write it costs one GET per replica.

What could not reach Redis is kept (the newest version per user) and retried until it does: when this
replica is the only one left that reaches Redis again, it is the one that catches up. The resume token is
kept in memory: a stream that breaks resumes where it stopped; a process that restarts starts from now (the
other replicas cover what it did not see); a token too old for the oplog starts from now too (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from loguru import logger

from watchlist_service.metrics import INVALIDATOR_DELAY, INVALIDATOR_EVENTS
from watchlist_service.watchlist.repository import ChangeStreamUnavailable, VersionChange

RETRY_S: Final = 0.5
MAX_PENDING: Final = 100_000
STOP_TIMEOUT_S: Final = 2.0


class VersionSource(Protocol):
    """The change stream of list versions (``WatchlistRepository.watch_versions``)."""

    def watch_versions(
        self, resume_after: Mapping[str, Any] | None
    ) -> AsyncGenerator[VersionChange | None, None]:
        """Every version raised from now on, or after ``resume_after``; ``None``: nothing new yet."""
        ...


class Invalidation(Protocol):
    """One invalidation attempt (``PageCache.drop``)."""

    async def drop(self, user_id: str, version: int) -> bool:
        """Whether the invalidation of ``version`` ran."""
        ...


class ChangeStreamInvalidator:
    """Runs the page cache's invalidation for every list version the change stream reports."""

    def __init__(self, source: VersionSource, cache: Invalidation, *, retry_s: float = RETRY_S) -> None:
        self._source = source
        self._cache = cache
        self._retry_s = retry_s
        self._token: Mapping[str, Any] | None = None
        self._pending: dict[str, int] = {}  # to send now
        self._failed: dict[str, int] = {}  # to send again after retry_s
        self._retry: asyncio.TimerHandle | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self.watching = asyncio.Event()  # set while the stream is open
        self._settled = asyncio.Event()  # the stream opened once, or cannot ever (start-up waits for it)

    @contextlib.asynccontextmanager
    async def running(self, *, start_timeout_s: float = 5.0) -> AsyncIterator[None]:
        """Tail the stream and invalidate while the context is open; waits briefly for the stream to open."""
        tasks = [asyncio.create_task(self._tail()), asyncio.create_task(self._invalidate())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), start_timeout_s)
        try:
            yield
        finally:
            if self._retry is not None:
                self._retry.cancel()
            # The tail stops between two getMores (at most ``max_await_time_ms`` away) and closes its cursor;
            # cancelling it inside one would leave that connection's socket to the garbage collector.
            self._stopping = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(tasks[0]), STOP_TIMEOUT_S)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def pending(self) -> int:
        """How many users' invalidations wait for Redis."""
        return len(self._pending.keys() | self._failed.keys())

    async def _tail(self) -> None:
        while not self._stopping:
            try:
                async with contextlib.aclosing(self._source.watch_versions(self._token)) as changes:
                    async for change in changes:
                        if self._stopping:
                            return
                        self.watching.set()
                        self._settled.set()
                        if change is not None:
                            self._token = change.resume_token
                            self._note(change)
            except ChangeStreamUnavailable as exc:
                self.watching.clear()
                if exc.permanent:
                    logger.warning(
                        "no change stream (MongoDB is not a replica set): no invalidation backstop"
                    )
                    return
                if exc.lost:
                    logger.warning("the change stream cannot resume from its token; it starts from now")
                    self._token = None
                else:
                    logger.info("change stream interrupted ({}); resuming", exc)
                INVALIDATOR_EVENTS.labels("stream_error").inc()
                await asyncio.sleep(self._retry_s)

    def _note(self, change: VersionChange) -> None:
        if change.at is not None:
            INVALIDATOR_DELAY.observe(max(0.0, (datetime.now(UTC) - change.at).total_seconds()))
        if change.user_id not in self._pending and self.pending >= MAX_PENDING:
            INVALIDATOR_EVENTS.labels("dropped").inc()  # the writers' own invalidations still ran
            return
        self._pending[change.user_id] = max(change.version, self._pending.get(change.user_id, 0))
        self._wake.set()

    async def _invalidate(self) -> None:
        """Send what is pending, all at once (the Redis client pipelines them). What failed is tried again
        after ``retry_s``; changes that come meanwhile are not held back by it."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            users = list(batch)
            done = await asyncio.gather(*(self._cache.drop(user, batch[user]) for user in users))
            failed = {user: batch[user] for user, ok in zip(users, done, strict=True) if not ok}
            INVALIDATOR_EVENTS.labels("invalidated").inc(len(users) - len(failed))
            if failed:
                INVALIDATOR_EVENTS.labels("failed").inc(len(failed))
                for user, version in failed.items():
                    self._failed[user] = max(version, self._failed.get(user, 0))
                if self._retry is None:
                    self._retry = loop.call_later(self._retry_s, self._retry_failed)

    def _retry_failed(self) -> None:
        self._retry = None
        for user, version in self._failed.items():
            self._pending[user] = max(version, self._pending.get(user, 0))
        self._failed.clear()
        self._wake.set()
