"""``Idempotency-Key`` on POST /v1/watchlist and /batch, over the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ClientFactory, User, new_user
from watchlist_service.config import Settings
from watchlist_service.resources import resources_of
from watchlist_service.watchlist.schemas import AddRequest, Item


def keyed(user: User, key: str | None = None) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": uuid.uuid4().hex if key is None else key}


async def test_a_retry_replays_the_first_answer(app_client: httpx.AsyncClient, user: User) -> None:
    headers = keyed(user)
    first = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    retry = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
    assert retry.status_code == 201  # not 409 already-in-list: the retry sees the first answer
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    page = (await app_client.get("/v1/watchlist", headers=user.headers)).json()
    assert page["total"] == 1
    assert page["version"] == 1


async def test_batch_retry_is_replayed(app_client: httpx.AsyncClient, user: User) -> None:
    headers = keyed(user)
    body = {"add": ["movie:1", "movie:2"], "remove": ["movie:3"]}
    first = await app_client.post("/v1/watchlist/batch", json=body, headers=headers)
    retry = await app_client.post("/v1/watchlist/batch", json=body, headers=headers)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["version"] == 2


async def test_same_key_different_request_is_422(app_client: httpx.AsyncClient, user: User) -> None:
    headers = keyed(user)
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
    other = await app_client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == 60007
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 1


async def test_keys_are_scoped_to_the_caller(app_client: httpx.AsyncClient, settings: Settings) -> None:
    alice, bob = new_user(settings), new_user(settings)
    key = uuid.uuid4().hex
    a = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=keyed(alice, key))
    b = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=keyed(bob, key))
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert (await app_client.get("/v1/watchlist", headers=bob.headers)).json()["total"] == 1


async def test_a_concurrent_retry_is_409(
    app_client: httpx.AsyncClient, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = resources_of(app_client._transport.app).watchlist  # type: ignore[attr-defined]
    original = service.add
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_add(user_id: str, request: AddRequest, **options: Any) -> tuple[Item, int]:
        entered.set()
        await release.wait()
        return await original(user_id, request, **options)

    headers = keyed(user)
    with monkeypatch.context() as patched:
        patched.setattr(service, "add", slow_add)
        first = asyncio.create_task(
            app_client.post("/v1/watchlist", json={"contentId": "movie:7"}, headers=headers)
        )
        await entered.wait()
        retry = await app_client.post("/v1/watchlist", json={"contentId": "movie:7"}, headers=headers)
        release.set()
        assert (await first).status_code == 201
    assert retry.status_code == 409
    assert retry.json()["code"] == 60006
    again = await app_client.post("/v1/watchlist", json={"contentId": "movie:7"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"


async def test_errors_are_replayed_but_bad_keys_are_refused(
    app_client: httpx.AsyncClient, user: User
) -> None:
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    headers = keyed(user)
    conflict = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
    assert conflict.status_code == 409
    replay = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
    assert replay.status_code == 409
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == conflict.json()
    for bad in ("", "x" * 256, "spaces are not allowed"):
        response = await app_client.post(
            "/v1/watchlist", json={"contentId": "movie:2"}, headers=keyed(user, bad)
        )
        assert response.status_code == 400
        assert response.json()["code"] == 60001
    too_big = b'{"contentId": "movie:2", "notes": "' + b"x" * 70_000 + b'"}'
    response = await app_client.post(
        "/v1/watchlist", content=too_big, headers={**keyed(user), "Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_without_redis_requests_still_run(make_client: ClientFactory, user: User) -> None:
    async with make_client(redis_url="redis://127.0.0.1:9/0", redis_timeout_ms=50) as client:
        headers = keyed(user)
        first = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
        assert first.status_code == 201
        retry = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
        assert retry.status_code == 409  # no replay without Redis, and still no duplicate
        assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 1
