"""Catalog cursors: opaque, bound to their listing, and no modified cursor is ever accepted."""

from __future__ import annotations

from typing import Any

import pytest
from loguru import logger

from watchlist_service.catalog.cursor import CursorCodec, cursor_secret
from watchlist_service.config import Settings
from watchlist_service.errors import InvalidRequest

SCOPE = "discover\x00movie\x00popularity.desc"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(b"k" * 32, max_offset=10_000)


@pytest.mark.parametrize("offset", [0, 1, 19, 20, 4_803, 9_999])
def test_round_trip(codec: CursorCodec, offset: int) -> None:
    cursor = codec.encode(SCOPE, offset)
    assert codec.decode(SCOPE, cursor) == offset
    assert str(offset) not in cursor.split(".")[1]  # the offset is not readable as such


def test_every_single_character_change_is_rejected(codec: CursorCodec) -> None:
    cursor = codec.encode(SCOPE, 40)
    rejected = 0
    for i in range(len(cursor)):
        for replacement in ALPHABET:
            modified = cursor[:i] + replacement + cursor[i + 1 :]
            if modified == cursor:
                continue
            with pytest.raises(InvalidRequest):
                codec.decode(SCOPE, modified)
            rejected += 1
    assert rejected == len(cursor) * (len(ALPHABET) - 1)


@pytest.mark.parametrize(
    "cursor",
    ["", ".", "..", "a.b.c", "MTo0MA", "MTo0MA.", ".abc", "é.é", "MTo0MA.AAAA", "x" * 65, "MTo0MA==.AAAA"],
)
def test_malformed_cursors_are_rejected(codec: CursorCodec, cursor: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        codec.decode(SCOPE, cursor)
    assert caught.value.extra["errors"][0]["field"] == "cursor"


def test_a_cursor_only_works_for_its_listing(codec: CursorCodec) -> None:
    cursor = codec.encode(SCOPE, 40)
    for other in ("discover\x00movie\x00title.asc", "discover\x00tv\x00popularity.desc", "search\x00the", ""):
        with pytest.raises(InvalidRequest):
            codec.decode(other, cursor)


def test_a_cursor_of_another_secret_is_rejected(codec: CursorCodec) -> None:
    foreign = CursorCodec(b"z" * 32, max_offset=10_000).encode(SCOPE, 40)
    with pytest.raises(InvalidRequest):
        codec.decode(SCOPE, foreign)


def test_offsets_past_the_last_tmdb_page_are_rejected_even_when_signed(codec: CursorCodec) -> None:
    with pytest.raises(InvalidRequest):
        codec.decode(SCOPE, codec.encode(SCOPE, 10_000))


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_secret_is_configured_or_derived_from_the_jwt_secret() -> None:
    jwt_secret = "j" * 40
    explicit = cursor_secret(_settings(jwt_secret=jwt_secret, cursor_secret="c" * 40))
    assert explicit == b"c" * 40
    derived = cursor_secret(_settings(jwt_secret=jwt_secret))
    assert derived == cursor_secret(_settings(jwt_secret=jwt_secret))  # the same on every replica
    assert jwt_secret.encode() not in derived
    assert derived != cursor_secret(_settings(jwt_secret="k" * 40))


def test_without_any_secret_a_random_one_is_used_with_a_warning() -> None:
    messages: list[str] = []
    sink = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        settings = _settings(jwt_algorithms=["RS256"], jwt_public_key="-----BEGIN PUBLIC KEY-----")
        first, second = cursor_secret(settings), cursor_secret(settings)
    finally:
        logger.remove(sink)
    assert first != second
    assert len(first) == 32
    assert any("random per-process key" in m for m in messages)
