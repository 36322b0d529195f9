"""The change-stream invalidator's bookkeeping, against a scripted stream and cache (no MongoDB, no Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from typing import Any

from watchlist_service.watchlist.invalidator import ChangeStreamInvalidator
from watchlist_service.watchlist.repository import ChangeStreamUnavailable, VersionChange

Step = VersionChange | ChangeStreamUnavailable | None


class ScriptedStream:
    """Each ``watch_versions`` call plays the next script: its changes, then an error or idle ticks."""

    def __init__(self, *scripts: list[Step]) -> None:
        self.scripts = list(scripts)
        self.resumed_after: list[Mapping[str, Any] | None] = []

    async def watch_versions(
        self, resume_after: Mapping[str, Any] | None
    ) -> AsyncGenerator[VersionChange | None, None]:
        self.resumed_after.append(resume_after)
        script = self.scripts.pop(0) if self.scripts else []
        yield None  # opened
        for step in script:
            if isinstance(step, ChangeStreamUnavailable):
                raise step
            yield step
        while True:  # nothing new: an empty getMore now and then, as MongoDB's stream does
            await asyncio.sleep(0.01)
            yield None


class RecordingCache:
    def __init__(self, *, fail_first: int = 0) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_first = fail_first

    async def drop(self, user_id: str, version: int) -> bool:
        self.calls.append((user_id, version))
        return len(self.calls) > self.fail_first


def change(user: str, version: int, token: int) -> VersionChange:
    return VersionChange(user, version, datetime.now(UTC), {"_data": str(token)})


async def settle(condition: Any, timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls state of the object under test, which has no event
            await asyncio.sleep(0.01)


async def test_each_user_is_invalidated_at_the_newest_version_seen() -> None:
    stream = ScriptedStream([change("a", 1, 1), change("a", 2, 2), change("b", 7, 3)])
    cache = RecordingCache()
    invalidator = ChangeStreamInvalidator(stream, cache, retry_s=0.01)
    async with invalidator.running():
        await settle(lambda: len(cache.calls) >= 2)
    assert sorted(cache.calls) == [("a", 2), ("b", 7)]


async def test_what_could_not_reach_redis_is_retried_with_the_newest_version() -> None:
    stream = ScriptedStream([change("a", 1, 1)])
    cache = RecordingCache(fail_first=3)
    invalidator = ChangeStreamInvalidator(stream, cache, retry_s=0.01)
    async with invalidator.running():
        await settle(lambda: len(cache.calls) >= 4)
        assert invalidator.pending == 0
    assert cache.calls == [("a", 1)] * 4


async def test_a_broken_stream_resumes_from_its_last_token_and_a_lost_one_starts_from_now() -> None:
    stream = ScriptedStream(
        [change("a", 1, 1), ChangeStreamUnavailable("network")],
        [change("a", 2, 2), ChangeStreamUnavailable("oplog rolled over", lost=True)],
        [change("a", 3, 3)],
    )
    cache = RecordingCache()
    invalidator = ChangeStreamInvalidator(stream, cache, retry_s=0.01)
    async with invalidator.running():
        await settle(lambda: ("a", 3) in cache.calls)
    assert stream.resumed_after == [None, {"_data": "1"}, None]


async def test_without_a_replica_set_the_stream_stops_and_says_so() -> None:
    stream = ScriptedStream([ChangeStreamUnavailable("not a replica set", permanent=True)])
    invalidator = ChangeStreamInvalidator(stream, RecordingCache(), retry_s=0.01)
    async with invalidator.running():
        await settle(lambda: not invalidator.watching.is_set())
        await asyncio.sleep(0.05)
        assert stream.resumed_after == [None]  # not retried
