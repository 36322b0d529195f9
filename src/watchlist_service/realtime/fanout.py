"""Fan-out of list events through Redis pub/sub with Litestar Channels: one channel per user, every replica.

A replica holds one pub/sub connection for all its sockets. Events arrive in each socket's bounded queue
(``UserSubscriber``) next to two markers the hub and the backend put there: ``PING`` (heartbeat due) and
``GAP`` (the subscription was interrupted, so the socket must catch up from the delta feed).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.channels.subscriber import BacklogStrategy
from loguru import logger
from redis.asyncio import Redis

from watchlist_service.infra.redis import REDIS_ERRORS, RedisGuard, Unavailable
from watchlist_service.metrics import WS_PUBLISHED
from watchlist_service.watchlist.schemas import ListEvent

if TYPE_CHECKING:
    from watchlist_service.config import Settings

CHANNEL_PREFIX = "watchlist:"
# Markers share the queue with event payloads and are recognised by identity, never by value.
PING = b"\x00ping"
GAP = b"\x00gap"
# Published on a user's channel when the list is erased: every replica closes that user's sockets (4410).
# Compared by value (it comes from Redis); no JSON event starts with a NUL byte.
LIST_ERASED = b"\x00erased"
RECONNECT_MAX_S = 5.0
_encode = msgspec.json.Encoder().encode


class _Version(msgspec.Struct):
    version: int


_decode_version = msgspec.json.Decoder(_Version).decode


def channel_for(user_id: str) -> str:
    """The pub/sub channel of one user's list (user ids hold no whitespace: see ``security._SUBJECT_RE``)."""
    return CHANNEL_PREFIX + user_id


class UserSubscriber(Subscriber):
    """A Channels subscriber for one socket: a bounded queue that reports overflow instead of dropping.

    Litestar's ``backoff`` strategy drops what does not fit, and a socket that lost an event without knowing
    would show a wrong list. Here a full queue calls ``on_overflow``, which either ends the socket (a slow
    consumer) or calls ``collapse`` (a burst: the backlog becomes one catch-up from the delta feed).

    It is also lighter than the stock subscriber: a list and a waiter future instead of an ``asyncio.Queue``
    (four deques and an event, about 2.5 kB), which matters with thousands of idle sockets per worker. Only
    ``get`` consumes it; ``iter_events`` and ``run_in_background`` are not supported.
    """

    def __init__(
        self,
        plugin: ChannelsPlugin,
        max_backlog: int | None = None,
        backlog_strategy: BacklogStrategy = "backoff",
    ) -> None:
        # Not the stock __init__: it would build an asyncio.Queue this class never uses.
        self._task = None
        self._plugin = plugin
        self._backend = plugin._backend
        self._limit = max_backlog or 0
        self._items: list[bytes | None] = []
        self._waiter: asyncio.Future[None] | None = None
        self.on_overflow: Callable[[], None] | None = None
        self.overflowed = False

    @property
    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items)

    def _append(self, item: bytes | None) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def put_nowait(self, item: bytes | None) -> bool:
        """Queue ``item``; when it does not fit, report the overflow (must not raise: see the plugin).

        An item refused here was published after its write was acknowledged, so a catch-up that reads the
        feed later covers it.
        """
        if not self._limit or len(self._items) < self._limit:
            self._append(item)
            return True
        self.overflowed = True
        if self.on_overflow is not None:
            self.on_overflow()
        return False

    async def put(self, item: bytes | None) -> None:
        """Never wait: the plugin puts ``None`` on unsubscribe, also into a full queue nobody reads."""
        if item is None:
            self._items.clear()
            self._append(None)
        else:
            self.put_nowait(item)

    async def get(self) -> bytes | None:
        """The next event payload or marker; ``None`` once the plugin stopped this subscriber."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def collapse(self) -> int | None:
        """Replace the backlog by one ``GAP``; returns the lowest event version dropped (``None``: none)."""
        lowest: int | None = None
        for item in self._items:
            if item is None or item is PING or item is GAP:
                continue
            try:
                version = _decode_version(item).version
            except msgspec.MsgspecError:
                continue
            lowest = version if lowest is None else min(lowest, version)
        self._items.clear()
        self._append(GAP)
        return lowest


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ResilientPubSubBackend(RedisChannelsPubSubBackend):
    """Litestar's Redis pub/sub backend, made to survive Redis restarts, to confirm subscriptions, and to
    publish through any node of a Redis Cluster.

    - The stock ``stream_events`` ends at the first connection error, and with it the plugin's receiving
      task: the replica would silently stop delivering until restarted. Here the loop backs off and goes on;
      on reconnection redis-py subscribes every channel again, and each channel gets a ``GAP`` once Redis
      has confirmed it, so its sockets catch up on what was published in between.
    - ``wait_subscribed`` returns once Redis has confirmed a channel's subscription: from then on every
      publish reaches this replica, which is what lets a resuming socket read the delta feed without a gap.
    """

    def __init__(self, *, redis: Redis) -> None:
        super().__init__(redis=redis, stream_sleep_no_subscriptions=1)
        self._confirmed: set[str] = set()
        self._unconfirmed: dict[str, int] = {}  # SUBSCRIBEs sent and not answered yet, per channel
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._interrupted: set[str] = set()
        # redis-py's PubSub connects lazily and without a lock: two first SUBSCRIBEs at once would open two
        # connections, and the one nobody reads would swallow its channel's events.
        self._commands = asyncio.Lock()

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Send SUBSCRIBE; ``wait_subscribed`` tells when Redis has confirmed it."""
        names = list(channels)
        for name in names:
            self._confirmed.discard(name)
            self._unconfirmed[name] = self._unconfirmed.get(name, 0) + 1
        try:
            async with self._commands:
                await super().subscribe(names)
        except BaseException:
            for name in names:
                pending = self._unconfirmed.pop(name, 1) - 1
                if pending > 0:
                    self._unconfirmed[name] = pending
            raise

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        """Send UNSUBSCRIBE (serialised with SUBSCRIBE, see ``__init__``)."""
        async with self._commands:
            await super().unsubscribe(channels)

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        """A plain PUBLISH per channel.

        Not Litestar's script: it names the channels as KEYS, and a Redis Cluster node answers MOVED for a
        key of a slot it does not own, whereas any node accepts a PUBLISH and broadcasts it to the cluster.
        """
        for channel in set(channels):
            await self._redis.publish(channel, data)

    async def wait_subscribed(self, channel: str) -> None:
        """Return once Redis has confirmed the subscription of ``channel``."""
        if channel in self._confirmed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            await waiter
        finally:
            waiting = self._waiters.get(channel)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiters[channel]

    def _confirm(self, channel: str) -> None:
        self._confirmed.add(channel)
        for waiter in self._waiters.pop(channel, []):
            if not waiter.done():
                waiter.set_result(None)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        """Messages of subscribed channels, and a ``GAP`` per channel after an interrupted subscription."""
        delay = 0.1
        while True:
            await self._has_subscribed.wait()
            try:
                message = await self._pub_sub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            except REDIS_ERRORS as exc:
                if not self._interrupted:
                    logger.warning("realtime pub/sub connection lost ({}); reconnecting", exc)
                self._interrupted.update(_text(name) for name in self._pub_sub.channels)
                self._confirmed.difference_update(self._interrupted)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            delay = 0.1
            if message is None:
                continue
            kind, name = message["type"], _text(message["channel"])
            if kind == "subscribe":
                pending = self._unconfirmed.pop(name, 1) - 1
                if pending > 0:  # an earlier SUBSCRIBE of the same channel answered; wait for the last one
                    self._unconfirmed[name] = pending
                    continue
                self._confirm(name)
                if name in self._interrupted:
                    self._interrupted.discard(name)
                    if not self._interrupted:
                        logger.info("realtime pub/sub subscriptions restored")
                    yield name, GAP
            elif kind == "unsubscribe":
                if name.encode() not in self._pub_sub.channels and name not in self._unconfirmed:
                    self._confirmed.discard(name)
            elif kind == "message" and self._listening(name):
                yield name, message["data"]

    def _listening(self, name: str) -> bool:
        # Unsubscribing is queued by redis-py: a message can still come for a channel we left.
        key = name.encode()
        return key in self._pub_sub.channels and key not in self._pub_sub.pending_unsubscribe_channels

    async def on_shutdown(self) -> None:
        """Close the pub/sub connection and the client's pool."""
        await super().on_shutdown()
        await self._redis.aclose()


class UserChannels(ChannelsPlugin):
    """Litestar's Channels plugin, fitted for one channel per user.

    - A subscribe that fails (Redis down) leaves no subscriber behind: the stock method registers it before
      asking the backend, and the channel would look subscribed from then on.
    - Unsubscribing forgets a channel nobody listens to any more, and costs O(1): the stock method keeps an
      empty entry per channel ever used (a leak, one per user ever seen) and scans all of them each time.
    """

    async def subscribe(self, channels: str | Iterable[str], history: int | None = None) -> Subscriber:
        """Create a subscriber for ``channels``; on failure, leave the registry as it was."""
        names = [channels] if isinstance(channels, str) else list(channels)
        before = {name: set(self._channels.get(name, ())) for name in names}
        try:
            return await super().subscribe(names, history=history)
        except BaseException:
            for name in names:
                registered = self._channels.get(name)
                if registered is not None:
                    registered.intersection_update(before[name])
            raise

    async def unsubscribe(self, subscriber: Subscriber, channels: str | Iterable[str] | None = None) -> None:
        """Remove ``subscriber`` from ``channels`` (all when ``None``) and stop it."""
        if channels is None:
            names = list(self._channels)
        else:
            names = [channels] if isinstance(channels, str) else list(channels)
        emptied: list[str] = []
        for name in names:
            registered = self._channels.get(name)
            if registered is None or subscriber not in registered:
                continue
            registered.discard(subscriber)
            if not registered:
                del self._channels[name]
                emptied.append(name)
        await subscriber.put(None)  # what the stock method does to stop a consumer (our put never waits)
        if emptied:
            await self._backend.unsubscribe(emptied)


def build_channels(settings: Settings, redis: Redis) -> tuple[UserChannels, ResilientPubSubBackend]:
    """A Channels plugin on its own Redis backend (a backend cannot be reused across app restarts: build one
    per start-up); the backend closes ``redis`` when the plugin stops."""
    backend = ResilientPubSubBackend(redis=redis)
    plugin = UserChannels(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=settings.ws_queue_size,
        subscriber_backlog_strategy="backoff",
        subscriber_class=UserSubscriber,
    )
    return plugin, backend


class ChannelsEventSink:
    """The list service's ``EventSink``: events go to the user's channel; failures are logged, never raised.

    A lost event is not lost for long: sockets notice the missing version with the next event and catch up
    from the delta feed, and reconnecting clients resume with ``since``.
    """

    def __init__(self, channels: ChannelsPlugin, redis: RedisGuard, *, timeout_s: float) -> None:
        self._channels = channels
        self._redis = redis  # the pub/sub client, behind the realtime breaker
        self._timeout_s = timeout_s

    async def publish(self, user_id: str, event: ListEvent) -> None:
        """Publish ``event`` on the user's channel, within the Redis timeout."""
        if not self._redis.available:
            WS_PUBLISHED.labels("skipped").inc()
            return
        if self._redis.remaining_s() > 0 and await self._publish(user_id, event):
            return
        if self._redis.remaining_s() > 0 or not self._redis.available:
            WS_PUBLISHED.labels("error").inc()
            logger.warning("publishing {} v{} failed", event.event, event.version)
            return
        # The request has spent its shared Redis budget (a batch of many changes): a healthy Redis still
        # gets the event, on a budget of its own, in order (a slow Redis opens the breaker and this stops).
        # An attempt abandoned above may have gone through too; sockets drop a version they already have.
        own_budget = asyncio.create_task(self._publish(user_id, event), context=contextvars.Context())
        if not await own_budget:
            WS_PUBLISHED.labels("error").inc()
            logger.warning("publishing {} v{} failed", event.event, event.version)

    async def _publish(self, user_id: str, event: ListEvent) -> bool:
        payload, channel = _encode(event), channel_for(user_id)
        published = await self._redis(
            lambda: asyncio.wait_for(self._channels.wait_published(payload, channel), self._timeout_s)
        )
        if isinstance(published, Unavailable):
            return False
        WS_PUBLISHED.labels("ok").inc()
        return True

    async def close_sockets(self, user_id: str) -> bool:
        """Tell every replica to close the user's sockets (the list was erased); whether it was published."""
        channel = channel_for(user_id)
        published = await self._redis(
            lambda: asyncio.wait_for(self._channels.wait_published(LIST_ERASED, channel), self._timeout_s),
            force=True,
        )
        return not isinstance(published, Unavailable)
