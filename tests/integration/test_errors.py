"""docs/design.md §4: every bad input gets a 4xx problem+json with its code, and the process keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import User, bearer
from watchlist_service.config import Settings
from watchlist_service.resources import resources_of
from watchlist_service.security import SCOPE_READ_ANY, SCOPE_WRITE_ANY
from watchlist_service.watchlist.schemas import Stats


async def assert_still_serving(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get("/v1/watchlist", headers=user.headers)
    assert response.status_code == 200


def assert_problem(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert {"type", "title", "detail", "instance"} <= problem.keys()
    return problem


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "limit=0",
        "limit=101",
        "page=abc",
        "limit=-1",
        "page=1.5",
        "type=book",
        "sort=rating",
        "page=100001",
    ],
)
async def test_bad_page_queries_are_60001(app_client: httpx.AsyncClient, user: User, query: str) -> None:
    response = await app_client.get(f"/v1/watchlist?{query}", headers=user.headers)
    problem = assert_problem(response, 400, 60001)
    field = query.partition("=")[0]
    assert any(error["field"] == field for error in problem["errors"]), problem
    await assert_still_serving(app_client, user)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contentId": "movie:abc"}, "contentId"),
        ({"contentId": "book:1"}, "contentId"),
        ({"contentId": "movie:0"}, "contentId"),
        ({"contentId": "movie:12345678901"}, "contentId"),
        ({"contentId": {"$ne": None}}, "contentId"),
        ({"contentId": ["movie:1"]}, "contentId"),
        ({"contentId": 550}, "contentId"),
        ({}, "contentId"),
        ({"contentId": "movie:1", "userId": "someone-else"}, "userId"),
        ({"contentId": "movie:1", "version": 99}, "version"),
        ({"contentId": "movie:1", "$where": "1"}, "$where"),
        ({"contentId": "movie:1", "items.contentId": "x"}, "items.contentId"),
        ({"contentId": "movie:1", "notes": "x" * 2001}, "notes"),
        ({"contentId": "movie:1", "notes": "é" * 10_000}, "notes"),
        ({"contentId": "movie:1", "notes": 5}, "notes"),
    ],
)
async def test_bad_add_bodies_are_60001(
    app_client: httpx.AsyncClient, user: User, body: dict[str, Any], field: str
) -> None:
    response = await app_client.post("/v1/watchlist", json=body, headers=user.headers)
    problem = assert_problem(response, 400, 60001)
    assert field in str(problem["errors"]) or field in problem["detail"], problem
    await assert_still_serving(app_client, user)
    page = (await app_client.get("/v1/watchlist", headers=user.headers)).json()
    assert page["total"] == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b"",
        b"[]",
        b"null",
        b'{"contentId": "movie:1"',
        b"\xff\xfe\xfa",
        b'{"contentId": "movie:1"}x',
    ],
)
async def test_malformed_json_is_60001(app_client: httpx.AsyncClient, user: User, raw: bytes) -> None:
    response = await app_client.post(
        "/v1/watchlist", content=raw, headers={**user.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, 60001)
    await assert_still_serving(app_client, user)


async def test_deeply_nested_json_is_rejected(app_client: httpx.AsyncClient, user: User) -> None:
    raw = b'{"contentId": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await app_client.post(
        "/v1/watchlist", content=raw, headers={**user.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, 60001)
    await assert_still_serving(app_client, user)


async def test_body_over_the_cap_is_413(app_client: httpx.AsyncClient, user: User) -> None:
    raw = b'{"contentId": "movie:1", "notes": "' + b"x" * (70 * 1024) + b'"}'
    response = await app_client.post(
        "/v1/watchlist", content=raw, headers={**user.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, 60002)
    await assert_still_serving(app_client, user)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/watchlist/movie:1", {"watched": "yes"}),
        ("PATCH", "/v1/watchlist/movie:1", {"rating": 11}),
        ("PATCH", "/v1/watchlist/movie:1", {"rating": 0}),
        ("PATCH", "/v1/watchlist/movie:1", {"contentId": "movie:2"}),
        ("PATCH", "/v1/watchlist/movie:1", {"addedAt": "2020-01-01T00:00:00Z"}),
        ("PATCH", "/v1/watchlist/movie:1", {}),
        ("PUT", "/v1/watchlist/movie:1", {"watched": True, "extra": 1}),
        ("POST", "/v1/watchlist/contains", {"contentIds": []}),
        ("POST", "/v1/watchlist/contains", {"contentIds": ["movie:1"] * 101}),
        ("POST", "/v1/watchlist/contains", {"contentIds": [{"$gt": ""}]}),
        ("POST", "/v1/watchlist/batch", {"add": "movie:1"}),
        ("POST", "/v1/watchlist/batch", {"add": ["movie:1"], "upsert": True}),
        ("GET", "/v1/watchlist/movie:abc", None),
        ("GET", "/v1/watchlist/changes", None),
        ("GET", "/v1/watchlist/changes?since=-1", None),
        ("GET", "/v1/watchlist/changes?since=x", None),
    ],
)
async def test_other_bad_requests_are_60001(
    app_client: httpx.AsyncClient, user: User, method: str, path: str, body: object
) -> None:
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    response = await app_client.request(method, path, json=body, headers=user.headers)
    assert_problem(response, 400, 60001)
    await assert_still_serving(app_client, user)
    item = (await app_client.get("/v1/watchlist/movie:1", headers=user.headers)).json()
    assert item["watched"] is False
    assert item["rating"] is None


async def test_unknown_route_and_method(app_client: httpx.AsyncClient, user: User) -> None:
    assert_problem(await app_client.get("/v1/nothing-here", headers=user.headers), 404, 60004)
    problem = assert_problem(await app_client.put("/v1/watchlist", json={}, headers=user.headers), 405, 60005)
    assert problem["instance"] == "/v1/watchlist"
    await assert_still_serving(app_client, user)


async def test_unicode_notes_are_kept_exactly(app_client: httpx.AsyncClient, user: User) -> None:
    notes = "日本語 🎬 e\u0301 \u202e rtl \u0000 zero"
    response = await app_client.post(
        "/v1/watchlist", json={"contentId": "movie:1", "notes": notes}, headers=user.headers
    )
    assert response.status_code == 201
    assert (await app_client.get("/v1/watchlist/movie:1", headers=user.headers)).json()["notes"] == notes


async def test_unexpected_errors_are_problem_json_500(
    app_client: httpx.AsyncClient, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = resources_of(app_client._transport.app).watchlist  # type: ignore[attr-defined]

    async def broken(user_id: str) -> Stats:
        raise RuntimeError("boom")

    with monkeypatch.context() as patched:
        patched.setattr(service, "stats", broken)
        response = await app_client.get("/v1/watchlist/stats", headers=user.headers)
    problem = assert_problem(response, 500, 50000)
    assert "boom" not in response.text
    assert problem["detail"] == "The server could not answer this request"
    await assert_still_serving(app_client, user)


async def test_user_ids_in_paths_follow_the_token_subject_rules(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    service = bearer(settings, "svc", scopes=[SCOPE_READ_ANY, SCOPE_WRITE_ANY])
    for user_id in ("%EF%B1%B4%C3%B2%0C", "a%20b", "%7Bbraces%7D", "x" * 129):
        response = await app_client.post(
            f"/v1/users/{user_id}/watchlist", json={"contentId": "movie:1"}, headers=service
        )
        assert_problem(response, 400, 60001)
    ok = await app_client.post(
        "/v1/users/auth0|abc:42/watchlist", json={"contentId": "movie:1"}, headers=service
    )
    assert ok.status_code == 201
    assert ok.headers["location"] == "/v1/users/auth0|abc:42/watchlist/movie:1"


@pytest.mark.parametrize("content_id", ["movie:9133201411", "tv:2147483648", "movie:4294967296"])
async def test_tmdb_ids_beyond_32_bits_are_400_everywhere(
    app_client: httpx.AsyncClient, settings: Settings, user: User, content_id: str
) -> None:
    service = bearer(settings, "svc", scopes=[SCOPE_READ_ANY, SCOPE_WRITE_ANY])
    for path, headers in (("/v1/watchlist", user.headers), (f"/v1/users/{user.id}/watchlist", service)):
        added = await app_client.post(path, json={"contentId": content_id}, headers=headers)
        assert_problem(added, 400, 60001)
        assert_problem(await app_client.get(f"{path}/{content_id}", headers=headers), 400, 60001)
        contains = await app_client.post(
            f"{path}/contains", json={"contentIds": [content_id]}, headers=headers
        )
        assert_problem(contains, 400, 60001)
        batch = await app_client.post(path + "/batch", json={"add": [content_id]}, headers=headers)
        assert batch.status_code == 200
        assert batch.json()["invalid"] == [content_id]
    largest = await app_client.post(
        "/v1/watchlist", json={"contentId": "movie:2147483647"}, headers=user.headers
    )
    assert largest.status_code == 201
    await assert_still_serving(app_client, user)
