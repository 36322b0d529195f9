"""Inbound rate limits, counted atomically in Redis (the ``limits`` library), so every replica shares them.

- Per authenticated user and route class (reads, writes, catalog: declared by each route, ``routes.py``),
  after authentication.
- Per client IP for requests that fail authentication (guessing tokens), before it: the real client
  address is taken from ``X-Forwarded-For`` only when the peer is a trusted proxy.
- Health, metrics and schema routes are never limited. Answers carry ``RateLimit-Limit`` and
  ``RateLimit-Remaining``; a refused request gets 429 ``rate-limited`` with ``Retry-After`` and
  ``RateLimit-Reset``. If Redis is unreachable the limits are not enforced (fail open, through the breaker).
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import TYPE_CHECKING, cast

from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import FixedWindowRateLimiter
from limits.typing import AsyncRedisClient
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio.cluster import RedisCluster

from watchlist_service.config import Settings
from watchlist_service.errors import RateLimited, Unauthenticated
from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.routes import RateClass, facts_of
from watchlist_service.security import SERVICE_SCOPES, Principal, is_public

if TYPE_CHECKING:
    from watchlist_service.resources import Root

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SharedClusterStorage(RedisClusterStorage):
    """The ``limits`` cluster storage on the service's own cluster client.

    The stock one opens a second ``RedisCluster`` (with retries and a pool of 1,000 connections per node)
    that nothing closes, so every shutdown leaked its sockets; ours has the service's timeouts and is closed
    by the lifespan.
    """

    def __init__(self, uri: str, client: RedisCluster) -> None:
        self._client = client
        super().__init__(uri, implementation="redispy")

    def configure_bridge(self) -> None:
        """Point the bridge at our client instead of building one (scripts are registered on it next)."""
        bridge = self.bridge
        assert isinstance(bridge, RedispyBridge)
        # limits' client Protocol is stricter than redis-py's signatures; its own use_cluster() stores this
        # very class here.
        client = cast(AsyncRedisClient, self._client)
        bridge.storage = client
        bridge.connection_getter = lambda _readonly: client


class RateLimits:
    """The limits, their counters in Redis, and the breaker that lets requests through when Redis is down."""

    def __init__(self, settings: Settings, redis: RedisGuard) -> None:
        client = redis.client
        if isinstance(client, RedisCluster):
            uri = settings.redis_url.replace("redis://", "async+redis+cluster://", 1)
            storage: RedisStorage | RedisClusterStorage = SharedClusterStorage(uri, client)
        else:
            # Our own client's pool: the same timeouts, and closed with it.
            uri = settings.redis_url.replace("redis://", "async+redis://", 1)
            # limits types its storage options as scalars; redis-py takes the pool object.
            pool = cast(str, client.connection_pool)
            storage = RedisStorage(uri, implementation="redispy", connection_pool=pool)
        self.storage = storage
        self._limiter = FixedWindowRateLimiter(storage)
        self._redis = redis
        self.enabled = settings.rate_limit_enabled
        self.classes: dict[RateClass, RateLimitItem] = {
            RateClass.READS: parse(settings.rate_limit_reads),
            RateClass.WRITES: parse(settings.rate_limit_writes),
            RateClass.CATALOG: parse(settings.rate_limit_catalog),
            RateClass.SERVICE: parse(settings.rate_limit_service),
        }
        self.anonymous = parse(settings.rate_limit_failed_auth)
        self.trusted: list[IpNetwork] = [
            ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies
        ]

    async def consume(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, int]:
        """Count one request; ``(allowed, remaining)``. One Redis round trip (an atomic INCR + EXPIRE)."""
        if not self.enabled:
            return True, item.amount
        # The storage raises its client's own (redis-py) errors: the guard counts them as "down".
        count = await self._redis(lambda: self.storage.incr(item.key_for(*identifiers), item.get_expiry()))
        if isinstance(count, Unavailable):
            return True, item.amount
        return count <= item.amount, max(0, item.amount - count)

    async def enforce(self, kind: RateClass, user: str) -> tuple[RateLimitItem, int]:
        """Count one request of class ``kind`` for ``user``: the limit and what is left, else RateLimited."""
        item = self.classes[kind]
        allowed, remaining = await self.consume(item, kind.value, user)
        if not allowed:
            raise await _refuse(self, item, kind.value, user)
        return item, remaining

    async def exhausted(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether the counter is already at its limit (without counting this request)."""
        if not self.enabled:
            return False
        within = await self._redis(lambda: self._limiter.test(item, *identifiers))
        return within is False

    async def seconds_to_reset(self, item: RateLimitItem, *identifiers: str) -> int:
        """Seconds until the current window of this counter ends (at least 1)."""
        reset_at = await self._redis(lambda: self.storage.get_expiry(item.key_for(*identifiers)))
        if isinstance(reset_at, Unavailable):
            return item.get_expiry()
        return max(1, math.ceil(reset_at - time.time()))

    def client_ip(self, scope: Scope) -> str:
        """The caller: the peer, or the right-most untrusted hop when the peer is a trusted proxy."""
        peer = (scope.get("client") or ("unknown", 0))[0]
        if not self._is_trusted(peer):
            return str(peer)
        forwarded = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"), "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._is_trusted(hop):
                return hop
        return str(peer)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


def budget(declared: RateClass, principal: Principal) -> RateClass:
    """Which limit a request of a route declaring ``declared`` counts against for ``principal``.

    A service token (one that may act for any user) serves many users: it has one budget of its own for all
    its requests, instead of sharing an end user's per-class budget.
    """
    if principal.scopes & SERVICE_SCOPES:
        return RateClass.SERVICE
    return declared


async def _refuse(limits: RateLimits, item: RateLimitItem, *identifiers: str) -> RateLimited:
    reset = await limits.seconds_to_reset(item, *identifiers)
    return RateLimited(
        f"Too many requests; retry in {reset} s",
        retry_after=reset,
        headers={
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
        },
    )


class UserRateLimitMiddleware(ASGIMiddleware):
    """Per user and the route's declared class (``routes.py``); runs after authentication."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(is_public)

    def __init__(self, root: Root) -> None:
        self._root = root

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Count the request; refuse it with 429 over the limit; add the RateLimit headers."""
        principal = scope.get("user")
        if principal is None:  # OPTIONS (CORS preflight) is answered without authentication
            await next_app(scope, receive, send)
            return
        limits = self._root.resources.rate_limits
        kind = budget(facts_of(scope).rate, principal)
        item, remaining = await limits.enforce(kind, principal.sub)
        headers = [
            (b"ratelimit-limit", str(item.amount).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await next_app(scope, receive, send_with_headers)


class FailedAuthRateLimitMiddleware(ASGIMiddleware):
    """Per client IP, for requests that fail authentication; runs before it.

    A token this process has already verified skips the check, so normal traffic costs nothing here.
    """

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(is_public)

    def __init__(self, root: Root) -> None:
        self._root = root

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Refuse an address that failed too often; count each authentication failure."""
        resources = self._root.resources
        limits = resources.rate_limits
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        token = authorization.partition(" ")[2].strip()
        if token and resources.verifier.remembers(token):
            await next_app(scope, receive, send)
            return
        ip = limits.client_ip(scope)
        if await limits.exhausted(limits.anonymous, "auth-failures", ip):
            raise await _refuse(limits, limits.anonymous, "auth-failures", ip)
        try:
            await next_app(scope, receive, send)
        except Unauthenticated:
            await limits.consume(limits.anonymous, "auth-failures", ip)
            raise
