"""Prometheus metrics of our own (request metrics come from Litestar's Prometheus middleware)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusMiddleware
from litestar.types import Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram
from pymongo import monitoring

CACHE_EVENTS = Counter(
    "watchlist_cache_events_total",
    "Cache lookups and writes by cache and outcome (hit, miss, fill_rejected, invalidated, error).",
    ["cache", "outcome"],
)
INVALIDATOR_EVENTS = Counter(
    "watchlist_invalidator_events_total",
    "Change-stream invalidations by outcome (invalidated, failed: retried, dropped: over the pending cap, "
    "stream_error).",
    ["outcome"],
)
INVALIDATOR_DELAY = Histogram(
    "watchlist_invalidator_delay_seconds",
    "From a list change in MongoDB (its wall time) to this replica's change stream seeing it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MONGO_LATENCY = Histogram(
    "watchlist_mongo_command_seconds",
    "MongoDB command latency by command and outcome.",
    ["command", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REDIS_CALL_ERRORS = Counter(
    "watchlist_redis_errors_total",
    "Redis calls that failed or timed out, by use (the breaker's name: redis-pages, redis-catalog, ...).",
    ["use"],
)
REDIS_PIPELINE_BATCH = Histogram(
    "watchlist_redis_pipeline_commands",
    "Commands per auto-pipelined batch sent to Redis.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
TMDB_CALLS = Counter(
    "watchlist_tmdb_requests_total",
    "Requests sent to TMDb by endpoint kind and outcome.",
    ["kind", "outcome"],
)

BREAKER_OPEN = Gauge(
    "watchlist_breaker_open",
    "1 while a breaker is open or probing (half-open), 0 once closed; by breaker (redis-pages, "
    "redis-catalog, redis-requests, redis-tmdb-limit, redis-realtime, tmdb).",
    ["breaker"],
    multiprocess_mode="livemax",
)
BREAKER_OPENED = Counter(
    "watchlist_breaker_opened_total", "Times a closed breaker opened, by breaker.", ["breaker"]
)

WS_SOCKETS = Gauge(
    "watchlist_ws_sockets", "Open realtime sockets (authenticated).", multiprocess_mode="livesum"
)
WS_MESSAGES = Counter(
    "watchlist_ws_messages_total",
    "Messages sent on realtime sockets by kind (event, catch_up, resync, reply, ping).",
    ["kind"],
)
WS_CLOSES = Counter(
    "watchlist_ws_closes_total",
    "Realtime sockets closed by the server, by reason (unauthenticated, slow_consumer, shutdown, ...).",
    ["reason"],
)
WS_PUBLISHED = Counter(
    "watchlist_ws_published_total",
    "List events handed to Redis pub/sub by outcome (ok, error, skipped while the breaker is open).",
    ["outcome"],
)


class MongoCommandMetrics(monitoring.CommandListener):
    """Feeds ``MONGO_LATENCY`` from PyMongo's command monitoring."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Nothing to do when a command starts; durations come with its end."""

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Record a command's duration."""
        MONGO_LATENCY.labels(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Record a failed command's duration."""
        MONGO_LATENCY.labels(event.command_name, "error").observe(event.duration_micros / 1e6)


class LeanPrometheusMiddleware(PrometheusMiddleware):
    """Litestar's Prometheus middleware with the same metrics and labels, minus its per-request overhead.

    The stock middleware builds a ``Request`` and resolves every labelled child metric on each request,
    which halved the throughput of a hello endpoint here (12.5k -> 6.7k req/s). This one reads the scope
    directly and keeps the children per (method, path template, status): 10.6k req/s on the same machine.
    Custom ``labels`` and ``exemplars`` of ``PrometheusConfig`` are not supported (we use neither).
    """

    _progress: ClassVar[dict[tuple[str, str], Any]] = {}
    _finished: ClassVar[dict[tuple[str, str, int], tuple[Any, Any, Any]]] = {}

    def _children(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        key = (method, path, status)
        children = self._finished.get(key)
        if children is None:
            labels: dict[str, str | int | float] = {
                "method": method,
                "path": path,
                "status_code": status,
                "app_name": self._config.app_name,
            }
            values = list(labels.values())
            children = self._finished[key] = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                self.requests_error_count(labels).labels(*values),
            )
        return children

    def _in_progress(self, method: str, path: str) -> Any:
        gauge = self._progress.get((method, path))
        if gauge is None:
            labels: dict[str, str | int | float] = {
                "method": method,
                "path": path,
                "status_code": 200,
                "app_name": self._config.app_name,
            }
            gauge = self.requests_in_progress(labels).labels(*labels.values())
            self._progress[(method, path)] = gauge
        return gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count, time and track the request under its route template."""
        method = scope["method"] if scope["type"] == ScopeType.HTTP else str(scope["type"])
        path = scope["path_template"] if self._config.group_path else scope["path"]
        status = 500
        started = time.perf_counter()

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self._in_progress(method, path)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_and_watch)
        except Exception as exc:
            # Raised by a middleware inside this one (authentication): the app's handler answers with the
            # exception's own status, so count that, not a 500.
            raised_status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
            status = raised_status if isinstance(raised_status, int) else 500
            raise
        finally:
            in_progress.dec()
            count, duration, errors = self._children(method, path, status)
            if status >= 500:
                errors.inc()
            count.inc()
            duration.observe(time.perf_counter() - started)


EVENTS_RELAYED = Counter(
    "watchlist_events_total",
    "The event relay (docs/design.md §12) by outcome: published (events), publish_failed (batches, retried), "
    "lease_acquired, lease_lost, stream_error, history_lost (the stored position was too old for the oplog).",
    ["outcome"],
)
EVENTS_LAG = Histogram(
    "watchlist_events_lag_seconds",
    "From a list change (its change record's time) to its event being in the Redis Stream.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
