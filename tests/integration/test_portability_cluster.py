"""Erase on a real 3-master Redis Cluster (docs/design.md §11): SCAN finds a user's keys on whichever node
owns the user's slot, and nothing of anyone else's goes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from tests.conftest import ClientFactory, User, bearer
from watchlist_dev.redis_cluster import RedisClusterNodes, find_redis_cli, start_redis_cluster
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_ERASE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_redis_cli() is None, reason="redis-cli not found (Debian package redis-tools)"),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    with start_redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


async def slot_owners(cluster: RedisClusterNodes) -> dict[int, int]:
    owners: dict[int, int] = {}
    async with Redis(port=cluster.ports[0]) as node:
        for start, end, master, *_ in await node.execute_command("CLUSTER SLOTS"):  # type: ignore[no-untyped-call]
            for slot in range(int(start), int(end) + 1):
                owners[slot] = int(master[1])
    return owners


async def user_keys(cluster: RedisClusterNodes, user_id: str) -> dict[int, set[str]]:
    """Each node's keys under the user's tag, asked of every node directly (not through the service)."""
    found: dict[int, set[str]] = {}
    for port in cluster.ports:
        async with Redis(port=port) as node:
            keys = {key.decode() async for key in node.scan_iter(match="{" + user_id + "}:*")}
            if keys:
                found[port] = keys
    return found


async def test_erase_removes_every_key_of_users_on_every_node(
    cluster: RedisClusterNodes, make_client: ClientFactory, settings: Settings
) -> None:
    """docs/design.md §11: on a cluster, the erase's SCAN reaches the node of each user's slot."""
    owners = await slot_owners(cluster)
    users: dict[int, User] = {}
    while len(users) < len(cluster.ports):  # one user per node
        user_id = f"u-{uuid.uuid4().hex[:12]}"
        port = owners[key_slot(("{" + user_id + "}").encode())]
        users.setdefault(port, User(id=user_id, headers=bearer(settings, user_id)))
    bystander_id = f"u-{uuid.uuid4().hex[:12]}"
    bystander = User(id=bystander_id, headers=bearer(settings, bystander_id))
    eraser = bearer(settings, "svc-privacy", scopes=[SCOPE_ERASE])
    async with make_client(redis_cluster=True, redis_url=cluster.url) as client:
        for user in [*users.values(), bystander]:
            headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
            added = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=headers)
            assert added.status_code == 201
            assert (await client.get("/v1/watchlist", headers=user.headers)).status_code == 200
        for port, user in users.items():
            before = await user_keys(cluster, user.id)
            assert set(before) == {port}  # all of them on the node that owns the slot
            assert len(before[port]) >= 4  # a page, the page set, ver, an idempotency record, counters
            response = await client.delete(f"/v1/users/{user.id}/watchlist", headers=eraser)
            assert response.status_code == 204, response.text
            assert await user_keys(cluster, user.id) == {}
            page = (await client.get("/v1/watchlist", headers=user.headers)).json()
            assert (page["items"], page["version"]) == ([], 0)
        assert await user_keys(cluster, bystander.id)  # untouched
        page = (await client.get("/v1/watchlist", headers=bystander.headers)).json()
        assert [i["contentId"] for i in page["items"]] == ["movie:1"]
