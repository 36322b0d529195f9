"""The typed client (clients/python) against a real ``watchlist-service serve`` over real HTTP, as another
service uses it: a service token acting for a user (docs/design.md §1), adds under Idempotency-Keys and a
batch (§8), a list read page after page by its ``Link`` headers (§3), a partial update, problems as
``WatchlistError`` with their codes (§4), and a rate-limited burst that the client rides out by waiting for
``Retry-After`` (§8)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server
from tests.integration.catalog_support import FakeTmdb
from watchlist_client.api.catalog import list_movies
from watchlist_client.models import CatalogPage
from watchlist_client.service import RetryPolicy, WatchlistError, WatchlistService
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_READ_ANY, SCOPE_WRITE_ANY, mint_token

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = pytest.mark.slow


class Recording(httpx.AsyncBaseTransport):
    """The real HTTP transport, keeping the requests it sent (to read their headers)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _service_token(settings: Settings) -> str:
    return mint_token(
        settings, f"recommendations-{uuid.uuid4().hex[:6]}", scopes=[SCOPE_READ_ANY, SCOPE_WRITE_ANY]
    )


async def test_a_service_adds_pages_updates_and_batches_a_users_list(
    catalog_server: ManagedProcess, settings: Settings
) -> None:
    user = f"client-{uuid.uuid4().hex[:8]}"
    wire = Recording()
    async with WatchlistService(catalog_server.url, _service_token(settings), transport=wire) as service:
        # The generated operations are there too: titles to add, from the catalog (the fake TMDb).
        movies = await list_movies.asyncio(client=service.client, count=30)
        assert isinstance(movies, CatalogPage)
        titles = [movie.content_id for movie in movies.results]
        assert len(titles) == 30

        for content_id in titles[:23]:
            item = await service.add(user, content_id)
            assert item.content_id == content_id
        adds = [
            r for r in wire.requests if r.method == "POST" and r.url.path == f"/v1/users/{user}/watchlist"
        ]
        keys = [request.headers["idempotency-key"] for request in adds]
        assert len(adds) == 23
        assert len(set(keys)) == 23  # one key per add

        with pytest.raises(WatchlistError) as raised:
            await service.add(user, titles[0])
        assert (raised.value.status, raised.value.code, raised.value.slug) == (409, 40001, "already-in-list")
        assert raised.value.body["item"]["contentId"] == titles[0]

        # Three pages of ten, followed by their Link headers: newest first, each title once.
        before = len(wire.requests)
        seen = [item.content_id async for item in service.items(user, limit=10)]
        assert seen == titles[:23][::-1]
        assert len(wire.requests) - before == 3

        version = (await service.page(user)).version
        with pytest.raises(WatchlistError) as stale:
            await service.update(user, titles[0], watched=True, if_version=version - 1)
        assert (stale.value.status, stale.value.code) == (412, 60008)  # design §10: nothing changed
        updated = await service.update(
            user, titles[0], watched=True, rating=8, notes="for the team", if_version=version
        )
        assert (updated.watched, updated.rating, updated.notes) == (True, 8, "for the team")
        cleared = await service.update(user, titles[0], notes=None)
        assert (cleared.watched, cleared.rating, cleared.notes) == (True, 8, None)
        assert (await service.get(user, titles[0])).rating == 8

        result = await service.batch(user, add=[titles[23], titles[1], "movie:0"], remove=[titles[2], "tv:1"])
        assert result.added == [titles[23]]
        assert result.existing == [titles[1]]
        assert result.invalid == ["movie:0"]
        assert result.removed == [titles[2]]
        assert result.not_found == ["tv:1"]
        batch = next(r for r in wire.requests if r.url.path.endswith("/batch"))
        uuid.UUID(batch.headers["idempotency-key"], version=4)

        await service.remove(user, titles[3])
        with pytest.raises(WatchlistError) as gone:
            await service.get(user, titles[3])
        assert (gone.value.status, gone.value.code) == (404, 40002)

        stats = await service.stats(user)
        assert stats.total == 22  # 23 added, one by the batch, two removed
        assert stats.watched == 1
        assert await service.contains(user, [titles[0], titles[3]]) == {titles[0]: True, titles[3]: False}
        assert service.transport.retries == 0
        assert {r.headers["authorization"] for r in wire.requests} == {f"Bearer {service.client.token}"}


async def test_an_end_user_token_cannot_act_for_another_user(
    catalog_server: ManagedProcess, settings: Settings
) -> None:
    """docs/design.md §1: without the scopes, another user's list is 403 (and the caller's own one works)."""
    own = f"client-{uuid.uuid4().hex[:8]}"
    async with WatchlistService(catalog_server.url, mint_token(settings, own)) as service:
        with pytest.raises(WatchlistError) as raised:
            await service.stats("someone-else")
        assert (raised.value.status, raised.value.code) == (403, 30002)
        assert (await service.stats(own)).total == 0


async def test_a_rate_limited_burst_waits_for_retry_after(
    settings: Settings, fake_tmdb: FakeTmdb, tmp_path: Path
) -> None:
    """docs/design.md §8: a 429 says when to come back; the client waits that long (bounded) and goes on."""
    server = start_server(settings, tmp_path, WATCHLIST_RATE_LIMIT_SERVICE="4/second")
    try:
        user = f"client-{uuid.uuid4().hex[:8]}"
        policy = RetryPolicy(max_retries=3, max_wait_s=2)
        async with WatchlistService(server.url, _service_token(settings), retry=policy) as service:
            for _ in range(10):
                assert (await service.stats(user)).total == 0
            assert service.transport.retries >= 1
    finally:
        server.stop()
