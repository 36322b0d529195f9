"""The composition root's process-wide steps (the rest of it is exercised by every integration test)."""

from __future__ import annotations

import gc

import pytest

from watchlist_service import resources


def test_start_up_is_frozen_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(resources, "_frozen", False)
    monkeypatch.setattr(gc, "collect", lambda: 0)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    resources._freeze_start_up()
    resources._freeze_start_up()  # a second app in the same process
    assert frozen == [1]
