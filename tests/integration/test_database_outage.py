"""MongoDB down: 503 ``database-unavailable`` with Retry-After, quickly, and the same process recovers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import ClientFactory, new_user
from watchlist_dev.processes import mongodb_uri, start_mongod
from watchlist_service.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.faults]


async def test_mongod_killed_then_restarted(
    make_client: ClientFactory, tmp_path: Path, settings: Settings
) -> None:
    mongod = start_mongod(tmp_path / "mongo")
    user = new_user(settings)
    try:
        async with make_client(mongodb_uri=mongodb_uri(mongod.port), mongodb_timeout_ms=1_000) as client:
            added = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
            assert added.status_code == 201
            mongod.kill()
            slowest = 0.0

            for method, path, body in [
                ("POST", "/v1/watchlist", {"contentId": "movie:2"}),
                ("GET", "/v1/watchlist?page=2", None),
                ("GET", "/v1/watchlist/movie:1", None),
                ("DELETE", "/v1/watchlist/movie:1", None),
                ("GET", "/v1/watchlist/stats", None),
            ]:
                started = time.monotonic()
                response = await client.request(method, path, json=body, headers=user.headers)
                elapsed = time.monotonic() - started
                assert response.status_code == 503, (method, path, response.text)
                assert response.json()["code"] == 50001
                assert int(response.headers["retry-after"]) > 0
                assert elapsed < 5, elapsed  # bounded by the configured timeout, never a hang
                slowest = max(slowest, elapsed)
            ready = await client.get("/v1/health/ready")
            assert ready.status_code == 503
            assert (await client.get("/v1/health/live")).status_code == 200

            restarted = time.monotonic()
            mongod = start_mongod(tmp_path / "mongo", mongod.port)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                response = await client.get("/v1/watchlist/movie:1", headers=user.headers)
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert response.status_code == 200, response.text
            print(
                f"\n[reliability] mongod SIGKILL: slowest 503 {slowest:.2f} s; "
                f"serving again {time.monotonic() - restarted:.1f} s after the restart began"
            )
            again = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
            assert again.status_code == 201
            assert (await client.get("/v1/health/ready")).status_code == 200
    finally:
        mongod.stop()
