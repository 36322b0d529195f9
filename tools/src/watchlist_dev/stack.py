"""The embedded dev stack: what ``watchlist-dev run`` (``make run``) starts around the API.

mongod (data kept in ``data_dir``), redis-server and the fake TMDb are started when the settings do not point
elsewhere. A supervisor thread restarts any of them that dies, on the same port and data directory, with a
log line each time; a child that keeps dying soon after its start is restarted after a growing pause
(``RESTART_BACKOFF_S`` doubling up to ``RESTART_BACKOFF_MAX_S``), so a crash loop does not spin.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
# A child that lived this long before dying is restarted at once; one that died sooner waits, the pause
# doubling with each quick death up to the maximum.
STABLE_AFTER_S = 30.0
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0


def fake_tmdb_answers(url: str, token: str | None, api_key: str | None = None) -> bool:
    """Whether a fake TMDb that accepts ``token`` (or else ``api_key``) listens at ``url`` (its admin API
    takes the same credentials)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"api_key": api_key} if api_key and not token else {}
    try:
        response = httpx.get(f"{url}/__admin/health", headers=headers, params=params, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def restart_delay(quick_deaths: int) -> float:
    """The pause before restarting a child that died ``quick_deaths`` times in a row soon after starting."""
    if quick_deaths <= 1:
        return 0.0
    return float(min(RESTART_BACKOFF_MAX_S, RESTART_BACKOFF_S * 2 ** (quick_deaths - 2)))


@dataclass
class _Child:
    process: ManagedProcess
    restart: Callable[[], ManagedProcess]
    started_at: float = field(default_factory=time.monotonic)
    quick_deaths: int = 0
    retry_at: float | None = None  # when the dead child is due to be started again


class DevStack:
    """Starts what is not configured (mongod with data kept in ``data_dir``, redis-server, a fake TMDb).

    TMDb: with no TMDb settings at all, a fake one with a token and an API key of this run. When ``env_file``
    (the project's ``.env``) names a loopback TMDb URL and credentials (as ``ensure_dev_env`` writes them),
    that is the fake: it is used if it answers to them, else started there with them (or on another port,
    said in a warning, when something else holds that one). Any other TMDb setting is used as it is.
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
            # No TMDb settings: the fake one, with credentials of this run.
            fresh_token, fresh_key = secrets.token_urlsafe(32), secrets.token_hex(16)
            fake = self._start(
                lambda port: start_fake_tmdb(tmdb_dir, port, token=fresh_token, api_key=fresh_key)[0],
                DEV_TMDB_PORT,
            )
            self._tmdb_url = fake.url
            return {
                "tmdb_base_url": fake.url,
                "tmdb_token": SecretStr(fresh_token),
                "tmdb_api_key": SecretStr(fresh_key),
            }
        written = read_env_file(self._env_file) if self._env_file is not None else {}
        url = settings.tmdb_base_url
        token = _secret(settings.tmdb_token)
        key = _secret(settings.tmdb_api_key)
        port = loopback_port(url)
        if (
            url is None
            or (token is None and key is None)
            or port is None
            or written.get("WATCHLIST_TMDB_BASE_URL") != url
            or written.get("WATCHLIST_TMDB_TOKEN") != token
            or written.get("WATCHLIST_TMDB_API_KEY") != key
        ):
            return {}  # a TMDb configured by hand: used as it is
        self._tmdb_url = url
        if fake_tmdb_answers(url, token, key):
            logger.info("the fake TMDb of {} is running at {}", self._env_file, url)
            return {}
        if not port_is_free(port):
            logger.warning(
                "port {} of the fake TMDb in {} is taken by something else: starting it on another port",
                port,
                self._env_file,
            )
        fake = self._start(lambda p: start_fake_tmdb(tmdb_dir, p, token=token, api_key=key)[0], port)
        self._tmdb_url = fake.url
        return {} if fake.port == port else {"tmdb_base_url": fake.url}

    def _supervise(self) -> None:
        """Restart a child that died, on its port; a log line each time, a growing pause in a crash loop."""
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            with self._lock:
                children = list(self._children)
            for child in children:
                if child.process.running or self._stopping.is_set():
                    continue
                self._revive(child)

    def _revive(self, child: _Child) -> None:
        now = time.monotonic()
        process = child.process
        if child.retry_at is None:  # a death just seen
            lived = now - child.started_at
            child.quick_deaths = child.quick_deaths + 1 if lived < STABLE_AFTER_S else 1
            delay = restart_delay(child.quick_deaths)
            child.retry_at = now + delay
            if delay:
                logger.warning(
                    "{} (port {}) exited with {} {:.1f} s after its start ({} quick exits in a row): "
                    "restarting it in {:.0f} s (log {})",
                    process.name,
                    process.port,
                    process.popen.returncode,
                    lived,
                    child.quick_deaths,
                    delay,
                    process.log_path,
                )
        if now < child.retry_at:
            return
        try:
            child.process = child.restart()
        except Exception as exc:  # it may be back next time (a port in TIME_WAIT, a slow disk)
            child.quick_deaths += 1
            delay = max(RESTART_BACKOFF_S, restart_delay(child.quick_deaths))
            child.retry_at = time.monotonic() + delay
            logger.error(
                "{} (port {}) exited with {}; restarting it failed, trying again in {:.0f} s: {}",
                process.name,
                process.port,
                process.popen.returncode,
                delay,
                exc,
            )
            return
        child.started_at, child.retry_at = time.monotonic(), None
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
        if not self._tmdb_url:
            return []
        # What a second instance outside the project folder (which has no .env) needs to reach the fake.
        lines = [f"WATCHLIST_TMDB_BASE_URL={self._tmdb_url}"]
        if (token := _secret(self.settings.tmdb_token)) is not None:
            lines.append(f"WATCHLIST_TMDB_TOKEN={token}")
        if (key := _secret(self.settings.tmdb_api_key)) is not None:
            lines.append(f"WATCHLIST_TMDB_API_KEY={key}")
        return lines

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
