"""MongoDB, in one place: the client factory and the one translation of driver errors into domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from watchlist_service.config import Settings
from watchlist_service.errors import DatabaseUnavailable
from watchlist_service.metrics import MongoCommandMetrics

MongoDocument: TypeAlias = dict[str, Any]
MongoClient: TypeAlias = AsyncMongoClient[MongoDocument]
APP_NAME = "watchlist-service"


def mongo_client(settings: Settings) -> MongoClient:
    """A client that writes with majority + journal and gives up within the configured timeout."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        w="majority",
        journal=True,
        timeoutMS=settings.mongodb_timeout_ms,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        appname=APP_NAME,
        event_listeners=[MongoCommandMetrics()],
    )


@asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Map an unreachable or timed-out MongoDB to ``DatabaseUnavailable``; other errors are bugs.

    ``DuplicateKeyError`` passes through: the repository resolves it (an upsert that lost a race).
    """
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        if isinstance(exc, ConnectionFailure) or exc.timeout:
            raise DatabaseUnavailable("The list database is unavailable; retry shortly") from exc
        raise
