"""The relay's state in MongoDB: one lease per stream (who relays) and the stream position it has published.

One document per Redis Stream key in ``event_relay``: ``{_id: <stream key>, holder, expiresAt, resumeToken}``.
Times are the server's (``$$NOW``), so replicas' clocks do not matter. Every write is fenced by the holder:
a replica whose lease another one has taken can neither renew it nor move the position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from watchlist_service.infra.mongo import MongoDocument, database_errors

COLLECTION: Final = "event_relay"
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease held: the position the last holder published up to (``None``: never relayed yet)."""

    resume_token: Mapping[str, Any] | None


class RelayStateRepository:
    """The lease and the published position of one stream's relay."""

    def __init__(self, database: AsyncDatabase[MongoDocument], stream: str, holder: str, *, lease_s: float):
        self._coll: AsyncCollection[MongoDocument] = database[COLLECTION]
        self._id = stream
        self.holder = holder
        self._lease_ms = int(lease_s * 1000)

    def _expiry(self) -> MongoDocument:
        return {"$add": ["$$NOW", self._lease_ms]}

    async def acquire(self) -> Lease | None:
        """Take the lease if it is free, expired or already ours; ``None`` while another replica holds it."""
        async with database_errors():
            # $expr cannot go with an upsert: create the document first (once), then take it conditionally.
            await self._coll.update_one(
                {"_id": self._id}, {"$setOnInsert": {"holder": None, "expiresAt": EPOCH}}, upsert=True
            )
            doc = await self._coll.find_one_and_update(
                {
                    "_id": self._id,
                    "$expr": {"$or": [{"$eq": ["$holder", self.holder]}, {"$lt": ["$expiresAt", "$$NOW"]}]},
                },
                [{"$set": {"holder": self.holder, "expiresAt": self._expiry()}}],
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            return None  # held by another replica
        token = doc.get("resumeToken")
        return Lease(token if isinstance(token, Mapping) else None)

    async def renew(self, resume_token: Mapping[str, Any] | None) -> bool:
        """Extend the lease and, with a token, store the position published so far; ``False``: lost."""
        fields: MongoDocument = {"expiresAt": self._expiry()}
        if resume_token is not None:
            fields["resumeToken"] = {"$literal": dict(resume_token)}
        async with database_errors():
            result = await self._coll.update_one({"_id": self._id, "holder": self.holder}, [{"$set": fields}])
        return result.matched_count == 1

    async def forget_position(self) -> bool:
        """Drop the stored position (too old for the oplog): the next relay starts from now."""
        async with database_errors():
            result = await self._coll.update_one(
                {"_id": self._id, "holder": self.holder}, {"$unset": {"resumeToken": ""}}
            )
        return result.matched_count == 1

    async def release(self) -> None:
        """Let another replica take over at once (graceful shutdown); the position stays."""
        async with database_errors():
            await self._coll.update_one(
                {"_id": self._id, "holder": self.holder}, [{"$set": {"expiresAt": "$$NOW"}}]
            )

    async def state(self) -> MongoDocument | None:
        """The stored document (tests and operations)."""
        async with database_errors():
            return await self._coll.find_one({"_id": self._id})
