"""Realtime sockets over time, on servers of their own: heartbeats, expiry, shutdown, Redis outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.conftest import new_user, start_server
from tests.integration.realtime_support import (
    closed_with,
    drain_until_closed,
    open_socket,
    receive,
    still_serving,
    subscribed,
)
from watchlist_dev.processes import ManagedProcess, start_redis
from watchlist_service.config import Settings
from watchlist_service.security import mint_token

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """A replica that sends heartbeats (and checks credentials) every 0.2 s."""
    server = start_server(
        settings,
        tmp_path_factory.mktemp("quick"),
        WATCHLIST_WS_HEARTBEAT_S="0.2",
        WATCHLIST_SHUTDOWN_DRAIN_S="0",
    )
    try:
        yield server
    finally:
        server.stop()


async def raw_message(ws: ClientConnection) -> dict[str, object]:
    message: dict[str, object] = json.loads(await ws.recv())
    return message


async def test_idle_sockets_get_heartbeats(quick_server: ManagedProcess, settings: Settings) -> None:
    user = new_user(settings)
    async with open_socket(quick_server, user.headers) as ws:
        await subscribed(ws)
        assert await raw_message(ws) == {"event": "ping"}
        assert await raw_message(ws) == {"event": "ping"}


async def test_a_socket_closes_with_4401_when_its_credential_expires(
    quick_server: ManagedProcess, settings: Settings
) -> None:
    user = new_user(settings)
    short = mint_token(settings, user.id, ttl_s=2)  # exp is whole seconds: expires in 1 to 2 s
    async with httpx.AsyncClient(base_url=quick_server.url, timeout=10) as client:
        ticket = (
            await client.post("/v1/watchlist/events/ticket", headers={"Authorization": f"Bearer {short}"})
        ).json()["ticket"]
    async with (
        open_socket(quick_server, {"Authorization": f"Bearer {short}"}) as by_header,
        open_socket(quick_server, ticket=ticket) as by_ticket,  # a ticket lives no longer than its token
    ):
        for ws in (by_header, by_ticket):
            await subscribed(ws)
        for ws in (by_header, by_ticket):
            code, reason = await closed_with_pings(ws)
            assert (code, reason) == (4401, "token expired")
    await still_serving(quick_server, user.headers, "movie:1")


async def closed_with_pings(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason, after any number of heartbeats (and nothing else)."""
    received, code, reason = await drain_until_closed(ws, wait_s=5)
    assert all(message == {"event": "ping"} for message in received), received
    return code, reason


async def test_shutdown_drains_then_closes_every_socket_with_1001(
    settings: Settings, tmp_path: Path, two_servers: list[ManagedProcess]
) -> None:
    server = start_server(settings, tmp_path, WATCHLIST_SHUTDOWN_DRAIN_S="2")
    other = two_servers[0]
    try:
        users = [new_user(settings) for _ in range(2)]
        async with (
            open_socket(server, users[0].headers) as first,
            open_socket(server, users[0].headers) as second,
            open_socket(server, users[1].headers) as third,
            httpx.AsyncClient(timeout=10) as client,
        ):
            for ws in (first, second, third):
                await subscribed(ws)
            server.popen.terminate()
            # Draining: not ready any more, and still delivering (a change made on another replica)...
            await until_not_ready(client, server)
            await client.post(
                other.url + "/v1/watchlist", json={"contentId": "tv:1"}, headers=users[1].headers
            )
            assert (await receive(third))["item"]["contentId"] == "tv:1"
            # ...then every socket is closed as "going away", not left to the server's own 1012.
            for ws in (first, second, third):
                assert await closed_with(ws) == (1001, "server shutting down")
        server.popen.wait(timeout=20)
    finally:
        server.stop()
    await still_serving(other, users[0].headers, "movie:1")


async def until_not_ready(client: httpx.AsyncClient, server: ManagedProcess) -> None:
    """Poll readiness until the server says 503 (it has taken the SIGTERM in)."""
    async with asyncio.timeout(5):
        while (await client.get(server.url + "/v1/health/ready")).status_code != 503:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # another process: there is no event to wait on


@pytest.mark.faults
async def test_connected_sockets_catch_up_on_what_was_written_while_redis_was_down(
    settings: Settings, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path / "redis")
    url = f"redis://127.0.0.1:{redis.port}/0"
    server = start_server(settings, tmp_path, WATCHLIST_REDIS_URL=url, WATCHLIST_SHUTDOWN_DRAIN_S="0")
    user, latecomer = new_user(settings), new_user(settings)
    try:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10, headers=user.headers) as rest,
            open_socket(server, user.headers) as ws,
        ):
            await subscribed(ws)
            await rest.post("/v1/watchlist", json={"contentId": "movie:1"})
            assert (await receive(ws))["version"] == 1

            redis.kill()
            during = await rest.post("/v1/watchlist", json={"contentId": "movie:2"})
            assert during.status_code == 201  # the write does not depend on the fan-out
            async with open_socket(server, latecomer.headers) as refused:
                assert await closed_with(refused) == (1013, "try again later")

            redis = start_redis(tmp_path / "redis", redis.port)
            # Once the subscription is back, the socket reads what it missed from the delta feed...
            missed = await receive(ws, wait_s=15)
            assert (missed["event"], missed["version"]) == ("item.added", 2)
            assert missed["item"] == during.json()
            # ...and live events flow again.
            await rest.post("/v1/watchlist", json={"contentId": "movie:3"})
            assert (await receive(ws))["version"] == 3
        await still_serving(server, latecomer.headers, "movie:4")
    finally:
        server.stop()
        redis.stop()
