"""Export, erase and import (docs/design.md §11), in-process over ASGI against the real mongod and redis, with
the fake TMDb over real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from loguru import logger
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User, bearer, new_user
from tests.integration.catalog_support import CatalogClientFactory
from watchlist_service.config import Settings
from watchlist_service.infra.redis import scan_keys, user_tag_pattern
from watchlist_service.logging import request_id_var
from watchlist_service.portability.repository import EPOCH, ImportRepository
from watchlist_service.resources import resources_of
from watchlist_service.security import SCOPE_ERASE, SCOPE_READ_ANY, SCOPE_WRITE_ANY
from watchlist_service.watchlist.portability import CSV_COLUMNS, parse_file
from watchlist_service.watchlist.repository import WatchlistRepository

pytest_plugins = ["tests.integration.catalog_fixtures"]

LETTERBOXD = """Date,Name,Year,Letterboxd URI
2020-01-01,Fight Club,1999,https://boxd.it/2a9q
2020-01-02,Inception,2010,https://boxd.it/1skk
2020-01-03,Fihgt Clubb,1999,https://boxd.it/xxxx
2020-01-04,Incepshun,2010,https://boxd.it/yyyy
2020-01-05,Batman,,https://boxd.it/2a5q
2020-01-06,Avatar,2008,https://boxd.it/2bbK
2020-01-07,fight club,1999,https://boxd.it/2a9q
"""
TRAKT = [
    {"listed_at": "2021-03-01T10:00:00.000Z", "type": "movie",
     "movie": {"title": "Pulp Fiction", "year": 1994, "ids": {"trakt": 1, "tmdb": 680}}},
    {"listed_at": "2021-03-02T10:00:00.000Z", "type": "show",
     "show": {"title": "Top Gear", "year": 2002, "ids": {"trakt": 2, "tmdb": 45}}},
    {"listed_at": "2021-03-03T10:00:00.000Z", "type": "movie",
     "movie": {"title": "Nothing", "year": 2001, "ids": {"trakt": 3, "tmdb": 999999999}}},
    {"listed_at": "2021-03-04T10:00:00.000Z", "type": "movie",
     "movie": {"title": "No id", "year": 2001, "ids": {"trakt": 4}}},
    {"listed_at": "2021-03-05T10:00:00.000Z", "type": "season",
     "season": {"number": 1, "ids": {"tmdb": 3572}}},
]  # fmt: skip


def service_headers(settings: Settings, *scopes: str) -> dict[str, str]:
    return bearer(settings, "svc-" + uuid.uuid4().hex[:8], scopes=list(scopes))


async def all_items(client: httpx.AsyncClient, user: User) -> tuple[list[dict[str, Any]], int]:
    page = (await client.get("/v1/watchlist?limit=100", headers=user.headers)).json()
    assert page["total"] <= 100
    return page["items"], page["version"]


async def wait_finished(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(400):
        response = await client.get(location, headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the import did not finish: {job}")


async def import_file(
    client: httpx.AsyncClient, user: User, body: bytes, media_type: str, query: str = ""
) -> httpx.Response:
    headers = {**user.headers, "Content-Type": media_type}
    return await client.post(f"/v1/watchlist/imports{query}", content=body, headers=headers)


async def build_list(client: httpx.AsyncClient, user: User) -> None:
    """A list with every kind of field: metadata, notes (one a formula), watched, ratings, both types."""
    for content_id, notes in [
        ("movie:550", "=cmd|' /C calc'!A0"),
        ("movie:603", 'with "quotes", commas\nand a new line'),
        ("tv:45", None),
        ("movie:680", "'tis a note"),
        ("movie:27205", "+1 @home -x"),
    ]:
        body: dict[str, Any] = {"contentId": content_id}
        if notes is not None:
            body["notes"] = notes
        assert (await client.post("/v1/watchlist", json=body, headers=user.headers)).status_code == 201
    patch = {"watched": True, "rating": 9}
    response = await client.patch("/v1/watchlist/movie:603", json=patch, headers=user.headers)
    assert response.status_code == 200


def csv_items(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_export_json_and_csv_equal_the_list(catalog_client: CatalogClientFactory, user: User) -> None:
    """docs/design.md §11: the export holds every item with all its fields, at the version it names; CSV
    cells that a spreadsheet would run as formulas carry a leading quote."""
    async with catalog_client() as client:
        await build_list(client, user)
        items, version = await all_items(client, user)
        exported = await client.get("/v1/watchlist/export", headers=user.headers)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/json")
        assert exported.headers["x-list-version"] == str(version)
        body = exported.json()
        assert body["items"] == items
        assert (body["listVersion"], body["total"], body["format"]) == (
            version,
            5,
            "watchlist-service.export",
        )

        for request in (
            client.get("/v1/watchlist/export?format=csv", headers=user.headers),
            client.get("/v1/watchlist/export", headers={**user.headers, "Accept": "text/csv"}),
        ):
            response = await request
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            assert response.headers["x-list-version"] == str(version)
            rows = csv_items(response.text)
            assert [r["contentId"] for r in rows] == [i["contentId"] for i in items]
            by_id = {r["contentId"]: r for r in rows}
            assert by_id["movie:550"]["notes"] == "'=cmd|' /C calc'!A0"
            assert by_id["movie:680"]["notes"] == "''tis a note"
            assert by_id["movie:27205"]["notes"] == "'+1 @home -x"
            assert by_id["movie:603"]["notes"] == 'with "quotes", commas\nand a new line'
            assert (by_id["movie:603"]["watched"], by_id["movie:603"]["rating"]) == ("true", "9")
            assert by_id["tv:45"]["title"] == next(i["title"] for i in items if i["contentId"] == "tv:45")

        service = service_headers(client_settings(client), SCOPE_READ_ANY)
        other = await client.get(f"/v1/users/{user.id}/watchlist/export", headers=service)
        assert other.status_code == 200
        assert other.json()["items"] == items
        empty = await client.get("/v1/watchlist/export", headers=new_user(client_settings(client)).headers)
        assert empty.json()["items"] == []
        assert empty.headers["x-list-version"] == "0"


def client_settings(client: httpx.AsyncClient) -> Settings:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return resources_of(transport.app).settings  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["json", "csv"])
async def test_export_then_import_reproduces_the_list(
    catalog_client: CatalogClientFactory, settings: Settings, user: User, kind: str
) -> None:
    """docs/design.md §11: an export imported into another list gives the same items, fields and order."""
    async with catalog_client() as client:
        await build_list(client, user)
        items, _ = await all_items(client, user)
        exported = await client.get(f"/v1/watchlist/export?format={kind}", headers=user.headers)
        target = new_user(settings)
        media = "application/json" if kind == "json" else "text/csv"
        response = await import_file(client, target, exported.content, media)
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        assert location == f"/v1/watchlist/imports/{response.json()['id']}"
        job = await wait_finished(client, location, target.headers)
        assert job["state"] == "done"
        assert job["format"] == "ours"
        assert (job["total"], job["done"], job["counts"]["added"]) == (5, 5, 5)
        assert [r["row"] for r in job["rows"]] == [1, 2, 3, 4, 5]
        copied, version = await all_items(client, target)
        assert copied == items
        assert version == 5  # one version per real add

        again = await import_file(client, target, exported.content, media)
        job = await wait_finished(client, again.headers["location"], target.headers)
        assert job["counts"] == {"added": 0, "existing": 5, "unmatched": 0, "ambiguous": 0, "full": 0}
        assert (await all_items(client, target)) == (copied, 5)


async def test_letterboxd_csv_matches_by_title_and_year(
    catalog_client: CatalogClientFactory, user: User
) -> None:
    """docs/design.md §11: Letterboxd rows are matched by title and year; misspelt titles are unmatched,
    a title with several films of that name is ambiguous with its candidates."""
    async with catalog_client() as client:
        assert (await all_items(client, user)) == ([], 0)  # a cached empty page, dropped by the import
        response = await import_file(client, user, LETTERBOXD.encode(), "text/csv")
        assert response.status_code == 202, response.text
        job = await wait_finished(client, response.headers["location"], user.headers)
        assert job["format"] == "letterboxd"
        assert job["state"] == "done"
        rows = {r["row"]: r for r in job["rows"]}
        assert (rows[1]["outcome"], rows[1]["contentId"]) == ("added", "movie:550")
        assert (rows[2]["outcome"], rows[2]["contentId"]) == ("added", "movie:27205")
        assert rows[3]["outcome"] == rows[4]["outcome"] == "unmatched"
        assert rows[5]["outcome"] == "ambiguous"
        assert sorted(c["contentId"] for c in rows[5]["candidates"]) == ["movie:2661", "movie:268"]
        assert (rows[6]["outcome"], rows[6]["contentId"]) == ("added", "movie:19995")  # a year off
        assert (rows[7]["outcome"], rows[7]["contentId"]) == ("existing", "movie:550")  # listed twice
        assert job["counts"] == {"added": 3, "existing": 1, "unmatched": 2, "ambiguous": 1, "full": 0}
        items, version = await all_items(client, user)
        assert [i["contentId"] for i in items] == ["movie:19995", "movie:27205", "movie:550"]  # newest first
        assert items[0]["addedAt"] == "2020-01-06T12:00:00Z"
        assert items[0]["title"] == "Avatar"
        assert version == 3
        changes = (await client.get("/v1/watchlist/changes?since=0", headers=user.headers)).json()
        assert [(c["version"], c["op"], c["contentId"]) for c in changes["changes"]] == [
            (1, "added", "movie:550"),
            (2, "added", "movie:27205"),
            (3, "added", "movie:19995"),
        ]


async def test_trakt_json_adds_by_tmdb_id(catalog_client: CatalogClientFactory, user: User) -> None:
    """docs/design.md §11: Trakt entries name their TMDb id; unknown ids, missing ids and seasons are
    unmatched; the cap is reported as full."""
    async with catalog_client(list_cap=2) as client:
        assert (
            await client.post("/v1/watchlist", json={"contentId": "tv:45"}, headers=user.headers)
        ).status_code == 201
        response = await import_file(client, user, json.dumps(TRAKT).encode(), "application/json")
        assert response.status_code == 202, response.text
        job = await wait_finished(client, response.headers["location"], user.headers)
        assert job["format"] == "trakt"
        outcomes = {r["row"]: (r["outcome"], r.get("contentId")) for r in job["rows"]}
        assert outcomes == {
            1: ("added", "movie:680"),
            2: ("existing", "tv:45"),
            3: ("unmatched", "movie:999999999"),
            4: ("unmatched", None),
            5: ("unmatched", None),
        }
        items, _ = await all_items(client, user)
        assert [i["contentId"] for i in items] == ["movie:680", "tv:45"]
        assert items[0]["title"] == "Pulp Fiction"
        assert items[0]["addedAt"] == "2021-03-01T10:00:00Z"

    async with catalog_client(list_cap=1) as client:
        other = new_user(client_settings(client))
        response = await import_file(client, other, json.dumps(TRAKT[:2]).encode(), "application/json")
        job = await wait_finished(client, response.headers["location"], other.headers)
        assert [r["outcome"] for r in job["rows"]] == ["added", "full"]


@pytest.mark.parametrize(
    ("body", "media_type", "query", "status", "code"),
    [
        ("Date,Name,Year\n2020-01-01,Caf\xe9,1999\n".encode("latin-1"), "text/csv", "", 400, 60011),
        (b"Date,Name\n2020-01-01,Fight Club\n", "text/csv", "?format=letterboxd", 400, 60011),
        (b"contentId,type\nmovie:550,movie\n", "text/csv", "", 400, 60011),
        (b"a,b\n1,2\n", "text/csv", "", 415, 60010),
        (b"{}", "application/json", "", 415, 60010),
        (b"[1, 2", "application/json", "", 400, 60011),
        (b"Name,Year\nx,1999\n", "application/xml", "", 415, 60010),
        (b"Name,Year\nx,1999\n", "text/csv; charset=latin-1", "", 400, 60011),
        (b"", "text/csv", "", 400, 60011),
        (b"[]", "application/json", "?format=letterboxd", 415, 60010),
        (b"Name,Year\nx,1999\n", "text/csv", "?format=nonsense", 400, 60001),
    ],
)
async def test_bad_files_are_refused_whole(
    app_client: httpx.AsyncClient,
    user: User,
    body: bytes,
    media_type: str,
    query: str,
    status: int,
    code: int,
) -> None:
    """docs/design.md §11: a file that cannot be imported is a 4xx problem and nothing of it is imported."""
    response = await import_file(app_client, user, body, media_type, query)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    items, version = await all_items(app_client, user)
    assert (items, version) == ([], 0)
    assert (
        await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
    ).status_code == 201


async def test_formulas_in_our_csv_are_refused(app_client: httpx.AsyncClient, user: User) -> None:
    """docs/design.md §11: our CSV export escapes formula prefixes; a file of ours with an unescaped one is
    refused (it was made elsewhere), naming the row and the column."""
    header = ",".join(CSV_COLUMNS)
    stamp = "2024-01-01T00:00:00Z"
    row = f"movie:550,movie,550,Fight Club,,,false,{stamp},{stamp},\"=cmd|' /C calc'!A0\",false,"
    response = await import_file(app_client, user, f"{header}\n{row}\n".encode(), "text/csv")
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == 60011
    assert problem["errors"] == [{"field": "row 1, notes", "message": problem["errors"][0]["message"]}]
    assert (await all_items(app_client, user)) == ([], 0)


async def test_size_and_row_limits(make_client: ClientFactory, settings: Settings, user: User) -> None:
    """docs/design.md §11: over WATCHLIST_IMPORT_MAX_BYTES is 413, over WATCHLIST_IMPORT_MAX_ROWS is 422."""
    async with make_client(import_max_bytes=2048, import_max_rows=3) as client:
        big = b"Date,Name,Year\n" + b"2020-01-01,Fight Club,1999\n" * 200
        response = await import_file(client, user, big, "text/csv")
        assert (response.status_code, response.json()["code"]) == (413, 60012)
        rows = b"Date,Name,Year\n" + b"2020-01-01,Fight Club,1999\n" * 4
        response = await import_file(client, user, rows, "text/csv")
        assert (response.status_code, response.json()["code"]) == (422, 60013)
        missing = await client.get("/v1/watchlist/imports/" + "a" * 22, headers=user.headers)
        assert (missing.status_code, missing.json()["code"]) == (404, 60014)
        assert (await all_items(client, user)) == ([], 0)
        ok = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
        assert ok.status_code == 201


async def test_someone_elses_import_is_not_found(
    app_client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    """docs/design.md §11: an import is reported only to the list's owner (and services that may read it)."""
    response = await import_file(app_client, user, b"Name,Year\n", "text/csv")
    assert response.status_code == 202
    location = response.headers["location"]
    stranger = await app_client.get(location, headers=new_user(settings).headers)
    assert stranger.status_code == 404
    service = service_headers(settings, SCOPE_READ_ANY)
    job_id = location.rsplit("/", 1)[1]
    seen = await app_client.get(f"/v1/users/{user.id}/watchlist/imports/{job_id}", headers=service)
    assert seen.status_code == 200
    assert seen.json()["total"] == 0


# --- resuming an abandoned job ---------------------------------------------------------------------------


async def test_a_job_whose_lease_expired_is_finished_by_another_worker(
    make_client: ClientFactory, settings: Settings, user: User
) -> None:
    """docs/design.md §11: a job left behind by a crashed replica (lease expired in the middle of a step,
    one title of that step already added) is resumed by another replica's sweep; nothing is added twice and
    the results are those of an uninterrupted run."""
    async with make_client() as client:
        pre = await client.post("/v1/watchlist", json={"contentId": "movie:3"}, headers=user.headers)
        assert pre.status_code == 201
        source = new_user(settings)
        for n in range(1, 8):
            added = await client.post(
                "/v1/watchlist", json={"contentId": f"movie:{n}"}, headers=source.headers
            )
            assert added.status_code == 201
        exported = (await client.get("/v1/watchlist/export", headers=source.headers)).content

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        database = mongo[settings.mongodb_database]
        repository = ImportRepository(database, keep_s=3600, lease_s=30)
        parsed = parse_file(exported, media_type="json", named=None, max_rows=100)
        job_id = uuid.uuid4().hex[:22]
        # The crashed replica: it held the lease, wrote the step's intent (movie:3 was there before), added
        # movie:1 (the first row it processes) and died before storing results or advancing `done`.
        await repository.create(job_id, user.id, parsed.format, parsed.rows, owner="crashed-replica")
        await repository.intent(job_id, 0, ["movie:3"])
        first = parsed.rows[0]
        assert first.content_id == "movie:1"
        assert first.item is not None
        lists = WatchlistRepository(database, cap=settings.list_cap, changes_kept=settings.changes_kept)
        await lists.add(user.id, first.item)  # the same guarded update as every add
        await database["imports"].update_one({"_id": job_id}, {"$set": {"leaseUntil": EPOCH}})
    finally:
        await mongo.close()

    async with make_client(import_sweep_interval_s=0.2) as client:
        job = await wait_finished(client, f"/v1/watchlist/imports/{job_id}", user.headers)
        assert job["state"] == "done"
        outcomes = {r["contentId"]: r["outcome"] for r in job["rows"]}
        assert outcomes == {f"movie:{n}": ("existing" if n == 3 else "added") for n in range(1, 8)}
        items, version = await all_items(client, user)
        ids = [i["contentId"] for i in items]
        assert sorted(ids) == sorted(f"movie:{n}" for n in range(1, 8))
        assert len(ids) == len(set(ids)) == 7
        assert version == 7  # movie:3 before the job, then six real adds


# --- erase -----------------------------------------------------------------------------------------------


async def test_erase_removes_the_list_and_everything_derived(
    app_client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    """docs/design.md §11: erase removes the document, every Redis key of the user, the import jobs and
    tickets; reads then answer an empty list at version 0, `changes?since=N>0` 410; a second erase is 204;
    one audit line carries the counts and no list content."""
    for content_id in ("movie:550", "movie:603", "tv:45"):
        headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
        response = await app_client.post(
            "/v1/watchlist", json={"contentId": content_id, "notes": "secret note"}, headers=headers
        )
        assert response.status_code == 201
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).status_code == 200  # a cached page
    assert (await app_client.get("/v1/watchlist?sort=title.asc", headers=user.headers)).status_code == 200
    ticket = await app_client.post("/v1/watchlist/events/ticket", headers=user.headers)
    assert ticket.status_code == 201
    job = await import_file(app_client, user, b"Name,Year\n", "text/csv")
    assert job.status_code == 202

    redis = Redis.from_url(settings.redis_url)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    lines: list[dict[str, Any]] = []
    sink = logger.add(  # what the JSON sink writes: the record's fields and the request's id
        lambda message: lines.append({**message.record["extra"], "requestId": request_id_var.get()}),
        level="INFO",
    )
    try:
        assert await scan_keys(redis, user_tag_pattern(user.id))
        assert not (
            await app_client.delete(f"/v1/users/{user.id}/watchlist", headers=user.headers)
        ).is_success
        forbidden = await app_client.delete(
            f"/v1/users/{user.id}/watchlist",
            headers=service_headers(settings, SCOPE_READ_ANY, SCOPE_WRITE_ANY),
        )
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, 30002)

        eraser = service_headers(settings, SCOPE_ERASE)
        response = await app_client.delete(
            f"/v1/users/{user.id}/watchlist", headers={**eraser, "X-Request-ID": "erase-1"}
        )
        assert response.status_code == 204, response.text
        assert await scan_keys(redis, user_tag_pattern(user.id)) == []
        database = mongo[settings.mongodb_database]
        assert await database["watchlists"].find_one({"_id": user.id}) is None
        assert await database["imports"].find_one({"userId": user.id}) is None
        assert await database["import_rows"].find_one({"userId": user.id}) is None
        tickets = await scan_keys(redis, "realtime:ticket:*")
        for key in tickets:
            assert user.id.encode() not in (await redis.get(key) or b"")

        audit = [line for line in lines if line.get("audit") == "watchlist.erase"]
        assert len(audit) == 1
        assert audit[0]["requestId"] == "erase-1"
        assert audit[0]["userId"] == user.id
        assert audit[0]["items"] == 3
        assert audit[0]["importJobs"] == 1
        assert audit[0]["redisKeys"] > 0
        assert audit[0]["tickets"] == 1
        assert audit[0]["complete"] is True
        assert "secret note" not in json.dumps(audit[0])

        again = await app_client.delete(f"/v1/users/{user.id}/watchlist", headers=eraser)
        assert again.status_code == 204
        page = (await app_client.get("/v1/watchlist", headers=user.headers)).json()
        assert (page["items"], page["total"], page["version"]) == ([], 0, 0)
        gone = await app_client.get("/v1/watchlist/changes?since=2", headers=user.headers)
        assert (gone.status_code, gone.json()["code"], gone.json()["version"]) == (410, 40005, 0)
        assert (
            await app_client.get("/v1/watchlist/changes?since=0", headers=user.headers)
        ).status_code == 200
        added = await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        assert added.status_code == 201
        assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["version"] == 1
    finally:
        logger.remove(sink)
        await redis.aclose()
        await mongo.close()


async def test_erase_answers_503_when_redis_cannot_be_cleaned(
    make_client: ClientFactory, settings: Settings, user: User
) -> None:
    """docs/design.md §11: without Redis the document still goes, and the answer says the erase must be
    repeated (503 erase-incomplete, Retry-After); the service goes on serving."""
    from watchlist_dev.processes import free_port

    async with make_client(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_ms=100) as client:
        added = await client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=user.headers)
        assert added.status_code == 201
        eraser = service_headers(settings, SCOPE_ERASE)
        response = await client.delete(f"/v1/users/{user.id}/watchlist", headers=eraser)
        assert response.status_code == 503
        assert (response.json()["code"], response.headers["retry-after"]) == (40007, "2")
        page = (await client.get("/v1/watchlist", headers=user.headers)).json()
        assert (page["items"], page["version"]) == ([], 0)
        again = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
        assert again.status_code == 201


async def test_an_erase_stops_a_running_import(
    catalog_client: CatalogClientFactory, settings: Settings, user: User
) -> None:
    """docs/design.md §11: erasing a list whose import is running ends the import: nothing is added after
    the erase; while it ran, a second import was 409 import-in-progress."""
    titles = [("Fight Club", 1999), ("Inception", 2010), ("Avatar", 2009), ("The Matrix", 1999)] * 75
    rows = "".join(f"2020-01-01,{title},{year},u{n}\n" for n, (title, year) in enumerate(titles))
    body = ("Date,Name,Year,Letterboxd URI\n" + rows).encode()
    async with catalog_client(import_lookups_per_s=30) as client:
        started = await import_file(client, user, body, "text/csv")
        assert started.status_code == 202
        second = await import_file(client, user, b"Name,Year\n", "text/csv")
        assert (second.status_code, second.json()["code"]) == (409, 40006)
        for _ in range(100):
            job = (await client.get(started.headers["location"], headers=user.headers)).json()
            if job["done"] > 0:
                break
            await asyncio.sleep(0.05)
        eraser = service_headers(settings, SCOPE_ERASE)
        assert (await client.delete(f"/v1/users/{user.id}/watchlist", headers=eraser)).status_code == 204
        await asyncio.sleep(2.5)  # an import that went on would have added within this (a step: ~1.7 s)
        page = (await client.get("/v1/watchlist", headers=user.headers)).json()
        assert (page["items"], page["version"]) == ([], 0)
        gone = await client.get(started.headers["location"], headers=user.headers)
        assert gone.status_code == 404
        fresh = await import_file(client, user, b"Name,Year\n", "text/csv")
        assert fresh.status_code == 202  # a new import may start


async def test_files_above_the_request_body_cap_are_imported(
    app_client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    """docs/design.md §11: an import is held to WATCHLIST_IMPORT_MAX_BYTES, not to the 64 KiB body cap."""
    stamp = "2024-01-01T00:00:00.000Z"
    items = [
        {"contentId": f"movie:{n}", "type": "movie", "tmdbId": n, "addedAt": stamp, "updatedAt": stamp,
         "notes": "n" * 1_500}
        for n in range(1, 151)
    ]  # fmt: skip
    body = json.dumps({"format": "watchlist-service.export", "items": items}).encode()
    assert len(body) > settings.max_body_bytes * 3
    response = await import_file(app_client, user, body, "application/json")
    assert response.status_code == 202, response.text
    job = await wait_finished(app_client, response.headers["location"], user.headers)
    assert (job["state"], job["counts"]["added"]) == ("done", 150)


def _published(outcome: str) -> float:
    from watchlist_service.metrics import WS_PUBLISHED

    return float(WS_PUBLISHED.labels(outcome)._value.get())


async def test_an_upload_started_import_publishes_every_event_and_invalidates_every_step(
    app_client: httpx.AsyncClient, user: User
) -> None:
    """docs/design.md §11: the job started by an upload runs outside that request, so the request's Redis
    budget (§5) does not hold it back: every added title is published, every step invalidates the cache."""
    stamp = "2024-01-01T00:00:00.000Z"
    items = [
        {"contentId": f"movie:{n}", "type": "movie", "tmdbId": n, "addedAt": stamp, "updatedAt": stamp}
        for n in range(1, 161)
    ]
    body = json.dumps({"format": "watchlist-service.export", "items": items}).encode()
    before = {outcome: _published(outcome) for outcome in ("ok", "error", "skipped")}
    response = await import_file(app_client, user, body, "application/json")
    assert response.status_code == 202
    for _ in range(400):
        job = (await app_client.get(response.headers["location"], headers=user.headers)).json()
        # a page read between steps: cached, and dropped by the next step's invalidation
        page = (await app_client.get("/v1/watchlist?limit=1", headers=user.headers)).json()
        assert page["total"] >= job["counts"]["added"]
        if job["state"] == "done":
            break
        await asyncio.sleep(0.02)
    assert job["counts"]["added"] == 160
    page = (await app_client.get("/v1/watchlist?limit=1", headers=user.headers)).json()
    assert (page["total"], page["version"]) == (160, 160)
    assert _published("ok") - before["ok"] == 160
    assert (_published("error"), _published("skipped")) == (before["error"], before["skipped"])
