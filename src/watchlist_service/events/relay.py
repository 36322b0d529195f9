"""The event relay: MongoDB's change stream on the lists is the outbox; one replica at a time publishes it.

Every real list change is written to MongoDB first (one atomic update that raises the version and pushes a
change record, docs/design.md §2); the change stream then reports it whichever replica wrote it, and also
when that replica died right after the write. The replica that holds the relay lease (``event_relay`` in
MongoDB, renewed every third of ``WATCHLIST_EVENTS_LEASE_S``) reads the stream from the stored position,
appends the events to the Redis Stream, and only then stores the position of the last one published. So:

- at least once: a position is stored only after its events are in Redis; a relay that dies, loses Redis or
  loses its lease in between leaves the position before them, and whoever relays next publishes them again;
- in order per user: one stream read in the order MongoDB applied the changes, one Redis Stream key, one
  pipeline per batch; a re-publish repeats a suffix with the same ids (``{userId}:{version}``), so a
  consumer that skips versions it has already seen (``stream.Deduper``) sees each change once, in order;
- one relay active: a lease with an expiry on the server's clock; the other replicas retry to take it
  and do so when the holder stops renewing (killed, partitioned, shut down: it releases it).

A position too old for the oplog (the relay was off longer than the oplog window) cannot be resumed: the
relay logs it, counts it (``history_lost``) and starts from now; what happened in between is not published.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from loguru import logger

from watchlist_service.errors import DatabaseUnavailable
from watchlist_service.events.repository import Lease
from watchlist_service.events.schemas import CloudEvent, cloud_event
from watchlist_service.metrics import EVENTS_LAG, EVENTS_RELAYED
from watchlist_service.watchlist.repository import ChangeStreamUnavailable, ListChange, StreamIdle

MAX_BATCH: Final = 500
# Under a steady stream of writes every getMore brings something, so no empty wait ends a batch: its age does.
MAX_BATCH_AGE_S: Final = 0.05
RETRY_S: Final = 0.5
STOP_TIMEOUT_S: Final = 2.0


class ChangeSource(Protocol):
    """The list change stream (``WatchlistRepository.watch_list_changes``)."""

    def watch_list_changes(
        self, resume_after: Mapping[str, Any] | None
    ) -> AsyncGenerator[ListChange | StreamIdle, None]:
        """Every list change after ``resume_after`` (or from now); ``StreamIdle`` after each empty wait."""
        ...


class LeaseStore(Protocol):
    """The lease and the stored position (``RelayStateRepository``)."""

    async def acquire(self) -> Lease | None:
        """The lease, or ``None`` while another replica holds it."""
        ...

    async def renew(self, resume_token: Mapping[str, Any] | None) -> bool:
        """Extend the lease, storing the position; ``False`` when it was lost."""
        ...

    async def release(self) -> None:
        """Give the lease up."""
        ...

    async def forget_position(self) -> bool:
        """Drop the stored position (it is too old to resume from); ``False`` when the lease was lost."""
        ...


class Publisher(Protocol):
    """The Redis Stream (``EventPublisher``)."""

    async def publish(self, events: list[CloudEvent]) -> bool:
        """Append in order; ``False`` when Redis failed."""
        ...


class LeaseLost(Exception):
    """Another replica holds the lease now: stop publishing at once."""


class EventRelay:
    """Publishes every list change as a CloudEvent while this replica holds the relay lease."""

    def __init__(
        self,
        source: ChangeSource,
        leases: LeaseStore,
        publisher: Publisher,
        *,
        event_source: str,
        lease_s: float,
        retry_s: float = RETRY_S,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._source = source
        self._leases = leases
        self._publisher = publisher
        self._event_source = event_source
        self._lease_s = lease_s
        self._retry_s = retry_s
        self._max_batch = max_batch
        self._stopping = False
        self._stop = asyncio.Event()
        self._renewed_at = 0.0
        self.active = asyncio.Event()  # set while this replica holds the lease and its stream is open
        # Start-up waits for it: the lease is decided (ours, with the stream open, or another replica's).
        self._settled = asyncio.Event()
        self.published = 0  # events appended by this process (a re-publish counts again)

    @contextlib.asynccontextmanager
    async def running(self, *, start_timeout_s: float = 5.0) -> AsyncIterator[None]:
        """Relay while the context is open; on the way out, stop between two reads and release the lease.

        Entering waits (up to ``start_timeout_s``) until the lease is decided, as the invalidator waits for
        its stream: the first requests do not race the relay's own start-up, and on a first run the changes
        made from then on are published."""
        task = asyncio.create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._settled.wait()), start_timeout_s)
        try:
            yield
        finally:
            self._stopping = True
            self._stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_S)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if self.active.is_set():
                self.active.clear()
                with contextlib.suppress(DatabaseUnavailable):
                    await self._leases.release()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                lease = await self._leases.acquire()
            except DatabaseUnavailable:
                lease = None
            except Exception:  # a bug must not end the relay for the life of the process
                logger.exception("event relay: taking the lease failed")
                lease = None
            if lease is None:
                self._settled.set()
                await self._sleep(self._lease_s / 3)
                continue
            EVENTS_RELAYED.labels("lease_acquired").inc()
            self._renewed_at = loop.time()
            try:
                await self._relay(lease.resume_token)
            except LeaseLost:
                EVENTS_RELAYED.labels("lease_lost").inc()
                logger.info("the event relay lease went to another replica")
            except DatabaseUnavailable:
                logger.info("event relay: MongoDB unavailable; retrying")
                await self._sleep(self._retry_s)
            except ChangeStreamUnavailable as exc:
                EVENTS_RELAYED.labels("stream_error").inc()
                if exc.permanent:
                    logger.warning("no change stream (MongoDB is not a replica set): no list events")
                    self._settled.set()
                    return
                if exc.lost:
                    EVENTS_RELAYED.labels("history_lost").inc()
                    logger.error("the event relay's stored position is older than the oplog; from now on")
                    with contextlib.suppress(DatabaseUnavailable):
                        await self._leases.forget_position()
                else:
                    logger.info("event relay: change stream interrupted ({}); resuming", exc)
                await self._sleep(self._retry_s)
            except Exception:
                logger.exception("event relay failed; resuming from the stored position")
                await self._sleep(self._retry_s)
            finally:
                self.active.clear()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _renew(self, token: Mapping[str, Any] | None) -> None:
        if not await self._leases.renew(token):
            raise LeaseLost
        self._renewed_at = asyncio.get_running_loop().time()

    def _renew_due(self) -> bool:
        return asyncio.get_running_loop().time() - self._renewed_at >= self._lease_s / 3

    async def _relay(self, resume_after: Mapping[str, Any] | None) -> None:
        batch: list[CloudEvent] = []
        lags: list[datetime] = []
        batch_token: Mapping[str, Any] | None = None
        batch_started = 0.0
        stored = resume_after
        loop = asyncio.get_running_loop()
        async with contextlib.aclosing(self._source.watch_list_changes(resume_after)) as changes:
            async for entry in changes:
                if self._stopping:
                    return
                if isinstance(entry, ListChange):
                    event = cloud_event(
                        source=self._event_source,
                        user_id=entry.user_id,
                        version=entry.version,
                        record=entry.record,
                        item=entry.item,
                        item_version=entry.item_version,
                    )
                    if not batch:
                        batch_started = loop.time()
                    batch.append(event)
                    lags.append(event.time)
                    batch_token = entry.resume_token
                    if not entry.ends_event:
                        continue  # its token is after all of the event's changes: never split one
                    if len(batch) < self._max_batch and loop.time() - batch_started < MAX_BATCH_AGE_S:
                        continue
                else:
                    if not self.active.is_set():
                        if stored is None and entry.resume_token is not None:
                            # A first run: store where the stream opened, so that changes from here on
                            # are published even if this replica dies before the first one.
                            await self._renew(entry.resume_token)
                            stored = entry.resume_token
                        self.active.set()
                        self._settled.set()
                    if not batch:
                        if self._renew_due():
                            token = entry.resume_token if entry.resume_token is not None else stored
                            await self._renew(token)  # the idle position keeps the token inside the oplog
                            stored = token
                        continue
                if not await self._publish(batch):
                    return  # stopping: the position stays before this batch
                now = datetime.now(UTC)
                for at in lags:
                    EVENTS_LAG.observe(max(0.0, (now - at).total_seconds()))
                await self._renew(batch_token)
                stored = batch_token
                batch, lags = [], []

    async def _publish(self, batch: list[CloudEvent]) -> bool:
        """Append the batch, retrying until Redis takes it (the lease is renewed meanwhile, without moving
        the position: if this replica dies now, the next relay publishes the batch)."""
        while not await self._publisher.publish(batch):
            EVENTS_RELAYED.labels("publish_failed").inc()
            if self._stopping:
                return False
            await self._sleep(self._retry_s)
            if self._renew_due():
                await self._renew(None)
        self.published += len(batch)
        EVENTS_RELAYED.labels("published").inc(len(batch))
        return True
