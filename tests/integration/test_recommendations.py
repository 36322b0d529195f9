"""More like my list (docs/design.md §12): TMDb's recommendations of the list's newest titles, merged and
ranked, cached per list version, served stale while TMDb is down; against the fake TMDb over real HTTP."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User, new_user
from tests.integration.catalog_support import FAST_TMDB, TMDB_TOKEN, delete_tmdb_keys
from watchlist_dev.fake_tmdb import FakeTmdbServer, make_server
from watchlist_dev.processes import free_port
from watchlist_service.config import Settings


class StoppableTmdb:
    """The fake TMDb on a fixed port that a test can stop (connections refused) and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: FakeTmdbServer | None = None
        self._thread: threading.Thread | None = None
        self.start()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TMDB_TOKEN}"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, bearer_token=TMDB_TOKEN)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def recommended(self, content_id: str) -> list[str]:
        """The fake's own first page of recommendations for a title, as content ids."""
        kind, tmdb_id = content_id.split(":")
        response = self.http.get(f"/3/{kind}/{tmdb_id}/recommendations")
        response.raise_for_status()
        return [f"{r['media_type']}:{r['id']}" for r in response.json()["results"]]

    def close(self) -> None:
        self.http.close()
        if self._server is not None:
            self.stop()


@pytest.fixture(scope="module")
def tmdb() -> Iterator[StoppableTmdb]:
    fake = StoppableTmdb()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
async def clean_redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await delete_tmdb_keys(client)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def recs_client(make_client: ClientFactory, tmdb: StoppableTmdb, clean_redis: Redis) -> Any:
    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        values = {
            "tmdb_base_url": tmdb.url,
            "tmdb_token": TMDB_TOKEN,
            **FAST_TMDB,
            "tmdb_failure_ttl_s": 0,
            "tmdb_local_cache_s": 0,
            "list_lookup_timeout_s": 0.3,
            **overrides,
        }
        return make_client(**values)

    return factory


async def add(client: httpx.AsyncClient, user: User, content_id: str) -> None:
    response = await client.post("/v1/watchlist", json={"contentId": content_id}, headers=user.headers)
    assert response.status_code == 201, response.text


async def recs(client: httpx.AsyncClient, user: User, count: int = 20) -> httpx.Response:
    return await client.get("/v1/watchlist/recommendations", params={"count": count}, headers=user.headers)


def expected(tmdb: StoppableTmdb, seeds_newest_first: list[str], held: set[str], count: int) -> list[str]:
    """The ranking of §12 computed from the fake's own answers: more votes first, then best position."""
    votes: Counter[str] = Counter()
    best: dict[str, int] = {}
    for seed in seeds_newest_first:
        for position, content_id in enumerate(tmdb.recommended(seed)):
            votes[content_id] += 1
            best[content_id] = min(best.get(content_id, position), position)
    ranked = sorted((c for c in votes if c not in held), key=lambda c: (-votes[c], best[c]))
    return ranked[:count]


async def test_merged_by_multiplicity_without_the_lists_titles(
    recs_client: Any, tmdb: StoppableTmdb, settings: Settings
) -> None:
    """docs/design.md §12: a title recommended for several of the list's titles ranks higher; titles in the
    list never come back; lite objects."""
    user = new_user(settings)
    first = "movie:550"
    related = tmdb.recommended(first)[:2]  # share genres with the first: their lists overlap with its list
    seeds = [first, *related]
    async with recs_client() as client:
        for content_id in seeds:
            await add(client, user, content_id)
        response = await recs(client, user, count=20)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "x-stale" not in response.headers
    assert body["stale"] is False
    assert body["version"] == 3
    assert body["basedOn"] == list(reversed(seeds))
    ids = [r["contentId"] for r in body["results"]]
    assert ids == expected(tmdb, list(reversed(seeds)), set(seeds), 20)
    assert not set(ids) & set(seeds)
    lists = [set(tmdb.recommended(s)) for s in seeds]
    votes = [sum(c in found for found in lists) for c in ids]
    assert votes == sorted(votes, reverse=True)
    assert votes[0] > votes[-1]  # multiplicity did decide something here
    assert set(body["results"][0]) >= {"id", "type", "contentId", "title", "posterPath", "popularity"}


async def test_the_answer_changes_with_the_list_version(
    recs_client: Any, tmdb: StoppableTmdb, settings: Settings
) -> None:
    """docs/design.md §12: cached per list version, so a change of the list changes the answer at once."""
    user = new_user(settings)
    async with recs_client() as client:
        await add(client, user, "movie:13")
        before = (await recs(client, user, count=5)).json()
        again = (await recs(client, user, count=5)).json()
        assert again == before
        newcomer = before["results"][0]["contentId"]
        await add(client, user, newcomer)  # the top recommendation is now in the list
        after = (await recs(client, user, count=5)).json()
        removed = await client.delete(f"/v1/watchlist/{newcomer}", headers=user.headers)
        assert removed.status_code == 204
        last = (await recs(client, user, count=5)).json()
    assert (before["version"], after["version"], last["version"]) == (1, 2, 3)
    assert newcomer not in [r["contentId"] for r in after["results"]]
    assert after["basedOn"] == [newcomer, "movie:13"]
    assert [r["contentId"] for r in after["results"]] == expected(
        tmdb, after["basedOn"], set(after["basedOn"]), 5
    )
    assert last["results"] == before["results"]


async def test_served_stale_while_tmdb_is_down_then_fresh_again(
    recs_client: Any, tmdb: StoppableTmdb, settings: Settings
) -> None:
    """docs/design.md §12: TMDb down: the last good answer, flagged stale (body and header); TMDb back: a
    fresh answer for the list as it is now."""
    user = new_user(settings)
    async with recs_client() as client:
        await add(client, user, "movie:155")
        good = (await recs(client, user, count=10)).json()
        tmdb.stop()
        try:
            await add(
                client, user, "movie:680"
            )  # accepted, metadata pending; its recommendations are not cached
            stale = await recs(client, user, count=10)
        finally:
            tmdb.start()
        fresh = await recs(client, user, count=10)
    assert stale.status_code == 200, stale.text
    assert stale.headers.get("x-stale") == "true", stale.json()
    assert stale.json()["stale"] is True
    assert stale.json()["results"] == good["results"]
    assert stale.json()["version"] == 1
    assert fresh.status_code == 200
    assert "x-stale" not in fresh.headers
    assert fresh.json()["stale"] is False
    assert fresh.json()["version"] == 2
    assert fresh.json()["basedOn"] == ["movie:680", "movie:155"]


async def test_503_with_retry_after_when_tmdb_is_down_and_nothing_was_cached(
    recs_client: Any, tmdb: StoppableTmdb, settings: Settings
) -> None:
    """docs/design.md §12 and §4: no answer to fall back on: 503 ``catalog-unavailable`` with Retry-After;
    TMDb back: 200."""
    user = new_user(settings)
    async with recs_client() as client:
        tmdb.stop()
        try:
            await add(client, user, "movie:278")
            refused = await recs(client, user)
            served = await client.get("/v1/watchlist", headers=user.headers)
        finally:
            tmdb.start()
        ok = await recs(client, user)
    assert refused.status_code == 503
    assert refused.json()["code"] == 50003
    assert int(refused.headers["retry-after"]) >= 1
    assert served.status_code == 200
    assert ok.status_code == 200
    assert ok.json()["results"]


async def test_an_empty_list_has_no_recommendations(recs_client: Any, settings: Settings) -> None:
    """docs/design.md §12: nothing to go by: an empty answer, without calling TMDb."""
    user = new_user(settings)
    async with recs_client() as client:
        response = await recs(client, user)
    assert response.status_code == 200
    assert response.json() == {"results": [], "basedOn": [], "version": 0, "stale": False}
