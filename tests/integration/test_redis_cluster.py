"""The list, its page cache and the catalog cache on a real 3-master Redis Cluster (issue 5, item 4).

Users are picked so that each cluster node owns at least one of them: every script then runs on every node,
and a client that ignored MOVED redirections or a script that reached across slots would fail here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from tests.conftest import ClientFactory, User, bearer, start_server
from tests.integration.cache_support import page_cache, race_a_reader_against_a_write
from tests.integration.catalog_support import CatalogClientFactory, FakeTmdb
from watchlist_dev.redis_cluster import (
    RedisClusterNodes,
    find_redis_cli,
    start_redis_cluster,
)
from watchlist_service.config import Settings
from watchlist_service.realtime.fanout import channel_for
from watchlist_service.resources import resources_of

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_redis_cli() is None, reason="redis-cli not found (Debian package redis-tools)"),
]


CATALOG_PATHS = ("/v1/movies/550", "/v1/tv/1396", "/v1/movies?count=25", "/v1/search?query=star&count=3")
# What those paths cost TMDb when each answer is fetched once (25 movies are two discover pages of 20).
CATALOG_UPSTREAM_CALLS = {"/3/movie/550": 1, "/3/tv/1396": 1, "/3/discover/movie": 2, "/3/search/multi": 1}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    with start_redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


@pytest.fixture
async def cluster_redis(cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    """A cluster client of the test's own, to look at what the service stored."""
    client = RedisCluster.from_url(cluster.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def cluster_client(make_client: ClientFactory, cluster: RedisClusterNodes) -> ClientFactory:
    """An in-process app whose Redis is the cluster."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return make_client(redis_cluster=True, redis_url=cluster.url, **overrides)

    return factory


async def slot_owners(cluster: RedisClusterNodes) -> dict[int, int]:
    """Slot -> the port of the master that serves it, as the cluster itself reports."""
    owners: dict[int, int] = {}
    async with Redis(port=cluster.ports[0]) as node:
        for start, end, master, *_ in await node.execute_command("CLUSTER SLOTS"):  # type: ignore[no-untyped-call]
            for slot in range(int(start), int(end) + 1):
                owners[slot] = int(master[1])
    return owners


def owner_port(owners: dict[int, int], user_id: str) -> int:
    return owners[key_slot(("{" + user_id + "}").encode())]


async def users_on_every_node(cluster: RedisClusterNodes, settings: Settings) -> list[User]:
    """One fresh user per node, each with keys in a slot that node owns."""
    owners = await slot_owners(cluster)
    picked: dict[int, User] = {}
    while len(picked) < len(cluster.ports):
        user_id = f"u-{uuid.uuid4().hex[:12]}"
        picked.setdefault(owner_port(owners, user_id), User(id=user_id, headers=bearer(settings, user_id)))
    return list(picked.values())


async def keys_per_node(cluster: RedisClusterNodes, pattern: str) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for port in cluster.ports:
        async with Redis(port=port) as node:
            found[port] = {key.decode() async for key in node.scan_iter(match=pattern)}
    return found


async def test_the_cluster_is_three_masters_and_the_service_uses_the_cluster_client(
    cluster: RedisClusterNodes, cluster_client: ClientFactory
) -> None:
    owners = await slot_owners(cluster)
    assert len(owners) == 16_384
    assert sorted(set(owners.values())) == sorted(cluster.ports)
    async with cluster_client() as client:
        assert isinstance(page_cache(client)._redis.client, RedisCluster)


async def test_add_list_patch_remove_for_users_on_every_node(
    cluster: RedisClusterNodes, cluster_client: ClientFactory, settings: Settings
) -> None:
    users = await users_on_every_node(cluster, settings)
    async with cluster_client() as client:
        for user in users:
            h = user.headers
            assert (
                await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=h)
            ).status_code == 201
            assert (
                await client.post("/v1/watchlist", json={"contentId": "tv:2"}, headers=h)
            ).status_code == 201
            assert (
                await client.post("/v1/watchlist", json={"contentId": "tv:2"}, headers=h)
            ).status_code == 409
            page = (await client.get("/v1/watchlist", headers=h)).json()
            assert [i["contentId"] for i in page["items"]] == ["tv:2", "movie:1"]
            patched = await client.patch("/v1/watchlist/movie:1", json={"watched": True}, headers=h)
            assert patched.status_code == 200
            assert patched.json()["watched"] is True
            page = (await client.get("/v1/watchlist", headers=h)).json()  # after a cached read: fresh
            assert [i["watched"] for i in page["items"]] == [False, True]
            assert (await client.delete("/v1/watchlist/tv:2", headers=h)).status_code == 204
            page = (await client.get("/v1/watchlist", headers=h)).json()
            assert [i["contentId"] for i in page["items"]] == ["movie:1"]
            assert page["total"] == 1


async def test_page_keys_of_a_user_share_one_slot_on_the_node_that_owns_it(
    cluster: RedisClusterNodes,
    cluster_client: ClientFactory,
    cluster_redis: RedisCluster,
    settings: Settings,
) -> None:
    users = await users_on_every_node(cluster, settings)
    owners = await slot_owners(cluster)
    async with cluster_client() as client:
        for user in users:
            await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
            for query in ("", "?page=2&limit=10", "?limit=5", "?type=movie&sort=title.asc"):
                assert (await client.get("/v1/watchlist" + query, headers=user.headers)).status_code == 200
    for user in users:
        tag = "{" + user.id + "}:mylist"
        expected = {
            f"{tag}:1:10",
            f"{tag}:2:10",
            f"{tag}:1:5",
            f"{tag}:1:10:movie:title.asc",
            f"{tag}:keys",
            f"{tag}:ver",
        }
        slots = {await cluster_redis.cluster_keyslot(key) for key in expected}
        assert len(slots) == 1
        (slot,) = slots
        owner = owner_port(owners, user.id)
        on_nodes = await keys_per_node(cluster, "{" + user.id + "}:mylist:*")
        assert on_nodes[owner] == expected
        assert all(not keys for port, keys in on_nodes.items() if port != owner)
        async with Redis(port=owner) as node:
            in_slot = await node.execute_command("CLUSTER GETKEYSINSLOT", slot, 100)  # type: ignore[no-untyped-call]
        assert {k.decode() if isinstance(k, bytes) else k for k in in_slot} >= expected


async def test_a_cached_page_is_served_and_invalidation_drops_every_page(
    cluster: RedisClusterNodes,
    cluster_client: ClientFactory,
    cluster_redis: RedisCluster,
    settings: Settings,
) -> None:
    users = await users_on_every_node(cluster, settings)
    owners = await slot_owners(cluster)
    async with cluster_client() as client:
        for user in users:
            h = user.headers
            tag = "{" + user.id + "}:mylist"
            await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=h)
            await client.get("/v1/watchlist", headers=h)
            # A hit answers from the cluster: prove it with a marker planted in the cached body.
            cached = await cluster_redis.get(f"{tag}:1:10")
            assert isinstance(cached, bytes)  # the client does not decode responses
            await cluster_redis.set(f"{tag}:1:10", cached.replace(b'"movie:1"', b'"movie:424242"'))
            served = (await client.get("/v1/watchlist", headers=h)).json()
            assert served["items"][0]["contentId"] == "movie:424242"

            for change in (
                client.patch("/v1/watchlist/movie:1", json={"watched": True}, headers=h),
                client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=h),
                client.post("/v1/watchlist/batch", json={"remove": ["movie:2"]}, headers=h),
                client.delete("/v1/watchlist/movie:1", headers=h),
            ):
                for query in ("", "?limit=5", "?page=3&limit=1", "?type=tv&sort=title.asc"):
                    await client.get("/v1/watchlist" + query, headers=h)
                async with Redis(port=owner_port(owners, user.id)) as owner:
                    assert len(await owner.smembers(f"{tag}:keys")) == 4
                response = await change
                assert response.status_code < 300, response.text
                on_nodes = await keys_per_node(cluster, "{" + user.id + "}:mylist:*")
                assert set().union(*on_nodes.values()) == {f"{tag}:ver"}  # every page and the set gone
                # ... and the write's version is recorded, so no older page can be filled back.
                acknowledged = int(await cluster_redis.get(f"{tag}:ver") or -1)
                assert (await client.get("/v1/watchlist", headers=h)).json()["version"] == acknowledged
            assert (await client.get("/v1/watchlist", headers=h)).json()["total"] == 0


async def test_rate_limits_and_idempotency_records_live_in_the_cluster(
    cluster: RedisClusterNodes, cluster_client: ClientFactory, settings: Settings
) -> None:
    users = await users_on_every_node(cluster, settings)
    owners = await slot_owners(cluster)
    async with cluster_client(rate_limit_writes="3/minute") as client:
        for user in users:
            headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
            first = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
            again = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
            assert first.status_code == again.status_code == 201
            assert again.headers["idempotent-replayed"] == "true"
            assert again.content == first.content
            on_owner = (await keys_per_node(cluster, "{" + user.id + "}:idem:*"))[owner_port(owners, user.id)]
            assert len(on_owner) == 1  # the record sits in the user's slot, next to the list's keys
            # One counter per user in the cluster, shared by every request: a replay counts too.
            assert [first.headers["ratelimit-remaining"], again.headers["ratelimit-remaining"]] == ["2", "1"]
            third = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
            assert third.headers["ratelimit-remaining"] == "0"
            refused = await client.post("/v1/watchlist", json={"contentId": "movie:3"}, headers=user.headers)
            assert refused.status_code == 429
    for user in users:  # each user's counter sits in the user's slot, next to the list's keys
        on_owner = (await keys_per_node(cluster, "{" + user.id + "}:rl:*"))[owner_port(owners, user.id)]
        assert on_owner == {"{" + user.id + "}:rl:writes"}


async def test_stale_set_race_cannot_store_an_old_page(
    cluster: RedisClusterNodes,
    cluster_client: ClientFactory,
    cluster_redis: RedisCluster,
    settings: Settings,
) -> None:
    """A reader paused between its database read and its cache fill, while a write is acknowledged, must not
    leave its old page in the cluster: the next read shows the write."""
    (user, *_) = await users_on_every_node(cluster, settings)
    async with cluster_client() as client:
        await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        old_page, fill_results = await race_a_reader_against_a_write(client, user)
        assert [i["contentId"] for i in old_page.json()["items"]] == ["movie:1"]  # read before the write
        assert fill_results == [False]  # ... and refused by the fill script on the cluster
        assert await cluster_redis.exists("{" + user.id + "}:mylist:1:10") == 0
        fresh = await client.get("/v1/watchlist", headers=user.headers)
        assert [i["contentId"] for i in fresh.json()["items"]] == ["movie:2", "movie:1"]
        # The fill is awaited inside the request: the fresh page is in the cluster now.
        cached = await cluster_redis.get("{" + user.id + "}:mylist:1:10")
        assert isinstance(cached, bytes)  # the client does not decode responses
        assert cached.split(b"\n", 1)[1] == fresh.content


async def test_catalog_cache_single_flight_and_rate_limit_on_the_cluster(
    cluster: RedisClusterNodes,
    make_client: ClientFactory,
    catalog_client: CatalogClientFactory,
    fake_tmdb: FakeTmdb,
    cluster_redis: RedisCluster,
    user: User,
) -> None:
    del make_client  # catalog_client builds on it
    await clear_catalog_keys(cluster)  # the module's cluster outlives one test
    async with catalog_client(redis_cluster=True, redis_url=cluster.url, tmdb_local_cache_s=0) as client:
        # Traffic comes after the readiness probe, which pings Redis and so loads the slot map (the cold
        # client's burst is test_a_cold_cluster_client_routes_its_first_burst).
        ready = await client.get("/v1/health/ready")
        assert ready.json() == {"status": "ok", "mongodb": "ok", "redis": "ok"}
        for path in CATALOG_PATHS:
            # Cold and concurrent: the single-flight lease lets one request go to TMDb, the rest wait.
            responses = await asyncio.gather(*(client.get(path, headers=user.headers) for _ in range(10)))
            assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
            assert len({r.content for r in responses}) == 1
        assert fake_tmdb.counters()["paths"] == CATALOG_UPSTREAM_CALLS
        raw = await cluster_redis.get("tmdb:{movie:550}")
        assert isinstance(raw, bytes)  # the client does not decode responses
        await cluster_redis.set("tmdb:{movie:550}", raw.replace(b'"Fight Club"', b'"Planted Title"', 1))
        assert (await client.get("/v1/movies/550", headers=user.headers)).json()["title"] == "Planted Title"
    on_nodes = await keys_per_node(cluster, "tmdb:*")
    keys = set().union(*on_nodes.values())
    assert {"tmdb:{movie:550}", "tmdb:{tv:1396}", "tmdb:{discover:movie:popularity.desc:1}"} <= keys
    assert "tmdb:ratelimit" in keys  # the shared outbound window lives in the cluster too
    assert not any(key.endswith(":lock") for key in keys)  # every lease was ended by the store script
    assert len([port for port, found in on_nodes.items() if found]) >= 2  # spread over the nodes


async def clear_catalog_keys(cluster: RedisClusterNodes) -> None:
    for port in cluster.ports:
        async with Redis(port=port) as node:
            # One by one: a multi-key DEL must stay within one slot, even on one node.
            for key in [key async for key in node.scan_iter(match="tmdb:*")]:
                await node.delete(key)


# The lifespan loads the slot map first: without it, a cold client's MOVED answers triggered topology
# refreshes that dropped connections other commands were using (and failed this burst).
async def test_a_cold_cluster_client_routes_its_first_burst(
    cluster: RedisClusterNodes,
    make_client: ClientFactory,
    catalog_client: CatalogClientFactory,
    fake_tmdb: FakeTmdb,
    user: User,
) -> None:
    del make_client  # catalog_client builds on it
    await clear_catalog_keys(cluster)
    async with catalog_client(redis_cluster=True, redis_url=cluster.url, tmdb_local_cache_s=0) as client:
        responses = await asyncio.gather(
            *(client.get(path, headers=user.headers) for path in CATALOG_PATHS for _ in range(10))
        )
        assert {r.status_code for r in responses} == {200}
        ready = await client.get("/v1/health/ready")
    # Every Redis call succeeded: the breaker stayed closed and the shared single flight held.
    assert ready.json()["redis"] == "ok"
    assert fake_tmdb.counters()["paths"] == CATALOG_UPSTREAM_CALLS


async def test_list_events_reach_subscribers_on_every_node(
    cluster: RedisClusterNodes, cluster_client: ClientFactory, settings: Settings
) -> None:
    owners = await slot_owners(cluster)
    while True:  # a user whose channel's slot is not on the seed node the realtime client talks to
        user_id = f"u-{uuid.uuid4().hex[:12]}"
        if owners[key_slot(channel_for(user_id).encode())] != cluster.ports[0]:
            break
    user = User(id=user_id, headers=bearer(settings, user_id))
    subscribers = [Redis(port=port).pubsub() for port in cluster.ports]
    try:
        for pubsub in subscribers:
            await pubsub.subscribe(channel_for(user.id))
            assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
        async with cluster_client() as client:
            added = await client.post("/v1/watchlist", json={"contentId": "movie:7"}, headers=user.headers)
            assert added.status_code == 201
        for pubsub in subscribers:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            assert message is not None
            assert message["data"].startswith(b'{"event":"item.added","version":1')
    finally:
        for pubsub in subscribers:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_fifty_concurrent_adds_on_two_server_processes(
    cluster: RedisClusterNodes, settings: Settings, tmp_path: Path
) -> None:
    servers = [
        start_server(settings, tmp_path, WATCHLIST_REDIS_CLUSTER="true", WATCHLIST_REDIS_URL=cluster.url)
        for _ in range(2)
    ]
    try:
        (user, *_) = await users_on_every_node(cluster, settings)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        servers[i % 2].url + "/v1/watchlist",
                        json={"contentId": "movie:550"},
                        headers=user.headers,
                    )
                    for i in range(50)
                )
            )
            outcomes = Counter(f"{r.status_code}:{r.json().get('code', '')}" for r in responses)
            assert outcomes == Counter({"201:": 1, "409:40001": 49})
            for server in servers:
                page = (await client.get(server.url + "/v1/watchlist", headers=user.headers)).json()
                assert [i["contentId"] for i in page["items"]] == ["movie:550"]
                assert page["version"] == 1
            # Both processes served from the cluster: the page they cached is in the user's slot.
            async with RedisCluster.from_url(cluster.url) as check:
                assert await check.exists("{" + user.id + "}:mylist:1:10") == 1
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            assert server.popen.poll() is not None


async def test_a_cluster_unreachable_at_start_up_does_not_stop_the_service(
    make_client: ClientFactory, user: User
) -> None:
    # Nothing listens on port 9: the slot map cannot be loaded; lists are served from MongoDB without the
    # cache, and readiness says Redis is down.
    unreachable = {"redis_cluster": True, "redis_url": "redis://127.0.0.1:9/0", "redis_timeout_ms": 50}
    async with make_client(**unreachable) as client:
        added = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
        assert added.status_code == 201, added.text
        page = await client.get("/v1/watchlist", headers=user.headers)
        assert [item["contentId"] for item in page.json()["items"]] == ["movie:550"]
        ready = await client.get("/v1/health/ready")
        assert ready.json()["redis"] != "ok"
        # What needs Redis says so: a socket ticket is 503 with Retry-After, not a 500.
        ticket = await client.post("/v1/watchlist/events/ticket", headers=user.headers)
        assert ticket.status_code == 503, ticket.text
        assert "retry-after" in ticket.headers
        assert (await client.get("/v1/health/live")).status_code == 200


async def test_list_events_of_users_on_every_node_go_to_the_one_stream_key(
    cluster: RedisClusterNodes, cluster_client: ClientFactory, cluster_redis: RedisCluster, settings: Settings
) -> None:
    """docs/design.md §12: one stream key, one slot: every user's events, whatever node owns the user's keys,
    are in that stream in per-user version order."""
    users = await users_on_every_node(cluster, settings)
    stream = f"watchlist:events:c-{uuid.uuid4().hex[:8]}"
    async with cluster_client(events_stream=stream) as client:
        relay = resources_of(client._transport.app).events  # type: ignore[attr-defined]
        assert relay is not None
        await asyncio.wait_for(relay.active.wait(), 10)
        for user in users:
            assert (
                await client.post("/v1/watchlist", json={"contentId": "movie:9"}, headers=user.headers)
            ).is_success
            assert (await client.delete("/v1/watchlist/movie:9", headers=user.headers)).is_success
        ids: list[str] = []
        async with asyncio.timeout(10):
            while len(ids) < 2 * len(users):
                raw: Any = await cluster_redis.xrange(stream)
                found = [json.loads(fields[b"event"]) for _, fields in raw]
                ids = [e["id"] for e in found if e["subject"] in {u.id for u in users}]
                await asyncio.sleep(0.05)
    assert ids == [f"{u.id}:{v}" for u in users for v in (1, 2)]
