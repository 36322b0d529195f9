"""Every list view's page key is a row of the Redis key table (``infra.redis.KEY_LAYOUTS``)."""

from __future__ import annotations

import itertools

from watchlist_service.infra.redis import layouts_of
from watchlist_service.watchlist.cache import page_key
from watchlist_service.watchlist.schemas import ContentType, ListView, SortOrder


def test_the_page_key_of_every_view_matches_exactly_one_row() -> None:
    flags = (None, True, False)
    types: tuple[ContentType | None, ...] = (None, "movie", "tv")
    for content_type, sort, watched, rated in itertools.product(types, SortOrder, flags, flags):
        view = ListView(content_type=content_type, sort=sort, watched=watched, rated=rated)
        key = page_key("u-1", 2, 100, view)
        assert [row.layout for row in layouts_of(key)] == [
            "{userId}:mylist:{page}:{limit}[:{type}:{sort}[:watched={bool}][:rated={bool}]]"
        ], key
