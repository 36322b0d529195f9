"""The list endpoints of docs/design.md §3, in-process over ASGI against the real mongod and redis."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User, new_user
from watchlist_service.config import Settings


async def add(client: httpx.AsyncClient, user: User, content_id: str, **extra: object) -> httpx.Response:
    return await client.post("/v1/watchlist", json={"contentId": content_id, **extra}, headers=user.headers)


async def fill(client: httpx.AsyncClient, user: User, count: int) -> list[str]:
    """Add ``count`` movies through the batch endpoint; returns their ids oldest first."""
    ids = [f"movie:{n}" for n in range(1, count + 1)]
    for start in range(0, count, 100):
        chunk = ids[start : start + 100]
        response = await client.post("/v1/watchlist/batch", json={"add": chunk}, headers=user.headers)
        assert response.status_code == 200, response.text
        assert response.json()["added"] == chunk
    return ids


async def test_add_answers_201_with_item_and_location(app_client: httpx.AsyncClient, user: User) -> None:
    response = await add(app_client, user, "movie:550", notes="with friends")
    assert response.status_code == 201
    body = response.json()
    assert body["contentId"] == "movie:550"
    assert body["type"] == "movie"
    assert body["tmdbId"] == 550
    assert body["notes"] == "with friends"
    assert body["watched"] is False
    assert response.headers["location"] == "/v1/watchlist/movie:550"


async def test_duplicate_add_is_409_with_existing_item_and_no_version_bump(
    app_client: httpx.AsyncClient, user: User
) -> None:
    first = await add(app_client, user, "tv:1396")
    version = (await app_client.get("/v1/watchlist", headers=user.headers)).json()["version"]
    again = await add(app_client, user, "tv:1396", notes="other")
    assert again.status_code == 409
    problem = again.json()
    assert again.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == 40001
    assert problem["type"].endswith("/already-in-list")
    assert problem["item"]["addedAt"] == first.json()["addedAt"]
    assert problem["item"]["notes"] is None
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["version"] == version


async def test_movie_and_tv_with_same_tmdb_id_are_different_items(
    app_client: httpx.AsyncClient, user: User
) -> None:
    assert (await add(app_client, user, "movie:1399")).status_code == 201
    assert (await add(app_client, user, "tv:1399")).status_code == 201
    page = (await app_client.get("/v1/watchlist", headers=user.headers)).json()
    assert [i["contentId"] for i in page["items"]] == ["tv:1399", "movie:1399"]


@pytest.mark.parametrize("size", [0, 1, 10, 11, 25])
async def test_pages_list_every_item_once_newest_first(
    app_client: httpx.AsyncClient, user: User, size: int
) -> None:
    ids = await fill(app_client, user, size)
    seen: list[str] = []
    page_number = 1
    while True:
        response = await app_client.get(f"/v1/watchlist?page={page_number}&limit=10", headers=user.headers)
        assert response.status_code == 200
        page = response.json()
        assert page["total"] == size
        assert page["totalPages"] == -(-size // 10)
        if not page["items"]:
            break
        seen.extend(i["contentId"] for i in page["items"])
        page_number += 1
    assert seen == list(reversed(ids))
    assert page_number == max(1, page["totalPages"] + 1)


async def test_thousand_items_page_through_and_cap(make_client: ClientFactory, user: User) -> None:
    async with make_client() as client:
        ids = await fill(client, user, 1000)
        seen: list[str] = []
        for page_number in range(1, 101):
            page = (await client.get(f"/v1/watchlist?page={page_number}", headers=user.headers)).json()
            seen.extend(i["contentId"] for i in page["items"])
        assert seen == list(reversed(ids))
        past = (await client.get("/v1/watchlist?page=101", headers=user.headers)).json()
        assert past["items"] == []
        assert past["total"] == 1000
        full = await add(client, user, "movie:999999")
        assert full.status_code == 409
        assert full.json()["code"] == 40003


async def test_list_full_with_a_small_cap(make_client: ClientFactory, user: User) -> None:
    async with make_client(list_cap=2) as client:
        assert (await add(client, user, "movie:1")).status_code == 201
        assert (await add(client, user, "movie:2")).status_code == 201
        full = await add(client, user, "movie:3")
        assert full.status_code == 409
        assert full.json()["code"] == 40003
        # Already there beats full: the caller learns the title is in the list.
        assert (await add(client, user, "movie:1")).json()["code"] == 40001
        assert (await client.delete("/v1/watchlist/movie:1", headers=user.headers)).status_code == 204
        assert (await add(client, user, "movie:3")).status_code == 201


async def test_type_filter_and_sorts(app_client: httpx.AsyncClient, user: User) -> None:
    for content_id in ["movie:1", "tv:2", "movie:3", "tv:4"]:
        assert (await add(app_client, user, content_id)).status_code == 201
    movies = (await app_client.get("/v1/watchlist?type=movie", headers=user.headers)).json()
    assert [i["contentId"] for i in movies["items"]] == ["movie:3", "movie:1"]
    assert movies["total"] == 2
    oldest = (await app_client.get("/v1/watchlist?sort=added.asc&limit=3", headers=user.headers)).json()
    assert [i["contentId"] for i in oldest["items"]] == ["movie:1", "tv:2", "movie:3"]
    second = (
        await app_client.get("/v1/watchlist?sort=added.asc&limit=3&page=2", headers=user.headers)
    ).json()
    assert [i["contentId"] for i in second["items"]] == ["tv:4"]
    by_title = await app_client.get("/v1/watchlist?sort=title.asc", headers=user.headers)
    assert by_title.status_code == 200
    assert by_title.json()["total"] == 4


async def test_watched_and_rated_filters_combine_with_type_and_are_cached(
    app_client: httpx.AsyncClient, user: User, settings: Settings
) -> None:
    for content_id in ["movie:1", "tv:2", "movie:3", "tv:4", "movie:5"]:
        assert (await add(app_client, user, content_id)).status_code == 201
    for content_id, change in {
        "movie:1": {"watched": True, "rating": 6},
        "tv:2": {"watched": True},
        "movie:3": {"rating": 9},
    }.items():
        patched = await app_client.patch(f"/v1/watchlist/{content_id}", json=change, headers=user.headers)
        assert patched.status_code == 200

    async def ids(query: str) -> list[str]:
        page = await app_client.get("/v1/watchlist?" + query, headers=user.headers)
        assert page.status_code == 200, page.text
        assert page.headers["x-total-count"] == str(page.json()["total"])
        return [i["contentId"] for i in page.json()["items"]]

    for _ in range(2):  # a miss, then the cached view
        assert await ids("watched=true") == ["tv:2", "movie:1"]
        assert await ids("watched=false") == ["movie:5", "tv:4", "movie:3"]
        assert await ids("watched=false&type=movie") == ["movie:5", "movie:3"]
        assert await ids("rated=true&sort=rating.desc") == ["movie:3", "movie:1"]
        assert await ids("rated=false") == ["movie:5", "tv:4", "tv:2"]
        assert await ids("sort=rating.desc") == ["movie:3", "movie:1", "movie:5", "tv:4", "tv:2"]
    async with Redis.from_url(settings.redis_url) as redis:
        assert await redis.exists("{" + user.id + "}:mylist:1:10:movie:added.desc:watched=false") == 1
    page = await app_client.get("/v1/watchlist?rated=true&sort=rating.desc", headers=user.headers)
    assert "rated=true" in page.headers["link"]
    # A change of what a filter looks at drops the cached views with every other page.
    await app_client.patch("/v1/watchlist/movie:5", json={"watched": True}, headers=user.headers)
    assert await ids("watched=true") == ["movie:5", "tv:2", "movie:1"]
    assert (await app_client.get("/v1/watchlist/stats", headers=user.headers)).json()["watched"] == 3
    bad = await app_client.get("/v1/watchlist?watched=maybe", headers=user.headers)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert await ids("") == ["movie:5", "tv:4", "movie:3", "tv:2", "movie:1"]  # still serving


async def test_get_patch_put_delete(app_client: httpx.AsyncClient, user: User) -> None:
    await add(app_client, user, "movie:11", notes="first")
    got = await app_client.get("/v1/watchlist/movie:11", headers=user.headers)
    assert got.status_code == 200
    assert got.json()["notes"] == "first"

    patched = await app_client.patch(
        "/v1/watchlist/movie:11", json={"watched": True, "rating": 9}, headers=user.headers
    )
    assert patched.status_code == 200
    assert patched.json()["watched"] is True
    assert patched.json()["rating"] == 9
    assert patched.json()["notes"] == "first"

    cleared = await app_client.patch("/v1/watchlist/movie:11", json={"rating": None}, headers=user.headers)
    assert cleared.json()["rating"] is None
    assert cleared.json()["watched"] is True

    replaced = await app_client.put("/v1/watchlist/movie:11", json={"notes": "again"}, headers=user.headers)
    assert replaced.status_code == 200
    assert replaced.json()["notes"] == "again"
    assert replaced.json()["watched"] is False
    assert replaced.json()["rating"] is None

    assert (await app_client.delete("/v1/watchlist/movie:11", headers=user.headers)).status_code == 204
    missing = await app_client.get("/v1/watchlist/movie:11", headers=user.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == 40002
    for method in ("PATCH", "PUT"):
        response = await app_client.request(
            method, "/v1/watchlist/movie:11", json={"watched": True}, headers=user.headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == 40002
    gone = await app_client.delete("/v1/watchlist/movie:11", headers=user.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == 40002


async def test_version_moves_only_on_real_changes(app_client: httpx.AsyncClient, user: User) -> None:
    async def version() -> int:
        return int((await app_client.get("/v1/watchlist", headers=user.headers)).json()["version"])

    assert await version() == 0
    await add(app_client, user, "movie:5")
    assert await version() == 1
    await app_client.patch("/v1/watchlist/movie:5", json={"watched": True}, headers=user.headers)
    assert await version() == 2
    same = await app_client.patch("/v1/watchlist/movie:5", json={"watched": True}, headers=user.headers)
    assert same.status_code == 200
    assert await version() == 2
    await add(app_client, user, "movie:5")
    assert await version() == 2
    await app_client.delete("/v1/watchlist/movie:5", headers=user.headers)
    assert await version() == 3
    await app_client.delete("/v1/watchlist/movie:5", headers=user.headers)
    assert await version() == 3


async def test_etag_and_if_none_match(app_client: httpx.AsyncClient, user: User) -> None:
    await add(app_client, user, "movie:7")
    first = await app_client.get("/v1/watchlist", headers=user.headers)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    not_modified = await app_client.get("/v1/watchlist", headers={**user.headers, "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    other_query = await app_client.get(
        "/v1/watchlist?limit=5", headers={**user.headers, "If-None-Match": etag}
    )
    assert other_query.status_code == 200
    await add(app_client, user, "movie:8")
    changed = await app_client.get("/v1/watchlist", headers={**user.headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def links(response: httpx.Response) -> dict[str, str]:
    """The ``Link`` header as ``{rel: target}``."""
    found = {}
    for part in response.headers["link"].split(", "):
        target, _, rel = part.partition("; ")
        found[rel.removeprefix('rel="').removesuffix('"')] = target.strip("<>")
    return found


async def test_pages_carry_link_and_total_headers_cached_or_not(
    app_client: httpx.AsyncClient, user: User
) -> None:
    for n in range(1, 26):
        await add(app_client, user, f"movie:{n}")
    for _ in range(2):  # a miss, then the same page from the cache
        middle = await app_client.get("/v1/watchlist?page=2&limit=10&type=movie", headers=user.headers)
        assert middle.headers["x-total-count"] == "25" == str(middle.json()["total"])
        assert links(middle) == {
            "first": "/v1/watchlist?page=1&limit=10&type=movie",
            "prev": "/v1/watchlist?page=1&limit=10&type=movie",
            "next": "/v1/watchlist?page=3&limit=10&type=movie",
            "last": "/v1/watchlist?page=3&limit=10&type=movie",
        }
    last = await app_client.get("/v1/watchlist?page=3&limit=10&sort=title.asc", headers=user.headers)
    assert set(links(last)) == {"first", "prev", "last"}
    assert links(last)["prev"] == "/v1/watchlist?page=2&limit=10&sort=title.asc"
    beyond = await app_client.get("/v1/watchlist?page=9&limit=10", headers=user.headers)
    assert beyond.json()["items"] == []
    assert links(beyond)["prev"] == "/v1/watchlist?page=3&limit=10"  # back to the last page
    etag = middle.headers["etag"]
    not_modified = await app_client.get(
        "/v1/watchlist?page=2&limit=10&type=movie", headers={**user.headers, "If-None-Match": etag}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["x-total-count"] == "25"
    await add(app_client, user, "movie:26")  # a write changes the total of every page, cached or not
    assert (await app_client.get("/v1/watchlist?limit=10", headers=user.headers)).headers[
        "x-total-count"
    ] == "26"


async def test_an_empty_list_links_to_its_one_page(app_client: httpx.AsyncClient, user: User) -> None:
    empty = await app_client.get("/v1/watchlist?limit=5", headers=user.headers)
    assert empty.headers["x-total-count"] == "0"
    assert links(empty) == {"first": "/v1/watchlist?page=1&limit=5", "last": "/v1/watchlist?page=1&limit=5"}


async def test_contains(app_client: httpx.AsyncClient, user: User, settings: Settings) -> None:
    await add(app_client, user, "movie:550")
    await add(app_client, user, "tv:1396")
    response = await app_client.post(
        "/v1/watchlist/contains",
        json={"contentIds": ["movie:550", "tv:550", "tv:1396"]},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert response.json() == {"movie:550": True, "tv:550": False, "tv:1396": True}
    empty_user = await app_client.post(
        "/v1/watchlist/contains", json={"contentIds": ["movie:550"]}, headers=new_user(settings).headers
    )
    assert empty_user.json() == {"movie:550": False}


async def test_batch(app_client: httpx.AsyncClient, user: User) -> None:
    await add(app_client, user, "movie:1")
    response = await app_client.post(
        "/v1/watchlist/batch",
        json={"add": ["movie:1", "movie:2", "bogus", "tv:3"], "remove": ["movie:1", "movie:404", "$where"]},
        headers=user.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["added"] == ["movie:2", "tv:3"]
    assert body["existing"] == ["movie:1"]
    assert body["removed"] == ["movie:1"]
    assert body["notFound"] == ["movie:404"]
    assert body["invalid"] == ["bogus", "$where"]
    assert body["version"] == 4
    too_many = await app_client.post(
        "/v1/watchlist/batch",
        json={"add": [f"movie:{n}" for n in range(1, 60)], "remove": [f"tv:{n}" for n in range(1, 60)]},
        headers=user.headers,
    )
    assert too_many.status_code == 400
    assert too_many.json()["code"] == 60001


async def test_changes_feed(make_client: ClientFactory, user: User) -> None:
    async with make_client(changes_kept=5) as client:
        assert (await client.get("/v1/watchlist/changes?since=0", headers=user.headers)).json() == {
            "changes": [],
            "version": 0,
        }
        await add(client, user, "movie:1")  # v1
        await add(client, user, "movie:2")  # v2
        await client.patch("/v1/watchlist/movie:1", json={"watched": True}, headers=user.headers)  # v3
        await client.delete("/v1/watchlist/movie:2", headers=user.headers)  # v4
        feed = (await client.get("/v1/watchlist/changes?since=1", headers=user.headers)).json()
        assert feed["version"] == 4
        assert [(c["version"], c["op"], c["contentId"]) for c in feed["changes"]] == [
            (3, "updated", "movie:1"),
            (4, "removed", "movie:2"),
        ]
        assert feed["changes"][0]["item"]["watched"] is True
        assert "item" not in feed["changes"][1]
        assert (await client.get("/v1/watchlist/changes?since=4", headers=user.headers)).json()[
            "changes"
        ] == []
        for n in range(3, 7):
            await add(client, user, f"movie:{n}")  # v5..v8: the feed now keeps v4..v8
        ok = await client.get("/v1/watchlist/changes?since=3", headers=user.headers)
        assert ok.status_code == 200
        assert [c["version"] for c in ok.json()["changes"]] == [4, 5, 6, 7, 8]
        too_old = await client.get("/v1/watchlist/changes?since=2", headers=user.headers)
        assert too_old.status_code == 410
        assert too_old.json()["code"] == 40005
        future = await client.get("/v1/watchlist/changes?since=99", headers=user.headers)
        assert future.status_code == 410


async def test_stats(app_client: httpx.AsyncClient, user: User, settings: Settings) -> None:
    for content_id in ["movie:1", "movie:2", "tv:3"]:
        await add(app_client, user, content_id)
    await app_client.patch("/v1/watchlist/movie:1", json={"watched": True, "rating": 8}, headers=user.headers)
    await app_client.patch("/v1/watchlist/tv:3", json={"rating": 5}, headers=user.headers)
    stats = (await app_client.get("/v1/watchlist/stats", headers=user.headers)).json()
    assert stats == {
        "total": 3,
        "movies": 2,
        "tv": 1,
        "watched": 1,
        "unwatched": 2,
        "rated": 2,
        "averageRating": 6.5,
        "version": 5,
    }
    empty = (await app_client.get("/v1/watchlist/stats", headers=new_user(settings).headers)).json()
    assert empty["total"] == 0
    assert empty["averageRating"] is None


async def test_cache_disabled_still_serves_fresh_pages(make_client: ClientFactory, user: User) -> None:
    async with make_client(cache_enabled=False) as client:
        await add(client, user, "movie:1")
        assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 1
        await add(client, user, "movie:2")
        assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 2


async def test_operations_endpoints(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/v1/health/live")).json() == {"status": "ok"}
    ready = await app_client.get("/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "mongodb": "ok", "redis": "ok"}
    schema = await app_client.get("/schema/openapi.json")
    assert schema.status_code == 200
    operation_ids = {
        op["operationId"]
        for path in schema.json()["paths"].values()
        for op in path.values()
        if "operationId" in op
    }
    assert {"listWatchlist", "userListWatchlist", "addToWatchlist", "watchlistChanges"} <= operation_ids
    assert (await app_client.get("/schema/swagger")).status_code == 200
    metrics = await app_client.get("/metrics")
    assert metrics.status_code == 200
    assert "watchlist_mongo_command_seconds" in metrics.text
    # Requests are counted under their route template, so ids do not become series of their own.
    assert 'path="/v1/health/live",status_code="200"' in metrics.text
    await app_client.get("/v1/watchlist/movie:123456", headers={"Authorization": "Bearer x"})
    metrics = await app_client.get("/metrics")
    assert "movie:123456" not in metrics.text
    assert 'path="/v1/watchlist/{content_id}",status_code="401"' in metrics.text


async def test_request_id_is_echoed_or_generated(app_client: httpx.AsyncClient, user: User) -> None:
    echoed = await app_client.get("/v1/health/live", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await app_client.get("/v1/health/live", headers={"X-Request-ID": "bad id\nwith newline"})
    assert len(generated.headers["x-request-id"]) == 32
    problem = await app_client.get("/v1/watchlist/movie:1", headers={**user.headers, "X-Request-ID": "req-9"})
    assert problem.json()["requestId"] == "req-9"
    # Also for answers made before any route runs: authentication failures and unknown paths.
    for path in ("/v1/watchlist", "/v1/no-such-route"):
        early = await app_client.get(path, headers={"X-Request-ID": "req-10"})
        assert early.status_code in (401, 404)
        assert early.headers["x-request-id"] == "req-10"
        assert early.json()["requestId"] == "req-10"


async def test_large_pages_are_compressed(app_client: httpx.AsyncClient, user: User) -> None:
    await fill(app_client, user, 30)
    for encoding in ("br", "gzip"):
        response = await app_client.get(
            "/v1/watchlist?limit=30", headers={**user.headers, "Accept-Encoding": encoding}
        )
        assert response.headers.get("content-encoding") == encoding
        assert len(response.json()["items"]) == 30


async def test_cors_is_off_by_default_and_follows_configuration(make_client: ClientFactory) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    async with make_client() as client:
        response = await client.options("/v1/watchlist", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    async with make_client(cors_origins=["https://app.example.com"]) as client:
        response = await client.options("/v1/watchlist", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
