"""Example bodies of the list routes for the OpenAPI document, built from the API Structs (so an example
cannot drift from its schema: it is encoded exactly as an answer would be)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec

from watchlist_service.watchlist.schemas import (
    AddRequest,
    BatchRequest,
    BatchResult,
    Change,
    Changes,
    ContainsRequest,
    Item,
    Page,
    PatchRequest,
    ReorderRequest,
    ReorderResult,
    ReplaceRequest,
    Stats,
)

_ADDED: Final = datetime(2025, 3, 14, 20, 15, 0, tzinfo=UTC)
_CHANGED: Final = datetime(2025, 3, 15, 9, 30, 0, tzinfo=UTC)

ITEM: Final = Item(
    content_id="movie:550",
    type="movie",
    tmdb_id=550,
    title="Fight Club",
    poster_path="/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
    release_date="1999-10-15",
    added_at=_ADDED,
    updated_at=_ADDED,
    notes="with Sam on Friday",
)
WATCHED_ITEM: Final = msgspec.structs.replace(ITEM, watched=True, rating=9, updated_at=_CHANGED)
TV_ITEM: Final = Item(
    content_id="tv:1396",
    type="tv",
    tmdb_id=1396,
    title="Breaking Bad",
    poster_path="/ztkUQFLlC19CCMYHW9o1zWhJRNq.jpg",
    release_date="2008-01-20",
    added_at=_CHANGED,
    updated_at=_CHANGED,
)
PAGE: Final = Page(items=[TV_ITEM, ITEM], page=1, limit=10, total=2, total_pages=1, version=7)
ADD_REQUEST: Final = AddRequest(content_id="movie:550", notes="with Sam on Friday")
PATCH_REQUEST: Final = PatchRequest(watched=True, rating=9)
REPLACE_REQUEST: Final = ReplaceRequest(notes=None, watched=True, rating=9)
CONTAINS_REQUEST: Final = ContainsRequest(content_ids=["movie:550", "tv:1396", "movie:603"])
CONTAINS_ANSWER: Final = {"movie:550": True, "tv:1396": True, "movie:603": False}
BATCH_REQUEST: Final = BatchRequest(add=["movie:550", "tv:1396", "movie:0"], remove=["movie:603"])
BATCH_RESULT: Final = BatchResult(
    added=["tv:1396"],
    existing=["movie:550"],
    removed=[],
    not_found=["movie:603"],
    invalid=["movie:0"],
    unknown=[],
    full=[],
    version=8,
)
CHANGES: Final = Changes(
    changes=[
        Change(version=6, op="added", content_id="tv:1396", at=_CHANGED, item=TV_ITEM),
        Change(version=7, op="removed", content_id="movie:603", at=_CHANGED),
    ],
    version=7,
)
STATS: Final = Stats(total=2, movies=1, tv=1, watched=1, unwatched=1, rated=1, average_rating=9.0, version=7)
# The body of 409 already-in-list carries the stored item (docs/design.md §4).
ALREADY_IN_LIST_EXTRA: Final = {"item": msgspec.to_builtins(ITEM)}
RESYNC_EXTRA: Final = {"version": 7}

REORDER_REQUEST: Final = ReorderRequest(content_ids=["tv:1396", "movie:550"])
REORDER_RESULT: Final = ReorderResult(updated=2, skipped=[], version=9)
PRECONDITION_FAILED_EXTRA: Final = {"version": 8}
