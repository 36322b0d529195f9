"""The dev stack's supervisor: a child that dies is restarted on its port, with one log line saying so."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from pymongo import MongoClient
from redis import Redis

from tests.conftest import GENEROUS_RATE_LIMITS, TEST_SECRET, Backends, bearer, serve_in_process
from tests.integration.catalog_support import FAST_TMDB, TMDB_TOKEN, FakeTmdb
from watchlist_dev.processes import ManagedProcess, wait_for_port
from watchlist_dev.stack import RESTART_BACKOFF_MAX_S, DevStack, restart_delay
from watchlist_service.app import create_app
from watchlist_service.config import Settings

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.faults]

RESTART_WITHIN_S = 15.0  # mongod replays its journal and elects itself again; redis is back in well under 1 s


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The dev stack's warning lines while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message).strip()), level="WARNING", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


def only_configured(**backend: Any) -> Settings:
    """Settings with a TMDb and ``backend`` configured (the stack starts the other backend)."""
    return Settings(
        _env_file=None,
        jwt_secret=TEST_SECRET,
        tmdb_base_url="http://tmdb.internal:8080",
        tmdb_token="t",
        **backend,
    )


def mongo(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=10_000)


def kill_and_wait_for_restart(stack: DevStack, name: str) -> tuple[ManagedProcess, ManagedProcess]:
    """SIGKILL the child called ``name``; the one that replaced it, once it listens on the same port."""
    (old,) = [p for p in stack.processes if p.name == name]
    old.popen.send_signal(signal.SIGKILL)
    old.popen.wait(timeout=5)
    deadline = time.monotonic() + RESTART_WITHIN_S
    while time.monotonic() < deadline:
        (new,) = [p for p in stack.processes if p.name == name]
        if new is not old:
            wait_for_port(new.port, timeout_s=max(0.1, deadline - time.monotonic()), process=new.popen)
            return old, new
        time.sleep(0.05)
    pytest.fail(f"{name} was not restarted within {RESTART_WITHIN_S} s")


def test_a_killed_redis_is_restarted_on_its_port(
    backends: Backends, tmp_path: Path, warnings: list[str]
) -> None:
    # MongoDB and TMDb are configured: the stack starts only redis-server.
    settings = only_configured(mongodb_uri=backends.mongodb_uri)
    with DevStack(tmp_path, settings) as stack:
        started = time.monotonic()
        old, new = kill_and_wait_for_restart(stack, "redis")
        assert time.monotonic() - started < 5
        assert new.port == old.port
        assert new.popen.pid != old.popen.pid
        assert stack.settings.redis_url == f"redis://127.0.0.1:{old.port}/0"
        with Redis(port=new.port, socket_timeout=2) as client:
            assert client.ping()
    restarts = [line for line in warnings if line.startswith(f"redis (port {old.port}) exited")]
    assert len(restarts) == 1, warnings
    assert "restarted" in restarts[0]
    assert not new.running  # stopped with the stack, not restarted again


def test_a_killed_mongod_comes_back_with_its_data(
    backends: Backends, tmp_path: Path, warnings: list[str]
) -> None:
    # Redis and TMDb are configured: the stack starts only mongod, with its data in tmp_path.
    settings = only_configured(redis_url=backends.redis_url)
    with DevStack(tmp_path, settings) as stack:
        uri = stack.settings.mongodb_uri
        with mongo(uri) as client:
            client.dev.kept.insert_one({"_id": 1, "kept": True})
        old, new = kill_and_wait_for_restart(stack, "mongod")
        assert new.port == old.port
        with mongo(uri) as client:
            assert client.dev.kept.find_one({"_id": 1}) == {"_id": 1, "kept": True}
    assert len([line for line in warnings if line.startswith("mongod")]) == 1, warnings


async def test_pages_are_cached_again_once_a_killed_dev_redis_is_back(
    backends: Backends, fake_tmdb: FakeTmdb, tmp_path: Path
) -> None:
    """docs/operations.md#running-it-locally: the API of the dev stack keeps answering while its redis-server
    is dead, and once the supervisor restarted it, pages are cached in it and answered from it again."""
    # No redis_url: the stack starts redis-server.
    values: dict[str, Any] = {
        "mongodb_uri": backends.mongodb_uri,
        "mongodb_database": "watchlist_devstack_test",
        "jwt_secret": TEST_SECRET,
        "tmdb_base_url": fake_tmdb.url,
        "tmdb_token": TMDB_TOKEN,
        "log_level": "WARNING",
        "access_log": False,
        **FAST_TMDB,
        **GENEROUS_RATE_LIMITS,
    }
    settings = Settings(_env_file=None, **values)
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    headers = bearer(settings, user_id)
    key = "{" + user_id + "}:mylist:1:10"
    with DevStack(tmp_path, settings) as stack:
        (redis_child,) = [p for p in stack.processes if p.name == "redis"]
        warnings: list[str] = []
        async with serve_in_process(create_app(stack.settings)) as client:
            # The app configures logging (which drops other sinks): listen to the stack's lines after it.
            logger.add(lambda line: warnings.append(str(line).strip()), level="WARNING", format="{message}")
            added = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=headers)
            assert added.status_code == 201, added.text
            assert (await client.get("/v1/watchlist", headers=headers)).status_code == 200
            with Redis(port=redis_child.port, socket_timeout=2) as redis:
                assert redis.exists(key) == 1

            old, new = await asyncio.to_thread(kill_and_wait_for_restart, stack, "redis")
            with Redis(port=new.port, socket_timeout=2) as redis:
                assert redis.exists(key) == 0  # a fresh redis-server: it keeps nothing on disk
                deadline = time.monotonic() + 30
                while True:
                    page = await client.get("/v1/watchlist", headers=headers)
                    assert page.status_code == 200, page.text  # degraded to MongoDB, never an error
                    assert [i["contentId"] for i in page.json()["items"]] == ["movie:550"]
                    if redis.exists(key):
                        break
                    assert time.monotonic() < deadline, "no page was cached in the restarted redis-server"
                    await asyncio.sleep(0.2)
                # Answered from the restarted Redis: a marker planted in the cached body comes back.
                cached = redis.get(key)
                assert isinstance(cached, bytes)
                redis.set(key, cached.replace(b'"movie:550"', b'"movie:424242"'))
                page = await client.get("/v1/watchlist", headers=headers)
                assert [i["contentId"] for i in page.json()["items"]] == ["movie:424242"]
    assert len([line for line in warnings if line.startswith(f"redis (port {old.port}) exited")]) == 1


def test_a_child_that_exits_again_soon_is_restarted_after_a_pause(
    backends: Backends, tmp_path: Path, warnings: list[str]
) -> None:
    """docs/operations.md#running-it-locally: the first exit restarts at once, quick exits after it wait
    1 s, then doubling up to 30 s."""
    assert [restart_delay(n) for n in range(1, 9)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert restart_delay(100) == RESTART_BACKOFF_MAX_S
    with DevStack(tmp_path, only_configured(mongodb_uri=backends.mongodb_uri)) as stack:
        first, second = kill_and_wait_for_restart(stack, "redis")
        killed_again = time.monotonic()
        _, third = kill_and_wait_for_restart(stack, "redis")
        assert time.monotonic() - killed_again >= 1.0
        with Redis(port=third.port, socket_timeout=2) as client:
            assert client.ping()
    lines = [line for line in warnings if line.startswith(f"redis (port {first.port}) exited")]
    assert len(lines) == 3, lines  # restarted; then "restarting it in 1 s", restarted
    assert "(2 quick exits in a row): restarting it in 1 s" in lines[1]
    assert lines[2].endswith(f"restarted (pid {third.popen.pid}, log {second.log_path})")
