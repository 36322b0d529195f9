"""Throwaway backends and a ``watchlist-service serve`` process for the benchmarks (one worker: uvicorn runs
in that process)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from watchlist_service.config import Settings
from watchlist_service.devstack.processes import (
    free_port,
    mongodb_uri,
    start_mongod,
    start_redis,
    wait_for_port,
)


def start_backends(work: Path, stack: ExitStack) -> tuple[Settings, dict[str, str]]:
    """A throwaway mongod and redis-server in ``work``, stopped by ``stack``; the settings to mint tokens
    with, and a server environment on them (a fresh JWT secret, no access log, warnings only)."""
    secret = secrets.token_urlsafe(48)
    mongod = start_mongod(work / "mongo")
    stack.callback(mongod.stop)
    redis = start_redis(work / "redis")
    stack.callback(redis.stop)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLIST_")}
    env.update(
        {
            "WATCHLIST_MONGODB_URI": mongodb_uri(mongod.port),
            "WATCHLIST_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "WATCHLIST_JWT_SECRET": secret,
            "WATCHLIST_ACCESS_LOG": "false",
            "WATCHLIST_LOG_LEVEL": "WARNING",
        }
    )
    return Settings(_env_file=None, jwt_secret=secret), env


@contextmanager
def serve_one_worker(env: dict[str, str], log_dir: Path) -> Iterator[tuple[str, int]]:
    """Start the server with ``env``, wait until it is ready; yields its base URL and pid."""
    port = free_port()
    with (log_dir / f"server-{port}.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  # our own argument list
            [sys.executable, "-m", "watchlist_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
    try:
        wait_for_port(port, timeout_s=30, process=process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while httpx.get(url + "/v1/health/ready", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not get ready")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
