"""Redis is never worse than no Redis (docs/design.md §5): real server processes, a real Redis, and a TCP
proxy (faulty) between one replica and Redis that delays or swallows its traffic.

Every check reads right after a write was acknowledged and counts a page that does not show the write as a
stale read.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from faulty.core import FaultyProxy
from faulty.middlewares import DropMiddleware, LatencyMiddleware
from redis.asyncio import Redis

from tests.conftest import ClientFactory, new_user, start_server
from tests.integration.cache_support import page_cache
from watchlist_dev.processes import ManagedProcess, free_port, start_redis
from watchlist_service.config import Settings

pytestmark = [pytest.mark.faults, pytest.mark.slow]


class ClosingProxy(FaultyProxy):  # type: ignore[misc]
    """faulty's proxy, with a connection handler that closes both ends of every connection it relayed
    (faulty's own leaves some to the garbage collector when the target goes away)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.open: set[asyncio.StreamWriter] = set()

    async def _handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ends = [writer]
        self.open.add(writer)
        try:
            target_reader, target_writer = await asyncio.open_connection(self.target_host, self.target_port)
            ends.append(target_writer)
            self.open.add(target_writer)
            pipes = [
                asyncio.create_task(self._pipe(reader, target_writer, self.egress_pipeline, "UPLOAD")),
                asyncio.create_task(self._pipe(target_reader, writer, self.ingress_pipeline, "DOWNLOAD")),
            ]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except OSError:
            pass  # the target is down (a Redis restart): the client sees its connection closed
        finally:
            for end in ends:
                end.close()
                self.open.discard(end)

    async def stop(self) -> None:
        await super().stop()
        for writer in list(self.open):
            writer.close()
        await asyncio.sleep(0.05)  # the handlers see their ends and return


@dataclass
class RedisLink:
    """A Redis of the test's own, and a proxy to it whose traffic can be delayed or swallowed."""

    redis: ManagedProcess
    proxy: FaultyProxy
    data_dir: Path

    @property
    def direct_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"

    @property
    def proxied_url(self) -> str:
        return f"redis://127.0.0.1:{self.proxy.listen_port}/0"

    def cut(self) -> None:
        """Swallow everything both ways: connections stay open, nothing arrives (a partition)."""
        self.proxy.add_egress_rule(DropMiddleware(1.0))
        self.proxy.add_ingress_rule(DropMiddleware(1.0))

    def slow(self, round_trip_ms: float) -> None:
        self.proxy.add_egress_rule(LatencyMiddleware(round_trip_ms / 2))
        self.proxy.add_ingress_rule(LatencyMiddleware(round_trip_ms / 2))

    def heal(self) -> None:
        self.proxy.clear_all_rules()

    def restart_empty(self) -> None:
        self.redis.kill()
        self.redis = start_redis(self.data_dir, self.redis.port)


@pytest.fixture
async def link(tmp_path: Path) -> AsyncIterator[RedisLink]:
    redis = start_redis(tmp_path / "redis")
    proxy = ClosingProxy("127.0.0.1", free_port(), "127.0.0.1", redis.port)
    async with proxy:
        found = RedisLink(redis, proxy, tmp_path / "redis")
        try:
            yield found
        finally:
            found.redis.stop()


@pytest.fixture
def replicas(link: RedisLink, settings: Settings, tmp_path: Path) -> Iterator[list[ManagedProcess]]:
    """Replica A reaches Redis through the proxy, replica B directly."""
    servers = [
        start_server(settings, tmp_path, WATCHLIST_REDIS_URL=url, WATCHLIST_BREAKER_RESET_S="0.5")
        for url in (link.proxied_url, link.direct_url)
    ]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@dataclass
class Checks:
    """Writes and the reads that check them."""

    statuses: Counter[int] = field(default_factory=Counter)
    reads: int = 0
    stale: list[str] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


async def write_then_read(
    servers: list[ManagedProcess], settings: Settings, checks: Checks, stop: asyncio.Event, worker: int
) -> None:
    """Add a title through one replica, then read the first page through both: it must show the title."""
    user = new_user(settings)
    async with httpx.AsyncClient(timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            content_id = f"movie:{worker * 1_000_000 + n}"
            writer = servers[n % len(servers)]
            started = time.perf_counter()
            added = await client.post(
                writer.url + "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
            )
            checks.write_ms.append((time.perf_counter() - started) * 1000)
            checks.statuses[added.status_code] += 1
            if added.status_code != 201:
                continue
            for reader in (servers[(n + 1) % len(servers)], writer):
                started = time.perf_counter()
                page = await client.get(reader.url + "/v1/watchlist?limit=1", headers=user.headers)
                checks.read_ms.append((time.perf_counter() - started) * 1000)
                checks.statuses[page.status_code] += 1
                if page.status_code != 200:
                    continue
                checks.reads += 1
                newest = page.json()["items"][0]["contentId"]
                if newest != content_id:
                    checks.stale.append(
                        f"{reader.url} (written through {writer.url}) served {newest} after {content_id} was "
                        f"acknowledged, {time.monotonic() - checks.started:.2f} s in"
                    )


@asynccontextmanager
async def checking(
    servers: list[ManagedProcess], settings: Settings, workers: int = 6
) -> AsyncIterator[Checks]:
    checks, stop = Checks(), asyncio.Event()
    tasks = [asyncio.create_task(write_then_read(servers, settings, checks, stop, w)) for w in range(workers)]
    try:
        yield checks
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def still_serving(servers: list[ManagedProcess], settings: Settings) -> None:
    user = new_user(settings)
    async with httpx.AsyncClient(timeout=10) as client:
        for server in servers:
            added = await client.post(
                server.url + "/v1/watchlist", json={"contentId": "tv:1"}, headers=user.headers
            )
            assert added.status_code in (201, 409)
            assert (await client.get(server.url + "/v1/health/ready")).status_code == 200


async def test_no_stale_read_across_two_replicas_when_redis_restarts_empty_is_flushed_or_is_cut_from_one(
    link: RedisLink, replicas: list[ManagedProcess], settings: Settings
) -> None:
    async with checking(replicas, settings) as checks:
        await asyncio.sleep(1.5)
        print(f"\nA: {replicas[0].url} (through the proxy), B: {replicas[1].url}")
        link.restart_empty()
        await asyncio.sleep(2.0)
        async with Redis.from_url(link.direct_url) as direct:
            await direct.flushall()
        print(f"flushed, {time.monotonic() - checks.started:.2f} s in")
        await asyncio.sleep(1.5)
        print(f"cut, {time.monotonic() - checks.started:.2f} s in")
        link.cut()  # replica A cannot reach Redis; B can
        await asyncio.sleep(3.0)
        link.heal()
        await asyncio.sleep(2.0)
    print(
        f"\n[redis faults] restart, flush, 3 s cut of one replica: {checks.reads} checked reads, "
        f"{len(checks.stale)} stale, statuses {dict(checks.statuses)}; "
        f"write p50 {percentile(checks.write_ms, 50):.1f} ms, p99 {percentile(checks.write_ms, 99):.1f} ms"
    )
    async with httpx.AsyncClient() as client:
        for server in replicas:
            metrics = (await client.get(server.url + "/metrics")).text
            counts = [
                line for line in metrics.splitlines() if line.startswith("watchlist_invalidator_events_total")
            ]
            print(server.url, counts)
    assert checks.reads >= 500, checks.statuses
    assert not checks.stale, checks.stale[:5]
    assert set(checks.statuses) <= {200, 201}, checks.statuses
    await still_serving(replicas, settings)


async def test_a_slow_redis_costs_a_request_at_most_its_budget(
    link: RedisLink, replicas: list[ManagedProcess], settings: Settings
) -> None:
    """300 ms round trips to Redis from replica A (under its 500 ms socket timeout): reads and writes go on
    without Redis after the 50 ms budget, and the slow-call rate soon stops them paying even that."""
    proxied = replicas[:1]
    async with checking(proxied, settings, workers=2):
        await asyncio.sleep(1.0)  # warm: pages cached
    link.slow(300)
    async with checking(proxied, settings, workers=4) as checks:
        await asyncio.sleep(6.0)
    link.heal()
    read_p50, read_p99 = percentile(checks.read_ms, 50), percentile(checks.read_ms, 99)
    write_p50, write_p99 = percentile(checks.write_ms, 50), percentile(checks.write_ms, 99)
    print(
        f"\n[redis faults] 300 ms Redis: {checks.reads} reads p50 {read_p50:.1f} ms p99 {read_p99:.1f} ms; "
        f"{len(checks.write_ms)} writes p50 {write_p50:.1f} ms p99 {write_p99:.1f} ms; "
        f"{dict(checks.statuses)}"
    )
    assert checks.reads >= 50
    assert not checks.stale, checks.stale[:5]
    assert set(checks.statuses) <= {200, 201}
    # No request waited for the 300 ms Redis: the slowest ones waited for the budget.
    assert read_p50 < 300
    assert write_p50 < 300
    await still_serving(replicas, settings)


async def test_the_change_stream_invalidates_a_write_its_writer_could_not(
    make_client: ClientFactory, settings: Settings
) -> None:
    """A writer whose invalidation never reaches Redis: the change stream (this replica's own, here) drops the
    old page within a fraction of a second. Without the backstop the old page stays, so this can fail."""
    for backstop in (True, False):
        # A database of its own: the other apps of the suite tail the shared one, and would invalidate too.
        async with make_client(cache_change_stream=backstop, mongodb_database="watchlist_backstop") as client:
            cache = page_cache(client)
            user = new_user(settings)
            await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
            assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 1  # cached

            async def lost(user_id: str, version: int) -> bool:
                return False

            cache.invalidate = lost  # type: ignore[method-assign]
            added = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
            assert added.status_code == 201
            started = time.perf_counter()
            total = 1
            while total == 1 and time.perf_counter() - started < 1.0:
                total = (await client.get("/v1/watchlist", headers=user.headers)).json()["total"]
            waited_ms = (time.perf_counter() - started) * 1000
            if backstop:
                assert total == 2, "the change stream did not invalidate the page within 1 s"
                print(f"\n[redis faults] change-stream invalidation seen after {waited_ms:.1f} ms")
            else:
                assert total == 1  # the old page is still served: the backstop is what made the difference
            assert (await client.get("/v1/health/live")).status_code == 200
