"""The export and import formats of docs/design.md §11, as pure functions (no I/O)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from watchlist_service.infra.redis import user_tag_pattern
from watchlist_service.watchlist.portability import (
    CSV_COLUMNS,
    Candidate,
    ImportFormat,
    ImportRejected,
    export_csv_chunks,
    export_json_chunks,
    neutralise,
    normalise_title,
    parse_file,
    pick,
    restore,
)
from watchlist_service.watchlist.schemas import Item

AT = datetime(2024, 5, 1, 10, 30, 15, 123000, tzinfo=UTC)


def item(n: int, **fields: object) -> Item:
    values: dict[str, object] = {
        "content_id": f"movie:{n}",
        "type": "movie",
        "tmdb_id": n,
        "added_at": AT,
        "updated_at": AT,
        **fields,
    }
    return Item(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["=1+2", "+1", "-x", "@SUM(A1)", "\tx", "\rx", "'tis", "''", "plain", "", "a=b", "ok'"]
)
def test_neutralise_is_undone_by_restore(text: str) -> None:
    """docs/design.md §11: a formula prefix (or a leading quote) gets one quote; the importer removes it."""
    escaped = neutralise(text)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(escaped) == text


def test_csv_export_parses_back_to_the_same_items() -> None:
    """docs/design.md §11: our CSV, newest first, imports back oldest first with every field."""
    items = [
        item(3, title="+1", notes="=cmd|' /C calc'!A0", watched=True, rating=7, poster_path="/p.jpg"),
        item(2, title='A "quoted", title', notes="line\nbreak", release_date="1999-10-15"),
        item(1, metadata_pending=True),
    ]
    body = b"".join(export_csv_chunks(items, batch=2))
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert rows[1][3] == "'+1"
    assert rows[1][9] == "'=cmd|' /C calc'!A0"
    parsed = parse_file(body, media_type="csv", named=None, max_rows=10)
    assert parsed.format is ImportFormat.OURS
    assert [r.row for r in parsed.rows] == [3, 2, 1]  # processed oldest first
    assert [r.item for r in reversed(parsed.rows)] == items


def test_json_export_parses_back_to_the_same_items() -> None:
    items = [item(n, notes="" if n == 2 else None) for n in (5, 2, 9)]
    body = b"".join(export_json_chunks(items, version=12, at=AT, batch=2))
    document = json.loads(body)
    assert (document["listVersion"], document["total"], len(document["items"])) == (12, 3, 3)
    parsed = parse_file(body, media_type="json", named=None, max_rows=10)
    assert [r.item for r in reversed(parsed.rows)] == items  # "" and null notes kept apart in JSON


def test_empty_export_is_valid_json_and_imports_nothing() -> None:
    body = b"".join(export_json_chunks([], version=0, at=AT))
    assert json.loads(body)["items"] == []
    assert parse_file(body, media_type="json", named=None, max_rows=1).rows == []


@pytest.mark.parametrize(
    ("body", "media_type", "named", "kind"),
    [
        (b"\xff\xfeN\x00", "csv", None, "invalid"),
        (b"   ", "csv", None, "invalid"),
        (b"a,b\n", "csv", None, "unsupported"),
        (b"Name,Year\nx,19x9\n", "csv", None, "invalid"),
        (b'Name,Year\n"unterminated,1999\n', "csv", None, "invalid"),
        (b"Name,Year\nx,1999\ny,1999\nz,1999\n", "csv", None, "too-many-rows"),
        (b"[]", "json", ImportFormat.LETTERBOXD, "unsupported"),
        (b"Name,Year\n", "csv", ImportFormat.TRAKT, "unsupported"),
        (b'{"format": "watchlist-service.export"}', "json", None, "invalid"),
        (b'[{"type": "movie"}]', "json", None, "invalid"),
        (
            b'{"format": "watchlist-service.export", "items": [{"contentId": "movie:1"}]}',
            "json",
            None,
            "invalid",
        ),
    ],
)
def test_bad_files_are_rejected(body: bytes, media_type: str, named: ImportFormat | None, kind: str) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse_file(body, media_type=media_type, named=named, max_rows=2)  # type: ignore[arg-type]
    assert rejected.value.kind == kind


def test_our_rows_must_agree_with_themselves() -> None:
    """docs/design.md §11: content id, type and TMDb id agree; ratings 1..10; a poster path is a path."""
    base = {"contentId": "movie:1", "type": "movie", "tmdbId": 1, "addedAt": "2024-01-01T00:00:00Z",
            "updatedAt": "2024-01-01T00:00:00Z"}  # fmt: skip
    for broken in ({"tmdbId": 2}, {"type": "tv"}, {"rating": 11}, {"posterPath": "http://x/y"},
                   {"addedAt": "2024-01-01T00:00:00"}, {"userId": "someone"}):  # fmt: skip
        document = {"format": "watchlist-service.export", "items": [{**base, **broken}]}
        with pytest.raises(ImportRejected) as rejected:
            parse_file(json.dumps(document).encode(), media_type="json", named=None, max_rows=5)
        assert rejected.value.errors[0]["field"] == "row 1", broken


def test_formula_cells_of_our_csv_are_rejected_and_named() -> None:
    header = ",".join(CSV_COLUMNS)
    row = "movie:1,movie,1,@SUM(A1),,,false,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z,-x,false,"
    with pytest.raises(ImportRejected) as rejected:
        parse_file(f"{header}\n{row}\n".encode(), media_type="csv", named=None, max_rows=5)
    assert [e["field"] for e in rejected.value.errors] == ["row 1, title", "row 1, notes"]


def test_letterboxd_rows_are_read_with_their_dates_oldest_first() -> None:
    body = "\ufeffDate,Name,Year,Letterboxd URI\n2021-05-02,B,2001,u\n\n2020-01-01,A,,u\n,C,1999,u\n"
    parsed = parse_file(body.encode(), media_type="csv", named=None, max_rows=3)
    assert parsed.format is ImportFormat.LETTERBOXD
    assert [(r.row, r.title, r.year) for r in parsed.rows] == [(2, "A", None), (1, "B", 2001), (3, "C", 1999)]
    assert parsed.rows[0].added_at == datetime(2020, 1, 1, 12, tzinfo=UTC)
    assert parsed.rows[2].added_at is None


def test_trakt_entries_become_content_ids_or_unmatched() -> None:
    entries = [
        {
            "type": "show",
            "show": {"title": "S", "year": 2002, "ids": {"tmdb": 45}},
            "listed_at": "2021-01-02T00:00:00Z",
        },
        {"type": "movie", "movie": {"title": "M", "year": 1999, "ids": {"tmdb": True}}},
        {"type": "episode", "episode": {"title": "E"}, "listed_at": "2021-01-01T00:00:00Z"},
    ]  # fmt: skip
    parsed = parse_file(json.dumps(entries).encode(), media_type="json", named=None, max_rows=5)
    assert parsed.format is ImportFormat.TRAKT
    by_row = {r.row: r for r in parsed.rows}
    assert by_row[1].content_id == "tv:45"
    assert by_row[2].content_id is None
    assert by_row[2].unmatched == "no TMDb id"
    assert by_row[3].unmatched is not None
    assert "episode" in by_row[3].unmatched
    assert [r.row for r in parsed.rows] == [3, 1, 2]  # dated ones oldest first, then undated


def test_titles_compare_as_words() -> None:
    assert normalise_title("Amélie") == normalise_title("AMELIE")
    assert (
        normalise_title("Schindler\u2019s List") == normalise_title("Schindler's List") == "schindlers list"
    )
    assert normalise_title("Fast & Furious") == normalise_title("fast and furious")
    assert normalise_title("Se7en:  The   Movie!") == "se7en the movie"


def candidate(content_id: str, title: str, date: str | None) -> tuple[Candidate, list[str | None]]:
    return Candidate(content_id=content_id, title=title, release_date=date), [title, None]


def test_pick_prefers_the_exact_year_then_one_off() -> None:
    found = [
        candidate("movie:268", "Batman", "1989-06-23"),
        candidate("movie:2661", "Batman", "1966-07-30"),
        candidate("movie:414", "Batman Forever", "1995-06-16"),
    ]
    assert [c.content_id for c in pick("Batman", 1989, found)] == ["movie:268"]
    assert [c.content_id for c in pick("batman", 1990, found)] == ["movie:268"]  # a year off
    assert [c.content_id for c in pick("Batman", None, found)] == ["movie:268", "movie:2661"]
    assert pick("Batman", 1975, found) == []
    assert pick("Batmn", 1989, found) == []


def test_the_scan_pattern_of_a_user_escapes_glob_characters() -> None:
    """docs/design.md §11: SCAN MATCH on the user's tag only; a sub with * or ? matches no other user."""
    assert user_tag_pattern("u-1") == "{u-1}:*"
    assert user_tag_pattern("a*b?[c]\\") == "{a\\*b\\?\\[c\\]\\\\}:*"
