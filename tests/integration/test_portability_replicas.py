"""Erase and import across real ``watchlist-service serve`` processes (docs/design.md §11): sockets closed on
every replica, and an import whose replica is SIGKILLed mid-way finished by another one."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import bearer, new_user, server_env
from tests.integration.catalog_support import TMDB_TOKEN, FakeTmdb
from tests.integration.realtime_support import (
    closed_with,
    open_socket,
    receive_events,
    still_serving,
    subscribed,
)
from watchlist_dev.fake_tmdb import DEFAULT_CATALOG_PATH
from watchlist_dev.processes import ManagedProcess, free_port, start_api
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_ERASE

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = pytest.mark.slow


async def test_erase_closes_the_users_sockets_on_every_replica_with_4410(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """docs/design.md §11: an erase closes every socket of that user, on every replica, with 4410; other
    users' sockets stay open, and both replicas go on serving."""
    a, b = two_servers
    user, other = new_user(settings), new_user(settings)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
        added = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
        assert added.status_code == 201
        async with (
            open_socket(a, user.headers) as on_a,
            open_socket(b, user.headers) as on_b,
            open_socket(b, other.headers) as others,
        ):
            for ws in (on_a, on_b, others):
                await subscribed(ws)
            eraser = bearer(settings, "svc-privacy", scopes=[SCOPE_ERASE])
            response = await client.delete(f"/v1/users/{user.id}/watchlist", headers=eraser)
            assert response.status_code == 204, response.text
            assert await closed_with(on_a) == (4410, "list erased")
            assert await closed_with(on_b) == (4410, "list erased")
            await subscribed(others)  # still open and answering
    await still_serving(a, user.headers, "movie:603")
    await still_serving(b, user.headers, "movie:680")


def _unique_titles(count: int) -> list[tuple[str, int]]:
    """Films of the fake catalog whose title no other film has, with their year."""
    with gzip.open(DEFAULT_CATALOG_PATH, "rb") as fh:
        movies = json.loads(fh.read())["movies"]
    titles = Counter(title.casefold() for title in movies["title"])
    found: list[tuple[str, int]] = []
    for title, date in zip(movies["title"], movies["release_date"], strict=True):
        if (
            titles[title.casefold()] == 1
            and date
            and title.isascii()
            and "," not in title
            and '"' not in title
        ):
            found.append((title, int(date[:4])))
        if len(found) == count:
            break
    return found


def _start(settings: Settings, log_dir: Path, env: dict[str, str]) -> ManagedProcess:
    port = free_port()
    return start_api(port, server_env(settings, **env), log_dir / f"server-{port}.log", timeout_s=30)


async def _job(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(location, headers=headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


@pytest.mark.faults
async def test_an_import_whose_replica_is_killed_is_finished_by_another_with_nothing_added_twice(
    settings: Settings, tmp_path: Path, fake_tmdb: FakeTmdb
) -> None:
    """docs/design.md §11: SIGKILL the replica running an import mid-way; another replica's sweep claims
    the expired lease and finishes the job; every title is in the list once, and the results are those of an
    uninterrupted run (all added)."""
    fake_tmdb.reset()
    env = {
        "WATCHLIST_TMDB_BASE_URL": fake_tmdb.url,
        "WATCHLIST_TMDB_TOKEN": TMDB_TOKEN,
        "WATCHLIST_TMDB_RATE_LIMIT_PER_S": "1000",
        "WATCHLIST_IMPORT_LOOKUPS_PER_S": "40",
        "WATCHLIST_IMPORT_LEASE_S": "2",
        "WATCHLIST_IMPORT_SWEEP_INTERVAL_S": "0.5",
        # Its own database: the session's other replicas (no TMDb) must not be the ones that resume it.
        "WATCHLIST_MONGODB_DATABASE": "watchlist_import_kill_test",
    }
    films = _unique_titles(160)
    lines = ["Date,Name,Year,Letterboxd URI"]
    lines += [f"2020-01-01,{title},{year},https://boxd.it/{n}" for n, (title, year) in enumerate(films)]
    body = ("\n".join(lines) + "\n").encode()
    user = new_user(settings)
    first = _start(settings, tmp_path, env)
    second: ManagedProcess | None = None
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            response = await client.post(
                "/v1/watchlist/imports", content=body, headers={**user.headers, "Content-Type": "text/csv"}
            )
            assert response.status_code == 202, response.text
            location = response.headers["location"]
            for _ in range(200):  # until it is well under way: a step or more done, not finished
                job = await _job(client, location, user.headers)
                if job["done"] >= 50:
                    break
                await asyncio.sleep(0.05)
            assert 0 < job["done"] < job["total"], job
        first.kill()  # SIGKILL: no lease given up, no step finished
        killed_at = job["done"]

        second = _start(settings, tmp_path, env)
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as client:
            for _ in range(600):
                job = await _job(client, location, user.headers)
                if job["state"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert job["state"] == "done", (job, second.log_path.read_text()[-3000:])
            assert job["done"] == job["total"] == len(films) > killed_at
            assert Counter(r["outcome"] for r in job["rows"]) == {"added": len(films)}, job["counts"]
            assert job["counts"]["added"] == len(films)
            page = (await client.get("/v1/watchlist?limit=100", headers=user.headers)).json()
            ids: list[str] = [i["contentId"] for i in page["items"]]
            page_number = 2
            while len(ids) < page["total"]:
                more = await client.get(f"/v1/watchlist?limit=100&page={page_number}", headers=user.headers)
                ids += [i["contentId"] for i in more.json()["items"]]
                page_number += 1
            assert len(ids) == len(set(ids)) == len(films)  # nothing added twice
            assert page["version"] == len(films)  # one version per title
            assert (await client.get("/v1/health/ready")).status_code == 200
        assert "Traceback" not in second.log_path.read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_an_unknown_erase_target_is_204(two_servers: list[ManagedProcess], settings: Settings) -> None:
    """docs/design.md §11: erasing a user who has nothing is 204 (idempotent), and fast (no pause)."""
    a, _ = two_servers
    eraser = bearer(settings, "svc-privacy", scopes=[SCOPE_ERASE])
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
        response = await client.delete(f"/v1/users/nobody-{uuid.uuid4().hex}/watchlist", headers=eraser)
        assert response.status_code == 204
        assert response.elapsed.total_seconds() < 1.0


async def test_imported_titles_reach_the_users_sockets_on_other_replicas(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """docs/design.md §11: each title an import adds is an `item.added` event, in version order, on every
    replica's sockets of that user (the replicas here have no TMDb: our own export needs none)."""
    a, b = two_servers
    source, user = new_user(settings), new_user(settings)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
        for n in (11, 12, 13):
            added = await client.post(
                "/v1/watchlist", json={"contentId": f"movie:{n}"}, headers=source.headers
            )
            assert added.status_code == 201
        exported = (await client.get("/v1/watchlist/export", headers=source.headers)).content
        async with open_socket(b, user.headers) as on_b:
            await subscribed(on_b)
            headers = {**user.headers, "Content-Type": "application/json"}
            response = await client.post("/v1/watchlist/imports", content=exported, headers=headers)
            assert response.status_code == 202, response.text
            events = await receive_events(on_b, 3, wait_s=10)
        assert [(e["event"], e["version"], e["item"]["contentId"]) for e in events] == [
            ("item.added", 1, "movie:11"),
            ("item.added", 2, "movie:12"),
            ("item.added", 3, "movie:13"),
        ]
