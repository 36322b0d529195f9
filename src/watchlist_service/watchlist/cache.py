"""The list page cache in Redis: the only code that knows its keys (rows of ``infra.redis.KEY_LAYOUTS``).

Keys, all under the user's hash tag so one script can reach them together on a Redis Cluster:

- ``{userId}:mylist:{page}:{limit}`` (``:{type}:{sort}`` appended when not the default): one rendered page,
  stored as ``b"<version> <total>\\n" + body`` (the list's total, for the pagination headers);
- ``{userId}:mylist:keys``: the set of that user's page keys, so an invalidation drops them all;
- ``{userId}:mylist:ver``: the newest list version whose invalidation ran.

Exactness (docs/design.md §5):

- A writer, after MongoDB acknowledged and before it answers, raises ``ver`` and drops the pages in one
  script. It always tries, whatever the breaker says, and once more on a fresh connection when the first
  attempt met a broken one (a Redis restart); each attempt within the Redis budget.
- A reader that misses remembers ``ver`` as it was (read in the same call as the page). Its fill stores the
  page only if ``ver`` is still exactly that: a write invalidated in between (the stale-set race), or Redis
  lost ``ver`` since (a restart or a flush, which would make any version look new), and the page is not
  stored. A page is also never stored older than ``ver``.
- The writers' invalidations are the fast path; every replica also tails MongoDB's change stream and runs the
  same invalidation for every change (``watchlist/invalidator.py``), which covers a writer that could not
  reach Redis. An invalidation already covered by a newer one is a no-op, so the double work is one GET.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

from loguru import logger

from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.metrics import CACHE_EVENTS
from watchlist_service.watchlist.schemas import DEFAULT_VIEW, ListView

T = TypeVar("T")
VERSION_TTL_S: Final = 86_400
INVALIDATE_ATTEMPTS: Final = 2
MIN_ATTEMPT_S: Final = 0.002  # an invalidation is not retried with less of its budget left
NO_VERSION: Final = b""  # what a reader remembers when ``ver`` did not exist

_FILL: Final = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[4] then return 0 end
if current ~= '' and tonumber(ARGV[1]) < tonumber(current) then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# Returns the number of pages dropped, or -1 when an invalidation at or after this version already ran (no
# page older than it can exist then: fills never store a page older than ``ver``).
_INVALIDATE: Final = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= current then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return -1
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local pages = redis.call('SMEMBERS', KEYS[2])
for i = 1, #pages do redis.call('DEL', pages[i]) end
redis.call('DEL', KEYS[2])
return #pages
"""


def _tag(user_id: str) -> str:
    return "{" + user_id + "}:mylist"


def page_key(user_id: str, page: int, limit: int, view: ListView = DEFAULT_VIEW) -> str:
    """The Redis key of one cached page of one view (type, order, and the watched and rated filters)."""
    key = f"{_tag(user_id)}:{page}:{limit}"
    if not view.is_default:
        key += f":{view.content_type or 'all'}:{view.sort.value}"
    for name, value in (("watched", view.watched), ("rated", view.rated)):
        if value is not None:
            key += f":{name}={'true' if value else 'false'}"
    return key


def version_key(user_id: str) -> str:
    """The Redis key of the newest invalidated version of the user's list."""
    return f"{_tag(user_id)}:ver"


def lookup_keys(user_id: str, key: str) -> list[str]:
    """What a page read fetches: the page and ``ver`` (one call; for ``RouteFacts.prefetch``)."""
    return [key, version_key(user_id)]


@dataclass(frozen=True, slots=True)
class Hit:
    """A cached page: the JSON body, the list version it was read at and the list's total then."""

    version: int
    total: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Miss:
    """Not cached; ``observed`` is ``ver`` as it was (``None``: Redis unavailable, do not fill)."""

    observed: bytes | None


def _decode(raw: bytes | None, ver: bytes | None) -> Hit | Miss:
    """A stored page (``b'<version> <total>\\n' + JSON``) read beside the user's ``ver``."""
    observed = ver if isinstance(ver, bytes) else NO_VERSION
    if not isinstance(raw, bytes):
        return Miss(observed)
    head, _, body = raw.partition(b"\n")
    version, _, total = head.partition(b" ")
    # Older than ``ver`` (left behind by an invalidation that failed half-way), or stored without its total by
    # an earlier release: a miss, and the fill replaces it.
    if not total or (observed and int(version) < int(observed)):
        return Miss(observed)
    return Hit(int(version), int(total), body)


class PageCache:
    """Cached list pages with atomic, race-free invalidation; every failure degrades to a miss."""

    def __init__(self, redis: RedisGuard, *, ttl_s: int, enabled: bool = True) -> None:
        self._redis = redis
        self._breaker = redis.breaker
        self._ttl_s = ttl_s
        self.enabled = enabled
        self._fill = redis.client.register_script(_FILL)
        self._invalidate = redis.client.register_script(_INVALIDATE)

    async def get(
        self, user_id: str, key: str, prefetched: Mapping[str, bytes | None] | None = None
    ) -> Hit | Miss:
        """The cached page ``key``; ``prefetched``: what the request's rate-limit call already read."""
        if not self.enabled or not self._redis.available:
            return Miss(None)
        ver_key = version_key(user_id)
        if prefetched is not None and key in prefetched and ver_key in prefetched:
            raw, ver = prefetched[key], prefetched[ver_key]
        else:
            replies = await self._counted(self._redis.commands(("GET", key), ("GET", ver_key)))
            if isinstance(replies, Unavailable):
                return Miss(None)
            raw, ver = replies
        found = _decode(raw, ver)
        CACHE_EVENTS.labels("page", "hit" if isinstance(found, Hit) else "miss").inc()
        return found

    def prefetched_hit(self, user_id: str, key: str, prefetched: Mapping[str, bytes | None]) -> Hit | None:
        """The page ``key`` when what the request read early holds it (a hit, counted); otherwise ``None``,
        uncounted: ``get`` then reads and counts it as always."""
        ver_key = version_key(user_id)
        if (
            not self.enabled
            or not self._redis.available
            or key not in prefetched
            or ver_key not in prefetched
        ):
            return None
        found = _decode(prefetched[key], prefetched[ver_key])
        if not isinstance(found, Hit):
            return None
        CACHE_EVENTS.labels("page", "hit").inc()
        return found

    async def fill(
        self, user_id: str, key: str, version: int, total: int, body: bytes, observed: bytes
    ) -> bool:
        """Store a page read at ``version`` after ``ver`` was seen as ``observed``, unless ``ver`` changed."""
        if not self.enabled:
            return False
        payload = f"{version} {total}\n".encode() + body
        keys = [version_key(user_id), f"{_tag(user_id)}:keys", key]
        stored = await self._counted(
            self._redis.script(self._fill, keys, [version, payload, self._ttl_s, observed])
        )
        if isinstance(stored, Unavailable):
            return False
        if stored == 0:
            CACHE_EVENTS.labels("page", "fill_rejected").inc()
        return bool(stored)

    async def invalidate(self, user_id: str, version: int) -> bool:
        """Drop all of the user's pages and record ``version``, before a write is acknowledged (it runs even
        with the page cache switched off here: other replicas may use it). Sent whatever the breaker says and
        whatever is left of the request's Redis budget, and sent again when the first attempt failed fast (a
        connection broken by a Redis restart: the retry gets a fresh one) while budget is left. Never raises.

        When it fails, this replica stops using the cache for the breaker's reset time, and the change-stream
        invalidators (``watchlist/invalidator.py``) of the replicas that reach Redis invalidate the write; the
        write answers when its budget is over, not before (at most MongoDB plus one Redis budget).
        """
        for attempt in range(INVALIDATE_ATTEMPTS):
            if attempt and self._redis.remaining_s(force=True) < MIN_ATTEMPT_S:
                break
            if await self.drop(user_id, version):
                return True
        logger.warning("page cache: the invalidation of a write could not reach Redis")
        self._breaker.trip("a write could not invalidate its pages")
        # The rest of the budget goes to the other replicas: their change streams see this write within a
        # few milliseconds and invalidate it, before the writer's client can read elsewhere.
        await asyncio.sleep(max(0.0, self._redis.remaining_s(force=True)))
        return False

    async def drop(self, user_id: str, version: int) -> bool:
        """One attempt at the invalidation of ``version`` (whatever the breaker says); whether it ran."""
        keys = [version_key(user_id), f"{_tag(user_id)}:keys"]
        dropped = await self._counted(
            self._redis.script(self._invalidate, keys, [version, VERSION_TTL_S], force=True)
        )
        if isinstance(dropped, Unavailable):
            return False
        CACHE_EVENTS.labels("page", "invalidated" if dropped >= 0 else "already_invalidated").inc()
        return True

    async def ping(self) -> bool:
        """Whether Redis answers now."""
        return await self._redis.ping()

    @staticmethod
    async def _counted(call: Awaitable[T]) -> T | Unavailable:
        result = await call
        if isinstance(result, Unavailable):
            CACHE_EVENTS.labels("page", "error").inc()
        return result
