"""Prometheus metrics of our own (request metrics come from Litestar's Prometheus middleware)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from pymongo import monitoring

CACHE_EVENTS = Counter(
    "watchlist_cache_events_total",
    "Cache lookups and writes by cache and outcome (hit, miss, fill_rejected, invalidated, error).",
    ["cache", "outcome"],
)
MONGO_LATENCY = Histogram(
    "watchlist_mongo_command_seconds",
    "MongoDB command latency by command and outcome.",
    ["command", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
TMDB_CALLS = Counter(
    "watchlist_tmdb_requests_total",
    "Requests sent to TMDb by endpoint kind and outcome.",
    ["kind", "outcome"],
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
