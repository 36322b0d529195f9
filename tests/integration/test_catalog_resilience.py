"""The catalog when TMDb misbehaves, under bursts, and without Redis: all against the fake over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import User
from tests.integration.catalog_support import CatalogClientFactory, FakeTmdb, catalog_service
from watchlist_dev.processes import ManagedProcess, free_port, start_redis
from watchlist_service.catalog.cache import Entry

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = pytest.mark.faults

# Each fault as the fake's admin API spells it; "hang" stalls a request far longer than our deadline.
FAULTS: dict[str, dict[str, Any]] = {
    "500": {"mode": "status", "status": 500},
    "503": {"mode": "status", "status": 503},
    "429": {"mode": "status", "status": 429},
    "429-retry-after": {"mode": "status", "status": 429, "retry_after": 1},
    "garbage-json": {"mode": "garbage"},
    "dropped-connection": {"mode": "drop"},
    "hang": {"mode": "hang", "latency_ms": 10_000},
}


def assert_catalog_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == 50003
    assert body["type"].endswith("/catalog-unavailable")
    assert int(response.headers["retry-after"]) >= 1


async def make_stale(redis: Redis, name: str) -> None:
    """Age a cached answer past its freshness (as if its TTL had run out), keeping it in Redis."""
    key = "tmdb:{" + name + "}"
    raw = await redis.get(key)
    assert isinstance(raw, bytes), key  # present, and not decoded by the client
    entry = Entry.decode(raw)
    assert entry is not None
    await redis.set(key, Entry(entry.status, int(time.time() * 1000) - 1, entry.body).encode(), keepttl=True)


async def wait_until(predicate: Any, timeout_s: float = 5.0) -> None:
    """Poll an async predicate (for background work that has no event to wait on from outside)."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- TMDb faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_tmdb_faults_stale_is_served_uncached_is_503_in_time_then_recovery(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User, fault: str
) -> None:
    deadline_s = 1.5
    async with catalog_client(tmdb_deadline_s=deadline_s, tmdb_local_cache_s=0) as client:
        cached = await client.get("/v1/movies/550", headers=user.headers)
        page = await client.get("/v1/movies", params={"count": 5}, headers=user.headers)
        assert cached.status_code == page.status_code == 200
        await make_stale(tmdb_redis, "movie:550")
        await make_stale(tmdb_redis, "discover:movie:popularity.desc:1")

        fake_tmdb.set_faults(**FAULTS[fault])
        started = time.monotonic()
        stale = await client.get("/v1/movies/550", headers=user.headers)
        stale_page = await client.get("/v1/movies", params={"count": 5}, headers=user.headers)
        assert time.monotonic() - started < 1.0  # served at once, not after waiting for TMDb
        assert stale.status_code == stale_page.status_code == 200
        assert stale.json() == cached.json()
        assert stale_page.json() == page.json()

        started = time.monotonic()
        uncached = await client.get("/v1/movies/13", headers=user.headers)
        elapsed = time.monotonic() - started
        assert_catalog_unavailable(uncached)
        assert elapsed < deadline_s + 1.0  # within the configured deadline (a generous upper bound)
        uncached_page = await client.get(
            "/v1/movies", params={"count": 5, "sort": "title.asc"}, headers=user.headers
        )
        assert_catalog_unavailable(uncached_page)

        fake_tmdb.clear_faults()
        later = await client.get("/v1/movies/680", headers=user.headers)  # the process keeps serving
        assert later.status_code == 200, later.text
        assert later.json()["id"] == 680

        # Served stale, the answer is refreshed in the background once TMDb answers again (after the
        # short window in which the failed refresh is remembered).
        async def refreshed() -> bool:
            assert (await client.get("/v1/movies/550", headers=user.headers)).status_code == 200
            raw = await tmdb_redis.get("tmdb:{movie:550}")
            assert not isinstance(raw, str)  # the client does not decode responses
            entry = Entry.decode(raw) if raw else None
            return entry is not None and entry.fresh

        await wait_until(refreshed)


async def test_transient_failures_are_retried_with_backoff(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(tmdb_max_retries=3) as client:
        fake_tmdb.set_faults(mode="status", status=502, count=2)
        response = await client.get("/v1/movies/550", headers=user.headers)
        assert response.status_code == 200
        assert fake_tmdb.calls("/3/movie/550") == 3

        fake_tmdb.set_faults(mode="drop", count=1)
        assert (await client.get("/v1/tv/1396", headers=user.headers)).status_code == 200
        assert fake_tmdb.calls("/3/tv/1396") == 2

        fake_tmdb.set_faults(mode="garbage", count=1)
        assert (await client.get("/v1/movies/13", headers=user.headers)).status_code == 200
        assert fake_tmdb.calls("/3/movie/13") == 2


async def test_retry_after_is_honoured(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(tmdb_deadline_s=3.0) as client:
        fake_tmdb.set_faults(mode="status", status=429, retry_after=1, count=1)
        started = time.monotonic()
        response = await client.get("/v1/movies/550", headers=user.headers)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert fake_tmdb.calls("/3/movie/550") == 2
    assert 0.9 <= elapsed < 2.5


async def test_a_retry_after_beyond_the_deadline_is_passed_on_at_once(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(tmdb_deadline_s=2.0) as client:
        fake_tmdb.set_faults(mode="status", status=503, retry_after=30)
        started = time.monotonic()
        response = await client.get("/v1/movies/550", headers=user.headers)
        elapsed = time.monotonic() - started
    assert_catalog_unavailable(response)
    assert response.headers["retry-after"] == "30"
    assert elapsed < 1.0
    assert fake_tmdb.calls("/3/movie/550") == 1


async def test_the_breaker_opens_fails_fast_and_closes_again(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(
        tmdb_breaker_failures=3, tmdb_breaker_reset_s=0.5, tmdb_max_retries=1
    ) as client:
        fake_tmdb.set_faults(mode="status", status=500)
        for movie_id in (11, 12):
            assert_catalog_unavailable(await client.get(f"/v1/movies/{movie_id}", headers=user.headers))
        calls = fake_tmdb.counters()["total"]
        assert calls == 3  # the third failure opened the breaker; the fourth attempt was never sent

        started = time.monotonic()
        for movie_id in range(20, 40):
            assert_catalog_unavailable(await client.get(f"/v1/movies/{movie_id}", headers=user.headers))
        assert time.monotonic() - started < 1.5  # waiting on TMDb, 20 requests would take 20 deadlines
        assert fake_tmdb.counters()["total"] == calls  # open: TMDb is left alone

        fake_tmdb.clear_faults()
        tmdb_client = catalog_service(client)._client
        assert tmdb_client is not None
        breaker = tmdb_client.breaker

        async def closed_and_serving() -> bool:
            return (await client.get("/v1/movies/550", headers=user.headers)).status_code == 200

        await wait_until(closed_and_serving, timeout_s=3.0)
        assert breaker.allows()


# --- single flight -----------------------------------------------------------------------------------


async def test_200_concurrent_cold_requests_make_one_upstream_call(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(tmdb_local_cache_s=0) as client:
        # Slow answers, so every request arrives while the first fetch is still under way.
        fake_tmdb.set_faults(latency_ms=300)
        responses = await asyncio.gather(
            *(client.get("/v1/movies/550", headers=user.headers) for _ in range(200))
        )
        pages = await asyncio.gather(
            *(client.get("/v1/tv", params={"count": 30}, headers=user.headers) for _ in range(100))
        )
    assert Counter(r.status_code for r in responses) == {200: 200}
    assert len({r.content for r in responses}) == 1
    assert Counter(r.status_code for r in pages) == {200: 100}
    assert fake_tmdb.counters()["paths"] == {"/3/movie/550": 1, "/3/discover/tv": 2}


async def test_a_failed_fetch_fails_every_waiter_at_once_and_is_not_repeated(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(tmdb_max_retries=0, tmdb_failure_ttl_s=5) as client:
        fake_tmdb.set_faults(mode="status", status=500, latency_ms=200)
        responses = await asyncio.gather(
            *(client.get("/v1/movies/550", headers=user.headers) for _ in range(50))
        )
        for response in responses:
            assert_catalog_unavailable(response)
        fake_tmdb.clear_faults()
        # Within the failure window the answer is 503 at once, for this key only.
        assert_catalog_unavailable(await client.get("/v1/movies/550", headers=user.headers))
        assert (await client.get("/v1/movies/13", headers=user.headers)).status_code == 200
    assert fake_tmdb.calls("/3/movie/550") == 1


# --- the outbound rate limit -------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_burst_of_distinct_cold_requests_never_exceeds_the_rate_limit(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    limit = 20
    movie_ids = [
        i for _, i in fake_tmdb.ids("/3/discover/movie", sort_by="title.asc", include_adult="false")
    ][:150]
    fake_tmdb.reset()
    # The fake measures arrivals in a thread of this test process, where the app runs too: its clock lags
    # by the GIL's jitter under load, so the margin covers more than TMDb's own edge would need.
    async with catalog_client(
        tmdb_rate_limit_per_s=limit, tmdb_deadline_s=3.0, tmdb_rate_margin_ms=400
    ) as client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get(f"/v1/movies/{movie_id}", headers=user.headers) for movie_id in movie_ids)
        )
        elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert_catalog_unavailable(response)
    counters = fake_tmdb.counters()
    assert counters["max_rate_per_second"] <= limit, counters
    # The limiter waits for slots rather than failing: about limit x deadline answers get through.
    assert statuses[200] >= 2 * limit
    # Every TMDb call became a 200, but for calls still in flight when the deadline abandoned their request
    # (under load, a call sent just before it: at most one second's slots).
    assert 0 <= counters["total"] - statuses[200] <= limit, (counters, statuses)
    assert elapsed < 3.0 + 1.0


# --- Redis down ----------------------------------------------------------------------------------------


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


async def test_without_redis_the_catalog_still_answers(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User, dead_redis_url: str
) -> None:
    async with catalog_client(redis_url=dead_redis_url, tmdb_local_cache_s=0) as client:
        fake_tmdb.set_faults(latency_ms=200)
        responses = await asyncio.gather(
            *(client.get("/v1/movies/550", headers=user.headers) for _ in range(50))
        )
        assert Counter(r.status_code for r in responses) == {200: 50}
        fake_tmdb.clear_faults()
        page = await client.get("/v1/movies", params={"count": 25}, headers=user.headers)
        assert page.status_code == 200
        assert len(page.json()["results"]) == 25
        search = await client.get("/v1/search", params={"query": "star"}, headers=user.headers)
        assert search.status_code == 200
        assert (await client.get("/v1/movies/999999999", headers=user.headers)).json()["code"] == 10001
    # Without Redis, single flight still holds within the process.
    assert fake_tmdb.calls("/3/movie/550") == 1


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[ManagedProcess]:
    process = start_redis(tmp_path / "redis")
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.faults
async def test_redis_killed_then_restarted(
    catalog_client: CatalogClientFactory,
    fake_tmdb: FakeTmdb,
    user: User,
    own_redis: ManagedProcess,
    tmp_path: Path,
) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    async with catalog_client(redis_url=url, tmdb_local_cache_s=0, breaker_reset_s=0.2) as client:
        assert (await client.get("/v1/movies/550", headers=user.headers)).status_code == 200
        own_redis.kill()
        for movie_id in (550, 13, 680):
            response = await client.get(f"/v1/movies/{movie_id}", headers=user.headers)
            assert response.status_code == 200, response.text
        assert (await client.get("/v1/movies", params={"count": 3}, headers=user.headers)).status_code == 200
        restarted = start_redis(tmp_path / "redis", own_redis.port)
        try:
            redis = Redis.from_url(url)

            async def cached_again() -> bool:
                await client.get("/v1/tv/1396", headers=user.headers)
                return bool(await redis.exists("tmdb:{tv:1396}"))

            await wait_until(cached_again)
            await redis.aclose()
        finally:
            restarted.stop()
