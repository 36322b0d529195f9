"""The embedded dev stack: what ``watchlist-dev run`` (``make run``) starts around the API.

mongod (data kept in ``data_dir``), redis-server and the fake TMDb are started when the settings do not point
elsewhere. A supervisor thread restarts any of them that dies, on the same port and data directory.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from loguru import logger
from pydantic import SecretStr

from watchlist_dev.devenv import (
    DEV_MONGO_PORT,
    DEV_REDIS_PORT,
    DEV_TMDB_PORT,
    loopback_port,
    preferred_port,
    read_env_file,
)
from watchlist_dev.processes import (
    ManagedProcess,
    mongodb_uri,
    port_is_free,
    start_fake_tmdb,
    start_mongod,
    start_redis,
)
from watchlist_service.catalog.client import tmdb_configured
from watchlist_service.config import Settings

SUPERVISE_INTERVAL_S = 0.5
RESTART_RETRY_S = 5.0


def fake_tmdb_answers(url: str, token: str) -> bool:
    """Whether a fake TMDb that accepts ``token`` listens at ``url`` (its admin API takes the same token)."""
    try:
        response = httpx.get(f"{url}/__admin/health", headers={"Authorization": f"Bearer {token}"}, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@dataclass
class _Child:
    process: ManagedProcess
    restart: Callable[[], ManagedProcess]
    retry_at: float = 0.0


class DevStack:
    """Starts what is not configured (mongod with data kept in ``data_dir``, redis-server, a fake TMDb).

    TMDb: with no TMDb settings at all, a fake one with a token of this run. When ``env_file`` (the project's
    ``.env``) names a loopback TMDb URL and token (as ``ensure_dev_env`` writes them), that is the fake: it is
    used if it answers to that token, else started there with it (or on another port, said in a warning, when
    something else holds that one). Any other TMDb setting is used as it is.
    """

    def __init__(self, data_dir: Path, settings: Settings, *, env_file: Path | None = None) -> None:
        self._data_dir = data_dir
        self._env_file = env_file
        self.settings = settings
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._tmdb_url: str | None = None

    @property
    def processes(self) -> list[ManagedProcess]:
        """The children running now, oldest first (a restarted one replaces its predecessor)."""
        with self._lock:
            return [child.process for child in self._children]

    def __enter__(self) -> DevStack:
        overrides: dict[str, object] = {}
        self._stopping.clear()
        try:
            if "mongodb_uri" not in self.settings.model_fields_set:
                mongo_dir = self._data_dir / "mongo"
                logger.info("starting mongod (data in {})", mongo_dir)
                mongod = self._start(lambda port: start_mongod(mongo_dir, port), DEV_MONGO_PORT)
                overrides["mongodb_uri"] = mongodb_uri(mongod.port)
            if "redis_url" not in self.settings.model_fields_set:
                redis_dir = self._data_dir / "redis"
                redis = self._start(lambda port: start_redis(redis_dir, port), DEV_REDIS_PORT)
                overrides["redis_url"] = f"redis://127.0.0.1:{redis.port}/0"
            overrides.update(self._start_tmdb())
        except BaseException:
            self.stop()
            raise
        self.settings = self.settings.model_copy(update=overrides)
        self._supervisor = threading.Thread(target=self._supervise, name="dev-stack-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def _start(self, start: Callable[[int], ManagedProcess], port: int) -> ManagedProcess:
        process = start(preferred_port(port))
        # A restart keeps the port: the API and the printed URIs go on pointing at it.
        with self._lock:
            self._children.append(_Child(process, lambda: start(process.port)))
        return process

    def _start_tmdb(self) -> dict[str, object]:
        settings = self.settings
        tmdb_dir = self._data_dir / "tmdb"
        if not tmdb_configured(settings):
            # No TMDb settings: the fake one, with a token of this run.
            fresh = secrets.token_urlsafe(32)
            fake = self._start(lambda port: start_fake_tmdb(tmdb_dir, port, token=fresh)[0], DEV_TMDB_PORT)
            self._tmdb_url = fake.url
            return {"tmdb_base_url": fake.url, "tmdb_token": SecretStr(fresh)}
        written = read_env_file(self._env_file) if self._env_file is not None else {}
        url, token = settings.tmdb_base_url, settings.tmdb_token
        port = loopback_port(url)
        if (
            url is None
            or token is None
            or port is None
            or written.get("WATCHLIST_TMDB_BASE_URL") != url
            or written.get("WATCHLIST_TMDB_TOKEN") != token.get_secret_value()
        ):
            return {}  # a TMDb configured by hand: used as it is
        secret = token.get_secret_value()
        self._tmdb_url = url
        if fake_tmdb_answers(url, secret):
            logger.info("the fake TMDb of {} is running at {}", self._env_file, url)
            return {}
        if not port_is_free(port):
            logger.warning(
                "port {} of the fake TMDb in {} is taken by something else: starting it on another port",
                port,
                self._env_file,
            )
        fake = self._start(lambda p: start_fake_tmdb(tmdb_dir, p, token=secret)[0], port)
        self._tmdb_url = fake.url
        return {} if fake.port == port else {"tmdb_base_url": fake.url}

    def _supervise(self) -> None:
        """Restart a child that died, on its port; one log line each time."""
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            with self._lock:
                children = list(self._children)
            for child in children:
                if child.process.running or self._stopping.is_set():
                    continue
                self._restart(child)

    def _restart(self, child: _Child) -> None:
        if time.monotonic() < child.retry_at:
            return
        process = child.process
        try:
            child.process = child.restart()
        except Exception as exc:  # it may be back next time (a port in TIME_WAIT, a slow disk)
            child.retry_at = time.monotonic() + RESTART_RETRY_S
            logger.error(
                "{} (port {}) exited with {}; restarting it failed, trying again in {:.0f} s: {}",
                process.name,
                process.port,
                process.popen.returncode,
                RESTART_RETRY_S,
                exc,
            )
            return
        child.retry_at = 0.0
        logger.warning(
            "{} (port {}) exited with {}: restarted (pid {}, log {})",
            process.name,
            process.port,
            process.popen.returncode,
            child.process.popen.pid,
            process.log_path,
        )

    def extra_lines(self) -> list[str]:
        """Further ``NAME=value`` lines to print for the developer."""
        if not self._tmdb_url or self.settings.tmdb_token is None:
            return []
        # What a second instance outside the project folder (which has no .env) needs to reach the fake.
        return [
            f"WATCHLIST_TMDB_BASE_URL={self._tmdb_url}",
            f"WATCHLIST_TMDB_TOKEN={self.settings.tmdb_token.get_secret_value()}",
        ]

    def stop(self) -> None:
        """Stop the supervisor, then every process this stack started, newest first."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None
        with self._lock:
            children, self._children = self._children, []
        for child in reversed(children):
            child.process.stop()
        self._tmdb_url = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
