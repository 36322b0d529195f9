"""Two real ``watchlist-service serve`` processes on one Redis share single flight and the TMDb budget."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import TypedDict

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import User, start_server
from tests.integration.catalog_support import TMDB_TOKEN, FakeTmdb
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = pytest.mark.slow

RATE_LIMIT = 20
DEADLINE_S = 3


class CatalogEnv(TypedDict):
    """The environment the catalog servers are started with (``start_server``'s ``**env``)."""

    WATCHLIST_TMDB_BASE_URL: str
    WATCHLIST_TMDB_TOKEN: str
    WATCHLIST_TMDB_RATE_LIMIT_PER_S: str
    WATCHLIST_TMDB_DEADLINE_S: str
    WATCHLIST_TMDB_RATE_MARGIN_MS: str


@pytest.fixture(scope="module")
def catalog_servers(
    settings: Settings, fake_tmdb: FakeTmdb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ManagedProcess]]:
    log_dir = tmp_path_factory.mktemp("catalog-servers")
    env: CatalogEnv = {
        "WATCHLIST_TMDB_BASE_URL": fake_tmdb.url,
        "WATCHLIST_TMDB_TOKEN": TMDB_TOKEN,
        "WATCHLIST_TMDB_RATE_LIMIT_PER_S": str(RATE_LIMIT),
        "WATCHLIST_TMDB_DEADLINE_S": str(DEADLINE_S),
        # The fake counts arrivals in a thread of the test process: a wider margin for its clock's jitter.
        "WATCHLIST_TMDB_RATE_MARGIN_MS": "400",
    }
    servers: list[ManagedProcess] = []
    try:
        servers.append(start_server(settings, log_dir, **env))
        servers.append(start_server(settings, log_dir, **env))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_200_concurrent_cold_requests_across_two_replicas_make_one_upstream_call(
    catalog_servers: list[ManagedProcess], fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    fake_tmdb.set_faults(latency_ms=300)  # every request arrives while the one fetch is under way
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        responses = await asyncio.gather(
            *(
                http.get(f"{catalog_servers[i % 2].url}/v1/movies/550", headers=user.headers)
                for i in range(200)
            )
        )
    assert Counter(r.status_code for r in responses) == {200: 200}
    assert len({r.content for r in responses}) == 1
    assert fake_tmdb.counters()["paths"] == {"/3/movie/550": 1}


async def test_a_burst_across_two_replicas_stays_within_the_shared_rate_limit(
    catalog_servers: list[ManagedProcess], fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    movie_ids = [
        i for _, i in fake_tmdb.ids("/3/discover/movie", sort_by="title.desc", include_adult="false")
    ]
    movie_ids = movie_ids[:150]
    fake_tmdb.reset()
    limits = httpx.Limits(max_connections=200)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        responses = await asyncio.gather(
            *(
                http.get(f"{catalog_servers[i % 2].url}/v1/movies/{movie_id}", headers=user.headers)
                for i, movie_id in enumerate(movie_ids)
            )
        )
    elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 503}, statuses
    assert all(r.json()["code"] == 50003 for r in responses if r.status_code == 503)
    counters = fake_tmdb.counters()
    # One budget for both replicas: each alone would have let RATE_LIMIT per second through.
    assert counters["max_rate_per_second"] <= RATE_LIMIT, counters
    assert statuses[200] >= 2 * RATE_LIMIT
    assert elapsed < DEADLINE_S + 2
