"""One authenticated socket: the user's list events in version order, and ops answered exactly like REST.

Two tasks per socket. The pusher drains the socket's bounded queue (events from pub/sub, ping and gap
markers) and sends; the answerer reads op messages and replies. Whatever ends the socket (the peer leaving,
a slow consumer, shutdown, an expired token) resolves one future that ``run`` waits on.

Versions of a user's list are contiguous (every change bumps it by one), which makes the stream checkable:

- resume: the caller subscribes first, then ``run(since)`` reads the delta feed and sends what it holds
  after ``since``; live events that queued up meanwhile and are covered by the feed (version <= the feed's)
  are dropped: no gap, no duplicate;
- live: an event one above the last sent goes out; one at or below is a duplicate and dropped; one further
  ahead is held for ``gap_wait_s`` (two replicas may publish out of order), then the delta feed fills the
  gap (an event whose publish failed is recovered this way, too);
- backlog: the queue is bounded. When it is full while the pusher is blocked in a send, the client is not
  reading (the transport's and the kernel's buffers are full as well): the socket is closed with 1008. When
  it is full for any other reason (a burst), the backlog is folded into one catch-up from the delta feed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import msgspec
from loguru import logger
from msgspec import UNSET, UnsetType

from watchlist_service.errors import DomainError, ResyncRequired, problem_body
from watchlist_service.metrics import WS_MESSAGES
from watchlist_service.realtime.fanout import GAP, PING, UserSubscriber
from watchlist_service.realtime.messages import (
    PING_MESSAGE,
    AddOp,
    ListOp,
    Op,
    RemoveOp,
    ReorderOp,
    RequestId,
    UpdateOp,
    change_event,
    decode_document,
    decode_head,
    parse_op,
    reply_message,
    request_id_of,
    resync_message,
)
from watchlist_service.routes import RateClass
from watchlist_service.watchlist.schemas import ListView
from watchlist_service.watchlist.service import WatchlistService

WATCHLIST_PATH = "/v1/watchlist"
EVENTS_PATH = "/v1/watchlist/events"
_encode = msgspec.json.Encoder().encode
_SENT = {kind: WS_MESSAGES.labels(kind) for kind in ("event", "catch_up", "resync", "reply", "ping")}
# Counts one op against the caller's rate limits as the REST request it stands for (that route's declared
# class); raises ``RateLimited`` over the limit.
CountRequest = Callable[[RateClass], Awaitable[object]]


class PeerGone(Exception):
    """The other end of the socket is gone; nothing more can be sent."""


class Transport(Protocol):
    """What a session needs from a WebSocket."""

    async def send(self, data: bytes) -> None:
        """Send one text message; ``PeerGone`` when the peer has left."""

    async def receive(self) -> str | bytes | None:
        """The next message, or ``None`` once the peer has left."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame."""


@dataclass(frozen=True, slots=True)
class Close:
    """How the server ends a socket: close code, reason, and the label it is counted under."""

    code: int
    reason: str
    label: str


GOING_AWAY = Close(1001, "server shutting down", "shutdown")
INTERNAL_ERROR = Close(1011, "internal error", "error")
SLOW_CONSUMER = Close(1008, "slow consumer", "slow_consumer")
TRY_AGAIN_LATER = Close(1013, "try again later", "unavailable")
BAD_REQUEST = Close(4400, "invalid since", "bad_request")
UNAUTHENTICATED = Close(4401, "unauthenticated", "unauthenticated")
TOKEN_EXPIRED = Close(4401, "token expired", "token_expired")


class Session:
    """The protocol of one socket of one user."""

    __slots__ = (
        "_close",
        "_count",
        "_ended",
        "_floor",
        "_gap_deadline",
        "_gap_wait_s",
        "_handler",
        "_held",
        "_interrupting",
        "_max_held",
        "_max_message_bytes",
        "_sending",
        "_service",
        "_transport",
        "expires_at",
        "last",
        "subscriber",
        "user_id",
    )

    def __init__(
        self,
        transport: Transport,
        user_id: str,
        service: WatchlistService,
        subscriber: UserSubscriber,
        *,
        expires_at: float | None,
        gap_wait_s: float,
        max_message_bytes: int,
        max_held: int,
        count: CountRequest,
    ) -> None:
        self.user_id = user_id
        self._count = count
        self.expires_at = expires_at
        self.subscriber = subscriber
        self._transport = transport
        self._service = service
        self._gap_wait_s = gap_wait_s
        self._max_message_bytes = max_message_bytes
        self._max_held = max_held
        self._ended = False
        self._close: Close | None = None
        self._handler: asyncio.Task[object] | None = None  # the task that runs `run` (and answers ops)
        self._interrupting = False
        self.last: int | None = None  # the version the client is known to be at
        self._held: dict[int, bytes] | None = None  # events that came ahead of a missing version
        self._gap_deadline: float | None = None
        self._floor: int | None = None  # where to catch up from after a collapse, while `last` is unknown
        self._sending = False

    def end(self, close: Close | None) -> None:
        """End the socket (``None``: the peer left, no close frame is due); the first call wins.

        Called from elsewhere (the pusher, the pub/sub receiver, the hub), it interrupts the handler task,
        which is waiting for the next op message.
        """
        if self._ended:
            return
        self._ended, self._close = True, close
        handler = self._handler
        if handler is not None and handler is not asyncio.current_task() and not handler.done():
            self._interrupting = True
            handler.cancel()

    def on_overflow(self) -> None:
        """The queue is full. If the pusher is stuck in a send, the transport's buffer and the kernel's are
        full too: the consumer is too slow to keep. Otherwise this is a burst the pusher has not had a turn
        for yet (a 100-op batch): the backlog becomes one catch-up from the delta feed, and memory stays
        bounded either way."""
        if self._sending:
            self.end(SLOW_CONSUMER)
            return
        lowest = self.subscriber.collapse()
        if self.last is None and lowest is not None:
            self._floor = lowest - 1 if self._floor is None else min(self._floor, lowest - 1)

    def expired(self, now: float) -> bool:
        """Whether the credential the socket was opened with has expired."""
        return self.expires_at is not None and now >= self.expires_at

    async def run(self, since: int | None) -> Close | None:
        """Push and answer until the socket ends; returns the close frame the server owes the peer.

        The calling task answers ops; the pusher is the one task a socket adds (memory per idle socket is
        what bounds how many sockets a worker holds).
        """
        if self._ended:
            return self._close
        handler = asyncio.current_task()
        pusher = asyncio.create_task(self._guard(partial(self._push, since)))
        try:
            self._handler = handler
            try:
                await self._guard(self._answer_ops)
            finally:
                self._handler = None  # from here on, `end` does not interrupt this task
        except asyncio.CancelledError:
            # Only our own interruption is absorbed; a cancellation from outside (server shutdown) goes on.
            if not self._interrupting or handler is None or handler.uncancel() > 0:
                raise
        finally:
            pusher.cancel()
            with suppress(asyncio.CancelledError):
                await pusher
        return self._close

    async def _guard(self, work: Callable[[], Awaitable[None]]) -> None:
        # Takes a callable, not a coroutine: a task cancelled before its first step never awaits what it
        # was given, and an unawaited coroutine is a warning.
        try:
            await work()
        except PeerGone:
            self.end(None)
        except DomainError as error:  # MongoDB down while catching up: come back later with `since`
            logger.warning("realtime socket ended: {} {}", error.slug, error.detail)
            self.end(TRY_AGAIN_LATER)
        except Exception:
            logger.exception("realtime socket failed")
            self.end(INTERNAL_ERROR)

    async def _send(self, data: bytes, kind: str) -> None:
        await self._transport.send(data)
        _SENT[kind].inc()

    async def _push_message(self, data: bytes, kind: str) -> None:
        self._sending = True
        try:
            await self._send(data, kind)
        finally:
            self._sending = False

    # --- pushing events

    async def _push(self, since: int | None) -> None:
        if since is not None:
            await self._catch_up(since)
        while True:
            item = await self._next()
            if item is None:  # the Channels plugin stopped this subscriber: the app is stopping
                self.end(GOING_AWAY)
                return
            if item is PING:
                await self._push_message(PING_MESSAGE, "ping")
            elif item is GAP:
                since = self.last if self.last is not None else self._floor
                if since is not None:
                    await self._catch_up(since)
            else:
                await self._on_event(item)

    async def _next(self) -> bytes | None:
        """The next queued item; when a gap has waited long enough, fill it from the feed first."""
        while True:
            if self._gap_deadline is None:
                return await self.subscriber.get()
            delay = self._gap_deadline - time.monotonic()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        return await self.subscriber.get()
                except TimeoutError:
                    pass
            assert self.last is not None  # events are only held once a version is known
            await self._catch_up(self.last)

    async def _on_event(self, raw: bytes) -> None:
        try:
            version = decode_head(raw).version
        except msgspec.MsgspecError:
            logger.warning("dropped a malformed realtime event")
            return
        last = self.last
        if last is None or version == last + 1:
            await self._push_message(raw, "event")
            self.last = version
            await self._release_held()
        elif version > last:
            if self._held is None:
                self._held = {}
            self._held[version] = raw
            if len(self._held) > self._max_held:
                await self._catch_up(last)
            elif self._gap_deadline is None:
                self._gap_deadline = time.monotonic() + self._gap_wait_s
        # else: at or below what the client has: a duplicate (the feed or an earlier event covered it)

    async def _release_held(self) -> None:
        assert self.last is not None
        if self._held is None:
            return
        while (raw := self._held.pop(self.last + 1, None)) is not None:
            await self._push_message(raw, "event")
            self.last += 1
        for version in [v for v in self._held if v <= self.last]:
            del self._held[version]
        if not self._held:
            self._held = None
            self._gap_deadline = None
        elif self._gap_deadline is None:
            self._gap_deadline = time.monotonic() + self._gap_wait_s

    async def _catch_up(self, since: int) -> None:
        """Send what the delta feed holds after ``since``; the client is then at the feed's version."""
        self._gap_deadline = None
        try:
            changes = await self._service.changes(self.user_id, since)
        except ResyncRequired as exc:
            version = int(exc.extra.get("version", 0))
            await self._push_message(resync_message(version), "resync")
            self.last = version
            self._held = None
            return
        for change in changes.changes:
            event = change_event(change)
            if event is not None and change.version > since:
                await self._push_message(_encode(event), "catch_up")
        self.last = max(since, changes.version)
        self._floor = None
        await self._release_held()

    # --- answering ops

    async def _answer_ops(self) -> None:
        while True:
            raw = await self._transport.receive()
            if raw is None:
                raise PeerGone
            await self._send(await self.answer(raw), "reply")

    async def answer(self, raw: str | bytes) -> bytes:
        """The reply to one message: the REST status and body of the same operation."""
        request_id: RequestId | None = None
        instance = EVENTS_PATH
        try:
            document = decode_document(raw, max_bytes=self._max_message_bytes)
            request_id = request_id_of(document)
            op = parse_op(document)
            instance = _instance(op)
            # Counted like the same REST request: a socket is no way around the rate limits.
            await self._count(_RATE_CLASSES[type(op)])
            status, body, version = await self._execute(op)
        except DomainError as error:
            if error.status >= 500:
                logger.warning("{} {}: {}", error.status, error.slug, error.detail)
            problem = problem_body(error, instance)
            if error.retry_after is not None:
                problem["retryAfter"] = error.retry_after  # what REST says in the Retry-After header
            status, body, version = error.status, _encode(problem), UNSET
        except Exception:
            logger.exception("realtime op failed")
            unexpected = DomainError("The server could not answer this request")
            status, body, version = unexpected.status, _encode(problem_body(unexpected, instance)), UNSET
        return reply_message(request_id, status, body, version)

    async def _execute(self, op: Op) -> tuple[int, bytes, int | UnsetType]:
        """The REST status and body of ``op``, and the list version after it when it is a write."""
        match op:
            case AddOp(request=request, if_match=if_match):
                item, version = await self._service.add(self.user_id, request, if_match=if_match)
                return 201, _encode(item), version
            case RemoveOp(content_id=content_id, if_match=if_match):
                version = await self._service.remove(self.user_id, content_id, if_match=if_match)
                return 204, b"null", version
            case UpdateOp(content_id=content_id, patch=patch, if_match=if_match):
                item, version = await self._service.update(self.user_id, content_id, patch, if_match=if_match)
                return 200, _encode(item), version
            case ReorderOp(request=request, if_match=if_match):
                result = await self._service.reorder(self.user_id, request, if_match=if_match)
                return 200, _encode(result), result.version
            case ListOp(args=args):
                rendered = await self._service.page(
                    self.user_id,
                    page=args.page,
                    limit=args.limit,
                    view=ListView(
                        content_type=args.type, sort=args.sort, watched=args.watched, rated=args.rated
                    ),
                )
                return 200, rendered.body, UNSET
        raise AssertionError(op)  # pragma: no cover - the union is exhaustive


# The class each op's REST route declares (add, remove, patch: writes; a list page: reads).
_RATE_CLASSES: dict[type[Op], RateClass] = {
    AddOp: RateClass.WRITES,
    RemoveOp: RateClass.WRITES,
    UpdateOp: RateClass.WRITES,
    ReorderOp: RateClass.WRITES,
    ListOp: RateClass.READS,
}


def _instance(op: Op) -> str:
    """The REST path of the same operation, so problem bodies are the ones REST would answer."""
    if isinstance(op, RemoveOp | UpdateOp):
        return f"{WATCHLIST_PATH}/{op.content_id}"
    if isinstance(op, ReorderOp):
        return f"{WATCHLIST_PATH}/order"
    return WATCHLIST_PATH
