"""The stored shape of a list: the one definition of what a ``watchlists`` document holds, and its indexes.

The API Structs (``schemas.py``) are the contract with clients; these are the contract with the database.
They are separate on purpose: renaming an API field must not silently change what is stored. The repository
maps between the two (``to_api`` / ``from_api``) and is the only code that reads or writes these names.

Beanie is not used: every write is a hand-written guarded update (docs/design.md §2) and every read decodes
straight into these Structs with msgspec, so an ODM model would only have repeated this shape to create
three indexes, which ``create_indexes`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

import msgspec
import pymongo
from pymongo import IndexModel

from watchlist_service.watchlist.schemas import Item

COLLECTION: Final = "watchlists"
ChangeOp = Literal["added", "updated", "removed", "reordered"]


class StoredItem(msgspec.Struct, kw_only=True):
    """One entry of ``items`` (stored newest first)."""

    content_id: str = msgspec.field(name="contentId")
    type: Literal["movie", "tv"]
    tmdb_id: int = msgspec.field(name="tmdbId")
    title: str | None = None
    poster_path: str | None = msgspec.field(default=None, name="posterPath")
    release_date: str | None = msgspec.field(default=None, name="releaseDate")
    metadata_pending: bool = msgspec.field(default=False, name="metadataPending")
    added_at: datetime = msgspec.field(name="addedAt")
    updated_at: datetime = msgspec.field(name="updatedAt")
    notes: str | None = None
    watched: bool = False
    rating: int | None = None
    # The user's order (``sort=rank``, highest first; docs/design.md §10): an add on top takes the clock in
    # microseconds, one at the bottom its negative, a reorder renumbers the list n-1..0 (between the two).
    # Items stored before ranks existed have none and come last.
    rank: int | None = None


class StoredChange(msgspec.Struct):
    """One entry of ``changes``, the delta feed; its version is its position counted back from ``version``."""

    op: ChangeOp
    content_id: str | None = msgspec.field(name="contentId")  # None for "reordered": the whole list
    at: datetime


class StoredList(msgspec.Struct, kw_only=True):
    """A user's list: one document per user, ``_id`` is the user id."""

    id: str = msgspec.field(name="_id")
    user_id: str = msgspec.field(name="userId")
    items: list[StoredItem] = msgspec.field(default_factory=list)
    changes: list[StoredChange] = msgspec.field(default_factory=list)
    count: int = 0
    version: int = 0
    created_at: datetime = msgspec.field(name="createdAt")
    updated_at: datetime = msgspec.field(name="updatedAt")


# Stored names the queries use (the Struct fields above are where they are defined).
ITEMS: Final = "items"
CHANGES: Final = "changes"
CONTENT_ID: Final = "contentId"
ITEM_CONTENT_ID: Final = f"{ITEMS}.{CONTENT_ID}"
ITEM_PENDING: Final = f"{ITEMS}.metadataPending"
RANK: Final = "rank"
ADDED_AT: Final = "addedAt"
# Attribute name of a StoredItem (the same as of the API Item) -> its stored name.
ITEM_FIELD_NAMES: Final = {f.name: f.encode_name for f in msgspec.structs.fields(StoredItem)}

WATCHERS_INDEX: Final = "contentId_userId"
INDEXES: Final = [
    IndexModel([("userId", pymongo.ASCENDING)], name="userId_unique", unique=True),
    # Across documents only: a repeated contentId inside one list is prevented by the guarded add.
    IndexModel(
        [("userId", pymongo.ASCENDING), (ITEM_CONTENT_ID, pymongo.ASCENDING)],
        name="userId_contentId_unique",
        unique=True,
    ),
    # Who holds a title (docs/design.md §12): one range scan per page, the title fixed, userId ascending.
    # The unique index above starts with userId, so it cannot serve a query that fixes only the title.
    IndexModel([(ITEM_CONTENT_ID, pymongo.ASCENDING), ("userId", pymongo.ASCENDING)], name=WATCHERS_INDEX),
    # Only lists waiting for metadata are indexed: the sweeper finds them without a scan.
    IndexModel(
        [(ITEM_PENDING, pymongo.ASCENDING)],
        name="metadata_pending",
        partialFilterExpression={ITEM_PENDING: True},
    ),
]


def to_api(stored: StoredItem) -> Item:
    """The API item of a stored entry."""
    return Item(
        content_id=stored.content_id,
        type=stored.type,
        tmdb_id=stored.tmdb_id,
        title=stored.title,
        poster_path=stored.poster_path,
        release_date=stored.release_date,
        metadata_pending=stored.metadata_pending,
        added_at=stored.added_at,
        updated_at=stored.updated_at,
        notes=stored.notes,
        watched=stored.watched,
        rating=stored.rating,
    )


def from_api(item: Item, *, rank: int | None = None) -> StoredItem:
    """The stored entry of an API item, at ``rank`` in the user's order."""
    return StoredItem(
        content_id=item.content_id,
        type=item.type,
        tmdb_id=item.tmdb_id,
        title=item.title,
        poster_path=item.poster_path,
        release_date=item.release_date,
        metadata_pending=item.metadata_pending,
        added_at=item.added_at,
        updated_at=item.updated_at,
        notes=item.notes,
        watched=item.watched,
        rating=item.rating,
        rank=rank,
    )


_BUILTINS: Final = (datetime,)


def encode(value: msgspec.Struct) -> dict[str, object]:
    """A stored Struct as the BSON-ready dict PyMongo sends (datetimes kept as datetimes)."""
    encoded = msgspec.to_builtins(value, builtin_types=_BUILTINS)
    assert isinstance(encoded, dict)
    return encoded


def decode_items(raw: object) -> list[StoredItem]:
    """Stored entries from what PyMongo read."""
    return msgspec.convert(raw, list[StoredItem])


def decode_item(raw: object) -> StoredItem:
    """One stored entry from what PyMongo read."""
    return msgspec.convert(raw, StoredItem)
