"""The list page cache in Redis: the only code that knows its keys (rows of ``infra.redis.KEY_LAYOUTS``).

Keys, all under the user's hash tag so one script can reach them together on a Redis Cluster:

- ``{userId}:mylist:{page}:{limit}`` (``:{type}:{sort}`` appended when not the default): one rendered page,
  stored as ``b"<version>\\n" + body``;
- ``{userId}:mylist:keys``: the set of that user's page keys, so an invalidation drops them all;
- ``{userId}:mylist:ver``: the newest list version a writer has acknowledged.

The stale-set race (a reader that read the list before a write fills the cache after the write's
invalidation) is closed by the fill script: it stores a page only if the page's version is not older than
``ver``. Writers raise ``ver`` and drop the pages in one script, before they acknowledge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from loguru import logger

from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.metrics import CACHE_EVENTS

T = TypeVar("T")
DEFAULT_SORT = "added.desc"
VERSION_TTL_S = 86_400

_FILL = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) < current then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

_INVALIDATE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
local pages = redis.call('SMEMBERS', KEYS[2])
for i = 1, #pages do redis.call('DEL', pages[i]) end
redis.call('DEL', KEYS[2])
return #pages
"""


def _tag(user_id: str) -> str:
    return "{" + user_id + "}:mylist"


def page_key(user_id: str, page: int, limit: int, content_type: str | None, sort: str) -> str:
    """The Redis key of one cached page."""
    key = f"{_tag(user_id)}:{page}:{limit}"
    if content_type is not None or sort != DEFAULT_SORT:
        key += f":{content_type or 'all'}:{sort}"
    return key


class PageCache:
    """Cached list pages with atomic, race-free invalidation; every failure degrades to a miss."""

    def __init__(self, redis: RedisGuard, *, ttl_s: int, enabled: bool = True) -> None:
        self._redis = redis
        self._breaker = redis.breaker
        self._ttl_s = ttl_s
        self.enabled = enabled
        self._fill = redis.client.register_script(_FILL)
        self._invalidate = redis.client.register_script(_INVALIDATE)
        # Invalidations that could not reach Redis; replayed before the cache is used again.
        self._pending: dict[str, int] = {}
        self._replay_lock = asyncio.Lock()

    async def get(self, key: str) -> tuple[int, bytes] | None:
        """The cached ``(version, body)`` of a page, or ``None`` on a miss or when Redis is unavailable."""
        if not self.enabled or not await self._usable():
            return None
        raw = await self._call(lambda: self._redis.client.get(key))
        if isinstance(raw, Unavailable):
            return None
        if raw is None:
            CACHE_EVENTS.labels("page", "miss").inc()
            return None
        CACHE_EVENTS.labels("page", "hit").inc()
        assert isinstance(raw, bytes)  # the client does not decode responses
        version, _, body = raw.partition(b"\n")
        return int(version), body

    async def fill(self, user_id: str, key: str, version: int, body: bytes) -> bool:
        """Store a page read at ``version``, unless a newer write was already acknowledged."""
        if not self.enabled or not await self._usable():
            return False
        payload = str(version).encode() + b"\n" + body
        keys = [f"{_tag(user_id)}:ver", f"{_tag(user_id)}:keys", key]
        stored = await self._call(lambda: self._fill(keys=keys, args=[version, payload, self._ttl_s]))
        if isinstance(stored, Unavailable):
            return False
        if stored == 0:
            CACHE_EVENTS.labels("page", "fill_rejected").inc()
        return bool(stored)

    async def invalidate(self, user_id: str, version: int) -> None:
        """Drop all of the user's pages and record ``version`` as acknowledged. Never raises."""
        # Runs even with the page cache switched off: another replica may still be serving from it.
        if await self._usable() and await self._run_invalidate(user_id, version):
            return
        self._pending[user_id] = max(version, self._pending.get(user_id, 0))
        # A write that could not invalidate must not be followed by reads from a cache that may hold
        # the old page: stop using Redis until the pending invalidations are replayed.
        if self._breaker.allows():
            self._breaker.trip()

    async def ping(self) -> bool:
        """Whether Redis answers now."""
        return await self._redis.ping()

    async def _run_invalidate(self, user_id: str, version: int) -> bool:
        keys = [f"{_tag(user_id)}:ver", f"{_tag(user_id)}:keys"]
        dropped = await self._call(lambda: self._invalidate(keys=keys, args=[version, VERSION_TTL_S]))
        if isinstance(dropped, Unavailable):
            return False
        CACHE_EVENTS.labels("page", "invalidated").inc()
        return True

    async def _usable(self) -> bool:
        if not self._breaker.allows():
            return False
        if self._pending:
            await self._replay_pending()
        return self._breaker.allows() and not self._pending

    async def _replay_pending(self) -> None:
        async with self._replay_lock:
            for user_id, version in list(self._pending.items()):
                if not await self._run_invalidate(user_id, version):
                    return
                if self._pending.get(user_id) == version:
                    del self._pending[user_id]
            logger.info("page cache: pending invalidations replayed")

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T | Unavailable:
        result = await self._redis(op)
        if isinstance(result, Unavailable):
            CACHE_EVENTS.labels("page", "error").inc()
        return result
