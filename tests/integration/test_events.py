"""List change events (docs/design.md §12): CloudEvents on a Redis Stream, relayed from the change stream by
the replica that holds the lease, at least once and in order per user, read with consumer groups."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import msgspec
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.conftest import REPO_ROOT, ClientFactory, User, cli, new_user, server_env, start_server
from watchlist_service.config import Settings
from watchlist_service.events.relay import EventRelay
from watchlist_service.events.schemas import CloudEvent, decode
from watchlist_service.events.stream import Deduper, GroupReader
from watchlist_service.resources import resources_of
from watchlist_service.watchlist.schemas import Item

SCHEMA = json.loads((REPO_ROOT / "docs" / "events.schema.json").read_text())


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def stream() -> str:
    """A stream (and so a relay lease) of this test's own."""
    return f"watchlist:events:t-{uuid.uuid4().hex[:10]}"


def relay_of(client: httpx.AsyncClient) -> EventRelay:
    relay = resources_of(client._transport.app).events  # type: ignore[attr-defined]
    assert relay is not None
    return relay


async def wait_active(*clients: httpx.AsyncClient, timeout_s: float = 10.0) -> httpx.AsyncClient:
    """The client whose relay holds the lease, once one does."""
    async with asyncio.timeout(timeout_s):
        while True:
            for client in clients:
                if relay_of(client).active.is_set():
                    return client
            await asyncio.sleep(0.02)


async def entries(redis: Redis, stream: str) -> list[CloudEvent]:
    """Every event in the stream, in stream order."""
    found: Any = await redis.xrange(stream)
    return [decode(fields[b"event"]) for _, fields in found]


async def events_of(
    redis: Redis, stream: str, user_ids: set[str], count: int, *, timeout_s: float = 15.0
) -> list[CloudEvent]:
    """The events of ``user_ids`` in stream order (with duplicates), once ``count`` distinct ones are in."""
    async with asyncio.timeout(timeout_s):
        while True:
            found = [e for e in await entries(redis, stream) if e.subject in user_ids]
            if len({e.id for e in found}) >= count:
                return found
            await asyncio.sleep(0.05)


def deduped(events: list[CloudEvent]) -> list[CloudEvent]:
    seen = Deduper()
    return [e for e in events if seen.fresh(e)]


def assert_in_version_order_once(events: list[CloudEvent], versions: dict[str, int]) -> None:
    """After de-duplication: per user, versions 1..N, each once, in order (docs/design.md §12)."""
    by_user: dict[str, list[int]] = {}
    for event in deduped(events):
        by_user.setdefault(event.subject, []).append(event.data.version)
    assert by_user == {user: list(range(1, last + 1)) for user, last in versions.items()}
    # No change is lost: every id in the raw stream is one of those.
    assert {e.id for e in events} == {f"{u}:{v}" for u, last in versions.items() for v in range(1, last + 1)}


async def change(client: httpx.AsyncClient, user: User, n: int) -> None:
    """Three real changes of ``movie:{n}``: added, updated, removed."""
    path = f"/v1/watchlist/movie:{n}"
    assert (
        await client.post("/v1/watchlist", json={"contentId": f"movie:{n}"}, headers=user.headers)
    ).status_code == 201
    assert (await client.patch(path, json={"watched": True}, headers=user.headers)).status_code == 200
    assert (await client.delete(path, headers=user.headers)).status_code == 204


async def test_api_changes_become_cloud_events_in_version_order_with_stable_ids(
    make_client: ClientFactory, redis: Redis, stream: str, user: User
) -> None:
    """docs/design.md §12: one CloudEvent per real change, `{userId}:{version}` ids, the schema's shape."""
    async with make_client(events_stream=stream) as client:
        await wait_active(client)
        await client.post(
            "/v1/watchlist", json={"contentId": "movie:550", "notes": "n"}, headers=user.headers
        )
        await client.post("/v1/watchlist", json={"contentId": "tv:1396"}, headers=user.headers)
        await client.patch("/v1/watchlist/movie:550", json={"rating": 9}, headers=user.headers)
        # Not a change: the same rating again leaves the version alone, so no event either.
        await client.patch("/v1/watchlist/movie:550", json={"rating": 9}, headers=user.headers)
        await client.delete("/v1/watchlist/tv:1396", headers=user.headers)
        events = await events_of(redis, stream, {user.id}, 4)
        assert (await client.get("/v1/health/ready")).status_code == 200
    assert [e.id for e in events] == [f"{user.id}:{v}" for v in (1, 2, 3, 4)]
    assert [e.type for e in events] == [
        "com.example.watchlist.item.added",
        "com.example.watchlist.item.added",
        "com.example.watchlist.item.updated",
        "com.example.watchlist.item.removed",
    ]
    for event in events:
        raw = json.loads(json.dumps(_builtins(event)))
        jsonschema.validate(raw, SCHEMA)
        assert event.specversion == "1.0"
        assert event.source == "/watchlist-service"
        assert event.subject == user.id
        assert event.datacontenttype == "application/json"
    added, _, updated, removed = events
    assert added.data.content_id == "movie:550"
    assert added.data.item is not None
    assert added.data.item.notes == "n"
    assert updated.data.item is not None
    assert updated.data.item.rating == 9
    assert updated.data.item_version is not None
    assert updated.data.item_version >= 3
    assert removed.data.content_id == "tv:1396"
    assert removed.data.item is None


def _builtins(event: CloudEvent) -> Any:
    return msgspec.to_builtins(event)


async def test_changes_written_while_no_relay_runs_are_published_from_the_stored_position(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12: the position is stored; a relay that was down (killed between write and publish)
    is replaced by one that publishes everything from there: each change once after de-duplication."""
    users = [new_user(settings) for _ in range(3)]
    async with make_client(events_stream=stream) as client:
        await wait_active(client)  # the first run stores where the stream opened
        await change(client, users[0], 1)
        await events_of(redis, stream, {users[0].id}, 3)
    # The relay is down: these changes are written, acknowledged, and in nobody's stream yet.
    async with make_client(events_stream=stream, events_enabled=False) as client:
        for n, user in enumerate(users):
            await change(client, user, 10 + n)
            await change(client, user, 20 + n)
    assert {e.subject for e in await entries(redis, stream)} == {users[0].id}
    async with make_client(events_stream=stream) as client:
        events = await events_of(redis, stream, {u.id for u in users}, 3 + 18)
        assert (await client.get("/v1/health/ready")).status_code == 200
    assert_in_version_order_once(events, {users[0].id: 9, users[1].id: 6, users[2].id: 6})


async def test_one_relay_at_a_time_and_another_takes_over(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12: the lease lets one replica publish; when it stops, another one takes over."""
    user = new_user(settings)
    async with make_client(events_stream=stream, events_lease_s=1) as first:
        async with make_client(events_stream=stream, events_lease_s=1) as second:
            holder = await wait_active(first, second)
            other = second if holder is first else first
            await asyncio.sleep(1.0)  # more than a renewal period: the other one still waits
            assert not relay_of(other).active.is_set()
            await change(other, user, 1)
            await events_of(redis, stream, {user.id}, 3)
            assert relay_of(other).published == 0
        # One of them has stopped (and released the lease if it held it); whichever is left relays.
        await wait_active(first, timeout_s=5)
        await change(first, user, 2)
        events = await events_of(redis, stream, {user.id}, 6)
    assert_in_version_order_once(events, {user.id: 6})


async def test_a_consumer_group_that_restarts_gets_its_pending_events_then_new_ones(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12: XREADGROUP + XACK: what a consumer read but did not acknowledge before it died is
    delivered to it again; acknowledged entries are not."""
    user = new_user(settings)
    async with make_client(events_stream=stream) as client:
        await wait_active(client)
        first = GroupReader(redis, stream, "g1", "c1")
        await first.ensure_group(from_start=True)
        for n in range(4):
            await change(client, user, n + 1)
        await events_of(redis, stream, {user.id}, 12)
        got = await first.read(count=5, block_ms=100)
        await first.ack(*(d.entry_id for d in got[:2]))  # dies after acknowledging two of five
        restarted = GroupReader(redis, stream, "g1", "c1")
        seen = list(got[:2])
        while True:
            batch = await restarted.read(count=3, block_ms=200)
            if not batch:
                break
            seen.extend(batch)
            await restarted.ack(*(d.entry_id for d in batch))
        pending = await redis.xpending(stream, "g1")
        assert (await client.get("/v1/health/ready")).status_code == 200
    mine = [d.event for d in seen if d.event.subject == user.id]
    assert [e.data.version for e in deduped(mine)] == list(range(1, 13))
    assert len(mine) == 12  # the three unacknowledged ones came back once, the acknowledged ones never
    assert pending["pending"] == 0


async def test_a_reorder_is_published_as_item_reordered(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12 (ops map generically to types) with §10's reorder: the whole ``items`` array
    rewritten, a record without ``contentId``: ``com.example.watchlist.item.reordered`` without an item."""
    user = new_user(settings)
    async with make_client(events_stream=stream) as client:
        await wait_active(client)
        await change(client, user, 1)
        for n in (2, 3):
            await client.post("/v1/watchlist", json={"contentId": f"movie:{n}"}, headers=user.headers)
        reordered = await client.put(
            "/v1/watchlist/order",
            json={"contentIds": ["movie:2", "movie:3"]},
            headers={**user.headers, "If-Match": '"5"'},
        )
        assert reordered.status_code == 200, reordered.text
        events = await events_of(redis, stream, {user.id}, 6)
    last = events[-1]
    assert last.id == f"{user.id}:6"
    assert last.type == "com.example.watchlist.item.reordered"
    assert last.data.content_id is None
    assert last.data.item is None
    jsonschema.validate(json.loads(json.dumps(_builtins(last))), SCHEMA)


async def test_a_seeded_list_publishes_one_event_per_title(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12: a list created whole (seeding: one insert, versions 1..N) is N events."""
    user = new_user(settings)
    now = datetime.now(UTC)
    items = [
        Item(content_id=f"movie:{n}", type="movie", tmdb_id=n, added_at=now, updated_at=now)
        for n in (3, 2, 1)
    ]
    async with make_client(events_stream=stream) as client:
        await wait_active(client)
        await resources_of(client._transport.app).repository.insert_new_lists({user.id: items})  # type: ignore[attr-defined]
        events = await events_of(redis, stream, {user.id}, 3)
    assert [(e.data.version, e.data.content_id) for e in events] == [
        (1, "movie:1"),
        (2, "movie:2"),
        (3, "movie:3"),
    ]
    assert all(e.data.item is not None and e.data.item.content_id == e.data.content_id for e in events)


async def test_a_stream_redis_refuses_holds_the_position_until_it_takes_the_events(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings
) -> None:
    """docs/design.md §12: a failed append is retried and the position does not move past it: nothing is
    lost while Redis refuses (here: the key is of the wrong type, so every XADD fails); the list still
    serves meanwhile."""
    user = new_user(settings)
    async with make_client(events_stream=stream) as client:
        relay = relay_of(client)
        await wait_active(client)
        await redis.set(stream, "not a stream")
        await change(client, user, 1)
        await asyncio.sleep(1.0)  # the relay tries, fails, retries
        assert relay.published == 0
        assert (await client.get("/v1/watchlist", headers=user.headers)).status_code == 200
        await redis.delete(stream)
        await events_of(redis, stream, {user.id}, 3)  # published once Redis takes them (after its breaker)
        await change(client, user, 2)
        events = await events_of(redis, stream, {user.id}, 6)
    assert_in_version_order_once(events, {user.id: 6})


@pytest.mark.slow
async def test_events_tail_prints_events_with_a_group_and_acknowledges_them(
    make_client: ClientFactory, redis: Redis, stream: str, settings: Settings, tmp_path: Path
) -> None:
    """docs/design.md §12: `watchlist-service events tail` reads with a group, prints, acknowledges."""
    user = new_user(settings)
    async with make_client(events_stream=stream) as client:
        await wait_active(client)
        await change(client, user, 7)
        await events_of(redis, stream, {user.id}, 3)
    env = server_env(settings, WATCHLIST_EVENTS_STREAM=stream)
    args = ("events", "tail", "--group", "tail", "--consumer", "t1", "--from-start", "--idle-exit-s", "1")
    result = await asyncio.to_thread(cli, *args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["id"] for e in printed if e["subject"] == user.id] == [f"{user.id}:{v}" for v in (1, 2, 3)]
    for event in printed:
        jsonschema.validate(event, SCHEMA)
    assert (await redis.xpending(stream, "tail"))["pending"] == 0
    again = await asyncio.to_thread(cli, *args, cwd=tmp_path, env=env)
    assert again.returncode == 0
    assert again.stdout == ""


@pytest.mark.slow
@pytest.mark.faults
async def test_two_serve_processes_with_the_lease_holder_sigkilled_mid_way_publish_every_change(
    settings: Settings, redis: Redis, stream: str, tmp_path: Path
) -> None:
    """docs/design.md §12: two real replicas take writes; the one relaying is SIGKILLed in the middle (some
    of its changes written, not yet published); the other takes the lease over and publishes from the stored
    position: after de-duplication every change of every list is there exactly once, in version order."""
    servers = [
        start_server(settings, tmp_path, WATCHLIST_EVENTS_STREAM=stream, WATCHLIST_EVENTS_LEASE_S="2")
        for _ in range(2)
    ]
    users = [new_user(settings) for _ in range(12)]
    try:
        holder_pid = await _lease_holder_pid(settings, stream)
        holder = next(s for s in servers if s.popen.pid == holder_pid)
        survivor = next(s for s in servers if s is not holder)
        clients = {s.port: httpx.AsyncClient(base_url=s.url, timeout=10) for s in servers}
        done = 0
        halfway = asyncio.Event()

        async def churn(rounds: int, targets: list[int]) -> None:
            async def one(index: int, user: User) -> None:
                nonlocal done
                for n in range(rounds):
                    client = clients[targets[(index + n) % len(targets)]]
                    with contextlib.suppress(httpx.HTTPError, AssertionError):  # the killed one fails
                        await change(client, user, 1000 * index + n + 1)
                    done += 1
                    if done >= 170:
                        halfway.set()

            await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))

        try:
            # Writes through both replicas; the lease holder is killed while they are under way.
            both = asyncio.create_task(churn(32, [s.port for s in servers]))
            await halfway.wait()
            holder.kill()
            published = len(
                {e.id for e in await entries(redis, stream) if e.subject in {u.id for u in users}}
            )
            written = await _versions_written(settings, [u.id for u in users])
            await both
            await churn(10, [survivor.port])  # more, through the survivor, while it takes the lease over
            finals = {}
            for user in users:
                page = await clients[survivor.port].get("/v1/watchlist", headers=user.headers)
                finals[user.id] = page.json()["version"]
            events = await events_of(redis, stream, set(finals), sum(finals.values()), timeout_s=30)
        finally:
            for client in clients.values():
                await client.aclose()
    finally:
        for server in servers:
            server.stop()
    # The figure: changes written (acknowledged or not) but not yet in the stream when the relay died.
    print(
        f"\nat the SIGKILL: {written} changes written, {published} published; {sum(finals.values())} in all"
    )
    assert sum(finals.values()) >= 1000  # the 1,000 changes through two instances
    assert_in_version_order_once(events, finals)


async def _versions_written(settings: Settings, user_ids: list[str]) -> int:
    """The changes MongoDB holds for these lists (the sum of their versions)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        coll = client[settings.mongodb_database]["watchlists"]
        return sum(
            [int(doc["version"]) async for doc in coll.find({"_id": {"$in": user_ids}}, {"version": 1})]
        )
    finally:
        await client.close()


async def _lease_holder_pid(settings: Settings, stream: str) -> int:
    """The pid of the replica that holds the stream's relay lease, once one does."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        async with asyncio.timeout(15):
            while True:
                doc = await client[settings.mongodb_database]["event_relay"].find_one({"_id": stream})
                if doc is not None and doc.get("holder") and doc.get("resumeToken"):
                    return int(str(doc["holder"]).split(":")[1])
                await asyncio.sleep(0.1)
    finally:
        await client.close()
