"""Adds look titles up in TMDb (the fake, over HTTP): unknown → 422; TMDb down → 201 pending, filled later."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import User
from tests.integration.catalog_support import CatalogClientFactory, FakeTmdb

pytest_plugins = ["tests.integration.catalog_fixtures"]


async def wait_until_filled(client: httpx.AsyncClient, user: User, content_id: str) -> dict[str, object]:
    for _ in range(200):
        item: dict[str, object] = (
            await client.get(f"/v1/watchlist/{content_id}", headers=user.headers)
        ).json()
        if not item["metadataPending"]:
            return item
        await asyncio.sleep(0.05)
    raise AssertionError(f"{content_id} still pending: {item}")


async def wait_for_page(
    client: httpx.AsyncClient, user: User, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(200):
        page: dict[str, Any] = (await client.get("/v1/watchlist", headers=user.headers)).json()
        if condition(page):
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"page never matched: {page}")


async def test_add_stores_lite_metadata(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    expected = fake_tmdb.get("/3/movie/550")
    async with catalog_client() as client:
        response = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
        assert response.status_code == 201
        item = response.json()
        assert item["title"] == expected["title"]
        assert item["releaseDate"] == expected["release_date"]
        assert item["posterPath"] == expected["poster_path"]
        assert item["metadataPending"] is False
        tv = await client.post("/v1/watchlist", json={"contentId": "tv:1396"}, headers=user.headers)
        assert tv.json()["title"] == fake_tmdb.get("/3/tv/1396")["name"]
        by_title = (await client.get("/v1/watchlist?sort=title.asc", headers=user.headers)).json()
        titles = [i["title"] for i in by_title["items"]]
        assert titles == sorted(titles)


async def test_unknown_title_is_422_and_nothing_is_stored(
    catalog_client: CatalogClientFactory, user: User
) -> None:
    async with catalog_client() as client:
        for content_id in ("movie:999999999", "tv:999999999"):
            response = await client.post(
                "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
            )
            assert response.status_code == 422
            assert response.json()["code"] == 40004
        page = (await client.get("/v1/watchlist", headers=user.headers)).json()
        assert page["total"] == 0
        assert page["version"] == 0
        batch = await client.post(
            "/v1/watchlist/batch",
            json={"add": ["movie:550", "movie:999999999", "nope"]},
            headers=user.headers,
        )
        assert batch.json()["added"] == ["movie:550"]
        assert batch.json()["unknown"] == ["movie:999999999"]
        assert batch.json()["invalid"] == ["nope"]


@pytest.mark.parametrize("fault", [{"mode": "status", "status": 500}, {"mode": "drop"}, {"mode": "garbage"}])
async def test_add_while_tmdb_is_down_is_pending_then_filled_on_read(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User, fault: dict[str, object]
) -> None:
    expected = fake_tmdb.get("/3/movie/603")
    async with catalog_client(metadata_sweep_interval_s=3600) as client:
        fake_tmdb.set_faults(**fault)
        response = await client.post("/v1/watchlist", json={"contentId": "movie:603"}, headers=user.headers)
        assert response.status_code == 201, response.text
        assert response.json()["metadataPending"] is True
        assert response.json()["title"] is None
        fake_tmdb.clear_faults()
        # A page read notices the pending title and fills it in the background.
        await client.get("/v1/watchlist", headers=user.headers)
        item = await wait_until_filled(client, user, "movie:603")
        assert item["title"] == expected["title"]
        # The fill writes MongoDB, then drops the cached pages: a page read may briefly precede the drop
        # (the fill is nobody's acknowledged write), but it must follow within moments.
        page = await wait_for_page(client, user, lambda p: p["version"] == 2)
        assert page["items"][0]["title"] == expected["title"]  # the cached page was invalidated
        changes = (await client.get("/v1/watchlist/changes?since=1", headers=user.headers)).json()
        assert changes["changes"][0]["op"] == "updated"


async def test_add_while_tmdb_hangs_answers_within_the_lookup_timeout(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(list_lookup_timeout_s=0.3, metadata_sweep_interval_s=3600) as client:
        fake_tmdb.set_faults(mode="hang", latency_ms=3000)
        started = asyncio.get_running_loop().time()
        response = await client.post("/v1/watchlist", json={"contentId": "movie:13"}, headers=user.headers)
        assert response.status_code == 201
        assert response.json()["metadataPending"] is True
        assert asyncio.get_running_loop().time() - started < 2.5
        fake_tmdb.clear_faults()


async def test_the_sweeper_fills_pending_titles_without_any_read(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client(metadata_sweep_interval_s=0.2) as client:
        fake_tmdb.set_faults(mode="status", status=503)
        response = await client.post("/v1/watchlist", json={"contentId": "tv:1399"}, headers=user.headers)
        assert response.json()["metadataPending"] is True
        fake_tmdb.clear_faults()
        item = await wait_until_filled(client, user, "tv:1399")
        assert item["title"] == fake_tmdb.get("/3/tv/1399")["name"]
