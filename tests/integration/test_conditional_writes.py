"""docs/design.md §10: conditional writes (If-Match, 412, 428) and the user's own order (``sort=rank``,
``PUT .../order``), in-process over ASGI against the real mongod and redis, on both path forms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User, bearer, new_user
from tests.integration.cache_support import page_cache
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_READ_ANY, SCOPE_WRITE_ANY


class Caller:
    """One way of reaching one user's list: ``/v1/watchlist`` with the user's token, or
    ``/v1/users/{userId}/watchlist`` with a service token."""

    def __init__(self, client: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
        self.client, self.base, self.headers = client, base, headers

    async def call(
        self, method: str, path: str = "", *, if_match: str | None = None, json: Any = None
    ) -> httpx.Response:
        headers = dict(self.headers)
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.client.request(method, self.base + path, json=json, headers=headers)

    async def add(self, content_id: str, *, if_match: str | None = None, **extra: Any) -> httpx.Response:
        return await self.call("POST", if_match=if_match, json={"contentId": content_id, **extra})

    async def reorder(self, content_ids: list[str], *, if_match: str | None) -> httpx.Response:
        return await self.call("PUT", "/order", if_match=if_match, json={"contentIds": content_ids})

    async def page(self, query: str = "") -> dict[str, Any]:
        response = await self.call("GET", "?" + query if query else "")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ids(self, query: str = "") -> list[str]:
        """The ids of the first 100 titles of a view."""
        return [item["contentId"] for item in (await self.page("&".join(["limit=100", query])))["items"]]

    async def version(self) -> int:
        return int((await self.page())["version"])


@pytest.fixture(params=["own", "service"])
def caller(request: pytest.FixtureRequest, app_client: httpx.AsyncClient, settings: Settings) -> Caller:
    user = new_user(settings)
    if request.param == "own":
        return Caller(app_client, "/v1/watchlist", user.headers)
    service = bearer(settings, "svc-conditional", scopes=[SCOPE_READ_ANY, SCOPE_WRITE_ANY])
    return Caller(app_client, f"/v1/users/{user.id}/watchlist", service)


def tag(version: int) -> str:
    return f'"{version}"'


def assert_precondition_failed(response: httpx.Response, version: int) -> None:
    assert response.status_code == 412, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == 60008
    assert problem["type"].endswith("/precondition-failed")
    assert problem["version"] == version
    assert response.headers["etag"] == tag(version)


async def test_every_write_with_a_stale_if_match_is_412_with_the_version_and_changes_nothing(
    caller: Caller,
) -> None:
    """docs/design.md §10: a mismatch answers 412 with the current version; nothing changes."""
    assert (await caller.add("movie:1")).headers["etag"] == tag(1)
    assert (await caller.add("movie:2")).headers["etag"] == tag(2)
    before = await caller.page("limit=100")
    stale = tag(1)
    writes: list[Callable[[], Awaitable[httpx.Response]]] = [
        lambda: caller.add("movie:3", if_match=stale),
        lambda: caller.add("movie:1", if_match=stale),  # already there: the precondition is answered first
        lambda: caller.call("PATCH", "/movie:1", if_match=stale, json={"watched": True}),
        lambda: caller.call("PATCH", "/movie:9", if_match=stale, json={"watched": True}),  # not there
        lambda: caller.call("PUT", "/movie:1", if_match=stale, json={"notes": "n"}),
        lambda: caller.call("DELETE", "/movie:2", if_match=stale),
        lambda: caller.call(
            "POST", "/batch", if_match=stale, json={"add": ["movie:4"], "remove": ["movie:1"]}
        ),
        lambda: caller.call(
            "POST", "/batch", if_match=stale, json={"remove": ["movie:9"]}
        ),  # would do nothing
        lambda: caller.reorder(["movie:1"], if_match=stale),
        lambda: caller.add("movie:3", if_match='"abc", W/"2"'),  # tags that never match
    ]
    for write in writes:
        assert_precondition_failed(await write(), 2)
        assert await caller.page("limit=100") == before
    # The same requests with the current version succeed.
    current = tag(2)
    added = await caller.add("movie:3", if_match=current)
    assert added.status_code == 201
    assert added.headers["etag"] == tag(3)
    patched = await caller.call("PATCH", "/movie:1", if_match=tag(3), json={"watched": True})
    assert (patched.status_code, patched.headers["etag"]) == (200, tag(4))
    assert patched.json()["watched"] is True
    assert await caller.version() == 4


async def test_a_matching_if_match_succeeds_and_every_write_answers_the_new_etag(caller: Caller) -> None:
    """docs/design.md §10: strong "<version>", a page's ETag (leniency) and * are accepted."""
    created = await caller.add("movie:1", if_match=tag(0))  # a user without a list is at version 0
    assert (created.status_code, created.headers["etag"]) == (201, tag(1))
    page_etag = (await caller.call("GET")).headers["etag"]
    assert page_etag.startswith('W/"1-')
    patched = await caller.call("PATCH", "/movie:1", if_match=page_etag, json={"rating": 7})
    assert (patched.status_code, patched.headers["etag"]) == (200, tag(2))
    replaced = await caller.call("PUT", "/movie:1", if_match="*", json={"notes": "again"})
    assert (replaced.status_code, replaced.headers["etag"]) == (200, tag(3))
    unchanged = await caller.call("PUT", "/movie:1", if_match=tag(3), json={"notes": "again"})
    assert (unchanged.status_code, unchanged.headers["etag"]) == (200, tag(3))  # nothing to change
    batch = await caller.call("POST", "/batch", if_match=f'"99", {tag(3)}', json={"add": ["tv:2", "tv:3"]})
    assert batch.status_code == 200
    assert batch.json()["version"] == 5
    assert batch.headers["etag"] == tag(5)
    removed = await caller.call("DELETE", "/tv:2", if_match=tag(5))
    assert (removed.status_code, removed.headers["etag"]) == (204, tag(6))
    # Unconditional writes answer the ETag too.
    plain = await caller.call("PATCH", "/tv:3", json={"watched": True})
    assert plain.headers["etag"] == tag(7)
    assert await caller.version() == 7


async def test_star_needs_a_list_and_bad_tags_are_400(caller: Caller) -> None:
    """docs/design.md §10: * means "the list exists"; an If-Match that is no entity tag is 400."""
    assert_precondition_failed(await caller.add("movie:1", if_match="*"), 0)
    assert_precondition_failed(await caller.call("DELETE", "/movie:1", if_match="*"), 0)
    assert (await caller.call("DELETE", "/movie:1", if_match=tag(0))).status_code == 404
    for bad in ("7", "W/7", '"7', '"7" "8"', ", ", ",".join(['"1"'] * 101), '"1"' + " " * 4096):
        response = await caller.add("movie:1", if_match=bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == 60001
        assert response.json()["errors"][0]["field"] == "If-Match"
    assert (await caller.add("movie:1", if_match="*")).status_code == 412
    assert (await caller.add("movie:1")).status_code == 201  # still serving
    assert (await caller.add("movie:2", if_match="*")).status_code == 201


async def test_concurrent_writes_with_the_same_if_match_one_wins(caller: Caller) -> None:
    """docs/design.md §10: the version is in the update's filter, so of two writes sent with the same
    If-Match exactly one is applied and the other answers 412."""
    for content_id in ("movie:1", "movie:2", "movie:3"):
        await caller.add(content_id)
    for round_ in range(5):
        version = await caller.version()
        responses = await asyncio.gather(
            caller.call("PATCH", "/movie:1", if_match=tag(version), json={"rating": round_ + 1}),
            caller.call("PATCH", "/movie:2", if_match=tag(version), json={"rating": round_ + 1}),
            caller.reorder(
                ["movie:3", "movie:1"] if round_ % 2 else ["movie:1", "movie:3"], if_match=tag(version)
            ),
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 412, 412], [r.text for r in responses]
        for response in responses:
            if response.status_code == 412:
                assert response.json()["version"] == version + 1
        assert await caller.version() == version + 1


async def test_concurrent_first_adds_with_if_match_zero_create_the_list_once(caller: Caller) -> None:
    """docs/design.md §10: "0" lets an add create the list; of several such adds one creates it, the others
    answer 412 with version 1 (the upsert's duplicate key is explained like a failed guard)."""
    responses = await asyncio.gather(*(caller.add(f"movie:{n}", if_match=tag(0)) for n in range(1, 6)))
    assert sorted(response.status_code for response in responses) == [201, 412, 412, 412, 412]
    for response in responses:
        if response.status_code == 412:
            assert response.json()["version"] == 1
    [winner] = [response.json()["contentId"] for response in responses if response.status_code == 201]
    assert await caller.ids() == [winner]
    assert await caller.version() == 1


async def test_reorder_needs_if_match(caller: Caller) -> None:
    """docs/design.md §10: a reorder without If-Match is 428 and changes nothing."""
    await caller.add("movie:1")
    await caller.add("movie:2")
    missing = await caller.reorder(["movie:1"], if_match=None)
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == 60009
    assert missing.json()["type"].endswith("/precondition-required")
    assert await caller.ids("sort=rank") == ["movie:2", "movie:1"]
    assert await caller.version() == 2
    done = await caller.reorder(["movie:1"], if_match=tag(2))
    assert done.status_code == 200
    assert done.json() == {"updated": 1, "skipped": [], "version": 3}


async def test_reorder_result_and_the_rank_order(caller: Caller) -> None:
    """docs/design.md §10: named titles move to the top in the order given, the others keep theirs; new
    titles go on top (or to the bottom when asked); the other sorts are untouched."""
    for n in range(1, 6):
        await caller.add(f"movie:{n}")
    assert await caller.ids("sort=rank") == ["movie:5", "movie:4", "movie:3", "movie:2", "movie:1"]
    response = await caller.reorder(["movie:2", "tv:9", "movie:4", "movie:2", "movie:99"], if_match=tag(5))
    assert response.status_code == 200
    assert response.json() == {"updated": 2, "skipped": ["tv:9", "movie:99"], "version": 6}
    assert response.headers["etag"] == tag(6)
    assert await caller.ids("sort=rank") == ["movie:2", "movie:4", "movie:5", "movie:3", "movie:1"]
    assert await caller.ids() == ["movie:5", "movie:4", "movie:3", "movie:2", "movie:1"]  # added.desc
    assert await caller.ids("sort=added.asc") == ["movie:1", "movie:2", "movie:3", "movie:4", "movie:5"]
    # The same order again changes nothing: no version bump.
    again = await caller.reorder(["movie:2", "movie:4"], if_match=tag(6))
    assert again.json() == {"updated": 2, "skipped": [], "version": 6}
    # New titles: on top by default, at the bottom when asked.
    assert (await caller.add("tv:6")).status_code == 201
    bottom = await caller.add("tv:7", position="bottom")
    assert bottom.status_code == 201
    assert "position" not in bottom.json()
    assert await caller.ids("sort=rank") == [
        "tv:6",
        "movie:2",
        "movie:4",
        "movie:5",
        "movie:3",
        "movie:1",
        "tv:7",
    ]
    assert (await caller.add("tv:8", position="middle")).status_code == 400
    # A full reorder, then pages of the rank view, filters included.
    full = ["movie:1", "tv:7", "movie:3", "tv:6", "movie:5", "movie:4", "movie:2"]
    assert (await caller.reorder(full, if_match=tag(8))).json()["version"] == 9
    paged: list[str] = []
    for number in range(1, 5):
        page = await caller.page(f"sort=rank&limit=2&page={number}")
        assert page["total"] == 7
        paged += [item["contentId"] for item in page["items"]]
    assert paged == full
    assert await caller.ids("sort=rank&type=tv") == ["tv:7", "tv:6"]
    await caller.call("DELETE", "/movie:3")
    assert await caller.ids("sort=rank") == [cid for cid in full if cid != "movie:3"]
    # Bodies the reorder refuses.
    refusals: list[dict[str, list[str]]] = [
        {"contentIds": []},
        {"contentIds": ["nope"]},
        {"contentIds": ["movie:1"] * 1001},
        {"ids": []},
    ]
    for body in refusals:
        refused = await caller.call("PUT", "/order", if_match=tag(10), json=body)
        assert refused.status_code == 400, body
    assert (await caller.reorder(["movie:2"], if_match=tag(10))).status_code == 200


async def test_reorder_of_an_empty_list_and_of_no_list(caller: Caller) -> None:
    """docs/design.md §10: every named id is skipped; the version stays 0; * needs the list."""
    nothing = await caller.reorder(["movie:1"], if_match=tag(0))
    assert nothing.json() == {"updated": 0, "skipped": ["movie:1"], "version": 0}
    assert_precondition_failed(await caller.reorder(["movie:1"], if_match="*"), 0)
    assert_precondition_failed(await caller.reorder(["movie:1"], if_match=tag(1)), 0)
    assert (await caller.add("movie:1")).status_code == 201


async def test_the_page_cache_stays_exact_around_a_reorder(
    app_client: httpx.AsyncClient, user: User, settings: Settings
) -> None:
    """docs/design.md §5 and §10: rank pages are cached like every view and dropped by a reorder."""
    caller = Caller(app_client, "/v1/watchlist", user.headers)
    for n in range(1, 4):
        await caller.add(f"movie:{n}")
    tag_ = "{" + user.id + "}:mylist"
    async with Redis.from_url(settings.redis_url) as redis:
        for _ in range(2):  # a miss that fills, then a hit
            assert await caller.ids("sort=rank") == ["movie:3", "movie:2", "movie:1"]
            assert await caller.ids() == ["movie:3", "movie:2", "movie:1"]
        assert await redis.exists(f"{tag_}:1:100:all:rank", f"{tag_}:1:100") == 2
        assert (await caller.reorder(["movie:1"], if_match=tag(3))).status_code == 200
        assert await redis.exists(f"{tag_}:1:100:all:rank", f"{tag_}:1:100") == 0
        for _ in range(2):
            assert await caller.ids("sort=rank") == ["movie:1", "movie:3", "movie:2"]
            assert await caller.ids() == ["movie:3", "movie:2", "movie:1"]
        assert await redis.exists(f"{tag_}:1:100:all:rank") == 1
        # The reorder's 412 leaves the cached pages alone: nothing changed.
        assert (await caller.reorder(["movie:2"], if_match=tag(3))).status_code == 412
        assert await redis.exists(f"{tag_}:1:100:all:rank") == 1
    assert (await caller.page("sort=rank"))["version"] == 4


async def test_the_changes_feed_shows_reordered(caller: Caller) -> None:
    """docs/design.md §10: a reorder is a `reordered` change without contentId or item; only the latest
    reorder is listed."""
    await caller.add("movie:1")
    await caller.add("movie:2")
    await caller.reorder(["movie:1"], if_match=tag(2))  # v3
    feed = (await caller.call("GET", "/changes?since=2")).json()
    assert feed["version"] == 3
    [change] = feed["changes"]
    assert change["op"] == "reordered"
    assert change["version"] == 3
    assert set(change) == {"version", "op", "at"}
    await caller.add("movie:3")  # v4
    await caller.reorder(["movie:2"], if_match=tag(4))  # v5
    feed = (await caller.call("GET", "/changes?since=0")).json()
    assert [(c["version"], c["op"], c.get("contentId")) for c in feed["changes"]] == [
        (1, "added", "movie:1"),
        (2, "added", "movie:2"),
        (4, "added", "movie:3"),
        (5, "reordered", None),
    ]


async def test_a_read_only_service_token_cannot_reorder(
    app_client: httpx.AsyncClient, user: User, settings: Settings
) -> None:
    """docs/design.md §1: the order route is a write."""
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    reader = bearer(settings, "svc-reader", scopes=[SCOPE_READ_ANY])
    response = await app_client.put(
        f"/v1/users/{user.id}/watchlist/order",
        json={"contentIds": ["movie:1"]},
        headers={**reader, "If-Match": tag(1)},
    )
    assert response.status_code == 403
    assert (await app_client.get(f"/v1/users/{user.id}/watchlist", headers=reader)).status_code == 200


async def test_the_change_stream_backstop_invalidates_a_reorder(
    make_client: ClientFactory, settings: Settings
) -> None:
    """docs/design.md §5 and §10: a reorder is one pipeline update (MongoDB reports it as a replacement); the
    change-stream invalidator reads its version too, so a reorder whose writer could not reach Redis does not
    leave its old rank pages behind."""
    async with make_client(mongodb_database="watchlist_backstop_reorder") as client:
        user = new_user(settings)
        caller = Caller(client, "/v1/watchlist", user.headers)
        for n in range(1, 4):
            await caller.add(f"movie:{n}")
        assert await caller.ids("sort=rank") == ["movie:3", "movie:2", "movie:1"]  # cached

        async def lost(user_id: str, version: int) -> bool:
            return False

        page_cache(client).invalidate = lost  # type: ignore[method-assign]
        assert (await caller.reorder(["movie:1"], if_match=tag(3))).status_code == 200
        started = time.perf_counter()
        seen = await caller.ids("sort=rank")
        while seen[0] != "movie:1" and time.perf_counter() - started < 1.0:
            seen = await caller.ids("sort=rank")
        assert seen == ["movie:1", "movie:3", "movie:2"], (
            "the change stream did not drop the rank page in 1 s"
        )
        assert (await client.get("/v1/health/live")).status_code == 200
