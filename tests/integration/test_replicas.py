"""Two real ``watchlist-service serve`` replicas on one MongoDB and one Redis, driven over HTTP."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest

from tests.conftest import User, new_user
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings

pytestmark = pytest.mark.slow


async def concurrent_adds(
    servers: list[ManagedProcess], user: User, content_id: str, n: int = 50
) -> Counter[str]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    servers[i % 2].url + "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
                )
                for i in range(n)
            )
        )
    outcomes: Counter[str] = Counter()
    for response in responses:
        outcomes[f"{response.status_code}:{response.json().get('code', '')}"] += 1
    return outcomes


async def read_list(url: str, user: User, limit: int = 100) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{url}/v1/watchlist?limit={limit}", headers=user.headers)
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        return body


async def test_fifty_concurrent_adds_for_a_new_user(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    user = new_user(settings)
    outcomes = await concurrent_adds(two_servers, user, "movie:550")
    assert outcomes == Counter({"201:": 1, "409:40001": 49})
    for server in two_servers:
        page = await read_list(server.url, user)
        assert [i["contentId"] for i in page["items"]] == ["movie:550"]  # type: ignore[attr-defined]
        assert page["version"] == 1


async def test_fifty_concurrent_adds_for_a_user_with_500_items(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    user = new_user(settings)
    async with httpx.AsyncClient(timeout=30) as client:
        for start in range(1, 501, 100):
            ids = [f"tv:{n}" for n in range(start, start + 100)]
            response = await client.post(
                two_servers[0].url + "/v1/watchlist/batch", json={"add": ids}, headers=user.headers
            )
            assert response.json()["added"] == ids
    before = await read_list(two_servers[1].url, user, limit=1)
    assert before["total"] == 500
    outcomes = await concurrent_adds(two_servers, user, "movie:550")
    assert outcomes == Counter({"201:": 1, "409:40001": 49})
    async with httpx.AsyncClient(timeout=30) as client:
        stats = (await client.get(two_servers[1].url + "/v1/watchlist/stats", headers=user.headers)).json()
        found = await client.post(
            two_servers[0].url + "/v1/watchlist/contains",
            json={"contentIds": ["movie:550"]},
            headers=user.headers,
        )
    assert stats["total"] == 501
    assert stats["version"] == before["version"] + 1  # type: ignore[operator]
    assert found.json() == {"movie:550": True}


async def test_interleaved_writes_are_never_read_stale(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """Clients own disjoint titles of one shared list; after each acknowledged write, a read on either replica
    (through the page cache) must show that client's titles exactly as its own writes left them."""
    user = new_user(settings)
    rng = random.Random(20261124)
    clients, ops_per_client, titles_per_client = 8, 30, 5
    model: dict[str, int | None] = {}  # contentId -> rating (None: in the list without a rating)
    stale: list[str] = []

    async def run_client(index: int, http: httpx.AsyncClient) -> None:
        mine = [f"movie:{index * 100 + n}" for n in range(1, titles_per_client + 1)]
        for step in range(ops_per_client):
            content_id = rng.choice(mine)
            writer = two_servers[rng.randrange(2)].url
            if content_id not in model:
                response = await http.post(
                    writer + "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
                )
                assert response.status_code == 201, response.text
                model[content_id] = None
            elif rng.random() < 0.5:
                response = await http.delete(f"{writer}/v1/watchlist/{content_id}", headers=user.headers)
                assert response.status_code == 204, response.text
                del model[content_id]
            else:
                rating = rng.randint(1, 10)
                response = await http.patch(
                    f"{writer}/v1/watchlist/{content_id}", json={"rating": rating}, headers=user.headers
                )
                assert response.status_code == 200, response.text
                model[content_id] = rating
            for reader in (two_servers[0].url, two_servers[1].url):
                page = (await http.get(reader + "/v1/watchlist?limit=100", headers=user.headers)).json()
                seen = {i["contentId"]: i["rating"] for i in page["items"] if i["contentId"] in mine}
                expected = {cid: rating for cid, rating in model.items() if cid in mine}
                if seen != expected:
                    stale.append(f"client {index} step {step} via {reader}: {seen} != {expected}")

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
        await asyncio.gather(*(run_client(i, http) for i in range(clients)))
        final = {
            i["contentId"]: i["rating"]
            for i in (
                await http.get(two_servers[1].url + "/v1/watchlist?limit=100", headers=user.headers)
            ).json()["items"]
        }
    assert stale == []
    assert final == model


async def test_a_reorder_on_one_replica_is_seen_at_once_on_both_and_only_one_of_two_wins(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """docs/design.md §10 and §5: a reorder answers after every replica's cached rank pages are dropped; two
    reorders sent to two replicas with the same If-Match: one is applied, the other answers 412."""
    user = new_user(settings)
    a, b = (server.url for server in two_servers)
    async with httpx.AsyncClient(timeout=30, headers=user.headers) as http:
        ids = [f"movie:{n}" for n in range(1, 21)]
        assert (await http.post(a + "/v1/watchlist/batch", json={"add": ids})).json()["version"] == 20

        async def rank_order(url: str) -> list[str]:
            page = (await http.get(url + "/v1/watchlist?sort=rank&limit=100")).json()
            return [item["contentId"] for item in page["items"]]

        for round_ in range(10):
            version = 20 + round_
            for url in (a, b):  # cached on both
                await rank_order(url)
            wanted = random.Random(round_).sample(ids, len(ids))
            writer, other = (a, b) if round_ % 2 else (b, a)
            response = await http.put(
                writer + "/v1/watchlist/order",
                json={"contentIds": wanted},
                headers={"If-Match": f'"{version}"'},
            )
            assert response.json() == {"updated": 20, "skipped": [], "version": version + 1}
            assert await rank_order(other) == wanted
            assert await rank_order(writer) == wanted
        contenders = await asyncio.gather(
            *(
                http.put(
                    url + "/v1/watchlist/order", json={"contentIds": [cid]}, headers={"If-Match": '"30"'}
                )
                for url, cid in ((a, "movie:1"), (b, "movie:2"))
            )
        )
        assert sorted(response.status_code for response in contenders) == [200, 412]
        winner = next(r for r in contenders if r.status_code == 200).request.read()
        first = "movie:1" if b"movie:1" in winner else "movie:2"
        for url in (a, b):
            assert (await rank_order(url))[0] == first
