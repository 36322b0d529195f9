"""Retried writes answer their own item, are applied once, and a MongoDB in transition is a 503, never a 500.

MongoDB's ``failCommand`` fail point (the test mongod runs with ``enableTestCommands=1``) answers a
findAndModify with a write-concern error *after* applying it, labelled ``RetryableWriteError``: exactly what
a primary says when it steps down mid-write. The driver retries; the server recognises the retry of a write
it already applied and answers from the stored post-image, without the projection the first attempt asked
for. Limited to one app's connections by its ``appName``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.conftest import Backends, ClientFactory, User
from watchlist_service.config import Settings
from watchlist_service.resources import resources_of

WRITE_CONCERN_FAILED = {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "injected by the test"}
SHUTDOWN_IN_PROGRESS = {"code": 91, "codeName": "ShutdownInProgress", "errmsg": "injected by the test"}


class FailPoint:
    """``failCommand`` on the test mongod, for one app name."""

    def __init__(self, backends: Backends, app_name: str) -> None:
        self._admin: MongoClient[dict[str, Any]] = MongoClient(backends.mongodb_uri)
        self.app_name = app_name

    @contextmanager
    def write_concern_error(self, error: dict[str, Any], *, times: int = 1) -> Iterator[list[int]]:
        """The next ``times`` findAndModify commands of the app are applied, then answered with ``error``;
        yields a list that holds, afterwards, how many commands the fail point caught."""
        data = {
            "failCommands": ["findAndModify"],
            "writeConcernError": error,
            "errorLabels": ["RetryableWriteError"],
            "appName": self.app_name,
        }
        before = self._command({"mode": {"times": times}, "data": data})
        caught: list[int] = []
        try:
            yield caught
        finally:
            caught.append(self._command({"mode": "off"}) - before)

    def _command(self, options: dict[str, Any]) -> int:
        reply = self._admin.admin.command({"configureFailPoint": "failCommand", **options})
        return int(reply["count"])

    def close(self) -> None:
        self._admin.close()


@pytest.fixture
def app_name() -> str:
    return f"wl-retry-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fail_point(backends: Backends, app_name: str) -> Iterator[FailPoint]:
    point = FailPoint(backends, app_name)
    try:
        yield point
    finally:
        point.close()


@pytest.fixture
async def client(make_client: ClientFactory, app_name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(mongodb_app_name=app_name) as client:
        yield client


@pytest.fixture
def stored(backends: Backends, settings: Settings) -> Iterator[Any]:
    """Reads the stored document of a user straight from MongoDB."""
    mongo: MongoClient[dict[str, Any]] = MongoClient(backends.mongodb_uri)

    def read(user_id: str) -> dict[str, Any]:
        doc = mongo[settings.mongodb_database]["watchlists"].find_one({"_id": user_id})
        assert doc is not None
        return doc

    try:
        yield read
    finally:
        mongo.close()


async def _seed(client: httpx.AsyncClient, user: User, *content_ids: str) -> None:
    for content_id in content_ids:
        response = await client.post("/v1/watchlist", json={"contentId": content_id}, headers=user.headers)
        assert response.status_code == 201


def _ids(doc: dict[str, Any]) -> list[str]:
    return [item["contentId"] for item in doc["items"]]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer_id"),
    [
        ("POST", "/v1/watchlist", {"contentId": "movie:3"}, 201, "movie:3"),
        ("PATCH", "/v1/watchlist/movie:1", {"notes": "retried"}, 200, "movie:1"),
        ("PUT", "/v1/watchlist/movie:1", {"notes": "retried", "watched": True}, 200, "movie:1"),
        ("DELETE", "/v1/watchlist/movie:1", None, 204, None),
    ],
)
async def test_a_retried_write_answers_its_own_item_and_is_applied_once(
    client: httpx.AsyncClient,
    fail_point: FailPoint,
    stored: Any,
    user: User,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    answer_id: str | None,
) -> None:
    await _seed(client, user, "movie:1", "tv:2")  # tv:2 is newest: items[0] of the stored array
    before = stored(user.id)
    with fail_point.write_concern_error(WRITE_CONCERN_FAILED) as caught:
        response = await client.request(method, path, json=body, headers=user.headers)
    assert caught == [1]  # the write really went through the fail point
    assert response.status_code == status, response.text
    if answer_id is not None:
        assert response.json()["contentId"] == answer_id
    after = stored(user.id)
    assert after["version"] == before["version"] + 1
    assert len(after["changes"]) == len(before["changes"]) + 1
    if method == "POST":
        assert _ids(after) == ["movie:3", "tv:2", "movie:1"]
    elif method == "DELETE":
        assert _ids(after) == ["tv:2"]
    else:
        changed = next(item for item in after["items"] if item["contentId"] == "movie:1")
        assert changed["notes"] == "retried"
    assert (await client.get("/v1/watchlist", headers=user.headers)).json()["version"] == after["version"]


async def test_a_retried_batch_reports_each_operation_once(
    client: httpx.AsyncClient, fail_point: FailPoint, stored: Any, user: User
) -> None:
    await _seed(client, user, "movie:1", "tv:2")
    before = stored(user.id)
    # Every findAndModify of the batch is retried: each add and each remove.
    with fail_point.write_concern_error(WRITE_CONCERN_FAILED, times=3) as caught:
        response = await client.post(
            "/v1/watchlist/batch",
            json={"add": ["movie:4", "movie:5"], "remove": ["movie:1"]},
            headers=user.headers,
        )
    assert caught == [3]
    result = response.json()
    assert (result["added"], result["removed"], result["existing"]) == (
        ["movie:4", "movie:5"],
        ["movie:1"],
        [],
    )
    after = stored(user.id)
    assert result["version"] == after["version"] == before["version"] + 3
    assert _ids(after) == ["movie:5", "movie:4", "tv:2"]


async def test_a_retried_metadata_fill_sets_the_title_of_its_own_item(
    client: httpx.AsyncClient, fail_point: FailPoint, stored: Any, user: User
) -> None:
    await _seed(client, user, "movie:1", "tv:2")
    repository = resources_of(client._transport.app).repository  # type: ignore[attr-defined]
    with fail_point.write_concern_error(WRITE_CONCERN_FAILED) as caught:
        item, _, changed = await repository.update(
            user.id, "movie:1", {"title": "Filled", "metadata_pending": False}
        )
    assert caught == [1]
    assert (item.content_id, item.title, changed) == ("movie:1", "Filled", True)
    assert [i.get("title") for i in stored(user.id)["items"]] == [None, "Filled"]


async def test_a_stepdown_during_a_write_is_retried_on_the_new_primary(
    client: httpx.AsyncClient, fail_point: FailPoint, stored: Any, user: User
) -> None:
    """ShutdownInProgress once: the driver finds the primary again within a heartbeat (500 ms) and retries."""
    await _seed(client, user, "movie:1", "tv:2")
    version = stored(user.id)["version"]
    started = time.monotonic()
    with fail_point.write_concern_error(SHUTDOWN_IN_PROGRESS) as caught:
        response = await client.patch("/v1/watchlist/movie:1", json={"rating": 7}, headers=user.headers)
    elapsed = time.monotonic() - started
    assert caught == [1]
    assert response.status_code == 200, response.text
    assert response.json()["contentId"] == "movie:1"
    assert stored(user.id)["version"] == version + 1
    print(f"PATCH across one ShutdownInProgress answered 200 in {elapsed * 1000:.0f} ms")


@pytest.mark.parametrize(
    ("method", "path", "body", "retried_status"),
    [
        ("PATCH", "/v1/watchlist/movie:1", {"rating": 8}, 200),
        ("PUT", "/v1/watchlist/movie:1", {"rating": 8}, 200),
        ("DELETE", "/v1/watchlist/movie:1", None, 404),
        ("POST", "/v1/watchlist", {"contentId": "movie:9"}, 409),
    ],
)
async def test_a_write_whose_primary_keeps_stepping_down_is_503_and_its_retry_is_safe(
    client: httpx.AsyncClient,
    fail_point: FailPoint,
    stored: Any,
    user: User,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    retried_status: int,
) -> None:
    """The first attempt is applied and every retry is answered with the same error until the operation
    timeout (1.5 s): the outcome is unknown to the driver, so the answer is 503 with Retry-After (never 500),
    and the client's retry changes nothing more: PATCH/PUT answer the item as it is, DELETE says it is gone,
    an add says it is there (409 with the item)."""
    await _seed(client, user, "movie:1", "tv:2")
    version = stored(user.id)["version"]
    with fail_point.write_concern_error(SHUTDOWN_IN_PROGRESS, times=1_000) as caught:
        response = await client.request(method, path, json=body, headers=user.headers)
    assert caught[0] >= 2  # the first attempt and the driver's retries
    assert response.status_code == 503, response.text
    assert response.json()["code"] == 50001
    assert int(response.headers["retry-after"]) >= 1
    assert stored(user.id)["version"] == version + 1  # applied, once
    retry = await client.request(method, path, json=body, headers=user.headers)
    assert retry.status_code == retried_status, retry.text
    assert stored(user.id)["version"] == version + 1  # the retry changed nothing
    if retried_status == 409:
        assert retry.json()["item"]["contentId"] == "movie:9"
