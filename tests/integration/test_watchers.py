"""Who holds a title (docs/design.md §12): ``GET /v1/titles/{contentId}/watchers`` for service tokens, keyset
pagination by user id, one index range scan per page."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from tests.conftest import bearer, new_user
from watchlist_service.config import Settings
from watchlist_service.resources import resources_of
from watchlist_service.watchlist.schemas import Item


def service_headers(settings: Settings) -> dict[str, str]:
    return bearer(settings, "svc-recs", scopes=["watchlist:read:any"])


def item(content_id: str, at: datetime) -> Item:
    kind, tmdb_id = content_id.split(":")
    return Item(
        content_id=content_id,
        type="movie" if kind == "movie" else "tv",
        tmdb_id=int(tmdb_id),
        added_at=at,
        updated_at=at,
    )


def fresh_title() -> str:
    return f"movie:{random.randint(10**8, 10**9 - 1)}"


async def walk(client: httpx.AsyncClient, title: str, headers: dict[str, str], count: int) -> list[str]:
    """Every page of the title's watchers, ``count`` at a time (a pause between pages lets writes in)."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"count": count, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/titles/{title}/watchers", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["userIds"]) <= count
        found.extend(page["userIds"])
        cursor = page["nextCursor"]
        if cursor is None:
            return found
        await asyncio.sleep(0.01)


async def test_a_walk_answers_each_steady_watcher_once_while_lists_change(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    """docs/design.md §12: keyset pagination by user id: every user who held the title throughout the walk
    is answered exactly once, in ascending order, while other titles (and other holders) come and go."""
    title = fresh_title()
    repository = resources_of(app_client._transport.app).repository  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    steady = sorted(new_user(settings).id for _ in range(2500))  # the 2,500 holders
    await repository.insert_new_lists(
        {u: [item(title, now), item("movie:550", now - timedelta(seconds=1))] for u in steady}
    )
    churners = [new_user(settings) for _ in range(10)]
    stop = asyncio.Event()

    async def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            # Steady holders change other titles; churners add and remove the walked title itself.
            owner = steady[n % len(steady)]
            await repository.add(owner, item(f"tv:{n}", datetime.now(UTC)))
            await repository.remove(owner, f"tv:{n}")
            churner = churners[n % len(churners)]
            await app_client.post("/v1/watchlist", json={"contentId": title}, headers=churner.headers)
            await app_client.delete(f"/v1/watchlist/{title}", headers=churner.headers)
            await asyncio.sleep(0)

    writer = asyncio.create_task(churn())
    try:
        found = await walk(app_client, title, service_headers(settings), count=97)
    finally:
        stop.set()
        await writer
    assert len(found) == len(set(found))  # nobody twice
    assert found == sorted(found)
    assert [u for u in found if u in set(steady)] == steady  # every steady holder, once
    assert set(found) <= set(steady) | {c.id for c in churners}
    # Settled: exactly the steady holders.
    assert await walk(app_client, title, service_headers(settings), count=1000) == steady


async def test_watchers_need_the_read_any_scope_and_a_cursor_of_the_same_title(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    """docs/design.md §12 and §4: 403 without ``watchlist:read:any``, 400 for a cursor that is not one of this
    title's; each followed by a successful request."""
    title = fresh_title()
    user = new_user(settings)
    assert (
        await app_client.post("/v1/watchlist", json={"contentId": title}, headers=user.headers)
    ).status_code == 201
    denied = await app_client.get(f"/v1/titles/{title}/watchers", headers=user.headers)
    assert denied.status_code == 403
    assert denied.json()["code"] == 30002
    headers = service_headers(settings)
    ok = await app_client.get(f"/v1/titles/{title}/watchers", headers=headers)
    assert ok.json() == {"userIds": [user.id], "nextCursor": None}
    first = await app_client.get("/v1/titles/movie:550/watchers", params={"count": 1}, headers=headers)
    cursor = first.json()["nextCursor"]
    assert cursor is not None
    for bad in (cursor, "not-a-cursor", "e30"):
        refused = await app_client.get(
            f"/v1/titles/{title}/watchers", params={"cursor": bad}, headers=headers
        )
        assert refused.status_code == 400, bad
        assert refused.json()["code"] == 60001
    again = await app_client.get(f"/v1/titles/{title}/watchers", headers=headers)
    assert again.json()["userIds"] == [user.id]


async def test_a_page_is_an_index_range_scan_that_reads_no_document(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    """docs/design.md §12: the ``contentId_userId`` index answers a page alone (covered: no document read,
    no sort stage)."""
    title = fresh_title()
    repository = resources_of(app_client._transport.app).repository  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    await repository.insert_new_lists({new_user(settings).id: [item(title, now)] for _ in range(30)})
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        coll = client[settings.mongodb_database]["watchlists"]
        plan = await (
            coll.find({"items.contentId": title, "userId": {"$gt": "u-"}}, {"_id": 0, "userId": 1})
            .sort("userId", 1)
            .hint("contentId_userId")
            .limit(10)
            .explain()
        )
    finally:
        await client.close()
    stats = plan["executionStats"]
    assert stats["nReturned"] == 10
    assert stats["totalDocsExamined"] == 0, plan["queryPlanner"]["winningPlan"]
    assert "SORT" not in str(plan["queryPlanner"]["winningPlan"])
    assert stats["totalKeysExamined"] <= stats["nReturned"] + 1
