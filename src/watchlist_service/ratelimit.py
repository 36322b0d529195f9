"""Inbound rate limits, counted atomically in Redis, so every replica shares them.

- Per authenticated user and route class (reads, writes, catalog: declared by each route, ``routes.py``),
  after authentication; a service token has one budget of its own for all its requests.
- Per client IP for requests that fail authentication (guessing tokens), before it: the real client
  address is taken from ``X-Forwarded-For`` only when the peer is a trusted proxy.
- Health, metrics and schema routes are never limited. Answers carry ``RateLimit-Limit`` and
  ``RateLimit-Remaining``; a refused request gets 429 ``rate-limited`` with ``Retry-After`` and
  ``RateLimit-Reset``. If Redis is unreachable or slow the limits are not enforced (fail open, through the
  breaker and the budget).

A fixed window per counter: the first request of a window creates ``{userId}:rl:{class}`` with the window
as its TTL (Redis's clock, not the replicas'), every request increments it. The key does not name the limit,
so replicas configured with different limits during a rolling change still count together (each compares
the shared count with its own limit). The counter sits under the user's hash tag, so the same script also
reads the keys a route declared to ``prefetch`` (a cached list page): one round trip for a cached read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from limits import RateLimitItem, parse
from litestar.types import Scope

from watchlist_service.config import Settings
from watchlist_service.errors import RateLimited
from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.routes import RateClass
from watchlist_service.security import SERVICE_SCOPES, Principal

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AUTH_FAILURES: Final = "auth-failures"

# KEYS[1]: the counter; KEYS[2..]: keys to read as well. ARGV[1]: the window in seconds; ARGV[2]: 1 to
# count, 0 to only look. Returns {count, seconds left in the window, values of KEYS[2..]...}.
_COUNT: Final = """
local count
if ARGV[2] == '1' then
  count = redis.call('INCR', KEYS[1])
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local ttl = redis.call('TTL', KEYS[1])
if count > 0 and ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local reply = {count, ttl}
for i = 2, #KEYS do reply[i + 1] = redis.call('GET', KEYS[i]) end
return reply
"""


def counter_key(kind: str, identity: str) -> str:
    """The Redis key of one counter: under the user's hash tag, or per address for failed sign-ins."""
    if kind == AUTH_FAILURES:
        return f"rl:{AUTH_FAILURES}:{identity}"
    return "{" + identity + "}:rl:" + kind


@dataclass(frozen=True, slots=True)
class Counted:
    """One counted request: its limit, what is left, seconds to the window's end, and the keys read along."""

    item: RateLimitItem
    remaining: int
    reset_s: int
    read: dict[str, bytes | None] | None  # None: Redis did not answer (nothing was read)


class RateLimits:
    """The limits, their counters in Redis, and the breaker that lets requests through when Redis is down."""

    def __init__(self, settings: Settings, redis: RedisGuard) -> None:
        self._redis = redis
        self._script: AsyncScript = redis.client.register_script(_COUNT)
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

    async def _run(
        self, item: RateLimitItem, key: str, reads: Sequence[str], *, count: bool
    ) -> tuple[int, int, dict[str, bytes | None]] | None:
        reply = await self._redis.script(self._script, [key, *reads], [item.get_expiry(), int(count)])
        if isinstance(reply, Unavailable) or not isinstance(reply, list) or len(reply) < 2:
            return None
        values = [value if isinstance(value, bytes) else None for value in reply[2:]]
        return int(reply[0]), int(reply[1]), dict(zip(reads, values, strict=False))

    async def enforce(self, kind: RateClass, user: str, reads: Sequence[str] = ()) -> Counted:
        """Count one request of class ``kind`` for ``user`` (reading ``reads`` in the same call, keys under
        the same hash tag); ``RateLimited`` over the limit."""
        item = self.classes[kind]
        if not self.enabled:
            return Counted(item, item.amount, item.get_expiry(), None)
        ran = await self._run(item, counter_key(kind.value, user), reads, count=True)
        if ran is None:
            return Counted(item, item.amount, item.get_expiry(), None)
        count, reset_s, read = ran
        if count > item.amount:
            raise _refused(item, reset_s)
        return Counted(item, item.amount - count, reset_s, read)

    async def refuse_if_exhausted(self, ip: str) -> None:
        """``RateLimited`` when ``ip`` already failed authentication too often (this request not counted)."""
        if not self.enabled:
            return
        ran = await self._run(self.anonymous, counter_key(AUTH_FAILURES, ip), (), count=False)
        if ran is not None and ran[0] >= self.anonymous.amount:
            raise _refused(self.anonymous, ran[1])

    async def count_failure(self, ip: str) -> None:
        """Count one failed authentication of ``ip``."""
        if self.enabled:
            await self._run(self.anonymous, counter_key(AUTH_FAILURES, ip), (), count=True)

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


def _refused(item: RateLimitItem, reset_s: int) -> RateLimited:
    reset = max(1, reset_s)
    return RateLimited(
        f"Too many requests; retry in {reset} s",
        retry_after=reset,
        headers={
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
        },
    )


def budget(declared: RateClass, principal: Principal) -> RateClass:
    """Which limit a request of a route declaring ``declared`` counts against for ``principal``.

    A service token (one that may act for any user) serves many users: it has one budget of its own for all
    its requests, instead of sharing an end user's per-class budget.
    """
    if principal.scopes & SERVICE_SCOPES:
        return RateClass.SERVICE
    return declared
