"""All MongoDB queries of the list: one document per user, changed only by atomic, guarded updates.

The only code that knows MongoDB's query language and the stored names (``storage.py``); it answers API
Structs, mapped from the stored ones.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from watchlist_service.errors import (
    AlreadyInList,
    DatabaseUnavailable,
    ListFull,
    NotInList,
    PreconditionFailed,
)
from watchlist_service.infra.mongo import MongoDocument, database_errors
from watchlist_service.watchlist import storage
from watchlist_service.watchlist.schemas import Change, IfMatch, Item, ListView, Position, SortOrder, Stats
from watchlist_service.watchlist.storage import (
    ADDED_AT,
    CHANGES,
    ITEM_CONTENT_ID,
    ITEM_PENDING,
    ITEMS,
    RANK,
    StoredChange,
    StoredList,
    decode_item,
    decode_items,
    from_api,
    to_api,
)

Document = MongoDocument
ADD_ATTEMPTS = 5
DUPLICATE_KEY = 11000

_SORT_KEYS: dict[SortOrder, dict[str, int]] = {
    SortOrder.TITLE_ASC: {"title": 1, "addedAt": -1},
    SortOrder.RELEASE_DESC: {"releaseDate": -1, "addedAt": -1},
    SortOrder.RATING_DESC: {"rating": -1, "addedAt": -1},  # a missing rating sorts below any number
    SortOrder.RANK: {RANK: -1, "addedAt": -1},  # ranks are unique; items without one (older) come last
}


@dataclass(frozen=True, slots=True)
class PageRead:
    """A slice of the list as read from the database."""

    items: list[Item]
    total: int
    version: int


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A list that changed, as the change stream tells: whose, its new version, when, where to resume."""

    user_id: str
    version: int
    at: datetime | None
    resume_token: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ListChange:
    """One real change of a list, as the change stream tells (the outbox of docs/design.md §12).

    ``record`` is the stored change record (``op``, ``contentId``, ``at`` and whatever else an op stores);
    ``item`` the title's entry as the list held it at ``item_version`` (at or after ``version``: read when the
    change was read), ``None`` when the list no longer holds it. ``resume_token``: where a stream opened after
    this change resumes.
    """

    user_id: str
    version: int
    record: Mapping[str, Any]
    item: Item | None
    item_version: int | None
    resume_token: Mapping[str, Any]
    # False for all but the last change of one stream event (a seeding insert holds several): a position
    # stored after part of them would skip the rest.
    ends_event: bool = True


@dataclass(frozen=True, slots=True)
class StreamIdle:
    """A wait of the change stream that brought nothing; ``resume_token``: where it stands now."""

    resume_token: Mapping[str, Any] | None


class ChangeStreamUnavailable(Exception):
    """The change stream cannot be opened or read now (``lost``: it cannot resume from the given token)."""

    def __init__(self, reason: str, *, permanent: bool = False, lost: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent  # a standalone mongod has no change streams
        self.lost = lost


NOT_A_REPLICA_SET = 40573
CHANGE_STREAM_HISTORY_LOST = 286
# Every write that changes what a page shows raises ``version``; an upsert creates the document with it.
_VERSION_CHANGES: list[Document] = [
    {"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}},
    {
        "$project": {
            "documentKey": 1,
            "wallTime": 1,
            "version": {"$ifNull": ["$updateDescription.updatedFields.version", "$fullDocument.version"]},
        }
    },
]


# The change record an update pushed: ``changes.<n>`` while the kept records grow, the whole array once
# ``$slice`` shifts it. Updates that push none (none exist today) are left out. Inserts (a first add's upsert,
# seeding) carry all their records. The item is looked up after the fact (``updateLookup``), reduced on the
# server to the one entry the change names.
_LIST_CHANGES: list[Document] = [
    {"$match": {"operationType": {"$in": ["insert", "update"]}}},
    {
        "$project": {
            "documentKey": 1,
            "operationType": 1,
            "version": {"$ifNull": ["$updateDescription.updatedFields.version", "$fullDocument.version"]},
            "pushed": {
                "$filter": {
                    "input": {"$objectToArray": {"$ifNull": ["$updateDescription.updatedFields", {}]}},
                    "cond": {"$regexMatch": {"input": "$$this.k", "regex": r"^changes(\.[0-9]+)?$"}},
                }
            },
            "insertedChanges": {
                "$cond": [{"$eq": ["$operationType", "insert"]}, "$fullDocument.changes", "$$REMOVE"]
            },
            "fullDocument": {"version": 1, "items": 1},
        }
    },
    {
        "$set": {
            "records": {
                "$ifNull": [
                    "$insertedChanges",
                    {
                        "$let": {
                            "vars": {"last": {"$last": "$pushed"}},
                            "in": {
                                "$cond": [
                                    {"$isArray": "$$last.v"},
                                    [{"$last": "$$last.v"}],
                                    ["$$last.v"],
                                ]
                            },
                        }
                    },
                ]
            }
        }
    },
    {
        "$project": {
            "documentKey": 1,
            "version": 1,
            "records": 1,
            "currentVersion": "$fullDocument.version",
            "items": {
                "$filter": {
                    "input": {"$ifNull": ["$fullDocument.items", []]},
                    "cond": {"$in": ["$$this.contentId", "$records.contentId"]},
                }
            },
        }
    },
]


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _decode_item(raw: object) -> Item:
    return to_api(decode_item(raw))


def _decode_items(raw: object) -> list[Item]:
    return [to_api(stored) for stored in decode_items(raw)]


def _guard(if_match: IfMatch | None) -> Document:
    """The filter condition under which an update may apply: the precondition, in the same atomic update.
    ``*`` adds none (the ``_id`` match already needs the document)."""
    if if_match is None or if_match.any:
        return {}
    versions = sorted(if_match.versions)
    return {"version": versions[0] if len(versions) == 1 else {"$in": versions}}


def _reordered_ranks(entries: list[Document], content_ids: list[str]) -> tuple[list[int] | None, list[str]]:
    """The ranks (by array position) that put ``content_ids`` on top in that order and keep the others'
    order below them, and the named ids that are in the list; ``None`` when the order would not change."""
    position = {entry[storage.CONTENT_ID]: index for index, entry in enumerate(entries)}
    placed = [content_id for content_id in dict.fromkeys(content_ids) if content_id in position]
    # The order `sort=rank` shows: highest rank first, unranked last, newest first among equals.
    current = sorted(range(len(entries)), key=lambda index: entries[index][ADDED_AT], reverse=True)
    current.sort(key=lambda index: (entries[index].get(RANK) is None, -(entries[index].get(RANK) or 0)))
    chosen = set(placed)
    wanted = [position[content_id] for content_id in placed]
    wanted += [index for index in current if entries[index][storage.CONTENT_ID] not in chosen]
    if wanted == current:
        return None, placed
    ranks = [0] * len(entries)
    for place, index in enumerate(wanted):
        ranks[index] = len(entries) - 1 - place
    return ranks, placed


def _item_of(doc: Document, content_id: str) -> Item:
    """The entry ``content_id`` of a document read with an ``$elemMatch`` projection.

    Picked by its id, not taken as ``items[0]``: a findAndModify that the driver retried after it had already
    been applied is answered from the stored post-image without the projection, with every item in it.
    """
    for raw in doc.get(ITEMS, ()):
        if raw.get(storage.CONTENT_ID) == content_id:
            return _decode_item(raw)
    raise NotInList(f"{content_id} is not in the list")


def _list_changes(change: Document, token: Mapping[str, Any]) -> list[ListChange]:
    """The list changes one change-stream event holds (several for an insert that seeded a list)."""
    version = change.get("version")
    records = [r for r in change.get("records") or [] if isinstance(r, dict)]
    if not isinstance(version, int) or not records:
        return []
    current = change.get("currentVersion")
    items = {str(raw.get(storage.CONTENT_ID)): raw for raw in change.get(ITEMS) or []}
    user_id = str(change["documentKey"]["_id"])
    first = version - len(records) + 1  # one version per record, the last one is ``version``
    found = []
    for index, record in enumerate(records):
        raw = items.get(str(record.get(storage.CONTENT_ID)))
        item = _decode_item(raw) if raw is not None and record.get("op") != "removed" else None
        item_version = int(current) if item is not None and isinstance(current, int) else None
        last = index == len(records) - 1
        found.append(ListChange(user_id, first + index, record, item, item_version, token, ends_event=last))
    return found


def _stream_unavailable(exc: PyMongoError) -> ChangeStreamUnavailable:
    """What a broken change stream means: for good (no replica set), history lost (resume impossible), or
    for now."""
    if isinstance(exc, OperationFailure):
        return ChangeStreamUnavailable(
            str(exc), permanent=exc.code == NOT_A_REPLICA_SET, lost=exc.code == CHANGE_STREAM_HISTORY_LOST
        )
    return ChangeStreamUnavailable(repr(exc))


class WatchlistRepository:
    """Reads and atomic writes of the ``watchlists`` collection."""

    def __init__(self, database: AsyncDatabase[Document], *, cap: int, changes_kept: int) -> None:
        self._coll: AsyncCollection[Document] = database[storage.COLLECTION]
        self._cap = cap
        self._changes_kept = changes_kept
        self._last_rank = 0

    async def ensure_indexes(self) -> None:
        """Create the collection's indexes (``storage.INDEXES``) where they are missing; run at start-up."""
        async with database_errors():
            await self._coll.create_indexes(storage.INDEXES)

    async def _one(self, match: Document, *stages: Document) -> Document | None:
        """Run a small pipeline over one user's document (matched by ``match``); its only result, if any."""
        async with database_errors():
            cursor = await self._coll.aggregate([{"$match": match}, *stages])
            docs = await cursor.to_list(1)
        return docs[0] if docs else None

    def _change(self, op: storage.ChangeOp, content_id: str, at: datetime) -> dict[str, Any]:
        record = storage.encode(StoredChange(op=op, content_id=content_id, at=at))
        return {"$each": [record], "$slice": -self._changes_kept}

    def _next_rank(self) -> int:
        """A rank above every one this process gave before: the clock in microseconds, never repeated."""
        self._last_rank = max(time.time_ns() // 1000, self._last_rank + 1)
        return self._last_rank

    async def add(
        self, user_id: str, item: Item, *, position: Position = "top", if_match: IfMatch | None = None
    ) -> int:
        """Prepend ``item`` (at ``position`` in the user's order) unless it is already there, the list is
        full or ``if_match`` does not hold; returns the new version."""
        rank = self._next_rank()
        stored = storage.encode(from_api(item, rank=rank if position == "top" else -rank))
        # Only a precondition that a user without a list meets ("0") may create the document.
        upsert = if_match is None or if_match.holds(None)
        for _ in range(ADD_ATTEMPTS):
            try:
                async with database_errors():
                    doc = await self._coll.find_one_and_update(
                        {
                            "_id": user_id,
                            ITEM_CONTENT_ID: {"$ne": item.content_id},
                            "count": {"$lt": self._cap},
                            **_guard(if_match),
                        },
                        {
                            "$push": {
                                ITEMS: {"$each": [stored], "$position": 0},
                                CHANGES: self._change("added", item.content_id, item.added_at),
                            },
                            "$inc": {"count": 1, "version": 1},
                            "$set": {"updatedAt": item.added_at},
                            "$setOnInsert": {"userId": user_id, "createdAt": item.added_at},
                        },
                        projection={"_id": 0, "version": 1},
                        upsert=upsert,
                        return_document=ReturnDocument.AFTER,
                    )
            except DuplicateKeyError:
                # The guard did not match, so the upsert tried to create a second document for the user.
                doc = None
            if doc is not None:
                return int(doc["version"])
            # Not applied: the precondition failed, the title is already there, the list is full, or
            # another request created the document first (then try again).
            state = await self._snapshot(user_id, item.content_id)
            version = int(state["version"]) if state is not None else None
            if if_match is not None and not if_match.holds(version):
                raise PreconditionFailed.at(version or 0)
            if state is not None and state.get(ITEMS):
                raise AlreadyInList(
                    f"{item.content_id} is already in the list",
                    extra={"item": msgspec.to_builtins(_item_of(state, item.content_id))},
                )
            if state is not None and int(state.get("count", 0)) >= self._cap:
                raise ListFull(f"The list holds at most {self._cap} titles")
        raise DatabaseUnavailable("The list is too busy to change right now; retry shortly")

    async def insert_new_lists(self, lists: dict[str, list[Item]]) -> int:
        """Create lists for users who have none yet (seeding); returns how many were created.

        Items are given newest first. Each gets its "added" change record, so the documents look exactly as
        if the items had been added one by one.
        """
        documents = []
        for user_id, items in lists.items():
            oldest_first = list(reversed(items))
            records = [StoredChange("added", i.content_id, i.added_at) for i in oldest_first]
            ranks = {i.content_id: self._next_rank() for i in oldest_first}  # as if added one by one, on top
            created = oldest_first[0].added_at if oldest_first else utcnow()
            document = StoredList(
                id=user_id,
                user_id=user_id,
                items=[from_api(i, rank=ranks[i.content_id]) for i in items],
                changes=records[-self._changes_kept :],
                count=len(items),
                version=len(items),
                created_at=created,
                updated_at=items[0].added_at if items else created,
            )
            documents.append(storage.encode(document))
        if not documents:
            return 0
        try:
            async with database_errors():
                result = await self._coll.insert_many(documents, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            # Users that already have a list keep it untouched; any other write error is a real failure.
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nInserted", 0))

    async def remove(self, user_id: str, content_id: str, *, if_match: IfMatch | None = None) -> int:
        """Remove a title; returns the new version, or raises ``NotInList`` (or ``PreconditionFailed``)."""
        now = utcnow()
        async with database_errors():
            doc = await self._coll.find_one_and_update(
                {"_id": user_id, ITEM_CONTENT_ID: content_id, **_guard(if_match)},
                {
                    "$pull": {ITEMS: {storage.CONTENT_ID: content_id}},
                    "$push": {CHANGES: self._change("removed", content_id, now)},
                    "$inc": {"count": -1, "version": 1},
                    "$set": {"updatedAt": now},
                },
                projection={"_id": 0, "version": 1},
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            if if_match is not None:
                await self.check(user_id, if_match)
            raise NotInList(f"{content_id} is not in the list")
        return int(doc["version"])

    async def update(
        self, user_id: str, content_id: str, fields: dict[str, Any], *, if_match: IfMatch | None = None
    ) -> tuple[Item, int, bool]:
        """Set fields of one item if that changes anything (and ``if_match`` holds); returns (item, version,
        changed).

        ``fields`` are named by ``Item`` attribute (``poster_path``); the stored names come from ``storage``.
        """
        now = utcnow()
        fields = {storage.ITEM_FIELD_NAMES[name]: value for name, value in fields.items()}
        differs = [{name: {"$ne": value}} for name, value in fields.items()]
        changed_fields = {f"{ITEMS}.$.{name}": value for name, value in fields.items()}
        async with database_errors():
            doc = await self._coll.find_one_and_update(
                {
                    "_id": user_id,
                    ITEMS: {"$elemMatch": {storage.CONTENT_ID: content_id, "$or": differs}},
                    **_guard(if_match),
                },
                {
                    "$set": {**changed_fields, f"{ITEMS}.$.updatedAt": now, "updatedAt": now},
                    "$push": {CHANGES: self._change("updated", content_id, now)},
                    "$inc": {"version": 1},
                },
                projection={"_id": 0, "version": 1, ITEMS: {"$elemMatch": {storage.CONTENT_ID: content_id}}},
                return_document=ReturnDocument.AFTER,
            )
        if doc is not None:
            return _item_of(doc, content_id), int(doc["version"]), True
        # Nothing matched: the precondition failed, the title is not in the list, or the update would change
        # nothing (one read tells which).
        state = await self._snapshot(user_id, content_id)
        version = int(state["version"]) if state is not None else None
        if if_match is not None and not if_match.holds(version):
            raise PreconditionFailed.at(version or 0)
        if state is None or not state.get(ITEMS):
            raise NotInList(f"{content_id} is not in the list")
        return _item_of(state, content_id), int(state["version"]), False

    async def reorder(
        self, user_id: str, content_ids: list[str], if_match: IfMatch
    ) -> tuple[list[str], int, bool]:
        """Put the titles ``content_ids`` names on top of the user's order, in that order, the others below
        in theirs, if ``if_match`` holds; returns (the named ids in the list, version, changed).

        The ranks are computed from the state read at a version the precondition accepts, and written by one
        update whose filter is that version: any change in between (every change bumps it) makes it match
        nothing, so it is never applied to another state.
        """
        for _ in range(ADD_ATTEMPTS):
            async with database_errors():
                doc = await self._coll.find_one(
                    {"_id": user_id},
                    {
                        "_id": 0,
                        "version": 1,
                        ITEM_CONTENT_ID: 1,
                        f"{ITEMS}.{RANK}": 1,
                        f"{ITEMS}.{ADDED_AT}": 1,
                    },
                )
            version = int(doc["version"]) if doc is not None else None
            if not if_match.holds(version):
                raise PreconditionFailed.at(version or 0)
            ranks, placed = _reordered_ranks(doc.get(ITEMS, []) if doc is not None else [], content_ids)
            if ranks is None or version is None:
                return placed, version or 0, False
            now = utcnow()
            record = storage.encode(StoredChange(op="reordered", content_id=None, at=now))
            ranked = {"$zip": {"inputs": ["$items", {"$literal": ranks}]}}
            async with database_errors():
                written = await self._coll.find_one_and_update(
                    {"_id": user_id, "version": version, "$expr": {"$eq": [{"$size": "$items"}, len(ranks)]}},
                    [
                        {
                            "$set": {
                                ITEMS: {
                                    "$map": {
                                        "input": ranked,
                                        "in": {
                                            "$mergeObjects": [
                                                {"$arrayElemAt": ["$$this", 0]},
                                                {RANK: {"$arrayElemAt": ["$$this", 1]}},
                                            ]
                                        },
                                    }
                                },
                                "version": {"$add": ["$version", 1]},
                                "updatedAt": {"$literal": now},
                                CHANGES: {
                                    "$slice": [
                                        {
                                            "$concatArrays": [
                                                {"$ifNull": ["$changes", []]},
                                                [{"$literal": record}],
                                            ]
                                        },
                                        -self._changes_kept,
                                    ]
                                },
                            }
                        }
                    ],
                    projection={"_id": 0, "version": 1},
                    return_document=ReturnDocument.AFTER,
                )
            if written is not None:
                return placed, int(written["version"]), True
            # Changed in between: a named version is gone now (the next read answers 412); with "*", the
            # ranks are computed again from the new state.
        raise DatabaseUnavailable("The list is too busy to change right now; retry shortly")

    async def check(self, user_id: str, if_match: IfMatch) -> int:
        """The list's version (0 without a list) if ``if_match`` holds now, else ``PreconditionFailed``."""
        version = await self._current_version(user_id)
        if not if_match.holds(version):
            raise PreconditionFailed.at(version or 0)
        return version or 0

    async def get(self, user_id: str, content_id: str) -> tuple[Item, int]:
        """One item and the list version, or ``NotInList``."""
        doc = await self._existing(user_id, content_id)
        if doc is None:
            raise NotInList(f"{content_id} is not in the list")
        return _item_of(doc, content_id), int(doc["version"])

    async def _existing(self, user_id: str, content_id: str) -> Document | None:
        """The user's document with ``version`` and only the entry ``content_id``; ``None`` without it."""
        projection = {"_id": 0, "version": 1, ITEMS: {"$elemMatch": {storage.CONTENT_ID: content_id}}}
        async with database_errors():
            doc = await self._coll.find_one({"_id": user_id, ITEM_CONTENT_ID: content_id}, projection)
        if doc is None or not doc.get(ITEMS):
            return None
        return doc

    async def _snapshot(self, user_id: str, content_id: str) -> Document | None:
        """The user's document with ``version``, ``count`` and only the entry ``content_id`` (``items`` is
        absent without it); ``None`` without a list."""
        projection = {
            "_id": 0,
            "version": 1,
            "count": 1,
            ITEMS: {"$elemMatch": {storage.CONTENT_ID: content_id}},
        }
        async with database_errors():
            return await self._coll.find_one({"_id": user_id}, projection)

    async def pending_items(self, user_id: str) -> list[Item]:
        """The user's items whose metadata could not be looked up when they were added."""
        doc = await self._one(
            {"_id": user_id, ITEM_PENDING: True},
            {
                "$project": {
                    "_id": 0,
                    ITEMS: {"$filter": {"input": "$items", "cond": "$$this.metadataPending"}},
                }
            },
        )
        return _decode_items(doc[ITEMS]) if doc else []

    async def users_with_pending(self, limit: int) -> list[str]:
        """Some users with items whose metadata is pending (a partial index keeps this cheap)."""
        async with database_errors():
            cursor = self._coll.find({ITEM_PENDING: True}, {"_id": 1}).limit(limit)
            return [str(doc["_id"]) async for doc in cursor]

    async def version(self, user_id: str) -> int:
        """The list's current version (0 for a user with no list yet)."""
        return await self._current_version(user_id) or 0

    async def _current_version(self, user_id: str) -> int | None:
        """The list's current version; ``None`` for a user with no list yet."""
        async with database_errors():
            doc = await self._coll.find_one({"_id": user_id}, {"_id": 0, "version": 1})
        return int(doc["version"]) if doc else None

    async def page(
        self,
        user_id: str,
        *,
        skip: int,
        limit: int,
        view: ListView,
    ) -> PageRead:
        """One slice of the list, in the view's order and with its filters, without reading the rest of the
        document."""
        if view.is_default:
            # The hot path: the array is stored newest first, so a $slice projection is the page.
            async with database_errors():
                doc = await self._coll.find_one(
                    {"_id": user_id},
                    {"_id": 0, ITEMS: {"$slice": [skip, limit]}, "count": 1, "version": 1},
                )
            if doc is None:
                return PageRead(items=[], total=0, version=0)
            return PageRead(_decode_items(doc[ITEMS]), int(doc["count"]), int(doc["version"]))
        items: Any = "$items"
        conditions: list[Document] = []
        if view.content_type is not None:
            conditions.append({"$eq": ["$$this.type", view.content_type]})
        if view.watched is not None:
            conditions.append({"$eq": [{"$ifNull": ["$$this.watched", False]}, view.watched]})
        if view.rated is not None:
            conditions.append({"$gt" if view.rated else "$lte": ["$$this.rating", None]})
        if conditions:
            items = {"$filter": {"input": items, "cond": {"$and": conditions}}}
        if view.sort is SortOrder.ADDED_ASC:
            items = {"$reverseArray": items}
        elif view.sort in _SORT_KEYS:
            items = {"$sortArray": {"input": items, "sortBy": _SORT_KEYS[view.sort]}}
        doc = await self._one(
            {"_id": user_id},
            {"$project": {"_id": 0, "version": 1, "items": items}},
            {
                "$project": {
                    "version": 1,
                    "total": {"$size": "$items"},
                    "items": {"$slice": ["$items", skip, limit]},
                }
            },
        )
        if doc is None:
            return PageRead(items=[], total=0, version=0)
        return PageRead(_decode_items(doc[ITEMS]), int(doc["total"]), int(doc["version"]))

    async def contains(self, user_id: str, content_ids: list[str]) -> set[str]:
        """The subset of ``content_ids`` that is in the list."""
        doc = await self._one(
            {"_id": user_id},
            {
                "$project": {
                    "_id": 0,
                    "found": {
                        "$filter": {
                            "input": "$items.contentId",
                            "cond": {"$in": ["$$this", content_ids]},
                        }
                    },
                }
            },
        )
        return set(doc["found"]) if doc else set()

    async def changes(self, user_id: str) -> tuple[list[Change], int, int]:
        """The kept change records (oldest first, each with its version), the list version, and the oldest
        version the feed still reaches back to (a client at that version or later can catch up)."""
        doc = await self._one(
            {"_id": user_id},
            {
                "$project": {
                    "_id": 0,
                    "version": 1,
                    "changes": 1,
                    "items": {
                        "$filter": {
                            "input": "$items",
                            "cond": {"$in": ["$$this.contentId", "$changes.contentId"]},
                        }
                    },
                }
            },
        )
        if doc is None:
            return [], 0, 0
        version = int(doc["version"])
        records = msgspec.convert(doc.get(CHANGES, []), list[StoredChange])
        current = {stored.content_id: stored for stored in decode_items(doc.get(ITEMS, []))}
        # Every version bump pushes exactly one record in the same update, so the last record is
        # ``version`` and each one before it is one less.
        first = version - len(records) + 1
        changes = [
            Change(
                version=first + index,
                op=record.op,
                content_id=record.content_id,
                at=record.at,
                item=to_api(current[record.content_id])
                if record.op != "removed" and record.content_id in current
                else None,
            )
            for index, record in enumerate(records)
        ]
        return changes, version, first - 1

    async def stats(self, user_id: str) -> Stats:
        """Totals by type, watched state and rating, computed in the database."""

        def count_where(cond: Document) -> Document:
            return {"$size": {"$filter": {"input": "$items", "cond": cond}}}

        doc = await self._one(
            {"_id": user_id},
            {
                "$project": {
                    "_id": 0,
                    "version": 1,
                    "total": {"$size": "$items"},
                    "movies": count_where({"$eq": ["$$this.type", "movie"]}),
                    "watched": count_where({"$eq": ["$$this.watched", True]}),
                    "rated": count_where({"$gt": ["$$this.rating", None]}),
                    "averageRating": {"$avg": "$items.rating"},
                }
            },
        )
        if doc is None:
            return Stats(
                total=0, movies=0, tv=0, watched=0, unwatched=0, rated=0, average_rating=None, version=0
            )
        average = doc.get("averageRating")
        return Stats(
            total=doc["total"],
            movies=doc["movies"],
            tv=doc["total"] - doc["movies"],
            watched=doc["watched"],
            unwatched=doc["total"] - doc["watched"],
            rated=doc["rated"],
            average_rating=round(float(average), 2) if average is not None else None,
            version=int(doc["version"]),
        )

    async def watch_versions(
        self, resume_after: Mapping[str, Any] | None
    ) -> AsyncGenerator[VersionChange | None, None]:
        """Every list version raised from now on (or after ``resume_after``), by any replica of the service;
        ``None`` after each wait that brought nothing (the first one: the stream is open).
        ``ChangeStreamUnavailable`` when the stream breaks (the driver has already tried to resume once)."""
        try:
            async with await self._coll.watch(
                _VERSION_CHANGES, resume_after=resume_after, max_await_time_ms=100
            ) as stream:
                yield None  # open: changes from here on will be seen
                while stream.alive:
                    # One getMore each (a client-wide timeoutMS bounds each call, never the whole stream).
                    change = await stream.try_next()
                    if change is None:
                        yield None
                        continue
                    version = change.get("version")
                    if isinstance(version, int) and stream.resume_token is not None:
                        user_id = change["documentKey"]["_id"]
                        yield VersionChange(user_id, version, change.get("wallTime"), stream.resume_token)
        except PyMongoError as exc:
            raise _stream_unavailable(exc) from exc

    async def watch_list_changes(
        self, resume_after: Mapping[str, Any] | None
    ) -> AsyncGenerator[ListChange | StreamIdle, None]:
        """Every real list change from now on (or after ``resume_after``), in the order MongoDB applied them
        (per user: in version order), each with its change record and its item; a ``StreamIdle`` after each
        wait that brought nothing (the first one: the stream is open). ``ChangeStreamUnavailable`` when the
        stream breaks or cannot resume from ``resume_after``."""
        try:
            async with await self._coll.watch(
                _LIST_CHANGES,
                resume_after=resume_after,
                full_document="updateLookup",
                max_await_time_ms=100,
            ) as stream:
                yield StreamIdle(stream.resume_token)
                while stream.alive:
                    change = await stream.try_next()
                    if change is None:
                        yield StreamIdle(stream.resume_token)
                        continue
                    token = stream.resume_token
                    assert token is not None  # set by every change read
                    for found in _list_changes(change, token):
                        yield found
        except PyMongoError as exc:
            raise _stream_unavailable(exc) from exc

    async def watchers(self, content_id: str, *, after: str | None, limit: int) -> list[str]:
        """Up to ``limit`` ids of users whose list holds ``content_id``, ascending, all above ``after``.

        A range scan of the ``contentId_userId`` index (no document is read: the projection is covered)."""
        query: Document = {ITEM_CONTENT_ID: content_id}
        if after is not None:
            query["userId"] = {"$gt": after}
        async with database_errors():
            cursor = (
                self._coll.find(query, {"_id": 0, "userId": 1})
                .sort("userId", 1)
                .hint(storage.WATCHERS_INDEX)
                .limit(limit)
            )
            return [str(doc["userId"]) async for doc in cursor]

    async def recent_titles(self, user_id: str, limit: int) -> tuple[list[str], set[str], int]:
        """The ``limit`` most recently added titles (newest first), every title of the list, and its
        version."""
        async with database_errors():
            doc = await self._coll.find_one({"_id": user_id}, {"_id": 0, ITEM_CONTENT_ID: 1, "version": 1})
        if doc is None:
            return [], set(), 0
        ids = [str(raw[storage.CONTENT_ID]) for raw in doc.get(ITEMS, [])]
        return ids[:limit], set(ids), int(doc["version"])

    async def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the primary answers."""
        async with database_errors():
            await self._coll.database.command("ping")

    # --- export and erase (docs/design.md §11)

    async def snapshot(self, user_id: str) -> tuple[list[Item], int]:
        """Every item (newest first) and the version, from one read of the document."""
        async with database_errors():
            doc = await self._coll.find_one({"_id": user_id}, {"_id": 0, ITEMS: 1, "version": 1})
        if doc is None:
            return [], 0
        return _decode_items(doc.get(ITEMS, [])), int(doc["version"])

    async def delete_list(self, user_id: str) -> tuple[int, int] | None:
        """Delete the user's document; returns (items it held, its version), ``None`` when there was none."""
        async with database_errors():
            doc = await self._coll.find_one_and_delete(
                {"_id": user_id}, projection={"_id": 0, "count": 1, "version": 1}
            )
        if doc is None:
            return None
        return int(doc.get("count", 0)), int(doc.get("version", 0))
