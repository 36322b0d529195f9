"""The outbound TMDb rate limit, shared by every replica through Redis.

A moving window: a request may go when fewer than ``limit`` requests were admitted in the last
``window_ms``. The window is one second plus a margin: admission and arrival at TMDb are separated by a
network and event-loop delay that varies from request to request, and without the margin two bursts one
window apart arrive less than a second apart (measured: a plain 20/s one-second moving window, as in the
``limits`` library, let TMDb see 39-40 requests in one second; with a 50-100 ms margin, never more than 20).
Times come from the Redis server's clock, so replicas on hosts with skewed clocks still share one window.

Callers wait for a slot instead of failing, up to their deadline. Inside a process, waiters queue on one
lock (first come, first served, and one Redis call per admission instead of one per waiter). When Redis is
unreachable each process falls back to a local window with its own, lower limit: the deployment then sends
at most ``replicas x fallback_limit`` requests per second, so set that limit to the deployment's budget
divided by the replica count.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Final

from loguru import logger

from watchlist_service.infra.redis import RedisGuard, Unavailable

RATE_LIMIT_KEY: Final = "tmdb:ratelimit"

# KEYS[1]: admission times in ms, newest first. ARGV: limit, window in ms. Returns 0 when admitted, else
# the ms to wait before the oldest admission in the window leaves it.
_ACQUIRE: Final = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest then
  local wait = tonumber(oldest) + window - now
  if wait > 0 then return wait end
end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class LocalWindow:
    """The same moving window, in this process only (the fallback while Redis is unreachable)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window_s = window_s
        self._admitted: deque[float] = deque()

    def try_acquire(self) -> float:
        """0 when admitted now, else the seconds to wait."""
        now = time.monotonic()
        while self._admitted and self._admitted[0] <= now - self._window_s:
            self._admitted.popleft()
        if len(self._admitted) >= self._limit:
            return self._admitted[0] + self._window_s - now
        self._admitted.append(now)
        return 0.0


class OutboundLimiter:
    """Admits outbound TMDb requests at most ``limit`` per second across the deployment."""

    def __init__(
        self,
        redis: RedisGuard | None,
        *,
        limit: int,
        margin_ms: int,
        fallback_limit: int,
        key: str = RATE_LIMIT_KEY,
    ) -> None:
        self._redis = redis
        self._limit = limit
        self._window_ms = 1_000 + margin_ms
        self._key = key
        self._script = redis.client.register_script(_ACQUIRE) if redis is not None else None
        self._local = LocalWindow(fallback_limit, self._window_ms / 1000)
        self._lock = asyncio.Lock()
        self._warned = False

    async def acquire(self, deadline: float) -> None:
        """Wait for a slot; ``TimeoutError`` if none frees up before ``deadline`` (event-loop time)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(deadline), self._lock:
            while True:
                wait_s = await self._try_acquire()
                if wait_s <= 0:
                    return
                if loop.time() + wait_s >= deadline:
                    raise TimeoutError
                await asyncio.sleep(wait_s)

    async def _try_acquire(self) -> float:
        if self._redis is not None and self._script is not None and self._redis.available:
            wait_ms = await self._redis.script(self._script, [self._key], [self._limit, self._window_ms])
            if not isinstance(wait_ms, Unavailable):
                self._warned = False
                return int(wait_ms) / 1000
            if not self._warned:
                logger.warning("TMDb rate limit: Redis unreachable, using the per-process limit")
                self._warned = True
        return self._local.try_acquire()
