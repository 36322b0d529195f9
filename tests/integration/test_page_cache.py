"""docs/design.md §5: the page cache is exact around writes, survives Redis faults, and heals."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User, new_user
from tests.integration.cache_support import page_cache, race_a_reader_against_a_write
from watchlist_dev.processes import start_redis
from watchlist_service.config import Settings
from watchlist_service.watchlist.cache import page_key
from watchlist_service.watchlist.schemas import ListView, SortOrder
from watchlist_service.watchlist.service import RenderedPage, WatchlistService


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def user_keys(redis: Redis, user: User) -> set[str]:
    return {key.decode() async for key in redis.scan_iter(match="{" + user.id + "}:mylist:*")}


async def test_keys_follow_the_documented_layout(
    app_client: httpx.AsyncClient, redis: Redis, user: User
) -> None:
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    await app_client.get("/v1/watchlist", headers=user.headers)
    await app_client.get("/v1/watchlist?page=2&limit=10", headers=user.headers)
    await app_client.get("/v1/watchlist?type=movie&sort=title.asc", headers=user.headers)
    tag = "{" + user.id + "}:mylist"
    assert await user_keys(redis, user) == {
        f"{tag}:1:10",
        f"{tag}:2:10",
        f"{tag}:1:10:movie:title.asc",
        f"{tag}:keys",
        f"{tag}:ver",
    }
    assert 0 < await redis.ttl(f"{tag}:1:10") <= 300


async def test_cached_page_is_served_and_every_real_change_drops_all_pages(
    app_client: httpx.AsyncClient, redis: Redis, user: User
) -> None:
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    first = await app_client.get("/v1/watchlist", headers=user.headers)
    await app_client.get("/v1/watchlist?limit=5", headers=user.headers)
    tag = "{" + user.id + "}:mylist"
    cached = await redis.get(f"{tag}:1:10")
    assert isinstance(cached, bytes)  # the client does not decode responses
    assert cached.split(b"\n", 1)[1] == first.content
    # A hit answers from Redis: prove it by planting a marker in the cached body.
    await redis.set(f"{tag}:1:10", cached.replace(b'"movie:1"', b'"movie:424242"'))
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["items"][0][
        "contentId"
    ] == "movie:424242"

    for change in (
        app_client.patch("/v1/watchlist/movie:1", json={"watched": True}, headers=user.headers),
        app_client.put("/v1/watchlist/movie:1", json={"notes": "n"}, headers=user.headers),
        app_client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers),
        app_client.post("/v1/watchlist/batch", json={"remove": ["movie:2"]}, headers=user.headers),
        app_client.delete("/v1/watchlist/movie:1", headers=user.headers),
    ):
        await app_client.get("/v1/watchlist", headers=user.headers)
        await app_client.get("/v1/watchlist?limit=5", headers=user.headers)
        assert await redis.exists(f"{tag}:1:10", f"{tag}:1:5") == 2
        response = await change
        assert response.status_code < 300, response.text
        assert await redis.exists(f"{tag}:1:10", f"{tag}:1:5") == 0


async def test_no_op_writes_invalidate_nothing(
    app_client: httpx.AsyncClient, redis: Redis, user: User
) -> None:
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1", "notes": "x"}, headers=user.headers)
    await app_client.get("/v1/watchlist", headers=user.headers)
    key = "{" + user.id + "}:mylist:1:10"
    assert await redis.exists(key) == 1
    assert (
        await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    ).status_code == 409
    assert (
        await app_client.patch("/v1/watchlist/movie:1", json={"notes": "x"}, headers=user.headers)
    ).status_code == 200
    assert (await app_client.delete("/v1/watchlist/movie:9", headers=user.headers)).status_code == 404
    batch = await app_client.post(
        "/v1/watchlist/batch", json={"add": ["movie:1"], "remove": ["tv:1"]}, headers=user.headers
    )
    assert batch.json()["existing"] == ["movie:1"]
    assert await redis.exists(key) == 1


async def test_stale_set_race_cannot_store_an_old_page(
    app_client: httpx.AsyncClient, redis: Redis, user: User
) -> None:
    """A reader paused between its database read and its cache fill, while a write is acknowledged, must not
    leave its old page in the cache: the next read shows the write."""
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    old_page, fill_results = await race_a_reader_against_a_write(app_client, user)
    assert [i["contentId"] for i in old_page.json()["items"]] == ["movie:1"]  # read before the write
    assert fill_results == [False]  # ... and refused by the cache
    assert await redis.exists("{" + user.id + "}:mylist:1:10") == 0
    fresh = await app_client.get("/v1/watchlist", headers=user.headers)
    assert [i["contentId"] for i in fresh.json()["items"]] == ["movie:2", "movie:1"]


async def test_cache_disabled_touches_no_page_keys(
    make_client: ClientFactory, redis: Redis, user: User
) -> None:
    async with make_client(cache_enabled=False) as client:
        await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        await client.get("/v1/watchlist", headers=user.headers)
    keys = await user_keys(redis, user)
    assert not any(key.rsplit(":", 2)[-2].isdigit() for key in keys), keys


@pytest.mark.faults
async def test_redis_killed_during_traffic_then_restarted(
    make_client: ClientFactory, tmp_path: Path, settings: Settings
) -> None:
    own_redis = start_redis(tmp_path / "redis")
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    statuses: list[int] = []
    try:
        async with make_client(redis_url=url, breaker_reset_s=0.5) as client:
            user = new_user(settings)
            stop = asyncio.Event()

            async def traffic(worker: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    content_id = f"movie:{worker * 100_000 + n}"
                    for response in (
                        await client.post(
                            "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
                        ),
                        await client.get("/v1/watchlist", headers=user.headers),
                        await client.get(f"/v1/watchlist/{content_id}", headers=user.headers),
                    ):
                        statuses.append(response.status_code)

            workers = [asyncio.create_task(traffic(w)) for w in range(1, 5)]
            await asyncio.sleep(0.5)
            own_redis.kill()
            await asyncio.sleep(1.5)
            assert not any(s >= 500 for s in statuses)
            # Served from MongoDB while Redis is gone, and fresh.
            before = (await client.get("/v1/watchlist", headers=user.headers)).json()["total"]
            await client.post("/v1/watchlist", json={"contentId": "tv:1"}, headers=user.headers)
            assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] >= before + 1

            own_redis = start_redis(tmp_path / "redis", own_redis.port)
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*workers)
            assert statuses.count(201) > 10
            assert not any(s >= 500 for s in statuses), status_counts(statuses)
            print(
                f"\n[reliability] redis SIGKILL: {len(statuses)} requests, statuses {status_counts(statuses)}"
            )

            # The cache heals: pages are stored again, and they are current.
            async with Redis.from_url(url) as check:
                total = (await client.get("/v1/watchlist", headers=user.headers)).json()["total"]
                assert await check.exists("{" + user.id + "}:mylist:1:10") == 1
                await client.post("/v1/watchlist", json={"contentId": "tv:2"}, headers=user.headers)
                assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == total + 1
    finally:
        own_redis.stop()


def status_counts(statuses: list[int]) -> dict[int, int]:
    return {s: statuses.count(s) for s in set(statuses)}


@pytest.fixture
def silent_redis() -> Iterator[tuple[str, list[int]]]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(100)
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    counts: list[int] = []
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0", counts
    finally:
        counts.append(len(accepted))
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.faults
async def test_hung_redis_costs_a_few_timeouts_not_one_per_request(
    make_client: ClientFactory, settings: Settings, silent_redis: tuple[str, list[int]]
) -> None:
    url, _ = silent_redis
    async with make_client(
        redis_url=url, redis_timeout_ms=100, breaker_failures=2, breaker_reset_s=60
    ) as client:
        cache = page_cache(client)
        user = new_user(settings)
        assert (
            await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        ).status_code == 201
        for _ in range(30):
            response = await client.get("/v1/watchlist", headers=user.headers)
            assert response.status_code == 200
            assert response.json()["total"] == 1
        assert not cache._breaker.allows()
        ready = await client.get("/v1/health/ready")
        assert ready.status_code == 200
        assert ready.json()["redis"] == "unavailable"


@pytest.mark.parametrize("encoding", [None, "identity", "br", "gzip"])
async def test_a_cached_page_answered_without_its_handler_is_the_handlers_answer(
    make_client: ClientFactory,
    redis: Redis,
    user: User,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str | None,
) -> None:
    """A page the rate-limit call found in the cache is answered by the guard (edge.Guard), not the handler:
    the same status, headers and body as the handler's, compressed alike, 304 alike."""
    reads: list[int] = []
    original = WatchlistService.page

    async def counted(self: WatchlistService, *args: Any, **kwargs: Any) -> RenderedPage:
        reads.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(WatchlistService, "page", counted)

    def comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
        varying = {"date", "x-request-id", "ratelimit-remaining"}
        return (
            response.status_code,
            {k: v for k, v in response.headers.items() if k not in varying},
            response.content,
        )

    async with make_client(compression_min_bytes=1) as client:  # every answer with a body is compressed
        for n in (1, 2, 3):
            await client.post("/v1/watchlist", json={"contentId": f"movie:{n}"}, headers=user.headers)
        url = "/v1/watchlist?limit=2&sort=title.asc"
        headers = dict(user.headers)
        if encoding is None:  # no Accept-Encoding at all
            client.headers.pop("Accept-Encoding", None)
        else:
            headers["Accept-Encoding"] = encoding
        by_handler = await client.get(url, headers=headers)  # a miss: the handler reads and stores the page
        by_guard = await client.get(url, headers=headers)
        assert reads == [1]
        assert by_handler.status_code == 200
        assert by_handler.headers.get("content-encoding") == (
            None if encoding in (None, "identity") else encoding
        )
        assert by_handler.request.headers.get("accept-encoding") == encoding
        assert comparable(by_guard) == comparable(by_handler)

        etag = by_handler.headers["etag"]
        await redis.delete(page_key(user.id, 1, 2, ListView(sort=SortOrder.TITLE_ASC)))  # a miss again
        conditional = {**headers, "If-None-Match": etag}
        not_modified_by_handler = await client.get(url, headers=conditional)
        not_modified_by_guard = await client.get(url, headers=conditional)
        assert reads == [1, 1]
        assert not_modified_by_handler.status_code == 304
        assert comparable(not_modified_by_guard) == comparable(not_modified_by_handler)

        # Queries the guard does not read itself go to the handler, which validates them as always.
        assert (await client.get("/v1/watchlist?limit=5_0", headers=user.headers)).status_code == 400
        duplicated = await client.get("/v1/watchlist?limit=2&limit=3", headers=user.headers)
        assert (duplicated.status_code, duplicated.json()["limit"]) == (200, 3)  # Litestar takes the last one
        assert reads == [1, 1, 1]  # the 400 was answered before any read
        assert (await client.get(url, headers=headers)).status_code == 200  # still serving
