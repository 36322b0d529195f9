"""Redis, in one place: the client factory, the client type, the errors that mean "Redis is unavailable", the
breaker-guarded call every use goes through, and the table of every key the service writes.

Redis is a cache and a coordination aid here, never the truth: each use (pages, the catalog, rate limits and
idempotency keys, realtime) has its own breaker, and a call that fails or is skipped answers ``UNAVAILABLE``
so that the caller goes on without Redis.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

from loguru import logger
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from watchlist_service.config import Settings
from watchlist_service.infra.breaker import CircuitBreaker
from watchlist_service.metrics import REDIS_CALL_ERRORS, REDIS_PIPELINE_BATCH

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
        # No health-check PING before reuse: a connection broken by a restart fails once, which drops every
        # idle connection of the pool (Pipeliner), and the call is retried where that matters (invalidation).
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


LOOP_LAG_S: Final = 0.01  # a budget timer this late means the event loop, not Redis, was slow


class _Budget:
    """What a request has spent waiting for Redis, and the part of its budget kept for forced calls."""

    __slots__ = ("reserved_s", "spent_s")

    def __init__(self, reserved_s: float) -> None:
        self.spent_s = 0.0
        self.reserved_s = reserved_s


_BUDGET: ContextVar[_Budget | None] = ContextVar("redis_budget", default=None)


@contextmanager
def request_budget(*, reserved_s: float = 0.0) -> Iterator[None]:
    """Share one Redis budget among all the Redis calls of the request inside: together they wait at most
    ``WATCHLIST_REDIS_BUDGET_MS``, so a read never waits longer for Redis and a write never answers later than
    MongoDB plus that budget. ``reserved_s`` of it is kept for forced calls (a write's invalidation): the
    others stop short of it. A call with nothing left is not made; a forced one is sent all the same."""
    token = _BUDGET.set(_Budget(reserved_s))
    try:
        yield
    finally:
        _BUDGET.reset(token)


class Unavailable:
    """What a guarded call answers when Redis failed or its breaker is open."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = Unavailable()


async def _drop_idle_connections(client: RedisClient) -> None:
    """After a connection error, the other idle connections are most likely broken the same way (a restart,
    a failover): close them, so that the next call (a retry) connects afresh instead of failing again."""
    if isinstance(client, Redis):
        await client.connection_pool.disconnect(inuse_connections=False)


class Pipeliner:
    """Auto-pipelining: the commands that concurrent requests issue in one turn of the event loop go to Redis
    as one pipeline (one write, one read) instead of one round trip each.

    What a request pays for a Redis call is mostly the client's own work per round trip; shared by a batch,
    it was a third of it here (measured: 98 -> 35 us of CPU per EVALSHA at 32 concurrent callers). Order is
    kept: commands reach Redis in the order they were submitted.
    """

    def __init__(self, client: RedisClient, *, max_batch: int = 256) -> None:
        self._client = client
        self._max_batch = max_batch
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()

    def submit(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command; its future gets the reply (or the error) of that command."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        loop = asyncio.get_running_loop()
        for start in range(0, len(queue), self._max_batch):
            task = loop.create_task(self._send(queue[start : start + self._max_batch]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        REDIS_PIPELINE_BATCH.observe(len(batch))
        pipe = self._client.pipeline(transaction=False)
        for args, _ in batch:
            pipe.execute_command(*args)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in batch:
                if not future.done():  # abandoned ones are cancelled already
                    future.set_exception(exc)
            if isinstance(exc, RedisConnectionError | OSError):
                await _drop_idle_connections(self._client)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def aclose(self) -> None:
        """Wait for the batches under way (shutdown)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


class _Deadline:
    """The budget of one guarded call: a timer that cancels the call when the budget runs out.

    A timer that fires late says this process is overloaded (its event loop lagged), not that Redis is slow:
    the reply may be waiting to be read. Then the call gets the whole budget once more (``extended``); if that
    is not enough either, it is abandoned without being held against Redis. One timer handle per call, not
    ``asyncio.wait``'s waiter, callbacks and timer (measured: 12 -> 5 us per call here).
    """

    __slots__ = ("_extend_s", "_future", "_handle", "_loop", "expired", "extended")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], wait_s: float, extend_s: float
    ) -> None:
        self._loop = loop
        self._future = future
        self._extend_s = extend_s
        self.expired = False
        self.extended = False
        at = loop.time() + wait_s
        self._handle = loop.call_at(at, self._fire, at)

    def _fire(self, due: float) -> None:
        if self._future.done():
            return
        if not self.extended and self._loop.time() - due >= LOOP_LAG_S:
            self.extended = True
            at = self._loop.time() + self._extend_s
            self._handle = self._loop.call_at(at, self._fire, at)
            return
        self.expired = True
        self._future.cancel()

    def cancel(self) -> None:
        """The call settled: the timer is not needed any more."""
        self._handle.cancel()


class RedisGuard:
    """One use of the shared client, behind that use's own breaker and within a time budget.

    A timeout seen by one use (under overload, say) does not switch off the others; a Redis that is really
    down trips each of them after a few calls anyway. A call that takes longer than ``budget_s`` is abandoned
    (the caller goes on without Redis) and counted as slow: a Redis that answers, but slowly, opens the
    breaker by its slow-call rate, so requests stop paying the budget at all.
    """

    __slots__ = ("breaker", "budget_s", "client", "pipeliner")

    def __init__(
        self,
        client: RedisClient,
        breaker: CircuitBreaker,
        *,
        pipeliner: Pipeliner | None = None,
        budget_s: float,
    ) -> None:
        self.client = client
        self.breaker = breaker
        self.pipeliner = pipeliner or Pipeliner(client)
        self.budget_s = budget_s

    @property
    def available(self) -> bool:
        """Whether the breaker lets calls through now."""
        return self.breaker.allows()

    def remaining_s(self, *, force: bool = False) -> float:
        """What is left of the budget for the next call (of the request's shared budget, in a request; a
        forced call may use the reserved part too)."""
        budget = _BUDGET.get()
        if budget is None:
            return self.budget_s
        return self.budget_s - budget.spent_s - (0.0 if force else budget.reserved_s)

    async def __call__(self, op: Callable[[], Awaitable[T]], *, force: bool = False) -> T | Unavailable:
        """Run ``op`` (a call on ``client``) unless the breaker is open (``force``: try anyway), within the
        budget; a Redis error or a slow call is counted by the breaker and answered with ``UNAVAILABLE``."""
        if not self._may_call(force):
            return UNAVAILABLE
        return await self._settle(op(), force=force)

    async def command(self, *args: Any, force: bool = False) -> Any:
        """One command, auto-pipelined with the other callers' (``UNAVAILABLE`` as for ``__call__``)."""
        if not self._may_call(force):
            return UNAVAILABLE
        return await self._settle(self.pipeliner.submit(*args), force=force)

    async def commands(self, *commands: Sequence[Any]) -> list[Any] | Unavailable:
        """Several commands in the same batch (one round trip); all their replies, or ``UNAVAILABLE``."""
        if not self._may_call(False):
            return UNAVAILABLE
        futures = [self.pipeliner.submit(*command) for command in commands]
        return await self._settle(asyncio.gather(*futures))

    async def script(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], *, force: bool = False
    ) -> Any:
        """A Lua script by its SHA, auto-pipelined; loaded (EVAL) when Redis does not know it (a restart).
        ``force``: sent whatever the breaker says and whatever is left of the budget."""
        if not self._may_call(force):
            return UNAVAILABLE
        try:
            return await self._settle(
                self.pipeliner.submit("EVALSHA", script.sha, len(keys), *keys, *args),
                force=force,
                reraise=NoScriptError,
            )
        except NoScriptError:
            return await self._settle(
                self.pipeliner.submit("EVAL", script.script, len(keys), *keys, *args), force=force
            )

    def _may_call(self, force: bool) -> bool:
        return force or (self.breaker.allows() and self.remaining_s() > 0)

    async def _settle(
        self, pending: Awaitable[T], *, force: bool = False, reraise: type[Exception] | None = None
    ) -> T | Unavailable:
        budget = _BUDGET.get()
        loop = asyncio.get_running_loop()
        started = loop.time()
        future = asyncio.ensure_future(pending)
        deadline = _Deadline(loop, future, max(0.001, self.remaining_s(force=force)), self.budget_s)
        try:
            result = await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not deadline.expired or (task is not None and task.cancelling()):
                future.cancel()  # the request itself was cancelled: so is its call
                raise
            REDIS_CALL_ERRORS.labels(self.breaker.name).inc()
            if not deadline.extended:
                self.breaker.record_slow(f"a call took longer than its {self.budget_s * 1000:.0f} ms budget")
            return UNAVAILABLE
        except REDIS_ERRORS as exc:
            if reraise is not None and isinstance(exc, reraise):
                raise
            self.breaker.record_failure(exc)
            REDIS_CALL_ERRORS.labels(self.breaker.name).inc()
            logger.debug("redis call ({}) failed: {!r}", self.breaker.name, exc)
            return UNAVAILABLE
        finally:
            deadline.cancel()
            if budget is not None:
                budget.spent_s += loop.time() - started
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
        "{userId}:mylist:{page}:{limit}[:{type}:{sort}[:watched={bool}][:rated={bool}]]",
        "watchlist/cache.py",
        "WATCHLIST_CACHE_PAGE_TTL_S (300 s)",
        "one rendered list page: b'<version> <total>\\n' + JSON",
        rf"^{_USER}:mylist:\d+:\d+(:(all|movie|tv):[a-z]+(\.[a-z]+)?(:watched=(true|false))?(:rated=(true|false))?)?$",
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
        "{userId}:rl:{class}",
        "ratelimit.py",
        "the window",
        "inbound request counter of one user and route class (fixed window; the limit is not in the key)",
        rf"^{_USER}:rl:(reads|writes|catalog|service)$",
    ),
    _layout(
        "rl:auth-failures:{ip}",
        "ratelimit.py",
        "the window",
        "failed authentications of one client address",
        r"^rl:auth-failures:.+$",
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
        "{userId}:recs:{version}:{count}",
        "recommendations/cache.py",
        "WATCHLIST_RECS_TTL_S (1 h)",
        "the recommendations answer for one list version and count (JSON)",
        rf"^{_USER}:recs:\d+:\d+$",
    ),
    _layout(
        "{userId}:recs:last",
        "recommendations/cache.py",
        "WATCHLIST_RECS_STALE_TTL_S (7 d)",
        "the user's last good recommendations answer, served stale while TMDb is down (JSON)",
        rf"^{_USER}:recs:last$",
    ),
    _layout(
        "watchlist:events[:{suffix}] (WATCHLIST_EVENTS_STREAM)",
        "events/stream.py",
        "none: trimmed to WATCHLIST_EVENTS_MAXLEN entries (MAXLEN ~)",
        "a Redis Stream of list change events, one field `event` (CloudEvent JSON); consumer groups",
        r"^watchlist:events(:[\w.-]+)?$",
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


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def user_tag_pattern(user_id: str) -> str:
    """The SCAN pattern of every key of one user: ``{userId}:*``, glob characters of the id escaped (a
    ``sub`` may hold ``*``, ``?``, ``[``, ``]`` and ``\\``)."""
    return "{" + _GLOB_SPECIAL.sub(r"\\\1", user_id) + "}:*"


async def scan_keys(client: RedisClient, pattern: str, *, count: int = 1_000) -> list[str]:
    """Every key matching ``pattern`` (SCAN with MATCH: never KEYS, which blocks the server).

    A Redis Cluster client scans every primary, so keys of one hash tag are found wherever their slot lives,
    also while it migrates between nodes. Keys written during the scan may or may not be in the answer.
    """
    found = [
        key.decode() if isinstance(key, bytes) else str(key)
        async for key in client.scan_iter(match=pattern, count=count)
    ]
    return sorted(set(found))
