"""The Beanie model of a user's list: the schema and the indexes.

Hot paths do not hydrate this model; they read and write the collection through the repository.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import pymongo
from beanie import Document
from pydantic import BaseModel, ConfigDict, Field
from pymongo import IndexModel


class StoredItem(BaseModel):
    """One entry of the list, stored newest first."""

    model_config = ConfigDict(populate_by_name=True)

    content_id: str = Field(alias="contentId")
    type: Literal["movie", "tv"]
    tmdb_id: int = Field(alias="tmdbId")
    title: str | None = None
    poster_path: str | None = Field(default=None, alias="posterPath")
    release_date: str | None = Field(default=None, alias="releaseDate")
    metadata_pending: bool = Field(default=False, alias="metadataPending")
    added_at: datetime = Field(alias="addedAt")
    updated_at: datetime = Field(alias="updatedAt")
    notes: str | None = None
    watched: bool = False
    rating: int | None = Field(default=None, ge=1, le=10)


class ChangeRecord(BaseModel):
    """One entry of the delta feed; its version is its position counted back from ``Watchlist.version``."""

    model_config = ConfigDict(populate_by_name=True)

    op: Literal["added", "updated", "removed"]
    content_id: str = Field(alias="contentId")
    at: datetime


class Watchlist(Document):
    """One document per user: ``_id`` is the user id."""

    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # Beanie types ``id`` as ObjectId; ours is the user id
    user_id: str = Field(alias="userId")
    items: list[StoredItem] = Field(default_factory=list)
    changes: list[ChangeRecord] = Field(default_factory=list)
    item_count: int = Field(default=0, alias="count")
    version: int = 0
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")

    class Settings:
        name = "watchlists"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("userId", pymongo.ASCENDING)], name="userId_unique", unique=True),
            IndexModel(
                [("userId", pymongo.ASCENDING), ("items.contentId", pymongo.ASCENDING)],
                name="userId_contentId_unique",
                unique=True,
            ),
            # Only lists waiting for metadata are indexed: the sweeper finds them without a scan.
            IndexModel(
                [("items.metadataPending", pymongo.ASCENDING)],
                name="metadata_pending",
                partialFilterExpression={"items.metadataPending": True},
            ),
        ]
