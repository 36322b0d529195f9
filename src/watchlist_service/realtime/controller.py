"""Realtime routes: the events socket and the one-time tickets that let browsers open it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Controller, Request, WebSocket, post, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.status_codes import HTTP_201_CREATED
from msgspec import Struct

from watchlist_service.errors import RealtimeUnavailable
from watchlist_service.openapi import docs
from watchlist_service.realtime.hub import RealtimeHub
from watchlist_service.realtime.session import PeerGone
from watchlist_service.realtime.tickets import SocketIdentity, token_expiry
from watchlist_service.routes import RateClass, facts
from watchlist_service.security import Principal


class Ticket(Struct, rename="camel"):
    """A one-time credential for ``WS /v1/watchlist/events?ticket=...``."""

    ticket: str
    expires_in: int


class LitestarTransport:
    """A Litestar WebSocket as a session ``Transport``."""

    __slots__ = ("_socket",)

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._socket = socket

    async def send(self, data: bytes) -> None:
        """Send one text frame."""
        try:
            await self._socket.send({"type": "websocket.send", "text": data.decode(), "bytes": None})
        except (WebSocketDisconnect, OSError) as exc:
            raise PeerGone from exc

    async def receive(self) -> str | bytes | None:
        """The next text or binary message; ``None`` once the peer has gone."""
        try:
            message = await self._socket.receive()
        except WebSocketDisconnect:
            return None
        if message["type"] != "websocket.receive":
            return None
        text = message.get("text")
        return text if text is not None else (message.get("bytes") or b"")

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame."""
        try:
            await self._socket.close(code=code, reason=reason)
        except (WebSocketDisconnect, OSError) as exc:
            raise PeerGone from exc


class RealtimeController(Controller):
    """``WS /v1/watchlist/events`` and its tickets."""

    path = "/v1/watchlist/events"
    tags = ["Realtime"]

    @websocket("/", name="watchlistEvents", opt={"exclude_from_auth": True})
    async def events(self, socket: WebSocket[Any, Any, State], hub: NamedDependency[RealtimeHub]) -> None:
        """The user's list changes pushed as they happen (from every replica), and list ops as messages.

        Authenticated here, not by the HTTP middleware: a bad credential then is a close frame with 4401,
        which browsers can see, instead of a refused handshake, which they cannot.
        """
        # Read from the raw scope: ``socket.headers`` / ``query_params`` would be parsed and cached on the
        # scope for the socket's whole life, a kilobyte or two per idle socket.
        authorization = next((v for k, v in socket.scope["headers"] if k == b"authorization"), None)
        query = dict(parse_qsl(socket.scope["query_string"].decode("latin-1")))
        await socket.accept()
        await hub.handle(
            LitestarTransport(socket),
            authorization=authorization.decode("latin-1") if authorization is not None else None,
            ticket=query.get("ticket"),
            since=query.get("since"),
        )

    @post(
        "/ticket",
        operation_id="createEventsTicket",
        summary="Get a ticket for the events socket",
        description="A one-time ticket, valid for 30 s, for `WS /v1/watchlist/events?ticket=...`, where a "
        "browser cannot set `Authorization`. 503 `realtime-unavailable` while Redis, which keeps the "
        "tickets, is down.",
        status_code=HTTP_201_CREATED,
        opt=facts(RateClass.READS, errors=(RealtimeUnavailable,))
        | docs(response={"ticket": "Zq3v9Kf0bTt2mW8xJc1yRg", "expiresIn": 30}),
    )
    async def ticket(
        self, request: Request[Principal, str, State], hub: NamedDependency[RealtimeHub]
    ) -> Ticket:
        """A one-time ticket, valid for 30 s, to open the events socket where no header can be set."""
        identity = SocketIdentity(request.user, token_expiry(request.auth))
        return Ticket(ticket=await hub.tickets.issue(identity), expires_in=hub.tickets.ttl_s)
