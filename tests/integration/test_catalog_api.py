"""The catalog endpoints against the fake TMDb over real HTTP: objects, pagination, cursors, errors, cache."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import ClientFactory, User
from tests.integration.catalog_support import (
    FAST_TMDB,
    TMDB_API_KEY,
    CatalogClientFactory,
    FakeTmdb,
    asgi_get,
    catalog_service,
)
from watchlist_service.catalog.schemas import CatalogItem

pytest_plugins = ["tests.integration.catalog_fixtures"]

LITE_KEYS = {
    "id",
    "type",
    "contentId",
    "title",
    "originalTitle",
    "overview",
    "posterPath",
    "backdropPath",
    "releaseDate",
    "genreIds",
    "popularity",
    "voteAverage",
    "voteCount",
}
# Three of the sorts of docs/design.md §3 and the discover sort_by each must become for movies.
WALK_SORTS = {
    "popularity.desc": "popularity.desc",
    "release_date.asc": "primary_release_date.asc",
    "title.desc": "title.desc",
}


async def walk(
    client: httpx.AsyncClient, path: str, user: User, counts: Iterable[int], **params: str
) -> list[tuple[str, int]]:
    """Follow nextCursor to the end, with ``counts`` cycled; returns (type, id) in the order served."""
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    for count in itertools.islice(itertools.cycle(counts), 20_000):
        query: dict[str, Any] = {**params, "count": count}
        if cursor is not None:
            query["cursor"] = cursor
        status, content = await asgi_get(client, path, urlencode(query), user.headers)
        assert status == 200, content
        body = json.loads(content)
        seen.extend((item["type"], item["id"]) for item in body["results"])
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
        if path != "/v1/search":
            assert len(body["results"]) == count  # only the last page of a listing is short
    raise AssertionError("the walk never ended")


# --- objects ---------------------------------------------------------------------------------------


async def test_movie_details_are_the_full_object(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    raw = fake_tmdb.get("/3/movie/550")
    async with catalog_client() as client:
        response = await client.get("/v1/movies/550", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("public, max-age=")
    body = response.json()
    assert set(body) >= LITE_KEYS
    assert body["id"] == 550
    assert body["type"] == "movie"
    assert body["contentId"] == "movie:550"
    assert body["title"] == raw["title"] == "Fight Club"
    assert body["releaseDate"] == raw["release_date"]
    assert body["posterPath"] == raw["poster_path"]
    assert body["genreIds"] == [g["id"] for g in raw["genres"]]
    assert body["genres"] == raw["genres"]
    assert body["runtime"] == raw["runtime"]
    assert body["budget"] == raw["budget"]
    assert body["revenue"] == raw["revenue"]
    assert body["tagline"] == raw["tagline"]
    assert body["homepage"] == raw["homepage"]
    assert body["imdbId"] is None  # null in the data set
    assert body["productionCompanies"][0] == {
        "id": raw["production_companies"][0]["id"],
        "name": raw["production_companies"][0]["name"],
        "logoPath": None,
        "originCountry": None,
    }
    assert body["spokenLanguages"] == [{"code": "en", "name": "English", "englishName": "English"}]


async def test_tv_details_take_title_from_name_and_date_from_first_air_date(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    raw = fake_tmdb.get("/3/tv/1396")
    async with catalog_client() as client:
        response = await client.get("/v1/tv/1396", headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contentId"] == "tv:1396"
    assert body["type"] == "tv"
    assert body["title"] == raw["name"] == "Breaking Bad"
    assert body["originalTitle"] == raw["original_name"]
    assert body["releaseDate"] == raw["first_air_date"]
    # Empty or null in TMDb's answer: null here, never a crash.
    for key in (
        "numberOfSeasons",
        "numberOfEpisodes",
        "seasons",
        "status",
        "homepage",
        "productionCompanies",
    ):
        assert body[key] is None, key


async def test_empty_fields_become_null(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    raw = fake_tmdb.get("/3/movie/43630")
    assert raw["overview"] == "" or raw["overview"] is None
    async with catalog_client() as client:
        body = (await client.get("/v1/movies/43630", headers=user.headers)).json()
    assert body["overview"] is None
    assert body["posterPath"] == raw["poster_path"]


async def test_list_items_are_lite_objects_equal_to_upstream(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    raw = fake_tmdb.get("/3/discover/tv", sort_by="popularity.desc", page=1)["results"]
    async with catalog_client() as client:
        response = await client.get("/v1/tv", params={"count": 20}, headers=user.headers)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [set(r) for r in results] == [LITE_KEYS] * 20
    for ours, theirs in zip(results, raw, strict=True):
        assert ours["id"] == theirs["id"]
        assert ours["title"] == (theirs["name"] or None)
        assert ours["releaseDate"] == (theirs["first_air_date"] or None)
        assert ours["popularity"] == theirs["popularity"]
        assert ours["voteCount"] == theirs["vote_count"]
        assert ours["genreIds"] == (theirs["genre_ids"] or None)


# --- pagination ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sort", list(WALK_SORTS))
async def test_walking_movies_with_any_count_yields_the_upstream_order(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User, sort: str
) -> None:
    expected = fake_tmdb.ids("/3/discover/movie", sort_by=WALK_SORTS[sort], include_adult="false")
    assert len(expected) > 4_000
    before = fake_tmdb.calls("/3/discover/movie")
    async with catalog_client() as client:
        for counts in ([1], [7], [20], [33], [100], [1, 7, 100, 33, 20]):
            served = await walk(client, "/v1/movies", user, counts, sort=sort)
            assert served == expected, counts  # same order, nothing skipped, nothing repeated
            assert len(set(served)) == len(served)
    # Every TMDb page was fetched once, whatever the counts (plus, at most, the empty page after the last
    # one, asked for together with it before the end was known).
    pages = -(-len(expected) // 20)
    assert pages <= fake_tmdb.calls("/3/discover/movie") - before <= pages + 1


async def test_walking_tv_maps_title_and_release_date_sorts(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client() as client:
        for sort, sort_by in (("title.asc", "name.asc"), ("release_date.desc", "first_air_date.desc")):
            expected = fake_tmdb.ids("/3/discover/tv", sort_by=sort_by, include_adult="false")
            assert await walk(client, "/v1/tv", user, [7], sort=sort) == expected


async def test_search_walks_movies_and_tv_of_multi_search(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    expected = fake_tmdb.ids("/3/search/multi", query="the", include_adult="false")
    assert {kind for kind, _ in expected} == {"movie", "tv"}
    async with catalog_client() as client:
        assert await walk(client, "/v1/search", user, [33], query="the") == expected
        assert await walk(client, "/v1/search", user, [100, 1], query="  THE ") == expected
        first = await client.get(
            "/v1/search", params={"query": "Fight Club", "count": 1}, headers=user.headers
        )
        assert first.json()["results"][0]["contentId"] == "movie:550"
        none = await client.get("/v1/search", params={"query": "zzqqxx no such title"}, headers=user.headers)
        assert none.json() == {"results": [], "nextCursor": None}


async def test_a_cursor_is_bound_to_its_listing_and_tamper_evident(
    catalog_client: CatalogClientFactory, user: User
) -> None:
    async with catalog_client() as client:
        first = await client.get("/v1/movies", params={"count": 5}, headers=user.headers)
        cursor = first.json()["nextCursor"]
        assert isinstance(cursor, str)
        ok = await client.get("/v1/movies", params={"count": 5, "cursor": cursor}, headers=user.headers)
        assert ok.status_code == 200

        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
        modified = {
            cursor[:i] + next(c for c in alphabet if c != cursor[i]) + cursor[i + 1 :]
            for i in range(len(cursor))
        }
        modified |= {cursor + "A", cursor[:-1], cursor + "=", "", " " + cursor, cursor.replace(".", "")}
        modified.discard(cursor)
        for bad in sorted(modified):
            response = await client.get(
                "/v1/movies", params={"count": 5, "cursor": bad}, headers=user.headers
            )
            if bad == "":
                assert response.status_code == 200  # an empty cursor is the first page
                continue
            assert response.status_code == 400, bad
            assert response.json()["code"] == 60001

        elsewhere = [
            ("/v1/movies", {"sort": "title.asc"}),
            ("/v1/tv", {}),
            ("/v1/search", {"query": "the"}),
        ]
        for path, params in elsewhere:
            response = await client.get(path, params={**params, "cursor": cursor}, headers=user.headers)
            assert response.status_code == 400, path
            assert response.json()["code"] == 60001


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/movies", {"sort": "rating.desc"}),
        ("/v1/movies", {"sort": "popularity"}),
        ("/v1/tv", {"sort": "name.asc"}),
        ("/v1/movies", {"count": "0"}),
        ("/v1/movies", {"count": "101"}),
        ("/v1/movies", {"count": "ten"}),
        ("/v1/movies", {"cursor": "not-a-cursor"}),
        ("/v1/movies", {"cursor": "x" * 500}),
        ("/v1/search", {}),
        ("/v1/search", {"query": ""}),
        ("/v1/search", {"query": "   "}),
        ("/v1/search", {"query": "x" * 201}),
        ("/v1/movies/abc", {}),
        ("/v1/movies/0", {}),
        ("/v1/movies/-5", {}),
        ("/v1/movies/0550", {}),
        ("/v1/movies/1e3", {}),
        ("/v1/movies/2147483648", {}),
        ("/v1/movies/99999999999", {}),
        ("/v1/tv/%EF%BC%95", {}),  # a full-width digit
        ("/v1/tv/1396.0", {}),
    ],
)
async def test_bad_sort_count_cursor_query_and_ids_are_400_before_tmdb(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User, path: str, params: dict[str, str]
) -> None:
    async with catalog_client() as client:
        response = await client.get(path, params=params, headers=user.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == 60001
    assert fake_tmdb.counters()["total"] == 0


async def test_the_largest_id_is_accepted(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, user: User
) -> None:
    async with catalog_client() as client:
        response = await client.get("/v1/movies/2147483647", headers=user.headers)
    assert response.status_code == 404
    assert fake_tmdb.calls("/3/movie/2147483647") == 1


async def test_catalog_needs_a_token(catalog_client: CatalogClientFactory) -> None:
    async with catalog_client() as client:
        for path in ("/v1/movies", "/v1/movies/550", "/v1/tv", "/v1/tv/1396", "/v1/search?query=x"):
            response = await client.get(path)
            assert response.status_code == 401, path


# --- not found and its negative cache --------------------------------------------------------------


async def test_unknown_titles_are_404_and_remembered_briefly(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    async with catalog_client(tmdb_local_cache_s=0) as client:
        for _ in range(3):
            movie = await client.get("/v1/movies/999999999", headers=user.headers)
            assert movie.status_code == 404
            assert movie.json()["code"] == 10001
            assert movie.json()["type"].endswith("/movie-not-found")
            tv = await client.get("/v1/tv/999999999", headers=user.headers)
            assert tv.status_code == 404
            assert tv.json()["code"] == 20001
        # Movie and TV ids are separate spaces: 550 is a movie, not a show.
        assert (await client.get("/v1/tv/550", headers=user.headers)).json()["code"] == 20001
    assert fake_tmdb.calls("/3/movie/999999999") == 1
    assert fake_tmdb.calls("/3/tv/999999999") == 1
    assert 0 < await tmdb_redis.ttl("tmdb:{movie:999999999}") <= 60


# --- the cache ---------------------------------------------------------------------------------------


async def test_answers_are_cached_under_tmdb_keys_with_ttls_by_kind(
    catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    async with catalog_client(
        tmdb_list_ttl_s=100, tmdb_detail_ttl_s=1_000, tmdb_stale_ttl_s=10_000, tmdb_local_cache_s=0
    ) as client:
        for path in ("/v1/movies/550", "/v1/tv/1396", "/v1/movies?count=25", "/v1/search?query=star&count=3"):
            for _ in range(3):
                assert (await client.get(path, headers=user.headers)).status_code == 200
    keys = {key.decode() async for key in tmdb_redis.scan_iter(match="tmdb:*")}
    search_keys = {k for k in keys if k.startswith("tmdb:{search:")}
    assert keys - search_keys == {
        "tmdb:{movie:550}",
        "tmdb:{tv:1396}",
        "tmdb:{discover:movie:popularity.desc:1}",
        "tmdb:{discover:movie:popularity.desc:2}",
        "tmdb:ratelimit",
    }
    assert len(search_keys) == 1
    assert 10_900 < await tmdb_redis.ttl("tmdb:{movie:550}") <= 11_000
    assert 10_000 < await tmdb_redis.ttl("tmdb:{discover:movie:popularity.desc:1}") <= 10_100
    # Each answer came from TMDb once; the repeats were cache hits.
    assert fake_tmdb.counters()["paths"] == {
        "/3/movie/550": 1,
        "/3/tv/1396": 1,
        "/3/discover/movie": 2,
        "/3/search/multi": 1,
    }


async def test_a_cached_answer_is_served_from_redis(
    catalog_client: CatalogClientFactory, tmdb_redis: Redis, user: User
) -> None:
    async with catalog_client(tmdb_local_cache_s=0) as client:
        await client.get("/v1/movies/550", headers=user.headers)
        raw = await tmdb_redis.get("tmdb:{movie:550}")
        assert isinstance(raw, bytes)  # the client does not decode responses
        await tmdb_redis.set("tmdb:{movie:550}", raw.replace(b'"Fight Club"', b'"Planted Title"', 1))
        assert (await client.get("/v1/movies/550", headers=user.headers)).json()["title"] == "Planted Title"
        # Garbage in the cache is a miss, not an error.
        await tmdb_redis.set("tmdb:{movie:550}", b"\x00garbage")
        assert (await client.get("/v1/movies/550", headers=user.headers)).json()["title"] == "Fight Club"


async def test_without_tmdb_settings_the_catalog_answers_503_and_the_rest_works(
    make_client: ClientFactory, tmdb_redis: Redis, user: User
) -> None:
    async with make_client() as client:
        response = await client.get("/v1/movies/550", headers=user.headers)
        assert response.status_code == 503
        assert response.json()["code"] == 50003
        assert int(response.headers["retry-after"]) >= 1
        assert (await client.get("/v1/movies", headers=user.headers)).status_code == 503
        assert (await client.get("/v1/health/ready")).status_code == 200
        assert (await client.get("/v1/watchlist", headers=user.headers)).status_code == 200


async def test_v3_api_key_works_and_stays_out_of_answers(
    make_client: ClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    async with make_client(tmdb_base_url=fake_tmdb.url, tmdb_api_key=TMDB_API_KEY, **FAST_TMDB) as client:
        response = await client.get("/v1/movies?count=2", headers=user.headers)
    assert response.status_code == 200
    assert TMDB_API_KEY not in response.text


async def test_wrong_credentials_are_503_not_retried(
    make_client: ClientFactory, fake_tmdb: FakeTmdb, tmdb_redis: Redis, user: User
) -> None:
    async with make_client(tmdb_base_url=fake_tmdb.url, tmdb_token="wrong", **FAST_TMDB) as client:
        response = await client.get("/v1/movies/550", headers=user.headers)
    assert response.status_code == 503
    assert response.json()["code"] == 50003
    assert fake_tmdb.calls("/3/movie/550") == 1


async def test_lite_objects_for_the_list(catalog_client: CatalogClientFactory, fake_tmdb: FakeTmdb) -> None:
    poster_path = fake_tmdb.get("/3/movie/550")["poster_path"]
    fake_tmdb.reset()
    async with catalog_client() as client:
        service = catalog_service(client)
        lite = await service.lite("movie", 550)
        assert isinstance(lite, CatalogItem)
        assert (lite.content_id, lite.title, lite.release_date) == ("movie:550", "Fight Club", "1999-10-15")
        assert lite.poster_path == poster_path
        show = await service.lite("tv", 1396)
        assert (show.content_id, show.title) == ("tv:1396", "Breaking Bad")
        # The same cache as the details endpoint: no second call.
        assert (await client.get("/v1/movies/550", headers={})).status_code == 401
        await service.movie(550)
    assert fake_tmdb.calls("/3/movie/550") == 1
