"""MongoDB, in one place: the client factory and the one translation of driver errors into domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)

from watchlist_service.config import Settings
from watchlist_service.errors import DatabaseUnavailable
from watchlist_service.metrics import MongoCommandMetrics

MongoDocument: TypeAlias = dict[str, Any]
MongoClient: TypeAlias = AsyncMongoClient[MongoDocument]
# What a primary that steps down or shuts down answers (and what a node that is not primary answers): the
# replica set is in transition, not broken. See the server's error_codes.yml ("NotPrimaryError" and
# "ShutdownError" categories).
TRANSITION_CODES = frozenset({91, 189, 10107, 11600, 11602, 13435, 13436})
TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError")


def mongo_client(settings: Settings, listeners: Sequence[monitoring.CommandListener] = ()) -> MongoClient:
    """A client that writes with majority + journal and gives up within the configured timeout; its
    commands feed the latency metrics and ``listeners`` (tracing's, when on)."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        w="majority",
        journal=True,
        timeoutMS=settings.mongodb_timeout_ms,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        appname=settings.mongodb_app_name,
        # How soon the driver looks for the new primary after it saw the old one step down: well within
        # the operation timeout, so a retried write finds it instead of running out of time.
        heartbeatFrequencyMS=settings.mongodb_heartbeat_ms,
        event_listeners=[MongoCommandMetrics(), *listeners],
    )


def unavailable(exc: PyMongoError) -> bool:
    """Whether ``exc`` says MongoDB is unreachable, slow or between primaries (a 503), not that our
    command was wrong (a bug).

    A write-concern error is one of these: the write was applied on the primary but its majority
    acknowledgement is unknown (typically a stepdown); the client's retry of the same request is safe.
    """
    if isinstance(exc, ConnectionFailure | WriteConcernError) or exc.timeout:
        return True
    if any(exc.has_error_label(label) for label in TRANSIENT_LABELS):
        return True
    return isinstance(exc, OperationFailure) and exc.code in TRANSITION_CODES


@asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Map an unreachable, timed-out or electing MongoDB to ``DatabaseUnavailable``; other errors are bugs.

    ``DuplicateKeyError`` passes through: the repository resolves it (an upsert that lost a race).
    """
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        if unavailable(exc):
            raise DatabaseUnavailable("The list database is unavailable; retry shortly") from exc
        raise
