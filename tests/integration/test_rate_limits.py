"""Inbound rate limits: per user and route class, per IP for failed authentication, shared through Redis."""

from __future__ import annotations

import uuid

from tests.conftest import ClientFactory, User, bearer, new_user, serve_in_process
from watchlist_service.app import create_app
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_READ_ANY


async def test_a_service_token_has_its_own_budget_not_a_users(
    make_client: ClientFactory, settings: Settings
) -> None:
    user = new_user(settings)
    service = bearer(settings, "svc-" + uuid.uuid4().hex, scopes=[SCOPE_READ_ANY])
    async with make_client(rate_limit_reads="2/minute", rate_limit_service="5/minute") as client:
        # Five reads of the user's list by the service: more than the user's own read budget.
        path = f"/v1/users/{user.id}/watchlist"
        statuses = [(await client.get(path, headers=service)).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        refused = await client.get(path, headers=service)
        assert refused.headers["ratelimit-limit"] == "5"
        # The user's own budget was not touched by the service's reads.
        own = await client.get("/v1/watchlist", headers=user.headers)
        assert own.status_code == 200
        assert own.headers["ratelimit-remaining"] == "1"


async def test_writes_are_limited_per_user_with_headers(
    make_client: ClientFactory, settings: Settings
) -> None:
    async with make_client(rate_limit_writes="3/minute", rate_limit_reads="1000/minute") as client:
        user, other = new_user(settings), new_user(settings)
        remaining = []
        for n in range(3):
            response = await client.post(
                "/v1/watchlist", json={"contentId": f"movie:{n + 1}"}, headers=user.headers
            )
            assert response.status_code == 201
            assert response.headers["ratelimit-limit"] == "3"
            remaining.append(int(response.headers["ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        refused = await client.post("/v1/watchlist", json={"contentId": "movie:9"}, headers=user.headers)
        assert refused.status_code == 429
        assert refused.json()["code"] == 60003
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        # Reads have their own budget; other users theirs; health is never limited.
        assert (await client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 3
        assert (
            await client.post("/v1/watchlist", json={"contentId": "movie:9"}, headers=other.headers)
        ).status_code == 201
        for _ in range(5):
            assert (await client.get("/v1/health/live")).status_code == 200
        assert "ratelimit-limit" not in (await client.get("/v1/health/live")).headers


async def test_limits_are_shared_by_replicas(
    backends: object, settings: Settings, make_client: ClientFactory
) -> None:
    user = new_user(settings)
    async with (
        make_client(rate_limit_reads="4/minute") as first,
        make_client(rate_limit_reads="4/minute") as second,
    ):
        statuses = [
            (await client.get("/v1/watchlist", headers=user.headers)).status_code
            for client in (first, second, first, second, first)
        ]
    assert statuses == [200, 200, 200, 200, 429]


async def test_failed_authentication_is_limited_per_client_ip(make_client: ClientFactory, user: User) -> None:
    # An address of its own (through a trusted hop), so failures of other tests from the test client's
    # address within the same minute do not count here.
    address = {"X-Forwarded-For": f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"}
    trusted = ["127.0.0.0/8"]
    async with make_client(rate_limit_failed_auth="3/minute", trusted_proxies=trusted) as client:
        bad = {"Authorization": "Bearer " + uuid.uuid4().hex, **address}
        statuses = [(await client.get("/v1/watchlist", headers=bad)).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        # A valid token this process has already verified is not held back by its address's failures...
        async with make_client(rate_limit_failed_auth="1000/minute", trusted_proxies=trusted) as warm:
            assert (await warm.get("/v1/watchlist", headers={**user.headers, **address})).status_code == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(make_client: ClientFactory) -> None:
    bad = {"Authorization": "Bearer nope"}
    trusted = ["127.0.0.0/8", "10.0.0.0/8"]  # the ASGI test client and an ingress hop
    async with make_client(rate_limit_failed_auth="2/minute", trusted_proxies=trusted) as client:
        # Both hops are trusted, so the left-most address is the client.
        for address in ("203.0.113.7", "203.0.113.8"):
            headers = {**bad, "X-Forwarded-For": f"{address}, 10.0.0.1"}
            statuses = [(await client.get("/v1/watchlist", headers=headers)).status_code for _ in range(3)]
            assert statuses == [401, 401, 429], address
    async with make_client(rate_limit_failed_auth="2/minute") as client:
        # Not trusted: a spoofed header does not get an attacker a fresh budget.
        statuses = [
            (
                await client.get("/v1/watchlist", headers={**bad, "X-Forwarded-For": f"198.51.100.{n}"})
            ).status_code
            for n in range(3)
        ]
        assert statuses[-1] == 429


async def test_without_redis_requests_are_not_limited(settings: Settings, backends: object) -> None:
    unlimited = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:9/0", "redis_timeout_ms": 50, "rate_limit_writes": "1/minute"}
    )
    async with serve_in_process(create_app(unlimited)) as client:
        user = new_user(settings)
        for n in range(3):
            response = await client.post(
                "/v1/watchlist", json={"contentId": f"movie:{n + 1}"}, headers=user.headers
            )
            assert response.status_code == 201


async def test_options_requests_pass_without_a_user(make_client: ClientFactory, user: User) -> None:
    async with make_client() as client:
        for path in ("/v1/watchlist", "/v1/watchlist/stats", "/v1/watchlist/movie:1"):
            response = await client.options(path, headers=user.headers)
            assert response.status_code == 204, response.text
