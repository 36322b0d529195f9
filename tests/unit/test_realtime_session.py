"""The socket session's ordering rules, driven through its queue with a recording transport.

The delta feed is the real ``WatchlistService.changes`` over a repository stub that holds change records, so
the feed's semantics (latest change per title, tombstones, resync) are the production ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

from watchlist_service.errors import RateLimited
from watchlist_service.realtime.fanout import GAP, PING, UserChannels, UserSubscriber, channel_for
from watchlist_service.realtime.session import SLOW_CONSUMER, Close, Session
from watchlist_service.routes import RateClass
from watchlist_service.watchlist.schemas import Change, Item, ListEvent
from watchlist_service.watchlist.service import WatchlistService

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def item(content_id: str) -> Item:
    kind, _, tmdb_id = content_id.partition(":")
    return Item(
        content_id=content_id,
        type="movie" if kind == "movie" else "tv",
        tmdb_id=int(tmdb_id),
        added_at=NOW,
        updated_at=NOW,
    )


class FeedRepository:
    """The repository's ``changes``: one record per version, the oldest ``kept`` of them dropped."""

    def __init__(self) -> None:
        self.records: list[Change] = []
        self.reads = 0

    @property
    def version(self) -> int:
        return len(self.records)

    def add(self, content_id: str) -> bytes:
        """Record an add; returns the event a replica would publish for it."""
        version = self.version + 1
        self.records.append(
            Change(version=version, op="added", content_id=content_id, at=NOW, item=item(content_id))
        )
        return msgspec.json.encode(ListEvent(event="item.added", version=version, item=item(content_id)))

    async def changes(self, user_id: str) -> tuple[list[Change], int, int]:
        self.reads += 1
        return list(self.records), self.version, 0


class RecordingTransport:
    """Keeps what the session sends; ``block()`` makes sends hang like a full send buffer."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()
        self.stalled = asyncio.Event()
        self.new_message = asyncio.Event()

    async def send(self, data: bytes) -> None:
        if not self.writable.is_set():
            self.stalled.set()
        await self.writable.wait()
        self.sent.append(json.loads(data))
        self.new_message.set()

    async def receive(self) -> str | None:
        return await self.incoming.get()

    async def close(self, code: int, reason: str) -> None:  # pragma: no cover - the hub closes, not a session
        raise AssertionError("sessions do not close sockets themselves")

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` messages were sent (bounded)."""
        async with asyncio.timeout(2):
            while len(self.sent) < count:
                self.new_message.clear()
                await self.new_message.wait()
        return self.sent

    def versions(self) -> list[int]:
        return [m["version"] for m in self.sent if "version" in m]


class Harness:
    def __init__(self, *, queue_size: int = 16, gap_wait_s: float = 0.05, refuse: bool = False) -> None:
        self.counted: list[RateClass] = []
        self.refuse = refuse
        self.repo = FeedRepository()
        service = WatchlistService(self.repo, cache=None)  # type: ignore[arg-type]  # only `changes` is used
        plugin = ChannelsPlugin(backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True)
        self.subscriber = UserSubscriber(plugin, max_backlog=queue_size)
        self.transport = RecordingTransport()
        self.session = Session(
            self.transport,
            "u1",
            service,
            self.subscriber,
            expires_at=None,
            gap_wait_s=gap_wait_s,
            max_message_bytes=65_536,
            max_held=queue_size,
            count=self.count,
        )
        self.subscriber.on_overflow = self.session.on_overflow
        self.result: asyncio.Task[Close | None] | None = None

    async def count(self, rate: RateClass) -> None:
        self.counted.append(rate)
        if self.refuse:
            raise RateLimited("Too many requests; retry in 7 s", retry_after=7)

    def publish(self, raw: bytes) -> bool:
        return self.subscriber.put_nowait(raw)


@asynccontextmanager
async def running(harness: Harness, since: int | None = None) -> AsyncIterator[Harness]:
    harness.result = asyncio.create_task(harness.session.run(since))
    try:
        yield harness
    finally:
        harness.session.end(None)
        await harness.result


async def test_live_events_go_out_in_order_and_duplicates_are_dropped() -> None:
    h = Harness()
    events = [h.repo.add(f"movie:{n}") for n in range(1, 4)]
    async with running(h):
        for raw in [events[0], events[1], events[1], events[0], events[2]]:
            h.publish(raw)
        await h.transport.wait_for(3)
        h.subscriber.put_nowait(PING)
        await h.transport.wait_for(4)
    assert h.transport.versions() == [1, 2, 3]
    assert h.transport.sent[-1] == {"event": "ping"}
    assert h.repo.reads == 0


async def test_an_event_ahead_of_its_predecessor_waits_for_it() -> None:
    h = Harness(gap_wait_s=5)
    v1, v2, v3 = (h.repo.add(f"movie:{n}") for n in range(1, 4))
    async with running(h):
        h.publish(v1)
        await h.transport.wait_for(1)
        h.publish(v3)  # two replicas published out of order
        h.publish(v2)
        await h.transport.wait_for(3)
    assert h.transport.versions() == [1, 2, 3]
    assert h.repo.reads == 0


async def test_a_version_that_never_arrives_is_read_from_the_feed() -> None:
    h = Harness(gap_wait_s=0.05)
    v1, _lost, v3 = (h.repo.add(f"movie:{n}") for n in range(1, 4))
    async with running(h):
        h.publish(v1)
        h.publish(v3)  # the publish of version 2 failed
        sent = await h.transport.wait_for(3)
    assert h.transport.versions() == [1, 2, 3]
    assert [m["item"]["contentId"] for m in sent] == ["movie:1", "movie:2", "movie:3"]
    assert h.repo.reads == 1


async def test_resume_sends_the_feed_then_only_newer_live_events() -> None:
    h = Harness()
    h.repo.add("movie:1")
    h.repo.add("movie:2")
    v3 = h.repo.add("movie:3")
    # Published while the socket was subscribing: version 3 is also in the feed, version 4 is not yet.
    h.publish(v3)
    v4 = h.repo.add("movie:4")
    h.repo.records.pop()  # the feed was read before version 4 was written
    async with running(h, since=1):
        h.publish(v4)
        sent = await h.transport.wait_for(3)
        h.repo.records.append(
            Change(version=4, op="added", content_id="movie:4", at=NOW, item=item("movie:4"))
        )
        v5 = h.repo.add("movie:5")
        h.publish(v5)
        sent = await h.transport.wait_for(4)
    assert h.transport.versions() == [2, 3, 4, 5]
    assert [m["event"] for m in sent] == ["item.added"] * 4


async def test_resume_from_beyond_the_feed_asks_for_a_resync() -> None:
    h = Harness()
    h.repo.add("movie:1")
    async with running(h, since=7):
        sent = await h.transport.wait_for(1)
        h.publish(h.repo.add("movie:2"))
        await h.transport.wait_for(2)
    assert sent[0] == {"event": "resync-required", "version": 1}
    assert h.transport.versions() == [1, 2]


async def test_a_burst_larger_than_the_queue_becomes_one_catch_up() -> None:
    h = Harness(queue_size=4)
    h.publish(h.repo.add("movie:1"))
    async with running(h):
        await h.transport.wait_for(1)
        # 10 events arrive in one go, before the pusher gets a turn: the queue holds 4.
        accepted = [h.publish(h.repo.add(f"tv:{n}")) for n in range(1, 11)]
        await h.transport.wait_for(11)
        assert h.result is not None
        assert not h.result.done()  # a burst does not end the socket
    assert accepted.count(False) > 0
    assert h.transport.versions() == list(range(1, 12))
    assert h.repo.reads == 1


async def test_a_consumer_that_stops_reading_is_disconnected() -> None:
    h = Harness(queue_size=4)
    async with running(h):
        h.publish(h.repo.add("movie:1"))
        await h.transport.wait_for(1)
        h.transport.writable.clear()  # the client stopped reading: sends hang
        h.publish(h.repo.add("movie:2"))
        async with asyncio.timeout(2):
            await h.transport.stalled.wait()
        for n in range(3, 9):
            h.publish(h.repo.add(f"movie:{n}"))
        assert h.result is not None
        async with asyncio.timeout(2):
            close = await asyncio.shield(h.result)
    assert close == SLOW_CONSUMER
    assert h.transport.versions() == [1]


async def test_a_gap_marker_catches_up_from_the_last_version() -> None:
    h = Harness()
    h.publish(h.repo.add("movie:1"))
    async with running(h):
        await h.transport.wait_for(1)
        h.repo.add("movie:2")  # published while the pub/sub connection was down
        h.subscriber.put_nowait(GAP)
        sent = await h.transport.wait_for(2)
    assert sent[1]["version"] == 2
    assert sent[1]["item"]["contentId"] == "movie:2"


@pytest.mark.parametrize(
    ("message", "status", "code", "field"),
    [
        ("not json", 400, 60001, None),
        ("[1, 2]", 400, 60001, None),
        ('{"op": "add", "contentId": "movie:1"}', 400, 60001, "requestId"),
        ('{"op": "fly", "requestId": "r"}', 400, 60001, "op"),
        ('{"op": "add", "requestId": "r", "contentId": "film:1"}', 400, 60001, "contentId"),
        ('{"op": "add", "requestId": "r", "contentId": "movie:1", "$ne": 1}', 400, 60001, None),
        ('{"op": "update", "requestId": "r", "rating": 5}', 400, 60001, "contentId"),
        ('{"op": "update", "requestId": "r", "contentId": "movie:1", "rating": 11}', 400, 60001, "rating"),
        ('{"op": "list", "requestId": "r", "limit": 101}', 400, 60001, "limit"),
        ('{"op": "list", "requestId": "r", "sort": "random"}', 400, 60001, "sort"),
        ("x" * 70_000, 413, 60002, None),
    ],
)
async def test_malformed_messages_get_a_problem_reply(
    message: str, status: int, code: int, field: str | None
) -> None:
    h = Harness()
    reply = json.loads(await h.session.answer(message))
    assert reply["status"] == status
    assert reply["body"]["code"] == code
    assert reply["body"]["status"] == status
    if field is not None:
        assert field in [error["field"] for error in reply["body"]["errors"]]
    assert reply["requestId"] == (json.loads(message).get("requestId") if message.startswith("{") else None)


async def test_ops_are_counted_as_their_rest_requests_and_refused_over_the_limit() -> None:
    h = Harness(refuse=True)
    messages: list[dict[str, Any]] = [
        {"op": "add", "contentId": "movie:1"},
        {"op": "remove", "contentId": "movie:1"},
        {"op": "update", "contentId": "tv:2", "watched": True},
        {"op": "list"},
    ]
    for n, message in enumerate(messages):
        reply = json.loads(await h.session.answer(json.dumps({**message, "requestId": f"r{n}"})))
        assert (reply["requestId"], reply["status"]) == (f"r{n}", 429)
        assert (reply["body"]["code"], reply["body"]["retryAfter"]) == (60003, 7)
    assert h.counted == [RateClass.WRITES, RateClass.WRITES, RateClass.WRITES, RateClass.READS]
    # A malformed message is refused before it is counted.
    await h.session.answer("{not json")
    assert len(h.counted) == 4


async def test_channels_of_users_who_left_are_forgotten() -> None:
    plugin = UserChannels(
        backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True, subscriber_class=UserSubscriber
    )
    async with plugin:
        subscribers = [await plugin.subscribe(channel_for(f"u{n}")) for n in range(100)]
        twice = await plugin.subscribe(channel_for("u0"))  # a second device of the same user
        for n, subscriber in enumerate(subscribers):
            await plugin.unsubscribe(subscriber, channel_for(f"u{n}"))
        assert list(plugin._channels) == [channel_for("u0")]  # the second device still listens
        await plugin.wait_published(b'{"version": 1}', channel_for("u0"))
        assert isinstance(twice, UserSubscriber)
        assert await twice.get() == b'{"version": 1}'
        await plugin.unsubscribe(twice, channel_for("u0"))
        assert plugin._channels == {}
