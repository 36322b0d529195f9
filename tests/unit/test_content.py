"""The one definition of a TMDb id: 1..2^31-1, exactly, as a pattern and as a check."""

from __future__ import annotations

import random
import re

import pytest

from watchlist_service.content import (
    CONTENT_ID_RE,
    MAX_TMDB_ID,
    TMDB_ID_PATTERN,
    is_tmdb_id,
    is_tmdb_id_text,
    split_content_id,
)

EDGES = [1, 9, 10, 99, 100, 999_999_999, 1_000_000_000, 1_999_999_999, 2_000_000_000, MAX_TMDB_ID]


def test_the_pattern_accepts_exactly_the_ids() -> None:
    rng = random.Random(7)
    numbers = [*EDGES, *(n + 1 for n in EDGES), *(rng.randint(1, 10**10) for _ in range(50_000))]
    for number in numbers:
        assert is_tmdb_id_text(str(number)) is (number <= MAX_TMDB_ID), number
        assert is_tmdb_id(number) is (number <= MAX_TMDB_ID), number
        assert bool(CONTENT_ID_RE.match(f"tv:{number}")) is (number <= MAX_TMDB_ID), number


@pytest.mark.parametrize("text", ["0", "01", "", "-1", "1a", " 1", "21474836470", "1" * 30])
def test_the_pattern_refuses_what_is_not_a_plain_positive_integer(text: str) -> None:
    assert not is_tmdb_id_text(text)
    assert re.match(TMDB_ID_PATTERN, text) is None


def test_split() -> None:
    assert split_content_id("movie:550") == ("movie", 550)
    assert split_content_id("tv:1396") == ("tv", 1396)
    for bad in ("movie:0", "film:1", "movie:2147483648", "movie:1 "):
        with pytest.raises(ValueError, match="not a content id"):
            split_content_id(bad)
    assert not is_tmdb_id(True)
