"""Helpers for the realtime tests: real ``watchlist-service serve`` processes and a real WebSocket client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from watchlist_dev.processes import ManagedProcess

EVENTS_PATH = "/v1/watchlist/events"
Message = dict[str, Any]


def ws_url(server: ManagedProcess, **query: str | int) -> str:
    suffix = f"?{urlencode(query)}" if query else ""
    return f"ws://127.0.0.1:{server.port}{EVENTS_PATH}{suffix}"


@asynccontextmanager
async def open_socket(
    server: ManagedProcess,
    headers: dict[str, str] | None = None,
    *,
    slow_reader: bool = False,
    **query: str | int,
) -> AsyncIterator[ClientConnection]:
    """A client socket; ``slow_reader`` makes it one that reads nothing until asked to (tiny buffers)."""
    options: dict[str, Any] = {"additional_headers": headers or {}, "open_timeout": 5}
    with contextlib.ExitStack() as stack:
        if slow_reader:
            sock = stack.enter_context(socket.socket())  # closed here whatever becomes of the connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
            options.update(sock=sock, max_queue=1, compression=None)
        async with connect(ws_url(server, **query), **options) as ws:
            yield ws


async def receive(ws: ClientConnection, wait_s: float = 2.0) -> Message:
    """The next message that is not a heartbeat."""
    async with asyncio.timeout(wait_s):
        while True:
            message: Message = json.loads(await ws.recv())
            if message.get("event") != "ping":
                return message


async def receive_events(ws: ClientConnection, count: int, wait_s: float = 3.0) -> list[Message]:
    return [await receive(ws, wait_s) for _ in range(count)]


async def request(ws: ClientConnection, op: str, **args: Any) -> tuple[Message, list[Message]]:
    """Send an op; returns its reply and the events that arrived before it."""
    request_id = uuid.uuid4().hex
    await ws.send(json.dumps({"op": op, "requestId": request_id, **args}))
    events: list[Message] = []
    while True:
        message = await receive(ws)
        if message.get("requestId") == request_id:
            return message, events
        events.append(message)


async def subscribed(ws: ClientConnection) -> None:
    """Return once the server has subscribed the socket: it answers ops only from then on."""
    reply, events = await request(ws, "list", limit=1)
    assert reply["status"] == 200
    assert events == []


async def closed_with(ws: ClientConnection, wait_s: float = 5.0) -> tuple[int, str]:
    """The close code and reason the server sends, asserting nothing came before it."""
    async with asyncio.timeout(wait_s):
        await ws.wait_closed()
    with pytest.raises(ConnectionClosed):  # nothing is left to read: the close came first
        await ws.recv()
    return close_frame(ws)


async def drain_until_closed(ws: ClientConnection, wait_s: float = 30.0) -> tuple[list[Message], int, str]:
    """Read whatever the server had buffered until its close frame; returns messages, code, reason."""
    received: list[Message] = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(wait_s):
            while True:
                received.append(json.loads(await ws.recv()))
    return received, *close_frame(ws)


def close_frame(ws: ClientConnection) -> tuple[int, str]:
    rcvd = ws.protocol.close_rcvd
    assert rcvd is not None, "the connection dropped without a close frame"
    return rcvd.code, rcvd.reason


async def still_serving(server: ManagedProcess, headers: dict[str, str], content_id: str) -> None:
    """The replica answers readiness and pushes a fresh event to a fresh socket."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        assert (await client.get("/v1/health/ready")).status_code == 200
        async with open_socket(server, headers) as ws:
            await subscribed(ws)
            response = await client.post("/v1/watchlist", json={"contentId": content_id}, headers=headers)
            assert response.status_code == 201
            event = await receive(ws)
            assert event["event"] == "item.added"
            assert event["item"]["contentId"] == content_id


async def metric(server: ManagedProcess, name: str, **labels: str) -> float:
    """One sample of the server's Prometheus metrics (0 when absent)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(server.url + "/metrics")).text
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(name + ("{" + selector + "}" if selector else "")) + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0
