"""The TMDb client's retry, deadline, breaker and allow-list logic, at the transport seam (no network)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from watchlist_service.catalog.client import TmdbClient, parse_retry_after
from watchlist_service.catalog.limiter import LocalWindow, OutboundLimiter
from watchlist_service.errors import CatalogUnavailable, MovieNotFound, TvNotFound
from watchlist_service.infra.breaker import CircuitBreaker

Handler = Callable[[httpx.Request], httpx.Response]
OK_BODY = {"id": 550, "title": "Fight Club"}


class Upstream:
    """Scripted answers, one per request (the last one repeats), and the requests seen."""

    def __init__(self, *answers: httpx.Response | type[Exception]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, type):
            raise answer("scripted failure")
        return answer


def tmdb_client(
    upstream: Upstream,
    *,
    max_retries: int = 3,
    breaker_failures: int = 100,
    api_key: str | None = None,
    rate_limit: int = 1_000,
) -> TmdbClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream), base_url="http://tmdb.test")
    breaker = CircuitBreaker("tmdb-test", failure_threshold=breaker_failures, reset_after_s=60)
    limiter = OutboundLimiter(
        None,
        limit=1,
        margin_ms=0,
        fallback_limit=rate_limit,
    )
    return TmdbClient(
        http,
        limiter,
        breaker,
        connect_timeout_s=1.0,
        read_timeout_s=1.0,
        max_retries=max_retries,
        backoff_base_s=0.001,
        backoff_max_s=0.01,
        api_key=api_key,
    )


def deadline_in(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_a_200_json_object_is_returned() -> None:
    upstream = Upstream(httpx.Response(200, json=OK_BODY))
    assert await tmdb_client(upstream).details("movie", 550, deadline=deadline_in(5)) == OK_BODY
    assert str(upstream.requests[0].url) == "http://tmdb.test/3/movie/550"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
        httpx.Response(429),
        httpx.Response(200, content=b'{"page":1,"results":[<html>'),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.ConnectError,
        httpx.RemoteProtocolError,
        httpx.ReadTimeout,
    ],
)
async def test_transient_failures_are_retried(failure: httpx.Response | type[Exception]) -> None:
    upstream = Upstream(failure, failure, httpx.Response(200, json=OK_BODY))
    assert await tmdb_client(upstream).details("movie", 550, deadline=deadline_in(5)) == OK_BODY
    assert len(upstream.requests) == 3


async def test_after_the_last_retry_the_catalog_is_unavailable() -> None:
    upstream = Upstream(httpx.Response(500))
    with pytest.raises(CatalogUnavailable) as caught:
        await tmdb_client(upstream, max_retries=2).details("movie", 550, deadline=deadline_in(5))
    assert len(upstream.requests) == 3
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1


async def test_retry_after_is_honoured_and_passed_on() -> None:
    upstream = Upstream(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json=OK_BODY))
    started = time.monotonic()
    assert await tmdb_client(upstream).details("movie", 550, deadline=deadline_in(5)) == OK_BODY
    assert time.monotonic() - started >= 0.95

    upstream = Upstream(httpx.Response(503, headers={"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable) as caught:
        await tmdb_client(upstream).details("movie", 550, deadline=deadline_in(5))
    assert time.monotonic() - started < 0.5  # waiting would pass the deadline: give up at once
    assert caught.value.retry_after == 120
    assert len(upstream.requests) == 1


async def test_no_retry_is_started_that_cannot_finish_before_the_deadline() -> None:
    upstream = Upstream(httpx.Response(500))
    client = tmdb_client(upstream, max_retries=10)
    client._backoff_base_s = client._backoff_max_s = 0.3
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable):
        await client.details("movie", 550, deadline=deadline_in(0.5))
    # Given up at the deadline (plus the event loop's scheduling slack on a busy machine), not one backoff
    # (0.15..0.3 s) past it.
    assert time.monotonic() - started < 0.5 + 0.12
    # "Equal jitter" waits 0.15..0.3 s: attempts at 0, 0.15, 0.3 and 0.45 s at the very most, none after.
    assert len(upstream.requests) <= 4


@pytest.mark.parametrize(("kind", "error"), [("movie", MovieNotFound), ("tv", TvNotFound)])
async def test_404_of_a_title_is_not_found_without_retry(kind: Any, error: type[Exception]) -> None:
    upstream = Upstream(httpx.Response(404, json={"status_code": 34}))
    client = tmdb_client(upstream, breaker_failures=1)
    with pytest.raises(error):
        await client.details(kind, 999, deadline=deadline_in(5))
    assert len(upstream.requests) == 1
    assert client.breaker.allows()  # TMDb is fine: a 404 is not a failure


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_other_client_errors_are_unavailable_without_retry(status: int) -> None:
    upstream = Upstream(httpx.Response(status, json={"status_code": 7}))
    with pytest.raises(CatalogUnavailable):
        await tmdb_client(upstream).discover("movie", "popularity.desc", 1, deadline=deadline_in(5))
    assert len(upstream.requests) == 1


async def test_the_breaker_opens_and_then_nothing_is_sent() -> None:
    upstream = Upstream(httpx.Response(500))
    client = tmdb_client(upstream, max_retries=0, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(CatalogUnavailable):
            await client.details("movie", 550, deadline=deadline_in(5))
    with pytest.raises(CatalogUnavailable) as caught:
        await client.details("movie", 550, deadline=deadline_in(5))
    assert len(upstream.requests) == 2
    assert caught.value.retry_after is not None
    assert 55 <= caught.value.retry_after <= 60  # when the breaker lets a probe through


async def test_only_allow_listed_parameters_reach_tmdb() -> None:
    upstream = Upstream(httpx.Response(200, json={"results": []}))
    client = tmdb_client(upstream)
    await client.discover("tv", "name.asc", 3, deadline=deadline_in(5))
    await client.search_multi("fight & club?", 2, deadline=deadline_in(5))
    discover, search = upstream.requests
    assert discover.url.path == "/3/discover/tv"
    assert dict(discover.url.params) == {"sort_by": "name.asc", "page": "3", "include_adult": "false"}
    assert search.url.path == "/3/search/multi"
    assert dict(search.url.params) == {"query": "fight & club?", "page": "2", "include_adult": "false"}

    keyed = Upstream(httpx.Response(200, json=OK_BODY))
    await tmdb_client(keyed, api_key="v3-key").details("movie", 550, deadline=deadline_in(5))
    assert dict(keyed.requests[0].url.params) == {"api_key": "v3-key"}


@pytest.mark.parametrize(
    "call",
    [
        lambda c, d: c.details("movie", 0, deadline=d),
        lambda c, d: c.details("movie", -1, deadline=d),
        lambda c, d: c.details("movie", 2**31, deadline=d),
        lambda c, d: c.details("tv", True, deadline=d),
        lambda c, d: c.discover("movie", "name.asc", 1, deadline=d),  # a TV order
        lambda c, d: c.discover("movie", "revenue.desc", 1, deadline=d),  # not on the allow-list
        lambda c, d: c.discover("movie", "popularity.desc", 501, deadline=d),
        lambda c, d: c.discover("movie", "popularity.desc", 0, deadline=d),
        lambda c, d: c.search_multi("", 1, deadline=d),
        lambda c, d: c.search_multi("x" * 201, 1, deadline=d),
    ],
)
async def test_nothing_unchecked_reaches_the_upstream_url(call: Any) -> None:
    upstream = Upstream(httpx.Response(200, json=OK_BODY))
    with pytest.raises(ValueError, match=r"TMDb|allowed|query"):
        await call(tmdb_client(upstream), deadline_in(5))
    assert upstream.requests == []


async def test_rate_limit_waits_for_a_slot_within_the_deadline() -> None:
    upstream = Upstream(httpx.Response(200, json=OK_BODY))
    client = tmdb_client(upstream, rate_limit=2)
    client._limiter._local = LocalWindow(2, 0.3)
    started = time.monotonic()
    for _ in range(4):
        await client.details("movie", 550, deadline=deadline_in(5))
    assert time.monotonic() - started >= 0.29  # the third request waited for the window
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable):
        await client.details("movie", 550, deadline=deadline_in(0.1))  # no slot before its deadline
    assert time.monotonic() - started < 0.1
    assert len(upstream.requests) == 4


def test_local_window_admits_limit_per_window() -> None:
    window = LocalWindow(3, 0.2)
    assert [window.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = window.try_acquire()
    assert 0 < wait <= 0.2


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("100000") == 300.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after(future)
    assert seconds is not None
    assert 25 <= seconds <= 30
    assert parse_retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0
