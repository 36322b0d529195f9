"""Pure parts of docs/design.md §12: the change records a stream event holds, the event shape, the consumer
de-duplication, the watchers cursor and the recommendations ranking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from watchlist_service.catalog.schemas import CatalogItem
from watchlist_service.errors import InvalidRequest
from watchlist_service.events.schemas import cloud_event, decode, encode
from watchlist_service.events.stream import Deduper
from watchlist_service.recommendations.service import rank
from watchlist_service.watchlist.repository import _list_changes
from watchlist_service.watchlist.service import decode_watchers_cursor, encode_watchers_cursor

AT = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
TOKEN = {"_data": "82abc"}


def stored_item(content_id: str, **extra: Any) -> dict[str, Any]:
    kind, tmdb_id = content_id.split(":")
    return {
        "contentId": content_id,
        "type": kind,
        "tmdbId": int(tmdb_id),
        "addedAt": AT,
        "updatedAt": AT,
        **extra,
    }


def test_an_update_event_gives_its_one_record_and_the_looked_up_item() -> None:
    """docs/design.md §12: one record per update, the item read at ``itemVersion``."""
    change = {
        "documentKey": {"_id": "u1"},
        "version": 7,
        "currentVersion": 9,
        "records": [{"op": "updated", "contentId": "movie:550", "at": AT}],
        "items": [stored_item("movie:550", watched=True)],
    }
    (found,) = _list_changes(change, TOKEN)
    assert (found.user_id, found.version, found.item_version) == ("u1", 7, 9)
    assert found.item is not None
    assert found.item.watched is True
    assert found.resume_token == TOKEN


def test_a_seeding_insert_gives_one_change_per_record_in_version_order() -> None:
    change = {
        "documentKey": {"_id": "u2"},
        "version": 3,
        "currentVersion": 3,
        "records": [{"op": "added", "contentId": f"movie:{n}", "at": AT} for n in (1, 2, 3)],
        "items": [stored_item(f"movie:{n}") for n in (3, 2, 1)],
    }
    found = _list_changes(change, TOKEN)
    assert [(c.version, c.record["contentId"]) for c in found] == [
        (1, "movie:1"),
        (2, "movie:2"),
        (3, "movie:3"),
    ]
    assert all(c.item is not None and c.item.content_id == c.record["contentId"] for c in found)
    assert [c.ends_event for c in found] == [False, False, True]  # the relay never stores a position inside


def test_a_removal_has_no_item_and_an_update_without_a_record_is_no_change() -> None:
    removed = {
        "documentKey": {"_id": "u3"},
        "version": 4,
        "currentVersion": 4,
        "records": [{"op": "removed", "contentId": "tv:1", "at": AT}],
        "items": [],
    }
    (found,) = _list_changes(removed, TOKEN)
    assert found.item is None
    assert found.item_version is None
    assert _list_changes({"documentKey": {"_id": "u3"}, "version": 5, "records": [None]}, TOKEN) == []


def test_any_op_maps_to_a_type_and_the_event_round_trips() -> None:
    """docs/design.md §12: type ``com.example.watchlist.item.<op>``, id ``{userId}:{version}``, its time."""
    record = {"op": "reordered", "at": AT, "order": ["movie:1", "movie:2"]}
    event = cloud_event(source="/s", user_id="u1", version=12, record=record, item=None, item_version=None)
    assert event.type == "com.example.watchlist.item.reordered"
    assert event.id == "u1:12"
    assert event.time == AT
    assert event.data.content_id is None
    again = decode(encode(event))
    assert again == event
    assert again.data.record["order"] == ["movie:1", "movie:2"]


def test_the_deduper_keeps_the_first_of_each_version_in_order() -> None:
    def ev(user: str, version: int) -> Any:
        record = {"op": "added", "contentId": "movie:1", "at": AT}
        return cloud_event(
            source="/s", user_id=user, version=version, record=record, item=None, item_version=None
        )

    stream = [ev("a", 1), ev("a", 2), ev("b", 1), ev("a", 1), ev("a", 2), ev("a", 3), ev("b", 1), ev("b", 2)]
    seen = Deduper()
    assert [e.id for e in stream if seen.fresh(e)] == ["a:1", "a:2", "b:1", "a:3", "b:2"]


def test_a_watchers_cursor_round_trips_and_is_refused_for_another_title() -> None:
    cursor = encode_watchers_cursor("movie:550", "u-00042")
    assert decode_watchers_cursor("movie:550", cursor) == "u-00042"
    for content_id, bad in (("movie:551", cursor), ("movie:550", "%%%"), ("movie:550", "eyJjIjoxfQ")):
        with pytest.raises(InvalidRequest):
            decode_watchers_cursor(content_id, bad)


def lite(content_id: str, popularity: float) -> CatalogItem:
    kind, tmdb_id = content_id.split(":")
    return CatalogItem(
        id=int(tmdb_id),
        type="movie" if kind == "movie" else "tv",
        content_id=content_id,
        title=None,
        original_title=None,
        overview=None,
        poster_path=None,
        backdrop_path=None,
        release_date=None,
        genre_ids=None,
        popularity=popularity,
        vote_average=None,
        vote_count=None,
    )


def test_rank_by_votes_then_best_position_then_popularity_without_the_list() -> None:
    """docs/design.md §12: multiplicity first; ties by TMDb position, then popularity."""
    a, b, c, d, e = (lite(f"movie:{n}", p) for n, p in ((1, 5.0), (2, 9.0), (3, 1.0), (4, 7.0), (5, 8.0)))
    lists = [[a, b, c], [c, d, a], [e, c]]
    assert [i.content_id for i in rank(lists, set(), 10)] == [
        "movie:3",
        "movie:1",
        "movie:5",
        "movie:2",
        "movie:4",
    ]
    assert [i.content_id for i in rank(lists, {"movie:3"}, 2)] == ["movie:1", "movie:5"]
    # Same votes, same best position: the more popular first.
    assert [i.content_id for i in rank([[b], [d]], set(), 2)] == ["movie:2", "movie:4"]


def test_a_change_that_names_no_title_has_no_item() -> None:
    """docs/design.md §12: ops are mapped generically; a reorder (§10: stored with ``contentId: null``)
    becomes ``com.example.watchlist.item.reordered`` without an item."""
    change = {
        "documentKey": {"_id": "u4"},
        "version": 8,
        "currentVersion": 8,
        "records": [{"op": "reordered", "contentId": None, "at": AT}],
        "items": [],
    }
    (found,) = _list_changes(change, TOKEN)
    assert found.item is None
    event = cloud_event(
        source="/s", user_id="u4", version=8, record=found.record, item=found.item, item_version=None
    )
    assert event.type == "com.example.watchlist.item.reordered"
    assert event.data.content_id is None
