"""Export and import formats of a list (docs/design.md §11): pure functions, no I/O.

- Our own export, as JSON (an envelope with every item and all its fields) or CSV (one row per item, the
  same fields as columns). In CSV, a text that starts with ``= + - @``, a tab, a carriage return or ``'`` is
  written with one ``'`` in front (OWASP's advice against CSV injection: a spreadsheet then shows text, not a
  formula); the importer takes exactly one leading ``'`` off again, so the round trip is exact.
- Trakt's watchlist export (JSON): a list of ``{"type": "movie"|"show", "movie"|"show": {title, year,
  ids: {tmdb}}, "listed_at"}``.
- Letterboxd's watchlist export (CSV): ``Date,Name,Year,Letterboxd URI``; matched by title and year through
  the catalog's movie search (``match_movie``).

A file is parsed completely before anything is stored: a bad file is refused as a whole (``ImportRejected``)
and nothing of it is imported.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta, Struct

from watchlist_service.content import CONTENT_ID_PATTERN, split_content_id
from watchlist_service.watchlist.schemas import NOTES_MAX, Item

EXPORT_FORMAT: Final = "watchlist-service.export"
EXPORT_FORMAT_VERSION: Final = 1
CSV_COLUMNS: Final = (
    "contentId",
    "type",
    "tmdbId",
    "title",
    "posterPath",
    "releaseDate",
    "metadataPending",
    "addedAt",
    "updatedAt",
    "notes",
    "watched",
    "rating",
)
LETTERBOXD_COLUMNS: Final = ("Date", "Name", "Year", "Letterboxd URI")
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
ESCAPE: Final = "'"
MAX_REPORTED_ERRORS: Final = 20
CANDIDATES_MAX: Final = 5
_encode = msgspec.json.Encoder().encode


class ImportFormat(StrEnum):
    """The file formats an import understands (``?format=``)."""

    OURS = "ours"
    TRAKT = "trakt"
    LETTERBOXD = "letterboxd"


class ImportRejected(Exception):
    """The file cannot be imported; ``kind`` says why (the controller maps it to its 4xx problem)."""

    def __init__(
        self,
        kind: Literal["unsupported", "invalid", "too-many-rows"],
        detail: str,
        errors: Sequence[dict[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)


# --- export -------------------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: one ``'`` before a formula prefix (or before a ``'``)."""
    return ESCAPE + text if text.startswith((*FORMULA_PREFIXES, ESCAPE)) else text


def restore(text: str) -> str:
    """The text ``neutralise`` was given."""
    return text[1:] if text.startswith(ESCAPE) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def export_json_chunks(
    items: Sequence[Item], *, version: int, at: datetime, batch: int = 200
) -> Iterator[bytes]:
    """Our JSON export, in pieces (the response streams them): the envelope, then the items."""
    head = {
        "format": EXPORT_FORMAT,
        "formatVersion": EXPORT_FORMAT_VERSION,
        "listVersion": version,
        "exportedAt": _iso(at),
        "total": len(items),
    }
    yield _encode(head)[:-1] + b',"items":['
    for start in range(0, len(items), batch):
        chunk = b",".join(_encode(item) for item in items[start : start + batch])
        yield (b"," if start else b"") + chunk
    yield b"]}"


def export_csv_chunks(items: Sequence[Item], *, batch: int = 200) -> Iterator[bytes]:
    """Our CSV export, in pieces: a header, then one row per item (formula prefixes neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for start in range(0, len(items), batch):
        for item in items[start : start + batch]:
            writer.writerow(
                _cell(value)
                for value in (
                    item.content_id,
                    item.type,
                    item.tmdb_id,
                    item.title,
                    item.poster_path,
                    item.release_date,
                    item.metadata_pending,
                    item.added_at,
                    item.updated_at,
                    item.notes,
                    item.watched,
                    item.rating,
                )
            )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


# --- parsed rows ----------------------------------------------------------------------------------------


class ImportRow(Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One row of an uploaded file, as the import job keeps it (its number in the file, 1-based)."""

    row: int
    content_id: str | None = None  # known from the file (ours, Trakt with a TMDb id)
    title: str | None = None  # as the file spells it (Letterboxd: what is searched for)
    year: int | None = None
    added_at: datetime | None = None
    item: Item | None = None  # ours: the item with every field
    unmatched: str | None = None  # why the row cannot name a title (Trakt: no TMDb id, a season...)


class ParsedFile(Struct, kw_only=True):
    """An uploaded file, parsed: its format and its rows in the order the job processes them."""

    format: ImportFormat
    rows: list[ImportRow]


Title = Annotated[str, Meta(max_length=1_000)]
ImagePath = Annotated[str, Meta(pattern=r"^/[A-Za-z0-9._-]{1,200}$")]
ReleaseDate = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class _OurItem(Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """An item of our own export, validated as strictly as an API request."""

    content_id: Annotated[str, Meta(pattern=CONTENT_ID_PATTERN)]
    type: Literal["movie", "tv"]
    tmdb_id: int
    title: Title | None = None
    poster_path: ImagePath | None = None
    release_date: ReleaseDate | None = None
    metadata_pending: bool = False
    added_at: datetime
    updated_at: datetime
    notes: Annotated[str, Meta(max_length=NOTES_MAX)] | None = None
    watched: bool = False
    rating: Annotated[int, Meta(ge=1, le=10)] | None = None


def _to_item(raw: dict[str, Any], *, strict: bool) -> Item:
    """``ValueError`` with a message naming the field when ``raw`` is not a valid item of ours."""
    try:
        parsed = msgspec.convert(raw, _OurItem, strict=strict)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None
    if split_content_id(parsed.content_id) != (parsed.type, parsed.tmdb_id):
        raise ValueError("contentId, type and tmdbId disagree")
    for stamp in (parsed.added_at, parsed.updated_at):
        if stamp.tzinfo is None:
            raise ValueError("addedAt and updatedAt need a time zone")
    return Item(
        content_id=parsed.content_id,
        type=parsed.type,
        tmdb_id=parsed.tmdb_id,
        title=parsed.title,
        poster_path=parsed.poster_path,
        release_date=parsed.release_date,
        metadata_pending=parsed.metadata_pending,
        added_at=_ms(parsed.added_at),
        updated_at=_ms(parsed.updated_at),
        notes=parsed.notes,
        watched=parsed.watched,
        rating=parsed.rating,
    )


def _ms(value: datetime) -> datetime:
    """As BSON stores it: UTC, milliseconds."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class _Errors:
    """Row errors of a file, the first few kept for the answer."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: list[dict[str, str]] = []

    def add(self, row: int, message: str, field: str | None = None) -> None:
        self.count += 1
        if len(self.kept) < MAX_REPORTED_ERRORS:
            where = f"row {row}" + (f", {field}" if field else "")
            self.kept.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if self.count:
            raise ImportRejected("invalid", f"{self.count} rows of the file are not valid", self.kept)


# --- parsing --------------------------------------------------------------------------------------------


def decode_text(body: bytes) -> str:
    """The file as text: UTF-8 (a byte-order mark is dropped), else ``ImportRejected``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            "invalid", f"The file is not UTF-8 text (byte {exc.start} is not valid UTF-8)"
        ) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise ImportRejected("invalid", "The file holds NUL characters: it is not a text file")
    return text


def parse_file(
    body: bytes, *, media_type: Literal["json", "csv"], named: ImportFormat | None, max_rows: int
) -> ParsedFile:
    """Parse an uploaded file (``ImportRejected`` when it cannot be imported as a whole)."""
    text = decode_text(body)
    if not text.strip():
        raise ImportRejected("invalid", "The file is empty")
    if media_type == "json":
        return _parse_json(text, named, max_rows)
    return _parse_csv(text, named, max_rows)


def _parse_json(text: str, named: ImportFormat | None, max_rows: int) -> ParsedFile:
    if named is ImportFormat.LETTERBOXD:
        raise ImportRejected("unsupported", "Letterboxd exports are CSV files (send text/csv)")
    try:
        document = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ImportRejected("invalid", f"The file is not valid JSON: {exc}") from None
    if named is None:
        if isinstance(document, dict) and document.get("format") == EXPORT_FORMAT:
            named = ImportFormat.OURS
        elif isinstance(document, list):
            named = ImportFormat.TRAKT
        else:
            raise ImportRejected(
                "unsupported",
                f'JSON files are our own export (an object with "format": "{EXPORT_FORMAT}") or a Trakt '
                "watchlist export (a list)",
            )
    if named is ImportFormat.OURS:
        return ParsedFile(format=named, rows=_ours_from_json(document, max_rows))
    return ParsedFile(format=named, rows=_trakt(document, max_rows))


def _check_rows(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise ImportRejected("too-many-rows", f"The file has more than {max_rows} rows")


def _ours_from_json(document: Any, max_rows: int) -> list[ImportRow]:
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ImportRejected("invalid", 'Our export is an object with an "items" list')
    items = document["items"]
    _check_rows(len(items), max_rows)
    errors = _Errors()
    rows: list[ImportRow] = []
    for number, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            errors.add(number, "an item is an object")
            continue
        try:
            item = _to_item(raw, strict=True)
        except ValueError as exc:
            errors.add(number, str(exc))
            continue
        rows.append(ImportRow(row=number, content_id=item.content_id, item=item))
    errors.raise_if_any()
    # The export lists the newest first and each add goes on top: oldest first reproduces the order.
    rows.reverse()
    return rows


def _trakt(document: Any, max_rows: int) -> list[ImportRow]:
    if not isinstance(document, list):
        raise ImportRejected("invalid", "A Trakt watchlist export is a JSON list")
    _check_rows(len(document), max_rows)
    errors = _Errors()
    rows: list[ImportRow] = []
    for number, entry in enumerate(document, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            errors.add(number, 'an entry is an object with a "type"', "type")
            continue
        kind = entry["type"]
        media = entry.get(kind)
        if not isinstance(media, dict):
            errors.add(number, f'an entry of type "{kind}" carries "{kind}"', kind)
            continue
        title = media.get("title") if isinstance(media.get("title"), str) else None
        year = media.get("year") if _is_year(media.get("year")) else None
        added_at = _datetime(entry.get("listed_at"))
        row = ImportRow(row=number, title=title, year=year, added_at=added_at)
        ids = media.get("ids")
        tmdb = ids.get("tmdb") if isinstance(ids, dict) else None
        if kind not in ("movie", "show"):
            row.unmatched = f'a Trakt "{kind}" is not a movie or a show'
        elif not (isinstance(tmdb, int) and not isinstance(tmdb, bool) and 0 < tmdb < 2**31):
            row.unmatched = "no TMDb id"
        else:
            row.content_id = f"{'movie' if kind == 'movie' else 'tv'}:{tmdb}"
        rows.append(row)
    errors.raise_if_any()
    return _by_date(rows)


def _by_date(rows: list[ImportRow]) -> list[ImportRow]:
    """Oldest first (each add goes on top, so the newest ends first); undated rows after, in file order."""
    return sorted(rows, key=lambda r: (r.added_at is None, r.added_at or datetime.min.replace(tzinfo=UTC)))


def _is_year(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1800 <= value <= 2200


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _csv_rows(text: str) -> Iterator[list[str]]:
    try:
        yield from csv.reader(io.StringIO(text, newline=""), strict=True)
    except csv.Error as exc:
        raise ImportRejected("invalid", f"The file is not valid CSV: {exc}") from None


def _parse_csv(text: str, named: ImportFormat | None, max_rows: int) -> ParsedFile:
    if named is ImportFormat.TRAKT:
        raise ImportRejected("unsupported", "Trakt exports are JSON files (send application/json)")
    records = _csv_rows(text)
    header = [name.strip() for name in next(records, [])]
    if named is None:
        if "contentId" in header:
            named = ImportFormat.OURS
        elif "Letterboxd URI" in header or ("Name" in header and "Year" in header):
            named = ImportFormat.LETTERBOXD
        else:
            raise ImportRejected(
                "unsupported",
                "CSV files are our own export (a contentId column) or a Letterboxd watchlist "
                "(Date,Name,Year,Letterboxd URI)",
            )
    required = CSV_COLUMNS if named is ImportFormat.OURS else ("Name", "Year")
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportRejected(
            "invalid",
            f"The CSV header lacks {', '.join(missing)}",
            [{"field": "header", "message": f"missing column {name}"} for name in missing],
        )
    columns = {name: header.index(name) for name in header}
    if named is ImportFormat.OURS:
        return ParsedFile(format=named, rows=_ours_from_csv(records, columns, max_rows))
    return ParsedFile(format=named, rows=_letterboxd(records, columns, max_rows))


def _numbered(records: Iterable[list[str]], max_rows: int) -> Iterator[tuple[int, list[str]]]:
    number = 0
    for record in records:
        if not record or all(not cell.strip() for cell in record):
            continue  # blank lines
        number += 1
        _check_rows(number, max_rows)
        yield number, record


def _ours_from_csv(records: Iterable[list[str]], columns: dict[str, int], max_rows: int) -> list[ImportRow]:
    errors = _Errors()
    rows: list[ImportRow] = []
    for number, record in _numbered(records, max_rows):
        if len(record) != len(columns):
            errors.add(number, f"{len(record)} cells where the header has {len(columns)}")
            continue
        raw: dict[str, Any] = {}
        formulas = [name for name in CSV_COLUMNS if record[columns[name]].startswith(FORMULA_PREFIXES)]
        for name in formulas:
            # Our export always writes these with a ' in front: this cell was made elsewhere, and would be
            # a formula in a spreadsheet. Refused rather than guessed at.
            errors.add(number, "starts with = + - @, a tab or a CR without the ' our export puts there", name)
        if formulas:
            continue
        for name in CSV_COLUMNS:
            cell = record[columns[name]]
            if cell != "":
                raw[name] = restore(cell)
        try:
            item = _to_item(raw, strict=False)
        except ValueError as exc:
            errors.add(number, str(exc))
            continue
        rows.append(ImportRow(row=number, content_id=item.content_id, item=item))
    errors.raise_if_any()
    rows.reverse()  # newest first in the file, as in the list
    return rows


def _letterboxd(records: Iterable[list[str]], columns: dict[str, int], max_rows: int) -> list[ImportRow]:
    errors = _Errors()
    rows: list[ImportRow] = []

    def cell(record: list[str], name: str) -> str:
        index = columns.get(name)
        return record[index].strip() if index is not None and index < len(record) else ""

    for number, record in _numbered(records, max_rows):
        title, year_text = cell(record, "Name"), cell(record, "Year")
        if not title:
            errors.add(number, "a film needs a name", "Name")
            continue
        if len(title) > 200:
            errors.add(number, "at most 200 characters", "Name")
            continue
        year: int | None = None
        if year_text:
            if not (year_text.isascii() and year_text.isdigit() and _is_year(int(year_text))):
                errors.add(number, "a year is four digits", "Year")
                continue
            year = int(year_text)
        rows.append(ImportRow(row=number, title=title, year=year, added_at=_date(cell(record, "Date"))))
    errors.raise_if_any()
    return _by_date(rows)


def _date(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time(12, 0), tzinfo=UTC)
    except ValueError:
        return None


# --- matching Letterboxd rows against the catalog ---------------------------------------------------------


_NOT_WORD = re.compile(r"[^0-9a-z]+")
_APOSTROPHES = re.compile(r"['\u2019\u02bc]")


def normalise_title(title: str) -> str:
    """Titles compared as words: accents, case, punctuation and ``&``/``and`` do not matter (apostrophes,
    straight or curly, join their word: "Schindler's" is "schindlers")."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKD", title))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().replace("&", " and ")
    return " ".join(_NOT_WORD.sub(" ", text).split())


class Candidate(Struct, rename="camel", kw_only=True):
    """A catalog title a row might mean."""

    content_id: str
    title: str | None
    release_date: str | None
    poster_path: str | None = None


def _year_of(candidate: Candidate) -> int | None:
    date_text = candidate.release_date or ""
    return int(date_text[:4]) if date_text[:4].isdigit() else None


def same_title(title: str, found: Sequence[tuple[Candidate, Sequence[str | None]]]) -> list[Candidate]:
    """The candidates one of whose titles (title, original title) is the row's title, as words."""
    wanted = normalise_title(title)
    return [c for c, titles in found if any(t and normalise_title(t) == wanted for t in titles)]


def pick(
    title: str, year: int | None, found: Sequence[tuple[Candidate, Sequence[str | None]]]
) -> list[Candidate]:
    """The candidates a Letterboxd row names: the same title, and the same year when the row has one (a year
    off by one counts when nothing has the exact year: festival premiere against release)."""
    matches = same_title(title, found)
    if year is None:
        return matches
    exact = [c for c in matches if _year_of(c) == year]
    if exact:
        return exact
    return [c for c in matches if (y := _year_of(c)) is not None and abs(y - year) == 1]
