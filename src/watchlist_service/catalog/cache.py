"""A read-through cache of TMDb answers: the only code that knows the ``tmdb:*`` keys and the lease protocol.

For every answer (a title's details, a 20-item TMDb page of a list or a search), named by a ``Spec``:

1. a short in-process copy (``tmdb_local_cache_s``) answers hot names without a Redis round trip;
2. Redis: a fresh answer is served; a stale one is served at once and refreshed in the background
   (stale-while-revalidate); a remembered 404 is a 404;
3. a miss goes through single flight: one task per name in this process (every request for the name awaits
   it), and across replicas one lease in Redis (``SET NX PX``): its holder calls TMDb and stores the answer,
   the others poll for that answer, and a failed fetch is remembered for ``tmdb_failure_ttl_s`` so the
   others answer 503 at once instead of calling a failing TMDb again;
4. no Redis: straight to TMDb (still one call per name per process, still rate-limited and breaker-guarded).

Keys (rows of ``infra.redis.KEY_LAYOUTS``):

- ``tmdb:{<name>}``: one answer, e.g. ``tmdb:{movie:550}``, ``tmdb:{discover:tv:name.asc:3}``,
  ``tmdb:{search:<sha256 of the query>:1}``. The value is a header line ``1 <ok|nf> <fresh-until ms>`` and the
  body (our own JSON of the mapped answer; empty for ``nf``, a remembered 404). The key's TTL is the hard
  TTL: fresh for the kind's TTL, then kept (stale) for much longer, to be served while TMDb is down.
- ``tmdb:{<name>}:lock``: the single-flight lease: a random token while one replica fetches ``name`` from
  TMDb, or ``fail`` for a moment after that fetch failed.

The braces are a Redis Cluster hash tag: an answer and its lock live in one slot, so one script reads both.
Redis is a cache: every failure here degrades to "not cached" and is counted by the breaker.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

import msgspec
from loguru import logger
from redis.commands.core import AsyncScript

from watchlist_service.catalog.client import catalog_unavailable
from watchlist_service.catalog.schemas import UpstreamShapeError
from watchlist_service.errors import CatalogUnavailable, DomainError, MovieNotFound, TvNotFound
from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.metrics import CACHE_EVENTS

T = TypeVar("T")
FORMAT_VERSION: Final = b"1"
LOCAL_CACHE_SIZE: Final = 4_096
Status = Literal["ok", "nf"]
_POLL_FIRST_S: Final = 0.005
_POLL_MAX_S: Final = 0.1
_ENCODER: Final = msgspec.json.Encoder()
_NOT_FOUND_ERRORS: Final = (MovieNotFound, TvNotFound)

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
class Spec(Generic[T]):
    """How to get one answer: its cache name, freshness, TMDb call and decoder."""

    name: str
    fresh_s: int
    fetch: Callable[[float], Awaitable[T]]  # given the deadline (event-loop time)
    decoder: msgspec.json.Decoder[T]
    not_found: Callable[[], DomainError] | None = None  # None: a 404 is not an answer of this kind


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
class _Claim:
    """What a single-flight claim found: the answer, the lease, a recent failure, or another fetcher."""

    outcome: Literal["value", "won", "failed", "held"]
    entry: Entry | None = None


@dataclass(frozen=True, slots=True)
class _Missing:
    """The local copy of a remembered 404."""


_MISSING: Final = _Missing()


class _Leases:
    """Answers and single-flight leases in Redis; every failure degrades (to ``None``), none raises."""

    def __init__(self, redis: RedisGuard | None) -> None:
        self._redis = redis
        if redis is not None:
            self._claim = redis.client.register_script(_CLAIM)
            self._store = redis.client.register_script(_STORE)
            self._release = redis.client.register_script(_RELEASE)

    async def _command(self, *args: Any) -> Any:
        """``None`` without Redis; else the reply or ``UNAVAILABLE`` (counted)."""
        if self._redis is None:
            return None
        return self._counted(await self._redis.command(*args))

    async def _script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        if self._redis is None:
            return None
        return self._counted(await self._redis.script(script, keys, args))

    @staticmethod
    def _counted(result: Any) -> Any:
        if isinstance(result, Unavailable):
            CACHE_EVENTS.labels("tmdb", "error").inc()
        return result

    async def read(self, name: str) -> Entry | None:
        """The cached answer of ``name``, or ``None`` (a miss, or Redis unavailable)."""
        if self._redis is None or not self._redis.available:
            return None
        raw = await self._command("GET", value_key(name))
        if isinstance(raw, Unavailable):
            return None
        entry = Entry.decode(raw) if isinstance(raw, bytes) else None
        if entry is None:
            CACHE_EVENTS.labels("tmdb", "miss").inc()
        else:
            CACHE_EVENTS.labels("tmdb", "hit" if entry.fresh else "stale").inc()
        return entry

    async def claim(self, name: str, token: str, lease_ms: int) -> _Claim | None:
        """The answer if someone stored it meanwhile, else try to take the lease; ``None``: no Redis."""
        keys = [value_key(name), lock_key(name)]
        reply = await self._script(self._claim, keys, [token, lease_ms])
        if not isinstance(reply, list) or not reply:
            return None
        outcome = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if outcome == "value":
            entry = Entry.decode(reply[1]) if len(reply) > 1 and isinstance(reply[1], bytes) else None
            return _Claim("value", entry) if entry is not None else None
        if outcome == "won":
            return _Claim("won")
        return _Claim("failed" if outcome == "failed" else "held")

    async def try_lease(self, name: str, token: str, lease_ms: int) -> bool:
        """Take the lease of ``name`` if nobody holds it (a background refresh)."""
        taken = await self._command("SET", lock_key(name), token, "NX", "PX", lease_ms)
        return bool(taken) and not isinstance(taken, Unavailable)

    async def store(self, name: str, entry: Entry, ttl_s: int, token: str | None) -> None:
        """Store an answer for ``ttl_s`` seconds and end our lease."""
        keys = [value_key(name), lock_key(name)]
        stored = await self._script(self._store, keys, [entry.encode(), max(1, ttl_s), token or ""])
        if stored is not None and not isinstance(stored, Unavailable):
            CACHE_EVENTS.labels("tmdb", "fill").inc()

    async def release(self, name: str, token: str | None, *, failed_for_ms: int) -> None:
        """End our lease after a failed fetch, remembering the failure for ``failed_for_ms``."""
        if token is not None:
            await self._script(self._release, [lock_key(name)], [token, failed_for_ms])


class ReadThroughCache:
    """Answers by ``Spec``: in-process copy, Redis, single flight across replicas, stale-while-revalidate.

    Every call is bounded by ``deadline_s``: past it, the answer is 503 ``catalog-unavailable`` with a
    ``Retry-After``. Raises domain errors only.
    """

    def __init__(
        self,
        redis: RedisGuard | None,
        *,
        deadline_s: float,
        stale_ttl_s: int,
        not_found_ttl_s: int,
        failure_ttl_s: float,
        local_cache_s: float,
    ) -> None:
        self._leases = _Leases(redis)
        self._redis = redis
        self._deadline_s = deadline_s
        self._stale_ttl_s = stale_ttl_s
        self._not_found_ttl_s = not_found_ttl_s
        self._failure_ttl_ms = int(failure_ttl_s * 1000)
        self._local_cache_s = local_cache_s
        self._lease_ms = int((deadline_s + 1) * 1000)
        self._local: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def get(self, spec: Spec[T]) -> T:
        """The answer of ``spec``: its value, or its ``not_found`` error, or ``CatalogUnavailable``."""
        local = self._local_get(spec.name)
        if isinstance(local, _Missing):
            raise self._not_found(spec)
        if local is not None:
            value: T = local
            return value
        entry = await self._leases.read(spec.name)
        if entry is not None:
            cached = self._from_entry(spec, entry)
            if cached is not None:
                if entry.fresh:
                    self._local_put(spec.name, cached, entry.fresh_for_s())
                else:
                    self._refresh_in_background(spec)
                if isinstance(cached, _Missing):
                    raise self._not_found(spec)
                return cached
        return await self._coalesced(spec)

    async def ping(self) -> bool:
        """Whether the catalog's Redis answers."""
        return self._redis is not None and await self._redis.ping()

    async def aclose(self) -> None:
        """Stop background refreshes and fills (shutdown)."""
        tasks = [*self._inflight.values(), *self._refreshing.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- single flight ---------------------------------------------------------------------------

    async def _coalesced(self, spec: Spec[T]) -> T:
        task = self._inflight.get(spec.name)
        if task is None:
            task = asyncio.create_task(self._fill(spec), name=f"tmdb-fill:{spec.name}")
            self._inflight[spec.name] = task
            task.add_done_callback(lambda done: self._forget(self._inflight, spec.name, done))
        # Shielded: a caller that goes away does not cancel the fetch the others are waiting for.
        result: T = await asyncio.shield(task)
        return result

    async def _fill(self, spec: Spec[T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        token = secrets.token_urlsafe(12)
        poll_s = _POLL_FIRST_S
        while True:
            claim = await self._leases.claim(spec.name, token, self._lease_ms)
            if claim is None:  # no Redis: this process's single flight is all there is
                return await self._fetch(spec, deadline, None)
            if claim.outcome == "won":
                return await self._fetch(spec, deadline, token)
            if claim.outcome == "value" and claim.entry is not None:
                cached = self._from_entry(spec, claim.entry)
                if isinstance(cached, _Missing):
                    raise self._not_found(spec)
                if cached is not None:
                    self._local_put(spec.name, cached, claim.entry.fresh_for_s())
                    return cached
                return await self._fetch(spec, deadline, None)  # unreadable (a newer format): replace it
            if claim.outcome == "failed":
                raise catalog_unavailable("TMDb failed moments ago", max(1.0, self._failure_ttl_ms / 1000))
            # Another replica holds the lease: its answer will be in Redis shortly.
            if loop.time() + poll_s >= deadline:
                raise catalog_unavailable("TMDb did not answer in time", 1)
            await asyncio.sleep(poll_s)
            poll_s = min(poll_s * 2, _POLL_MAX_S)

    async def _fetch(self, spec: Spec[T], deadline: float, token: str | None) -> T:
        """Call TMDb (we hold the lease, or Redis is out of the picture) and store what it says."""
        try:
            value = await spec.fetch(deadline)
        except _NOT_FOUND_ERRORS:
            entry = Entry.make("nf", b"", self._not_found_ttl_s)
            await self._leases.store(spec.name, entry, self._not_found_ttl_s, token)
            self._local_put(spec.name, _MISSING, self._not_found_ttl_s)
            raise
        except (CatalogUnavailable, UpstreamShapeError) as exc:
            await self._leases.release(spec.name, token, failed_for_ms=self._failure_ttl_ms)
            if isinstance(exc, UpstreamShapeError):
                logger.warning("TMDb answer for {} unusable: {}", spec.name, exc)
                raise catalog_unavailable("TMDb answered something unexpected", 5) from exc
            raise
        entry = Entry.make("ok", _ENCODER.encode(value), spec.fresh_s)
        await self._leases.store(spec.name, entry, spec.fresh_s + self._stale_ttl_s, token)
        self._local_put(spec.name, value, spec.fresh_s)
        return value

    # --- stale-while-revalidate ------------------------------------------------------------------

    def _refresh_in_background(self, spec: Spec[Any]) -> None:
        if spec.name in self._refreshing or spec.name in self._inflight:
            return
        task = asyncio.create_task(self._refresh(spec), name=f"tmdb-refresh:{spec.name}")
        self._refreshing[spec.name] = task
        task.add_done_callback(lambda done: self._forget(self._refreshing, spec.name, done))

    async def _refresh(self, spec: Spec[Any]) -> None:
        token = secrets.token_urlsafe(12)
        if not await self._leases.try_lease(spec.name, token, self._lease_ms):
            return  # another replica refreshes it, or it failed moments ago
        deadline = asyncio.get_running_loop().time() + self._deadline_s
        try:
            await self._fetch(spec, deadline, token)
        except DomainError as exc:
            # The stale answer stays; the next request after the failure window tries again.
            logger.debug("refresh of {} failed: {}", spec.name, exc.detail)

    @staticmethod
    def _forget(tasks: dict[str, Any], name: str, done: asyncio.Task[Any]) -> None:
        if tasks.get(name) is done:
            del tasks[name]
        if not done.cancelled():
            done.exception()  # retrieved here, so a fill nobody awaits any more is not logged as lost

    def _from_entry(self, spec: Spec[T], entry: Entry) -> T | _Missing | None:
        if entry.status == "nf":
            return _MISSING if spec.not_found is not None else None
        try:
            return spec.decoder.decode(entry.body)
        except msgspec.DecodeError:
            return None

    @staticmethod
    def _not_found(spec: Spec[Any]) -> DomainError:
        assert spec.not_found is not None
        return spec.not_found()

    # --- the in-process copy ---------------------------------------------------------------------

    def _local_get(self, name: str) -> Any:
        if self._local_cache_s <= 0:
            return None
        hit = self._local.get(name)
        if hit is None:
            return None
        expires, value = hit
        if time.monotonic() >= expires:
            del self._local[name]
            return None
        return value

    def _local_put(self, name: str, value: Any, fresh_for_s: float) -> None:
        ttl = min(self._local_cache_s, fresh_for_s)
        if ttl <= 0:
            return
        self._local[name] = (time.monotonic() + ttl, value)
        self._local.move_to_end(name)
        while len(self._local) > LOCAL_CACHE_SIZE:
            self._local.popitem(last=False)
