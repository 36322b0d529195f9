"""Prometheus metrics: the requests (``RequestMetrics``, named as by Litestar's Prometheus middleware) and our
own."""

from __future__ import annotations

from typing import Any, Final

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


class RequestMetrics:
    """Requests by method, route template and status: the metrics (names, labels, buckets) of Litestar's
    Prometheus middleware, fed by ``edge.Edge`` and ``edge.Guard`` instead of a middleware layer of their own.

    The stock middleware builds a ``Request`` and resolves every labelled child on each request, which halved
    the throughput of a hello endpoint here (12.5k -> 6.7k req/s); the children are kept per label values.
    """

    def __init__(self, app_name: str, *, prefix: str = "litestar", excluded: frozenset[str]) -> None:
        labels = ["method", "path", "status_code", "app_name"]
        self._app_name = app_name
        self.excluded = excluded  # route templates not counted (the metrics endpoint itself)
        self._count = Counter(f"{prefix}_requests_total", "Total requests", labels)
        self._time = Histogram(f"{prefix}_request_duration_seconds", "Request duration, in seconds", labels)
        self._progress_gauge = Gauge(
            f"{prefix}_requests_in_progress",
            "Total requests currently in progress",
            labels,
            multiprocess_mode="livesum",
        )
        self._errors = Counter(f"{prefix}_requests_error_total", "Total errors in requests", labels)
        self._progress: dict[tuple[str, str], Any] = {}
        self._finished: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def in_progress(self, method: str, template: str) -> Any:
        """The gauge of requests in progress on one route (its ``status_code`` label is always 200, as the
        stock middleware has it)."""
        gauge = self._progress.get((method, template))
        if gauge is None:
            gauge = (
                _NOT_COUNTED
                if template in self.excluded
                else self._progress_gauge.labels(method, template, 200, self._app_name)
            )
            self._progress[(method, template)] = gauge
        return gauge

    def observe(self, method: str, template: str, status: int, seconds: float) -> None:
        """Count one finished request (and an error for a 5xx) and its duration."""
        key = (method, template, status)
        children = self._finished.get(key)
        if children is None:
            if template in self.excluded:
                return
            values = (method, template, status, self._app_name)
            children = self._finished[key] = (
                self._count.labels(*values),
                self._time.labels(*values),
                self._errors.labels(*values),
            )
        count, duration, errors = children
        if status >= 500:
            errors.inc()
        count.inc()
        duration.observe(seconds)


class _NotCounted:
    """The in-progress gauge of an excluded route."""

    def inc(self) -> None:
        """Nothing to count."""

    def dec(self) -> None:
        """Nothing to count."""


_NOT_COUNTED: Final = _NotCounted()
REQUESTS = RequestMetrics("watchlist", excluded=frozenset({"/metrics"}))


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
