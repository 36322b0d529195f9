"""Redis, in one place: the client factory, the client type, the errors that mean "Redis is unavailable", the
breaker-guarded call every use goes through, and the table of every key the service writes.

Redis is a cache and a coordination aid here, never the truth: each use (pages, the catalog, rate limits and
idempotency keys, realtime) has its own breaker, and a call that fails or is skipped answers ``UNAVAILABLE``
so that the caller goes on without Redis.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeAlias, TypeVar

from loguru import logger
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

from watchlist_service.config import Settings
from watchlist_service.infra.breaker import CircuitBreaker
from watchlist_service.metrics import REDIS_CALL_ERRORS

T = TypeVar("T")
RedisClient: TypeAlias = Redis | RedisCluster

# What a Redis call raises when Redis is unreachable, slow or confused. A cluster client that cannot reach any
# node raises RedisClusterException, which is not a RedisError.
REDIS_ERRORS: Final[tuple[type[Exception], ...]] = (RedisError, RedisClusterException, OSError, TimeoutError)


def redis_client(settings: Settings) -> RedisClient:
    """The one client for every use of Redis but pub/sub: short timeouts, no retries (the breaker decides when
    to try again), and a pool that waits briefly for a free connection under bursts instead of failing."""
    timeout = settings.redis_timeout_ms / 1000
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=settings.redis_max_connections,
        )
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=max(1.0, timeout),  # waiting for a free connection, not for Redis
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it


def pubsub_client(settings: Settings) -> Redis:
    """The realtime pub/sub client: a plain one also for a cluster (which broadcasts PUBLISH to all nodes).

    Pub/sub holds one connection open for good, so it cannot share the pool. TCP keepalive finds a connection
    that died silently; the fan-out's loop does the reconnecting.
    """
    timeout = max(settings.redis_timeout_ms / 1000, 0.5)
    keepalive: dict[int, int | bytes] = {}
    for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            keepalive[getattr(socket, option)] = value
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        socket_keepalive=True,
        socket_keepalive_options=keepalive,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


async def load_slot_map(redis: RedisClient) -> None:
    """Ask a Redis Cluster for its slot map before the first request.

    A cold cluster client sends its first commands to one node; the MOVED answers trigger topology refreshes
    that drop connections other commands are using, so a first burst failed. A cluster that cannot be reached
    now does not stop start-up: the client loads the map on its first command, as it would have.
    """
    if not isinstance(redis, RedisCluster):
        return
    try:
        await redis.initialize()
    except REDIS_ERRORS as exc:
        logger.warning("Redis Cluster slot map not loaded at start-up: {!r}", exc)


class Unavailable:
    """What a guarded call answers when Redis failed or its breaker is open."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = Unavailable()


class RedisGuard:
    """One use of the shared client, behind that use's own breaker.

    A timeout seen by one use (under overload, say) does not switch off the others; a Redis that is really
    down trips each of them after a few calls anyway.
    """

    __slots__ = ("breaker", "client")

    def __init__(self, client: RedisClient, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker

    @property
    def available(self) -> bool:
        """Whether the breaker lets calls through now."""
        return self.breaker.allows()

    async def __call__(self, op: Callable[[], Awaitable[T]], *, force: bool = False) -> T | Unavailable:
        """Run ``op`` (a call on ``client``) unless the breaker is open (``force``: try anyway); a Redis error
        is counted by the breaker and answered with ``UNAVAILABLE``."""
        if not force and not self.breaker.allows():
            return UNAVAILABLE
        try:
            result = await op()
        except REDIS_ERRORS as exc:
            self.breaker.record_failure(exc)
            REDIS_CALL_ERRORS.labels(self.breaker.name).inc()
            logger.debug("redis call ({}) failed: {!r}", self.breaker.name, exc)
            return UNAVAILABLE
        self.breaker.record_success()
        return result

    async def ping(self) -> bool:
        """Whether Redis answers now (not counted by the breaker: readiness asks this)."""
        try:
            return bool(await self.client.ping())
        except REDIS_ERRORS:
            return False


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """One kind of Redis key: its layout, who writes it, how long it lives, what it holds."""

    layout: str
    owner: str
    ttl: str
    holds: str
    pattern: re.Pattern[str]


def _layout(layout: str, owner: str, ttl: str, holds: str, pattern: str) -> KeyLayout:
    return KeyLayout(layout, owner, ttl, holds, re.compile(pattern))


_USER = r"\{[^{}]+\}"
_HEX64 = r"[0-9a-f]{64}"

# Every key the service writes. Keys under ``{userId}`` share the user's Redis Cluster hash tag, so one script
# reaches all of them; ``tmdb:{<name>}`` keys share the tag of one catalog answer. ``tests`` check that every
# key found in Redis after the suite matches exactly one row.
KEY_LAYOUTS: Final[tuple[KeyLayout, ...]] = (
    _layout(
        "{userId}:mylist:{page}:{limit}[:{type}:{sort}]",
        "watchlist/cache.py",
        "WATCHLIST_CACHE_PAGE_TTL_S (300 s)",
        "one rendered list page: b'<version>\\n' + JSON",
        rf"^{_USER}:mylist:\d+:\d+(:(all|movie|tv):[a-z]+\.[a-z]+)?$",
    ),
    _layout(
        "{userId}:mylist:keys",
        "watchlist/cache.py",
        "the page TTL",
        "set of the user's cached page keys (dropped together on a write)",
        rf"^{_USER}:mylist:keys$",
    ),
    _layout(
        "{userId}:mylist:ver",
        "watchlist/cache.py",
        "24 h",
        "the newest list version a writer acknowledged (fills of older reads are refused)",
        rf"^{_USER}:mylist:ver$",
    ),
    _layout(
        "{userId}:idem:{sha256(key)}",
        "idempotency.py",
        "60 s while the first request runs, then 24 h",
        "an Idempotency-Key record: fingerprint, status, headers, body (msgpack)",
        rf"^{_USER}:idem:{_HEX64}$",
    ),
    _layout(
        "LIMITS:LIMITER/{class}/{userId}/{amount}/{multiples}/{granularity}",
        "ratelimit.py (the limits library's layout)",
        "the window",
        "inbound request counter of one user and route class; `auth-failures/{ip}` for failed sign-ins",
        r"^LIMITS:LIMITER/(reads|writes|catalog|service|auth-failures)/.+/\d+/\d+/[a-z]+$",
    ),
    _layout(
        "tmdb:{<name>}",
        "catalog/cache.py",
        "the kind's freshness + WATCHLIST_TMDB_STALE_TTL_S",
        "one TMDb answer: '1 <ok|nf> <fresh-until ms>\\n' + our JSON",
        r"^tmdb:\{[^{}]+\}$",
    ),
    _layout(
        "tmdb:{<name>}:lock",
        "catalog/cache.py",
        "the lease (deadline + 1 s), or WATCHLIST_TMDB_FAILURE_TTL_S after a failure",
        "single-flight lease: a random token, or 'fail'",
        r"^tmdb:\{[^{}]+\}:lock$",
    ),
    _layout(
        "tmdb:ratelimit",
        "catalog/limiter.py",
        "the window (1 s + WATCHLIST_TMDB_RATE_MARGIN_MS)",
        "admission times of outbound TMDb requests (moving window shared by replicas)",
        r"^tmdb:ratelimit$",
    ),
    _layout(
        "realtime:ticket:{sha256(ticket)}",
        "realtime/tickets.py",
        "WATCHLIST_WS_TICKET_TTL_S (30 s)",
        "a one-time socket ticket: subject, scopes, expiry (JSON)",
        rf"^realtime:ticket:{_HEX64}$",
    ),
)
# Pub/sub channels are not keys, but share the namespace: ``watchlist:{userId}`` (realtime/fanout.py).


def layouts_of(key: str) -> list[KeyLayout]:
    """The rows of ``KEY_LAYOUTS`` that ``key`` matches (exactly one for every key the service writes)."""
    return [row for row in KEY_LAYOUTS if row.pattern.match(key)]
