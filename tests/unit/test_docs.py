"""The documents stay true to the code: settings with their defaults, no dead links, a short README.

Markdown is parsed, not pattern-matched against a fixed list: adding or removing a field of ``Settings``
without its row in docs/operations.md fails here, and so does a link to a file or heading that is gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from watchlist_service.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
DESIGN = REPO_ROOT / "docs" / "design.md"
DOCUMENTS = [README, REPO_ROOT / "AGENTS.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200
SETTINGS_HEADER = ("variable", "default", "description")
# The contract's numbered sections, which code and tests cite as "docs/design.md §N".
DESIGN_SECTIONS = 9

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1")
_LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL_RE = re.compile(r"^:?-{3,}:?$")
_DESIGN_CITATION_RE = re.compile(r"design\.md\s*§\s*(\d+)")


@dataclass(frozen=True)
class Line:
    """A line of a Markdown document outside fenced code blocks, with its 1-based number."""

    number: int
    text: str


def prose_lines(text: str) -> list[Line]:
    """The lines of ``text`` that are not inside fenced code blocks (nor the fences themselves)."""
    lines: list[Line] = []
    fence: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _FENCE_RE.match(raw)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker == fence:
                fence = None
            continue
        if fence is None:
            lines.append(Line(number, raw))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = _CODE_SPAN_RE.sub(lambda m: m.group(2), heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a document, with GitHub's ``-1``, ``-2`` suffixes for repeated headings."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING_RE.match(line.text)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """``(line number, target)`` of every inline link and image outside code."""
    found: list[tuple[int, str]] = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        text = _CODE_SPAN_RE.sub("", line.text)
        found.extend((line.number, target) for target in _LINK_RE.findall(text))
    return found


def split_row(line: str) -> list[str] | None:
    """The cells of a Markdown table row, or ``None`` when the line is not one."""
    stripped = line.strip()
    if not stripped.startswith("|") or not stripped.endswith("|"):
        return None
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT_RE.split(stripped[1:-1])]


def section(text: str, title: str) -> list[Line]:
    """The prose lines under the level-2 heading ``title``, up to the next level-2 heading."""
    lines = prose_lines(text)
    start = next((i for i, line in enumerate(lines) if line.text.strip() == f"## {title}"), None)
    assert start is not None, f"no '## {title}' heading"
    body: list[Line] = []
    for line in lines[start + 1 :]:
        if line.text.startswith("## "):
            break
        body.append(line)
    return body


def tables(lines: list[Line], header: tuple[str, ...]) -> list[list[tuple[int, list[str]]]]:
    """The body rows (with line numbers) of every table in ``lines`` whose header row is ``header``."""
    found: list[list[tuple[int, list[str]]]] = []
    index = 0
    while index < len(lines):
        cells = split_row(lines[index].text)
        separator = split_row(lines[index + 1].text) if index + 1 < len(lines) else None
        is_table = (
            cells is not None
            and separator is not None
            and all(_SEPARATOR_CELL_RE.match(cell) for cell in separator)
        )
        if not is_table:
            index += 1
            continue
        assert cells is not None
        matches = tuple(cell.lower() for cell in cells) == header
        index += 2
        rows: list[tuple[int, list[str]]] = []
        while index < len(lines) and (row := split_row(lines[index].text)) is not None:
            rows.append((lines[index].number, row))
            index += 1
        if matches:
            found.append(rows)
    return found


def unquote(cell: str) -> str:
    """A cell's text without the code span around it."""
    match = re.fullmatch(r"(`+)(.*?)\1", cell.strip())
    return match.group(2).strip() if match else cell.strip()


def render_default(value: object) -> str:
    """A default as docs/operations.md writes it: the value that means it in the environment."""
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        raise AssertionError("a secret must not have a default")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | dict | tuple):
        return json.dumps(value)
    return str(value)


def env_name(name: str) -> str:
    """The environment variable of a settings field."""
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def documented_fields() -> dict[str, FieldInfo]:
    """The fields of ``Settings`` that must be documented, by environment variable."""
    return {env_name(n): f for n, f in Settings.model_fields.items()}


def settings_rows() -> list[tuple[int, list[str]]]:
    """Every row of the settings tables in docs/operations.md."""
    lines = section(OPERATIONS.read_text(encoding="utf-8"), "Settings")
    found = tables(lines, SETTINGS_HEADER)
    assert found, f"no table with the header {SETTINGS_HEADER} under '## Settings' in {OPERATIONS}"
    return [row for table in found for row in table]


def test_the_settings_tables_list_exactly_the_fields_of_settings() -> None:
    rows = settings_rows()
    names = [unquote(cells[0]) for _, cells in rows]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"documented twice in {OPERATIONS.name}: {duplicates}"
    expected = set(documented_fields())
    missing = sorted(expected - set(names))
    unknown = sorted(set(names) - expected)
    assert not missing, f"settings without a row in {OPERATIONS.name}: {missing}"
    assert not unknown, f"rows in {OPERATIONS.name} for no field of Settings: {unknown}"


def test_the_settings_tables_give_each_default_and_a_description() -> None:
    fields = documented_fields()
    wrong: list[str] = []
    for number, cells in settings_rows():
        assert len(cells) == len(SETTINGS_HEADER), f"{OPERATIONS.name}:{number}: {len(cells)} cells"
        name, default, description = unquote(cells[0]), unquote(cells[1]), cells[2].strip()
        assert description, f"{OPERATIONS.name}:{number}: {name} has no description"
        field = fields.get(name)
        if field is None:
            continue  # reported by the test above
        expected = render_default(field.get_default(call_default_factory=True))
        if default != expected:
            wrong.append(f"{OPERATIONS.name}:{number}: {name} is documented as {default!r}, not {expected!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_at_existing_files_and_headings(document: Path) -> None:
    broken: list[str] = []
    for number, target in links(document):
        if _SCHEME_RE.match(target) or target.startswith("//"):
            continue  # an absolute URL: not checked offline
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        where = f"{document.relative_to(REPO_ROOT)}:{number}: {target}"
        if not resolved.is_relative_to(REPO_ROOT):
            broken.append(f"{where} leaves the repository")
        elif not resolved.exists():
            broken.append(f"{where} names no file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{where} names no heading of {resolved.relative_to(REPO_ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_documents_are_found() -> None:
    assert README in DOCUMENTS
    assert {OPERATIONS, DESIGN} <= set(DOCUMENTS)
    assert all(path.is_file() for path in DOCUMENTS)


def test_the_readme_stays_short() -> None:
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= README_MAX_LINES, f"README.md has {count} lines; manuals belong in docs/"


def test_the_contract_keeps_its_numbered_sections() -> None:
    numbered = [
        int(match.group(1))
        for line in prose_lines(DESIGN.read_text(encoding="utf-8"))
        if (match := re.match(r"^## (\d+)\. \S", line.text))
    ]
    assert numbered[:DESIGN_SECTIONS] == list(range(1, DESIGN_SECTIONS + 1))
    assert numbered == list(range(1, len(numbered) + 1)), "sections are numbered 1, 2, 3, ... in order"


def test_citations_of_the_contract_name_existing_sections() -> None:
    sections = {
        int(match.group(1))
        for line in prose_lines(DESIGN.read_text(encoding="utf-8"))
        if (match := re.match(r"^## (\d+)\. ", line.text))
    }
    sources = [
        path
        for folder in ("src", "tests", "loadtests", "docs")
        for path in (REPO_ROOT / folder).rglob("*")
        if path.suffix in {".py", ".md"} and path.is_file()
    ]
    dangling = [
        f"{path.relative_to(REPO_ROOT)}: §{number}"
        for path in [*sources, README, REPO_ROOT / "AGENTS.md"]
        for number in map(int, _DESIGN_CITATION_RE.findall(path.read_text(encoding="utf-8")))
        if number not in sections
    ]
    assert not dangling, f"citations of docs/design.md sections that do not exist: {dangling}"
