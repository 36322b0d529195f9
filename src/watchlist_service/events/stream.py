"""The Redis Stream of list events: the relay's XADD (breaker-guarded) and a consumer-group reader.

One stream key (``WATCHLIST_EVENTS_STREAM``, default ``watchlist:events``), trimmed with ``MAXLEN ~``
(``WATCHLIST_EVENTS_MAXLEN``). Each entry has one field, ``event``: the CloudEvent's JSON. One key keeps
every user's events in one order, which is what lets consumers read them in version order per user; in a
Redis Cluster that key lives in one slot, so one node takes every event (docs/design.md §12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from redis.exceptions import ResponseError

from watchlist_service.events.schemas import FIELD, CloudEvent, decode, encode
from watchlist_service.infra.redis import RedisClient, RedisGuard, Unavailable

GROUP_EXISTS: Final = "BUSYGROUP"


class EventPublisher:
    """Appends events to the stream, in order, in one round trip per batch."""

    def __init__(self, guard: RedisGuard, stream: str, *, maxlen: int) -> None:
        self._guard = guard
        self.stream = stream
        self._maxlen = maxlen

    async def publish(self, events: Sequence[CloudEvent]) -> bool:
        """Append ``events`` in their order; ``False`` when Redis failed (some may have been appended: the
        relay publishes them again, with the same ids)."""
        if not events:
            return True
        # One pipeline of our own, not the shared auto-pipeliner: it may split a long batch over
        # several connections, and the order of the entries is the promise here.
        pipe = self._guard.client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, {FIELD: encode(event)}, maxlen=self._maxlen, approximate=True)
        result = await self._guard(pipe.execute)
        return not isinstance(result, Unavailable)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry handed to a consumer: its entry id (to acknowledge) and its event."""

    entry_id: str
    event: CloudEvent


class GroupReader:
    """A consumer of a consumer group: its pending entries first (delivered before a restart, not
    acknowledged), then new ones. Errors are raised: a consumer wants to know, not to degrade."""

    def __init__(self, redis: RedisClient, stream: str, group: str, consumer: str) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self._pending_done = False

    async def ensure_group(self, *, from_start: bool) -> None:
        """Create the group (and the stream) unless it exists; a new group starts at the first entry kept
        (``from_start``) or at the next one."""
        try:
            await self._redis.xgroup_create(
                self.stream, self.group, id="0" if from_start else "$", mkstream=True
            )
        except ResponseError as exc:
            if GROUP_EXISTS not in str(exc):
                raise

    async def read(self, *, count: int, block_ms: int) -> list[Delivery]:
        """The next entries for this consumer: its own pending ones (after a restart), then new ones."""
        if not self._pending_done:
            found = await self._read("0", count, None)
            if found:
                return found
            self._pending_done = True
        return await self._read(">", count, block_ms)

    async def _read(self, start: str, count: int, block_ms: int | None) -> list[Delivery]:
        reply: Any = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block_ms
        )
        deliveries = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                raw = fields.get(FIELD.encode()) if fields else None
                if raw is None:  # trimmed away while pending: nothing left to deliver
                    await self.ack(_text(entry_id))
                    continue
                deliveries.append(Delivery(_text(entry_id), decode(raw)))
        return deliveries

    async def ack(self, *entry_ids: str) -> None:
        """Acknowledge entries: they leave this consumer's pending list."""
        if entry_ids:
            await self._redis.xack(self.stream, self.group, *entry_ids)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Deduper:
    """At-least-once made exactly-once per consumer: an event at or below the newest version seen for its
    user is a re-publish (same id) and is skipped. Versions of a user only grow, so this also keeps order."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def fresh(self, event: CloudEvent) -> bool:
        """Whether ``event`` is new to this consumer (and remember it)."""
        if event.data.version <= self._seen.get(event.subject, 0):
            return False
        self._seen[event.subject] = event.data.version
        return True
