"""Elections under load: on a real 3-member replica set, a stepdown and a killed (then restarted) primary
during mixed writes lose no acknowledged write, resurrect no acknowledged remove, and answer nothing but
successes and 503 with Retry-After in between. ``pytest -m faults -s`` prints the longest write outage."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern

from tests.conftest import ClientFactory, bearer
from watchlist_dev.processes import ManagedProcess, mongodb_uri, start_replica_set
from watchlist_service.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.faults]
WRITERS = 4


@pytest.fixture
def replica_set(tmp_path: Path) -> Iterator[list[ManagedProcess]]:
    members = start_replica_set(tmp_path / "rs", 3, election_timeout_ms=1_000)
    try:
        yield members
    finally:
        for member in members:
            member.kill()  # throwaway data: a clean shutdown would wait for the others to catch up


def _primary(members: list[ManagedProcess]) -> ManagedProcess:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for member in members:
            if not member.running:
                continue
            client: MongoClient[dict[str, Any]] = MongoClient(
                "127.0.0.1", member.port, directConnection=True, serverSelectionTimeoutMS=500
            )
            with contextlib.suppress(PyMongoError), client:
                if client.admin.command("hello").get("isWritablePrimary"):
                    return member
        time.sleep(0.1)
    raise TimeoutError("no primary")


@dataclass
class Ledger:
    """What the writers were told."""

    added: dict[str, set[str]] = field(default_factory=dict)  # user -> titles acknowledged as added
    removed: dict[str, set[str]] = field(default_factory=dict)  # user -> titles acknowledged as removed
    uncertain: dict[str, set[str]] = field(default_factory=dict)  # user -> titles whose remove got a 503
    statuses: list[int] = field(default_factory=list)
    missing_retry_after: int = 0
    successes: list[float] = field(default_factory=list)  # completion times of acknowledged writes


async def _writer(
    client: httpx.AsyncClient, user: str, headers: dict[str, str], ledger: Ledger, stop: float
) -> None:
    ledger.added[user], ledger.removed[user], ledger.uncertain[user] = set(), set(), set()
    for n in itertools.count(1):
        if time.monotonic() >= stop:
            return
        live = sorted(ledger.added[user] - ledger.removed[user] - ledger.uncertain[user])
        if n % 3 == 0 and live:
            title = live[0]
            response = await client.delete(f"/v1/watchlist/{title}", headers=headers)
            target, done = ledger.removed[user], response.status_code == 204
        else:
            title = f"movie:{n}"
            response = await client.post("/v1/watchlist", json={"contentId": title}, headers=headers)
            target, done = ledger.added[user], response.status_code == 201
        ledger.statuses.append(response.status_code)
        if done:
            target.add(title)
            ledger.successes.append(time.monotonic())
        elif response.status_code == 503:
            if "retry-after" not in response.headers:
                ledger.missing_retry_after += 1
            if target is ledger.removed[user]:
                ledger.uncertain[user].add(title)
            await asyncio.sleep(0.05)


async def test_stepdown_and_primary_kill_lose_no_acknowledged_write(
    replica_set: list[ManagedProcess], make_client: ClientFactory, settings: Settings
) -> None:
    uri = mongodb_uri(*(m.port for m in replica_set), replica_set="rsf")
    database = f"failover_{uuid.uuid4().hex[:8]}"
    users = {f"fo-user-{n}": bearer(settings, f"fo-user-{n}") for n in range(WRITERS)}
    ledger = Ledger()
    async with make_client(mongodb_uri=uri, mongodb_database=database, rate_limit_enabled=False) as client:
        started = time.monotonic()
        stop = started + 16
        writers = [asyncio.create_task(_writer(client, u, h, ledger, stop)) for u, h in users.items()]
        await asyncio.sleep(2)
        primary = _primary(replica_set)
        admin: MongoClient[dict[str, Any]] = MongoClient("127.0.0.1", primary.port, directConnection=True)
        with contextlib.suppress(PyMongoError), admin:
            admin.admin.command("replSetStepDown", 10, secondaryCatchUpPeriodSecs=5)
        await asyncio.sleep(5)
        killed = await asyncio.to_thread(_primary, replica_set)
        killed.kill()
        await asyncio.sleep(4)
        killed.start().wait_for_port(30)
        await asyncio.gather(*writers)
    successes = sorted(ledger.successes)
    gaps = [b - a for a, b in itertools.pairwise([started, *successes])]
    count = ledger.statuses.count
    print(
        f"{len(ledger.statuses)} writes: {count(201)} added, {count(204)} removed, {count(503)} x 503;"
        f" longest write outage {max(gaps):.2f} s"
    )
    assert set(ledger.statuses) <= {201, 204, 503}, sorted(set(ledger.statuses))
    assert ledger.missing_retry_after == 0
    assert ledger.statuses.count(201) > 50  # the writers really ran through both faults

    reader: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=20_000)
    with reader:
        collection = reader[database].get_collection("watchlists", read_concern=ReadConcern("majority"))
        for user in users:
            doc = collection.find_one({"_id": user}) or {"items": []}
            titles = [item["contentId"] for item in doc["items"]]
            assert len(titles) == len(set(titles)), f"duplicates in {user}'s list"
            present = set(titles)
            kept = ledger.added[user] - ledger.removed[user] - ledger.uncertain[user]
            assert kept <= present, f"acknowledged adds lost: {sorted(kept - present)}"
            assert not ledger.removed[user] & present, "an acknowledged remove came back"
            assert doc.get("count", 0) == len(titles)
