"""The fake TMDb server over real HTTP: auth, lists, sorting, details, search, faults and counters."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import cmp_to_key
from typing import Any

import httpx
import pytest

from watchlist_dev.fake_tmdb import DEFAULT_CATALOG_PATH, FakeTmdbServer, make_server
from watchlist_dev.processes import fake_tmdb_command

API_KEY = "test-api-key-0123456789abcdef"
INVALID_PAGE_MESSAGE = "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."
BEARER = "test-read-access-token.eyJhbGciOiJIUzI1NiJ9"

MOVIE_ITEM_KEYS = {
    "adult",
    "backdrop_path",
    "genre_ids",
    "id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "release_date",
    "title",
    "video",
    "vote_average",
    "vote_count",
}
TV_ITEM_KEYS = {
    "adult",
    "backdrop_path",
    "genre_ids",
    "id",
    "origin_country",
    "original_language",
    "original_name",
    "overview",
    "popularity",
    "poster_path",
    "first_air_date",
    "name",
    "vote_average",
    "vote_count",
}
# The documented discover sort_by values (TMDb OpenAPI enum, plus the legacy movie release_date pair),
# each with the field it orders by.
MOVIE_SORT_FIELDS = {
    "popularity": "popularity",
    "vote_average": "vote_average",
    "vote_count": "vote_count",
    "revenue": "revenue",
    "primary_release_date": "release_date",
    "release_date": "release_date",
    "title": "title",
    "original_title": "original_title",
}
TV_SORT_FIELDS = {
    "popularity": "popularity",
    "vote_average": "vote_average",
    "vote_count": "vote_count",
    "first_air_date": "first_air_date",
    "name": "name",
    "original_name": "original_name",
}
SORT_CASES = [
    ("movie", f"{name}.{direction}", field)
    for name, field in MOVIE_SORT_FIELDS.items()
    for direction in ("asc", "desc")
] + [
    ("tv", f"{name}.{direction}", field)
    for name, field in TV_SORT_FIELDS.items()
    for direction in ("asc", "desc")
]
LIST_PATHS = [
    ("/3/movie/popular", "movie"),
    ("/3/movie/top_rated", "movie"),
    ("/3/tv/popular", "tv"),
    ("/3/tv/top_rated", "tv"),
    ("/3/discover/movie", "movie"),
    ("/3/discover/tv", "tv"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTmdbServer]:
    srv = make_server("127.0.0.1", 0, api_key=API_KEY, bearer_token=BEARER)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _clean_state(server: FakeTmdbServer) -> None:
    server.fake.reset()


@pytest.fixture
def base_url(server: FakeTmdbServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def anon(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, params={"api_key": API_KEY}, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict[int, dict[str, Any]]]:
    """The packaged catalog read independently of the server code: kind -> id -> record."""
    with gzip.open(DEFAULT_CATALOG_PATH, "rb") as fh:
        document = json.loads(fh.read())
    result: dict[str, dict[int, dict[str, Any]]] = {}
    for kind in ("movie", "tv"):
        columns = document["movies" if kind == "movie" else "tv"]
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        result[kind] = {row["id"]: row for row in rows}
    return result


def _expected_order(records: list[dict[str, Any]], field: str, descending: bool) -> list[int]:
    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        va, vb = a.get(field), b.get(field)
        if (va is None) != (vb is None):
            return 1 if va is None else -1  # nulls last in both directions
        if va is not None and va != vb:
            less = va < vb
            return (1 if less else -1) if descending else (-1 if less else 1)
        return -1 if a["id"] < b["id"] else 1 if a["id"] > b["id"] else 0

    return [r["id"] for r in sorted(records, key=cmp_to_key(compare))]


def _ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["results"]]


def _set_faults(client: httpx.Client, **settings: Any) -> None:
    response = client.post("/__admin/faults", json=settings)
    assert response.status_code == 200, response.text


# --- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/__admin/health"),
        ("GET", "/__admin/counters"),
        ("POST", "/__admin/reset"),
        ("GET", "/__admin/faults"),
        ("POST", "/__admin/faults"),
        ("DELETE", "/__admin/faults"),
    ],
)
def test_the_admin_api_takes_the_api_credentials(anon: httpx.Client, method: str, path: str) -> None:
    body = {"mode": "status", "status": 500} if method == "POST" else None
    refused = anon.request(method, path, json=body)
    assert refused.status_code == 401
    assert "error" in refused.json()
    wrong = anon.request(method, path, json=body, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    assert anon.get("/__admin/faults", params={"api_key": API_KEY}).json()["mode"] == "none"  # no effect
    by_key = anon.request(method, path, json=body, params={"api_key": API_KEY})
    by_bearer = anon.request(method, path, json=body, headers={"Authorization": f"Bearer {BEARER}"})
    assert by_key.status_code == by_bearer.status_code == 200


def test_health_answers_with_credentials(api: httpx.Client) -> None:
    response = api.get("/__admin/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_api_key_and_bearer_are_accepted(anon: httpx.Client) -> None:
    by_key = anon.get("/3/movie/550", params={"api_key": API_KEY})
    by_bearer = anon.get("/3/movie/550", headers={"Authorization": f"Bearer {BEARER}"})
    assert by_key.status_code == by_bearer.status_code == 200
    assert by_key.json() == by_bearer.json()


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({"api_key": "wrong"}, {}),
        ({"api_key": ""}, {}),
        ({}, {"Authorization": "Bearer wrong"}),
        ({}, {"Authorization": f"Basic {BEARER}"}),
        ({"api_key": BEARER}, {}),
    ],
)
def test_missing_or_wrong_credentials_get_401_code_7(
    anon: httpx.Client, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = anon.get("/3/movie/popular", params=params, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
        "success": False,
    }
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "etag" not in response.headers


# --- lists ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind"), LIST_PATHS)
def test_list_pages_have_20_items_and_continue_without_overlap(
    api: httpx.Client, path: str, kind: str
) -> None:
    first = api.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json;charset=utf-8"
    assert first.headers["cache-control"] == "public, max-age=28800"
    assert first.headers["etag"].startswith('W/"')
    body = first.json()
    assert set(body) == {"page", "results", "total_pages", "total_results"}
    assert body["page"] == 1
    assert len(body["results"]) == 20
    assert body["total_pages"] == -(-body["total_results"] // 20)
    expected_keys = MOVIE_ITEM_KEYS if kind == "movie" else TV_ITEM_KEYS
    assert all(set(item) == expected_keys for item in body["results"])
    assert api.get(path, params={"page": 1}).json() == body

    second = api.get(path, params={"page": 2}).json()
    assert second["page"] == 2
    assert len(second["results"]) == 20
    assert not set(_ids(body)) & set(_ids(second))
    assert (second["total_pages"], second["total_results"]) == (body["total_pages"], body["total_results"])


@pytest.mark.parametrize(("path", "kind"), [("/3/tv/popular", "tv"), ("/3/movie/top_rated", "movie")])
def test_walking_every_page_yields_each_title_once(
    api: httpx.Client, catalog: dict[str, dict[int, dict[str, Any]]], path: str, kind: str
) -> None:
    first = api.get(path).json()
    seen: list[int] = _ids(first)
    for page in range(2, first["total_pages"] + 1):
        seen += _ids(api.get(path, params={"page": page}).json())
    assert len(seen) == len(set(seen)) == first["total_results"]
    if path.endswith("/popular"):
        assert first["total_results"] == len(catalog[kind])
    else:
        assert all(catalog[kind][i]["vote_count"] >= 300 for i in seen)
        averages = [catalog[kind][i]["vote_average"] for i in seen]
        assert averages == sorted(averages, reverse=True)


@pytest.mark.parametrize("page", ["0", "501", "abc", "-1", "1.5", "", "2a"])
@pytest.mark.parametrize("path", ["/3/movie/popular", "/3/discover/tv", "/3/search/movie"])
def test_invalid_page_is_400_code_22(api: httpx.Client, path: str, page: str) -> None:
    response = api.get(path, params={"page": page, "query": "the"})
    assert response.status_code == 400
    assert response.json() == {
        "status_code": 22,
        "status_message": INVALID_PAGE_MESSAGE,
        "success": False,
    }


def test_page_500_is_valid_and_past_the_end_is_empty_with_real_totals(api: httpx.Client) -> None:
    first = api.get("/3/tv/popular").json()
    last = api.get("/3/tv/popular", params={"page": first["total_pages"]}).json()
    assert 1 <= len(last["results"]) <= 20
    for page in (first["total_pages"] + 1, 500):
        response = api.get("/3/tv/popular", params={"page": page})
        assert response.status_code == 200
        assert response.json() == {
            "page": page,
            "results": [],
            "total_pages": first["total_pages"],
            "total_results": first["total_results"],
        }


def test_popular_is_by_popularity_desc(api: httpx.Client) -> None:
    results = api.get("/3/movie/popular").json()["results"]
    popularity = [item["popularity"] for item in results]
    assert popularity == sorted(popularity, reverse=True)


# --- discover sorting -----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "sort_by", "field"), SORT_CASES)
def test_every_documented_sort_by_orders_totally(
    api: httpx.Client, catalog: dict[str, dict[int, dict[str, Any]]], kind: str, sort_by: str, field: str
) -> None:
    expected = _expected_order(list(catalog[kind].values()), field, sort_by.endswith(".desc"))
    path = f"/3/discover/{kind}"
    first = api.get(path, params={"sort_by": sort_by}).json()
    assert first["total_results"] == len(expected)
    last_page = first["total_pages"]
    for page in (1, 2, last_page // 2, last_page):
        body = first if page == 1 else api.get(path, params={"sort_by": sort_by, "page": page}).json()
        assert _ids(body) == expected[(page - 1) * 20 : page * 20], (sort_by, page)


def test_unknown_sort_by_falls_back_to_popularity_desc(api: httpx.Client) -> None:
    default = api.get("/3/discover/movie").json()
    for sort_by in ("bogus.desc", "original_name.asc", ""):
        response = api.get("/3/discover/movie", params={"sort_by": sort_by})
        assert response.status_code == 200
        assert response.json() == default
    assert (
        api.get("/3/discover/tv", params={"sort_by": "title.asc"}).json() == api.get("/3/discover/tv").json()
    )


def test_discover_filters(api: httpx.Client, catalog: dict[str, dict[int, dict[str, Any]]]) -> None:
    body = api.get(
        "/3/discover/movie",
        params={"with_genres": "28,12", "vote_count.gte": 1000, "primary_release_year": 2012},
    ).json()
    assert body["total_results"] > 0
    for movie_id in _ids(body):
        movie = catalog["movie"][movie_id]
        assert {28, 12} <= set(movie["genre_ids"])
        assert movie["vote_count"] >= 1000
        assert movie["release_date"].startswith("2012")
    nothing = api.get("/3/discover/movie", params={"with_original_language": "en-US"})
    # The recorded TMDb answer for an unmatched discover: total_pages 1 and max-age=0.
    assert nothing.json() == {"page": 1, "results": [], "total_pages": 1, "total_results": 0}
    assert nothing.headers["cache-control"] == "public, max-age=0"


# --- details --------------------------------------------------------------------------------------


def test_movie_detail_with_append_to_response(api: httpx.Client) -> None:
    response = api.get(
        "/3/movie/550", params={"append_to_response": "images,credits,videos,external_ids,bogus"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=28800"
    movie = response.json()
    assert movie["id"] == 550
    assert movie["title"] == "Fight Club"
    assert movie["genres"] == [{"id": 18, "name": "Drama"}]
    assert movie["budget"] == 63000000
    assert movie["runtime"] == 139
    assert movie["release_date"] == "1999-10-15"
    assert movie["poster_path"].startswith("/")  # from the lite data set, which overlaps the CSV here
    assert movie["belongs_to_collection"] is None
    assert movie["imdb_id"] is None
    assert {"iso_639_1": "en", "english_name": "English", "name": "English"} in movie["spoken_languages"]
    assert all(set(c) == {"id", "logo_path", "name", "origin_country"} for c in movie["production_companies"])
    assert movie["images"] == {"backdrops": [], "logos": [], "posters": []}
    assert movie["credits"] == {"cast": [], "crew": []}
    assert movie["videos"] == {"results": []}
    assert set(movie["external_ids"]) == {
        "imdb_id",
        "wikidata_id",
        "facebook_id",
        "instagram_id",
        "twitter_id",
    }
    assert "bogus" not in movie
    assert "images" not in api.get("/3/movie/550").json()


def test_movie_detail_empty_values_are_null(
    api: httpx.Client, catalog: dict[str, dict[int, dict[str, Any]]]
) -> None:
    no_homepage = next(m for m in catalog["movie"].values() if m["homepage"] is None and m["tagline"] is None)
    movie = api.get(f"/3/movie/{no_homepage['id']}").json()
    assert movie["homepage"] is None
    assert movie["tagline"] is None
    # A movie that only exists in the lite data set: detail fields are null, list fields empty.
    lite_only = next(m for m in catalog["movie"].values() if m["status"] is None)
    movie = api.get(f"/3/movie/{lite_only['id']}").json()
    assert movie["title"] == lite_only["title"]
    assert (movie["budget"], movie["revenue"], movie["runtime"], movie["status"]) == (None, None, None, None)
    assert movie["production_companies"] == []
    assert all(g["name"] for g in movie["genres"])


def test_tv_detail_with_append_to_response(api: httpx.Client) -> None:
    show = api.get("/3/tv/1396", params={"append_to_response": "images,credits,videos,external_ids"}).json()
    assert show["name"] == "Breaking Bad"
    assert show["first_air_date"] == "2008-01-20"
    assert show["genres"] == [{"id": 18, "name": "Drama"}, {"id": 80, "name": "Crime"}]
    assert show["seasons"] == []
    assert show["number_of_seasons"] is None
    assert show["images"] == {"backdrops": [], "logos": [], "posters": []}
    assert show["credits"] == {"cast": [], "crew": []}
    assert show["videos"] == {"results": []}
    assert "tvdb_id" in show["external_ids"]


def test_sub_resources_and_slugged_ids(api: httpx.Client) -> None:
    assert api.get("/3/movie/550/credits").json() == {"id": 550, "cast": [], "crew": []}
    assert api.get("/3/tv/1396/external_ids").json()["id"] == 1396
    assert api.get("/3/movie/550-fight-club").json()["id"] == 550


@pytest.mark.parametrize(
    "path",
    [
        "/3/movie/999999999",
        "/3/tv/999999999",
        "/3/movie/abc",
        "/3/movie/550abc",
        "/3/tv/-5",
        "/3/movie/550/nonsense",
        "/3/nope",
        "/3/movie/popular/extra",
        "/4/list/1",
    ],
)
def test_unknown_resources_are_404_code_34(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
        "success": False,
    }
    assert "cache-control" not in response.headers


def test_etag_revalidation_answers_304(api: httpx.Client) -> None:
    first = api.get("/3/genre/movie/list")
    again = api.get("/3/genre/movie/list", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


# --- search, genres, configuration --------------------------------------------------------------


def test_search_movie_is_case_insensitive_substring(api: httpx.Client) -> None:
    body = api.get("/3/search/movie", params={"query": "fIGHT cLUB"}).json()
    assert _ids(body)[0] == 550
    assert all("fight club" in (m["title"] + m["original_title"]).lower() for m in body["results"])
    many = api.get("/3/search/movie", params={"query": "the"}).json()
    assert len(many["results"]) == 20
    assert many["total_results"] > 100
    page2 = api.get("/3/search/movie", params={"query": "the", "page": 2}).json()
    assert not set(_ids(many)) & set(_ids(page2))
    year = api.get("/3/search/movie", params={"query": "batman", "year": 1989}).json()
    assert [m["release_date"][:4] for m in year["results"]] == ["1989"]


def test_search_tv_and_no_match(api: httpx.Client) -> None:
    body = api.get("/3/search/tv", params={"query": "breaking bad"}).json()
    assert _ids(body)[0] == 1396
    assert set(body["results"][0]) == TV_ITEM_KEYS
    empty = api.get("/3/search/tv", params={"query": "zzzz-no-such-show"})
    assert empty.json() == {"page": 1, "results": [], "total_pages": 1, "total_results": 0}
    assert api.get("/3/search/movie").json()["total_results"] == 0


def test_search_multi_mixes_media_types(api: httpx.Client) -> None:
    body = api.get("/3/search/multi", params={"query": "star"}).json()
    kinds = {item["media_type"] for item in body["results"]}
    total = body["total_results"]
    movies = api.get("/3/search/movie", params={"query": "star"}).json()["total_results"]
    shows = api.get("/3/search/tv", params={"query": "star"}).json()["total_results"]
    assert total == movies + shows
    assert kinds <= {"movie", "tv"}
    pages = [body] + [
        api.get("/3/search/multi", params={"query": "star", "page": p}).json()
        for p in range(2, body["total_pages"] + 1)
    ]
    items = [item for page in pages for item in page["results"]]
    assert {item["media_type"] for item in items} == {"movie", "tv"}
    for item in items:
        assert set(item) == (MOVIE_ITEM_KEYS if item["media_type"] == "movie" else TV_ITEM_KEYS) | {
            "media_type"
        }


def test_genres_and_configuration(api: httpx.Client) -> None:
    movie_genres = api.get("/3/genre/movie/list").json()["genres"]
    tv_genres = api.get("/3/genre/tv/list").json()["genres"]
    assert {"id": 28, "name": "Action"} in movie_genres
    assert len(movie_genres) == 19
    assert {"id": 10765, "name": "Sci-Fi & Fantasy"} in tv_genres
    configuration = api.get("/3/configuration").json()
    assert configuration["images"]["secure_base_url"] == "https://image.tmdb.org/t/p/"
    assert "w500" in configuration["images"]["poster_sizes"]
    assert "change_keys" in configuration


# --- faults ---------------------------------------------------------------------------------------


def test_status_fault_without_and_with_retry_after(api: httpx.Client) -> None:
    _set_faults(api, mode="status", status=503)
    response = api.get("/3/movie/popular")
    assert response.status_code == 503
    assert response.json()["status_code"] == 9
    assert "retry-after" not in response.headers

    _set_faults(api, mode="status", status=429, retry_after=7)
    response = api.get("/3/movie/popular")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "status_code": 25,
        "status_message": "Your request count (#) is over the allowed limit of (40).",
        "success": False,
    }
    _set_faults(api, mode="status", status=429)
    assert "retry-after" not in api.get("/3/movie/popular").headers

    assert api.delete("/__admin/faults").json()["mode"] == "none"
    assert api.get("/3/movie/popular").status_code == 200


def test_garbage_fault_is_a_200_that_is_not_json(api: httpx.Client) -> None:
    _set_faults(api, mode="garbage")
    response = api.get("/3/movie/550")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drop_fault_closes_the_connection_without_answer(api: httpx.Client) -> None:
    _set_faults(api, mode="drop", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/3/movie/550")
    assert api.get("/3/movie/550").status_code == 200


def test_latency_and_hang_faults(api: httpx.Client) -> None:
    _set_faults(api, latency_ms=300)
    started = time.perf_counter()
    assert api.get("/3/movie/550").status_code == 200
    assert time.perf_counter() - started >= 0.3

    _set_faults(api, mode="hang", latency_ms=250)
    started = time.perf_counter()
    assert api.get("/3/movie/550").json()["id"] == 550
    assert time.perf_counter() - started >= 0.25

    # Without latency_ms a hang outlasts any client timeout; server_close() releases the parked thread.
    _set_faults(api, mode="hang", count=1)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/3/movie/550", timeout=0.3)


def test_fault_count_expires(api: httpx.Client) -> None:
    _set_faults(api, mode="status", status=500, count=2)
    assert [api.get("/3/movie/550").status_code for _ in range(4)] == [500, 500, 200, 200]
    assert api.get("/__admin/faults").json()["mode"] == "none"


def test_fault_path_prefix(api: httpx.Client) -> None:
    _set_faults(api, mode="status", status=502, path_prefix="/3/movie")
    assert api.get("/3/movie/550").status_code == 502
    assert api.get("/3/movie/popular").json()["status_code"] == 43
    assert api.get("/3/tv/1396").status_code == 200
    assert api.get("/3/search/movie", params={"query": "x"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "explode"},
        {"mode": "status", "status": 418},
        {"latency_ms": -1},
        {"count": 0},
        {"count": True},
        {"retry_after": "soon"},
        {"unknown": 1},
        [1, 2],
    ],
)
def test_invalid_fault_settings_are_rejected(api: httpx.Client, body: Any) -> None:
    response = api.post("/__admin/faults", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert api.get("/__admin/faults").json()["mode"] == "none"


def test_malformed_requests_do_not_kill_the_server(server: FakeTmdbServer, api: httpx.Client) -> None:
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=2) as raw:
        raw.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n")
        raw.recv(4096)
    response = api.post("/__admin/faults", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert api.get("/3/movie/550", params={"append_to_response": "," * 50}).status_code == 200
    assert api.get("/__admin/health").status_code == 200


# --- counters -------------------------------------------------------------------------------------


def test_counters_count_api_requests_including_faulted_ones(api: httpx.Client, anon: httpx.Client) -> None:
    api.get("/3/movie/550")
    api.get("/3/movie/550")
    anon.get("/3/movie/550")  # 401, but it reached the handler
    api.get("/__admin/health")  # admin calls are not counted
    _set_faults(api, mode="status", status=500, count=1)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    api.get("/3/tv/1396", headers={"traceparent": traceparent})
    counters = api.get("/__admin/counters").json()
    assert counters["total"] == 4
    assert counters["paths"] == {"/3/movie/550": 3, "/3/tv/1396": 1}
    assert counters["max_rate_per_second"] == 4
    assert counters["traceparents"] == [traceparent]  # only requests that carried one

    assert api.post("/__admin/reset").status_code == 200
    assert api.get("/__admin/counters").json() == {
        "total": 0,
        "paths": {},
        "max_rate_per_second": 0,
        "traceparents": [],
    }


def test_max_rate_per_second_is_a_sliding_window(api: httpx.Client) -> None:
    for _ in range(5):
        api.get("/3/genre/tv/list")
    time.sleep(1.05)
    for _ in range(3):
        api.get("/3/genre/tv/list")
    counters = api.get("/__admin/counters").json()
    assert counters["total"] == 8
    assert counters["max_rate_per_second"] == 5

    api.post("/__admin/reset")
    for _ in range(15):
        api.get("/3/genre/tv/list")
    assert api.get("/__admin/counters").json()["max_rate_per_second"] == 15


def test_list_requests_are_fast(api: httpx.Client, server: FakeTmdbServer) -> None:
    fake = server.fake
    query = {"api_key": API_KEY, "sort_by": "vote_average.desc", "page": "7"}
    fake.handle("GET", "/3/discover/movie", query, {}, b"")  # builds and caches the order
    started = time.perf_counter()
    for _ in range(50):
        reply = fake.handle("GET", "/3/discover/movie", query, {}, b"")
    assert reply.status == 200
    assert (time.perf_counter() - started) / 50 < 0.005


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "credentials"),
    [
        (signal.SIGTERM, {"api_key": API_KEY, "bearer_token": BEARER}),
        (signal.SIGINT, {"api_key": API_KEY, "bearer_token": BEARER}),
        (signal.SIGTERM, {"api_key": API_KEY}),
        (signal.SIGTERM, {"bearer_token": BEARER}),
    ],
    ids=["both-sigterm", "both-sigint", "api-key-only", "bearer-only"],
)
def test_main_serves_with_either_credential_until_signalled(signum: int, credentials: dict[str, str]) -> None:
    command = fake_tmdb_command(0, **credentials)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("fake-tmdb listening on http://127.0.0.1:"), line
            url = line.rsplit(" ", 1)[1]
            with httpx.Client(base_url=url, timeout=5.0) as client:
                by_key = client.get("/3/movie/550", params={"api_key": API_KEY})
                by_bearer = client.get("/3/movie/550", headers={"Authorization": f"Bearer {BEARER}"})
                assert by_key.status_code == (200 if "api_key" in credentials else 401)
                assert by_bearer.status_code == (200 if "bearer_token" in credentials else 401)
                admin = client.get("/__admin/health", params={"api_key": API_KEY})
                assert admin.status_code == by_key.status_code
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_main_needs_a_credential() -> None:
    result = subprocess.run(fake_tmdb_command(0), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "--api-key or --bearer-token" in result.stderr
    with pytest.raises(ValueError, match="API key or a bearer token"):
        make_server("127.0.0.1", 0)


# --- recommendations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "tmdb_id"), [("movie", 550), ("tv", 1396)])
def test_recommendations_share_genres_most_first_then_popularity_in_tmdb_pages(
    api: httpx.Client, kind: str, tmdb_id: int
) -> None:
    """The fake's /recommendations (docs/design.md §12): same kind, sharing genres with the title, most shared
    first, then more popular; TMDb's page shape (page, results, total_pages, total_results), two pages at
    most."""
    title = api.get(f"/3/{kind}/{tmdb_id}/recommendations").json()
    second = api.get(f"/3/{kind}/{tmdb_id}/recommendations", params={"page": 2}).json()
    assert set(title) == {"page", "results", "total_pages", "total_results"}
    assert title["page"] == 1
    assert second["page"] == 2
    assert title["total_results"] <= 40
    assert title["total_pages"] == max(1, -(-title["total_results"] // 20))
    results = title["results"] + second["results"]
    assert len(results) == title["total_results"]
    assert results
    assert tmdb_id not in [r["id"] for r in results]
    assert {r["media_type"] for r in results} == {kind}
    genres = {g["id"] for g in api.get(f"/3/{kind}/{tmdb_id}").json()["genres"]}
    keys = [(-len(genres & set(r["genre_ids"])), -r["popularity"], r["id"]) for r in results]
    assert all(-shared > 0 for shared, _, _ in keys)
    assert keys == sorted(keys)
    again = api.get(f"/3/{kind}/{tmdb_id}/recommendations").json()
    assert again == title  # deterministic
    appended = api.get(f"/3/{kind}/{tmdb_id}", params={"append_to_response": "recommendations"}).json()
    assert appended["recommendations"]["results"] == title["results"]


def test_recommendations_of_an_unknown_title_are_404_and_bad_pages_400(api: httpx.Client) -> None:
    assert api.get("/3/movie/999999999/recommendations").status_code == 404
    assert api.get("/3/movie/550/recommendations", params={"page": "0"}).status_code == 400
    assert api.get("/3/movie/550/recommendations").status_code == 200
