"""TMDb answers in Redis: the only code that knows the ``tmdb:*`` keys.

- ``tmdb:{<name>}``: one answer, e.g. ``tmdb:{movie:550}``, ``tmdb:{discover:tv:name.asc:3}``,
  ``tmdb:{search:<sha256 of the query>:1}``. The value is a header line ``1 <ok|nf> <fresh-until ms>`` and the
  body (our own JSON of the mapped answer; empty for ``nf``, a remembered 404). The key's TTL is the hard
  TTL: fresh for the kind's TTL, then kept (stale) for much longer, to be served while TMDb is down.
- ``tmdb:{<name>}:lock``: the single-flight lease: a random token while one replica fetches ``name`` from
  TMDb (``SET NX PX``), or ``fail`` for a moment after that fetch failed, so the other replicas answer 503 at
  once instead of each calling a failing TMDb again.
- ``tmdb:ratelimit``: the shared outbound rate limit (``limiter.py``).

The braces are a Redis Cluster hash tag: an answer and its lock live in one slot, so one script reads both.
Redis is a cache: every failure here degrades to "not cached" and is counted by the breaker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from loguru import logger

from watchlist_service.breaker import CircuitBreaker
from watchlist_service.errors import REDIS_ERRORS
from watchlist_service.metrics import CACHE_EVENTS
from watchlist_service.watchlist.cache import RedisClient

T = TypeVar("T")
FORMAT_VERSION: Final = b"1"
FAILED: Final = b"fail"
Status = Literal["ok", "nf"]

# Returns {'value', raw} when the answer is there; else takes the lease and returns {'won'}; else
# {'failed'} (a fetch failed moments ago) or {'held'} (another replica is fetching).
_CLAIM: Final = """
local value = redis.call('GET', KEYS[1])
if value then return {'value', value} end
local lease = redis.call('GET', KEYS[2])
if not lease then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {'won'}
end
if lease == 'fail' then return {'failed'} end
return {'held'}
"""

# Stores an answer and ends the lease, if it is still ours (a lease that expired is someone else's now).
_STORE: Final = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

# Ends our lease after a failed fetch: remembers the failure for ARGV[2] ms, or just drops the lease.
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], 'fail', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""


def value_key(name: str) -> str:
    """The Redis key of one cached answer."""
    return "tmdb:{" + name + "}"


def lock_key(name: str) -> str:
    """The Redis key of the single-flight lease of ``name``."""
    return value_key(name) + ":lock"


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer: ``ok`` with a body, or ``nf`` (TMDb said 404)."""

    status: Status
    fresh_until_ms: int
    body: bytes

    @property
    def fresh(self) -> bool:
        """Still within the kind's TTL (after it, the answer is stale but may still be served)."""
        return time.time() * 1000 < self.fresh_until_ms

    def fresh_for_s(self) -> float:
        """Seconds of freshness left."""
        return max(0.0, self.fresh_until_ms / 1000 - time.time())

    def encode(self) -> bytes:
        """The stored form."""
        return b"%s %s %d\n" % (FORMAT_VERSION, self.status.encode(), self.fresh_until_ms) + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        """Parse a stored value; ``None`` for anything this version did not write."""
        header, sep, body = raw.partition(b"\n")
        parts = header.split(b" ")
        if not sep or len(parts) != 3 or parts[0] != FORMAT_VERSION or not parts[2].isdigit():
            return None
        if parts[1] == b"ok":
            return cls("ok", int(parts[2]), body)
        if parts[1] == b"nf":
            return cls("nf", int(parts[2]), b"")
        return None

    @classmethod
    def make(cls, status: Status, body: bytes, fresh_s: float) -> Entry:
        """A new entry, fresh for ``fresh_s`` seconds from now."""
        return cls(status, int((time.time() + fresh_s) * 1000), body)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a single-flight claim found: the answer, the lease, a recent failure, or another fetcher."""

    outcome: Literal["value", "won", "failed", "held"]
    entry: Entry | None = None


class TmdbCache:
    """Cached TMDb answers and single-flight leases in Redis; every failure degrades, none raises."""

    def __init__(self, redis: RedisClient | None, breaker: CircuitBreaker) -> None:
        self._redis = redis
        self._breaker = breaker
        if redis is not None:
            self._claim = redis.register_script(_CLAIM)
            self._store = redis.register_script(_STORE)
            self._release = redis.register_script(_RELEASE)

    @property
    def usable(self) -> bool:
        """Whether Redis is configured and its breaker lets calls through."""
        return self._redis is not None and self._breaker.allows()

    async def read(self, name: str) -> Entry | None:
        """The cached answer of ``name``, or ``None`` (a miss, or Redis unavailable)."""
        if self._redis is None or not self.usable:
            return None
        redis = self._redis
        ok, raw = await self._call(lambda: redis.get(value_key(name)))
        if not ok:
            return None
        entry = Entry.decode(raw) if isinstance(raw, bytes) else None
        if entry is None:
            CACHE_EVENTS.labels("tmdb", "miss").inc()
        else:
            CACHE_EVENTS.labels("tmdb", "hit" if entry.fresh else "stale").inc()
        return entry

    async def claim(self, name: str, token: str, lease_ms: int) -> Claim | None:
        """The answer if someone stored it meanwhile, else try to take the lease; ``None``: no Redis."""
        if not self.usable:
            return None
        keys = [value_key(name), lock_key(name)]
        ok, reply = await self._call(lambda: self._claim(keys=keys, args=[token, lease_ms]))
        if not ok or not isinstance(reply, list) or not reply:
            return None
        outcome = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if outcome == "value":
            entry = Entry.decode(reply[1]) if len(reply) > 1 and isinstance(reply[1], bytes) else None
            return Claim("value", entry) if entry is not None else None
        if outcome == "won":
            return Claim("won")
        return Claim("failed" if outcome == "failed" else "held")

    async def try_lease(self, name: str, token: str, lease_ms: int) -> bool:
        """Take the lease of ``name`` if nobody holds it (a background refresh)."""
        if self._redis is None or not self.usable:
            return False
        redis = self._redis
        ok, taken = await self._call(lambda: redis.set(lock_key(name), token, nx=True, px=lease_ms))
        return ok and bool(taken)

    async def store(self, name: str, entry: Entry, ttl_s: int, token: str | None) -> None:
        """Store an answer for ``ttl_s`` seconds and end our lease."""
        if not self.usable:
            return
        keys = [value_key(name), lock_key(name)]
        ok, _ = await self._call(
            lambda: self._store(keys=keys, args=[entry.encode(), max(1, ttl_s), token or ""])
        )
        if ok:
            CACHE_EVENTS.labels("tmdb", "fill").inc()

    async def release(self, name: str, token: str | None, *, failed_for_ms: int) -> None:
        """End our lease after a failed fetch, remembering the failure for ``failed_for_ms``."""
        if token is None or not self.usable:
            return
        await self._call(lambda: self._release(keys=[lock_key(name)], args=[token, failed_for_ms]))

    async def ping(self) -> bool:
        """Whether Redis answers now."""
        if self._redis is None:
            return False
        try:
            return bool(await self._redis.ping())
        except REDIS_ERRORS:
            return False

    async def _call(self, op: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        try:
            result = await op()
        except REDIS_ERRORS as exc:
            self._breaker.record_failure()
            CACHE_EVENTS.labels("tmdb", "error").inc()
            logger.debug("redis call failed: {!r}", exc)
            return False, None
        self._breaker.record_success()
        return True, result
