"""The client's hand-written layer at the transport seam: bearer auth, bounded retries after ``Retry-After``
on 503 and 429, and one ``Idempotency-Key`` per add, reused across its own retries (docs/design.md §8)."""

from __future__ import annotations

import uuid

import httpx
import msgspec
import pytest

from watchlist_client.service import RetryingTransport, RetryPolicy, WatchlistError, WatchlistService
from watchlist_service.errors import DatabaseUnavailable, problem_body
from watchlist_service.watchlist.examples import BATCH_RESULT, ITEM


def _unavailable(retry_after: str | None = "1") -> httpx.Response:
    body = problem_body(DatabaseUnavailable(), "/v1/users/u1/watchlist")
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, json=body, headers=headers | {"Content-Type": "application/problem+json"})


class Recorder:
    """Answers from a script and keeps every request and every wait."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.waits: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def _service(recorder: Recorder, policy: RetryPolicy | None = None) -> WatchlistService:
    return WatchlistService(
        "http://watchlist.test",
        "service-token",
        retry=policy,
        transport=httpx.MockTransport(recorder),
        sleep=recorder.sleep,
    )


async def test_an_add_is_retried_after_retry_after_with_the_same_idempotency_key() -> None:
    recorder = Recorder(
        _unavailable("1"), _unavailable("2"), httpx.Response(201, json=msgspec.to_builtins(ITEM))
    )
    service = _service(recorder)
    item = await service.add("u1", "movie:550", notes="with Sam on Friday")
    assert item.content_id == "movie:550"
    assert recorder.waits == [1.0, 2.0]
    keys = {request.headers["idempotency-key"] for request in recorder.requests}
    assert len(recorder.requests) == 3
    assert len(keys) == 1
    uuid.UUID(keys.pop(), version=4)
    assert {r.headers["authorization"] for r in recorder.requests} == {"Bearer service-token"}
    assert {r.url.path for r in recorder.requests} == {"/v1/users/u1/watchlist"}


async def test_each_add_and_batch_gets_a_key_of_its_own() -> None:
    recorder = Recorder(
        httpx.Response(201, json=msgspec.to_builtins(ITEM)),
        httpx.Response(201, json=msgspec.to_builtins(ITEM)),
        httpx.Response(200, json=msgspec.to_builtins(BATCH_RESULT)),
    )
    service = _service(recorder)
    await service.add("u1", "movie:550")
    await service.add("u1", "movie:550")
    result = await service.batch("u1", add=["tv:1396"], remove=["movie:603"])
    assert result.added == ["tv:1396"]
    assert len({request.headers["idempotency-key"] for request in recorder.requests}) == 3


async def test_retries_are_bounded_in_number_and_in_wait() -> None:
    recorder = Recorder(*[_unavailable("1") for _ in range(4)])
    service = _service(recorder, RetryPolicy(max_retries=3, max_wait_s=5))
    with pytest.raises(WatchlistError) as raised:
        await service.stats("u1")
    assert (raised.value.status, raised.value.code, raised.value.slug) == (503, 50001, "database-unavailable")
    assert recorder.waits == [1.0, 1.0, 1.0]
    assert len(recorder.requests) == 4

    too_long = Recorder(_unavailable("30"))
    with pytest.raises(WatchlistError):
        await _service(too_long, RetryPolicy(max_wait_s=5)).stats("u1")
    assert too_long.waits == []  # a wait longer than allowed is the caller's decision, not a silent stall


async def test_without_retry_after_it_backs_off_exponentially() -> None:
    recorder = Recorder(
        _unavailable(None),
        _unavailable(None),
        httpx.Response(200, json={"movie:550": True, "tv:1396": False}),
    )
    service = _service(recorder, RetryPolicy(first_backoff_s=0.25))
    assert await service.contains("u1", ["movie:550", "tv:1396"]) == {"movie:550": True, "tv:1396": False}
    assert recorder.waits == [0.25, 0.5]


async def test_a_post_that_is_not_safe_to_repeat_is_not_retried() -> None:
    recorder = Recorder(_unavailable("1"))
    transport = RetryingTransport(httpx.MockTransport(recorder), sleep=recorder.sleep)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchlist.test") as client:
        response = await client.post("/v1/users/u1/watchlist", json={"contentId": "movie:550"})
    assert response.status_code == 503
    assert recorder.waits == []
    assert transport.retries == 0


async def test_a_problem_becomes_a_watchlist_error_with_its_code() -> None:
    body = {
        "type": "https://watchlist.example.com/problems/not-in-list",
        "title": "Not in the list",
        "status": 404,
        "detail": "movie:550 is not in the list",
        "code": 40002,
        "instance": "/v1/users/u1/watchlist/movie:550",
    }
    recorder = Recorder(httpx.Response(404, json=body, headers={"Content-Type": "application/problem+json"}))
    with pytest.raises(WatchlistError) as raised:
        await _service(recorder).get("u1", "movie:550")
    assert (raised.value.status, raised.value.code, raised.value.slug) == (404, 40002, "not-in-list")
    assert recorder.waits == []
