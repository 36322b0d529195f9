"""A local fake of The Movie Database (TMDb) API v3, served over real HTTP, with fault injection.

Run it with
    watchlist-dev fake-tmdb --port 8765 --bearer-token T     (or python -m watchlist_dev.fake_tmdb ...)
with either credential or both: ``--api-key`` (TMDb v3, ``?api_key=``), ``--bearer-token`` (v4, a Bearer
``Authorization`` header).

The data is a derived catalog (tmdb_catalog.json.gz next to this file, built by watchlist_dev.build_catalog):
4,803 movies of the Kaggle TMDb 5000 set (2017-era popularity/votes), 678 more "lite" movies and 269 TV shows
harvested from real TMDb responses. Response shapes, error bodies and headers follow recorded TMDb traffic.

Test knobs live under /__admin, behind the same credentials as the API (the fake listens on loopback, but
any local process could otherwise inject faults): health, faults (status/garbage/drop/hang/latency),
counters (with the W3C ``traceparent`` headers of the last requests that had one), reset.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import hashlib
import hmac
import json
import math
import re
import signal
import socket
import socketserver
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

JsonObject = dict[str, Any]

DEFAULT_CATALOG_PATH: Final = Path(__file__).with_name("tmdb_catalog.json.gz")

PAGE_SIZE: Final = 20
MAX_PAGE: Final = 500
# TMDb rejects more than 20 append_to_response values (error code 27).
MAX_APPEND: Final = 20
# The website's "Top Rated" lists use these minimum vote counts; without one, 1-vote 10/10 titles win.
TOP_RATED_MIN_VOTES: Final = {"movie": 300, "tv": 200}
RECOMMENDATIONS_MAX: Final = 2 * PAGE_SIZE

CONTENT_TYPE: Final = "application/json;charset=utf-8"
# Recorded 200s carry `public, max-age=N` where N is what is left of TMDb's edge-cache TTL: 10,898-27,823 s
# across the jellyfin recordings (lists, details, configuration and genres alike), and x-memc-age +
# x-memc-expires = 25,530 s for /3/movie/27205. We send the full 8 h TTL, deterministic, for every 200.
CACHE_CONTROL_OK: Final = "public, max-age=28800"
# The recorded discover answer with zero results carries max-age=0 (empty results are not cached).
CACHE_CONTROL_EMPTY: Final = "public, max-age=0"
# raw_http_2025-06-01/GET_3_movie_27205_no_auth_401.http; 404s carry no Cache-Control and no ETag.
CACHE_CONTROL_401: Final = "public, max-age=300"
# The hang fault without latency_ms: longer than any sane client timeout.
DEFAULT_HANG_SECONDS: Final = 30.0
MAX_ADMIN_BODY: Final = 64 * 1024
TRACEPARENTS_KEPT: Final = 100

ERROR_INVALID_API_KEY: Final[JsonObject] = {
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
    "success": False,
}
ERROR_NOT_FOUND: Final[JsonObject] = {
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
    "success": False,
}
ERROR_INVALID_PAGE: Final[JsonObject] = {
    "status_code": 22,
    "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
    "success": False,
}
ERROR_TOO_MANY_APPENDS: Final[JsonObject] = {
    "status_code": 27,
    "status_message": "Too many append to response objects: The maximum number of remote calls is 20.",
    "success": False,
}
ERROR_METHOD: Final[JsonObject] = {
    "status_code": 42,
    "status_message": "This request method is not supported for this resource.",
    "success": False,
}
ERROR_INTERNAL: Final[JsonObject] = {
    "status_code": 11,
    "status_message": "Internal error: Something went wrong, contact TMDB.",
    "success": False,
}
# Injected-fault bodies, from TMDb's error table (fixtures/errors/tmdb_error_codes.json).
FAULT_ERRORS: Final[Mapping[int, JsonObject]] = {
    429: {
        "status_code": 25,
        "status_message": "Your request count (#) is over the allowed limit of (40).",
        "success": False,
    },
    500: ERROR_INTERNAL,
    502: {"status_code": 43, "status_message": "Couldn't connect to the backend server.", "success": False},
    503: {
        "status_code": 9,
        "status_message": "Service offline: This service is temporarily offline, try again later.",
        "success": False,
    },
    504: {
        "status_code": 24,
        "status_message": "Your request to the backend server timed out. Try again.",
        "success": False,
    },
}
# A 200 cut off mid-object with an HTML error page glued on: what a broken proxy hands back.
GARBAGE_BODY: Final = b'{"page":1,"results":[{"adult":false,"id":550,"title":"Fight Club","popularity":<html>'
FAULT_MODES: Final = frozenset({"none", "status", "garbage", "drop", "hang"})

MOVIE_ITEM_KEYS: Final = (
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
)
TV_ITEM_KEYS: Final = (
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
)

# sort_by value -> (record field, descending). The enums are those of openapi_subset_tmdb_v3.json, plus the
# release_date.* pair that TMDb documented for movies before primary_release_date and still accepts.
MOVIE_SORTS: Final[Mapping[str, tuple[str, bool]]] = {
    "popularity.asc": ("popularity", False),
    "popularity.desc": ("popularity", True),
    "vote_average.asc": ("vote_average", False),
    "vote_average.desc": ("vote_average", True),
    "vote_count.asc": ("vote_count", False),
    "vote_count.desc": ("vote_count", True),
    "revenue.asc": ("revenue", False),
    "revenue.desc": ("revenue", True),
    "primary_release_date.asc": ("release_date", False),
    "primary_release_date.desc": ("release_date", True),
    "release_date.asc": ("release_date", False),
    "release_date.desc": ("release_date", True),
    "title.asc": ("title", False),
    "title.desc": ("title", True),
    "original_title.asc": ("original_title", False),
    "original_title.desc": ("original_title", True),
}
TV_SORTS: Final[Mapping[str, tuple[str, bool]]] = {
    "popularity.asc": ("popularity", False),
    "popularity.desc": ("popularity", True),
    "vote_average.asc": ("vote_average", False),
    "vote_average.desc": ("vote_average", True),
    "vote_count.asc": ("vote_count", False),
    "vote_count.desc": ("vote_count", True),
    "first_air_date.asc": ("first_air_date", False),
    "first_air_date.desc": ("first_air_date", True),
    "name.asc": ("name", False),
    "name.desc": ("name", True),
    "original_name.asc": ("original_name", False),
    "original_name.desc": ("original_name", True),
}
SORTS: Final[Mapping[str, Mapping[str, tuple[str, bool]]]] = {"movie": MOVIE_SORTS, "tv": TV_SORTS}
DEFAULT_SORT: Final = "popularity.desc"
DATE_FIELD: Final = {"movie": "release_date", "tv": "first_air_date"}

_PAGE_RE: Final = re.compile(r"[0-9]{1,6}")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR_RE: Final = re.compile(r"[0-9]{4}")
# TMDb accepts slugged ids ("/3/movie/550-fight-club") and reads the leading number.
_DETAIL_RE: Final = re.compile(r"/3/(movie|tv)/([^/]+)(?:/(.+))?")
_ID_RE: Final = re.compile(r"([0-9]{1,12})(?:-[^/]*)?")


def _empty_page() -> JsonObject:
    return {"page": 1, "results": [], "total_pages": 1, "total_results": 0}


def _movie_appendices(movie: JsonObject) -> dict[str, Any]:
    """append_to_response values for movies; no credits, images or videos in the data set: those are empty."""
    return {
        "alternative_titles": {"titles": []},
        "changes": {"changes": []},
        "credits": {"cast": [], "crew": []},
        "external_ids": {
            "imdb_id": None,
            "wikidata_id": None,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        },
        "images": {"backdrops": [], "logos": [], "posters": []},
        "keywords": {"keywords": list(movie.get("keywords") or [])},
        "lists": _empty_page(),
        "recommendations": _empty_page(),
        "release_dates": {"results": []},
        "reviews": _empty_page(),
        "similar": _empty_page(),
        "translations": {"translations": []},
        "videos": {"results": []},
        "watch/providers": {"results": {}},
    }


def _tv_appendices(_show: JsonObject) -> dict[str, Any]:
    """append_to_response values for TV shows (all empty: the lite TV data has none of them)."""
    return {
        "aggregate_credits": {"cast": [], "crew": []},
        "alternative_titles": {"results": []},
        "changes": {"changes": []},
        "content_ratings": {"results": []},
        "credits": {"cast": [], "crew": []},
        "episode_groups": {"results": []},
        "external_ids": {
            "imdb_id": None,
            "freebase_mid": None,
            "freebase_id": None,
            "tvdb_id": None,
            "tvrage_id": None,
            "wikidata_id": None,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        },
        "images": {"backdrops": [], "logos": [], "posters": []},
        "keywords": {"results": []},
        "lists": _empty_page(),
        "recommendations": _empty_page(),
        "reviews": _empty_page(),
        "screened_theatrically": {"results": []},
        "similar": _empty_page(),
        "translations": {"translations": []},
        "videos": {"results": []},
        "watch/providers": {"results": {}},
    }


def _movie_detail(movie: JsonObject) -> JsonObject:
    """Detail object keyed like a recorded /3/movie/{id} answer; unknown values are null or empty lists."""
    get = movie.get
    return {
        "adult": bool(get("adult", False)),
        "backdrop_path": get("backdrop_path"),
        "belongs_to_collection": None,
        "budget": get("budget"),
        "genres": list(get("genres") or []),
        "homepage": get("homepage"),
        "id": get("id"),
        "imdb_id": None,
        "origin_country": [],
        "original_language": get("original_language"),
        "original_title": get("original_title"),
        "overview": get("overview"),
        "popularity": get("popularity"),
        "poster_path": get("poster_path"),
        "production_companies": list(get("production_companies") or []),
        "production_countries": list(get("production_countries") or []),
        "release_date": get("release_date"),
        "revenue": get("revenue"),
        "runtime": get("runtime"),
        "spoken_languages": list(get("spoken_languages") or []),
        "status": get("status"),
        "tagline": get("tagline"),
        "title": get("title"),
        "video": bool(get("video", False)),
        "vote_average": get("vote_average"),
        "vote_count": get("vote_count"),
    }


def _tv_detail(show: JsonObject, genre_names: Mapping[int, str]) -> JsonObject:
    """Detail object keyed like the recorded /3/tv/1396 answer, built from a lite list item."""
    get = show.get
    return {
        "adult": bool(get("adult", False)),
        "backdrop_path": get("backdrop_path"),
        "created_by": [],
        "episode_run_time": [],
        "first_air_date": get("first_air_date"),
        "genres": [{"id": g, "name": genre_names.get(g)} for g in get("genre_ids") or []],
        "homepage": None,
        "id": get("id"),
        "in_production": None,
        "languages": [],
        "last_air_date": None,
        "last_episode_to_air": None,
        "name": get("name"),
        "next_episode_to_air": None,
        "networks": [],
        "number_of_episodes": None,
        "number_of_seasons": None,
        "origin_country": list(get("origin_country") or []),
        "original_language": get("original_language"),
        "original_name": get("original_name"),
        "overview": get("overview"),
        "popularity": get("popularity"),
        "poster_path": get("poster_path"),
        "production_companies": [],
        "production_countries": [],
        "seasons": [],
        "spoken_languages": [],
        "status": None,
        "tagline": None,
        "type": None,
        "vote_average": get("vote_average"),
        "vote_count": get("vote_count"),
    }


def _sorted_records(records: Sequence[JsonObject], field: str, descending: bool) -> list[JsonObject]:
    """Total order: by field (nulls last either way), ties by id ascending, so pages never overlap."""
    present = sorted((r for r in records if r.get(field) is not None), key=lambda r: r["id"])
    # list.sort is stable even with reverse=True, so equal values keep the ascending-id order.
    present.sort(key=lambda r: r[field], reverse=descending)
    missing = sorted((r for r in records if r.get(field) is None), key=lambda r: r["id"])
    return present + missing


def _columns_to_records(columns: Mapping[str, Sequence[Any]]) -> list[JsonObject]:
    fields = list(columns)
    return [dict(zip(fields, values, strict=True)) for values in zip(*columns.values(), strict=True)]


class Catalog:
    """The read-only movie/TV data, with lazily built and cached orderings (thread-safe)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        """Index a catalog document as written by watchlist_dev.build_catalog."""
        self.movies = _columns_to_records(document["movies"])
        self.tv = _columns_to_records(document["tv"])
        self.records: dict[str, list[JsonObject]] = {"movie": self.movies, "tv": self.tv}
        self.by_id: dict[str, dict[int, JsonObject]] = {
            kind: {int(r["id"]): r for r in records} for kind, records in self.records.items()
        }
        self.movie_genres: list[JsonObject] = list(document["movie_genres"])
        self.tv_genres: list[JsonObject] = list(document["tv_genres"])
        self.tv_genre_names = {int(g["id"]): str(g["name"]) for g in self.tv_genres}
        self.configuration: JsonObject = dict(document["configuration"])
        keys = {"movie": MOVIE_ITEM_KEYS, "tv": TV_ITEM_KEYS}
        # List items are immutable after load; responses share them instead of copying.
        self._items: dict[str, dict[int, JsonObject]] = {
            kind: {int(r["id"]): {k: r.get(k) for k in keys[kind]} for r in records}
            for kind, records in self.records.items()
        }
        self._search_text: dict[str, dict[int, tuple[str, ...]]] = {
            "movie": {
                int(r["id"]): tuple({(r.get(f) or "").casefold() for f in ("title", "original_title")})
                for r in self.movies
            },
            "tv": {
                int(r["id"]): tuple({(r.get(f) or "").casefold() for f in ("name", "original_name")})
                for r in self.tv
            },
        }
        self._lock = threading.Lock()
        self._cache: OrderedDict[Hashable, list[JsonObject]] = OrderedDict()
        self._cache_size = 512

    @classmethod
    def load(cls, path: Path) -> Catalog:
        """Read a gzip JSON catalog file."""
        with gzip.open(path, "rb") as fh:
            return cls(json.loads(fh.read()))

    def item(self, kind: str, record: JsonObject) -> JsonObject:
        """The list-item shape of a record."""
        return self._items[kind][int(record["id"])]

    def _cached(self, key: Hashable, build: Callable[[], list[JsonObject]]) -> list[JsonObject]:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        value = build()  # outside the lock: two racing builds just compute the same list twice
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return value

    def ordered(self, kind: str, sort_by: str) -> list[JsonObject]:
        """All records of a kind in a documented sort order (unknown values fall back to popularity.desc)."""
        field, descending = SORTS[kind].get(sort_by) or SORTS[kind][DEFAULT_SORT]
        return self._cached(
            ("order", kind, field, descending),
            lambda: _sorted_records(self.records[kind], field, descending),
        )

    def top_rated(self, kind: str) -> list[JsonObject]:
        """Records with enough votes, best vote_average first (then more votes, then id)."""
        minimum = TOP_RATED_MIN_VOTES[kind]

        def build() -> list[JsonObject]:
            eligible = [
                r
                for r in self.records[kind]
                if (r.get("vote_count") or 0) >= minimum and r.get("vote_average") is not None
            ]
            return sorted(eligible, key=lambda r: (-r["vote_average"], -r["vote_count"], r["id"]))

        return self._cached(("top_rated", kind), build)

    def discover(self, kind: str, sort_by: str, filters: tuple[_Filter, ...]) -> list[JsonObject]:
        """A sorted order narrowed by discover filters."""
        ordered = self.ordered(kind, sort_by)
        if not filters:
            return ordered
        field, descending = SORTS[kind].get(sort_by) or SORTS[kind][DEFAULT_SORT]
        return self._cached(
            ("discover", kind, field, descending, filters),
            lambda: [r for r in ordered if all(f.matches(r) for f in filters)],
        )

    def recommendations(self, kind: str, record: JsonObject) -> list[JsonObject]:
        """What ``/3/{kind}/{id}/recommendations`` lists, deterministically: titles of the same kind sharing
        genres with ``record``, most shared genres first, then more popular, then lower id; at most
        ``RECOMMENDATIONS_MAX`` (TMDb's own answers stop at two pages)."""
        genres = frozenset(record.get("genre_ids") or ())

        def build() -> list[JsonObject]:
            ranked: list[tuple[int, float, int, JsonObject]] = []
            for other in self.records[kind]:
                shared = len(genres.intersection(other.get("genre_ids") or ()))
                if shared and other["id"] != record["id"]:
                    ranked.append((-shared, -(other.get("popularity") or 0.0), int(other["id"]), other))
            ranked.sort(key=lambda t: t[:3])
            return [{**self.item(kind, t[3]), "media_type": kind} for t in ranked[:RECOMMENDATIONS_MAX]]

        return self._cached(("recommendations", kind, int(record["id"])), build)

    def match_rank(self, kind: str, record: JsonObject, needle: str) -> int | None:
        """0 exact title, 1 title prefix, 2 substring, None no match (needle already casefolded)."""
        return _match_rank(self._search_text[kind][int(record["id"])], needle)

    def search(self, kind: str, query: str, year: str | None) -> list[JsonObject]:
        """Case-insensitive substring matches, exact titles first, then prefixes, then by popularity."""
        needle = query.casefold()
        date_field = DATE_FIELD[kind]

        def build() -> list[JsonObject]:
            ranked: list[tuple[int, float, int, JsonObject]] = []
            for record in self.records[kind]:
                if year is not None and not (record.get(date_field) or "").startswith(year):
                    continue
                rank = self.match_rank(kind, record, needle)
                if rank is not None:
                    ranked.append((rank, -(record.get("popularity") or 0.0), int(record["id"]), record))
            ranked.sort(key=lambda t: t[:3])
            return [t[3] for t in ranked]

        return self._cached(("search", kind, needle, year), build)

    def search_multi(self, query: str) -> list[JsonObject]:
        """Movie and TV matches merged by the same ranking, as list items carrying media_type."""
        needle = query.casefold()

        def build() -> list[JsonObject]:
            merged: list[tuple[int, float, int, int, JsonObject]] = []
            for order, kind in enumerate(("movie", "tv")):
                for record in self.search(kind, query, None):
                    rank = self.match_rank(kind, record, needle) or 0
                    item = {**self.item(kind, record), "media_type": kind}
                    merged.append((rank, -(record.get("popularity") or 0.0), order, int(record["id"]), item))
            merged.sort(key=lambda t: t[:4])
            return [t[4] for t in merged]

        return self._cached(("multi", needle), build)


def _match_rank(texts: Sequence[str], needle: str) -> int | None:
    best: int | None = None
    for text in texts:
        if needle not in text:
            continue
        rank = 0 if text == needle else 1 if text.startswith(needle) else 2
        best = rank if best is None else min(best, rank)
    return best


@dataclass(frozen=True)
class _Filter:
    """One discover filter: op is one of gte, lte, eq, year, all, any, none, contains."""

    field: str
    op: str
    value: Any  # a str (dates, codes), a float or a frozenset of genre ids; always hashable

    def matches(self, record: JsonObject) -> bool:
        """Whether a record passes; a missing value fails every filter except an exclusion."""
        value = record.get(self.field)
        op, wanted = self.op, self.value
        if value is None:
            return op == "none"
        if op == "gte":
            return bool(value >= wanted)
        if op == "lte":
            return bool(value <= wanted)
        if op == "eq":
            return bool(value == wanted)
        if op == "year":
            return str(value).startswith(wanted)
        if op == "contains":
            return wanted in value
        if op == "all":
            return bool(wanted <= set(value))
        if op == "any":
            return bool(wanted & set(value))
        return not wanted & set(value)


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _genre_filter(field: str, raw: str, *, exclude: bool) -> _Filter | None:
    any_of = "|" in raw
    ids = frozenset(int(tok) for tok in re.split(r"[,|]", raw) if tok.strip().isdigit())
    if not ids:
        return None
    return _Filter(field, "none" if exclude else "any" if any_of else "all", ids)


def _discover_filters(kind: str, query: Mapping[str, str]) -> tuple[_Filter, ...]:
    """The discover filters we emulate; unparsable values are ignored rather than rejected."""
    filters: list[_Filter] = []
    date_field = DATE_FIELD[kind]
    date_params = (
        ("primary_release_date", "release_date") if kind == "movie" else ("first_air_date", "air_date")
    )
    year_params = ("primary_release_year", "year") if kind == "movie" else ("first_air_date_year",)
    for name in date_params:
        for op in ("gte", "lte"):
            raw = query.get(f"{name}.{op}", "")
            if _DATE_RE.fullmatch(raw):
                filters.append(_Filter(date_field, op, raw))
    for name in year_params:
        raw = query.get(name, "")
        if _YEAR_RE.fullmatch(raw):
            filters.append(_Filter(date_field, "year", raw))
    for field in ("vote_average", "vote_count"):
        for op in ("gte", "lte"):
            number = _number(query.get(f"{field}.{op}", ""))
            if number is not None:
                filters.append(_Filter(field, op, number))
    if kind == "movie":
        for op in ("gte", "lte"):
            number = _number(query.get(f"with_runtime.{op}", ""))
            if number is not None:
                filters.append(_Filter("runtime", op, number))
    language = query.get("with_original_language", "").strip()
    if language:
        filters.append(_Filter("original_language", "eq", language))
    country = query.get("with_origin_country", "").strip()
    if kind == "tv" and country:
        filters.append(_Filter("origin_country", "contains", country))
    for name, exclude in (("with_genres", False), ("without_genres", True)):
        genre = _genre_filter("genre_ids", query.get(name, ""), exclude=exclude)
        if genre is not None:
            filters.append(genre)
    return tuple(sorted(set(filters), key=repr))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer (or, with drop=True, none at all)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_reply(status: int, obj: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, _dumps(obj), (("Content-Type", CONTENT_TYPE), *headers))


def _ok(obj: Any, *, empty: bool = False) -> Reply:
    body = _dumps(obj)
    etag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    cache = CACHE_CONTROL_EMPTY if empty else CACHE_CONTROL_OK
    return Reply(200, body, (("Content-Type", CONTENT_TYPE), ("Cache-Control", cache), ("ETag", etag)))


def _admin_reply(status: int, obj: Any) -> Reply:
    return Reply(
        status,
        _dumps(obj),
        (("Content-Type", "application/json"), ("Cache-Control", "no-store")),
    )


NOT_FOUND_REPLY: Final = _json_reply(404, ERROR_NOT_FOUND)
UNAUTHORIZED_REPLY: Final = _json_reply(401, ERROR_INVALID_API_KEY, (("Cache-Control", CACHE_CONTROL_401),))
INVALID_PAGE_REPLY: Final = _json_reply(400, ERROR_INVALID_PAGE)


@dataclass
class FaultSettings:
    """What the fake does to matching /3 requests; count is how many more requests get it (None = all)."""

    mode: str = "none"
    status: int = 500
    retry_after: int | None = None
    latency_ms: int = 0
    path_prefix: str | None = None
    count: int | None = None

    def active(self) -> bool:
        """Whether the settings change anything at all."""
        return self.mode != "none" or self.latency_ms > 0

    def to_json(self) -> JsonObject:
        """The settings as the admin API shows them."""
        return dataclasses.asdict(self)

    @classmethod
    def parse(cls, data: Any) -> FaultSettings:
        """Validate an admin request body; raises ValueError with a readable message."""
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        mode = data.get("mode", "none")
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {sorted(FAULT_MODES)}")
        status = _int_field(data, "status", 500, minimum=100)
        if status not in FAULT_ERRORS:
            raise ValueError(f"status must be one of {sorted(FAULT_ERRORS)}")
        path_prefix = data.get("path_prefix")
        if path_prefix is not None and not isinstance(path_prefix, str):
            raise ValueError("path_prefix must be a string or null")
        return cls(
            mode=mode,
            status=status,
            retry_after=_optional_int_field(data, "retry_after", minimum=0),
            latency_ms=_int_field(data, "latency_ms", 0, minimum=0),
            path_prefix=path_prefix or None,
            count=_optional_int_field(data, "count", minimum=1),
        )


def _optional_int_field(data: Mapping[str, Any], name: str, *, minimum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    # bool is an int subclass; `true` is never a meaningful count or delay.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} or null")
    return value


def _int_field(data: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = _optional_int_field(data, name, minimum=minimum)
    return default if value is None else value


class FakeTmdb:
    """The fake's state: catalog, credentials, fault settings and request counters (thread-safe)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        api_key: str | None = None,
        bearer_token: str | None = None,
        log_requests: bool = False,
    ) -> None:
        """Serve `catalog`, accepting `api_key` (v3) or `bearer_token` (v4): at least one of them."""
        if not api_key and not bearer_token:
            raise ValueError("the fake TMDb needs an API key or a bearer token (or both)")
        self.catalog = catalog
        self.log_requests = log_requests
        self._api_key = api_key.encode() if api_key else None
        self._bearer_token = bearer_token.encode() if bearer_token else None
        self._lock = threading.Lock()
        self._faults = FaultSettings()
        self._total = 0
        self._paths: dict[str, int] = {}
        self._arrivals: deque[float] = deque()
        self._max_rate = 0
        self._traceparents: deque[str] = deque(maxlen=TRACEPARENTS_KEPT)
        self._stopping = threading.Event()

    def close(self) -> None:
        """Wake up requests sleeping in a hang or latency fault so the server can stop promptly."""
        self._stopping.set()

    # --- admin -----------------------------------------------------------------------------------

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace the fault settings."""
        with self._lock:
            self._faults = faults

    def clear_faults(self) -> None:
        """Back to normal answers."""
        self.set_faults(FaultSettings())

    def faults(self) -> FaultSettings:
        """A copy of the current fault settings."""
        with self._lock:
            return dataclasses.replace(self._faults)

    def counters(self) -> JsonObject:
        """Request counters of /3 paths since the last reset."""
        with self._lock:
            return {
                "total": self._total,
                "paths": dict(self._paths),
                "max_rate_per_second": self._max_rate,
                "traceparents": list(self._traceparents),
            }

    def reset(self) -> None:
        """Zero the counters and clear the faults."""
        with self._lock:
            self._total = 0
            self._paths = {}
            self._arrivals.clear()
            self._max_rate = 0
            self._traceparents.clear()
            self._faults = FaultSettings()

    def _count(self, path: str, traceparent: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            if traceparent is not None:
                self._traceparents.append(traceparent)
            self._total += 1
            self._paths[path] = self._paths.get(path, 0) + 1
            # The busiest 1 s window always ends at some arrival, so checking at each arrival finds the max.
            arrivals = self._arrivals
            arrivals.append(now)
            while arrivals[0] <= now - 1.0:
                arrivals.popleft()
            self._max_rate = max(self._max_rate, len(arrivals))

    def _take_fault(self, path: str) -> FaultSettings | None:
        with self._lock:
            faults = self._faults
            if not faults.active():
                return None
            if faults.path_prefix is not None and not path.startswith(faults.path_prefix):
                return None
            taken = dataclasses.replace(faults)
            if faults.count is not None:
                faults.count -= 1
                if faults.count <= 0:
                    self._faults = FaultSettings()
            return taken

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # --- dispatch --------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answer one request; header names must be lower-case."""
        if path.startswith("/__admin/"):
            if not self._authorized(query, headers):
                return _admin_reply(401, {"error": "the admin API takes the same credentials as the API"})
            return self._admin(method, path, body)
        if not path.startswith("/3/"):
            return NOT_FOUND_REPLY
        self._count(path, headers.get("traceparent"))
        fault = self._take_fault(path)
        if fault is not None:
            if fault.mode == "hang":
                self._sleep(fault.latency_ms / 1000 if fault.latency_ms else DEFAULT_HANG_SECONDS)
            else:
                self._sleep(fault.latency_ms / 1000)
            if fault.mode == "drop":
                return Reply(0, drop=True)
            if fault.mode == "garbage":
                return Reply(200, GARBAGE_BODY, (("Content-Type", CONTENT_TYPE),))
            if fault.mode == "status":
                extra = () if fault.retry_after is None else (("Retry-After", str(fault.retry_after)),)
                return _json_reply(fault.status, FAULT_ERRORS[fault.status], extra)
        if not self._authorized(query, headers):
            return UNAUTHORIZED_REPLY
        if method != "GET":
            return _json_reply(405, ERROR_METHOD, (("Allow", "GET"),))
        return self._api(path.rstrip("/"), query)

    def _authorized(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        api_key = query.get("api_key")
        if api_key is not None and self._api_key and hmac.compare_digest(api_key.encode(), self._api_key):
            return True
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        return (
            scheme.lower() == "bearer"
            and self._bearer_token is not None
            and hmac.compare_digest(token.strip().encode(), self._bearer_token)
        )

    def _api(self, path: str, query: Mapping[str, str]) -> Reply:
        catalog = self.catalog
        if path == "/3/configuration":
            return _ok(catalog.configuration)
        if path == "/3/genre/movie/list":
            return _ok({"genres": catalog.movie_genres})
        if path == "/3/genre/tv/list":
            return _ok({"genres": catalog.tv_genres})
        for kind in ("movie", "tv"):
            if path == f"/3/{kind}/popular":
                return self._page(query, kind, catalog.ordered(kind, DEFAULT_SORT))
            if path == f"/3/{kind}/top_rated":
                return self._page(query, kind, catalog.top_rated(kind))
            if path == f"/3/discover/{kind}":
                sort_by = query.get("sort_by", DEFAULT_SORT)
                return self._page(
                    query, kind, catalog.discover(kind, sort_by, _discover_filters(kind, query))
                )
            if path == f"/3/search/{kind}":
                return self._search(query, kind)
        if path == "/3/search/multi":
            return self._search(query, "multi")
        match = _DETAIL_RE.fullmatch(path)
        if match:
            return self._detail(match.group(1), match.group(2), match.group(3), query)
        return NOT_FOUND_REPLY

    def _page(self, query: Mapping[str, str], kind: str, rows: list[JsonObject]) -> Reply:
        # rows come from cached orderings, so building them before validating the page costs nothing.
        page = _parse_page(query)
        if page is None:
            return INVALID_PAGE_REPLY
        items = [self.catalog.item(kind, r) for r in rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
        return _ok(_page_body(page, items, len(rows)), empty=not rows)

    def _search(self, query: Mapping[str, str], kind: str) -> Reply:
        page = _parse_page(query)
        if page is None:
            return INVALID_PAGE_REPLY
        text = query.get("query", "").strip()
        if not text:
            # TMDb answers an empty result set, not an error, when query is missing.
            return _ok(_page_body(page, [], 0), empty=True)
        catalog = self.catalog
        if kind == "multi":
            found = catalog.search_multi(text)
            total = len(found)
            items = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        else:
            year = query.get("year") or query.get(
                "primary_release_year" if kind == "movie" else "first_air_date_year"
            )
            records = catalog.search(kind, text, year if year and _YEAR_RE.fullmatch(year) else None)
            total = len(records)
            items = [catalog.item(kind, r) for r in records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
        return _ok(_page_body(page, items, total), empty=total == 0)

    def _detail(self, kind: str, raw_id: str, sub: str | None, query: Mapping[str, str]) -> Reply:
        id_match = _ID_RE.fullmatch(raw_id)
        record = self.catalog.by_id[kind].get(int(id_match.group(1))) if id_match else None
        if record is None:
            return NOT_FOUND_REPLY
        if sub == "recommendations":
            page = _parse_page(query)
            if page is None:
                return INVALID_PAGE_REPLY
            found = self.catalog.recommendations(kind, record)
            items = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            return _ok(_page_body(page, items, len(found)), empty=not found)
        appendices = _movie_appendices(record) if kind == "movie" else _tv_appendices(record)
        found = self.catalog.recommendations(kind, record)
        appendices["recommendations"] = _page_body(1, found[:PAGE_SIZE], len(found))
        if sub is not None:
            content = appendices.get(sub)
            if not isinstance(content, dict):
                return NOT_FOUND_REPLY
            return _ok({"id": record["id"], **content})
        detail = _movie_detail(record) if kind == "movie" else _tv_detail(record, self.catalog.tv_genre_names)
        wanted = [v.strip() for v in query.get("append_to_response", "").split(",") if v.strip()]
        if len(wanted) > MAX_APPEND:
            return _json_reply(400, ERROR_TOO_MANY_APPENDS)
        for name in wanted:
            # TMDb silently skips append values it does not know.
            if name in appendices:
                detail[name] = appendices[name]
        return _ok(detail)

    def _admin(self, method: str, path: str, body: bytes) -> Reply:
        route = (method, path.rstrip("/"))
        if route == ("GET", "/__admin/health"):
            return _admin_reply(200, {"status": "ok"})
        if route == ("GET", "/__admin/counters"):
            return _admin_reply(200, self.counters())
        if route == ("POST", "/__admin/reset"):
            self.reset()
            return _admin_reply(200, {"status": "ok"})
        if route == ("GET", "/__admin/faults"):
            return _admin_reply(200, self.faults().to_json())
        if route == ("DELETE", "/__admin/faults"):
            self.clear_faults()
            return _admin_reply(200, self.faults().to_json())
        if route == ("POST", "/__admin/faults"):
            try:
                faults = FaultSettings.parse(json.loads(body or b"{}"))
            except (ValueError, UnicodeDecodeError) as exc:
                return _admin_reply(400, {"error": str(exc)})
            self.set_faults(faults)
            return _admin_reply(200, faults.to_json())
        return _admin_reply(404, {"error": f"no admin route {method} {path}"})


def _parse_page(query: Mapping[str, str]) -> int | None:
    raw = query.get("page")
    if raw is None:
        return 1
    if not _PAGE_RE.fullmatch(raw):
        return None
    page = int(raw)
    return page if 1 <= page <= MAX_PAGE else None


def _page_body(page: int, items: list[JsonObject], total: int) -> JsonObject:
    # A zero-result answer still says total_pages 1 (recorded discover/movie with no matches).
    return {
        "page": page,
        "results": items,
        "total_pages": max(1, math.ceil(total / PAGE_SIZE)),
        "total_results": total,
    }


class _Handler(BaseHTTPRequestHandler):
    server: FakeTmdbServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server_version = "openresty"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.log_requests:
            super().log_message(format, *args)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_ADMIN_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
            if body is None:
                # We cannot tell where this body ends, so the connection cannot be reused.
                self.close_connection = True
                reply = _admin_reply(400, {"error": "unsupported or oversized request body"})
            else:
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = self.server.fake.handle(self.command, split.path, query, headers, body)
        except Exception:  # a bad request must never kill the server thread
            self.close_connection = True
            reply = _json_reply(500, ERROR_INTERNAL)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        headers = reply.headers
        body = reply.body
        status = reply.status
        etag = dict(headers).get("ETag")
        if etag is not None and _etag_matches(self.headers.get("If-None-Match"), etag):
            status, body = 304, b""
            headers = tuple((k, v) for k, v in headers if k in ("ETag", "Cache-Control"))
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
        except OSError:
            # The client went away (e.g. it timed out during a hang fault); nothing left to do.
            self.close_connection = True


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    weak = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == weak for tag in header.split(","))


class FakeTmdbServer(ThreadingHTTPServer):
    """ThreadingHTTPServer bound to a FakeTmdb; `server.fake` gives tests direct access to its state."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeTmdb) -> None:
        """Bind and listen on `address` (port 0 picks a free port)."""
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection and remember it, so that closing the server can cut it."""
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        """Forget a connection its handler has finished with."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host, which can stall offline."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host.decode() if isinstance(host, bytes) else str(host)
        self.server_port = int(port)

    def server_close(self) -> None:
        """Stop the listener, release requests parked in hang faults and cut open keep-alive connections
        (a stopped TMDb answers nothing more, also on a connection a client had pooled)."""
        self.fake.close()
        super().server_close()
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@lru_cache(maxsize=4)
def _load_catalog(path: Path) -> Catalog:
    return Catalog.load(path)


def make_server(
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    bearer_token: str | None = None,
    catalog_path: Path | None = None,
) -> FakeTmdbServer:
    """Create a bound (not yet serving) fake TMDb server; call serve_forever() to run it."""
    catalog = _load_catalog((catalog_path or DEFAULT_CATALOG_PATH).resolve())
    fake = FakeTmdb(catalog, api_key=api_key, bearer_token=bearer_token)
    return FakeTmdbServer((host, port), fake)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the fake's command line (also ``watchlist-dev fake-tmdb``'s)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", help="accepted as ?api_key= (TMDb v3 auth)")
    parser.add_argument("--bearer-token", help="accepted as Authorization: Bearer (v4 token)")
    parser.add_argument("--catalog", type=Path, default=None, help="catalog file (default: the packaged one)")
    parser.add_argument("--log-requests", action="store_true", help="log each request to stderr")


def main(argv: list[str] | None = None) -> None:
    """Serve the fake until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m watchlist_dev.fake_tmdb",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.api_key and not args.bearer_token:
        parser.error("give --api-key or --bearer-token (or both): the API and /__admin accept them")
    serve(args)


def serve(args: argparse.Namespace) -> None:
    """Serve the fake with the parsed options until SIGTERM or SIGINT."""
    server = make_server(
        args.host, args.port, api_key=args.api_key, bearer_token=args.bearer_token, catalog_path=args.catalog
    )
    server.fake.log_requests = args.log_requests
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    # serve_forever runs in a thread because shutdown() called from a signal handler on the serving
    # thread would deadlock.
    thread = threading.Thread(target=server.serve_forever, name="fake-tmdb", daemon=True)
    thread.start()
    host = f"[{server.server_name}]" if ":" in server.server_name else server.server_name
    print(f"fake-tmdb listening on http://{host}:{server.server_port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    main()
