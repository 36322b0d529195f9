"""Every key the service writes to Redis is a row of the key table (``infra/redis.py``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.conftest import User
from tests.integration.catalog_support import CatalogClientFactory, FakeTmdb
from watchlist_service.config import Settings
from watchlist_service.infra.redis import KEY_LAYOUTS, layouts_of

pytest_plugins = ["tests.integration.catalog_fixtures"]


async def _relay_position_stored(settings: Settings) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        async with asyncio.timeout(10):
            while True:
                state = await mongo[settings.mongodb_database]["event_relay"].find_one(
                    {"_id": "watchlist:events"}
                )
                if state is not None and state.get("resumeToken"):
                    return
                await asyncio.sleep(0.05)
    finally:
        await mongo.close()


async def test_every_key_in_redis_has_one_row_in_the_key_table(
    catalog_client: CatalogClientFactory,
    fake_tmdb: FakeTmdb,
    tmdb_redis: Redis,
    user: User,
    settings: Settings,
) -> None:
    async with catalog_client() as client:
        # The first relay of a database publishes from where it opened its stream (this app's or the
        # session app's, whichever holds the lease): wait until one has stored that position.
        await _relay_position_stored(settings)
        key = {"Idempotency-Key": uuid.uuid4().hex, **user.headers}
        assert (await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=key)).status_code
        assert (await client.get("/v1/watchlist?type=movie&sort=title.asc", headers=user.headers)).is_success
        assert (await client.get("/v1/watchlist", headers=user.headers)).is_success
        assert (await client.get("/v1/movies?count=5", headers=user.headers)).is_success
        assert (await client.post("/v1/watchlist/events/ticket", headers=user.headers)).status_code == 201
        assert (await client.get("/v1/watchlist/recommendations?count=3", headers=user.headers)).is_success
        async with asyncio.timeout(10):  # the event relay publishes the add to the stream shortly after
            while True:
                if await tmdb_redis.exists("watchlist:events"):
                    break
                await asyncio.sleep(0.05)
        denied = await client.get("/v1/watchlist", headers={"Authorization": "Bearer not-a-token"})
        assert denied.status_code == 401
    # The whole session's Redis: whatever earlier tests wrote is checked too.
    keys = [raw.decode() async for raw in tmdb_redis.scan_iter(count=1_000)]
    unmatched = {k: [row.layout for row in layouts_of(k)] for k in keys if len(layouts_of(k)) != 1}
    assert unmatched == {}
    seen = {row.layout for k in keys for row in layouts_of(k)}
    # Every row but the single-flight lease (deleted as soon as its fetch is stored) was just written.
    assert {row.layout for row in KEY_LAYOUTS} - seen == {"tmdb:{<name>}:lock"}
