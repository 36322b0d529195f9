"""The dev stack's supervisor: a child that dies is restarted on its port, with one log line saying so."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from pymongo import MongoClient
from redis import Redis

from tests.conftest import TEST_SECRET, Backends
from watchlist_dev.processes import ManagedProcess, wait_for_port
from watchlist_dev.stack import DevStack
from watchlist_service.config import Settings

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
