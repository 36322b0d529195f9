"""Fixtures of the catalog tests: the fake TMDb over real HTTP, the catalog's Redis keys, app factories.

Test modules load them with ``pytest_plugins = ["tests.integration.catalog_fixtures"]`` and import helpers
from ``catalog_support`` (importing this module directly would bypass pytest's assertion rewriting).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, start_server
from tests.integration.catalog_support import (
    FAST_TMDB,
    TMDB_API_KEY,
    TMDB_TOKEN,
    CatalogClientFactory,
    FakeTmdb,
    delete_tmdb_keys,
)
from watchlist_dev.fake_tmdb import make_server
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings


@pytest.fixture(scope="session")
def fake_tmdb() -> Iterator[FakeTmdb]:
    server = make_server("127.0.0.1", 0, api_key=TMDB_API_KEY, bearer_token=TMDB_TOKEN)
    # socketserver listens with a backlog of 5: a burst of new connections would see SYNs dropped and
    # retried a second later, which is the test harness's artefact, not TMDb's behaviour.
    server.socket.listen(256)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake = FakeTmdb(server)
    try:
        yield fake
    finally:
        fake.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def tmdb_redis(settings: Settings, fake_tmdb: FakeTmdb) -> AsyncIterator[Redis]:
    """The session Redis, with no catalog keys and a fake TMDb without faults or counts."""
    client = Redis.from_url(settings.redis_url)
    await delete_tmdb_keys(client)
    fake_tmdb.reset()
    try:
        yield client
    finally:
        fake_tmdb.reset()
        await client.aclose()


@pytest.fixture
def catalog_client(
    make_client: ClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis
) -> CatalogClientFactory:
    """An in-process app pointed at the fake TMDb: ``catalog_client(tmdb_deadline_s=1)``."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        values = {"tmdb_base_url": fake_tmdb.url, "tmdb_token": TMDB_TOKEN, **FAST_TMDB, **overrides}
        return make_client(**values)

    return factory


@pytest.fixture(scope="module")
def catalog_server(
    settings: Settings, fake_tmdb: FakeTmdb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ManagedProcess]:
    """A real ``watchlist-service serve`` on the session's backends, with the fake TMDb as its catalog."""
    server = start_server(
        settings,
        tmp_path_factory.mktemp("catalog-server"),
        WATCHLIST_TMDB_BASE_URL=fake_tmdb.url,
        WATCHLIST_TMDB_TOKEN=TMDB_TOKEN,
    )
    try:
        yield server
    finally:
        server.stop()
