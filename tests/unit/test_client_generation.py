"""The committed client (clients/python/watchlist_client) is what ``make client`` generates from the current
OpenAPI document: a change to the document without regenerating the client fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchlist_dev.client import CLIENT_ROOT, HAND_WRITTEN, PACKAGE, generate, generated_files

pytestmark = pytest.mark.slow  # runs the generator and ruff as processes


def test_the_committed_client_is_generated_from_the_current_document(tmp_path: Path) -> None:
    committed = generated_files(CLIENT_ROOT / PACKAGE)
    fresh = generated_files(generate(tmp_path))
    assert "api/my_list_service_access/user_add_to_watchlist.py" in fresh
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert stale == [], "the committed client is out of date: run `make client` and commit the result"


def test_the_hand_written_layer_is_not_generated(tmp_path: Path) -> None:
    for name in HAND_WRITTEN:
        assert (CLIENT_ROOT / PACKAGE / name).is_file()
    fresh = generate(tmp_path)
    assert not any((fresh / name).exists() for name in HAND_WRITTEN)
