"""Test harness: one throwaway mongod (single-node replica set) and redis-server per session, on free ports.

Tests drive the app in their own event loop through ``httpx.ASGITransport`` (in-process) or, where several
replicas matter, through real ``watchlist-service serve`` processes over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from watchlist_dev.processes import (
    ManagedProcess,
    api_env,
    free_port,
    mongodb_uri,
    start_api,
    start_mongod,
    start_redis,
)
from watchlist_service.app import create_app
from watchlist_service.config import Settings
from watchlist_service.security import mint_token

TEST_SECRET = "test-secret-" + "x" * 40
# Limits stay on (their Redis round trip is part of every request) but high enough that tests sending many
# requests as one user or from one address are not refused; tests of the limits set their own.
GENEROUS_RATE_LIMITS = {
    "rate_limit_reads": "1000000/minute",
    "rate_limit_writes": "1000000/minute",
    "rate_limit_catalog": "1000000/minute",
    "rate_limit_service": "1000000/minute",
    "rate_limit_failed_auth": "1000000/minute",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Backends:
    """The session's real MongoDB and Redis."""

    mongod: ManagedProcess
    redis: ManagedProcess
    data_dir: Path

    @property
    def mongodb_uri(self) -> str:
        return mongodb_uri(self.mongod.port)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    data_dir = tmp_path_factory.mktemp("backends")
    mongod = start_mongod(data_dir / "mongo")
    redis = start_redis(data_dir / "redis")
    try:
        yield Backends(mongod=mongod, redis=redis, data_dir=data_dir)
    finally:
        redis.stop()
        mongod.stop()


def make_settings(backends: Backends, **overrides: Any) -> Settings:
    """Settings for tests: never read from the environment or a developer's ``.env``."""
    values: dict[str, Any] = {
        "mongodb_uri": backends.mongodb_uri,
        "mongodb_database": "watchlist_test",
        "redis_url": backends.redis_url,
        "jwt_secret": TEST_SECRET,
        "log_level": "WARNING",
        "access_log": False,
        **GENEROUS_RATE_LIMITS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def settings(backends: Backends) -> Settings:
    return make_settings(backends)


def bearer(settings: Settings, sub: str, scopes: list[str] | None = None) -> dict[str, str]:
    """Headers with a real token for ``sub``."""
    return {"Authorization": f"Bearer {mint_token(settings, sub, scopes=scopes)}"}


@asynccontextmanager
async def serve_in_process(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan in this event loop and talk to it through ASGI."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # The lifespan is entered and left in one task of its own (its task groups require it), even
        # when the fixture using it is set up and torn down in different tasks.
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        await task  # start-up failed: raise its error
    try:
        # httpx types an ASGI app with plain mappings, Litestar with its own scope and event TypedDicts.
        asgi_app: Callable[..., Awaitable[None]] = app
        transport = httpx.ASGITransport(app=asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        stop.set()
        await task


@pytest.fixture(scope="session")
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One in-process app for the session (the default settings)."""
    async with serve_in_process(create_app(settings)) as client:
        yield client


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_client(backends: Backends) -> ClientFactory:
    """Build an in-process app with some settings changed (``make_client(list_cap=3)``)."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return serve_in_process(create_app(make_settings(backends, **overrides)))

    return factory


@dataclass
class User:
    """A fresh user with a valid token."""

    id: str
    headers: dict[str, str]


@pytest.fixture
def user(settings: Settings) -> User:
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    return User(id=user_id, headers=bearer(settings, user_id))


def new_user(settings: Settings) -> User:
    """Another fresh user (for tests that need several)."""
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    return User(id=user_id, headers=bearer(settings, user_id))


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a server process needs to run with ``settings``'s backends and secret."""
    test_defaults = {
        "WATCHLIST_JWT_SECRET": TEST_SECRET,
        "WATCHLIST_LOG_LEVEL": "WARNING",
        "WATCHLIST_ACCESS_LOG": "false",
        **{f"WATCHLIST_{name.upper()}": value for name, value in GENEROUS_RATE_LIMITS.items()},
    }
    return api_env(settings, {**test_defaults, **extra})


def start_server(settings: Settings, log_dir: Path, *, cwd: Path | None = None, **env: str) -> ManagedProcess:
    """``watchlist-service serve`` on a free port with ``settings``' backends (and ``env``), once ready."""
    port = free_port()
    return start_api(port, server_env(settings, **env), log_dir / f"server-{port}.log", cwd=cwd, timeout_s=30)


@pytest.fixture(scope="session")
def two_servers(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ManagedProcess]]:
    """Two replicas of the service on one MongoDB and one Redis."""
    log_dir = tmp_path_factory.mktemp("servers")
    servers = [start_server(settings, log_dir), start_server(settings, log_dir)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``WATCHLIST_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLIST_")}
    env.update(extra)
    return env


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``watchlist-service ARGS`` run to completion in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "watchlist_service", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
