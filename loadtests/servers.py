"""Throwaway backends and a ``watchlist-service serve`` process for the benchmarks (one worker: uvicorn runs
in that process)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from watchlist_dev.processes import (
    ManagedProcess,
    api_env,
    free_port,
    mongodb_uri,
    start_api,
    start_fake_tmdb,
    start_mongod,
    start_redis,
)
from watchlist_service.config import Settings


def start_backends(work: Path, stack: ExitStack) -> tuple[Settings, dict[str, str]]:
    """A throwaway mongod and redis-server in ``work``, stopped by ``stack``; the settings to mint tokens
    with, and a server environment on them (a fresh JWT secret, no access log, warnings only)."""
    mongod = start_mongod(work / "mongo")
    stack.callback(mongod.stop)
    redis = start_redis(work / "redis")
    stack.callback(redis.stop)
    settings = Settings(
        _env_file=None,
        jwt_secret=secrets.token_urlsafe(48),
        mongodb_uri=mongodb_uri(mongod.port),
        redis_url=f"redis://127.0.0.1:{redis.port}/0",
    )
    env = api_env(settings, {"WATCHLIST_ACCESS_LOG": "false", "WATCHLIST_LOG_LEVEL": "WARNING"})
    return settings, env


# Limits on (their Redis round trip is measured) but never reached by one wrk client.
UNREACHED_LIMITS = {
    f"WATCHLIST_RATE_LIMIT_{kind}": "100000000/minute" for kind in ("READS", "WRITES", "CATALOG")
}
# The access log on and written, as deployed (to the server's log file here): its lines are INFO.
ACCESS_LOG_WRITTEN = {"WATCHLIST_ACCESS_LOG": "true", "WATCHLIST_LOG_LEVEL": "INFO"}


def start_catalog(work: Path, stack: ExitStack) -> dict[str, str]:
    """A fake TMDb in ``work``, stopped by ``stack``; the server environment that points at it."""
    tmdb, tmdb_token = start_fake_tmdb(work)
    stack.callback(tmdb.stop)
    return {
        "WATCHLIST_TMDB_BASE_URL": f"http://127.0.0.1:{tmdb.port}",
        "WATCHLIST_TMDB_TOKEN": tmdb_token,
        "WATCHLIST_TMDB_RATE_LIMIT_PER_S": "1000",  # the fake is local; warming the cache is not measured
    }


@contextmanager
def serve_one_worker(env: dict[str, str], log_dir: Path) -> Iterator[tuple[str, int]]:
    """Start the server with ``env``, wait until it is ready; yields its base URL and pid."""
    port = free_port()
    server = start_api(port, env, log_dir / f"server-{port}.log")
    try:
        yield server.url, server.popen.pid
    finally:
        server.stop(timeout_s=60)


@contextmanager
def serve_bare_route(log_dir: Path) -> Iterator[str]:
    """The bare Litestar route (``loadtests/bare_app.py``) on the same server as ours; yields its URL."""
    port = free_port()
    args = [sys.executable, "-m", "loadtests.bare_app", str(port)]
    server = ManagedProcess("bare", args, port, log_dir / f"bare-{port}.log").start().wait_for_port(30)
    try:
        yield f"{server.url}/bare"
    finally:
        server.stop()
