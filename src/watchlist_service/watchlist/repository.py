"""All MongoDB queries of the list: one document per user, changed only by atomic, guarded updates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from watchlist_service.errors import AlreadyInList, DatabaseUnavailable, ListFull, NotInList
from watchlist_service.watchlist.schemas import Change, ContentType, Item, SortOrder, Stats

Document = dict[str, Any]
ADD_ATTEMPTS = 5
DUPLICATE_KEY = 11000

_SORT_KEYS: dict[SortOrder, dict[str, int]] = {
    SortOrder.TITLE_ASC: {"title": 1, "addedAt": -1},
    SortOrder.RELEASE_DESC: {"releaseDate": -1, "addedAt": -1},
}


@dataclass(frozen=True, slots=True)
class PageRead:
    """A slice of the list as read from the database."""

    items: list[Item]
    total: int
    version: int


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _decode_item(raw: Mapping[str, Any]) -> Item:
    return msgspec.convert(raw, Item)


def _decode_items(raw: list[Mapping[str, Any]]) -> list[Item]:
    return msgspec.convert(raw, list[Item])


@asynccontextmanager
async def _database_errors() -> AsyncIterator[None]:
    """Map an unreachable or timed-out MongoDB to ``DatabaseUnavailable``; other errors are bugs."""
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        if isinstance(exc, ConnectionFailure) or exc.timeout:
            raise DatabaseUnavailable("The list database is unavailable; retry shortly") from exc
        raise


class WatchlistRepository:
    """Reads and atomic writes of the ``watchlists`` collection."""

    def __init__(self, collection: AsyncCollection[Document], *, cap: int, changes_kept: int) -> None:
        self._coll = collection
        self._cap = cap
        self._changes_kept = changes_kept

    async def _one(self, match: Document, *stages: Document) -> Document | None:
        """Run a small pipeline over one user's document (matched by ``match``); its only result, if any."""
        async with _database_errors():
            cursor = await self._coll.aggregate([{"$match": match}, *stages])
            docs = await cursor.to_list(1)
        return docs[0] if docs else None

    def _change(self, op: str, content_id: str, at: datetime) -> dict[str, Any]:
        return {"$each": [{"op": op, "contentId": content_id, "at": at}], "$slice": -self._changes_kept}

    async def add(self, user_id: str, item: Item) -> int:
        """Prepend ``item`` unless it is already there or the list is full; returns the new version."""
        stored = msgspec.to_builtins(item, builtin_types=(datetime,))
        for _ in range(ADD_ATTEMPTS):
            try:
                async with _database_errors():
                    doc = await self._coll.find_one_and_update(
                        {
                            "_id": user_id,
                            "items.contentId": {"$ne": item.content_id},
                            "count": {"$lt": self._cap},
                        },
                        {
                            "$push": {
                                "items": {"$each": [stored], "$position": 0},
                                "changes": self._change("added", item.content_id, item.added_at),
                            },
                            "$inc": {"count": 1, "version": 1},
                            "$set": {"updatedAt": item.added_at},
                            "$setOnInsert": {"userId": user_id, "createdAt": item.added_at},
                        },
                        projection={"_id": 0, "version": 1},
                        upsert=True,
                        return_document=ReturnDocument.AFTER,
                    )
            except DuplicateKeyError:
                # The guard did not match, so the upsert tried to create a second document for the user:
                # the title is already there, the list is full, or another request created the document.
                existing = await self._existing(user_id, item.content_id)
                if existing is not None:
                    raise AlreadyInList(
                        f"{item.content_id} is already in the list",
                        extra={"item": msgspec.to_builtins(_decode_item(existing))},
                    ) from None
                if await self._count(user_id) >= self._cap:
                    raise ListFull(f"The list holds at most {self._cap} titles") from None
                continue
            assert doc is not None  # an upsert always returns the document
            return int(doc["version"])
        raise DatabaseUnavailable("The list is too busy to change right now; retry shortly")

    async def insert_new_lists(self, lists: dict[str, list[Item]]) -> int:
        """Create lists for users who have none yet (seeding); returns how many were created.

        Items are given newest first. Each gets its "added" change record, so the documents look exactly as
        if the items had been added one by one.
        """
        documents = []
        for user_id, items in lists.items():
            oldest_first = list(reversed(items))
            records = [{"op": "added", "contentId": i.content_id, "at": i.added_at} for i in oldest_first]
            created = oldest_first[0].added_at if oldest_first else utcnow()
            documents.append(
                {
                    "_id": user_id,
                    "userId": user_id,
                    "items": [msgspec.to_builtins(i, builtin_types=(datetime,)) for i in items],
                    "changes": records[-self._changes_kept :],
                    "count": len(items),
                    "version": len(items),
                    "createdAt": created,
                    "updatedAt": items[0].added_at if items else created,
                }
            )
        if not documents:
            return 0
        try:
            async with _database_errors():
                result = await self._coll.insert_many(documents, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            # Users that already have a list keep it untouched; any other write error is a real failure.
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nInserted", 0))

    async def remove(self, user_id: str, content_id: str) -> int:
        """Remove a title; returns the new version or raises ``NotInList``."""
        now = utcnow()
        async with _database_errors():
            doc = await self._coll.find_one_and_update(
                {"_id": user_id, "items.contentId": content_id},
                {
                    "$pull": {"items": {"contentId": content_id}},
                    "$push": {"changes": self._change("removed", content_id, now)},
                    "$inc": {"count": -1, "version": 1},
                    "$set": {"updatedAt": now},
                },
                projection={"_id": 0, "version": 1},
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            raise NotInList(f"{content_id} is not in the list")
        return int(doc["version"])

    async def update(self, user_id: str, content_id: str, fields: dict[str, Any]) -> tuple[Item, int, bool]:
        """Set fields of one item if that changes anything; returns (item, version, changed)."""
        now = utcnow()
        differs = [{name: {"$ne": value}} for name, value in fields.items()]
        changed_fields = {f"items.$.{name}": value for name, value in fields.items()}
        async with _database_errors():
            doc = await self._coll.find_one_and_update(
                {"_id": user_id, "items": {"$elemMatch": {"contentId": content_id, "$or": differs}}},
                {
                    "$set": {**changed_fields, "items.$.updatedAt": now, "updatedAt": now},
                    "$push": {"changes": self._change("updated", content_id, now)},
                    "$inc": {"version": 1},
                },
                projection={"_id": 0, "version": 1, "items": {"$elemMatch": {"contentId": content_id}}},
                return_document=ReturnDocument.AFTER,
            )
        if doc is not None:
            return _decode_item(doc["items"][0]), int(doc["version"]), True
        # Nothing matched: either the title is not in the list or the update would change nothing.
        item, version = await self.get(user_id, content_id)
        return item, version, False

    async def get(self, user_id: str, content_id: str) -> tuple[Item, int]:
        """One item and the list version, or ``NotInList``."""
        doc = await self._existing(user_id, content_id, with_version=True)
        if doc is None:
            raise NotInList(f"{content_id} is not in the list")
        return _decode_item(doc["items"][0]), int(doc["version"])

    async def _existing(
        self, user_id: str, content_id: str, *, with_version: bool = False
    ) -> Document | None:
        projection: dict[str, Any] = {"_id": 0, "items": {"$elemMatch": {"contentId": content_id}}}
        if with_version:
            projection["version"] = 1
        async with _database_errors():
            doc = await self._coll.find_one({"_id": user_id, "items.contentId": content_id}, projection)
        if doc is None or not doc.get("items"):
            return None
        if not with_version:
            return doc["items"][0]  # type: ignore[no-any-return]
        return doc

    async def _count(self, user_id: str) -> int:
        async with _database_errors():
            doc = await self._coll.find_one({"_id": user_id}, {"_id": 0, "count": 1})
        return int(doc["count"]) if doc else 0

    async def pending_items(self, user_id: str) -> list[Item]:
        """The user's items whose metadata could not be looked up when they were added."""
        doc = await self._one(
            {"_id": user_id, "items.metadataPending": True},
            {
                "$project": {
                    "_id": 0,
                    "items": {"$filter": {"input": "$items", "cond": "$$this.metadataPending"}},
                }
            },
        )
        return _decode_items(doc["items"]) if doc else []

    async def users_with_pending(self, limit: int) -> list[str]:
        """Some users with items whose metadata is pending (a partial index keeps this cheap)."""
        async with _database_errors():
            cursor = self._coll.find({"items.metadataPending": True}, {"_id": 1}).limit(limit)
            return [str(doc["_id"]) async for doc in cursor]

    async def version(self, user_id: str) -> int:
        """The list's current version (0 for a user with no list yet)."""
        async with _database_errors():
            doc = await self._coll.find_one({"_id": user_id}, {"_id": 0, "version": 1})
        return int(doc["version"]) if doc else 0

    async def page(
        self, user_id: str, *, skip: int, limit: int, content_type: ContentType | None, sort: SortOrder
    ) -> PageRead:
        """One slice of the list, in the asked order, without reading the rest of the document."""
        if content_type is None and sort is SortOrder.ADDED_DESC:
            # The hot path: the array is stored newest first, so a $slice projection is the page.
            async with _database_errors():
                doc = await self._coll.find_one(
                    {"_id": user_id},
                    {"_id": 0, "items": {"$slice": [skip, limit]}, "count": 1, "version": 1},
                )
            if doc is None:
                return PageRead(items=[], total=0, version=0)
            return PageRead(_decode_items(doc["items"]), int(doc["count"]), int(doc["version"]))
        items: Any = "$items"
        if content_type is not None:
            items = {"$filter": {"input": items, "cond": {"$eq": ["$$this.type", content_type]}}}
        if sort is SortOrder.ADDED_ASC:
            items = {"$reverseArray": items}
        elif sort in _SORT_KEYS:
            items = {"$sortArray": {"input": items, "sortBy": _SORT_KEYS[sort]}}
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
        return PageRead(_decode_items(doc["items"]), int(doc["total"]), int(doc["version"]))

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
        records: list[Document] = doc.get("changes", [])
        current = {raw["contentId"]: raw for raw in doc.get("items", [])}
        # Every version bump pushes exactly one record in the same update, so the last record is
        # ``version`` and each one before it is one less.
        first = version - len(records) + 1
        changes = [
            Change(
                version=first + index,
                op=record["op"],
                content_id=record["contentId"],
                at=record["at"],
                item=_decode_item(current[record["contentId"]])
                if record["op"] != "removed" and record["contentId"] in current
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

    async def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the primary answers."""
        async with _database_errors():
            await self._coll.database.command("ping")
