"""This replica's realtime sockets: serving each one, heartbeats, expiry, and closing them all with 1001."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial
from types import FrameType
from typing import Any

from litestar.channels import ChannelsPlugin
from loguru import logger

from watchlist_service.config import Settings
from watchlist_service.errors import RealtimeUnavailable
from watchlist_service.metrics import WS_CLOSES, WS_SOCKETS
from watchlist_service.ratelimit import RateLimits, budget
from watchlist_service.realtime.fanout import PING, ResilientPubSubBackend, UserSubscriber, channel_for
from watchlist_service.realtime.session import (
    BAD_REQUEST,
    GOING_AWAY,
    TOKEN_EXPIRED,
    TRY_AGAIN_LATER,
    UNAUTHENTICATED,
    Close,
    PeerGone,
    Session,
    Transport,
)
from watchlist_service.realtime.tickets import SocketIdentity, TicketStore, authenticate
from watchlist_service.routes import RateClass
from watchlist_service.security import Principal, TokenVerifier
from watchlist_service.watchlist.service import WatchlistService

SUBSCRIBE_TIMEOUT_S = 5.0
SINCE_MAX_DIGITS = 15
SignalHandler = Callable[[int, FrameType | None], Any]


def parse_since(raw: str | None) -> int | None:
    """``?since=<version>``: ``None`` when absent; ``ValueError`` unless a non-negative integer."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > SINCE_MAX_DIGITS:
        raise ValueError(raw)
    return int(raw)


class RealtimeHub:
    """Serves sockets on this replica; built by the composition root, run while the app runs."""

    def __init__(
        self,
        settings: Settings,
        channels: ChannelsPlugin,
        backend: ResilientPubSubBackend,
        *,
        service: WatchlistService,
        verifier: TokenVerifier,
        limits: RateLimits,
        tickets: TicketStore,
    ) -> None:
        self._settings = settings
        self._channels = channels
        self._backend = backend
        self._service = service
        self._verifier = verifier
        self._limits = limits
        self.tickets = tickets
        self._sessions: set[Session] = set()
        self._connections = 0  # accepted sockets, including those still authenticating or subscribing
        self._all_closed = asyncio.Event()
        self._all_closed.set()
        self._background: set[asyncio.Task[None]] = set()
        self.closing = False

    @property
    def sockets(self) -> int:
        """Open sockets on this replica (authenticated and subscribed)."""
        return len(self._sessions)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Send heartbeats; on the way out, close every socket with 1001 (before pub/sub stops)."""
        ticker = asyncio.create_task(self._heartbeats())
        try:
            yield
        finally:
            await self.close_all()
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker

    async def handle(
        self, transport: Transport, *, authorization: str | None, ticket: str | None, since: str | None
    ) -> None:
        """Serve one accepted socket from its first byte to its close frame."""
        self._connections += 1
        self._all_closed.clear()
        try:
            close = await self._authenticate_and_serve(transport, authorization, ticket, since)
            if close is not None:
                await self.close(transport, close)
        finally:
            self._connections -= 1
            if not self._connections:
                self._all_closed.set()

    async def _authenticate_and_serve(
        self, transport: Transport, authorization: str | None, ticket: str | None, since: str | None
    ) -> Close | None:
        if self.closing:
            return GOING_AWAY
        try:
            identity = await authenticate(
                self._verifier, self.tickets, authorization=authorization, ticket=ticket
            )
        except RealtimeUnavailable:
            return TRY_AGAIN_LATER
        if identity is None:
            return UNAUTHENTICATED
        try:
            resume_from = parse_since(since)
        except ValueError:
            return BAD_REQUEST
        if self.closing:
            return GOING_AWAY
        return await self._serve(transport, identity, resume_from)

    async def _count(self, principal: Principal, declared: RateClass) -> None:
        await self._limits.enforce(budget(declared, principal), principal.sub)

    async def _serve(self, transport: Transport, identity: SocketIdentity, since: int | None) -> Close | None:
        """Subscribe to the user's channel, run the socket's session; returns the close frame owed."""
        user_id = identity.principal.sub
        channel = channel_for(user_id)
        try:
            subscriber = await self._channels.subscribe(channel)
        except Exception as exc:
            logger.warning("realtime subscription failed: {!r}", exc)
            return TRY_AGAIN_LATER
        assert isinstance(subscriber, UserSubscriber)
        session = Session(
            transport,
            user_id,
            self._service,
            subscriber,
            expires_at=identity.expires_at,
            gap_wait_s=self._settings.ws_gap_wait_ms / 1000,
            max_message_bytes=self._settings.max_body_bytes,
            max_held=self._settings.ws_queue_size,
            count=partial(self._count, identity.principal),
        )
        subscriber.on_overflow = session.on_overflow
        self._sessions.add(session)
        WS_SOCKETS.inc()
        try:
            if not await self._confirmed(channel):
                return TRY_AGAIN_LATER
            if self.closing:  # shutdown began while this socket was being set up
                session.end(GOING_AWAY)
            if subscriber.overflowed:
                session.on_overflow()
            return await session.run(since)
        finally:
            self._sessions.discard(session)
            WS_SOCKETS.dec()
            with suppress(Exception):  # Redis down: the subscription goes with the pub/sub connection
                await self._channels.unsubscribe(subscriber, channel)

    async def _confirmed(self, channel: str) -> bool:
        """Wait until Redis confirms the subscription: from then on every event published for the user
        reaches the queue, so a session may read the delta feed without missing what is written meanwhile."""
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await self._backend.wait_subscribed(channel)
        except TimeoutError:
            logger.warning("realtime subscription was not confirmed within {} s", SUBSCRIBE_TIMEOUT_S)
            return False
        return True

    async def close(self, transport: Transport, close: Close) -> None:
        """Send a close frame, waiting at most ``ws_close_timeout_s`` behind a full send buffer."""
        WS_CLOSES.labels(close.label).inc()
        with suppress(TimeoutError, PeerGone, OSError):
            async with asyncio.timeout(self._settings.ws_close_timeout_s):
                await transport.close(close.code, close.reason)

    async def close_all(self) -> None:
        """Close every socket with 1001 and wait (boundedly) until they are gone; refuse new ones."""
        self.closing = True
        if self._connections:
            logger.info("closing {} realtime sockets", self._connections)
        for session in list(self._sessions):
            session.end(GOING_AWAY)
        with suppress(TimeoutError):
            async with asyncio.timeout(self._settings.ws_close_timeout_s + 1):
                await self._all_closed.wait()

    async def _heartbeats(self) -> None:
        """Every ``ws_heartbeat_s``: a ping into each socket's queue, and expired credentials closed."""
        while True:
            await asyncio.sleep(self._settings.ws_heartbeat_s)
            now = time.time()
            for session in list(self._sessions):
                if session.expired(now):
                    session.end(TOKEN_EXPIRED)
                else:
                    session.subscriber.put_nowait(PING)  # a full queue here is a slow consumer, too

    @asynccontextmanager
    async def signal_relay(self) -> AsyncIterator[None]:
        """Close the sockets with 1001 before the server's own shutdown sees SIGTERM / SIGINT.

        uvicorn answers these signals by closing every WebSocket itself, with 1012, before the application's
        lifespan ends. So where a server has installed its own handlers (and only in the main thread), the
        hub puts itself in front of them: it closes its sockets, then hands the signal on; a second signal
        goes straight on. Entered before every other lifespan, so a handler installed later (the SIGTERM
        drain) wraps this one: first the drain (readiness 503, still serving), then 1001, then uvicorn.
        """
        restore = self._relay_signals()
        try:
            yield
        finally:
            restore()

    def _relay_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        installed: list[tuple[signal.Signals, SignalHandler, SignalHandler]] = []

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous) or previous is signal.default_int_handler:
                continue

            def relay(sig: int, frame: FrameType | None, previous: SignalHandler = previous) -> None:
                loop.call_soon_threadsafe(self._on_signal, previous, sig)

            signal.signal(signum, relay)
            installed.append((signum, previous, relay))

        def restore() -> None:
            for signum, previous, relay in installed:
                if signal.getsignal(signum) is relay:
                    signal.signal(signum, previous)

        return restore

    def _on_signal(self, previous: SignalHandler, signum: int) -> None:
        if self.closing:
            previous(signum, None)
            return

        async def close_then_hand_on() -> None:
            try:
                await self.close_all()
            finally:
                previous(signum, None)

        task = asyncio.get_running_loop().create_task(close_then_hand_on())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
