"""docs/design.md §10: the ranks a reorder writes, computed from the entries as stored (array order: newest
first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from watchlist_service.watchlist.repository import _reordered_ranks

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(content_id: str, rank: int | None, minutes: int) -> dict[str, Any]:
    stored: dict[str, Any] = {"contentId": content_id, "addedAt": T0 + timedelta(minutes=minutes)}
    if rank is not None:
        stored["rank"] = rank
    return stored


def shown(entries: list[dict[str, Any]], ranks: list[int]) -> list[str]:
    """The order ``sort=rank`` shows once ``ranks`` are written (rank descending)."""
    return [e["contentId"] for _, e in sorted(zip(ranks, entries, strict=True), key=lambda p: -p[0])]


def test_named_titles_go_on_top_in_order_and_the_others_keep_theirs() -> None:
    # Shown now: c (top add), a (reordered 1), b (reordered 0), d (bottom add).
    entries = [entry("c", 5_000_000, 3), entry("d", -4_000_000, 2), entry("b", 0, 1), entry("a", 1, 0)]
    ranks, placed = _reordered_ranks(entries, ["b", "x", "d", "b"])
    assert placed == ["b", "d"]
    assert ranks is not None
    assert shown(entries, ranks) == ["b", "d", "c", "a"]
    assert sorted(ranks) == [0, 1, 2, 3]


def test_the_order_already_asked_for_changes_nothing() -> None:
    entries = [entry("c", 9, 3), entry("b", 8, 1), entry("a", 7, 0)]
    assert _reordered_ranks(entries, ["c", "b"]) == (None, ["c", "b"])
    assert _reordered_ranks(entries, ["zz"]) == (None, [])
    assert _reordered_ranks([], ["a"]) == (None, [])


def test_items_without_a_rank_come_last_newest_first_and_get_one() -> None:
    # Stored before ranks existed: no rank; a later top add has one and is shown above them.
    entries = [entry("new", 10**15, 9), entry("old2", None, 2), entry("old1", None, 1)]
    ranks, placed = _reordered_ranks(entries, ["old1"])
    assert placed == ["old1"]
    assert ranks is not None
    assert shown(entries, ranks) == ["old1", "new", "old2"]
