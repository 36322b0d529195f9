"""Build the fake TMDb catalog (tmdb_catalog.json.gz next to this file) from the shared data set.

Usage: python -m watchlist_dev.build_catalog [DATA_DIR]   (default: ../shared/data/tmdb beside the repo)

The source files are read at build time only; the service and the fake never read them at run time.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# tools/src/watchlist_dev/ in the repository (uv sync installs the dev tools editable, from their sources).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "tmdb"
OUTPUT = Path(__file__).with_name("tmdb_catalog.json.gz")

MOVIES_CSV = "tmdb_5000_movies.csv"
LITE_MOVIES = "tmdb_lite_movies_jellyfin_2025-12-24.jsonl"
LITE_TV = "tmdb_lite_tv_jellyfin_2025-12-24.jsonl"
# The jellyfin recordings are English (the official-docs genre examples were captured with language=de).
FIXTURES = "fixtures/jellyfin_TMDbLib_wiremock_2025-12-24"
MOVIE_GENRES_FIXTURE = f"{FIXTURES}/genre_movie_list.json"
TV_GENRES_FIXTURE = f"{FIXTURES}/genre_tv_list.json"
CONFIGURATION_FIXTURE = f"{FIXTURES}/configuration.json"

# The CSV's spoken_languages lack TMDb's `english_name`; these are the English names TMDb's
# /configuration/languages uses for the 87 codes that occur in the data.
ENGLISH_LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "Amharic",
    "ar": "Arabic",
    "bg": "Bulgarian",
    "bm": "Bambara",
    "bn": "Bengali",
    "bo": "Tibetan",
    "br": "Breton",
    "bs": "Bosnian",
    "ca": "Catalan",
    "ce": "Chechen",
    "cn": "Cantonese",
    "co": "Corsican",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "dz": "Dzongkha",
    "el": "Greek",
    "en": "English",
    "eo": "Esperanto",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "ga": "Irish",
    "gd": "Gaelic",
    "gl": "Galician",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "hy": "Armenian",
    "id": "Indonesian",
    "is": "Icelandic",
    "it": "Italian",
    "iu": "Inuktitut",
    "ja": "Japanese",
    "ka": "Georgian",
    "kk": "Kazakh",
    "km": "Khmer",
    "ko": "Korean",
    "ku": "Kurdish",
    "kw": "Cornish",
    "ky": "Kirghiz",
    "la": "Latin",
    "mi": "Maori",
    "ml": "Malayalam",
    "mn": "Mongolian",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "nv": "Navajo",
    "ny": "Chichewa; Nyanja",
    "pa": "Punjabi",
    "pl": "Polish",
    "ps": "Pushto",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sa": "Sanskrit",
    "sh": "Serbo-Croatian",
    "si": "Sinhalese",
    "sk": "Slovak",
    "sl": "Slovenian",
    "so": "Somali",
    "sq": "Albanian",
    "sr": "Serbian",
    "st": "Sotho",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tl": "Tagalog",
    "to": "Tonga",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "wo": "Wolof",
    "xh": "Xhosa",
    "xx": "No Language",
    "yi": "Yiddish",
    "zh": "Mandarin",
    "zu": "Zulu",
}

# TMDb retired genre 10769 "Foreign" (absent from today's /genre/movie/list) but the 2017 CSV still uses it;
# we keep it so genre_ids stay faithful to the data, and name it here for the detail `genres` objects.
LEGACY_MOVIE_GENRES = {10769: "Foreign"}


def _null_if_empty(value: Any) -> Any:
    """Empty strings become None, as TMDb answers null for missing values."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _int_or_none(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    return int(float(raw))


def _float_or_none(raw: str) -> float | None:
    raw = raw.strip()
    return float(raw) if raw else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _fixture_body(path: Path) -> Any:
    """Body of a jellyfin WireMock recording ({request, response:{status, headers, body}})."""
    recording = json.loads(path.read_text(encoding="utf-8"))
    body = recording["response"]["body"]
    return json.loads(body) if isinstance(body, str) else body


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lite_movie_fields(lite: dict[str, Any]) -> dict[str, Any]:
    return {
        "adult": bool(lite.get("adult", False)),
        "backdrop_path": _null_if_empty(lite.get("backdrop_path")),
        "poster_path": _null_if_empty(lite.get("poster_path")),
        "video": bool(lite.get("video", False)),
    }


def _csv_movie(row: dict[str, str], lite: dict[str, Any] | None) -> dict[str, Any]:
    genres = [{"id": g["id"], "name": g["name"]} for g in json.loads(row["genres"])]
    companies = [
        {"id": c["id"], "logo_path": None, "name": _null_if_empty(c["name"]), "origin_country": None}
        for c in json.loads(row["production_companies"])
    ]
    countries = [
        {"iso_3166_1": c["iso_3166_1"], "name": _null_if_empty(c["name"])}
        for c in json.loads(row["production_countries"])
    ]
    languages = [
        {
            "english_name": ENGLISH_LANGUAGE_NAMES.get(lang["iso_639_1"]),
            "iso_639_1": lang["iso_639_1"],
            "name": _null_if_empty(lang["name"]),
        }
        for lang in json.loads(row["spoken_languages"])
    ]
    keywords = [{"id": k["id"], "name": k["name"]} for k in json.loads(row["keywords"])]
    extra = (
        _lite_movie_fields(lite)
        if lite
        else {"adult": False, "backdrop_path": None, "poster_path": None, "video": False}
    )
    runtime = _int_or_none(row["runtime"])
    return {
        "id": int(row["id"]),
        "adult": extra["adult"],
        "backdrop_path": extra["backdrop_path"],
        "budget": _int_or_none(row["budget"]),
        "genres": genres,
        "genre_ids": [g["id"] for g in genres],
        "homepage": _null_if_empty(row["homepage"]),
        "keywords": keywords,
        "original_language": _null_if_empty(row["original_language"]),
        "original_title": _null_if_empty(row["original_title"]),
        "overview": _null_if_empty(row["overview"]),
        "popularity": _float_or_none(row["popularity"]),
        "poster_path": extra["poster_path"],
        "production_companies": companies,
        "production_countries": countries,
        "release_date": _null_if_empty(row["release_date"]),
        "revenue": _int_or_none(row["revenue"]),
        # 0 minutes is how the CSV spells "unknown"; TMDb answers null-or-0, we pick null.
        "runtime": runtime if runtime else None,
        "spoken_languages": languages,
        "status": _null_if_empty(row["status"]),
        "tagline": _null_if_empty(row["tagline"]),
        "title": _null_if_empty(row["title"]),
        "video": extra["video"],
        "vote_average": _float_or_none(row["vote_average"]),
        "vote_count": _int_or_none(row["vote_count"]),
    }


def _lite_only_movie(lite: dict[str, Any], genre_names: dict[int, str]) -> dict[str, Any]:
    genre_ids = [int(g) for g in lite.get("genre_ids") or []]
    return {
        "id": int(lite["id"]),
        **_lite_movie_fields(lite),
        # Lite objects carry no detail fields: those stay null (or empty lists) in the detail answer.
        "budget": None,
        "genres": [{"id": g, "name": genre_names.get(g)} for g in genre_ids],
        "genre_ids": genre_ids,
        "homepage": None,
        "keywords": [],
        "original_language": _null_if_empty(lite.get("original_language")),
        "original_title": _null_if_empty(lite.get("original_title")),
        "overview": _null_if_empty(lite.get("overview")),
        "popularity": lite.get("popularity"),
        "production_companies": [],
        "production_countries": [],
        "release_date": _null_if_empty(lite.get("release_date")),
        "revenue": None,
        "runtime": None,
        "spoken_languages": [],
        "status": None,
        "tagline": None,
        "title": _null_if_empty(lite.get("title")),
        "vote_average": lite.get("vote_average"),
        "vote_count": lite.get("vote_count"),
    }


def _tv_show(lite: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(lite["id"]),
        "adult": bool(lite.get("adult", False)),
        "backdrop_path": _null_if_empty(lite.get("backdrop_path")),
        "first_air_date": _null_if_empty(lite.get("first_air_date")),
        "genre_ids": [int(g) for g in lite.get("genre_ids") or []],
        "name": _null_if_empty(lite.get("name")),
        "origin_country": list(lite.get("origin_country") or []),
        "original_language": _null_if_empty(lite.get("original_language")),
        "original_name": _null_if_empty(lite.get("original_name")),
        "overview": _null_if_empty(lite.get("overview")),
        "popularity": lite.get("popularity"),
        "poster_path": _null_if_empty(lite.get("poster_path")),
        "vote_average": lite.get("vote_average"),
        "vote_count": lite.get("vote_count"),
    }


def build(data_dir: Path) -> dict[str, Any]:
    """Read the shared data set and return the catalog document."""
    movie_genres = _fixture_body(data_dir / MOVIE_GENRES_FIXTURE)["genres"]
    tv_genres = _fixture_body(data_dir / TV_GENRES_FIXTURE)["genres"]
    configuration = _fixture_body(data_dir / CONFIGURATION_FIXTURE)
    genre_names = {int(g["id"]): str(g["name"]) for g in movie_genres} | LEGACY_MOVIE_GENRES

    lite_movies = {int(m["id"]): m for m in _read_jsonl(data_dir / LITE_MOVIES)}
    with (data_dir / MOVIES_CSV).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    movies = [_csv_movie(row, lite_movies.get(int(row["id"]))) for row in rows]
    csv_ids = {m["id"] for m in movies}
    movies += [_lite_only_movie(m, genre_names) for mid, m in lite_movies.items() if mid not in csv_ids]
    movies.sort(key=lambda m: m["id"])
    tv = sorted((_tv_show(t) for t in _read_jsonl(data_dir / LITE_TV)), key=lambda t: t["id"])

    if len({m["id"] for m in movies}) != len(movies) or len({t["id"] for t in tv}) != len(tv):
        raise SystemExit("duplicate ids in the source data")

    return {
        "format": 1,
        "sources": {
            name: _sha256(data_dir / name)
            for name in (MOVIES_CSV, LITE_MOVIES, LITE_TV, MOVIE_GENRES_FIXTURE, TV_GENRES_FIXTURE)
        }
        | {CONFIGURATION_FIXTURE: _sha256(data_dir / CONFIGURATION_FIXTURE)},
        "counts": {"csv_movies": len(rows), "movies": len(movies), "tv": len(tv)},
        "movie_genres": movie_genres,
        "tv_genres": tv_genres,
        "legacy_movie_genres": [{"id": k, "name": v} for k, v in LEGACY_MOVIE_GENRES.items()],
        "configuration": configuration,
        "movies": _columns(movies),
        "tv": _columns(tv),
    }


def _columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Column-oriented layout: similar values sit together and gzip about 25 % smaller than row objects."""
    fields = sorted({key for record in records for key in record})
    return {field: [record.get(field) for record in records] for field in fields}


def main(argv: list[str] | None = None) -> None:
    """Build the catalog file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    catalog = build(args.data_dir)
    payload = json.dumps(catalog, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    # mtime=0 keeps the output byte-identical across rebuilds of the same data.
    with (
        args.output.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(payload)
    counts = catalog["counts"]
    print(
        f"wrote {args.output} ({args.output.stat().st_size:,} bytes): "
        f"{counts['movies']} movies ({counts['csv_movies']} from the CSV), {counts['tv']} tv shows",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
