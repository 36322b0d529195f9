"""The embedded dev stack: what ``watchlist-service dev`` (``make run``) starts around the API."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from types import TracebackType

from loguru import logger
from pydantic import SecretStr

from watchlist_service.catalog.client import tmdb_configured
from watchlist_service.config import Settings
from watchlist_dev.processes import (
    ManagedProcess,
    free_port,
    mongodb_uri,
    port_is_free,
    start_mongod,
    start_redis,
    wait_for_port,
)

DEV_MONGO_PORT = 27018
DEV_REDIS_PORT = 6380
DEV_TMDB_PORT = 8765


def _preferred_port(port: int) -> int:
    # Stable ports make a second terminal's commands easy to repeat; fall back to any free one.
    return port if port_is_free(port) else free_port()


def start_fake_tmdb(
    log_dir: Path, port: int | None = None, *, timeout_s: float = 30.0
) -> tuple[ManagedProcess, str]:
    """The fake TMDb on loopback with a fresh random bearer token (and API key); returns it and the token."""
    port = port or free_port()
    token = secrets.token_urlsafe(32)
    process = ManagedProcess(
        "fake-tmdb",
        [
            sys.executable,
            "-m",
            "watchlist_dev.fake_tmdb",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # "--name=value": a token may begin with "-", which argparse would take for an option.
            f"--api-key={secrets.token_hex(16)}",
            f"--bearer-token={token}",
        ],
        port,
        log_dir / "fake-tmdb.log",
    ).start()
    try:
        wait_for_port(port, timeout_s=timeout_s, process=process.popen)
    except BaseException:
        process.stop()
        raise
    return process, token


class DevStack:
    """Starts what is not configured (mongod with data kept in ``data_dir``, redis-server, a fake TMDb)."""

    def __init__(self, data_dir: Path, settings: Settings) -> None:
        self._data_dir = data_dir
        self.settings = settings
        self._processes: list[ManagedProcess] = []
        self._tmdb_url: str | None = None

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
            if not tmdb_configured(self.settings):
                # No TMDb settings: the fake one, with a token of this run (a real token means real TMDb).
                tmdb, token = start_fake_tmdb(self._data_dir / "tmdb", _preferred_port(DEV_TMDB_PORT))
                self._processes.append(tmdb)
                self._tmdb_url = f"http://127.0.0.1:{tmdb.port}"
                overrides["tmdb_base_url"] = self._tmdb_url
                overrides["tmdb_token"] = SecretStr(token)
        except BaseException:
            self.stop()
            raise
        self.settings = self.settings.model_copy(update=overrides)
        return self

    def _tmdb_configured(self) -> bool:
        settings = self.settings
        return any(
            v is not None for v in (settings.tmdb_base_url, settings.tmdb_token, settings.tmdb_api_key)
        )

    def extra_lines(self) -> list[str]:
        """Further ``NAME=value`` lines to print for the developer."""
        if not self._tmdb_url or self.settings.tmdb_token is None:
            return []
        # The fake's token is made up per run: a second instance needs both lines to reach it.
        return [
            f"WATCHLIST_TMDB_BASE_URL={self._tmdb_url}",
            f"WATCHLIST_TMDB_TOKEN={self.settings.tmdb_token.get_secret_value()}",
        ]

    def stop(self) -> None:
        """Stop every process this stack started, newest first."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        self._tmdb_url = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
