"""Mapping TMDb's JSON to lite and full objects: anything missing, empty or odd becomes null."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from watchlist_dev.fake_tmdb import MOVIE_SORTS, TV_SORTS
from watchlist_service.catalog.schemas import (
    SORT_BY,
    CatalogItem,
    CatalogSort,
    UpstreamShapeError,
    lite_item,
    movie_details,
    multi_item,
    tmdb_page,
    to_lite,
    tv_details,
)

MOVIE = {
    "id": 550,
    "title": "Fight Club",
    "original_title": "Fight Club",
    "overview": "An insomniac office worker...",
    "poster_path": "/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
    "backdrop_path": None,
    "release_date": "1999-10-15",
    "genre_ids": [18],
    "popularity": 61.416,
    "vote_average": 8.4,
    "vote_count": 26280,
}
TV = {
    "id": 1396,
    "name": "Breaking Bad",
    "original_name": "Breaking Bad",
    "first_air_date": "2008-01-20",
    "genre_ids": [18, 80],
    "popularity": 288.0,
    "vote_average": 8.9,
    "vote_count": 12000,
}


def test_a_movie_item_maps_to_camel_case_lite_object() -> None:
    item = lite_item("movie", MOVIE)
    assert item is not None
    assert msgspec.json.decode(msgspec.json.encode(item)) == {
        "id": 550,
        "type": "movie",
        "contentId": "movie:550",
        "title": "Fight Club",
        "originalTitle": "Fight Club",
        "overview": "An insomniac office worker...",
        "posterPath": "/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
        "backdropPath": None,
        "releaseDate": "1999-10-15",
        "genreIds": [18],
        "popularity": 61.416,
        "voteAverage": 8.4,
        "voteCount": 26280,
    }


def test_a_tv_item_takes_title_from_name_and_date_from_first_air_date() -> None:
    item = lite_item("tv", TV)
    assert item is not None
    assert (item.content_id, item.title, item.original_title, item.release_date) == (
        "tv:1396",
        "Breaking Bad",
        "Breaking Bad",
        "2008-01-20",
    )


@pytest.mark.parametrize(
    ("field", "value", "attribute"),
    [
        ("title", "", "title"),
        ("title", "   ", "title"),
        ("title", 42, "title"),
        ("overview", None, "overview"),
        ("poster_path", "", "poster_path"),
        ("release_date", "", "release_date"),
        ("release_date", "2020", "release_date"),
        ("release_date", "soon", "release_date"),
        ("genre_ids", [], "genre_ids"),
        ("genre_ids", "18", "genre_ids"),
        ("popularity", "high", "popularity"),
        ("popularity", float("nan"), "popularity"),
        ("vote_average", True, "vote_average"),
        ("vote_count", 3.5, "vote_count"),
    ],
)
def test_missing_empty_or_odd_fields_become_null(field: str, value: Any, attribute: str) -> None:
    item = lite_item("movie", {**MOVIE, field: value})
    assert item is not None
    assert getattr(item, attribute) is None


def test_absent_fields_become_null() -> None:
    item = lite_item("movie", {"id": 7})
    assert item == CatalogItem(
        id=7,
        type="movie",
        content_id="movie:7",
        title=None,
        original_title=None,
        overview=None,
        poster_path=None,
        backdrop_path=None,
        release_date=None,
        genre_ids=None,
        popularity=None,
        vote_average=None,
        vote_count=None,
    )


@pytest.mark.parametrize(
    "raw", [None, [], "550", {"id": None}, {"id": 0}, {"id": -1}, {"id": "550"}, {"id": True}, {"id": 2**31}]
)
def test_items_without_a_usable_id_are_none(raw: Any) -> None:
    assert lite_item("movie", raw) is None


def test_multi_search_keeps_movies_and_tv_and_drops_people() -> None:
    movie = multi_item({**MOVIE, "media_type": "movie"})
    show = multi_item({**TV, "media_type": "tv"})
    assert movie is not None
    assert show is not None
    assert (movie.content_id, show.content_id, show.title) == ("movie:550", "tv:1396", "Breaking Bad")
    assert multi_item({"id": 287, "media_type": "person", "name": "Brad Pitt"}) is None
    assert multi_item({"id": 1, "media_type": "collection"}) is None
    assert multi_item({**MOVIE}) is None  # no media_type


def test_a_page_keeps_positions_of_what_it_cannot_show() -> None:
    raw = {"page": 1, "results": [MOVIE, {"id": "bad"}, "junk", {**MOVIE, "id": 551}], "total_results": 77}
    page = tmdb_page(raw, "movie")
    assert [i.id if i else None for i in page.items] == [550, None, None, 551]
    assert page.total_results == 77
    assert tmdb_page({"results": [MOVIE], "total_results": "many"}, "movie").total_results == 1


@pytest.mark.parametrize("raw", [{}, {"results": None}, {"results": {"a": 1}}])
def test_a_page_without_a_results_list_is_unusable(raw: dict[str, Any]) -> None:
    with pytest.raises(UpstreamShapeError):
        tmdb_page(raw, "movie")


def test_movie_details_map_and_filter_nested_objects() -> None:
    raw = {
        **MOVIE,
        "genre_ids": None,
        "genres": [{"id": 18, "name": "Drama"}, {"name": "no id"}, "junk"],
        "runtime": 139,
        "budget": 63000000,
        "revenue": 100853753,
        "status": "Released",
        "tagline": "",
        "imdb_id": "tt0137523",
        "homepage": "",
        "production_companies": [
            {"id": 508, "name": "Regency", "logo_path": "/x.png", "origin_country": "US"},
            {},
        ],
        "spoken_languages": [
            {"iso_639_1": "en", "name": "English", "english_name": "English"},
            {"name": "?"},
        ],
    }
    details = movie_details(raw)
    assert details.genres is not None
    assert [(g.id, g.name) for g in details.genres] == [(18, "Drama")]
    assert details.genre_ids is None  # genre_ids present but null in the answer
    assert (details.runtime, details.budget, details.revenue, details.imdb_id) == (
        139,
        63000000,
        100853753,
        "tt0137523",
    )
    assert details.tagline is None
    assert details.homepage is None
    assert details.production_companies is not None
    assert [c.id for c in details.production_companies] == [508]
    assert details.spoken_languages is not None
    assert [lang.code for lang in details.spoken_languages] == ["en"]
    encoded = msgspec.json.decode(msgspec.json.encode(details))
    assert {"imdbId", "productionCompanies", "spokenLanguages", "genres", "runtime"} <= set(encoded)
    assert encoded["productionCompanies"][0] == {
        "id": 508,
        "name": "Regency",
        "logoPath": "/x.png",
        "originCountry": "US",
    }


def test_genre_ids_of_details_come_from_genres() -> None:
    details = movie_details(
        {"id": 550, "genres": [{"id": 18, "name": "Drama"}, {"id": 53, "name": "Thriller"}]}
    )
    assert details.genre_ids == [18, 53]


def test_tv_details_carry_seasons_and_episode_counts() -> None:
    raw = {
        **TV,
        "number_of_seasons": 5,
        "number_of_episodes": 62,
        "episode_run_time": [],
        "in_production": False,
        "last_air_date": "2013-09-29",
        "seasons": [
            {"id": 3572, "season_number": 1, "name": "Season 1", "episode_count": 7, "air_date": "2008-01-20"}
        ],
    }
    details = tv_details(raw)
    assert (details.number_of_seasons, details.number_of_episodes, details.in_production) == (5, 62, False)
    assert details.episode_run_time is None
    assert details.seasons is not None
    assert details.seasons[0].episode_count == 7
    assert to_lite(details) == lite_item("tv", TV)


@pytest.mark.parametrize("raw", [{}, {"id": "550"}, {"id": 0}])
def test_details_without_an_id_are_unusable(raw: dict[str, Any]) -> None:
    with pytest.raises(UpstreamShapeError):
        movie_details(raw)


def test_every_sort_maps_to_a_discover_sort_by_tmdb_accepts() -> None:
    assert set(SORT_BY["movie"].values()) <= set(MOVIE_SORTS)
    assert set(SORT_BY["tv"].values()) <= set(TV_SORTS)
    assert SORT_BY["movie"][CatalogSort.RELEASE_DATE_DESC] == "primary_release_date.desc"
    assert SORT_BY["tv"][CatalogSort.RELEASE_DATE_ASC] == "first_air_date.asc"
    assert SORT_BY["tv"][CatalogSort.TITLE_DESC] == "name.desc"
    assert SORT_BY["movie"][CatalogSort.TITLE_ASC] == "title.asc"
    assert [s.value for s in CatalogSort] == [
        "popularity.desc",
        "popularity.asc",
        "release_date.desc",
        "release_date.asc",
        "vote_average.desc",
        "vote_average.asc",
        "title.asc",
        "title.desc",
    ]
