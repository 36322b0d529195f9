"""Clients opened at start-up and closed at shutdown; what handlers need is put on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from beanie import init_beanie
from litestar import Litestar
from loguru import logger
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from watchlist_service.breaker import CircuitBreaker
from watchlist_service.config import Settings
from watchlist_service.metrics import MongoCommandMetrics
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
    """A cache client with short timeouts and no retries: the breaker decides when to try again."""
    timeout = settings.redis_timeout_ms / 1000
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Open MongoDB, Redis and HTTP clients, build the services, and close everything on the way out."""
    settings: Settings = app.state.settings
    mongo = mongo_client(settings)
    redis = redis_client(settings)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    try:
        await init_beanie(database=mongo[settings.mongodb_database], document_models=[Watchlist])
        repository = WatchlistRepository(
            Watchlist.get_pymongo_collection(), cap=settings.list_cap, changes_kept=settings.changes_kept
        )
        cache = PageCache(
            redis,
            CircuitBreaker(
                "redis", failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s
            ),
            ttl_s=settings.cache_page_ttl_s,
            enabled=settings.cache_enabled,
        )
        app.state.repository = repository
        app.state.page_cache = cache
        app.state.watchlist_service = WatchlistService(repository, cache)
        app.state.verifier = TokenVerifier(settings, http)
        app.state.ready = True
        logger.info("watchlist-service started")
        yield
    finally:
        app.state.ready = False
        await http.aclose()
        await redis.aclose()
        await mongo.close()
        logger.info("watchlist-service stopped")
