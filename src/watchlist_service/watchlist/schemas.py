"""The My List API contract: msgspec Structs, camelCase on the wire."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from watchlist_service.content import CONTENT_ID_PATTERN, CONTENT_ID_RE, ContentType, split_content_id
from watchlist_service.errors import InvalidRequest

__all__ = ["CONTENT_ID_RE", "ContentType", "split_content_id"]  # the list's view of content ids
NOTES_MAX = 2_000
BATCH_MAX = 100
CONTAINS_MAX = 100
REORDER_MAX = 1_000
IF_MATCH_TAGS_MAX = 100
IF_MATCH_MAX = 4_096  # characters

ContentId = Annotated[
    str,
    Meta(
        pattern=CONTENT_ID_PATTERN,
        max_length=16,
        description='"{type}:{tmdbId}", e.g. "movie:550" or "tv:1396"',
        examples=["movie:550"],
    ),
]
Notes = Annotated[str, Meta(max_length=NOTES_MAX, description="free text, at most 2,000 characters")]
Rating = Annotated[int, Meta(ge=1, le=10)]


class SortOrder(StrEnum):
    """Orders a list page can be read in."""

    ADDED_DESC = "added.desc"
    ADDED_ASC = "added.asc"
    TITLE_ASC = "title.asc"
    RELEASE_DESC = "release.desc"
    RATING_DESC = "rating.desc"  # highest rated first, unrated last
    RANK = "rank"  # the user's own order (docs/design.md §10)


class ListView(Struct, frozen=True, kw_only=True):
    """Which titles a list page shows, and in what order (``type``, ``sort``, ``watched``, ``rated``)."""

    content_type: ContentType | None = None
    sort: SortOrder = SortOrder.ADDED_DESC
    watched: bool | None = None
    rated: bool | None = None

    @property
    def filtered(self) -> bool:
        """Whether it leaves titles out."""
        return self.content_type is not None or self.watched is not None or self.rated is not None

    @property
    def is_default(self) -> bool:
        """The whole list, newest first."""
        return not self.filtered and self.sort is SortOrder.ADDED_DESC


DEFAULT_VIEW = ListView()


class Item(Struct, rename="camel", kw_only=True):
    """One title in the list."""

    content_id: str
    type: ContentType
    tmdb_id: int
    title: str | None = None
    poster_path: str | None = None
    release_date: str | None = None
    metadata_pending: bool = False
    added_at: datetime
    updated_at: datetime
    notes: str | None = None
    watched: bool = False
    rating: int | None = None


class Page(Struct, rename="camel"):
    """One page of the list."""

    items: list[Item]
    page: int
    limit: int
    total: int
    total_pages: int
    version: int


Position = Literal["top", "bottom"]


class AddRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """Add a title to the list; ``position``: where it goes in the user's order (``sort=rank``)."""

    content_id: ContentId
    notes: Notes | None = None
    position: Position = "top"


class PatchRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """Change some of an item's mutable fields; ``null`` clears notes or rating."""

    notes: Notes | UnsetType | None = UNSET
    watched: bool | UnsetType = UNSET
    rating: Rating | UnsetType | None = UNSET


class ReplaceRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """Replace all of an item's mutable fields; an omitted field is cleared."""

    notes: Notes | None = None
    watched: bool = False
    rating: Rating | None = None


class ContainsRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """Which of these titles are in the list."""

    content_ids: Annotated[list[ContentId], Meta(min_length=1, max_length=CONTAINS_MAX)]


BatchId = Annotated[str, Meta(max_length=64)]


class BatchRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """Adds and removes in one call (import, sync); at most 100 operations in all."""

    add: Annotated[list[BatchId], Meta(max_length=BATCH_MAX)] = msgspec.field(default_factory=list)
    remove: Annotated[list[BatchId], Meta(max_length=BATCH_MAX)] = msgspec.field(default_factory=list)


class BatchResult(Struct, rename="camel"):
    """What each operation of a batch did."""

    added: list[str]
    existing: list[str]
    removed: list[str]
    not_found: list[str]
    invalid: list[str]
    unknown: list[str]
    full: list[str]
    version: int


class ReorderRequest(Struct, rename="camel", forbid_unknown_fields=True):
    """The titles to put on top of the user's order, in this order (the others keep theirs, below them)."""

    content_ids: Annotated[list[ContentId], Meta(min_length=1, max_length=REORDER_MAX)]


class ReorderResult(Struct, rename="camel"):
    """What a reorder did: how many named titles it placed, which it skipped (not in the list), and the
    version."""

    updated: int
    skipped: list[str]
    version: int


class Change(Struct, rename="camel", omit_defaults=True, kw_only=True):
    """The latest change of one title since the client's version; ``removed`` is a tombstone; ``reordered``
    (no ``contentId``) says the user's order changed: re-read ``sort=rank``."""

    version: int
    op: Literal["added", "updated", "removed", "reordered"]
    content_id: str | None = None
    at: datetime
    item: Item | None = None


class Changes(Struct, rename="camel"):
    """The delta feed since a version."""

    changes: list[Change]
    version: int


WATCHERS_MAX = 1_000


class Watchers(Struct, rename="camel"):
    """A page of the users whose list holds a title, by user id ascending; ``nextCursor`` continues it."""

    user_ids: list[str]
    next_cursor: str | None


class ListEvent(Struct, rename="camel", omit_defaults=True):
    """A change pushed to the user's connected devices: ``item`` for added/updated, else ``contentId``."""

    event: Literal["item.added", "item.removed", "item.updated", "list.reordered"]
    version: int
    item: Item | None = None
    content_id: str | None = None


class Stats(Struct, rename="camel"):
    """Totals of the list."""

    total: int
    movies: int
    tv: int
    watched: int
    unwatched: int
    rated: int
    average_rating: float | None
    version: int


class IfMatch(Struct, frozen=True):
    """A write's precondition (``If-Match``): the list is at one of ``versions``, or exists (``*``).

    A user without a list is at version 0 (docs/design.md §10).
    """

    versions: frozenset[int] = frozenset()
    any: bool = False

    def holds(self, version: int | None) -> bool:
        """Whether it holds for a list at ``version`` (``None``: the user has no list)."""
        if self.any:
            return version is not None
        return (version or 0) in self.versions


# An entity tag (RFC 9110 §8.8.3) and the separator after it.
_ENTITY_TAG: Final = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_STRONG_VERSION: Final = re.compile(r"[0-9]{1,15}")
_PAGE_VERSION: Final = re.compile(r"([0-9]{1,15})-")  # W/"{version}-{page}-{limit}-{view}"


def if_match_error(field: str, message: str) -> InvalidRequest:
    """The 400 answer for an unusable precondition."""
    return InvalidRequest(message, extra={"errors": [{"field": field, "message": message}]})


def parse_if_match(value: str, *, field: str = "If-Match") -> IfMatch:
    """An ``If-Match`` value: ``*``, or entity tags: ``"7"`` (what writes answer) and, leniently, a page's
    weak ``W/"7-1-10-all"`` (its version). Another well-formed tag matches nothing; a malformed value is
    400."""
    if len(value) > IF_MATCH_MAX:
        raise if_match_error(field, f"at most {IF_MATCH_MAX} characters")
    if value.strip() == "*":
        return IfMatch(any=True)
    versions: set[int] = set()
    position, tags = 0, 0
    while position < len(value):
        found = _ENTITY_TAG.match(value, position)
        if found is None or found.end() == position:
            raise if_match_error(field, 'expected "*" or entity tags such as "7"')
        weak, opaque = found.group(1), found.group(2)
        version = (
            (_PAGE_VERSION.match(opaque) if weak else _STRONG_VERSION.fullmatch(opaque)) if opaque else None
        )
        if version is not None:
            versions.add(int(version.group(1) if weak else version.group(0)))
        position, tags = found.end(), tags + 1
    if tags == 0 or tags > IF_MATCH_TAGS_MAX:
        raise if_match_error(field, f'expected "*" or 1 to {IF_MATCH_TAGS_MAX} entity tags such as "7"')
    return IfMatch(versions=frozenset(versions))
