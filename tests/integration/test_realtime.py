"""Realtime My List over WebSocket, across two real replicas sharing MongoDB and Redis.

Every test ends by checking that the replica it hurt still serves (readiness, and a fresh socket that gets a
fresh event).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from tests.conftest import new_user, start_server
from tests.integration.realtime_support import (
    Message,
    closed_with,
    drain_until_closed,
    metric,
    open_socket,
    receive,
    receive_events,
    request,
    still_serving,
    subscribed,
)
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings
from watchlist_service.realtime.tickets import TicketStore
from watchlist_service.security import mint_token

pytestmark = pytest.mark.slow


class SocketQuery(TypedDict, total=False):
    """Query parameters of a socket URL (``open_socket``'s ``**query``)."""

    ticket: str
    token: str


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """REST problem bodies also carry the HTTP request id; everything else must be equal."""
    return {key: value for key, value in body.items() if key != "requestId"}


async def test_a_rest_change_on_one_replica_reaches_the_users_socket_on_the_other(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user, other = new_user(settings), new_user(settings)
    async with (
        open_socket(b, user.headers) as on_b,
        open_socket(a, user.headers) as on_a,
        open_socket(b, other.headers) as others,
        httpx.AsyncClient(base_url=a.url, timeout=10) as client,
    ):
        for ws in (on_b, on_a, others):
            await subscribed(ws)
        started = time.perf_counter()
        response = await client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
        event = await receive(on_b, wait_s=1.0)
        latency = time.perf_counter() - started
        assert response.status_code == 201
        assert event == {"event": "item.added", "version": 1, "item": response.json()}
        assert latency < 1.0
        assert await receive(on_a) == event  # every socket of the user, the writing replica's too

        # The other user's socket got nothing: its first message is the event of its own first change,
        # published after the first user's on the same pub/sub connection.
        await client.post("/v1/watchlist", json={"contentId": "tv:1396"}, headers=other.headers)
        own = await receive(others)
        assert own["version"] == 1
        assert own["item"]["contentId"] == "tv:1396"

        await client.delete("/v1/watchlist/movie:550", headers=user.headers)
        assert await receive(on_b) == {"event": "item.removed", "version": 2, "contentId": "movie:550"}


async def test_a_reconnect_with_since_gets_exactly_the_missed_changes_then_live_ones(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
        async with open_socket(b, user.headers) as ws:
            await subscribed(ws)
            await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
            seen = (await receive(ws))["version"]
        # Offline: three changes on the other replica.
        await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
        await client.patch("/v1/watchlist/movie:1", json={"watched": True}, headers=user.headers)
        await client.delete("/v1/watchlist/movie:2", headers=user.headers)
        # movie:2 was added then removed: the feed keeps its latest change only, so add one more title.
        await client.post("/v1/watchlist", json={"contentId": "tv:3"}, headers=user.headers)
        async with open_socket(b, user.headers, since=seen) as ws:
            missed = await receive_events(ws, 3)
            assert [(m["event"], m["version"]) for m in missed] == [
                ("item.updated", 3),
                ("item.removed", 4),
                ("item.added", 5),
            ]
            assert missed[0]["item"]["watched"] is True
            assert missed[1]["contentId"] == "movie:2"
            assert missed[2]["item"]["contentId"] == "tv:3"
            await client.post("/v1/watchlist", json={"contentId": "tv:6"}, headers=user.headers)
            live = await receive(ws)
            assert (live["event"], live["version"]) == ("item.added", 6)
            # Nothing else was queued: the next message is the answer to an op.
            reply, extra = await request(ws, "list", limit=1)
            assert extra == []
            assert reply["body"]["version"] == 6
    await still_serving(b, user.headers, "movie:99")


async def test_resume_under_concurrent_writes_on_both_replicas_has_no_gap_and_no_duplicate(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    async with httpx.AsyncClient(timeout=10) as client:
        await client.post(a.url + "/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        halfway = asyncio.Event()

        async def writer(server: ManagedProcess, kind: str) -> None:
            for n in range(1, 13):
                content_id = f"{kind}:{n % 4 + 1}"
                add = await client.post(
                    server.url + "/v1/watchlist", json={"contentId": content_id}, headers=user.headers
                )
                if add.status_code == 409:
                    await client.delete(f"{server.url}/v1/watchlist/{content_id}", headers=user.headers)
                if n == 4:
                    halfway.set()

        writers = [asyncio.create_task(writer(a, "tv")), asyncio.create_task(writer(b, "movie"))]
        await halfway.wait()
        async with open_socket(b, user.headers, since=1) as ws:
            await asyncio.gather(*writers)
            final = (await client.get(a.url + "/v1/watchlist?limit=100", headers=user.headers)).json()
            events: list[Message] = []
            while not events or events[-1]["version"] < final["version"]:
                events.append(await receive(ws))
    versions = [event["version"] for event in events]
    assert versions == sorted(set(versions)), versions  # in order, no duplicate
    state = {"movie:1"}
    for event in events:
        if event["event"] == "item.removed":
            state.discard(event["contentId"])
        else:
            state.add(event["item"]["contentId"])
    assert state == {item["contentId"] for item in final["items"]}


async def test_a_since_the_feed_no_longer_reaches_asks_for_a_resync(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    ids = [f"tv:{n}" for n in range(1, 101)]
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
        await client.post("/v1/watchlist/batch", json={"add": ids}, headers=user.headers)
        await client.post("/v1/watchlist/batch", json={"remove": ids}, headers=user.headers)
        await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    assert settings.changes_kept < 201
    async with open_socket(b, user.headers, since=0) as ws:
        assert await receive(ws) == {"event": "resync-required", "version": 201}
        reply, _ = await request(ws, "list")
        assert reply["body"]["version"] == 201
    async with open_socket(b, user.headers, since=250) as ws:  # ahead of the list: also a resync
        assert await receive(ws) == {"event": "resync-required", "version": 201}


async def test_ops_sent_as_messages_answer_like_rest(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=10, headers=user.headers) as rest,
        open_socket(b, user.headers) as ws,
    ):
        await subscribed(ws)
        pushed: list[Message] = []
        added, events = await request(ws, "add", contentId="movie:550", notes="with friends")
        pushed += events
        assert added["status"] == 201
        assert added["body"] == (await rest.get("/v1/watchlist/movie:550")).json()
        assert added["body"]["notes"] == "with friends"

        duplicate, events = await request(ws, "add", contentId="movie:550")
        pushed += events
        rest_duplicate = await rest.post("/v1/watchlist", json={"contentId": "movie:550"})
        assert duplicate["status"] == rest_duplicate.status_code == 409
        assert duplicate["body"]["code"] == 40001
        assert duplicate["body"]["item"] == added["body"]
        assert duplicate["body"] == without_request_id(rest_duplicate.json())

        updated, events = await request(ws, "update", contentId="movie:550", watched=True, rating=8)
        pushed += events
        assert updated["status"] == 200
        assert updated["body"] == (await rest.get("/v1/watchlist/movie:550")).json()
        assert (updated["body"]["watched"], updated["body"]["rating"]) == (True, 8)

        bad_rating, events = await request(ws, "update", contentId="movie:550", rating=11)
        pushed += events
        rest_bad_rating = await rest.patch("/v1/watchlist/movie:550", json={"rating": 11})
        assert bad_rating["status"] == rest_bad_rating.status_code == 400
        assert bad_rating["body"]["code"] == rest_bad_rating.json()["code"] == 60001

        page, events = await request(ws, "list", limit=5)
        pushed += events
        assert page["status"] == 200
        assert page["body"] == (await rest.get("/v1/watchlist?limit=5")).json()
        watched, events = await request(ws, "list", watched=True, rated=True, sort="rating.desc")
        pushed += events
        assert watched["status"] == 200
        assert (
            watched["body"]
            == (await rest.get("/v1/watchlist?watched=true&rated=true&sort=rating.desc")).json()
        )
        assert [i["contentId"] for i in watched["body"]["items"]] == ["movie:550"]

        removed, events = await request(ws, "remove", contentId="movie:550")
        pushed += events
        assert (removed["status"], removed["body"]) == (204, None)
        gone, events = await request(ws, "remove", contentId="movie:550")
        pushed += events
        rest_gone = await rest.delete("/v1/watchlist/movie:550")
        assert gone["status"] == rest_gone.status_code == 404
        assert gone["body"] == without_request_id(rest_gone.json())
        not_found, events = await request(ws, "update", contentId="movie:550", watched=False)
        pushed += events
        assert (not_found["status"], not_found["body"]["code"]) == (404, 40002)

        for raw, status, code in (
            ("{not json", 400, 60001),
            (json.dumps({"op": "drop", "requestId": "x"}), 400, 60001),
            ("x" * 70_000, 413, 60002),
        ):
            await ws.send(raw)
            reply = await receive(ws)
            while "event" in reply:
                pushed.append(reply)
                reply = await receive(ws)
            assert (reply["status"], reply["body"]["code"]) == (status, code)
        # The socket stays open and working after bad messages.
        again, events = await request(ws, "add", contentId="tv:1396")
        pushed += events
        assert again["status"] == 201
        while len(pushed) < 4:
            pushed.append(await receive(ws))
        # Its own changes were pushed to the socket too, once each, like any other change.
        assert [(e["event"], e["version"]) for e in pushed] == [
            ("item.added", 1),
            ("item.updated", 2),
            ("item.removed", 3),
            ("item.added", 4),
        ]
    await still_serving(b, user.headers, "movie:99")


async def test_write_ops_take_if_match_and_reorders_reach_every_socket(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """docs/design.md §7 and §10: a stale ``ifMatch`` answers REST's 412 problem and changes nothing; write
    replies carry the new version; a reorder (socket or REST) is pushed as ``list.reordered`` and resumed from
    the delta feed."""
    a, b = two_servers
    user = new_user(settings)
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=10, headers=user.headers) as rest,
        open_socket(b, user.headers) as ws,
    ):
        await subscribed(ws)
        pushed: list[Message] = []
        first, events = await request(ws, "add", contentId="movie:1", ifMatch=0)
        pushed += events
        assert (first["status"], first["version"]) == (201, 1)
        second, events = await request(ws, "add", contentId="movie:2", position="bottom", ifMatch='"1"')
        pushed += events
        assert (second["status"], second["version"]) == (201, 2)

        stale, events = await request(ws, "update", contentId="movie:1", watched=True, ifMatch=1)
        pushed += events
        rest_stale = await rest.patch(
            "/v1/watchlist/movie:1", json={"watched": True}, headers={"If-Match": '"1"'}
        )
        assert stale["status"] == rest_stale.status_code == 412
        assert stale["body"] == without_request_id(rest_stale.json())
        assert (stale["body"]["code"], stale["body"]["version"]) == (60008, 2)
        assert "version" not in {key for key in stale if key != "body"}  # nothing was written
        for op, args in (("remove", {"contentId": "movie:1"}), ("reorder", {"contentIds": ["movie:2"]})):
            refused, events = await request(ws, op, ifMatch="*" if op == "remove" else 1, **args)
            pushed += events
            if op == "remove":
                assert (refused["status"], refused["version"]) == (204, 3)  # "*": the list exists
            else:
                assert (refused["status"], refused["body"]["version"]) == (412, 3)
        required, events = await request(ws, "reorder", contentIds=["movie:2"])
        pushed += events
        assert (required["status"], required["body"]["code"]) == (428, 60009)
        assert required["body"]["instance"] == "/v1/watchlist/order"

        _, events = await request(ws, "add", contentId="movie:3")  # v4, on top
        pushed += events
        reordered, events = await request(ws, "reorder", contentIds=["movie:2", "tv:9"], ifMatch=4)
        pushed += events
        assert reordered["status"] == 200
        assert reordered["body"] == {"updated": 1, "skipped": ["tv:9"], "version": 5}
        assert reordered["version"] == 5
        page, events = await request(ws, "list", sort="rank")
        pushed += events
        assert [i["contentId"] for i in page["body"]["items"]] == ["movie:2", "movie:3"]
        assert page["body"] == (await rest.get("/v1/watchlist?sort=rank")).json()

        # A REST reorder on the other replica reaches the socket.
        rest_reorder = await rest.put(
            "/v1/watchlist/order", json={"contentIds": ["movie:3"]}, headers={"If-Match": '"5"'}
        )
        assert rest_reorder.json() == {"updated": 1, "skipped": [], "version": 6}
        while len(pushed) < 6:
            pushed.append(await receive(ws))
        assert [(e["event"], e["version"]) for e in pushed] == [
            ("item.added", 1),
            ("item.added", 2),
            ("item.removed", 3),
            ("item.added", 4),
            ("list.reordered", 5),
            ("list.reordered", 6),
        ]
        assert pushed[-1] == {"event": "list.reordered", "version": 6}
    async with open_socket(b, user.headers, since=3) as resumed:
        missed = await receive_events(resumed, 2)
        # The feed keeps the latest reorder only.
        assert [(m["event"], m["version"]) for m in missed] == [("item.added", 4), ("list.reordered", 6)]
    await still_serving(b, user.headers, "movie:99")


async def test_socket_ops_count_against_the_same_rate_limits_as_rest(
    settings: Settings, tmp_path: Path
) -> None:
    server = start_server(settings, tmp_path, WATCHLIST_RATE_LIMIT_WRITES="3/minute")
    user = new_user(settings)
    try:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10, headers=user.headers) as rest,
            open_socket(server, user.headers) as ws,
        ):
            await subscribed(ws)
            assert (await rest.post("/v1/watchlist", json={"contentId": "movie:550"})).status_code == 201
            for content_id in ("movie:13", "movie:680"):  # the 2nd and 3rd write of the minute
                added, _ = await request(ws, "add", contentId=content_id)
                assert added["status"] == 201
            refused, _ = await request(ws, "add", contentId="movie:155")
            assert (refused["status"], refused["body"]["code"]) == (429, 60003)
            assert 1 <= refused["body"]["retryAfter"] <= 60
            # One budget for both ways in, and the refused add did not happen.
            assert (await rest.delete("/v1/watchlist/movie:13")).status_code == 429
            page, _ = await request(ws, "list")  # reads have their own budget; the socket still serves
            assert page["status"] == 200
            assert sorted(i["contentId"] for i in page["body"]["items"]) == [
                "movie:13",
                "movie:550",
                "movie:680",
            ]
    finally:
        server.stop()


async def test_bad_or_missing_credentials_close_with_4401_before_anything_is_sent(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    _, b = two_servers
    user = new_user(settings)
    wrong_secret = settings.model_copy(update={"jwt_secret": SecretStr("y" * 48)})
    attempts: list[tuple[dict[str, str], SocketQuery]] = [
        ({}, {}),
        ({"Authorization": "Bearer not-a-token"}, {}),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
        ({"Authorization": "Bearer " + mint_token(wrong_secret, user.id)}, {}),
        ({"Authorization": "Bearer " + mint_token(settings, user.id, ttl_s=-120)}, {}),
        ({}, {"ticket": "x" * 43}),
        ({}, {"ticket": "../../etc"}),
        ({}, {"token": mint_token(settings, user.id)}),  # tokens do not travel in URLs
    ]
    for headers, query in attempts:
        async with open_socket(b, headers, **query) as ws:
            assert await closed_with(ws) == (4401, "unauthenticated"), (headers, query)
    async with open_socket(b, user.headers, since="abc") as ws:
        assert await closed_with(ws) == (4400, "invalid since")
    await still_serving(b, user.headers, "movie:1")


async def test_tickets_are_one_time_short_lived_and_work_on_every_replica(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
        issued = await client.post("/v1/watchlist/events/ticket", headers=user.headers)
        assert issued.status_code == 201
        assert issued.json()["expiresIn"] == settings.ws_ticket_ttl_s
        ticket = issued.json()["ticket"]
        async with open_socket(b, ticket=ticket) as ws:  # issued by A, redeemed on B
            await subscribed(ws)
            await client.post("/v1/watchlist", json={"contentId": "movie:7"}, headers=user.headers)
            assert (await receive(ws))["item"]["contentId"] == "movie:7"
        async with open_socket(a, ticket=ticket) as ws:
            assert await closed_with(ws) == (4401, "unauthenticated")  # used up

        expiring = (await client.post("/v1/watchlist/events/ticket", headers=user.headers)).json()["ticket"]
        key = TicketStore._key(expiring)
        async with Redis.from_url(settings.redis_url) as redis:
            assert settings.ws_ticket_ttl_s - 2 <= await redis.ttl(key) <= settings.ws_ticket_ttl_s
            assert await redis.pexpireat(key, 1)  # its time is up: Redis lets it go at once
        async with open_socket(b, ticket=expiring) as ws:
            assert await closed_with(ws) == (4401, "unauthenticated")
    await still_serving(a, user.headers, "movie:8")


async def test_a_consumer_that_stops_reading_is_cut_off_and_others_keep_their_events(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    a, b = two_servers
    user = new_user(settings)
    before = await metric(b, "watchlist_ws_closes_total", reason="slow_consumer")
    async with httpx.AsyncClient(base_url=a.url, timeout=30, headers=user.headers) as rest:
        ids = [f"tv:{n}" for n in range(1, 101)]
        await rest.post("/v1/watchlist/batch", json={"add": ids})
        async with (
            open_socket(b, user.headers, slow_reader=True) as slow,
            open_socket(b, user.headers) as fast,
        ):
            await subscribed(fast)
            # ~35 kB answers the client never reads fill the kernel's and the server's send buffers...
            for n in range(160):
                await slow.send(json.dumps({"op": "list", "requestId": n, "limit": 100}))
            # ...then events pile up behind them until the server gives up on the socket.
            rounds = 0
            while await metric(b, "watchlist_ws_closes_total", reason="slow_consumer") == before:
                rounds += 1
                assert rounds < 20, "the slow consumer was never cut off"
                await rest.post("/v1/watchlist/batch", json={"remove": ids[:50], "add": ids[:50]})
            received, code, reason = await drain_until_closed(slow)
            assert (code, reason) == (1008, "slow consumer")
            final = (await rest.get("/v1/watchlist?limit=100")).json()
            events = [m for m in received if "event" in m]
            assert len(events) < final["version"] - 100  # dropped, not buffered without bound
            # The reader that keeps up ends at the same list, in version order (bursts of 100 may be
            # folded into one catch-up from the delta feed).
            state = set(ids)
            last = 100
            while last < final["version"]:
                event = await receive(fast, wait_s=10)
                assert event["version"] > last
                last = event["version"]
                if event["event"] == "item.removed":
                    state.discard(event["contentId"])
                else:
                    state.add(event["item"]["contentId"])
            assert state == {item["contentId"] for item in final["items"]}
    await still_serving(b, user.headers, "movie:1")


async def test_the_ticket_endpoint_needs_a_valid_bearer_token(two_servers: list[ManagedProcess]) -> None:
    async with httpx.AsyncClient(base_url=two_servers[0].url, timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer x"}):
            response = await client.post("/v1/watchlist/events/ticket", headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == 30001


async def test_every_event_of_a_batch_is_published_although_the_request_spent_its_redis_budget(
    two_servers: list[ManagedProcess], settings: Settings
) -> None:
    """docs/design.md §7: a batch of 100 adds publishes 100 events, also those that find the request's shared
    Redis budget spent (they get a budget of their own), so a socket on the other replica reaches the
    batch's version without waiting for a later change."""
    a, b = two_servers
    user = new_user(settings)
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=30, headers=user.headers) as rest,
        open_socket(b, user.headers) as ws,
    ):
        await subscribed(ws)
        answer = await rest.post("/v1/watchlist/batch", json={"add": [f"tv:{n}" for n in range(1, 101)]})
        assert answer.status_code == 200
        assert answer.json()["version"] == 100
        last = 0
        while last < 100:
            message = await receive(ws, wait_s=10)
            if "event" in message:
                last = max(last, int(message["version"]))
        # No later change came: the last events themselves arrived (they used to be skipped).
        assert (await rest.get("/v1/watchlist/stats")).json()["total"] == 100  # still serving
