"""The catalog's API objects (docs/design.md §3) and the mappers from TMDb's JSON to them.

TMDb answers are read defensively: a missing, empty or wrongly typed field becomes ``null``, never an error.
Only an object without a usable id cannot be represented; list items like that (and the people of a multi
search) are mapped to ``None``, so page arithmetic still counts them, and dropped from the results.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Final

import msgspec

from watchlist_service.content import MAX_TMDB_ID, ContentType

ContentKind = ContentType
PAGE_SIZE: Final = 20
MAX_PAGE: Final = 500  # TMDb answers 400 for pages past 500
MAX_OFFSET: Final = PAGE_SIZE * MAX_PAGE
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CatalogSort(StrEnum):
    """The catalog sort orders of docs/design.md §3."""

    POPULARITY_DESC = "popularity.desc"
    POPULARITY_ASC = "popularity.asc"
    RELEASE_DATE_DESC = "release_date.desc"
    RELEASE_DATE_ASC = "release_date.asc"
    VOTE_AVERAGE_DESC = "vote_average.desc"
    VOTE_AVERAGE_ASC = "vote_average.asc"
    TITLE_ASC = "title.asc"
    TITLE_DESC = "title.desc"


def _sort_by(kind: ContentKind, sort: CatalogSort) -> str:
    field, _, direction = sort.value.partition(".")
    if kind == "movie":
        field = {"release_date": "primary_release_date"}.get(field, field)
    else:
        field = {"release_date": "first_air_date", "title": "name"}.get(field, field)
    return f"{field}.{direction}"


# Our sort -> TMDb's discover sort_by, per kind: the only sort values that ever reach TMDb.
SORT_BY: Final[dict[ContentKind, dict[CatalogSort, str]]] = {
    kind: {sort: _sort_by(kind, sort) for sort in CatalogSort} for kind in ("movie", "tv")
}


class CatalogItem(msgspec.Struct, rename="camel", kw_only=True):
    """The lite object: what lists and searches return."""

    id: int
    type: ContentKind
    content_id: str
    title: str | None
    original_title: str | None
    overview: str | None
    poster_path: str | None
    backdrop_path: str | None
    release_date: str | None
    genre_ids: list[int] | None
    popularity: float | None
    vote_average: float | None
    vote_count: int | None


class Genre(msgspec.Struct):
    """A TMDb genre."""

    id: int
    name: str | None


class Company(msgspec.Struct, rename="camel"):
    """A production company."""

    id: int
    name: str | None
    logo_path: str | None
    origin_country: str | None


class SpokenLanguage(msgspec.Struct, rename="camel"):
    """A spoken language (``code`` is TMDb's ``iso_639_1``)."""

    code: str
    name: str | None
    english_name: str | None


class Season(msgspec.Struct, rename="camel"):
    """One season of a TV show."""

    id: int
    season_number: int | None
    name: str | None
    episode_count: int | None
    air_date: str | None
    poster_path: str | None
    overview: str | None


class MovieDetails(CatalogItem, rename="camel", kw_only=True):
    """The full movie object: the lite fields plus TMDb's detail fields."""

    genres: list[Genre] | None
    runtime: int | None
    status: str | None
    tagline: str | None
    budget: int | None
    revenue: int | None
    imdb_id: str | None
    homepage: str | None
    production_companies: list[Company] | None
    spoken_languages: list[SpokenLanguage] | None


class TvDetails(CatalogItem, rename="camel", kw_only=True):
    """The full TV object: the lite fields plus TMDb's detail fields, seasons and episode counts."""

    genres: list[Genre] | None
    status: str | None
    tagline: str | None
    homepage: str | None
    production_companies: list[Company] | None
    spoken_languages: list[SpokenLanguage] | None
    number_of_seasons: int | None
    number_of_episodes: int | None
    seasons: list[Season] | None
    episode_run_time: list[int] | None
    last_air_date: str | None
    in_production: bool | None


class CatalogPage(msgspec.Struct, rename="camel"):
    """A page of a catalog list or search; ``nextCursor`` is null at the end."""

    results: list[CatalogItem]
    next_cursor: str | None


class TmdbPage(msgspec.Struct, rename="camel"):
    """One cached 20-item TMDb page: ``items`` keeps TMDb's positions (``None`` for what we cannot show)."""

    items: list[CatalogItem | None]
    total_results: int


class UpstreamShapeError(ValueError):
    """TMDb answered JSON we cannot use at all (not an object, no id, no results list)."""


# --- field readers: anything unexpected becomes None ----------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> str | None:
    return value if isinstance(value, str) and _DATE_RE.fullmatch(value) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _id(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and 0 < number <= MAX_TMDB_ID else None


def _int_list(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    numbers = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return numbers or None


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _genres(value: Any) -> list[Genre] | None:
    genres = [
        Genre(id=i, name=_str(g.get("name"))) for g in _objects(value) if (i := _int(g.get("id"))) is not None
    ]
    return genres or None


def _companies(value: Any) -> list[Company] | None:
    companies = [
        Company(
            id=i,
            name=_str(c.get("name")),
            logo_path=_str(c.get("logo_path")),
            origin_country=_str(c.get("origin_country")),
        )
        for c in _objects(value)
        if (i := _int(c.get("id"))) is not None
    ]
    return companies or None


def _languages(value: Any) -> list[SpokenLanguage] | None:
    languages = [
        SpokenLanguage(code=code, name=_str(lang.get("name")), english_name=_str(lang.get("english_name")))
        for lang in _objects(value)
        if (code := _str(lang.get("iso_639_1"))) is not None
    ]
    return languages or None


def _seasons(value: Any) -> list[Season] | None:
    seasons = [
        Season(
            id=i,
            season_number=_int(s.get("season_number")),
            name=_str(s.get("name")),
            episode_count=_int(s.get("episode_count")),
            air_date=_date(s.get("air_date")),
            poster_path=_str(s.get("poster_path")),
            overview=_str(s.get("overview")),
        )
        for s in _objects(value)
        if (i := _int(s.get("id"))) is not None
    ]
    return seasons or None


# --- mappers -------------------------------------------------------------------------------------


def _lite_fields(kind: ContentKind, raw: dict[str, Any], tmdb_id: int) -> dict[str, Any]:
    movie = kind == "movie"
    genre_ids = _int_list(raw.get("genre_ids"))
    if genre_ids is None and "genre_ids" not in raw:
        # Detail answers carry genres as objects instead of ids.
        genre_ids = _int_list([g.get("id") for g in _objects(raw.get("genres"))])
    return {
        "id": tmdb_id,
        "type": kind,
        "content_id": f"{kind}:{tmdb_id}",
        "title": _str(raw.get("title" if movie else "name")),
        "original_title": _str(raw.get("original_title" if movie else "original_name")),
        "overview": _str(raw.get("overview")),
        "poster_path": _str(raw.get("poster_path")),
        "backdrop_path": _str(raw.get("backdrop_path")),
        "release_date": _date(raw.get("release_date" if movie else "first_air_date")),
        "genre_ids": genre_ids,
        "popularity": _float(raw.get("popularity")),
        "vote_average": _float(raw.get("vote_average")),
        "vote_count": _int(raw.get("vote_count")),
    }


def lite_item(kind: ContentKind, raw: Any) -> CatalogItem | None:
    """A TMDb list item as a lite object; ``None`` when it has no usable id."""
    if not isinstance(raw, dict):
        return None
    tmdb_id = _id(raw.get("id"))
    if tmdb_id is None:
        return None
    return CatalogItem(**_lite_fields(kind, raw, tmdb_id))


def multi_item(raw: Any) -> CatalogItem | None:
    """A ``/3/search/multi`` result: movies and TV shows; people and unknown media types are ``None``."""
    if not isinstance(raw, dict):
        return None
    media_type = raw.get("media_type")
    if media_type == "movie":
        return lite_item("movie", raw)
    if media_type == "tv":
        return lite_item("tv", raw)
    return None


def tmdb_page(raw: dict[str, Any], kind: ContentKind | None) -> TmdbPage:
    """A TMDb page answer (``kind=None`` for a multi search), keeping each result's position."""
    results = raw.get("results")
    if not isinstance(results, list):
        raise UpstreamShapeError("the answer has no results list")
    items = [multi_item(r) if kind is None else lite_item(kind, r) for r in results[:PAGE_SIZE]]
    total = _int(raw.get("total_results"))
    return TmdbPage(items=items, total_results=max(0, total if total is not None else len(items)))


def _detail_id(raw: dict[str, Any]) -> int:
    tmdb_id = _id(raw.get("id"))
    if tmdb_id is None:
        raise UpstreamShapeError("the answer has no usable id")
    return tmdb_id


def movie_details(raw: dict[str, Any]) -> MovieDetails:
    """A ``/3/movie/{id}`` answer as the full movie object."""
    return MovieDetails(
        **_lite_fields("movie", raw, _detail_id(raw)),
        genres=_genres(raw.get("genres")),
        runtime=_int(raw.get("runtime")),
        status=_str(raw.get("status")),
        tagline=_str(raw.get("tagline")),
        budget=_int(raw.get("budget")),
        revenue=_int(raw.get("revenue")),
        imdb_id=_str(raw.get("imdb_id")),
        homepage=_str(raw.get("homepage")),
        production_companies=_companies(raw.get("production_companies")),
        spoken_languages=_languages(raw.get("spoken_languages")),
    )


def tv_details(raw: dict[str, Any]) -> TvDetails:
    """A ``/3/tv/{id}`` answer as the full TV object."""
    return TvDetails(
        **_lite_fields("tv", raw, _detail_id(raw)),
        genres=_genres(raw.get("genres")),
        status=_str(raw.get("status")),
        tagline=_str(raw.get("tagline")),
        homepage=_str(raw.get("homepage")),
        production_companies=_companies(raw.get("production_companies")),
        spoken_languages=_languages(raw.get("spoken_languages")),
        number_of_seasons=_int(raw.get("number_of_seasons")),
        number_of_episodes=_int(raw.get("number_of_episodes")),
        seasons=_seasons(raw.get("seasons")),
        episode_run_time=_int_list(raw.get("episode_run_time")),
        last_air_date=_date(raw.get("last_air_date")),
        in_production=_bool(raw.get("in_production")),
    )


_LITE_FIELDS: Final = CatalogItem.__struct_fields__


def to_lite(details: CatalogItem) -> CatalogItem:
    """The lite object of a full one (what the list stores)."""
    return CatalogItem(**{name: getattr(details, name) for name in _LITE_FIELDS})
