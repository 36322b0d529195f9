"""Clients opened at start-up and closed at shutdown; what handlers need is put on ``app.state``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import FrameType

import httpx
from beanie import init_beanie
from litestar import Litestar
from loguru import logger
from pymongo import AsyncMongoClient
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from watchlist_service.breaker import CircuitBreaker
from watchlist_service.catalog.cache import TmdbCache
from watchlist_service.catalog.client import TmdbClient, tmdb_configured, tmdb_http_client
from watchlist_service.catalog.cursor import CursorCodec, cursor_secret
from watchlist_service.catalog.limiter import OutboundLimiter
from watchlist_service.catalog.schemas import MAX_OFFSET
from watchlist_service.catalog.service import CatalogService
from watchlist_service.config import Settings
from watchlist_service.errors import REDIS_ERRORS
from watchlist_service.metrics import MongoCommandMetrics
from watchlist_service.ratelimit import RateLimits
from watchlist_service.security import TokenVerifier
from watchlist_service.watchlist.cache import PageCache, RedisClient
from watchlist_service.watchlist.documents import Watchlist
from watchlist_service.watchlist.repository import WatchlistRepository
from watchlist_service.watchlist.service import WatchlistService


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, object]]:
    """A client that writes with majority + journal and gives up within the configured timeout."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        w="majority",
        journal=True,
        timeoutMS=settings.mongodb_timeout_ms,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        appname="watchlist-service",
        event_listeners=[MongoCommandMetrics()],
    )


def redis_client(settings: Settings) -> RedisClient:
    """One client for every Redis use: short timeouts, no retries (the breaker decides when to try again),
    and a pool that waits briefly for a free connection under bursts instead of failing."""
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


async def open_catalog(
    settings: Settings, stack: AsyncExitStack, redis: RedisClient, breaker: CircuitBreaker
) -> CatalogService:
    """The TMDb catalog; without TMDb settings it answers 503 ``catalog-unavailable`` (start-up goes on)."""
    client: TmdbClient | None = None
    if tmdb_configured(settings):
        http = tmdb_http_client(settings)
        stack.push_async_callback(http.aclose)
        limiter = OutboundLimiter(
            redis,
            breaker,
            limit=settings.tmdb_rate_limit_per_s,
            margin_ms=settings.tmdb_rate_margin_ms,
            fallback_limit=settings.tmdb_fallback_rate_limit_per_s,
        )
        tmdb_breaker = CircuitBreaker(
            "tmdb",
            failure_threshold=settings.tmdb_breaker_failures,
            reset_after_s=settings.tmdb_breaker_reset_s,
        )
        client = TmdbClient.from_settings(settings, http, limiter, tmdb_breaker)
    else:
        logger.warning("no WATCHLIST_TMDB_BASE_URL, _TOKEN or _API_KEY: the catalog answers 503")
    cursors = CursorCodec(cursor_secret(settings), max_offset=MAX_OFFSET)
    service = CatalogService.from_settings(settings, client, TmdbCache(redis, breaker), cursors)
    stack.push_async_callback(service.aclose)
    return service


async def sweep_pending_metadata(service: WatchlistService, interval_s: float) -> None:
    """Fill in, now and then, metadata that TMDb could not give when titles were added."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            filled = await service.fill_all_pending()
        except Exception:  # a sweep must never end the loop; the next one retries
            logger.exception("metadata sweep failed")
            continue
        if filled:
            logger.info("metadata sweep filled {} titles", filled)


def drain_on_sigterm(app: Litestar, drain_s: float) -> None:
    """On SIGTERM, turn readiness to 503 at once and keep serving for ``drain_s`` so that load balancers stop
    sending new requests, then hand the signal to the server's own handler (uvicorn's graceful shutdown:
    in-flight requests finish, then the lifespan closes). Only where a server has installed a handler."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        app.state.ready = False
        logger.info("SIGTERM: not ready any more; shutting down in {} s", drain_s)
        loop.call_soon_threadsafe(loop.call_later, drain_s, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Open MongoDB, Redis and HTTP clients, build the services, and close everything on the way out."""
    settings: Settings = app.state.settings
    # httpx logs every request URL at INFO, and a TMDb v3 key travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with AsyncExitStack() as resources:
        mongo = mongo_client(settings)
        resources.push_async_callback(mongo.close)
        redis = redis_client(settings)
        resources.push_async_callback(redis.aclose)
        await load_slot_map(redis)
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        resources.push_async_callback(http.aclose)

        def redis_breaker(use: str) -> CircuitBreaker:
            # One per use of Redis: a timeout seen by one (under overload, say) does not switch off the
            # others; a Redis that is really down trips each of them after a few calls anyway.
            return CircuitBreaker(
                f"redis-{use}",
                failure_threshold=settings.breaker_failures,
                reset_after_s=settings.breaker_reset_s,
            )

        await init_beanie(database=mongo[settings.mongodb_database], document_models=[Watchlist])
        repository = WatchlistRepository(
            Watchlist.get_pymongo_collection(), cap=settings.list_cap, changes_kept=settings.changes_kept
        )
        cache = PageCache(
            redis, redis_breaker("pages"), ttl_s=settings.cache_page_ttl_s, enabled=settings.cache_enabled
        )
        catalog = await open_catalog(settings, resources, redis, redis_breaker("catalog"))
        service = WatchlistService(
            repository,
            cache,
            events=app.state.get("event_sink"),  # the realtime fan-out (RealtimePlugin)
            titles=catalog if tmdb_configured(settings) else None,
            lookup_timeout_s=settings.list_lookup_timeout_s,
        )
        resources.push_async_callback(service.aclose)
        sweeper = asyncio.create_task(sweep_pending_metadata(service, settings.metadata_sweep_interval_s))
        resources.push_async_callback(_cancel, sweeper)
        app.state.catalog_service = catalog
        app.state.redis = redis
        app.state.redis_breaker = redis_breaker("requests")  # rate limits and idempotency keys
        app.state.rate_limits = RateLimits(settings, redis, app.state.redis_breaker)
        app.state.repository = repository
        app.state.page_cache = cache
        app.state.watchlist_service = service
        app.state.verifier = TokenVerifier(settings, http)
        app.state.ready = True
        drain_on_sigterm(app, settings.shutdown_drain_s)
        logger.info("watchlist-service started")
        try:
            yield
        finally:
            app.state.ready = False
            logger.info("watchlist-service stopping")
