"""The embedded dev stack: what ``watchlist-service dev`` (``make run``) starts around the API."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from loguru import logger

from watchlist_service.config import Settings
from watchlist_service.devstack.processes import (
    ManagedProcess,
    free_port,
    mongodb_uri,
    port_is_free,
    start_mongod,
    start_redis,
)

DEV_MONGO_PORT = 27018
DEV_REDIS_PORT = 6380


def _preferred_port(port: int) -> int:
    # Stable ports make a second terminal's commands easy to repeat; fall back to any free one.
    return port if port_is_free(port) else free_port()


class DevStack:
    """Starts what is not configured (mongod with data kept in ``data_dir``, redis-server) and stops it."""

    def __init__(self, data_dir: Path, settings: Settings) -> None:
        self._data_dir = data_dir
        self.settings = settings
        self._processes: list[ManagedProcess] = []

    def __enter__(self) -> DevStack:
        overrides: dict[str, object] = {}
        try:
            if "mongodb_uri" not in self.settings.model_fields_set:
                logger.info("starting mongod (data in {})", self._data_dir / "mongo")
                mongod = start_mongod(self._data_dir / "mongo", _preferred_port(DEV_MONGO_PORT))
                self._processes.append(mongod)
                overrides["mongodb_uri"] = mongodb_uri(mongod.port)
            if "redis_url" not in self.settings.model_fields_set:
                redis = start_redis(self._data_dir / "redis", _preferred_port(DEV_REDIS_PORT))
                self._processes.append(redis)
                overrides["redis_url"] = f"redis://127.0.0.1:{redis.port}/0"
        except BaseException:
            self.stop()
            raise
        self.settings = self.settings.model_copy(update=overrides)
        return self

    def extra_lines(self) -> list[str]:
        """Further ``NAME=value`` lines to print for the developer."""
        return []

    def stop(self) -> None:
        """Stop every process this stack started, newest first."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
