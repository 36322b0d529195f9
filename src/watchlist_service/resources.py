"""The composition root: everything the service holds while it runs, built in one place, in one order.

``open_resources`` builds one frozen, typed ``Resources`` (clients, breakers, repositories, caches, services,
the realtime hub) and closes it in reverse order. ``Root`` is what ``create_app`` hands to middleware and
dependency providers: it holds the ``Resources`` of the running app. Nothing looks a service up by name.

Start-up, in order: MongoDB (indexes ensured), the one Redis client (Cluster slot map loaded), the HTTP
clients, the catalog, the realtime fan-out (pub/sub), the list service, the change-stream invalidator, the
event relay (its lease decides which replica publishes), the realtime hub, the import jobs and the eraser,
the metadata sweep; then readiness turns on and the signal handlers go in (SIGTERM: readiness off, drain,
sockets closed with 1001, then the server's own shutdown). Shutdown runs the same list backwards.

Tracing (``WATCHLIST_OTEL_ENDPOINT``) is owned here too: ``Root`` builds its tracer provider (the app's
middleware needs it), starts it before the clients are opened, hands it to each client to instrument, and
shuts it down after they are closed. Off, none of it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Final

import httpx
from litestar import Litestar
from loguru import logger
from redis.asyncio import Redis

from watchlist_service.catalog.cache import ReadThroughCache
from watchlist_service.catalog.client import TmdbClient, tmdb_configured, tmdb_http_client
from watchlist_service.catalog.cursor import CursorCodec, cursor_secret
from watchlist_service.catalog.limiter import OutboundLimiter
from watchlist_service.catalog.schemas import MAX_OFFSET
from watchlist_service.catalog.service import CatalogService
from watchlist_service.config import Settings
from watchlist_service.events.relay import EventRelay
from watchlist_service.events.repository import RelayStateRepository
from watchlist_service.events.stream import EventPublisher
from watchlist_service.infra.breaker import CircuitBreaker
from watchlist_service.infra.mongo import MongoClient, mongo_client
from watchlist_service.infra.redis import (
    Pipeliner,
    RedisClient,
    RedisGuard,
    load_slot_map,
    pubsub_client,
    redis_client,
)
from watchlist_service.portability.erase import EraseService
from watchlist_service.portability.export import ExportService
from watchlist_service.portability.imports import ImportService
from watchlist_service.portability.repository import ImportRepository
from watchlist_service.ratelimit import RateLimits
from watchlist_service.realtime.fanout import ChannelsEventSink, build_channels
from watchlist_service.realtime.hub import RealtimeHub
from watchlist_service.realtime.tickets import TicketStore
from watchlist_service.recommendations.cache import RecommendationsCache
from watchlist_service.recommendations.service import RecommendationService
from watchlist_service.security import TokenVerifier
from watchlist_service.tracing import Tracing, open_tracing
from watchlist_service.watchlist.cache import PageCache
from watchlist_service.watchlist.invalidator import ChangeStreamInvalidator
from watchlist_service.watchlist.repository import WatchlistRepository
from watchlist_service.watchlist.service import WatchlistService

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

_ROOT_KEY: Final = "composition_root"


@dataclass(slots=True)
class Readiness:
    """Whether the readiness probe answers 200: on once started, off from SIGTERM (drain) and shutdown."""

    ready: bool = False


@dataclass(frozen=True, slots=True)
class Resources:
    """What the running service holds; built by ``open_resources`` only."""

    settings: Settings
    mongo: MongoClient
    redis: RedisClient
    requests_redis: RedisGuard  # rate limits, idempotency keys, socket tickets
    verifier: TokenVerifier
    rate_limits: RateLimits
    repository: WatchlistRepository
    page_cache: PageCache
    catalog: CatalogService
    watchlist: WatchlistService
    realtime: RealtimeHub
    imports: ImportService
    eraser: EraseService
    exporter: ExportService
    recommendations: RecommendationService
    readiness: Readiness = field(default_factory=Readiness)
    events: EventRelay | None = None  # None: WATCHLIST_EVENTS_ENABLED=false


def _guard(
    settings: Settings,
    redis: RedisClient,
    pipeliner: Pipeliner | None,
    use: str,
    *,
    budget_ms: int | None = None,
) -> RedisGuard:
    """One use of Redis with a breaker of its own (see RedisGuard), within the request budget by default."""
    breaker = CircuitBreaker(
        f"redis-{use}", failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s
    )
    budget_s = (budget_ms or settings.redis_budget_ms) / 1000
    return RedisGuard(redis, breaker, pipeliner=pipeliner, budget_s=budget_s)


async def _open_catalog(
    settings: Settings,
    stack: AsyncExitStack,
    redis: RedisClient,
    pipeliner: Pipeliner,
    tracing: Tracing | None = None,
) -> CatalogService:
    """The TMDb catalog; without TMDb settings it answers 503 ``catalog-unavailable`` (start-up goes on)."""
    client: TmdbClient | None = None
    if tmdb_configured(settings):
        http = tmdb_http_client(settings)
        stack.push_async_callback(http.aclose)
        if tracing is not None:
            tracing.instrument_http(http)
        limiter = OutboundLimiter(
            # Coordination, not a cache: a slot is worth waiting for (the request waits for TMDb anyway), and
            # a slow call must not switch the replicas to their per-process limits, which add up past TMDb's.
            _guard(settings, redis, pipeliner, "tmdb-limit", budget_ms=settings.redis_timeout_ms),
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
    cache = ReadThroughCache(
        # Its lease protocol is what makes one TMDb call out of a burst on every replica: worth the socket
        # timeout rather than the request budget, since a miss waits for TMDb anyway.
        _guard(settings, redis, pipeliner, "catalog", budget_ms=settings.redis_timeout_ms),
        deadline_s=settings.tmdb_deadline_s,
        stale_ttl_s=settings.tmdb_stale_ttl_s,
        not_found_ttl_s=settings.tmdb_not_found_ttl_s,
        failure_ttl_s=settings.tmdb_failure_ttl_s,
        local_cache_s=settings.tmdb_local_cache_s,
    )
    stack.push_async_callback(cache.aclose)
    return CatalogService(
        client,
        cache,
        CursorCodec(cursor_secret(settings), max_offset=MAX_OFFSET),
        list_ttl_s=settings.tmdb_list_ttl_s,
        detail_ttl_s=settings.tmdb_detail_ttl_s,
    )


async def _open_portability(
    settings: Settings,
    stack: AsyncExitStack,
    mongo: MongoClient,
    redis: RedisClient,
    pipeliner: Pipeliner,
    lists: WatchlistRepository,
    page_cache: PageCache,
    events: ChannelsEventSink,
    catalog: CatalogService,
    tickets: TicketStore,
) -> tuple[ImportService, EraseService]:
    """Import jobs (running and resumed here) and the eraser (docs/design.md §11)."""
    repository = ImportRepository(
        mongo[settings.mongodb_database], keep_s=settings.import_keep_s, lease_s=settings.import_lease_s
    )
    await repository.ensure_indexes()
    configured = tmdb_configured(settings)
    imports = ImportService(
        repository,
        lists,
        page_cache,
        events,
        titles=catalog if configured else None,
        movies=catalog if configured else None,
        max_rows=settings.import_max_rows,
        max_bytes=settings.import_max_bytes,
        lease_s=settings.import_lease_s,
        sweep_interval_s=settings.import_sweep_interval_s,
        lookups_per_s=settings.import_lookups_per_s,
    )
    await stack.enter_async_context(imports.running())
    eraser = EraseService(
        lists,
        page_cache,
        # Not held to a request's budget: an erase scans and deletes, each call within the socket timeout.
        _guard(settings, redis, pipeliner, "erase", budget_ms=settings.redis_timeout_ms),
        imports=repository,
        tickets=tickets,
        sockets=events,
        # Reads and adds already under way land within the MongoDB timeout plus the Redis budget.
        settle_s=(settings.mongodb_timeout_ms + settings.redis_budget_ms) / 1000,
    )
    return imports, eraser


async def _sweep_pending_metadata(service: WatchlistService, interval_s: float) -> None:
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


async def _open_events(
    settings: Settings,
    stack: AsyncExitStack,
    mongo: MongoClient,
    repository: WatchlistRepository,
    redis: RedisClient,
    pipeliner: Pipeliner,
) -> EventRelay | None:
    """The event relay (docs/design.md §12): every replica runs one; the lease makes one of them active."""
    if not settings.events_enabled:
        return None
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    relay = EventRelay(
        repository,
        RelayStateRepository(
            mongo[settings.mongodb_database], settings.events_stream, holder, lease_s=settings.events_lease_s
        ),
        # Not a request: a batch may take the socket timeout; the relay retries what fails.
        EventPublisher(
            _guard(settings, redis, pipeliner, "events", budget_ms=settings.redis_timeout_ms),
            settings.events_stream,
            maxlen=settings.events_maxlen,
        ),
        event_source=settings.events_source,
        lease_s=settings.events_lease_s,
    )
    await stack.enter_async_context(relay.running())
    return relay


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def open_resources(settings: Settings, tracing: Tracing | None = None) -> AsyncIterator[Resources]:
    """Open MongoDB, Redis and HTTP clients (traced by ``tracing`` when given), build the services, and
    close everything on the way out."""
    # httpx logs every request URL at INFO, and a TMDb v3 key travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with AsyncExitStack() as stack:
        mongo = mongo_client(settings, tracing.mongo_listeners() if tracing is not None else ())
        stack.push_async_callback(mongo.close)
        repository = WatchlistRepository(
            mongo[settings.mongodb_database], cap=settings.list_cap, changes_kept=settings.changes_kept
        )
        await repository.ensure_indexes()

        redis = redis_client(settings)
        stack.push_async_callback(redis.aclose)
        if tracing is not None:
            tracing.instrument_redis(redis)
        await load_slot_map(redis)
        pipeliner = Pipeliner(redis)  # one for every use of the client: they share its batches
        stack.push_async_callback(pipeliner.aclose)
        requests_redis = _guard(settings, redis, pipeliner, "requests")
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))  # the JWKS endpoint, when configured
        stack.push_async_callback(http.aclose)
        if tracing is not None:
            tracing.instrument_http(http)
        verifier = TokenVerifier(settings, http)
        rate_limits = RateLimits(settings, requests_redis)

        catalog = await _open_catalog(settings, stack, redis, pipeliner, tracing)

        # Pub/sub needs its own connection; Channels starts its receiver here and closes that client.
        pubsub: Redis = pubsub_client(settings)
        channels, backend = build_channels(settings, pubsub)
        await stack.enter_async_context(channels)
        events = ChannelsEventSink(
            channels,
            _guard(settings, pubsub, None, "realtime"),
            timeout_s=max(settings.redis_timeout_ms / 1000, 0.05),
        )

        page_cache = PageCache(
            _guard(settings, redis, pipeliner, "pages"),
            ttl_s=settings.cache_page_ttl_s,
            enabled=settings.cache_enabled,
        )
        watchlist = WatchlistService(
            repository,
            page_cache,
            events,
            titles=catalog if tmdb_configured(settings) else None,
            lookup_timeout_s=settings.list_lookup_timeout_s,
        )
        stack.push_async_callback(watchlist.aclose)
        if settings.cache_change_stream:
            invalidator = ChangeStreamInvalidator(repository, page_cache)
            await stack.enter_async_context(invalidator.running())

        recommendations = RecommendationService(
            repository,
            catalog,
            RecommendationsCache(
                _guard(settings, redis, pipeliner, "recs"),
                ttl_s=settings.recs_ttl_s,
                stale_ttl_s=settings.recs_stale_ttl_s,
            ),
            seed_titles=settings.recs_seed_titles,
        )
        events_relay = await _open_events(settings, stack, mongo, repository, redis, pipeliner)

        hub = RealtimeHub(
            settings,
            channels,
            backend,
            service=watchlist,
            verifier=verifier,
            limits=rate_limits,
            tickets=TicketStore(requests_redis, ttl_s=settings.ws_ticket_ttl_s),
        )
        # Entered after Channels, so left before it: sockets are closed with 1001 while pub/sub still runs.
        await stack.enter_async_context(hub.running())

        imports, eraser = await _open_portability(
            settings, stack, mongo, redis, pipeliner, repository, page_cache, events, catalog, hub.tickets
        )

        sweeper = asyncio.create_task(_sweep_pending_metadata(watchlist, settings.metadata_sweep_interval_s))
        stack.push_async_callback(_cancel, sweeper)
        yield Resources(
            settings=settings,
            mongo=mongo,
            redis=redis,
            requests_redis=requests_redis,
            verifier=verifier,
            rate_limits=rate_limits,
            repository=repository,
            page_cache=page_cache,
            catalog=catalog,
            watchlist=watchlist,
            realtime=hub,
            imports=imports,
            eraser=eraser,
            exporter=ExportService(repository),
            recommendations=recommendations,
            events=events_relay,
        )


class Root:
    """The resources of one app: built at start-up by ``lifespan``, read by middleware and providers."""

    def __init__(self, settings: Settings, *, span_exporter: SpanExporter | None = None) -> None:
        """``span_exporter`` replaces the OTLP exporter when tracing is on (tests: in memory)."""
        self.settings = settings
        self.tracing: Tracing | None = open_tracing(settings, exporter=span_exporter)
        self._resources: Resources | None = None

    @property
    def resources(self) -> Resources:
        """The running app's resources (``RuntimeError`` before start-up or after shutdown)."""
        if self._resources is None:
            raise RuntimeError("the service is not started")
        return self._resources

    def attach(self, app: Litestar) -> None:
        """Make this root findable from ``app`` (``resources_of``: tests and tools only)."""
        app.state[_ROOT_KEY] = self

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """The app's one lifespan: start tracing, open the resources, serve, then close them (and flush the
        spans last)."""
        if self.tracing is not None:
            self.tracing.start()
        try:
            async with self._serving():
                yield
        finally:
            if self.tracing is not None:
                # Flushing waits for the collector (up to its timeout): not on the event loop.
                await asyncio.to_thread(self.tracing.shutdown)

    @asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        async with open_resources(self.settings, self.tracing) as resources:
            self._resources = resources
            _freeze_start_up()
            resources.readiness.ready = True
            try:
                async with resources.realtime.signal_relay():
                    _drain_on_sigterm(resources, self.settings.shutdown_drain_s)
                    logger.info("watchlist-service started")
                    yield
            finally:
                resources.readiness.ready = False
                logger.info("watchlist-service stopping")
        self._resources = None


_frozen = False


def _freeze_start_up() -> None:
    """What start-up built (modules, the app, its schemas, the clients) lives as long as the process: move
    it out of the collector's generations, so that full collections do not scan it on the hot path. Once
    per process (an app started again in the same process, as in tests, would freeze the garbage of the one
    before)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def resources_of(app: Litestar) -> Resources:
    """The resources of a running app made by ``create_app`` (for tests and tools; the service itself gets
    them through its constructors and providers)."""
    root = app.state[_ROOT_KEY]
    assert isinstance(root, Root)
    return root.resources


def _drain_on_sigterm(resources: Resources, drain_s: float) -> None:
    """On SIGTERM, turn readiness to 503 at once and keep serving for ``drain_s`` so that load balancers stop
    sending new requests, then hand the signal on (the hub's relay: sockets closed with 1001; then the
    server's graceful shutdown). Only where a server has installed a handler, in the main thread."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        resources.readiness.ready = False
        logger.info("SIGTERM: not ready any more; shutting down in {} s", drain_s)
        loop.call_soon_threadsafe(loop.call_later, drain_s, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
